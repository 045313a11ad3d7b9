"""Mini-batch SGD: one epoch with ``fit``, and ``partial_fit`` over chunks.

Written against the planned API (``solver="sgd"``, where ``max_iter`` counts epochs, and
``partial_fit(X, y, classes=...)``). While the installed fastlogreg rejects ``solver="sgd"``
with ValueError or has no ``partial_fit``, ``setup`` raises NotImplementedError and asv
reports these benchmarks as skipped.
"""

import warnings

import numpy as np

from fastlogreg import LogisticRegression

from .common import make_dense, make_sparse_binary

N_CHUNKS = 10


def load_problem(layout):
    if layout == "dense":
        return make_dense(200_000, 100, seed=5)
    return make_sparse_binary(200_000, 1000, 20, seed=5)


def sgd_model(max_iter=1):
    return LogisticRegression(solver="sgd", max_iter=max_iter, tol=0.0, random_state=0)


def require_sgd(X, y):
    """Raise NotImplementedError (an asv skip) unless solver="sgd" fits."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sgd_model().fit(X[:1000], y[:1000])
    except ValueError as error:
        raise NotImplementedError(f"solver='sgd' is not available: {error}") from error


def require_partial_fit(X, y):
    """Raise NotImplementedError (an asv skip) unless partial_fit runs on a small chunk."""
    if not hasattr(LogisticRegression, "partial_fit"):
        raise NotImplementedError("LogisticRegression has no partial_fit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sgd_model().partial_fit(X[:1000], y[:1000], classes=np.array([0.0, 1.0]))
    except (ValueError, NotImplementedError) as error:
        raise NotImplementedError(f"partial_fit is not available: {error}") from error


class SGDEpoch:
    """One epoch of ``fit`` with solver="sgd" on 200,000 rows."""

    params = (["dense", "csr"], ["float64", "float32"])
    param_names = ["layout", "dtype"]
    number = 1
    repeat = (3, 10, 20.0)
    warmup_time = 0.0
    timeout = 300

    def setup(self, layout, dtype):
        X, y = load_problem(layout)
        self.X = X.astype(dtype)
        self.y = y
        # Compiles (or loads) the SGD kernels for this dtype and layout.
        require_sgd(self.X, self.y)
        warnings.simplefilter("ignore")

    def time_one_epoch(self, layout, dtype):
        sgd_model(max_iter=1).fit(self.X, self.y)

    def track_objective_after_one_epoch(self, layout, dtype):
        return float(sgd_model(max_iter=1).fit(self.X, self.y).loss_history_[-1])

    track_objective_after_one_epoch.unit = "objective"


class PartialFitChunks:
    """``partial_fit`` over N_CHUNKS row chunks of the data, on a fresh estimator each time."""

    params = ["dense", "csr"]
    param_names = ["layout"]
    number = 1
    repeat = (3, 10, 20.0)
    warmup_time = 0.0
    timeout = 300

    def setup(self, layout):
        X, y = load_problem(layout)
        bounds = np.linspace(0, X.shape[0], N_CHUNKS + 1).astype(int)
        self.chunks = [(X[start:stop], y[start:stop])
                       for start, stop in zip(bounds[:-1], bounds[1:])]
        self.classes = np.array([0.0, 1.0])
        require_partial_fit(X, y)
        warnings.simplefilter("ignore")

    def time_partial_fit_chunks(self, layout):
        model = sgd_model()
        for X_chunk, y_chunk in self.chunks:
            model.partial_fit(X_chunk, y_chunk, classes=self.classes)
