"""Tests of model files: save_model, load_model, LogisticRegression.save and fastlogreg.load."""

import json
import pickle
import zipfile

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError

import fastlogreg
from fastlogreg import LogisticRegression
from fastlogreg._persistence import FORMAT_VERSION, load_model, save_model


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=120, n_features=5, n_informative=3, random_state=0)
    return X, y


def assert_same_model(loaded, original, X):
    assert loaded.get_params() == original.get_params()
    np.testing.assert_array_equal(loaded.classes_, original.classes_)
    assert loaded.classes_.dtype == original.classes_.dtype
    np.testing.assert_array_equal(loaded.coef_, original.coef_)
    np.testing.assert_array_equal(loaded.intercept_, original.intercept_)
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), original.predict_proba(X))
    assert loaded.n_features_in_ == original.n_features_in_
    assert loaded.solver_ == original.solver_
    np.testing.assert_array_equal(loaded.n_iter_, original.n_iter_)
    np.testing.assert_array_equal(loaded.loss_history_, original.loss_history_)


@pytest.mark.parametrize(
    "label_map",
    [
        pytest.param(lambda y: y, id="int"),
        pytest.param(lambda y: np.where(y == 1, 1, -1), id="plus-minus"),
        pytest.param(lambda y: y.astype(np.float64) * 2.0 - 1.0, id="float"),
        pytest.param(lambda y: y == 1, id="bool"),
        pytest.param(lambda y: np.where(y == 1, "spam", "ham"), id="unicode"),
        pytest.param(lambda y: np.where(y == 1, "spam", "ham").astype(object), id="object"),
    ],
)
def test_round_trip_label_types(tmp_path, data, label_map):
    X, y = data
    model = LogisticRegression().fit(X, label_map(y))
    path = tmp_path / "model.npz"

    model.save(path)
    loaded = fastlogreg.load(path)

    assert_same_model(loaded, model, X)


def test_round_trip_params_and_names(tmp_path, data):
    pandas = pytest.importorskip("pandas")
    X, y = data
    frame = pandas.DataFrame(X, columns=[f"feature {i}" for i in range(X.shape[1])])
    labels = np.where(y == 1, "yes", "no")
    model = LogisticRegression(C=0.5, l1_ratio=0.5, solver="cd", tol=1e-6, max_iter=200,
                               class_weight={"yes": 2.0, "no": 1.0}, random_state=3,
                               n_jobs=1, fit_intercept=False).fit(frame, labels)
    path = tmp_path / "model.npz"

    save_model(model, path)
    loaded = load_model(path)

    assert_same_model(loaded, model, frame)
    assert loaded.feature_names_in_.tolist() == model.feature_names_in_.tolist()
    assert loaded.class_weight == {"yes": 2.0, "no": 1.0}


def test_round_trip_infinite_C_and_int_class_weight(tmp_path, data):
    X, y = data
    model = LogisticRegression(C=np.inf, class_weight={0: 1.0, 1: 3}).fit(X, y)
    path = tmp_path / "model.npz"

    model.save(path)
    loaded = fastlogreg.load(path)

    assert loaded.C == np.inf
    assert loaded.class_weight == {0: 1.0, 1: 3}
    assert_same_model(loaded, model, X)


def test_file_contains_no_pickle(tmp_path, data):
    X, y = data
    path = LogisticRegression().fit(X, np.where(y == 1, "a", "b")).save(tmp_path / "m.npz")

    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
    with np.load(path, allow_pickle=False) as archive:
        dtypes = {name: archive[name].dtype for name in archive.files}

    assert names == sorted(["coef_.npy", "intercept_.npy", "classes_.npy",
                            "loss_history_.npy", "metadata.npy"])
    assert all(dtype != object for dtype in dtypes.values())


def test_save_keeps_exact_name(tmp_path, data):
    X, y = data
    path = tmp_path / "model.bin"

    LogisticRegression().fit(X, y).save(path)

    assert path.is_file()
    assert not (tmp_path / "model.bin.npz").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


def test_save_unfitted(tmp_path):
    with pytest.raises(NotFittedError):
        LogisticRegression().save(tmp_path / "model.npz")


@pytest.fixture
def saved(tmp_path, data):
    X, y = data
    path = tmp_path / "model.npz"
    LogisticRegression().fit(X, y).save(path)
    return path


def rewrite_metadata(path, change):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    metadata = json.loads(arrays["metadata"].tobytes())
    change(metadata)
    arrays["metadata"] = np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_load_truncated(saved):
    content = saved.read_bytes()
    saved.write_bytes(content[: len(content) // 2])

    with pytest.raises(ValueError, match=r"model\.npz"):
        load_model(saved)


def test_load_corrupted_bytes(saved):
    content = bytearray(saved.read_bytes())
    # Overwrite bytes inside the first stored array; the zip CRC check must catch it.
    start = content.index(b"NUMPY") + 200
    content[start:start + 16] = b"\xff" * 16
    saved.write_bytes(bytes(content))

    with pytest.raises(ValueError, match=r"model\.npz"):
        load_model(saved)


def test_load_newer_format(saved):
    rewrite_metadata(saved, lambda m: m.update(format_version=FORMAT_VERSION + 1))

    with pytest.raises(ValueError, match=f"format version {FORMAT_VERSION + 1}, newer"):
        load_model(saved)


def test_load_unknown_parameter(saved):
    rewrite_metadata(saved, lambda m: m["params"].update(future_option=1))

    with pytest.raises(ValueError, match="future_option"):
        load_model(saved)


def test_load_inconsistent_shapes(saved):
    rewrite_metadata(saved, lambda m: m.update(n_features_in_=7))

    with pytest.raises(ValueError, match=r"coef_ has shape \(1, 5\), expected \(1, 7\)"):
        load_model(saved)


@pytest.mark.parametrize(
    "write_foreign",
    [
        pytest.param(lambda p: p.write_text("coef_,intercept_\n1,2\n"), id="text"),
        pytest.param(lambda p: p.write_bytes(pickle.dumps({"coef_": [1.0]})), id="pickle"),
        pytest.param(lambda p: np.savez(open(p, "wb"), X=np.ones(3)), id="other-npz"),
        pytest.param(lambda p: np.save(open(p, "wb"), np.ones(3)), id="npy"),
        pytest.param(lambda p: p.write_bytes(b""), id="empty"),
    ],
)
def test_load_foreign_file(tmp_path, write_foreign):
    path = tmp_path / "foreign.npz"
    write_foreign(path)

    with pytest.raises(ValueError, match=r"foreign\.npz: not a fastlogreg model file"):
        load_model(path)


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        load_model(tmp_path / "absent.npz")


def test_random_state_instance_saved_as_none(tmp_path, data):
    X, y = data
    model = LogisticRegression(random_state=np.random.RandomState(0)).fit(X, y)

    with pytest.warns(UserWarning, match="RandomState"):
        model.save(tmp_path / "model.npz")

    assert load_model(tmp_path / "model.npz").random_state is None


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_round_trip_sgd_model(tmp_path, data):
    X, y = data
    model = LogisticRegression(solver="sgd", average=True, validation_fraction=0.2,
                               random_state=0, max_iter=20).fit(X, y)
    path = tmp_path / "model.npz"

    model.save(path)
    loaded = fastlogreg.load(path)

    assert_same_model(loaded, model, X)
    loaded.partial_fit(X, y)
    assert loaded.solver_ == "sgd"
