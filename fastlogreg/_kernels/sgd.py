"""Mini-batch SGD epochs with proximal L1 / elastic-net steps, one kernel per row layout.

Each kernel runs one pass over the rows listed in ``order`` (a permutation drawn by the caller,
so runs are reproducible), in mini-batches of ``batch_size`` rows. For a batch B of m rows it
makes the proximal step on the objective divided by the number of samples n:

    w <- soft_threshold((1 - eta * l2) * w - eta / m * sum_{i in B} g_i,  eta * l1)
    b <- b - eta / m * sum_{i in B} dloss_i/db

where ``g_i = alpha * s_i * (sigmoid(z_i) - y_i) * x_i`` and ``l1``, ``l2`` are the penalty
weights already divided by n (the caller does this). The gradient of a batch is computed in
parallel: its rows are split into ``n_blocks`` contiguous blocks, each summing into a private
buffer, and the buffers are added in block order. Results therefore depend on ``n_blocks`` but
not on thread timing.

The step size at step t (counted over all epochs) is ``eta0 / (1 + decay * t) ** power``;
``decay = 0`` gives a constant step.

Dense rows update every weight at every step, O(n_features) per batch. CSR rows keep the cost
of a batch at O(nnz of the batch): a weight untouched by a batch is not updated. Instead the
kernel tracks the product S of the shrink factors (1 - eta_t * l2) and the sum U of
eta_t * l1 / S_t over the steps so far. A weight last updated when these were (S_j, U_j) is
brought up to date by

    |w_j| <- max(0, |w_j| * S / S_j - S * (U - U_j))   (sign kept),

which equals the composition of the skipped proximal steps exactly, because each step maps
|w_j| to max(0, (1 - eta_t l2) |w_j| - eta_t l1) while the gradient part is zero. When S falls
below ``min_scale`` every weight is brought up to date and S, U restart at 1, 0, so S never
underflows. At the end of the epoch all weights are brought up to date, so ``w`` on return
is exact.

Iterate averaging (``average=True``) keeps ``w_avg`` as the running mean of the iterates after
each step; on CSR rows it costs O(n_features) per batch.

Compiled signatures: one per dtype of X (float32, float64) and, for CSR, per index dtype
(int32, int64). Every other argument has one fixed type (the solver converts them), so at most
two dense and four CSR versions are ever compiled, each only when first used.
"""

import math

import numpy as np
from numba import prange

from ._jit import jit
from .loss_grad import _add_rows, _block_bounds, _dot_rows
from .penalty import soft_threshold
from .vectormath import BLOCK, residual_block
from .sigmoid import sigmoid_scalar


@jit(inline="always")
def _step_size(eta0, decay, power, t):
    return eta0 / (1.0 + decay * t) ** power


@jit(inline="always")
def _residual(z, y, s, alpha):
    """Return alpha * s * dloss/dz for margin z and label y in {0, 1}."""
    return alpha * s * (sigmoid_scalar(z) - y)


@jit(inline="always")
def _current_weight(w, scale_at, cum_at, scale, cum):
    """Return a lazily stored weight after the proximal steps it has skipped."""
    if w == 0.0:
        return 0.0
    magnitude = math.fabs(w) * (scale / scale_at) - scale * (cum - cum_at)
    if magnitude <= 0.0:
        return 0.0
    return magnitude if w > 0.0 else -magnitude


@jit(inline="always")
def _dense_block_gradient(X, y, s, order, first, last, w, b, alpha, g):
    """Add the gradient of rows order[first:last] to g (the intercept's entry last).

    Rows go in chunks of BLOCK, as in the fused pass. The margins of a chunk come first, so
    that the reads of its scattered rows overlap. Their residuals follow in one vectorized
    loop, then the gradient while the rows are in cache.
    """
    rows = np.empty(BLOCK, dtype=np.int64)
    z = np.empty(BLOCK)
    labels = np.empty(BLOCK)
    weights = np.empty(BLOCK)
    scratch = np.empty(BLOCK)
    e = np.empty(BLOCK)
    r = np.empty(BLOCK)
    for chunk in range(first, last, BLOCK):
        m = min(BLOCK, last - chunk)
        for i in range(m):
            row = order[chunk + i]
            rows[i] = row
            labels[i] = y[row]
            weights[i] = s[row]
        _dot_rows(X, rows, m, w, b, z)
        residual_block(z, labels, weights, alpha, m, scratch, e, r)
        _add_rows(X, rows, m, r, g)


