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


@jit(parallel=True, fastmath={"reassoc", "contract"})
def hessian_csr_subset(data, indices, indptr, D, position, sorted_indices, n_blocks, out):
    """Write [X_A 1]' diag(D) [X_A 1] into ``out``, shape (m + 1, m + 1), for a subset A.

    ``position[j]`` is the row of ``out`` for feature j, or -1 for a feature outside A, with
    positions increasing in j. Coordinate descent needs only the features of its working set,
    which can be few. Each row's entries in A are first copied to a short list, so that the
    pair loop has no branch: the cost is sum_i nnz_i plus the pairs of row i's entries in A.
    """
    n = indptr.shape[0] - 1
    m = out.shape[0] - 1
    # No row has more entries in A than the longest row has entries, duplicates included.
    width = 0
    for i in range(n):
        width = max(width, indptr[i + 1] - indptr[i])
    buffers = np.zeros((n_blocks, m + 1, m + 1))
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        H = buffers[k]
        places = np.empty(width, dtype=np.int64)
        values = np.empty(width)
        for i in range(start, stop):
            Di = D[i]
            if Di == 0.0:
                continue
            count = 0
            for p in range(indptr[i], indptr[i + 1]):
                a = position[indices[p]]
                if a >= 0:
                    places[count] = a
                    values[count] = data[p]
                    count += 1
            for u in range(count):
                a = places[u]
                v = Di * values[u]
                Ha = H[a]
                if sorted_indices:
                    for t in range(u + 1):
                        Ha[places[t]] += v * values[t]
                else:
                    for t in range(count):
                        if places[t] <= a:
                            Ha[places[t]] += v * values[t]
                H[m, a] += v
            H[m, m] += Di
    _sum_and_mirror(buffers, out)


@jit(parallel=True, fastmath={"reassoc", "contract"})
def hessian_dense_subset(X, D, columns, n_blocks, out):
    """Write [X_A 1]' diag(D) [X_A 1] into ``out`` for the columns A = ``columns`` of X.

    Works for either memory order of X: each row's entries in A are gathered once.
    """
    n = X.shape[0]
    m = columns.shape[0]
    buffers = np.zeros((n_blocks, m + 1, m + 1))
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        H = buffers[k]
        row = np.empty(m)
        for i in range(start, stop):
            Di = D[i]
            if Di == 0.0:
                continue
            for a in range(m):
                row[a] = X[i, columns[a]]
            for a in range(m):
                v = Di * row[a]
                Ha = H[a]
                for c in range(a + 1):
                    Ha[c] += v * row[c]
                H[m, a] += v
            H[m, m] += Di
    _sum_and_mirror(buffers, out)
