"""Out-of-core training: read svmlight or CSV files in chunks of rows and feed ``partial_fit``.

Only one chunk is in memory at a time. svmlight text (optionally .gz or .bz2) is streamed line
by line and each chunk is parsed by scikit-learn's ``load_svmlight_file`` with a fixed
``n_features``, so every chunk has the same columns. CSV goes through pandas'
``read_csv(chunksize=...)``; pandas is imported only when a CSV file is read.

NOTE: the svmlight reader does not use ``load_svmlight_file``'s byte ``offset``/``length``
arguments. Seeking in a compressed file decompresses it from the start, so byte ranges would
cost quadratic time over a .gz file, and byte ranges cannot give an exact row count.
"""

import bz2
import gzip
import io
import logging
from pathlib import Path

import numpy as np
from sklearn.datasets import load_svmlight_file

logger = logging.getLogger("fastlogreg")

CSV_SUFFIXES = (".csv", ".tsv")


def _open_binary(path):
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    if path.suffix == ".bz2":
        return bz2.open(path, "rb")
    return open(path, "rb")


def _data_suffix(path):
    """Return the suffix of ``path`` without a trailing .gz or .bz2."""
    path = Path(path)
    if path.suffix in (".gz", ".bz2"):
        path = path.with_suffix("")
    return path.suffix.lower()


def guess_format(path):
    """Return "csv" for .csv and .tsv files (optionally compressed), else "svmlight"."""
    return "csv" if _data_suffix(path) in CSV_SUFFIXES else "svmlight"


def _svmlight_line_chunks(path, chunk_rows):
    """Yield lists of at most ``chunk_rows`` data lines (bytes), skipping blanks and comments."""
    lines = []
    with _open_binary(path) as handle:
        for line in handle:
            stripped = line.lstrip()
            if not stripped or stripped.startswith(b"#"):
                continue
            lines.append(line)
            if len(lines) == chunk_rows:
                yield lines
                lines = []
    if lines:
        yield lines


def scan_svmlight(path, chunk_rows=100_000):
    """Read an svmlight file once, chunk by chunk; return ``(n_samples, n_features, labels,
    zero_based)``.

    ``zero_based`` follows ``load_svmlight_file``'s "auto" rule applied to the whole file: the
    indices are one-based unless some feature index 0 occurs.
    """
    n_samples = 0
    max_index = -1
    min_index = None
    labels = set()
    for lines in _svmlight_line_chunks(path, chunk_rows):
        X, y = load_svmlight_file(io.BytesIO(b"".join(lines)), zero_based=True)
        n_samples += X.shape[0]
        if X.nnz:
            max_index = max(max_index, int(X.indices.max()))
            chunk_min = int(X.indices.min())
            min_index = chunk_min if min_index is None else min(min_index, chunk_min)
        labels.update(np.unique(y).tolist())
    zero_based = min_index == 0
    n_features = max_index + 1 if zero_based else max(max_index, 0)
    return n_samples, n_features, np.array(sorted(labels)), zero_based


def iter_svmlight_chunks(path, chunk_rows, n_features, zero_based=False, dtype=np.float64):
    """Yield ``(X, y)`` chunks of at most ``chunk_rows`` rows of an svmlight file.

    X is CSR with ``n_features`` columns in every chunk; ``zero_based`` states whether the
    file's feature indices start at 0. The file is never read whole.
    """
    for lines in _svmlight_line_chunks(path, chunk_rows):
        yield load_svmlight_file(io.BytesIO(b"".join(lines)), n_features=n_features,
                                 zero_based=zero_based, dtype=dtype)


def iter_csv_chunks(path, chunk_rows, label_column=0, sep=None, header="infer",
                    dtype=np.float64):
    """Yield ``(X, y)`` chunks of at most ``chunk_rows`` rows of a CSV or TSV file.

    ``label_column`` is the label's column name, or its position when an integer. ``sep``
    defaults to a tab for .tsv files and a comma otherwise. X is a C-ordered array.
    """
    import pandas as pd

    if sep is None:
        sep = "\t" if _data_suffix(path) == ".tsv" else ","
    reader = pd.read_csv(path, sep=sep, header=header, chunksize=chunk_rows)
    with reader:
        for frame in reader:
            if isinstance(label_column, int) and label_column not in frame.columns:
                label = frame.columns[label_column]
            else:
                label = label_column
            if label not in frame.columns:
                raise ValueError(
                    f"label column {label_column!r} not found in {path}; the columns are "
                    f"{list(frame.columns)[:10]}."
                )
            y = frame[label].to_numpy()
            X = np.ascontiguousarray(frame.drop(columns=[label]).to_numpy(dtype=dtype))
            yield X, y


