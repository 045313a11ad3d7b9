"""Mini-batch SGD epochs for the multinomial (softmax) model of K classes.

The kernels follow the binary ones in ``sgd.py`` with the weight vector replaced by the
(K, n_features) matrix W and the intercept by the vector b of K entries. For a batch B of m
rows the proximal step is

    W <- soft_threshold((1 - eta * l2) * W - eta / m * sum_{i in B} r_i x_i',  eta * l1)
    b <- b - eta / m * sum_{i in B} r_i

with ``r_i = alpha * s_i * (softmax(z_i) - onehot(y_i))`` the residuals of the K margins
``z_i = W x_i + b`` of row i, and ``l1``, ``l2`` the penalty weights already divided by the
number of samples (the caller does this). The labels ``y`` are class indices 0..K-1.

Rows are visited in the order ``order`` drawn by the caller. The gradient of a batch is
summed over ``n_blocks`` contiguous row blocks in parallel, each with a private buffer, and
the buffers are added in block order, so results depend on ``n_blocks`` but not on thread
timing. The step size at step t is ``eta0 / (1 + decay * t) ** power``.

CSR rows use the lazy updates of the binary CSR kernel, with one lazy state per feature
(column of W). A row touches all K weights of each of its features, so the K weights of a
column always skip the same steps. The weights are exact on return.

Compiled signatures: one per dtype of X (float32, float64) and, for CSR, per index dtype
(int32, int64). Every other argument has one fixed type (the solver converts them).
"""

import math

import numpy as np
from numba import prange

from ._jit import jit
from .loss_grad import _block_bounds
from .penalty import soft_threshold
from .sgd import _step_size
from .softmax import _softmax_row


@jit(inline="always")
def _lazy_weight(w, ratio, shift):
    """Return a lazily stored weight after its skipped proximal steps, as ``_current_weight``.

    ``ratio = scale / scale_at`` and ``shift = scale * (cum - cum_at)`` are computed once per
    column of W, for its K weights, with the operations in the order ``_current_weight`` uses.
    """
    if w == 0.0:
        return 0.0
    magnitude = math.fabs(w) * ratio - shift
    if magnitude <= 0.0:
        return 0.0
    return magnitude if w > 0.0 else -magnitude


@jit(inline="always")
def _dense_block_gradient(X, y, s, order, first, last, W, b, alpha, g, z):
    """Add the gradient of rows order[first:last] to g (K, d + 1), intercepts last.

    ``z`` is scratch space of K entries.
    """
    n_classes, d = W.shape
    for q in range(first, last):
        i = order[q]
        row = X[i]
        for k in range(n_classes):
            acc = b[k]
            for j in range(d):
                acc += row[j] * W[k, j]
            z[k] = acc
        _softmax_row(z, y[i], s[i], alpha, z)
        for k in range(n_classes):
            r = z[k]
            if r != 0.0:
                for j in range(d):
                    g[k, j] += r * row[j]
                g[k, d] += r


@jit(inline="always")
def _dense_update(e, buffers, W, shrink, step, threshold):
    """Apply the proximal step to the weight with flat index e of W."""
    d = W.shape[1]
    k = e // d
    j = e - k * d
    acc = 0.0
    for blk in range(buffers.shape[0]):
        acc += buffers[blk, k, j]
        buffers[blk, k, j] = 0.0
    W[k, j] = soft_threshold(shrink * W[k, j] - step * acc, threshold)


@jit(inline="always")
def _average_into(W, b, W_avg, b_avg, weight):
    n_classes, d = W.shape
    for k in range(n_classes):
        for j in range(d):
            W_avg[k, j] += (W[k, j] - W_avg[k, j]) * weight
        b_avg[k] += (b[k] - b_avg[k]) * weight


