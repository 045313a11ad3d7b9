"""Multiclass (three or more labels) through the command line and the model files."""

import csv
import io as stdio
import json

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file, load_digits, load_iris, load_svmlight_file
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

import fastlogreg
from fastlogreg import LogisticRegression, cli
from fastlogreg._persistence import load_model

IRIS_CLASSES = [0, 1, 2]


@pytest.fixture(scope="module")
def iris_files(tmp_path_factory):
    """Iris as a shuffled svmlight train (100 rows) and test (50 rows) pair, labels 0, 1, 2."""
    folder = tmp_path_factory.mktemp("iris")
    X, y = load_iris(return_X_y=True)
    order = np.random.default_rng(0).permutation(y.shape[0])
    X, y = X[order], y[order]
    dump_svmlight_file(X[:100], y[:100], str(folder / "train.svm"))
    dump_svmlight_file(X[100:], y[100:], str(folder / "test.svm"))
    return folder / "train.svm", folder / "test.svm", X[100:], y[100:]


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory, iris_files):
    """A model file trained by the CLI on the iris training file."""
    train, _, _, _ = iris_files
    path = tmp_path_factory.mktemp("model") / "iris.npz"
    status = cli.main(["train", str(train), "--output", str(path), "--quiet"])
    assert status == 0
    return path


def run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def read_predictions(text):
    rows = list(csv.reader(stdio.StringIO(text)))
    return rows[0], rows[1:]


# ---------------------------------------------------------------------- command line


def test_train_multiclass_json_summary(capsys, iris_files, tmp_path):
    train, test, X_test, y_test = iris_files
    model_path = tmp_path / "model.npz"

    status, out, _ = run(capsys, "train", train, "--test", test, "--json", "--quiet",
                         "--output", model_path)

    assert status == 0
    summary = json.loads(out)
    assert summary["solver"] == "lbfgs"
    assert summary["converged"] is True
    assert set(summary["data"]["label_counts"]) == {"0", "1", "2"}
    assert sum(summary["data"]["label_counts"].values()) == 100
    assert summary["test_data"]["n_samples"] == 50

    model = fastlogreg.load(model_path)
    assert model.classes_.tolist() == IRIS_CLASSES
    assert model.coef_.shape == (3, 4)
    probabilities = model.predict_proba(X_test)
    test_scores = summary["test"]
    assert test_scores["accuracy"] == pytest.approx(
        accuracy_score(y_test, model.predict(X_test)))
    assert test_scores["log_loss"] == pytest.approx(log_loss(y_test, probabilities))
    # The CLI reports one-vs-rest ROC AUC, macro-averaged over the classes.
    assert test_scores["roc_auc"] == pytest.approx(
        roc_auc_score(y_test, probabilities, multi_class="ovr", average="macro"))
    assert summary["train"]["accuracy"] > 0.9
    assert test_scores["accuracy"] > 0.9


def test_train_multiclass_text_summary(capsys, iris_files):
    train, test, _, _ = iris_files

    status, out, _ = run(capsys, "train", train, "--test", test, "--quiet")

    assert status == 0
    assert "labels 0: " in out
    assert "2: " in out
    # The score table row of the test set, not the "test data:" line.
    test_row = next(line for line in out.splitlines() if line.split()[:2] != ["test", "data:"]
                    and line.startswith("test "))
    accuracy, loss, auc = (float(value) for value in test_row.split()[1:])
    assert accuracy > 0.9
    assert 0 < loss < 0.5
    assert 0.9 < auc <= 1.0


def test_train_multiclass_l1_cd(capsys, iris_files, tmp_path):
    train, _, _, _ = iris_files
    model_path = tmp_path / "l1.npz"

    status, out, _ = run(capsys, "train", train, "--solver", "cd", "--l1-ratio", "1",
                         "--C", "0.05", "--json", "--quiet", "--output", model_path)

    assert status == 0
    summary = json.loads(out)
    assert summary["solver"] == "cd"
    assert summary["train"]["roc_auc"] > 0.8
    model = fastlogreg.load(model_path)
    assert model.coef_.shape == (3, 4)
    assert np.count_nonzero(model.coef_ == 0.0) > 0


