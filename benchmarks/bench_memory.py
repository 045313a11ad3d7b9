"""Peak memory of ``fit`` next to the size of X.

asv's ``peakmem_`` reports the peak resident memory of the benchmark process, which includes
X and the interpreter; ``track_x_megabytes`` gives the size of X for comparison. On Linux,
``track_fit_peak_over_x`` measures what ``fit`` adds on its own: it resets the kernel's
high-water mark of the process (``/proc/self/clear_refs``), fits, and divides the rise of
``VmHWM`` over the resident size before the fit by the size of X. fit is meant to need only
O(n + d) beyond X, so a ratio near or above 1 means a copy of X was made.
"""

import warnings

import numpy as np

from fastlogreg import LogisticRegression

from .common import make_dense, make_sparse_binary

MEGABYTE = 2.0 ** 20


def x_nbytes(X):
    if hasattr(X, "data") and hasattr(X, "indices"):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


def read_status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak_rss():
    """Reset VmHWM to the current resident size; raise OSError where Linux does not allow it."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


class FitMemory:
    params = (["dense", "csr"], ["float64", "float32"])
    param_names = ["layout", "dtype"]
    timeout = 300

    def setup(self, layout, dtype):
        if layout == "dense":
            X, y = make_dense(200_000, 100, seed=7)
        else:
            X, y = make_sparse_binary(200_000, 1000, 20, seed=7)
        self.X = X.astype(dtype)
        self.y = y
        warnings.simplefilter("ignore")
        # Compile (or load) the kernels for this dtype and layout before measuring.
        self.model().fit(self.X[:1000], self.y[:1000])

    @staticmethod
    def model():
        return LogisticRegression(C=1.0, max_iter=20)

    def peakmem_fit(self, layout, dtype):
        self.model().fit(self.X, self.y)

    def track_x_megabytes(self, layout, dtype):
        return x_nbytes(self.X) / MEGABYTE

    track_x_megabytes.unit = "MiB"

    def track_fit_peak_over_x(self, layout, dtype):
        try:
            reset_peak_rss()
            before = read_status_kib("VmRSS")
        except (OSError, KeyError) as error:
            raise NotImplementedError(f"peak RSS cannot be reset here: {error}") from error
        self.model().fit(self.X, self.y)
        extra = (read_status_kib("VmHWM") - before) * 1024.0
        return extra / x_nbytes(self.X)

    track_fit_peak_over_x.unit = "extra peak RSS during fit / size of X"
