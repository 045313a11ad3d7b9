"""Tests of the fastlogreg command line, run in-process through cli.main."""

import csv
import io as stdio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import dump_svmlight_file, make_classification

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