def test_predict_multiclass_proba(capsys, iris_files, iris_model):
    _, test, _, _ = iris_files

    status, out, _ = run(capsys, "predict", iris_model, test, "--proba")

    assert status == 0
    header, rows = read_predictions(out)
    assert header == ["prediction", "proba_0", "proba_1", "proba_2"]
    assert len(rows) == 50
    model = fastlogreg.load(iris_model)
    # The CLI reads the file as CSR, whose products round differently from dense ones.
    X_test, _ = load_svmlight_file(str(test), n_features=4)
    predicted = np.array([int(row[0]) for row in rows])
    probabilities = np.array([[float(value) for value in row[1:]] for row in rows])
    np.testing.assert_array_equal(predicted, model.predict(X_test))
    # repr() of each float is written, so the CSV carries the exact values.
    np.testing.assert_array_equal(probabilities, model.predict_proba(X_test))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(predicted, np.argmax(probabilities, axis=1))


def test_predict_multiclass_to_file(capsys, iris_files, iris_model, tmp_path):
    _, test, _, _ = iris_files
    output = tmp_path / "predictions.csv"

    status, out, _ = run(capsys, "predict", iris_model, test, "--output", output)

    assert status == 0
    assert out == ""
    header, rows = read_predictions(output.read_text())
    assert header == ["prediction"]
    assert {row[0] for row in rows} <= {"0", "1", "2"}


def test_evaluate_multiclass_json(capsys, iris_files, iris_model):
    _, test, X_test, y_test = iris_files

    status, out, _ = run(capsys, "evaluate", iris_model, test, "--json")

    assert status == 0
    scores = json.loads(out)
    model = fastlogreg.load(iris_model)
    probabilities = model.predict_proba(X_test)
    assert scores["n_samples"] == 50
    assert scores["accuracy"] == pytest.approx(accuracy_score(y_test, model.predict(X_test)))
    assert scores["log_loss"] == pytest.approx(log_loss(y_test, probabilities))
    assert scores["roc_auc"] == pytest.approx(
        roc_auc_score(y_test, probabilities, multi_class="ovr", average="macro"))


def test_evaluate_multiclass_text(capsys, iris_files, iris_model):
    _, test, _, _ = iris_files

    status, out, _ = run(capsys, "evaluate", iris_model, test)

    assert status == 0
    lines = dict(line.split(":", 1) for line in out.splitlines())
    assert float(lines["accuracy"]) > 0.9
    assert float(lines["log loss"]) > 0
    assert 0.9 < float(lines["ROC AUC"]) <= 1.0


def test_evaluate_subset_of_classes(capsys, iris_files, iris_model, tmp_path):
    _, _, X_test, y_test = iris_files
    keep = y_test != 2
    subset = tmp_path / "two_classes.svm"
    dump_svmlight_file(X_test[keep], y_test[keep], str(subset))

    status, out, _ = run(capsys, "evaluate", iris_model, subset, "--json")

    assert status == 0
    scores = json.loads(out)
    model = fastlogreg.load(iris_model)
    # Log loss still uses all three classes of the model, but ROC AUC needs every class.
    assert scores["log_loss"] == pytest.approx(
        log_loss(y_test[keep], model.predict_proba(X_test[keep]), labels=IRIS_CLASSES))
    assert scores["roc_auc"] is None


def test_evaluate_unknown_label(capsys, iris_files, iris_model, tmp_path):
    _, _, X_test, y_test = iris_files
    relabelled = tmp_path / "unknown.svm"
    dump_svmlight_file(X_test, np.where(y_test == 2, 7, y_test), str(relabelled))

    status, _, err = run(capsys, "evaluate", iris_model, relabelled)

    assert status == 1
    assert err.startswith("fastlogreg: error: ")
    assert "labels 7 are not among the model's classes 0, 1, 2" in err


