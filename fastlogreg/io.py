"""Readers for training data files: svmlight/LIBSVM text, CSV/TSV, ``.npz`` and Parquet.

``load_data(path)`` returns ``(X, y)``; ``read_data(path)`` returns a ``DataFile`` that also
carries the feature names of a CSV header and the detected format. svmlight text may be
compressed with gzip (``.gz``), bzip2 (``.bz2``) or xz (``.xz``); CSV and TSV may use any
compression that pandas recognizes from the file name.

pandas (CSV, TSV, Parquet) and pyarrow (Parquet) are optional and imported only when a file
of that kind is read.
"""

import bz2
import gzip
import lzma
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_svmlight_file, load_svmlight_files

FORMATS = ("svmlight", "csv", "tsv", "npz", "parquet")

COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz")

_SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".npz": "npz",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".svm": "svmlight",
    ".svmlight": "svmlight",
    ".libsvm": "svmlight",
}

# Exceptions that an unreadable file raises while it is read: a truncated or damaged
# compressed stream raises EOFError, BadGzipFile, LZMAError or (bzip2) OSError.
_DECOMPRESSION_ERRORS = (EOFError, gzip.BadGzipFile, lzma.LZMAError, OSError)


@dataclass
class DataFile:
    """The contents of one data file.

    ``X`` is a CSR matrix for svmlight files and a float64 ndarray otherwise. ``y`` contains the
    labels, cast to int64 when they are floats with integer values (``-1.0`` becomes ``-1``),
    or None for a file read with ``label=False``.
    ``feature_names`` is the list of column names of a CSV, TSV or Parquet file with a
    header, else None.
    """

    X: object
    y: np.ndarray | None
    feature_names: list | None
    format: str
    path: Path


def load_data(path, label=None, n_features=None, format=None):
    """Read a data file and return ``(X, y)``.

    Parameters
    ----------
    path : str or Path
        The file. Its format comes from the suffix: ``.csv``, ``.tsv``, ``.npz``, ``.parquet``
        or ``.svm``, each optionally followed by ``.gz``, ``.bz2`` or ``.xz``. Files with
        other names are read as svmlight, unless their first data line contains commas or
        tabs and no ``index:value`` pair.
    label : str, int or False, optional
        CSV, TSV and Parquet only: the label column, by name or by position (negative counts
        from the end). Default: the column named ``label``, ``target`` or ``y`` when the file
        has a header, else the first column. ``False`` reads a file without labels: every
        column of a table is a feature, ``y`` is None, and an ``.npz`` file may omit ``y``.
    n_features : int, optional
        The number of features expected, for instance a model's ``n_features_in_``. An
        svmlight file that uses fewer is padded with zero columns; a file with more features,
        or a dense file with a different number of columns, raises ValueError.
    format : {"svmlight", "csv", "tsv", "npz", "parquet"}, optional
        Overrides the format detected from the file name.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file cannot be parsed; for svmlight text the message names the line number.
    ImportError
        pandas or pyarrow is needed for this file and is not installed.
    """
    data = read_data(path, label=label, n_features=n_features, format=format)
    return data.X, data.y


def read_data(path, label=None, n_features=None, format=None, feature_columns=None):
    """Read a data file and return a ``DataFile``.

    The parameters are those of ``load_data``, plus ``feature_columns``: for a table with a
    header, the names of the feature columns to return, in that order. Other columns except
    the label are ignored, and a missing name raises ValueError.
    """
    path = _existing_file(path)
    if format is None:
        format = detect_format(path)
    elif format not in FORMATS:
        raise ValueError(f"unknown data format {format!r}; use one of {', '.join(FORMATS)}.")
    if label not in (None, False) and format in ("svmlight", "npz"):
        raise ValueError(
            f"{path}: a label column applies to CSV, TSV and Parquet files only; "
            f"{format} files carry their labels themselves."
        )

    if format == "svmlight":
        X, y = _read_svmlight(path, n_features)
        names = None
    elif format == "npz":
        X, y = _read_npz(path, require_labels=label is not False)
        names = None
    else:
        X, y, names = _read_table(path, format, label, feature_columns)

    if format != "svmlight" and n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{path}: the file has {X.shape[1]} feature columns, but {n_features} are "
            "expected (the number of features of the model)."
        )
    if y is not None and X.shape[0] != y.shape[0]:
        raise ValueError(f"{path}: X has {X.shape[0]} rows but y has {y.shape[0]} labels.")
    if X.shape[0] == 0:
        raise ValueError(f"{path}: the file contains no samples.")
    if y is not None:
        y = _integer_labels(y)
    return DataFile(X=X, y=y, feature_names=names, format=format, path=path)