@jit(parallel=True, fastmath={"reassoc", "contract"})
def sgd_multinomial_epoch_dense(X, y, s, order, W, b, fit_intercept, alpha, l1, l2, eta0, decay,
                                power, t, batch_size, n_blocks, average, W_avg, b_avg,
                                avg_count):
    """Run one SGD epoch over the rows ``order`` of a C-ordered dense X, updating W and b.

    Returns ``(t, avg_count)``: the step counter and the number of iterates averaged so far.
    ``W_avg`` and ``b_avg`` are updated in place when ``average`` is true. With
    ``n_blocks == 1`` no parallel region is started.
    """
    n_classes, d = W.shape
    n_weights = n_classes * d
    n_rows = order.shape[0]
    buffers = np.zeros((n_blocks, n_classes, d + 1))
    scratch = np.empty((n_blocks, n_classes))
    for lo in range(0, n_rows, batch_size):
        m = min(n_rows, lo + batch_size) - lo
        if n_blocks == 1:
            _dense_block_gradient(X, y, s, order, lo, lo + m, W, b, alpha, buffers[0],
                                  scratch[0])
        else:
            for blk in prange(n_blocks):
                start, stop = _block_bounds(blk, m, n_blocks)
                _dense_block_gradient(X, y, s, order, lo + start, lo + stop, W, b, alpha,
                                      buffers[blk], scratch[blk])

        eta = _step_size(eta0, decay, power, t)
        shrink = 1.0 - eta * l2
        threshold = eta * l1
        step = eta / m
        if n_blocks == 1:
            for e in range(n_weights):
                _dense_update(e, buffers, W, shrink, step, threshold)
        else:
            for e in prange(n_weights):
                _dense_update(e, buffers, W, shrink, step, threshold)
        for k in range(n_classes):
            grad_b = 0.0
            for blk in range(n_blocks):
                grad_b += buffers[blk, k, d]
                buffers[blk, k, d] = 0.0
            if fit_intercept:
                b[k] -= step * grad_b
        t += 1

        if average:
            avg_count += 1
            _average_into(W, b, W_avg, b_avg, 1.0 / avg_count)
    return t, avg_count


@jit(inline="always")
def _catch_up_all(W, scale_at, cum_at, scale, cum):
    n_classes, d = W.shape
    for j in range(d):
        ratio = scale / scale_at[j]
        shift = scale * (cum - cum_at[j])
        for k in range(n_classes):
            W[k, j] = _lazy_weight(W[k, j], ratio, shift)
        scale_at[j] = 1.0
        cum_at[j] = 0.0


@jit(inline="always")
def _csr_block_gradient(data, indices, indptr, y, s, order, first, last, W, scale_at, cum_at,
                        scale, cum, b, alpha, g, grad_b, z):
    """Add the gradient of rows order[first:last] to g (K, d) and grad_b (K,).

    ``z`` is scratch space of K entries.
    """
    n_classes = W.shape[0]
    for q in range(first, last):
        i = order[q]
        p0 = indptr[i]
        p1 = indptr[i + 1]
        for k in range(n_classes):
            z[k] = b[k]
        for p in range(p0, p1):
            j = indices[p]
            x = data[p]
            ratio = scale / scale_at[j]
            shift = scale * (cum - cum_at[j])
            for k in range(n_classes):
                z[k] += x * _lazy_weight(W[k, j], ratio, shift)
        _softmax_row(z, y[i], s[i], alpha, z)
        for k in range(n_classes):
            r = z[k]
            if r != 0.0:
                for p in range(p0, p1):
                    g[k, indices[p]] += r * data[p]
                grad_b[k] += r


@jit(inline="always")
def _csr_update(j, buffers, W, scale_at, cum_at, scale, cum, new_scale, new_cum, shrink, step,
                threshold):
    """Apply the skipped steps and this batch's proximal step to column j of W."""
    ratio = scale / scale_at[j]
    shift = scale * (cum - cum_at[j])
    for k in range(W.shape[0]):
        acc = 0.0
        for blk in range(buffers.shape[0]):
            acc += buffers[blk, k, j]
            buffers[blk, k, j] = 0.0
        current = _lazy_weight(W[k, j], ratio, shift)
        W[k, j] = soft_threshold(shrink * current - step * acc, threshold)
    scale_at[j] = new_scale
    cum_at[j] = new_cum


