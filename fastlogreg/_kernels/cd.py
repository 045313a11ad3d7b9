"""Coordinate descent on the quadratic model of the logistic loss, with an elastic-net penalty.

The proximal Newton solver calls these kernels once per outer iteration. For the current
``(w, b)`` they minimise, over a step ``delta``,

    grad . delta + 1/2 delta' X' D X delta + l2 / 2 ||w + delta||^2 + l1 ||w + delta||_1

where ``grad`` is the gradient of the data term and ``D`` its second derivatives per sample.
Each coordinate update is a closed-form soft thresholding, so features leave the model as
exact zeros. ``q = X delta + delta_b`` is returned so that the caller can line-search in
O(n). Coordinates are visited in the order of ``active``; features outside it keep a zero
step.

The intercept, when fitted, gets an exact unpenalized update after every coordinate. That
costs O(1): the kernels keep its shift of ``q`` as a separate scalar and track
``sum_i D_i q_i`` through the column sums ``c_j = sum_i D_i x_ij``. Updating it this often
matters on one-hot encoded data, where each group of columns sums to the intercept's column
and a once-per-sweep update makes coordinate descent crawl.

Both kernels return the number of sweeps made. They stop early once the largest
minimum-norm subgradient of the model seen during a sweep is at most ``inner_tol``.
"""

import math

import numpy as np

from ._jit import jit
from .penalty import soft_threshold


@jit(inline="always")
def _model_violation(g, wj, l1):
    if wj > 0.0:
        return math.fabs(g + l1)
    if wj < 0.0:
        return math.fabs(g - l1)
    return max(math.fabs(g) - l1, 0.0)




@jit(fastmath={"reassoc", "contract"})
def cd_newton_dense(X, grad, D, w, l1, l2, fit_intercept, active, max_sweeps, inner_tol,
                    delta, q):
    """Coordinate descent for dense X in either memory order (columns read by X[:, j])."""
    n, d = X.shape
    m = active.shape[0]
    hdiag = np.empty(m)
    colsum = np.empty(m)
    for a in range(m):
        j = active[a]
        h = 0.0
        c = 0.0
        for i in range(n):
            dx = D[i] * X[i, j]
            h += dx * X[i, j]
            c += dx
        hdiag[a] = h + l2
        colsum[a] = c
    hb = D.sum()
    use_b = fit_intercept and hb > 0.0
    qb = 0.0
    dq_sum = 0.0

    sweeps = max_sweeps
    for sweep in range(max_sweeps):
        worst = 0.0
        for a in range(m):
            j = active[a]
            h = hdiag[a]
            if h <= 0.0:
                continue
            acc = qb * colsum[a]
            for i in range(n):
                acc += X[i, j] * D[i] * q[i]
            wj = w[j] + delta[j]
            g = grad[j] + acc + l2 * wj
            worst = max(worst, _model_violation(g, wj, l1))
            step = soft_threshold(wj - g / h, l1 / h) - wj
            if step != 0.0:
                delta[j] += step
                dq_sum += step * colsum[a]
                for i in range(n):
                    q[i] += step * X[i, j]
            if use_b:
                step_b = -(grad[d] + dq_sum + qb * hb) / hb
                qb += step_b
        if use_b:
            worst = max(worst, math.fabs(grad[d] + dq_sum + qb * hb))
        if worst <= inner_tol:
            sweeps = sweep + 1
            break
    delta[d] = qb
    for i in range(n):
        q[i] += qb
    return sweeps


@jit(fastmath={"reassoc", "contract"})
def cd_newton_csc(data, indices, indptr, grad, D, w, l1, l2, fit_intercept, active,
                  max_sweeps, inner_tol, delta, q):
    """Coordinate descent for a CSC matrix given by its three arrays."""
    d = w.shape[0]
    n = q.shape[0]
    m = active.shape[0]
    hdiag = np.empty(m)
    colsum = np.empty(m)
    for a in range(m):
        j = active[a]
        h = 0.0
        c = 0.0
        for p in range(indptr[j], indptr[j + 1]):
            dx = D[indices[p]] * data[p]
            h += dx * data[p]
            c += dx
        hdiag[a] = h + l2
        colsum[a] = c
    hb = D.sum()
    use_b = fit_intercept and hb > 0.0
    qb = 0.0
    dq_sum = 0.0

    sweeps = max_sweeps
    for sweep in range(max_sweeps):
        worst = 0.0
        for a in range(m):
            j = active[a]
            h = hdiag[a]
            if h <= 0.0:
                continue
            acc = qb * colsum[a]
            for p in range(indptr[j], indptr[j + 1]):
                i = indices[p]
                acc += data[p] * D[i] * q[i]
            wj = w[j] + delta[j]
            g = grad[j] + acc + l2 * wj
            worst = max(worst, _model_violation(g, wj, l1))
            step = soft_threshold(wj - g / h, l1 / h) - wj
            if step != 0.0:
                delta[j] += step
                dq_sum += step * colsum[a]
                for p in range(indptr[j], indptr[j + 1]):
                    q[indices[p]] += step * data[p]
            if use_b:
                step_b = -(grad[d] + dq_sum + qb * hb) / hb
                qb += step_b
        if use_b:
            worst = max(worst, math.fabs(grad[d] + dq_sum + qb * hb))
        if worst <= inner_tol:
            sweeps = sweep + 1
            break
    delta[d] = qb
    for i in range(n):
        q[i] += qb
    return sweeps


@jit(inline="always")
def _add_scaled(target, factor, row):
    for c in range(target.shape[0]):
        target[c] += factor * row[c]


@jit(fastmath={"reassoc", "contract"})
def cd_newton_gram(H, grad, w, l1, l2, fit_intercept, active, max_sweeps, inner_tol, delta,
                   h_delta):
    """Coordinate descent on the model given its Hessian over the working set.

    ``H`` is [X_A 1]' D [X_A 1] for the m features A = ``active``, shape (m + 1, m + 1), the
    intercept last: row a of H belongs to feature active[a]. With H formed once per outer
    iteration, a coordinate update costs O(m) instead of a pass over a column of X: the kernel
    keeps ``h_delta = H delta_A`` (length m + 1) up to date. This pays off when n is much
    larger than m. ``q = X delta + delta_b`` is left to the caller.
    """
    d = w.shape[0]
    m = active.shape[0]
    hb = H[m, m]
    use_b = fit_intercept and hb > 0.0
    h_delta[:] = 0.0
    sweeps = max_sweeps
    for sweep in range(max_sweeps):
        worst = 0.0
        for a in range(m):
            j = active[a]
            h = H[a, a] + l2
            if h <= 0.0:
                continue
            wj = w[j] + delta[j]
            g = grad[j] + h_delta[a] + l2 * wj
            worst = max(worst, _model_violation(g, wj, l1))
            step = soft_threshold(wj - g / h, l1 / h) - wj
            if step != 0.0:
                delta[j] += step
                _add_scaled(h_delta, step, H[a])
            if use_b:
                step_b = -(grad[d] + h_delta[m]) / hb
                if step_b != 0.0:
                    delta[d] += step_b
                    _add_scaled(h_delta, step_b, H[m])
        if use_b:
            worst = max(worst, math.fabs(grad[d] + h_delta[m]))
        if worst <= inner_tol:
            sweeps = sweep + 1
            break
    return sweeps