def load_svmlight_pair(train_path, test_path):
    """Read a train and a test svmlight file with the same number of features.

    Both files are read together by scikit-learn's ``load_svmlight_files``, so they share
    ``n_features`` and the choice between zero-based and one-based indices. Returns
    ``(X_train, y_train, X_test, y_test)``.
    """
    paths = [_existing_file(train_path), _existing_file(test_path)]
    opened = []
    try:
        for p in paths:
            opened.append(_open_svmlight(p))
        try:
            X_train, y_train, X_test, y_test = load_svmlight_files(opened)
        except ValueError as error:
            # The error does not say which of the two files failed: scan both.
            for p in paths:
                bad = _scan_for_malformed_line(p)
                if bad is not None:
                    raise _malformed_line_error(p, bad) from error
            raise ValueError(f"{paths[0]} and {paths[1]}: {error}") from error
        except _DECOMPRESSION_ERRORS as error:
            raise ValueError(
                f"{paths[0]} or {paths[1]}: failed to read the file ({error})."
            ) from error
    finally:
        for f in opened:
            f.close()
    for p, X, y in ((paths[0], X_train, y_train), (paths[1], X_test, y_test)):
        if X.shape[0] == 0:
            raise ValueError(f"{p}: the file contains no samples.")
    return X_train, _integer_labels(y_train), X_test, _integer_labels(y_test)


def detect_format(path):
    """Return the format of ``path`` from its name, or from its first data line."""
    name = Path(path).name.lower()
    for suffix in COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    suffix = os.path.splitext(name)[1]
    if suffix in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[suffix]
    return _sniff_text_format(Path(path))


# ---------------------------------------------------------------------- svmlight


def _open_svmlight(path):
    """Open an svmlight file as a binary stream, decompressing it by its suffix."""
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    if name.endswith(".xz"):
        return lzma.open(path, "rb")
    return open(path, "rb")


def _read_svmlight(path, n_features):
    # NOTE: indices are read with scikit-learn's zero_based="auto": a file that contains an
    # index 0 is taken as zero-based, any other as one-based (the LIBSVM convention). A test
    # file read alone can be shifted by one column against its training file when only one
    # of them uses index 0; load_svmlight_pair reads both with one decision.
    try:
        with _open_svmlight(path) as f:
            X, y = load_svmlight_file(f, n_features=n_features)
    except ValueError as error:
        if n_features is not None and "n_features was set to" in str(error):
            found = re.search(r"contains (\d+) features", str(error))
            count = found.group(1) if found else "more"
            raise ValueError(
                f"{path}: the file contains {count} features, more than the {n_features} "
                "expected (the number of features of the model)."
            ) from error
        bad = _scan_for_malformed_line(path)
        if bad is None:
            raise ValueError(f"{path}: invalid svmlight file: {error}.") from error
        raise _malformed_line_error(path, bad) from error
    except _DECOMPRESSION_ERRORS as error:
        raise ValueError(f"{path}: failed to read the file ({error}).") from error
    return X.tocsr(), y


def find_malformed_svmlight_line(path):
    """Return ``(line_number, reason, text)`` for the first invalid svmlight line, else None.

    A valid line is ``<label> [qid:<int>] <index>:<value> ...`` with a numeric label,
    non-negative integer indices in increasing order and numeric values. ``#`` starts a
    comment, and blank lines are skipped. The file is read once, line by line, and the scan
    stops at the first invalid line. Only called after scikit-learn's reader has failed,
    because that reader does not report a line number.
    """
    path = Path(path)
    with _open_svmlight(path) as f:
        for number, raw in enumerate(f, start=1):
            reason = _svmlight_line_error(raw)
            if reason is not None:
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                return number, reason, text
    return None


def _scan_for_malformed_line(path):
    try:
        return find_malformed_svmlight_line(path)
    except _DECOMPRESSION_ERRORS as error:
        raise ValueError(f"{path}: failed to read the file ({error}).") from error