# ---------------------------------------------------------------------- model files


@pytest.fixture(scope="module")
def digits():
    """The first 300 digits, scaled to [0, 1]: 10 classes, 64 features, many zero pixels."""
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("labels", ["int", "str"])
@pytest.mark.parametrize("solver", ["lbfgs", "cd"])
def test_round_trip_multiclass(tmp_path, digits, layout, labels, solver):
    X, y = digits
    if layout == "csr":
        X = sp.csr_matrix(X)
    if labels == "str":
        y = np.array([f"digit-{value}" for value in y], dtype=object)
    l1_ratio = 0.5 if solver == "cd" else 0.0
    model = LogisticRegression(solver=solver, l1_ratio=l1_ratio, C=0.5).fit(X, y)
    path = tmp_path / "digits.npz"

    model.save(path)
    loaded = fastlogreg.load(path)

    assert loaded.classes_.dtype == model.classes_.dtype
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    assert loaded.coef_.shape == (10, 64)
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    np.testing.assert_array_equal(loaded.intercept_, model.intercept_)
    assert loaded.solver_ == solver
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.decision_function(X), model.decision_function(X))


@pytest.fixture
def saved_multiclass(tmp_path, digits):
    X, y = digits
    path = tmp_path / "model.npz"
    LogisticRegression(C=0.5).fit(X, y).save(path)
    return path


def rewrite_arrays(path, change):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    change(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_load_truncated_multiclass(saved_multiclass):
    content = saved_multiclass.read_bytes()
    saved_multiclass.write_bytes(content[: len(content) // 2])

    with pytest.raises(ValueError, match=r"model\.npz"):
        load_model(saved_multiclass)


def test_load_corrupted_multiclass_bytes(saved_multiclass):
    content = bytearray(saved_multiclass.read_bytes())
    # Overwrite bytes inside the stored coef_, which the zip CRC check must catch.
    start = content.index(b"NUMPY") + 300
    content[start:start + 16] = b"\xff" * 16
    saved_multiclass.write_bytes(bytes(content))

    with pytest.raises(ValueError, match=r"model\.npz"):
        load_model(saved_multiclass)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(lambda a: a.update(coef_=a["coef_"][:1]),
                     r"coef_ has shape \(1, 64\), expected \(10, 64\)", id="binary-coef"),
        pytest.param(lambda a: a.update(intercept_=a["intercept_"][:9]),
                     r"intercept_ has shape \(9,\), expected \(10,\)", id="short-intercept"),
        pytest.param(lambda a: a.update(classes_=a["classes_"][:9]),
                     r"coef_ has shape \(10, 64\), expected \(9, 64\)", id="missing-class"),
        pytest.param(lambda a: a["coef_"].__setitem__((3, 5), np.nan),
                     "NaN or infinity", id="nan-coef"),
    ],
)
def test_load_inconsistent_multiclass_arrays(saved_multiclass, change, message):
    rewrite_arrays(saved_multiclass, change)

    with pytest.raises(ValueError, match=message):
        load_model(saved_multiclass)


def test_cli_reports_damaged_multiclass_model(capsys, iris_files, saved_multiclass):
    _, test, _, _ = iris_files
    content = saved_multiclass.read_bytes()
    saved_multiclass.write_bytes(content[: len(content) // 3])

    status, out, err = run(capsys, "predict", saved_multiclass, test)

    assert status == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("fastlogreg: error: ")
    assert "model.npz" in lines[0]


def test_duplicate_classes_rejected(tmp_path):
    X, y = load_iris(return_X_y=True)
    path = tmp_path / "iris.npz"
    LogisticRegression().fit(X, y).save(path)
    with np.load(path, allow_pickle=False) as archive:
        arrays = dict(archive)
    arrays["classes_"] = np.array([0, 1, 1])
    damaged = tmp_path / "duplicate.npz"
    np.savez(damaged, **arrays)
    with pytest.raises(ValueError, match="duplicate labels"):
        fastlogreg.load(damaged)
