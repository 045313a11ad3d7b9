"""Tests of the installed ``fastlogreg`` command, run in a subprocess as a user runs it.

Each subprocess pays for the Python start and the Numba cache load (an estimated 1 to 2 s),
so one module fixture trains a single model and the other tests reuse its file.
"""

import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# Seconds before a hung command fails its test. A call took under 2 s with a warm Numba
# cache on a 2-core machine, and a cold cache compiles the kernels first.
COMMAND_TIMEOUT = 300

N_SAMPLES = 40
N_FEATURES = 3


def command_prefix():
    """Return the argv prefix that starts the command under test.

    The console script is looked up next to the running interpreter, so that a
    ``fastlogreg`` from another environment on PATH is never the one tested. Without it,
    ``python -m fastlogreg.cli`` runs the same ``main``.
    """
    script = shutil.which("fastlogreg", path=str(Path(sys.executable).parent))
    if script is not None:
        return [script]
    return [sys.executable, "-m", "fastlogreg.cli"]


COMMAND = command_prefix()


def run_cli(*argv, cwd=None):
    """Run the command with ``argv`` and return the finished process with text output."""
    return subprocess.run(
        COMMAND + [str(arg) for arg in argv],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    """Write the same small labeled data as svmlight and as CSV with a header.

    Returns the svmlight path, the CSV path and the labels. Features come from a normal
    distribution, so none is zero and both files contain the same matrix.
    """
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    margin = X @ np.array([2.0, -1.0, 0.5])
    y = np.where(rng.random(N_SAMPLES) < 1.0 / (1.0 + np.exp(-margin)), 1, -1)

    svm_lines = []
    csv_lines = ["x1,x2,x3,label"]
    for row, label in zip(X, y):
        pairs = " ".join(f"{j + 1}:{value!r}" for j, value in enumerate(row.tolist()))
        svm_lines.append(f"{label} {pairs}")
        values = ",".join(repr(value) for value in row.tolist())
        csv_lines.append(f"{values},{label}")

    svm_path = folder / "data.svm"
    csv_path = folder / "data.csv"
    svm_path.write_text("\n".join(svm_lines) + "\n")
    csv_path.write_text("\n".join(csv_lines) + "\n")
    return svm_path, csv_path, y


@pytest.fixture(scope="module")
def trained(data_files, tmp_path_factory):
    """Train once on the svmlight file and return the model path and the finished process."""
    svm_path, _, _ = data_files
    model_path = tmp_path_factory.mktemp("model") / "model.npz"

    result = run_cli("train", svm_path, "--solver", "newton", "--output", model_path,
                     "--json", "--quiet")

    return model_path, result


@pytest.fixture(scope="module")
def summary(trained):
    _, result = trained
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def read_csv_rows(text):
    """Return the header and the data rows of CSV text."""
    rows = list(csv.reader(text.splitlines()))
    return rows[0], rows[1:]


def accuracy_of(predictions, labels):
    return float(np.mean(np.array(predictions, dtype=np.int64) == labels))


# ---------------------------------------------------------------------- train


def test_train_exit_status_and_streams(trained):
    _, result = trained

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_train_json_summary(summary, data_files):
    svm_path, _, y = data_files

    assert set(summary) >= {"data", "test_data", "solver", "n_iter", "converged",
                            "fit_seconds", "params", "train", "model_path"}
    assert summary["data"]["source"] == str(svm_path)
    assert summary["data"]["n_samples"] == N_SAMPLES
    assert summary["data"]["n_features"] == N_FEATURES
    assert summary["data"]["sparse"] is True
    assert summary["data"]["label_counts"] == {"-1": int(np.sum(y == -1)),
                                               "1": int(np.sum(y == 1))}
    assert summary["test_data"] is None
    assert summary["solver"] == "newton"
    assert summary["params"]["solver"] == "newton"
    assert summary["n_iter"] >= 1
    assert summary["converged"] is True
    assert summary["fit_seconds"] >= 0
    assert summary["train"]["n_samples"] == N_SAMPLES
    assert 0.5 < summary["train"]["accuracy"] <= 1.0
    assert 0.0 < summary["train"]["log_loss"] < math.log(2)
    assert 0.5 < summary["train"]["roc_auc"] <= 1.0


def test_train_writes_model_file(summary, trained):
    model_path, _ = trained

    assert summary["model_path"] == str(model_path)
    assert model_path.is_file()
    assert model_path.stat().st_size > 0


# ---------------------------------------------------------------------- predict


def test_predict_proba_to_file(trained, summary, data_files, tmp_path):
    model_path, _ = trained
    svm_path, _, y = data_files
    output = tmp_path / "predictions.csv"

    result = run_cli("predict", model_path, svm_path, "--proba", "--output", output)

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == ""
    header, rows = read_csv_rows(output.read_text())
    assert header == ["prediction", "proba_-1", "proba_1"]
    assert len(rows) == N_SAMPLES
    probabilities = np.array([[float(p) for p in row[1:]] for row in rows])
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)
    predictions = [row[0] for row in rows]
    assert set(predictions) <= {"-1", "1"}
    expected = np.where(probabilities[:, 1] > probabilities[:, 0], "1", "-1")
    assert predictions == expected.tolist()
    assert accuracy_of(predictions, y) == pytest.approx(summary["train"]["accuracy"])


