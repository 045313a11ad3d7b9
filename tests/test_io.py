"""Tests of the data file readers in fastlogreg.io."""

import bz2
import gzip
import lzma
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file

from fastlogreg import io

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

SVMLIGHT_TEXT = b"1 1:0.5 3:2\n-1 2:1.5\n# a comment line\n\n1 1:1 2:1 3:1 # trailing comment\n"
SVMLIGHT_DENSE = np.array([[0.5, 0.0, 2.0], [0.0, 1.5, 0.0], [1.0, 1.0, 1.0]])

COMPRESSORS = {
    "": lambda data: data,
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
}


def write(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_svmlight_compressed_variants(tmp_path, suffix):
    path = write(tmp_path / f"train.svm{suffix}", COMPRESSORS[suffix](SVMLIGHT_TEXT))

    X, y = io.load_data(path)

    assert sp.issparse(X)
    np.testing.assert_array_equal(X.toarray(), SVMLIGHT_DENSE)
    np.testing.assert_array_equal(y, [1, -1, 1])
    assert y.dtype == np.int64


def test_svmlight_pads_to_n_features(tmp_path):
    path = write(tmp_path / "test.svm", SVMLIGHT_TEXT)

    X, _ = io.load_data(path, n_features=10)

    assert X.shape == (3, 10)
    np.testing.assert_array_equal(X.toarray()[:, :3], SVMLIGHT_DENSE)


def test_svmlight_more_features_than_expected(tmp_path):
    path = write(tmp_path / "wide.svm", b"1 1:1 7:1\n-1 2:1\n")

    with pytest.raises(ValueError, match=r"wide\.svm.*contains 7 features.*more than the 3"):
        io.load_data(path, n_features=3)


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        (b"-1 2:abc", "value in '2:abc' is not a number"),
        (b"yes 2:1", "label 'yes' is not a number"),
        (b"-1 2 3", "'2' is not an index:value pair"),
        (b"-1 3:1 2:1", "index 2 does not come after 3"),
        (b"-1 x:1", "index in 'x:1' is not a non-negative integer"),
    ],
)
def test_svmlight_malformed_line_number(tmp_path, bad_line, reason):
    text = b"1 1:0.5\n# comment\n" + bad_line + b"\n1 2:1\n"
    path = write(tmp_path / "bad.svm.gz", gzip.compress(text))

    with pytest.raises(ValueError) as caught:
        io.load_data(path)

    message = str(caught.value)
    assert "bad.svm.gz, line 3" in message
    assert reason in message


def test_find_malformed_line_valid_file(tmp_path):
    path = write(tmp_path / "ok.svm", SVMLIGHT_TEXT + b"2 qid:4 1:1e-3 2:-inf\n")

    assert io.find_malformed_svmlight_line(path) is None


def test_missing_file_names_path(tmp_path):
    missing = tmp_path / "absent.svm"

    with pytest.raises(FileNotFoundError, match="absent.svm"):
        io.load_data(missing)


def test_truncated_gzip_names_path(tmp_path):
    data = gzip.compress(SVMLIGHT_TEXT * 500)
    path = write(tmp_path / "cut.svm.gz", data[: len(data) // 2])

    with pytest.raises(ValueError, match=r"cut\.svm\.gz: failed to read the file"):
        io.load_data(path)


def test_not_gzip_despite_suffix(tmp_path):
    path = write(tmp_path / "plain.svm.gz", SVMLIGHT_TEXT)

    with pytest.raises(ValueError, match=r"plain\.svm\.gz"):
        io.load_data(path)


def test_svmlight_pair_shares_n_features(tmp_path):
    train = write(tmp_path / "train.svm", b"1 1:1\n-1 2:1\n")
    test = write(tmp_path / "test.svm", b"1 4:1\n-1 1:1\n")

    X, y, X_test, y_test = io.load_svmlight_pair(train, test)

    assert X.shape == (2, 4)
    assert X_test.shape == (2, 4)
    np.testing.assert_array_equal(y_test, [1, -1])


def test_svmlight_pair_malformed_second_file(tmp_path):
    train = write(tmp_path / "train.svm", b"1 1:1\n-1 2:1\n")
    test = write(tmp_path / "test.svm", b"1 1:1\n1 1:1\n-1 2:?\n")

    with pytest.raises(ValueError, match=r"test\.svm, line 3"):
        io.load_svmlight_pair(train, test)


CSV_WITH_HEADER = "a,b,target\n1,2,cat\n3,4,dog\n5,6,cat\n"


def test_csv_label_by_name(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(CSV_WITH_HEADER)

    data = io.read_data(path, label="target")

    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4], [5, 6]])
    assert data.y.tolist() == ["cat", "dog", "cat"]
    assert data.feature_names == ["a", "b"]
    assert data.format == "csv"