@jit(inline="always")
def _dense_update(j, buffers, w, shrink, step, threshold):
    acc = 0.0
    for k in range(buffers.shape[0]):
        acc += buffers[k, j]
        buffers[k, j] = 0.0
    w[j] = soft_threshold(shrink * w[j] - step * acc, threshold)


@jit(parallel=True, fastmath={"reassoc", "contract"})
def sgd_epoch_dense(X, y, s, order, w, b, fit_intercept, alpha, l1, l2, eta0, decay, power, t,
                    batch_size, n_blocks, average, w_avg, b_avg, avg_count):
    """Run one SGD epoch over the rows ``order`` of a C-ordered dense X; update w in place.

    Returns ``(b, b_avg, t, avg_count)``: the intercept, its running mean, the step counter
    and the number of iterates averaged so far. ``w_avg`` is updated in place when
    ``average`` is true. With ``n_blocks == 1`` no parallel region is started.
    """
    d = X.shape[1]
    n_rows = order.shape[0]
    buffers = np.zeros((n_blocks, d + 1))
    for lo in range(0, n_rows, batch_size):
        m = min(n_rows, lo + batch_size) - lo
        if n_blocks == 1:
            _dense_block_gradient(X, y, s, order, lo, lo + m, w, b, alpha, buffers[0])
        else:
            for k in prange(n_blocks):
                start, stop = _block_bounds(k, m, n_blocks)
                _dense_block_gradient(X, y, s, order, lo + start, lo + stop, w, b, alpha,
                                      buffers[k])

        eta = _step_size(eta0, decay, power, t)
        shrink = 1.0 - eta * l2
        threshold = eta * l1
        step = eta / m
        if n_blocks == 1:
            for j in range(d):
                _dense_update(j, buffers, w, shrink, step, threshold)
        else:
            for j in prange(d):
                _dense_update(j, buffers, w, shrink, step, threshold)
        grad_b = 0.0
        for k in range(n_blocks):
            grad_b += buffers[k, d]
            buffers[k, d] = 0.0
        if fit_intercept:
            b -= step * grad_b
        t += 1

        if average:
            avg_count += 1
            weight = 1.0 / avg_count
            for j in range(d):
                w_avg[j] += (w[j] - w_avg[j]) * weight
            b_avg += (b - b_avg) * weight
    return b, b_avg, t, avg_count


@jit(inline="always")
def _catch_up_all(w, scale_at, cum_at, scale, cum):
    for j in range(w.shape[0]):
        w[j] = _current_weight(w[j], scale_at[j], cum_at[j], scale, cum)
        scale_at[j] = 1.0
        cum_at[j] = 0.0


@jit(inline="always")
def _csr_block_gradient(data, indices, indptr, y, s, order, first, last, w, b, alpha, g):
    """Add the gradient of rows order[first:last] to g; return the intercept's gradient.

    The weights of every feature in these rows must be up to date. Rows go in chunks of BLOCK:
    margins, then residuals in one vectorized loop, then the scatter into g.
    """
    z = np.empty(BLOCK)
    labels = np.empty(BLOCK)
    weights = np.empty(BLOCK)
    scratch = np.empty(BLOCK)
    e = np.empty(BLOCK)
    r = np.empty(BLOCK)
    grad_b = 0.0
    for chunk in range(first, last, BLOCK):
        m = min(BLOCK, last - chunk)
        for i in range(m):
            row = order[chunk + i]
            labels[i] = y[row]
            weights[i] = s[row]
            acc = b
            for p in range(indptr[row], indptr[row + 1]):
                acc += data[p] * w[indices[p]]
            z[i] = acc
        residual_block(z, labels, weights, alpha, m, scratch, e, r)
        for i in range(m):
            row = order[chunk + i]
            ri = r[i]
            for p in range(indptr[row], indptr[row + 1]):
                g[indices[p]] += ri * data[p]
            grad_b += ri
    return grad_b


