"""Fused logistic loss and gradient, one kernel per data layout.

Every kernel evaluates the data term of the objective

    alpha * sum_i s_i * log(1 + exp(-(2 y_i - 1) z_i)),   z_i = x_i . w + b,

with ``y`` in {0, 1}, writes the margins ``z`` into ``z_out`` and the gradient with respect to
``(w, b)`` into ``grad`` (length n_features + 1, the intercept last), and returns the loss.
The penalty is added by the solver. Sums are accumulated in float64 whatever the dtype of X.

Row layouts (C-ordered dense, CSR) read each row once: the margin, the loss and the gradient
contribution are computed while the row is in cache. Rows are split into ``n_blocks``
contiguous blocks processed in parallel, each with a private gradient buffer. The buffers are
summed in block order afterwards, so the result depends on ``n_blocks`` but not on thread
timing. Column layouts (F-ordered dense, CSC) compute the margins column by column and then one
gradient entry per column, in parallel over columns.
"""

import math

import numpy as np
from numba import prange

from ._jit import jit
from .sigmoid import log1pexp, sigmoid_scalar


@jit(inline="always")
def _loss_and_residual(z, y, s, alpha):
    """Return (s * loss, alpha * s * dloss/dz) for one sample with margin z and label y.

    Both come from one exp(-|z|), which never overflows: with t = z for y = 0 and t = -z
    for y = 1, the loss is log(1 + exp(t)) = max(t, 0) + log1p(exp(-|t|)).
    """
    e = math.exp(-math.fabs(z))
    inv = 1.0 / (1.0 + e)
    # sigmoid(z): 1 / (1 + e) for z >= 0, e / (1 + e) for z < 0.
    p = inv if z >= 0.0 else e * inv
    t = -z if y > 0.5 else z
    loss = max(t, 0.0) + math.log1p(e)
    return s * loss, alpha * s * (p - y)


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


@jit(parallel=True, fastmath={"reassoc", "contract"})
def loss_grad_dense_rows(X, y, s, w, b, alpha, n_blocks, grad, z_out):
    """Fused pass for a C-ordered dense X of shape (n, d)."""
    n, d = X.shape
    buffers = np.zeros((n_blocks, d + 1))
    losses = np.zeros(n_blocks)
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        g = buffers[k]
        loss = 0.0
        for i in range(start, stop):
            row = X[i]
            z = b
            for j in range(d):
                z += row[j] * w[j]
            z_out[i] = z
            li, r = _loss_and_residual(z, y[i], s[i], alpha)
            loss += li
            if r != 0.0:
                for j in range(d):
                    g[j] += r * row[j]
                g[d] += r
        losses[k] = loss
    return alpha * _reduce_blocks(buffers, losses, grad)


@jit(parallel=True, fastmath={"reassoc", "contract"})
def loss_grad_csr(data, indices, indptr, y, s, w, b, alpha, n_blocks, grad, z_out):
    """Fused pass for a CSR matrix given by its three arrays."""
    n = indptr.shape[0] - 1
    d = w.shape[0]
    buffers = np.zeros((n_blocks, d + 1))
    losses = np.zeros(n_blocks)
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        g = buffers[k]
        loss = 0.0
        for i in range(start, stop):
            lo = indptr[i]
            hi = indptr[i + 1]
            z = b
            for p in range(lo, hi):
                z += data[p] * w[indices[p]]
            z_out[i] = z
            li, r = _loss_and_residual(z, y[i], s[i], alpha)
            loss += li
            if r != 0.0:
                for p in range(lo, hi):
                    g[indices[p]] += r * data[p]
                g[d] += r
        losses[k] = loss
    return alpha * _reduce_blocks(buffers, losses, grad)


@jit(parallel=True, fastmath={"reassoc", "contract"})
def _residuals(z, y, s, alpha, n_blocks, residual):
    """Write alpha * s_i * dloss/dz_i into ``residual`` and return the weighted loss sum."""
    n = z.shape[0]
    losses = np.zeros(n_blocks)
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        loss = 0.0
        for i in range(start, stop):
            li, r = _loss_and_residual(z[i], y[i], s[i], alpha)
            loss += li
            residual[i] = r
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


@jit(parallel=True, fastmath={"reassoc", "contract"})
def loss_along_direction(z, q, step, y, s, alpha, n_blocks):
    """Return the data term at margins ``z + step * q`` without touching X.

    Line searches use it: once ``q = X d`` is known for a search direction ``d``, each trial
    step costs O(n).
    """
    n = z.shape[0]
    losses = np.zeros(n_blocks)
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        loss = 0.0
        for i in range(start, stop):
            zi = z[i] + step * q[i]
            if y[i] > 0.5:
                loss += s[i] * log1pexp(-zi)
            else:
                loss += s[i] * log1pexp(zi)
        losses[k] = loss
    return alpha * losses.sum()


@jit(parallel=True)
def curvature_weights(z, s, alpha, n_blocks, out):
    """Write alpha * s_i * p_i * (1 - p_i), the loss's second derivative in z_i, into ``out``."""
    n = z.shape[0]
    for k in prange(n_blocks):
        start, stop = _block_bounds(k, n, n_blocks)
        for i in range(start, stop):
            p = sigmoid_scalar(z[i])
            out[i] = alpha * s[i] * p * (1.0 - p)