def test_csv_default_label_names(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(CSV_WITH_HEADER)

    _, y = io.load_data(path)

    assert y.tolist() == ["cat", "dog", "cat"]


@pytest.mark.parametrize(("label", "expected_first_row"), [(None, [2, 3]), (0, [2, 3]),
                                                           ("2", [1, 2]), (-1, [1, 2])])
def test_headerless_csv_label_position(tmp_path, label, expected_first_row):
    path = tmp_path / "data.csv.gz"
    path.write_bytes(gzip.compress(b"1,2,3\n0,5,6\n"))

    data = io.read_data(path, label=label)

    assert data.feature_names is None
    np.testing.assert_array_equal(data.X[0], expected_first_row)


def test_tsv_by_suffix(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("1\t0.5\t2\n0\t1.5\t3\n")

    X, y = io.load_data(path)

    np.testing.assert_array_equal(X, [[0.5, 2], [1.5, 3]])
    np.testing.assert_array_equal(y, [1, 0])


def test_csv_label_column_not_found(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(CSV_WITH_HEADER)

    with pytest.raises(ValueError, match=r"label column 'kind' not found.*'a', 'b', 'target'"):
        io.load_data(path, label="kind")


def test_csv_non_numeric_feature(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("label,color\n1,red\n0,blue\n")

    with pytest.raises(ValueError, match="column 'color' is not numeric"):
        io.load_data(path)


def test_csv_without_labels(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("1,2\n3,4\n")

    X, y = io.load_data(path, label=False)

    assert y is None
    assert X.shape == (2, 2)


def test_csv_feature_columns_reorder(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(CSV_WITH_HEADER)

    data = io.read_data(path, label="target", feature_columns=["b", "a"])

    np.testing.assert_array_equal(data.X[0], [2, 1])


def test_csv_column_count_mismatch(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(CSV_WITH_HEADER)

    with pytest.raises(ValueError, match="2 feature columns, but 3 are expected"):
        io.load_data(path, n_features=3)


def test_csv_without_pandas(tmp_path, monkeypatch):
    path = tmp_path / "data.csv"
    path.write_text(CSV_WITH_HEADER)
    monkeypatch.setitem(sys.modules, "pandas", None)

    with pytest.raises(ImportError, match="pip install pandas"):
        io.load_data(path)


def test_parquet_without_pyarrow(tmp_path, monkeypatch):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)

    with pytest.raises(ImportError, match="pip install pyarrow"):
        io.load_data(path)


def test_parquet_round_trip(tmp_path):
    pytest.importorskip("pyarrow", reason="pyarrow is not installed")
    pandas = pytest.importorskip("pandas")
    path = tmp_path / "data.parquet"
    pandas.DataFrame({"x1": [1.0, 2.0], "x2": [3.0, 4.0], "label": [0, 1]}).to_parquet(path)

    data = io.read_data(path)

    np.testing.assert_array_equal(data.X, [[1, 3], [2, 4]])
    assert data.feature_names == ["x1", "x2"]


def test_npz_round_trip(tmp_path):
    path = tmp_path / "data.npz"
    X = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.savez(path, X=X, y=np.array([True, False, True]))

    X_read, y_read = io.load_data(path)

    assert X_read.dtype == np.float32
    np.testing.assert_array_equal(X_read, X)
    np.testing.assert_array_equal(y_read, [True, False, True])


def test_npz_missing_y(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.ones((2, 2)))

    with pytest.raises(ValueError, match="no array y"):
        io.load_data(path)


def test_npz_pickled_labels_rejected(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.ones((2, 2)), y=np.array(["a", None], dtype=object))

    with pytest.raises(ValueError, match=r"data\.npz"):
        io.load_data(path)


def test_npz_that_is_not_zip(tmp_path):
    path = tmp_path / "data.npz"
    path.write_text("not an archive")

    with pytest.raises(ValueError, match=r"data\.npz: not an \.npz archive"):
        io.load_data(path)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a9a", b"-1 3:1 11:1\n", "svmlight"),
        ("a9a.t.gz", None, "svmlight"),
        ("table.txt", b"label,x\n1,2\n", "csv"),
        ("table.dat", b"1\t2\t3\n", "tsv"),
        ("x.csv.bz2", None, "csv"),
        ("x.parquet", None, "parquet"),
        ("x.npz", None, "npz"),
    ],
)
def test_detect_format(tmp_path, name, content, expected):
    path = tmp_path / name
    if content is None:
        content = gzip.compress(b"1 1:1\n") if name.endswith(".gz") else b""
    path.write_bytes(content)

    assert io.detect_format(path) == expected


def test_label_rejected_for_svmlight(tmp_path):
    path = write(tmp_path / "data.svm", SVMLIGHT_TEXT)

    with pytest.raises(ValueError, match="label column applies to CSV"):
        io.load_data(path, label="y")


def test_dumped_svmlight_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 4))
    y = rng.integers(0, 2, size=20)
    path = tmp_path / "dump.svm"
    dump_svmlight_file(X, y, str(path))

    X_read, y_read = io.load_data(path)

    np.testing.assert_allclose(X_read.toarray(), X)
    np.testing.assert_array_equal(y_read, y)


def test_shared_a9a_shape():
    path = SHARED_DATA / "a9a.gz"
    if not path.exists():
        pytest.skip(f"shared dataset folder not found: {SHARED_DATA}")

    X, y = io.load_data(path)

    assert X.shape == (32561, 123)
    assert set(np.unique(y).tolist()) == {-1, 1}
