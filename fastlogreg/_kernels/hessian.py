"""The Hessian X' diag(D) X of the data term for CSR rows, in one parallel pass."""

import numpy as np
from numba import prange

from ._jit import jit
from .loss_grad import _block_bounds


@jit(inline="always")
def _sum_and_mirror(buffers, out):
    """Sum the per-block lower triangles into ``out`` in block order, then mirror them."""
    out[:, :] = 0.0
    for k in range(buffers.shape[0]):
        out += buffers[k]
    for a in range(out.shape[0]):
        for c in range(a):
            out[c, a] = out[a, c]


@jit(parallel=True, fastmath={"reassoc", "contract"})
def hessian_csr(data, indices, indptr, D, n_features, sorted_indices, n_blocks, out):
    """Write [X 1]' diag(D) [X 1], shape (d + 1, d + 1), into ``out``.

    Each row adds the outer product of its non-zeros, so a pass costs sum_i nnz_i^2: cheap
    for sparse rows. Each block of rows has a private (d + 1) x (d + 1) buffer; only the lower
    triangle is accumulated and then mirrored. With ``sorted_indices`` (column indices strictly
    increasing within each row: scipy's canonical format), the pairs of the lower triangle are
    the pairs (p, r) with r <= p, which halves the work.
    """
    n = indptr.shape[0] - 1
    d = n_features
    buffers = np.zeros((n_blocks, d + 1, d + 1))
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        H = buffers[k]
        for i in range(start, stop):
            Di = D[i]
            if Di == 0.0:
                continue
            lo = indptr[i]
            hi = indptr[i + 1]
            for p in range(lo, hi):
                jp = indices[p]
                v = Di * data[p]
                Hp = H[jp]
                if sorted_indices:
                    for r in range(lo, p + 1):
                        Hp[indices[r]] += v * data[r]
                else:
                    for r in range(lo, hi):
                        jr = indices[r]
                        if jr <= jp:
                            Hp[jr] += v * data[r]
                H[d, jp] += v
            H[d, d] += Di
    _sum_and_mirror(buffers, out)


@jit(parallel=True, fastmath={"reassoc", "contract"})
def hessian_dense_rows(X, D, n_blocks, out):
    """Write [X 1]' diag(D) [X 1] for a C-ordered dense X into ``out``, shape (d + 1, d + 1).

    Costs n * d^2 / 2 multiply-adds in one read of X. Row blocks run in parallel with private
    buffers; only the lower triangle is accumulated and then mirrored. Rows are added four at
    a time, so that each entry of the triangle is loaded and stored once per four rows.
    """
    n, d = X.shape
    buffers = np.zeros((n_blocks, d + 1, d + 1))
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        H = buffers[k]
        i = start
        while i + 4 <= stop:
            x0 = X[i]
            x1 = X[i + 1]
            x2 = X[i + 2]
            x3 = X[i + 3]
            D0 = D[i]
            D1 = D[i + 1]
            D2 = D[i + 2]
            D3 = D[i + 3]
            for p in range(d):
                v0 = D0 * x0[p]
                v1 = D1 * x1[p]
                v2 = D2 * x2[p]
                v3 = D3 * x3[p]
                Hp = H[p]
                for r in range(p + 1):
                    Hp[r] += v0 * x0[r] + v1 * x1[r] + v2 * x2[r] + v3 * x3[r]
                H[d, p] += v0 + v1 + v2 + v3
            H[d, d] += D0 + D1 + D2 + D3
            i += 4
        while i < stop:
            Di = D[i]
            row = X[i]
            for p in range(d):
                v = Di * row[p]
                Hp = H[p]
                for r in range(p + 1):
                    Hp[r] += v * row[r]
                H[d, p] += v
            H[d, d] += Di
            i += 1
    _sum_and_mirror(buffers, out)