def _svmlight_line_error(raw):
    """Return why one svmlight line is invalid, or None when it is valid."""
    content = raw.split(b"#", 1)[0]
    tokens = content.split()
    if not tokens:
        return None
    try:
        float(tokens[0])
    except ValueError:
        return f"the label {_show(tokens[0])} is not a number"
    previous = -1
    for position, token in enumerate(tokens[1:]):
        index_text, colon, value_text = token.partition(b":")
        if not colon:
            return f"{_show(token)} is not an index:value pair"
        if position == 0 and index_text == b"qid":
            if not value_text.lstrip(b"-").isdigit():
                return f"the query id in {_show(token)} is not an integer"
            continue
        if not index_text.isdigit():
            return f"the index in {_show(token)} is not a non-negative integer"
        try:
            float(value_text)
        except ValueError:
            return f"the value in {_show(token)} is not a number"
        index = int(index_text)
        if index <= previous:
            return f"index {index} does not come after {previous}; indices must increase"
        previous = index
    return None


def _show(token):
    return repr(token.decode("utf-8", errors="replace"))


def _malformed_line_error(path, bad):
    number, reason, text = bad
    if len(text) > 80:
        text = text[:77] + "..."
    return ValueError(f"{path}, line {number}: invalid svmlight line: {reason}: {text!r}")


def _sniff_text_format(path):
    """Return "csv", "tsv" or "svmlight" from the first non-comment line of a text file."""
    try:
        with _open_svmlight(path) as f:
            for raw in f:
                line = raw.split(b"#", 1)[0].strip()
                if not line:
                    continue
                has_pairs = any(b":" in token for token in line.split()[1:])
                if not has_pairs and b"," in line:
                    return "csv"
                if not has_pairs and b"\t" in line:
                    return "tsv"
                return "svmlight"
    except _DECOMPRESSION_ERRORS as error:
        raise ValueError(f"{path}: failed to read the file ({error}).") from error
    return "svmlight"


# ---------------------------------------------------------------------- npz


