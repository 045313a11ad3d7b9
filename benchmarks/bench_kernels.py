"""Throughput of the fused loss+gradient kernels against one read of X.

The ``track_`` figures time the kernel and the floor ``X @ w`` in the same process, on the
same array, as medians of repeats, and return their ratio: 1.0 would mean the fused pass costs
no more than one matrix-vector product. A second ratio compares with the two-pass numpy
gradient (``X @ w``, then ``X.T @ r``), the baseline the fused pass is meant to beat.
For dense X the floor is BLAS gemv (sgemv for float32); for CSR it is scipy's sparse
matrix-vector product, which is single-threaded.
"""

import numba
import numpy as np

from fastlogreg import _kernels as K

from .common import make_dense, make_sparse_binary, median_time

# Repeats behind each median in the track_ ratios.
RATIO_REPEATS = 15


class _KernelCase:
    """Arrays for one fused call; the kernel only writes ``grad`` and ``z``."""

    def prepare(self, X, y):
        n, d = X.shape
        rng = np.random.default_rng(1)
        self.X = X
        self.y = y
        self.s = np.ones(n)
        self.w = rng.standard_normal(d) * 0.1
        self.w_x = self.w.astype(X.dtype)
        self.grad = np.empty(d + 1)
        self.z = np.empty(n)
        self.n_blocks = max(1, min(numba.get_num_threads(), n))
        # The first call compiles (or loads from Numba's cache) the signature for this dtype
        # and layout; the timed calls then measure the kernel alone.
        self.fused()
        self.matvec()
        self.two_pass()

    def matvec(self):
        return self.X @ self.w_x

    def two_pass(self):
        z = np.asarray(self.X @ self.w_x, dtype=np.float64)
        residual = 1.0 / (1.0 + np.exp(-z)) - self.y
        return self.X.T @ residual.astype(self.X.dtype)

    def ratio_to_matvec(self):
        return (median_time(self.fused, RATIO_REPEATS)
                / median_time(self.matvec, RATIO_REPEATS))

    def ratio_to_two_pass(self):
        return (median_time(self.fused, RATIO_REPEATS)
                / median_time(self.two_pass, RATIO_REPEATS))


class LossGradDense(_KernelCase):
    """``loss_grad_dense_rows`` on C-ordered float64 and float32 X."""

    params = (["20000x100", "200000x100", "500000x28"], ["float64", "float32"])
    param_names = ["shape", "dtype"]
    # The kernel overwrites only its outputs, but number = 1 keeps each sample one call.
    number = 1
    repeat = (3, 20, 10.0)
    warmup_time = 0.0

    def setup(self, shape, dtype):
        n, d = (int(part) for part in shape.split("x"))
        X, y = make_dense(n, d, dtype=np.dtype(dtype), seed=0)
        self.prepare(X, y)

    def fused(self):
        return K.loss_grad_dense_rows(self.X, self.y, self.s, self.w, 0.1, 1.0, self.n_blocks,
                                      self.grad, self.z)

    def time_loss_grad(self, shape, dtype):
        self.fused()

    def time_matvec(self, shape, dtype):
        self.matvec()

    def track_ratio_to_matvec(self, shape, dtype):
        return self.ratio_to_matvec()

    track_ratio_to_matvec.unit = "fused time / X @ w time"

    def track_ratio_to_two_pass(self, shape, dtype):
        return self.ratio_to_two_pass()

    track_ratio_to_two_pass.unit = "fused time / numpy two-pass time"


class LossGradCSR(_KernelCase):
    """``loss_grad_csr`` on a9a-like binary CSR data (n x d, nnz per row)."""

    params = (["32561x123x14", "200000x1000x20", "500000x123x14"], ["float64", "float32"])
    param_names = ["shape_nnz_per_row", "dtype"]
    number = 1
    repeat = (3, 20, 10.0)
    warmup_time = 0.0

    def setup(self, shape_nnz_per_row, dtype):
        n, d, nnz = (int(part) for part in shape_nnz_per_row.split("x"))
        X, y = make_sparse_binary(n, d, nnz, dtype=np.dtype(dtype), seed=0)
        self.prepare(X, y)

    def fused(self):
        X = self.X
        return K.loss_grad_csr(X.data, X.indices, X.indptr, self.y, self.s, self.w, 0.1, 1.0,
                               self.n_blocks, self.grad, self.z)

    def time_loss_grad(self, shape_nnz_per_row, dtype):
        self.fused()

    def time_matvec(self, shape_nnz_per_row, dtype):
        self.matvec()

    def track_ratio_to_matvec(self, shape_nnz_per_row, dtype):
        return self.ratio_to_matvec()

    track_ratio_to_matvec.unit = "fused time / X @ w time"

    def track_ratio_to_two_pass(self, shape_nnz_per_row, dtype):
        return self.ratio_to_two_pass()

    track_ratio_to_two_pass.unit = "fused time / numpy two-pass time"