@jit(inline="always")
def _csr_update(j, buffers, w, scale_at, cum_at, new_scale, new_cum, shrink, step, threshold):
    """Take the proximal step for feature j, whose weight the batch brought up to date."""
    acc = 0.0
    for k in range(buffers.shape[0]):
        acc += buffers[k, j]
        buffers[k, j] = 0.0
    w[j] = soft_threshold(shrink * w[j] - step * acc, threshold)
    scale_at[j] = new_scale
    cum_at[j] = new_cum


@jit(parallel=True, fastmath={"reassoc", "contract"})
def sgd_epoch_csr(data, indices, indptr, y, s, order, w, b, fit_intercept, alpha, l1, l2, eta0,
                  decay, power, t, batch_size, n_blocks, min_scale, average, w_avg, b_avg,
                  avg_count):
    """Run one SGD epoch over the rows ``order`` of a CSR matrix; update w in place.

    Same arguments and return value as ``sgd_epoch_dense``, plus ``min_scale``: the value of
    the accumulated L2 shrink factor below which every weight is brought up to date.
    """
    d = w.shape[0]
    n_rows = order.shape[0]
    buffers = np.zeros((n_blocks, d))
    grad_b = np.zeros(n_blocks)
    # Lazy state of each weight: w[j] is exact as of the step where the shrink product was
    # scale_at[j] and the scaled L1 sum was cum_at[j].
    scale_at = np.ones(d)
    cum_at = np.zeros(d)
    scale = 1.0
    cum = 0.0
    # Features touched by the current batch, each listed once: stamp[j] is the last batch
    # that listed feature j.
    stamp = np.full(d, -1, dtype=np.int64)
    touched = np.empty(d, dtype=np.int64)
    batch = 0
    for lo in range(0, n_rows, batch_size):
        hi = min(n_rows, lo + batch_size)
        m = hi - lo
        n_touched = 0
        for q in range(lo, hi):
            i = order[q]
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                if stamp[j] != batch:
                    stamp[j] = batch
                    touched[n_touched] = j
                    n_touched += 1
        # Bring the batch's weights up to date once, so that the margins read plain weights.
        for u in range(n_touched):
            j = touched[u]
            w[j] = _current_weight(w[j], scale_at[j], cum_at[j], scale, cum)
            scale_at[j] = scale
            cum_at[j] = cum

        if n_blocks == 1:
            grad_b[0] = _csr_block_gradient(data, indices, indptr, y, s, order, lo, hi, w, b,
                                            alpha, buffers[0])
        else:
            for k in prange(n_blocks):
                start, stop = _block_bounds(k, m, n_blocks)
                grad_b[k] = _csr_block_gradient(data, indices, indptr, y, s, order, lo + start,
                                                lo + stop, w, b, alpha, buffers[k])

        eta = _step_size(eta0, decay, power, t)
        shrink = 1.0 - eta * l2
        threshold = eta * l1
        step = eta / m
        new_scale = scale * shrink
        new_cum = cum + threshold / new_scale
        if n_blocks == 1:
            for u in range(n_touched):
                _csr_update(touched[u], buffers, w, scale_at, cum_at, new_scale,
                            new_cum, shrink, step, threshold)
        else:
            # Each touched feature appears once, so the parallel writes never collide.
            for u in prange(n_touched):
                _csr_update(touched[u], buffers, w, scale_at, cum_at, new_scale,
                            new_cum, shrink, step, threshold)
        scale = new_scale
        cum = new_cum
        if fit_intercept:
            total = 0.0
            for k in range(n_blocks):
                total += grad_b[k]
            b -= step * total
        t += 1
        batch += 1
        if scale < min_scale:
            _catch_up_all(w, scale_at, cum_at, scale, cum)
            scale = 1.0
            cum = 0.0

        if average:
            avg_count += 1
            weight = 1.0 / avg_count
            for j in range(d):
                current = _current_weight(w[j], scale_at[j], cum_at[j], scale, cum)
                w_avg[j] += (current - w_avg[j]) * weight
            b_avg += (b - b_avg) * weight

    _catch_up_all(w, scale_at, cum_at, scale, cum)
    return b, b_avg, t, avg_count
