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


STREAM_SCRIPT = """
import resource, sys, warnings
from fastlogreg import LogisticRegression
from fastlogreg._chunks import fit_chunks
model = LogisticRegression(solver="sgd", max_iter=1, tol=0.0, random_state=0)
if sys.argv[2] == "stream":
    fit_chunks(model, sys.argv[1], chunk_rows=int(sys.argv[3]), epochs=1)
else:
    from sklearn.datasets import load_svmlight_file
    X, y = load_svmlight_file(sys.argv[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
# VmHWM is this process's own peak; ru_maxrss would include the parent's peak, which Linux
# carries across fork and exec.
try:
    with open("/proc/self/status") as status:
        print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
except OSError:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


class OutOfCore:
    """Peak memory of training from an svmlight file in chunks, against loading it whole.

    ``setup`` writes the file (200,000 sparse rows, 1,000 features, 20 non-zeros per row).
    Each figure is the peak resident memory, in MiB, of a fresh process that trains one epoch,
    import included; the two differ by what the training itself holds. Streaming should stay
    near one chunk of 10,000 rows plus the model, while the whole load holds all of X.
    """

    timeout = 600
    unit = "MiB"
    chunk_rows = 10_000

    def setup(self):
        import tempfile
        from pathlib import Path

        from sklearn.datasets import dump_svmlight_file

        X, y = make_sparse_binary(200_000, 1000, 20, seed=6)
        self.folder = tempfile.TemporaryDirectory()
        self.path = str(Path(self.folder.name) / "train.svm")
        dump_svmlight_file(X, y, self.path)
        # Fill the Numba cache for CSR chunks so that no process measures a compile.
        self._peak_mib("stream")

    def teardown(self):
        self.folder.cleanup()

    def _peak_mib(self, mode):
        import subprocess
        import sys

        output = subprocess.run(
            [sys.executable, "-c", STREAM_SCRIPT, self.path, mode, str(self.chunk_rows)],
            check=True, capture_output=True, text=True,
        ).stdout
        return int(output.split()[-1]) / 1024.0

    def track_peak_mib_fit_chunks(self):
        return self._peak_mib("stream")

    def track_peak_mib_load_whole_and_fit(self):
        return self._peak_mib("whole")