def _read_npz(path, require_labels=True):
    if not is_zip_file(path):
        raise ValueError(f"{path}: not an .npz archive (a .npz file is a zip archive).")
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise ValueError(f"{path}: not a readable .npz file ({error}).") from error
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: not a readable .npz file ({error}).") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: a .npy file, expected a .npz archive with arrays X and y.")
    with archive:
        required = ("X", "y") if require_labels else ("X",)
        missing = [key for key in required if key not in archive.files]
        if missing:
            raise ValueError(
                f"{path}: the .npz archive has no array {' or '.join(missing)}; it must "
                f"contain arrays named X and y (found: {', '.join(archive.files) or 'none'})."
            )
        try:
            X = archive["X"]
            y = archive["y"] if "y" in archive.files and require_labels else None
        except (ValueError, OSError, EOFError) as error:
            raise ValueError(f"{path}: failed to read the arrays X and y ({error}).") from error
    if X.ndim != 2:
        raise ValueError(f"{path}: X must be 2-dimensional, got shape {X.shape}.")
    if y is not None and y.ndim != 1:
        raise ValueError(f"{path}: y must be 1-dimensional, got shape {y.shape}.")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
        raise ValueError(f"{path}: X must be numeric, got dtype {X.dtype}.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    return X, y


# ---------------------------------------------------------------------- CSV, TSV, Parquet

_DEFAULT_LABEL_NAMES = ("label", "target", "y")


def _import_pandas(purpose):
    try:
        import pandas
    except ImportError as error:
        raise ImportError(
            f"reading {purpose} needs pandas, which is not installed; install it with "
            "`pip install pandas`."
        ) from error
    return pandas


def _read_table(path, format, label, feature_columns=None):
    pandas = _import_pandas(f"{format.upper()} files")
    if format == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as error:
            raise ImportError(
                "reading Parquet files needs pyarrow, which is not installed; install it "
                "with `pip install pyarrow`."
            ) from error
        try:
            frame = pandas.read_parquet(path)
        except (OSError, ValueError) as error:
            raise ValueError(f"{path}: not a readable Parquet file ({error}).") from error
        has_header = True
    else:
        separator = "\t" if format == "tsv" else ","
        has_header = _has_header(path, separator)
        try:
            frame = pandas.read_csv(path, sep=separator, header=0 if has_header else None)
        except (pandas.errors.ParserError, pandas.errors.EmptyDataError,
                UnicodeDecodeError) as error:
            raise ValueError(f"{path}: not a readable {format.upper()} file ({error}).") \
                from error
        except _DECOMPRESSION_ERRORS as error:
            raise ValueError(f"{path}: failed to read the file ({error}).") from error

    if label is False:
        column = None
        y = None
        features = frame
    else:
        column = _label_column(path, frame, label, has_header)
        y = frame[column].to_numpy()
        features = frame.drop(columns=[column])
    if feature_columns is not None and has_header:
        missing = [name for name in feature_columns if name not in features.columns]
        if missing:
            shown = ", ".join(map(repr, missing[:5])) + (" ..." if len(missing) > 5 else "")
            raise ValueError(f"{path}: feature columns not found: {shown}.")
        features = features[list(feature_columns)]
    if features.shape[1] == 0:
        raise ValueError(f"{path}: the file has no feature columns besides the label.")
    for name in features.columns:
        dtype = features[name].dtype
        if not (pandas.api.types.is_numeric_dtype(dtype) or pandas.api.types.is_bool_dtype(dtype)):
            sample = features[name].dropna()
            example = f" (for example {sample.iloc[0]!r})" if len(sample) else ""
            raise ValueError(
                f"{path}: column {name!r} is not numeric{example}; encode it as numbers "
                "before training."
            )
    if column is not None and pandas.isna(frame[column]).any():
        row = int(np.flatnonzero(pandas.isna(frame[column]).to_numpy())[0])
        raise ValueError(f"{path}: the label column {column!r} is empty in data row {row + 1}.")
    X = features.to_numpy(dtype=np.float64)
    names = [str(name) for name in features.columns] if has_header else None
    return X, y, names


def _has_header(path, separator):
    """Return whether the first line of a CSV/TSV file contains names rather than numbers."""
    pandas = _import_pandas("CSV files")
    try:
        first = pandas.read_csv(path, sep=separator, header=None, nrows=1, dtype=str)
    except pandas.errors.EmptyDataError as error:
        raise ValueError(f"{path}: the file is empty.") from error
    except (pandas.errors.ParserError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a readable CSV file ({error}).") from error
    except _DECOMPRESSION_ERRORS as error:
        raise ValueError(f"{path}: failed to read the file ({error}).") from error
    for value in first.iloc[0]:
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                return True
    return False


def _label_column(path, frame, label, has_header):
    columns = list(frame.columns)
    if label is None:
        if has_header:
            for name in _DEFAULT_LABEL_NAMES:
                if name in columns:
                    return name
            raise ValueError(
                f"{path}: no label column named {', '.join(_DEFAULT_LABEL_NAMES)}; choose "
                f"one by name or position (columns: {_list_columns(columns)})."
            )
        return columns[0]
    if label in columns:
        return label
    text = str(label)
    if text in [str(c) for c in columns]:
        return columns[[str(c) for c in columns].index(text)]
    try:
        position = int(text)
    except ValueError:
        position = None
    if position is not None and -len(columns) <= position < len(columns):
        return columns[position]
    raise ValueError(
        f"{path}: label column {label!r} not found; the file has {len(columns)} columns "
        f"({_list_columns(columns)}), chosen by name or by position 0 to {len(columns) - 1}."
    )


def _list_columns(columns):
    shown = ", ".join(repr(c) if isinstance(c, str) else str(c) for c in columns[:10])
    return shown + (f", ... ({len(columns) - 10} more)" if len(columns) > 10 else "")


# ---------------------------------------------------------------------- shared helpers


def _existing_file(path):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, expected a data file.")
    return path


def _integer_labels(y):
    """Return float labels that all have integer values as int64; other labels unchanged."""
    y = np.asarray(y)
    if y.dtype.kind == "f" and y.size and np.all(np.isfinite(y)) and np.all(y == np.round(y)) \
            and np.all(np.abs(y) < 2**53):
        return y.astype(np.int64)
    return y


def is_zip_file(path):
    """Return whether the file starts with the zip signature, as every ``.npz`` file does."""
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def count_nonfinite(X):
    """Return the number of NaN and infinite entries of a dense or sparse matrix."""
    values = X.data if sp.issparse(X) else np.asarray(X)
    if values.dtype.kind not in "fc":
        return 0
    return int(values.size - np.count_nonzero(np.isfinite(values)))
