"""Tests of the fastlogreg command line, run in-process through cli.main."""

import csv
import io as stdio
import json
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import dump_svmlight_file, load_breast_cancer, make_classification

import fastlogreg
from fastlogreg import cli

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

needs_shared_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"shared dataset folder not found: {SHARED_DATA}"
)


@pytest.fixture(scope="module")
def svm_files(tmp_path_factory):
    """A small svmlight train and test file pair with labels -1 and 1."""
    folder = tmp_path_factory.mktemp("svm")
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, random_state=1)
    y = np.where(y == 1, 1, -1)
    dump_svmlight_file(X[:200], y[:200], str(folder / "train.svm"))
    dump_svmlight_file(X[200:], y[200:], str(folder / "test.svm"))
    return folder / "train.svm", folder / "test.svm"


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    """A CSV file with a header, two features and string labels in the column 'kind'."""
    path = tmp_path_factory.mktemp("csv") / "pets.csv"
    rng = np.random.default_rng(0)
    lines = ["weight,height,kind"]
    for _ in range(60):
        is_dog = rng.random() < 0.5
        weight = rng.normal(20 if is_dog else 5, 3)
        height = rng.normal(50 if is_dog else 25, 5)
        lines.append(f"{weight:.3f},{height:.3f},{'dog' if is_dog else 'cat'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_error_line(status, err, *fragments):
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("fastlogreg: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_train_default_breast_cancer(capsys):
    status, out, err = run(capsys, "train")

    assert status == 0
    assert "load_breast_cancer" in out
    assert "load_breast_cancer" in err
    assert "569 samples x 30 features" in out
    train_row = next(line for line in out.splitlines() if line.startswith("train"))
    assert float(train_row.split()[1]) > 0.9


def test_train_json_with_test(capsys, svm_files, tmp_path):
    train, test = svm_files
    model_path = tmp_path / "model.npz"

    status, out, _ = run(capsys, "train", train, "--test", test, "--json", "--quiet",
                         "--output", model_path)

    assert status == 0
    summary = json.loads(out)
    assert summary["data"]["n_samples"] == 200
    assert summary["test_data"]["n_samples"] == 100
    assert summary["data"]["n_features"] == 6
    assert summary["converged"] is True
    assert summary["n_iter"] >= 1
    for part in ("train", "test"):
        assert summary[part]["accuracy"] > 0.7
        assert 0 < summary[part]["log_loss"] < 0.7
        assert summary[part]["roc_auc"] > 0.7
    assert fastlogreg.load(model_path).classes_.tolist() == [-1, 1]


def test_train_estimator_options(capsys, svm_files, tmp_path):
    train, _ = svm_files
    model_path = tmp_path / "model.npz"

    status, _, _ = run(capsys, "train", train, "--C", "0.5", "--l1-ratio", "0.5",
                       "--solver", "cd", "--tol", "1e-6", "--max-iter", "300",
                       "--class-weight=-1:1,1:2.5", "--n-jobs", "1", "--random-state", "7",
                       "--no-intercept", "--output", model_path, "--quiet")

    assert status == 0
    params = fastlogreg.load(model_path).get_params()
    assert params["C"] == 0.5
    assert params["l1_ratio"] == 0.5
    assert params["solver"] == "cd"
    assert params["tol"] == 1e-6
    assert params["max_iter"] == 300
    assert params["class_weight"] == {-1: 1.0, 1: 2.5}
    assert params["n_jobs"] == 1
    assert params["random_state"] == 7
    assert params["fit_intercept"] is False


def test_train_balanced_and_infinite_C(capsys, svm_files, tmp_path):
    train, _ = svm_files
    model_path = tmp_path / "model.npz"

    status, _, _ = run(capsys, "train", train, "--class-weight", "balanced", "--C", "inf",
                       "--output", model_path, "--quiet")

    assert status == 0
    params = fastlogreg.load(model_path).get_params()
    assert params["class_weight"] == "balanced"
    assert params["C"] == np.inf


def test_csv_train_predict_evaluate(capsys, csv_file, tmp_path):
    model_path = tmp_path / "pets.npz"
    predictions_path = tmp_path / "predictions.csv"

    status, _, _ = run(capsys, "train", csv_file, "--label", "kind", "--output", model_path,
                       "--quiet")
    assert status == 0
    assert fastlogreg.load(model_path).feature_names_in_.tolist() == ["weight", "height"]

    status, _, _ = run(capsys, "predict", model_path, csv_file, "--proba",
                       "--output", predictions_path)
    assert status == 0
    with open(predictions_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["prediction", "proba_cat", "proba_dog"]
    assert len(rows) == 60
    assert {row["prediction"] for row in rows} <= {"cat", "dog"}
    for row in rows:
        assert float(row["proba_cat"]) + float(row["proba_dog"]) == pytest.approx(1.0)

    status, out, _ = run(capsys, "evaluate", model_path, csv_file, "--label", "kind", "--json")
    assert status == 0
    scores = json.loads(out)
    assert scores["accuracy"] > 0.9
    assert scores["n_samples"] == 60


def test_predict_stdout_matches_model(capsys, svm_files, tmp_path):
    train, test = svm_files
    model_path = tmp_path / "model.npz"
    run(capsys, "train", train, "--output", model_path, "--quiet")

    status, out, _ = run(capsys, "predict", model_path, test)

    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "prediction"
    model = fastlogreg.load(model_path)
    X_test, _ = fastlogreg.io.load_data(test, n_features=model.n_features_in_)
    assert lines[1:] == [str(label) for label in model.predict(X_test)]


def test_predict_headerless_csv_by_position(capsys, csv_file, tmp_path):
    model_path = tmp_path / "pets.npz"
    run(capsys, "train", csv_file, "--label", "kind", "--output", model_path, "--quiet")
    unnamed = tmp_path / "unnamed.csv"
    unnamed.write_text("4.0,20.0\n25.0,60.0\n")

    status, out, _ = run(capsys, "predict", model_path, unnamed)

    assert status == 0
    assert out.splitlines() == ["prediction", "cat", "dog"]


@needs_shared_data
def test_a9a_test_accuracy(capsys):
    status, out, _ = run(capsys, "train", SHARED_DATA / "a9a.gz",
                         "--test", SHARED_DATA / "a9a.t.gz", "--json", "--quiet")

    assert status == 0
    summary = json.loads(out)
    assert summary["test"]["accuracy"] == pytest.approx(0.85, abs=0.01)
    assert summary["data"]["density"] == pytest.approx(0.1128, abs=1e-4)


@needs_shared_data
def test_train_registered_dataset(capsys, monkeypatch):
    monkeypatch.setenv("FASTLOGREG_DATA", str(SHARED_DATA))

    status, out, _ = run(capsys, "train", "--dataset", "higgs", "--json", "--quiet")

    assert status == 0
    summary = json.loads(out)
    assert summary["data"]["n_samples"] == 7000
    assert summary["test"]["n_samples"] == 500
    assert 0.6 < summary["test"]["accuracy"] < 0.7


def test_error_missing_file(capsys, tmp_path):
    status, _, err = run(capsys, "train", tmp_path / "absent.svm")

    assert_one_error_line(status, err, "not found", "absent.svm")


def test_error_malformed_svmlight(capsys, tmp_path):
    path = tmp_path / "bad.svm"
    path.write_text("1 1:1\n-1 2:1\n1 3:x\n")

    status, _, err = run(capsys, "train", path)

    assert_one_error_line(status, err, "bad.svm, line 3", "'3:x'")


def test_error_label_column_missing(capsys, csv_file):
    status, _, err = run(capsys, "train", csv_file, "--label", "species")

    assert_one_error_line(status, err, "label column 'species' not found")


def test_error_single_class(capsys, tmp_path):
    path = tmp_path / "one.svm"
    path.write_text("1 1:1\n1 2:1\n")

    status, _, err = run(capsys, "train", path)

    assert_one_error_line(status, err, "one.svm", "class")


def test_error_non_finite(capsys, tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text("1,0.5,2\n0,nan,1\n1,inf,3\n")

    status, _, err = run(capsys, "train", path)

    assert_one_error_line(status, err, "nan.csv", "2 NaN or infinite values")


def test_error_unreadable_format(capsys, tmp_path):
    path = tmp_path / "data.npz"
    path.write_bytes(b"\x00\x01garbage")

    status, _, err = run(capsys, "train", path)

    assert_one_error_line(status, err, "data.npz", "not an .npz archive")


def test_error_model_not_a_model(capsys, csv_file):
    status, _, err = run(capsys, "predict", csv_file, csv_file)

    assert_one_error_line(status, err, "pets.csv", "not a fastlogreg model file")


def test_error_unknown_class_weight_label(capsys, svm_files):
    train, _ = svm_files

    status, _, err = run(capsys, "train", train, "--class-weight", "1:2,5:1")

    assert_one_error_line(status, err, "label '5'", "-1, 1")


def test_error_feature_count_mismatch(capsys, csv_file, tmp_path):
    model_path = tmp_path / "pets.npz"
    run(capsys, "train", csv_file, "--label", "kind", "--output", model_path, "--quiet")
    wide = tmp_path / "wide.csv"
    wide.write_text("1,2,3,4\n")

    status, _, err = run(capsys, "predict", model_path, wide)

    assert_one_error_line(status, err, "wide.csv", "4 feature columns", "2 features")


def test_error_data_and_dataset(capsys, svm_files):
    train, _ = svm_files

    status, _, err = run(capsys, "train", train, "--dataset", "a9a")

    assert_one_error_line(status, err, "not both")


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["train", "--solver", "simplex"])

    assert exited.value.code == 2
    assert "invalid choice: 'simplex'" in capsys.readouterr().err


def test_quiet_prints_no_notes(capsys):
    status, out, err = run(capsys, "train", "--quiet")

    assert status == 0
    assert err == ""
    assert "load_breast_cancer" in out


class FakeTerminal(stdio.StringIO):
    def isatty(self):
        return True


def test_progress_draws_and_clears():
    stream = FakeTerminal()
    progress = cli.Progress(stream=stream, delay=0.0, interval=0.01)

    with progress.step("fitting"):
        import time
        time.sleep(0.05)

    written = stream.getvalue()
    assert "fitting ... " in written
    assert written.endswith("\r")
    assert cli.Progress(stream=stdio.StringIO()).enabled is False


def test_console_script_error_exit():
    script = shutil.which("fastlogreg", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the fastlogreg console script is not installed next to this Python")

    result = subprocess.run([script, "train", "absent-file.svm"], capture_output=True,
                            text=True, timeout=300)

    assert result.returncode == 1
    assert result.stderr.strip() == "fastlogreg: error: data file not found: absent-file.svm"
    assert "Traceback" not in result.stderr


def test_train_sgd_options(capsys, svm_files, tmp_path):
    train, _ = svm_files
    model_path = tmp_path / "model.npz"

    status, _, _ = run(capsys, "train", train, "--solver", "sgd", "--average",
                       "--batch-size", "32", "--learning-rate", "0.01",
                       "--n-iter-no-change", "3", "--validation-fraction", "0.2",
                       "--random-state", "0", "--output", model_path, "--quiet")

    assert status == 0
    params = fastlogreg.load(model_path).get_params()
    assert params["solver"] == "sgd"
    assert params["average"] is True
    assert params["batch_size"] == 32
    assert params["learning_rate"] == 0.01
    assert params["n_iter_no_change"] == 3
    assert params["validation_fraction"] == 0.2


# ---------------------------------------------------------------------- out-of-core SGD


def shared_file(name):
    """Return the path of a file of the shared dataset folder, or skip the test."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"shared dataset file not found: {path}")
    return path


@pytest.fixture(scope="module")
def svm_stream_file(tmp_path_factory):
    """An svmlight file of 400 rows, 8 features and labels -1 and 1, for streamed training."""
    path = tmp_path_factory.mktemp("stream") / "stream.svm"
    X, y = make_classification(n_samples=400, n_features=8, n_informative=5,
                               class_sep=1.5, random_state=3)
    dump_svmlight_file(X, np.where(y == 1, 1, -1), str(path))
    return path


def test_sgd_streamed_svmlight(capsys, svm_stream_file, tmp_path):
    model_path = tmp_path / "model.npz"

    # Small batches and many epochs, because 400 rows give SGD few steps per epoch.
    status, out, _ = run(capsys, "train", svm_stream_file, "--sgd", "--chunk-rows", "64",
                         "--epochs", "30", "--batch-size", "8", "--random-state", "0",
                         "--output", model_path, "--json", "--quiet")
    assert status == 0
    summary = json.loads(out)
    _, in_memory_out, _ = run(capsys, "train", svm_stream_file, "--json", "--quiet")
    in_memory = json.loads(in_memory_out)

    assert summary["solver"] == "sgd"
    assert summary["n_iter"] == 30
    assert summary["converged"] is None
    assert summary["streaming"]["chunk_rows"] == 64
    assert summary["streaming"]["n_chunks"] == 7
    assert summary["streaming"]["epochs"] == 30
    assert summary["data"]["n_samples"] == 400
    assert summary["data"]["n_features"] == 8
    assert summary["data"]["label_counts"] == in_memory["data"]["label_counts"]
    assert summary["train"]["roc_auc"] is None
    assert summary["train"]["accuracy"] == pytest.approx(in_memory["train"]["accuracy"],
                                                         abs=0.03)
    model = fastlogreg.load(model_path)
    assert model.get_params()["solver"] == "sgd"
    assert model.get_params()["batch_size"] == 8
    assert model.classes_.tolist() == [-1, 1]
    assert isinstance(model.classes_.tolist()[0], int)


def test_sgd_chunked_scores_equal_evaluate(capsys, svm_stream_file, tmp_path):
    model_path = tmp_path / "model.npz"
    status, out, _ = run(capsys, "train", svm_stream_file, "--sgd", "--chunk-rows", "50",
                         "--epochs", "2", "--output", model_path, "--json", "--quiet")
    assert status == 0
    streamed = json.loads(out)["train"]

    status, out, _ = run(capsys, "evaluate", model_path, svm_stream_file, "--json")

    assert status == 0
    whole = json.loads(out)
    assert streamed["n_samples"] == whole["n_samples"]
    assert streamed["accuracy"] == whole["accuracy"]
    assert streamed["log_loss"] == pytest.approx(whole["log_loss"], rel=1e-12)


def test_sgd_streamed_csv_with_test(capsys, csv_file):
    status, out, _ = run(capsys, "train", csv_file, "--sgd", "--label", "kind",
                         "--chunk-rows", "16", "--epochs", "50", "--batch-size", "4",
                         "--random-state", "0", "--test", csv_file, "--json", "--quiet")

    assert status == 0
    summary = json.loads(out)
    assert summary["data"]["sparse"] is False
    assert summary["data"]["n_features"] == 2
    assert summary["streaming"]["n_chunks"] == 4
    assert set(summary["data"]["label_counts"]) == {"cat", "dog"}
    assert summary["train"]["accuracy"] > 0.85
    assert summary["test"]["accuracy"] == pytest.approx(summary["train"]["accuracy"])


def test_sgd_text_summary_states_streaming(capsys, svm_stream_file):
    status, out, _ = run(capsys, "train", svm_stream_file, "--sgd", "--chunk-rows", "100",
                         "--epochs", "1", "--quiet")

    assert status == 0
    assert "out-of-core: 1 epochs of 4 chunks (chunk rows 100)" in out
    assert "train scores computed chunk by chunk" in out
    train_row = next(line for line in out.splitlines() if line.startswith("train"))
    assert train_row.split()[-1] == "n/a"


def test_a9a_sgd_streamed_near_in_memory(capsys):
    train = shared_file("a9a.gz")
    test = shared_file("a9a.t.gz")

    # Averaging the iterates smooths out the order of the chunks, which are shuffled only
    # within themselves: without it the test accuracy was 0.830 against 0.850.
    status, out, _ = run(capsys, "train", train, "--sgd", "--chunk-rows", "5000",
                         "--epochs", "5", "--random-state", "0", "--average", "--test", test,
                         "--json", "--quiet")
    assert status == 0
    streamed = json.loads(out)
    status, out, _ = run(capsys, "train", train, "--test", test, "--json", "--quiet")
    assert status == 0
    in_memory = json.loads(out)

    assert streamed["streaming"]["n_chunks"] == 7
    assert streamed["data"]["n_samples"] == in_memory["data"]["n_samples"]
    assert streamed["data"]["density"] == pytest.approx(in_memory["data"]["density"])
    # SGD stops after 5 epochs short of the exact optimum: about 0.851 against 0.850.
    assert streamed["test"]["accuracy"] == pytest.approx(in_memory["test"]["accuracy"],
                                                         abs=0.015)
    assert streamed["train"]["log_loss"] < in_memory["train"]["log_loss"] + 0.03


class RecordingStatus:
    def __init__(self, label):
        self.labels = [label]

    @property
    def label(self):
        return self.labels[-1]

    @label.setter
    def label(self, text):
        self.labels.append(text)


class RecordingProgress:
    """A stand-in for cli.Progress that records every label a step shows."""

    statuses = []

    def __init__(self, stream=None, enabled=None):
        self.enabled = enabled

    @contextmanager
    def step(self, label):
        status = RecordingStatus(label)
        RecordingProgress.statuses.append(status)
        yield status


def test_sgd_progress_shows_epoch_and_chunk(capsys, monkeypatch, svm_stream_file):
    RecordingProgress.statuses = []
    monkeypatch.setattr(cli, "Progress", RecordingProgress)

    status, _, _ = run(capsys, "train", svm_stream_file, "--sgd", "--chunk-rows", "100",
                       "--epochs", "2")

    assert status == 0
    labels = [label for s in RecordingProgress.statuses for label in s.labels]
    assert "SGD epoch 1/2, chunk 1/4" in labels
    assert "SGD epoch 2/2, chunk 4/4" in labels


def test_progress_label_changes_during_step():
    stream = FakeTerminal()
    progress = cli.Progress(stream=stream, delay=0.0, interval=0.01)

    with progress.step("epoch 1") as status:
        time.sleep(0.05)
        status.label = "epoch 2"
        time.sleep(0.05)

    written = stream.getvalue()
    assert "epoch 1 ... " in written
    assert "epoch 2 ... " in written


# ---------------------------------------------------------------------- cross-validation


def test_cv_breast_cancer_matches_estimator(capsys):
    status, out, _ = run(capsys, "train", "--cv", "3", "--Cs", "6", "--json", "--quiet")

    assert status == 0
    summary = json.loads(out)
    X, y = load_breast_cancer(return_X_y=True)
    search = fastlogreg.LogisticRegressionCV(Cs=6, l1_ratios=(0.0,), cv=3).fit(X, y)
    cv = summary["cv"]
    assert cv["C"] == search.C_
    assert cv["Cs"] == search.Cs_.tolist()
    assert cv["n_folds"] == 3
    assert cv["scoring"] == "accuracy"
    assert cv["mean_scores"] == pytest.approx(search.scores_[:, 0, :].mean(axis=0).tolist())
    assert cv["std_scores"] == pytest.approx(search.scores_[:, 0, :].std(axis=0).tolist())
    assert summary["params"]["C"] == search.C_
    assert summary["params"]["warm_start"] is False


def test_cv_text_lists_score_per_C(capsys, svm_files):
    train, _ = svm_files

    status, out, _ = run(capsys, "train", train, "--cv", "4", "--Cs", "0.01,0.1,1,10",
                         "--quiet")

    assert status == 0
    assert "cv:        4 folds, scoring accuracy, l1_ratio 0: chosen C = " in out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("cv:")) + 2
    rows = [line.split() for line in lines[start:start + 4]]
    assert [row[0] for row in rows] == ["0.01", "0.1", "1", "10"]
    assert sum(line.endswith("<- chosen") for line in lines) == 1


def test_cv_scoring_list_and_saved_model(capsys, svm_files, tmp_path):
    train, _ = svm_files
    model_path = tmp_path / "model.npz"

    status, out, _ = run(capsys, "train", train, "--cv", "4", "--Cs", "0.01,0.1,1,inf",
                         "--scoring", "neg_log_loss", "--l1-ratio", "0.5",
                         "--output", model_path, "--json", "--quiet")

    assert status == 0
    cv = json.loads(out)["cv"]
    X, y = fastlogreg.io.load_data(train)
    search = fastlogreg.LogisticRegressionCV(Cs=[0.01, 0.1, 1, np.inf], l1_ratios=(0.5,), cv=4,
                                             scoring="neg_log_loss").fit(X, y)
    assert cv["Cs"] == [0.01, 0.1, 1.0, "inf"]
    assert cv["scoring"] == "neg_log_loss"
    assert cv["l1_ratio"] == 0.5
    assert cv["C"] == (search.C_ if np.isfinite(search.C_) else "inf")
    model = fastlogreg.load(model_path)
    assert model.get_params()["C"] == search.C_
    assert model.get_params()["l1_ratio"] == 0.5
    np.testing.assert_allclose(model.coef_, search.coef_)


def test_cv_plot_writes_png(capsys, tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib, not installed here")
    plot_path = tmp_path / "cv.png"

    status, out, _ = run(capsys, "train", "--cv", "3", "--Cs", "0.01,1,inf", "--plot",
                         plot_path, "--quiet")

    assert status == 0
    assert f"plot:      saved to {plot_path}" in out
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cv_plot_without_matplotlib(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)

    status, _, err = run(capsys, "train", "--cv", "3", "--plot", tmp_path / "cv.png",
                         "--quiet")

    assert_one_error_line(status, err, "--plot needs matplotlib", "pip install matplotlib")
    assert not (tmp_path / "cv.png").exists()


# ---------------------------------------------------------------------- errors of --sgd and --cv


@pytest.mark.parametrize("options, fragments", [
    (["--chunk-rows", "10"], ["--chunk-rows applies only with --sgd"]),
    (["--epochs", "3"], ["--epochs applies only with --sgd"]),
    (["--Cs", "5"], ["--Cs applies only with --cv"]),
    (["--scoring", "roc_auc"], ["--scoring applies only with --cv"]),
    (["--sgd", "--max-iter", "3"], ["--max-iter is not supported with --sgd", "--epochs"]),
    (["--sgd", "--solver", "lbfgs"], ["--sgd trains with the sgd solver"]),
    (["--sgd", "--class-weight", "balanced"], ["balanced is not supported with --sgd"]),
    (["--sgd", "--cv", "3"], ["--cv is not supported with --sgd"]),
    (["--cv", "3", "--C", "2"], ["--C is not supported with --cv", "--Cs"]),
    (["--cv", "3", "--average"], ["--average is not supported with --cv"]),
])
def test_error_option_combinations(capsys, svm_files, options, fragments):
    train, _ = svm_files

    status, _, err = run(capsys, "train", train, *options)

    assert_one_error_line(status, err, *fragments)


@pytest.mark.parametrize("options, message", [
    (["--sgd", "--chunk-rows", "0"], "argument --chunk-rows: must be a positive integer, got 0"),
    (["--sgd", "--epochs", "-2"], "argument --epochs: must be a positive integer, got -2"),
    (["--sgd", "--chunk-rows", "1e3"], "argument --chunk-rows: invalid integer: '1e3'"),
    (["--cv", "1"], "argument --cv: needs at least 2 folds, got 1"),
    (["--cv", "3", "--Cs", "0"], "argument --Cs: the number of values must be at least 1"),
    (["--cv", "3", "--Cs", "0.1,-1"], "argument --Cs: values of C must be positive or inf"),
    (["--cv", "3", "--Cs", "0.1,big"], "argument --Cs: invalid value 'big'"),
    (["--cv", "3", "--scoring", "accurate"], "argument --scoring: unknown scorer 'accurate'"),
])
def test_usage_error_bad_values(capsys, options, message):
    with pytest.raises(SystemExit) as exited:
        cli.main(["train", *options])

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_error_sgd_malformed_line(capsys, tmp_path):
    path = tmp_path / "bad.svm"
    path.write_text("1 1:1\n-1 2:1\n1 3:x\n")

    status, _, err = run(capsys, "train", path, "--sgd", "--chunk-rows", "2")

    assert_one_error_line(status, err, "bad.svm, line 3", "'3:x'")


def test_error_sgd_npz_file(capsys, tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.eye(4), y=np.array([0, 1, 0, 1]))

    status, _, err = run(capsys, "train", path, "--sgd")

    assert_one_error_line(status, err, "data.npz", "svmlight and CSV/TSV files, not npz")


def test_error_sgd_without_data(capsys):
    status, _, err = run(capsys, "train", "--sgd")

    assert_one_error_line(status, err, "--sgd needs a DATA file")


def test_error_cv_too_many_folds(capsys, tmp_path):
    path = tmp_path / "few.svm"
    path.write_text("1 1:1\n-1 2:1\n1 1:2\n-1 2:2\n")

    status, _, err = run(capsys, "train", path, "--cv", "3")

    assert_one_error_line(status, err, "few.svm", "3 stratified folds")


def test_error_sgd_single_class(capsys, tmp_path):
    path = tmp_path / "one.svm"
    path.write_text("1 1:1\n1 2:1\n")

    status, _, err = run(capsys, "train", path, "--sgd")

    assert_one_error_line(status, err, "one.svm", "a single class (1)")
