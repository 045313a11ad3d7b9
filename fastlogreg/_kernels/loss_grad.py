"""Fused logistic loss and gradient, one kernel per data layout.

Every kernel evaluates the data term of the objective

    alpha * sum_i s_i * log(1 + exp(-(2 y_i - 1) z_i)),   z_i = x_i . w + b,

with ``y`` in {0, 1}, writes the margins ``z`` into ``z_out`` and the gradient with respect to
``(w, b)`` into ``grad`` (length n_features + 1, the intercept last), and returns the loss.
The penalty is added by the solver. Sums are accumulated in float64 whatever the dtype of X.

Row layouts (C-ordered dense, CSR) read each row once from memory: rows go in chunks of BLOCK,
whose margins, losses and residuals are computed before the chunk's rows, still in cache, add
their gradient contributions. The exp and log1p of a chunk run as SIMD loops (vectormath.py).
Rows are split into ``n_blocks`` contiguous blocks processed in parallel, each with a private gradient buffer. The buffers are
summed in block order afterwards, so the result depends on ``n_blocks`` but not on thread
timing. Column layouts (F-ordered dense, CSC) compute the margins column by column and then one
gradient entry per column, in parallel over columns.
"""

import numpy as np
from numba import prange

from ._jit import jit
from .vectormath import BLOCK, exp_neg_abs, log1p_unit, residual_block


@jit(inline="always")
def _block_bounds(k, n, n_blocks):
    size = (n + n_blocks - 1) // n_blocks
    start = min(n, k * size)
    return start, min(n, start + size)


@jit(inline="always")
def _reduce_blocks(buffers, losses, grad):
    grad[:] = 0.0
    total = 0.0
    for k in range(buffers.shape[0]):
        total += losses[k]
        for j in range(grad.shape[0]):
            grad[j] += buffers[k, j]
    return total


@jit(fastmath={"reassoc", "contract"})
def _dot_rows(X, rows, m, w, b, z):
    """Write x_i . w + b for the rows i = rows[0 .. m - 1] of X into z[0 .. m - 1].

    Four rows at a time, so that each entry of w loaded into a register serves four rows.
    """
    d = X.shape[1]
    i = 0
    while i + 4 <= m:
        x0 = X[rows[i]]
        x1 = X[rows[i + 1]]
        x2 = X[rows[i + 2]]
        x3 = X[rows[i + 3]]
        a0 = b
        a1 = b
        a2 = b
        a3 = b
        for j in range(d):
            wj = w[j]
            a0 += x0[j] * wj
            a1 += x1[j] * wj
            a2 += x2[j] * wj
            a3 += x3[j] * wj
        z[i] = a0
        z[i + 1] = a1
        z[i + 2] = a2
        z[i + 3] = a3
        i += 4
    while i < m:
        x0 = X[rows[i]]
        a0 = b
        for j in range(d):
            a0 += x0[j] * w[j]
        z[i] = a0
        i += 1


@jit(fastmath={"reassoc", "contract"})
def _add_rows(X, rows, m, r, g):
    """Add sum_i r_i * x_i over the rows rows[0 .. m - 1] of X to g[:d], and sum_i r_i to g[d].

    Four rows at a time, so that g is loaded and stored once per four rows.
    """
    d = X.shape[1]
    i = 0
    while i + 4 <= m:
        x0 = X[rows[i]]
        x1 = X[rows[i + 1]]
        x2 = X[rows[i + 2]]
        x3 = X[rows[i + 3]]
        r0 = r[i]
        r1 = r[i + 1]
        r2 = r[i + 2]
        r3 = r[i + 3]
        for j in range(d):
            g[j] += r0 * x0[j] + r1 * x1[j] + r2 * x2[j] + r3 * x3[j]
        g[d] += r0 + r1 + r2 + r3
        i += 4
    while i < m:
        x0 = X[rows[i]]
        r0 = r[i]
        for j in range(d):
            g[j] += r0 * x0[j]
        g[d] += r0
        i += 1


@jit(inline="always")
def _fill_range(rows, first, m):
    for i in range(m):
        rows[i] = first + i