@jit(parallel=True, fastmath={"reassoc", "contract"})
def sgd_multinomial_epoch_csr(data, indices, indptr, y, s, order, W, b, fit_intercept, alpha,
                              l1, l2, eta0, decay, power, t, batch_size, n_blocks, min_scale,
                              average, W_avg, b_avg, avg_count):
    """Run one SGD epoch over the rows ``order`` of a CSR matrix, updating W and b.

    Same arguments and return value as ``sgd_multinomial_epoch_dense``, plus ``min_scale``:
    the value of the accumulated L2 shrink factor below which every weight is brought up to
    date.
    """
    n_classes, d = W.shape
    n_rows = order.shape[0]
    buffers = np.zeros((n_blocks, n_classes, d))
    grad_b = np.zeros((n_blocks, n_classes))
    scratch = np.empty((n_blocks, n_classes))
    # Lazy state of each column of W: W[:, j] is exact as of the step where the shrink
    # product was scale_at[j] and the scaled L1 sum was cum_at[j].
    scale_at = np.ones(d)
    cum_at = np.zeros(d)
    scale = 1.0
    cum = 0.0
    # Features touched by the current batch, each listed once: stamp[j] is the last batch
    # that listed feature j.
    stamp = np.full(d, -1, dtype=np.int64)
    touched = np.empty(d, dtype=np.int64)
    W_now = np.empty((n_classes, d)) if average else np.empty((0, 0))
    batch = 0
    for lo in range(0, n_rows, batch_size):
        hi = min(n_rows, lo + batch_size)
        m = hi - lo
        if n_blocks == 1:
            _csr_block_gradient(data, indices, indptr, y, s, order, lo, hi, W, scale_at, cum_at,
                                scale, cum, b, alpha, buffers[0], grad_b[0], scratch[0])
        else:
            for blk in prange(n_blocks):
                start, stop = _block_bounds(blk, m, n_blocks)
                _csr_block_gradient(data, indices, indptr, y, s, order, lo + start, lo + stop,
                                    W, scale_at, cum_at, scale, cum, b, alpha, buffers[blk],
                                    grad_b[blk], scratch[blk])

        n_touched = 0
        for q in range(lo, hi):
            i = order[q]
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                if stamp[j] != batch:
                    stamp[j] = batch
                    touched[n_touched] = j
                    n_touched += 1

        eta = _step_size(eta0, decay, power, t)
        shrink = 1.0 - eta * l2
        threshold = eta * l1
        step = eta / m
        new_scale = scale * shrink
        new_cum = cum + threshold / new_scale
        if n_blocks == 1:
            for u in range(n_touched):
                _csr_update(touched[u], buffers, W, scale_at, cum_at, scale, cum, new_scale,
                            new_cum, shrink, step, threshold)
        else:
            # Each touched feature appears once, so the parallel writes never collide.
            for u in prange(n_touched):
                _csr_update(touched[u], buffers, W, scale_at, cum_at, scale, cum, new_scale,
                            new_cum, shrink, step, threshold)
        scale = new_scale
        cum = new_cum
        for k in range(n_classes):
            total = 0.0
            for blk in range(n_blocks):
                total += grad_b[blk, k]
                grad_b[blk, k] = 0.0
            if fit_intercept:
                b[k] -= step * total
        t += 1
        batch += 1
        if scale < min_scale:
            _catch_up_all(W, scale_at, cum_at, scale, cum)
            scale = 1.0
            cum = 0.0

        if average:
            avg_count += 1
            for j in range(d):
                ratio = scale / scale_at[j]
                shift = scale * (cum - cum_at[j])
                for k in range(n_classes):
                    W_now[k, j] = _lazy_weight(W[k, j], ratio, shift)
            _average_into(W_now, b, W_avg, b_avg, 1.0 / avg_count)

    _catch_up_all(W, scale_at, cum_at, scale, cum)
    return t, avg_count
