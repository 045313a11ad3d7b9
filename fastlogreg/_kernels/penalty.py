"""Penalty terms of the objective: the L2 term and the L1 / elastic-net proximal step.

With ``l1 = l1_ratio`` and ``l2 = 1 - l1_ratio`` (both 0 when C is infinite) the penalty is
``l2 / 2 * ||w||^2 + l1 * ||w||_1``. The intercept is never penalized, so these kernels only
touch the first ``w.shape[0]`` entries.
"""

import math

from ._jit import jit


@jit
def add_l2(w, l2, grad):
    """Add the gradient of ``l2 / 2 * ||w||^2`` to ``grad[:len(w)]`` and return the term."""
    total = 0.0
    for j in range(w.shape[0]):
        total += w[j] * w[j]
        grad[j] += l2 * w[j]
    return 0.5 * l2 * total


@jit(inline="always")
def soft_threshold(u, threshold):
    """Return sign(u) * max(|u| - threshold, 0)."""
    if u > threshold:
        return u - threshold
    if u < -threshold:
        return u + threshold
    return 0.0


@jit
def prox_elastic_net(v, step, l1, l2, out):
    """Write the proximal point of the elastic-net penalty at ``v`` into ``out``.

    Solves ``min_u  ||u - v||^2 / (2 step) + l1 ||u||_1 + l2 / 2 ||u||^2`` coordinate-wise:
    soft thresholding by ``step * l1`` followed by shrinkage by ``1 + step * l2``. Entries whose
    magnitude is at most ``step * l1`` become exact zeros.
    """
    scale = 1.0 / (1.0 + step * l2)
    for j in range(v.shape[0]):
        out[j] = soft_threshold(v[j], step * l1) * scale


@jit
def penalty_value(w, l1, l2):
    """Return ``l2 / 2 * ||w||^2 + l1 * ||w||_1``."""
    sq = 0.0
    ab = 0.0
    for j in range(w.shape[0]):
        sq += w[j] * w[j]
        ab += math.fabs(w[j])
    return 0.5 * l2 * sq + l1 * ab


@jit
def min_norm_subgradient(w, grad, l1, l2):
    """Return the max-norm of the minimum-norm subgradient of loss + penalty.

    ``grad`` contains the gradient of the data term for ``(w, b)``; its last entry is the
    intercept's, which is unpenalized.
    """
    d = w.shape[0]
    worst = math.fabs(grad[d])
    for j in range(d):
        g = grad[j] + l2 * w[j]
        if w[j] > 0.0:
            v = math.fabs(g + l1)
        elif w[j] < 0.0:
            v = math.fabs(g - l1)
        else:
            v = max(math.fabs(g) - l1, 0.0)
        if v > worst:
            worst = v
    return worst