def test_predict_labels_to_stdout(trained, summary, data_files):
    model_path, _ = trained
    svm_path, _, y = data_files

    result = run_cli("predict", model_path, svm_path)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    header, rows = read_csv_rows(result.stdout)
    assert header == ["prediction"]
    assert len(rows) == N_SAMPLES
    assert all(len(row) == 1 for row in rows)
    predictions = [row[0] for row in rows]
    assert set(predictions) <= {"-1", "1"}
    assert accuracy_of(predictions, y) == pytest.approx(summary["train"]["accuracy"])


# ---------------------------------------------------------------------- evaluate


def test_evaluate_text(trained, summary, data_files):
    model_path, _ = trained
    svm_path, _, _ = data_files

    result = run_cli("evaluate", model_path, svm_path)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("data:")
    assert f"{N_SAMPLES} samples x {N_FEATURES} features, sparse" in lines[0]
    scores = {line.split(":")[0]: line.split(":")[1].strip() for line in lines[1:]}
    train = summary["train"]
    assert scores == {"accuracy": f"{train['accuracy']:.4f}",
                      "log loss": f"{train['log_loss']:.4f}",
                      "ROC AUC": f"{train['roc_auc']:.4f}"}


def test_evaluate_json_on_csv(trained, summary, data_files):
    """The model trained on svmlight reads the same rows from CSV by column position."""
    model_path, _ = trained
    _, csv_path, _ = data_files

    result = run_cli("evaluate", model_path, csv_path, "--json")

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    scores = json.loads(result.stdout)
    assert set(scores) == {"data", "n_samples", "accuracy", "log_loss", "roc_auc"}
    assert scores["data"]["source"] == str(csv_path)
    assert scores["data"]["n_samples"] == N_SAMPLES
    assert scores["data"]["n_features"] == N_FEATURES
    assert scores["data"]["sparse"] is False
    assert scores["data"]["label_counts"] == summary["data"]["label_counts"]
    assert scores["n_samples"] == N_SAMPLES
    train = summary["train"]
    assert scores["accuracy"] == pytest.approx(train["accuracy"])
    assert scores["log_loss"] == pytest.approx(train["log_loss"], rel=1e-9)
    assert scores["roc_auc"] == pytest.approx(train["roc_auc"])


# ---------------------------------------------------------------------- errors

# Placeholder content that the error test replaces with the first half of the trained model.
TRUNCATED_MODEL = object()

ERROR_CASES = [
    pytest.param(["train", "absent.svm"], {},
                 ["data file not found: absent.svm"],
                 id="missing-file"),
    pytest.param(["train", "data.npz"], {"data.npz": b"\x00\x01not a zip archive"},
                 ["data.npz", "not an .npz archive"],
                 id="unreadable-format"),
    pytest.param(["train", "bad.svm"], {"bad.svm": "1 1:1\n-1 2:1\n1 3:x\n"},
                 ["bad.svm, line 3", "'3:x'"],
                 id="malformed-svmlight-line"),
    pytest.param(["train", "pets.csv", "--label", "species"],
                 {"pets.csv": "weight,height,kind\n4.1,25,cat\n21.0,52,dog\n"},
                 ["pets.csv", "label column 'species' not found"],
                 id="label-column-not-found"),
    pytest.param(["train", "one.svm"], {"one.svm": "1 1:1\n1 2:1\n"},
                 ["one.svm", "one class"],
                 id="single-class"),
    pytest.param(["train", "nan.csv"], {"nan.csv": "1,0.5,2\n0,nan,1\n1,inf,3\n"},
                 ["nan.csv", "2 NaN or infinite values"],
                 id="non-finite-values"),
    pytest.param(["predict", "damaged.npz", "rows.svm"],
                 {"damaged.npz": TRUNCATED_MODEL, "rows.svm": "1 1:1 2:1 3:1\n"},
                 ["damaged.npz", "not a fastlogreg model file"],
                 id="damaged-model"),
]


@pytest.mark.parametrize("argv, files, fragments", ERROR_CASES)
def test_error_one_line_exit_1(argv, files, fragments, trained, tmp_path):
    model_path, _ = trained
    for name, content in files.items():
        if content is TRUNCATED_MODEL:
            model_bytes = model_path.read_bytes()
            content = model_bytes[: len(model_bytes) // 2]
        if isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        else:
            (tmp_path / name).write_text(content)

    result = run_cli(*argv, cwd=tmp_path)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fastlogreg: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_usage_error_exit_2():
    result = run_cli("train", "--solver", "simplex")

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert "invalid choice: 'simplex'" in result.stderr
    assert result.stderr.startswith("usage: fastlogreg train")
