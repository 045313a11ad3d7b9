"""Proximal Newton with coordinate descent, for L1 and elastic-net penalties.

The outer loop is a proximal Newton method (as in newGLMNET, Yuan, Ho and Lin, JMLR 2012):
each iteration makes one fused pass for the gradient, then coordinate descent on the quadratic
model of the loss plus the exact penalty gives a step, and a backtracking line search on the
true objective, O(n) per trial, fixes its length. Weights set to zero by soft thresholding are
exact zeros.

When n_features is small (and, for sparse X, rows have few non-zeros), each outer iteration
forms the Hessian X' D X of the working set once, as Newton's method does, and coordinate
descent then works on it at O(working set) per update instead of a pass over a column of X. The full step is then
tried with one fused pass; only when it fails the line search does a product X delta give the
margins for backtracking. Otherwise the inner sweeps read the columns of X (a CSR X is then
converted to CSC once).

Working set: a feature at zero whose gradient is well inside [-l1, l1] is left out of the
inner sweeps. The stopping test looks at every feature, so a feature left out wrongly shows up
as a violation and is taken in at the next iteration.
"""

import numpy as np

from .. import _kernels as K
from ._problem import SolverResult, accepts_full_step, backtrack, log_iteration

# The Hessian costs n * d^2 / 2 for dense X and sum_i nnz_i^2 for sparse X, about d / 2 (or
# nnz per row) passes over X. Coordinate descent on the columns makes a pass per sweep, and an
# outer iteration takes tens of sweeps near the optimum. Columns of a C-ordered X are also
# strided reads. Below these sizes the Hessian is the cheaper of the two.
GRAM_MAX_FEATURES = 500
GRAM_MAX_ROW_NNZ = 64

# A zero feature joins the working set when |gradient| exceeds this fraction of l1.
WORKING_SET_MARGIN = 0.9
# Inner sweeps per outer iteration: few while far from the optimum, more close to it.
MAX_INNER_SWEEPS = 200


def uses_gram(problem):
    """Return whether coordinate descent works on the Hessian rather than on the columns of X."""
    # CSC input keeps the column sweeps: its Hessian goes through a scipy product that copies
    # the non-zeros of X, while the sweeps read the columns in place.
    if problem.n_features > GRAM_MAX_FEATURES or problem.layout == "csc":
        return False
    if problem.layout == "csr":
        return problem.X.nnz <= GRAM_MAX_ROW_NNZ * problem.n_samples
    return True


def solve_cd(problem, w0, b0, tol, max_iter, verbose=0):
    """Minimise the problem's objective from (w0, b0); any l1 and l2 are allowed."""
    d = problem.n_features
    l1, l2 = problem.l1, problem.l2
    fit_b = problem.fit_intercept
    use_gram = uses_gram(problem)
    if not use_gram:
        kind, column_args = problem.column_view()
        cd_kernel = K.cd_newton_dense if kind == "dense" else K.cd_newton_csc
    h_delta = np.empty(d + 1)

    w = np.array(w0, dtype=np.float64)
    b = float(b0)
    grad = np.empty(d + 1)
    z = np.empty(problem.n_samples)
    grad_trial = np.empty(d + 1)
    z_trial = np.empty(problem.n_samples) if use_gram else None
    delta = np.empty(d + 1)
    q = np.empty(problem.n_samples)
    history = []
    threshold = tol * problem.grad_scale

    loss = problem.loss_grad(w, b, grad, z)
    if not fit_b:
        grad[d] = 0.0
    value = loss + problem.penalty(w)
    for iteration in range(1, max_iter + 1):
        violation = K.min_norm_subgradient(w, grad, l1, l2)
        if violation <= threshold:
            return SolverResult(w, b, iteration - 1, history, True)

        smooth = grad[:d] + l2 * w
        active = np.flatnonzero((w != 0.0) | (np.abs(smooth) > WORKING_SET_MARGIN * l1))
        D = problem.curvature(z)
        delta[:] = 0.0
        q[:] = 0.0
        inner_tol = max(0.1 * violation, 0.1 * threshold)
        if use_gram:
            active = active.astype(np.int64)
            K.cd_newton_gram(problem.hessian_subset(D, active), grad, w, l1, l2, fit_b, active,
                             MAX_INNER_SWEEPS, inner_tol, delta, h_delta[:active.shape[0] + 1])
        else:
            cd_kernel(*column_args, grad, D, w, l1, l2, fit_b, active.astype(np.int64),
                      MAX_INNER_SWEEPS, inner_tol, delta, q)

        # Predicted decrease of the model, as in the Armijo rule for composite objectives.
        w_full = w + delta[:d]
        slope = (float(grad @ delta) + l2 * float(w @ delta[:d])
                 + l1 * (np.abs(w_full).sum() - np.abs(w).sum()))
        if not slope < 0.0:
            history.append(value)
            return SolverResult(w, b, iteration, history, violation <= 10 * threshold,
                                "coordinate descent found no descent direction")

        if use_gram:
            # The Gram path has no q = X delta yet. The full step usually passes the line
            # search, and one fused pass at it also gives the next gradient.
            loss = problem.loss_grad(w_full, b + delta[d], grad_trial, z_trial)
            if not fit_b:
                grad_trial[d] = 0.0
            trial = loss + problem.penalty(w_full)
            if accepts_full_step(trial, value, slope):
                w, b, value = w_full, b + delta[d], trial
                grad, grad_trial = grad_trial, grad
                z, z_trial = z_trial, z
                history.append(value)
                log_iteration(verbose, "cd", iteration, value, violation)
                continue
            q[:] = problem.matvec(delta[:d])
            q += delta[d]

        step, _ = backtrack(problem, z, q, w, delta[:d], value, slope)
        if step == 0.0:
            history.append(value)
            return SolverResult(w, b, iteration, history, violation <= 10 * threshold,
                                "the line search found no decrease")

        w = w + step * delta[:d]
        b += step * delta[d]
        loss = problem.loss_grad(w, b, grad, z)
        if not fit_b:
            grad[d] = 0.0
        value = loss + problem.penalty(w)
        history.append(value)
        log_iteration(verbose, "cd", iteration, value, violation)

    converged = K.min_norm_subgradient(w, grad, l1, l2) <= threshold
    return SolverResult(w, b, max_iter, history, converged)