def scan_csv(path, chunk_rows=100_000, label_column=0, sep=None, header="infer"):
    """Read a CSV file once, chunk by chunk; return ``(n_samples, n_features, labels)``."""
    n_samples = 0
    n_features = 0
    labels = set()
    for X, y in iter_csv_chunks(path, chunk_rows, label_column, sep, header):
        n_samples += X.shape[0]
        n_features = X.shape[1]
        labels.update(np.unique(y).tolist())
    return n_samples, n_features, np.array(sorted(labels))


def iter_chunks(path, chunk_rows, format=None, n_features=None, zero_based=None,
                label_column=0, sep=None, header="infer"):
    """Yield ``(X, y)`` chunks of an svmlight or CSV file; ``format`` is guessed when None.

    For svmlight files, unless both ``n_features`` and ``zero_based`` are given, the file is
    first read once to find them.
    """
    if _resolve_format(path, format) == "csv":
        yield from iter_csv_chunks(path, chunk_rows, label_column, sep, header)
        return
    if n_features is None or zero_based is None:
        _, n_features, _, zero_based = scan_svmlight(path, chunk_rows)
    yield from iter_svmlight_chunks(path, chunk_rows, n_features, zero_based)


def _resolve_format(path, format):
    format = format or guess_format(path)
    if format not in ("svmlight", "csv"):
        raise ValueError(f"format must be 'svmlight', 'csv' or None, got format={format!r}.")
    return format


def fit_chunks(estimator, path, chunk_rows=100_000, epochs=5, classes=None, *, format=None,
               label_column=0, sep=None, header="infer", label_map=None):
    """Train ``estimator`` on a file too large for memory with ``partial_fit``; return it.

    Parameters
    ----------
    estimator : LogisticRegression
        Trained in place; its ``C``, ``l1_ratio``, ``batch_size``, ``learning_rate``,
        ``average``, ``random_state`` and ``n_jobs`` apply.
    path : str or Path
        svmlight text (optionally .gz or .bz2), or CSV / TSV (optionally compressed).
    chunk_rows : int
        Rows read into memory at a time.
    epochs : int
        Passes over the whole file. Chunks are visited in file order in every pass and the
        rows inside a chunk are shuffled, so a file sorted by label trains poorly: shuffle it
        once beforehand.
    classes : array-like or None
        All labels of the file; found by the first read when None.
    format : "svmlight", "csv" or None
        None guesses from the suffix: .csv and .tsv are CSV, anything else svmlight.
    label_column, sep, header
        CSV only: the label column (name, or position when an integer), the separator and
        the header row, passed to ``pandas.read_csv``.
    label_map : callable or None
        Applied to each chunk's label array before training, for example to map 1/2 labels.

    The file is read once before training to count its rows (and, for svmlight, its
    features and index base), so that the penalty is shared over all rows as in ``fit`` on
    the whole file, then ``epochs`` more times.
    """
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got chunk_rows={chunk_rows!r}.")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got epochs={epochs!r}.")
    format = _resolve_format(path, format)
    if format == "csv":
        n_samples, n_features, labels = scan_csv(path, chunk_rows, label_column, sep, header)

        def chunks():
            return iter_csv_chunks(path, chunk_rows, label_column, sep, header)
    else:
        n_samples, n_features, labels, zero_based = scan_svmlight(path, chunk_rows)

        def chunks():
            return iter_svmlight_chunks(path, chunk_rows, n_features, zero_based)
    if n_samples == 0:
        raise ValueError(f"{path} contains no data rows.")
    if classes is None:
        classes = labels if label_map is None else np.unique(label_map(labels))

    for epoch in range(1, epochs + 1):
        for X, y in chunks():
            if label_map is not None:
                y = label_map(y)
            estimator.partial_fit(X, y, classes=classes, n_samples_total=n_samples)
        logger.info("fit_chunks epoch %d of %d: objective on the last chunk %.10g", epoch,
                    epochs, estimator.loss_history_[-1])
    return estimator
