"""Data, objective and timing helpers shared by the asv suites and the peer comparison.

Data come from the LIBSVM files in ``shared/data`` beside the repository when that folder is
present (``FASTLOGREG_DATA_DIR`` overrides the location), else from generators with fixed
seeds that imitate them. Nothing here times anything that asv measures itself.
"""

import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_dir():
    """Return the folder of the real data files, or None when it does not exist."""
    override = os.environ.get("FASTLOGREG_DATA_DIR")
    folder = Path(override) if override else REPO_ROOT.parent / "shared" / "data"
    return folder if folder.is_dir() else None


def data_file(name):
    """Return the path of a real data file, or None when it is absent."""
    folder = data_dir()
    if folder is None:
        return None
    path = folder / name
    return path if path.is_file() else None


# ----------------------------------------------------------------------------- generated data


def make_dense(n_samples, n_features, dtype=np.float64, seed=0):
    """Return a C-ordered (X, y) with y in {0, 1} drawn from a logistic model.

    Features are standard normal with scales from 0.5 to 2, so that the problem is neither
    trivial nor badly conditioned. The true weights have a norm of about 3.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features), dtype=np.float64)
    X *= np.linspace(0.5, 2.0, n_features)
    w = rng.standard_normal(n_features) * (3.0 / np.sqrt(n_features))
    margin = X @ w / 2.0 + 0.3
    y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-margin))).astype(np.float64)
    return np.ascontiguousarray(X, dtype=dtype), y


def make_sparse_binary(n_samples, n_features, nnz_per_row, dtype=np.float64, seed=0):
    """Return a CSR (X, y) of 0/1 features, like a9a's one-hot encoded census data.

    Each row draws ``nnz_per_row`` columns with replacement, with popularity falling off as
    1/rank, so some features are common and many are rare. A column drawn twice in a row is
    stored once, so rows have at most ``nnz_per_row`` ones.
    """
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_features + 1)
    popularity /= popularity.sum()
    columns = rng.choice(n_features, size=n_samples * nnz_per_row, p=popularity)
    rows = np.repeat(np.arange(n_samples), nnz_per_row)
    X = sp.csr_matrix((np.ones(columns.shape[0]), (rows, columns)),
                      shape=(n_samples, n_features))
    X.sum_duplicates()
    X.data[:] = 1.0
    X = _int32_csr(X.astype(dtype))
    w = rng.standard_normal(n_features)
    margin = np.asarray(X @ w.astype(dtype), dtype=np.float64) / np.sqrt(nnz_per_row) - 0.5
    y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-margin))).astype(np.float64)
    return X, y


def make_sparse_random(n_samples, n_features, density, dtype=np.float64, seed=0):
    """Return a CSR (X, y) with normal values at random positions."""
    rng = np.random.default_rng(seed)
    X = sp.random(n_samples, n_features, density=density, format="csr", dtype=np.float64,
                  random_state=rng, data_rvs=rng.standard_normal)
    w = rng.standard_normal(n_features)
    margin = X @ w / np.sqrt(max(1.0, density * n_features))
    y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-margin))).astype(np.float64)
    return _int32_csr(X.astype(dtype)), y


# ----------------------------------------------------------------------------- real data


def _binary_labels(y):
    """Map the two label values of a LIBSVM file (-1/+1, 0/1 or 1/2) to 0.0 and 1.0."""
    values = np.unique(y)
    if values.shape[0] != 2:
        raise ValueError(f"expected two label values, got {values.tolist()}")
    return (y == values[1]).astype(np.float64)


def _int32_csr(X):
    """Return X as CSR with int32 indices (load_svmlight_file may return int64 ones)."""
    X = sp.csr_matrix(X)
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int32)
    X.sort_indices()
    return X


def load_svmlight_pair(train_name, test_name=None):
    """Return (X_train, y_train, X_test, y_test) of a LIBSVM file pair, or None if absent.

    Without a test file, X_test and y_test are None. Both files get the same n_features.
    """
    from sklearn.datasets import load_svmlight_file, load_svmlight_files

    train = data_file(train_name)
    test = data_file(test_name) if test_name else None
    if train is None or (test_name and test is None):
        return None
    if test is None:
        X, y = load_svmlight_file(str(train))
        return _int32_csr(X), _binary_labels(y), None, None
    X, y, X_test, y_test = load_svmlight_files([str(train), str(test)])
    return _int32_csr(X), _binary_labels(y), _int32_csr(X_test), _binary_labels(y_test)


def load_a9a():
    """Return (X, y, X_test, y_test) of a9a, or a generated stand-in of the same shape.

    The stand-in (32561 x 123, up to 14 ones per row) is used when the file is absent. Its test
    part is 16281 further rows from the same generator.
    """
    real = load_svmlight_pair("a9a.gz", "a9a.t.gz")
    if real is not None:
        return real
    X, y = make_sparse_binary(32561 + 16281, 123, 14, seed=9)
    return X[:32561], y[:32561], X[32561:], y[32561:]


def load_dense_csv(name, sep=",", dtype=np.float64):
    """Return (X, y) of a dense CSV/TSV file with the label in column 0, or None if absent."""
    path = data_file(name)
    if path is None:
        return None
    table = np.loadtxt(str(path), delimiter=sep, dtype=np.float64)
    return np.ascontiguousarray(table[:, 1:], dtype=dtype), _binary_labels(table[:, 0])


# ----------------------------------------------------------------------------- objective


def objective(X, y, coef, intercept, C, l1_ratio, sample_weight=None):
    """Return ``C * sum_i s_i logloss_i + (1 - l1_ratio) / 2 ||w||^2 + l1_ratio ||w||_1``.

    Computed here with numpy in float64, independently of the library under test, so that
    every solver's result is scored by the same code. ``y`` contains 0/1.
    """
    w = np.asarray(coef, dtype=np.float64).ravel()
    z = np.asarray(X @ w.astype(X.dtype), dtype=np.float64).ravel() + float(intercept)
    signed = np.where(y > 0.5, -z, z)
    losses = np.logaddexp(0.0, signed)
    if sample_weight is not None:
        losses = losses * sample_weight
    data_term = float(losses.sum())
    if np.isinf(C):
        return data_term
    return C * data_term + (1.0 - l1_ratio) / 2.0 * float(w @ w) + l1_ratio * float(
        np.abs(w).sum())


def accuracy(X, y, coef, intercept):
    """Return the share of samples whose sign of x . w + b matches the 0/1 label."""
    w = np.asarray(coef, dtype=np.float64).ravel()
    z = np.asarray(X @ w.astype(X.dtype), dtype=np.float64).ravel() + float(intercept)
    return float(np.mean((z > 0) == (y > 0.5)))


def reference_fit(X, y, C, l1_ratio, fit_intercept=True):
    """Fit fastlogreg to a tight tolerance and return the estimator (the reference optimum).

    The estimator's exact solvers stop on the max-norm of the (sub)gradient relative to
    C * n, so tol=1e-10 puts the objective within rounding error of the optimum.
    """
    from fastlogreg import LogisticRegression

    solver = "cd" if l1_ratio > 0 else "newton"
    if l1_ratio == 0 and X.shape[1] > 1000:
        solver = "lbfgs"
    model = LogisticRegression(C=C, l1_ratio=l1_ratio, solver=solver, tol=1e-10,
                               max_iter=10_000, fit_intercept=fit_intercept)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    return model


# ----------------------------------------------------------------------------- timing


def median_time(function, repeat, *args):
    """Return the median wall-clock seconds of ``repeat`` calls of ``function(*args)``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