@jit(parallel=True, fastmath={"reassoc", "contract"})
def loss_grad_dense_rows(X, y, s, w, b, alpha, n_blocks, grad, z_out):
    """Fused pass for a C-ordered dense X of shape (n, d).

    Each thread walks its rows in chunks of BLOCK: margins for the chunk, then the losses and
    residuals of the chunk in one vectorized loop, then the gradient contributions, while
    the chunk's rows are still in cache.
    """
    n, d = X.shape
    buffers = np.zeros((n_blocks, d + 1))
    losses = np.zeros(n_blocks)
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        g = buffers[k]
        rows = np.empty(BLOCK, dtype=np.int64)
        scratch = np.empty(BLOCK)
        e = np.empty(BLOCK)
        r = np.empty(BLOCK)
        loss = 0.0
        for first in range(start, stop, BLOCK):
            m = min(BLOCK, stop - first)
            z = z_out[first:first + m]
            _fill_range(rows, first, m)
            _dot_rows(X, rows, m, w, b, z)
            loss += residual_block(z, y[first:first + m], s[first:first + m], alpha, m,
                                   scratch, e, r)
            _add_rows(X, rows, m, r, g)
        losses[k] = loss
    return alpha * _reduce_blocks(buffers, losses, grad)


@jit(parallel=True, fastmath={"reassoc", "contract"})
def loss_grad_csr(data, indices, indptr, y, s, w, b, alpha, n_blocks, grad, z_out):
    """Fused pass for a CSR matrix given by its three arrays, in chunks of BLOCK rows."""
    n = indptr.shape[0] - 1
    d = w.shape[0]
    buffers = np.zeros((n_blocks, d + 1))
    losses = np.zeros(n_blocks)
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        g = buffers[k]
        scratch = np.empty(BLOCK)
        e = np.empty(BLOCK)
        r = np.empty(BLOCK)
        loss = 0.0
        for first in range(start, stop, BLOCK):
            m = min(BLOCK, stop - first)
            z = z_out[first:first + m]
            for i in range(m):
                acc = b
                for p in range(indptr[first + i], indptr[first + i + 1]):
                    acc += data[p] * w[indices[p]]
                z[i] = acc
            loss += residual_block(z, y[first:first + m], s[first:first + m], alpha, m,
                                   scratch, e, r)
            for i in range(m):
                ri = r[i]
                for p in range(indptr[first + i], indptr[first + i + 1]):
                    g[indices[p]] += ri * data[p]
                g[d] += ri
        losses[k] = loss
    return alpha * _reduce_blocks(buffers, losses, grad)


@jit(parallel=True, fastmath={"reassoc", "contract"})
def _residuals(z, y, s, alpha, n_blocks, residual):
    """Write alpha * s_i * dloss/dz_i into ``residual`` and return the weighted loss sum."""
    n = z.shape[0]
    losses = np.zeros(n_blocks)
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        scratch = np.empty(BLOCK)
        e = np.empty(BLOCK)
        loss = 0.0
        for first in range(start, stop, BLOCK):
            m = min(BLOCK, stop - first)
            loss += residual_block(z[first:first + m], y[first:first + m], s[first:first + m],
                                   alpha, m, scratch, e, residual[first:first + m])
        losses[k] = loss
    return losses.sum()


@jit(parallel=True, fastmath={"reassoc", "contract"})
def loss_grad_dense_cols(X, y, s, w, b, alpha, n_blocks, grad, z_out):
    """Column-wise pass for an F-ordered dense X: each column is read twice, contiguously."""
    n, d = X.shape
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        for i in range(start, stop):
            z_out[i] = b
        for j in range(d):
            wj = w[j]
            if wj != 0.0:
                for i in range(start, stop):
                    z_out[i] += X[i, j] * wj
    residual = np.empty(n)
    loss = _residuals(z_out, y, s, alpha, n_blocks, residual)
    for j in prange(d):
        acc = 0.0
        for i in range(n):
            acc += X[i, j] * residual[i]
        grad[j] = acc
    grad[d] = residual.sum()
    return alpha * loss


