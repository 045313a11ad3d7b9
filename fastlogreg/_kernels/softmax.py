"""Fused multinomial (softmax) loss and gradient for K classes.

The kernels evaluate the data term

    alpha * sum_i s_i * (logsumexp_k z_ik - z_i,y_i),   z_ik = x_i . W_k + b_k,

write the margins into ``Z`` (n, K) and the gradient with respect to ``(W, b)`` into ``grad``
(K, n_features + 1), the intercepts in the last column, and return the loss. The labels ``y``
are class indices 0..K-1. Each row of X is read once: its K margins, the softmax (shifted by
the row maximum, so exp never overflows), the loss and the K gradient contributions are
computed while the row is in cache. Row blocks run in parallel with private gradient buffers,
summed in block order afterwards.
"""

import math

import numpy as np
from numba import prange

from ._jit import jit
from .loss_grad import _block_bounds


@jit(inline="always")
def _softmax_row(z, y_i, s_i, alpha, residual):
    """Turn the margins ``z`` of one row into residuals alpha * s_i * (p - onehot(y_i)).

    Returns s_i times the row's loss. ``residual`` may alias ``z``.
    """
    K = z.shape[0]
    top = z[0]
    for k in range(1, K):
        top = max(top, z[k])
    total = 0.0
    for k in range(K):
        total += math.exp(z[k] - top)
    lse = top + math.log(total)
    loss = s_i * (lse - z[y_i])
    for k in range(K):
        p = math.exp(z[k] - lse)
        residual[k] = alpha * s_i * (p - (1.0 if k == y_i else 0.0))
    return loss


@jit(parallel=True, fastmath={"reassoc", "contract"})
def softmax_loss_grad_dense_rows(X, y, s, W, b, alpha, n_blocks, grad, Z):
    """Fused multinomial pass for a C-ordered dense X of shape (n, d)."""
    n, d = X.shape
    K = W.shape[0]
    buffers = np.zeros((n_blocks, K, d + 1))
    losses = np.zeros(n_blocks)
    for blk in prange(n_blocks):
        start, stop = _block_bounds(blk, n, n_blocks)
        g = buffers[blk]
        r = np.empty(K)
        loss = 0.0
        for i in range(start, stop):
            row = X[i]
            for k in range(K):
                acc = b[k]
                for j in range(d):
                    acc += row[j] * W[k, j]
                Z[i, k] = acc
                r[k] = acc
            loss += _softmax_row(r, y[i], s[i], alpha, r)
            for k in range(K):
                rk = r[k]
                for j in range(d):
                    g[k, j] += rk * row[j]
                g[k, d] += rk
        losses[blk] = loss
    grad[:, :] = 0.0
    for blk in range(n_blocks):
        grad += buffers[blk]
    return alpha * losses.sum()


@jit(parallel=True, fastmath={"reassoc", "contract"})
def softmax_loss_grad_csr(data, indices, indptr, y, s, W, b, alpha, n_blocks, grad, Z):
    """Fused multinomial pass for a CSR matrix given by its three arrays."""
    n = indptr.shape[0] - 1
    K, d = W.shape
    buffers = np.zeros((n_blocks, K, d + 1))
    losses = np.zeros(n_blocks)
    for blk in prange(n_blocks):
        start, stop = _block_bounds(blk, n, n_blocks)
        g = buffers[blk]
        r = np.empty(K)
        loss = 0.0
        for i in range(start, stop):
            lo = indptr[i]
            hi = indptr[i + 1]
            for k in range(K):
                acc = b[k]
                for p in range(lo, hi):
                    acc += data[p] * W[k, indices[p]]
                Z[i, k] = acc
                r[k] = acc
            loss += _softmax_row(r, y[i], s[i], alpha, r)
            for k in range(K):
                rk = r[k]
                for p in range(lo, hi):
                    g[k, indices[p]] += rk * data[p]
                g[k, d] += rk
        losses[blk] = loss
    grad[:, :] = 0.0
    for blk in range(n_blocks):
        grad += buffers[blk]
    return alpha * losses.sum()


@jit(parallel=True, fastmath={"reassoc", "contract"})
def softmax_residuals(Z, y, s, alpha, n_blocks, R):
    """Write the residuals alpha * s_i * (p_i - onehot(y_i)) of margins ``Z`` into ``R``.

    Returns the data term. Column layouts use it between their two products with X.
    """
    n = Z.shape[0]
    losses = np.zeros(n_blocks)
    for blk in prange(n_blocks):
        start, stop = _block_bounds(blk, n, n_blocks)
        loss = 0.0
        for i in range(start, stop):
            for k in range(Z.shape[1]):
                R[i, k] = Z[i, k]
            loss += _softmax_row(R[i], y[i], s[i], alpha, R[i])
        losses[blk] = loss
    return alpha * losses.sum()


@jit(parallel=True, fastmath={"reassoc", "contract"})
def softmax_loss_along(Z, q, k, step, y, s, alpha, n_blocks):
    """Return the data term when column ``k`` of the margins moves to ``Z[:, k] + step * q``."""
    n, K = Z.shape
    losses = np.zeros(n_blocks)
    for blk in prange(n_blocks):
        start, stop = _block_bounds(blk, n, n_blocks)
        loss = 0.0
        for i in range(start, stop):
            top = -np.inf
            for c in range(K):
                zc = Z[i, c] + (step * q[i] if c == k else 0.0)
                top = max(top, zc)
            total = 0.0
            for c in range(K):
                zc = Z[i, c] + (step * q[i] if c == k else 0.0)
                total += math.exp(zc - top)
            zy = Z[i, y[i]] + (step * q[i] if y[i] == k else 0.0)
            loss += s[i] * (top + math.log(total) - zy)
        losses[blk] = loss
    return alpha * losses.sum()


@jit(parallel=True)
def softmax_class_curvature(Z, k, s, alpha, n_blocks, out):
    """Write alpha * s_i * p_ik * (1 - p_ik), the curvature of class k's margins, into ``out``."""
    n, K = Z.shape
    for blk in prange(n_blocks):
        start, stop = _block_bounds(blk, n, n_blocks)
        for i in range(start, stop):
            top = Z[i, 0]
            for c in range(1, K):
                top = max(top, Z[i, c])
            total = 0.0
            for c in range(K):
                total += math.exp(Z[i, c] - top)
            p = math.exp(Z[i, k] - top) / total
            out[i] = alpha * s[i] * p * (1.0 - p)