@jit(parallel=True, fastmath={"reassoc", "contract"})
def loss_grad_csc(data, indices, indptr, y, s, w, b, alpha, n_blocks, grad, z_out):
    """Column-wise pass for a CSC matrix given by its three arrays."""
    n = z_out.shape[0]
    d = indptr.shape[0] - 1
    z_out[:] = b
    # The scatter into z_out is serial: parallel columns would write the same rows.
    for j in range(d):
        wj = w[j]
        if wj != 0.0:
            for p in range(indptr[j], indptr[j + 1]):
                z_out[indices[p]] += data[p] * wj
    residual = np.empty(n)
    loss = _residuals(z_out, y, s, alpha, n_blocks, residual)
    for j in prange(d):
        acc = 0.0
        for p in range(indptr[j], indptr[j + 1]):
            acc += data[p] * residual[indices[p]]
        grad[j] = acc
    grad[d] = residual.sum()
    return alpha * loss


@jit(fastmath={"reassoc", "contract"})
def loss_along_direction(z, q, step, y, s, alpha, n_blocks):
    """Return the data term at margins ``z + step * q`` without touching X.

    Line searches use it: once ``q = X d`` is known for a search direction ``d``, each trial
    step costs O(n). It runs on one thread: a vectorized O(n) loop costs little next to a pass
    over X, and a parallel kernel takes seconds longer to compile on first use. The sum still
    goes block by block, so it matches the parallel kernels' rounding.
    """
    n = z.shape[0]
    losses = np.zeros(n_blocks)
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        t = np.empty(BLOCK)
        scratch = np.empty(BLOCK)
        e = np.empty(BLOCK)
        loss = 0.0
        for first in range(start, stop, BLOCK):
            m = min(BLOCK, stop - first)
            # The loss of sample i is log(1 + exp(t_i)), t_i = -z_i for y_i = 1, else z_i.
            for i in range(m):
                zi = z[first + i] + step * q[first + i]
                t[i] = -zi if y[first + i] > 0.5 else zi
            exp_neg_abs(t, m, scratch, e)
            for i in range(m):
                loss += s[first + i] * (max(t[i], 0.0) + log1p_unit(e[i]))
        losses[k] = loss
    return alpha * losses.sum()


@jit(fastmath={"contract"})
def curvature_weights(z, s, alpha, n_blocks, out):
    """Write alpha * s_i * p_i * (1 - p_i), the loss's second derivative in z_i, into ``out``.

    With e = exp(-|z|), p (1 - p) = e / (1 + e)^2 for either sign of z. One thread, for the
    same reason as ``loss_along_direction``.
    """
    n = z.shape[0]
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        scratch = np.empty(BLOCK)
        e = np.empty(BLOCK)
        for first in range(start, stop, BLOCK):
            m = min(BLOCK, stop - first)
            exp_neg_abs(z[first:first + m], m, scratch, e)
            for i in range(m):
                inv = 1.0 / (1.0 + e[i])
                out[first + i] = alpha * s[first + i] * e[i] * inv * inv


@jit(parallel=True, fastmath={"reassoc", "contract"})
def margins_dense_rows(X, w, b, n_blocks, out):
    """Write X @ w + b for a C-ordered dense X into ``out``, accumulated in float64."""
    n = X.shape[0]
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        rows = np.empty(BLOCK, dtype=np.int64)
        for first in range(start, stop, BLOCK):
            m = min(BLOCK, stop - first)
            _fill_range(rows, first, m)
            _dot_rows(X, rows, m, w, b, out[first:first + m])


@jit(parallel=True, fastmath={"reassoc", "contract"})
def margins_csr(data, indices, indptr, w, b, n_blocks, out):
    """Write X @ w + b for a CSR matrix into ``out``, accumulated in float64."""
    n = indptr.shape[0] - 1
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        for i in range(start, stop):
            acc = b
            for p in range(indptr[i], indptr[i + 1]):
                acc += data[p] * w[indices[p]]
            out[i] = acc
