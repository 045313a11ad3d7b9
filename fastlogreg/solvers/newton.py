"""Newton's method with a Cholesky solve, for L2-penalised or unpenalised problems.

Each iteration makes one fused loss/gradient pass over X, forms the (d + 1) x (d + 1) Hessian
in row chunks and solves for the Newton direction. It suits problems with up to about a
thousand features, where the Hessian is cheap next to a pass over X, and it converges in a few
iterations even on badly scaled data where quasi-Newton methods stall.
"""

import numpy as np
import scipy.linalg

from ._problem import SolverResult, accepts_full_step, backtrack, log_iteration

# Newton's method converges quadratically, so once its gradient fails to halve for this many
# iterations in a row it has reached the rounding floor of float64 sums over X.
STALL_ITERATIONS = 5


def _newton_direction(H, g):
    try:
        factor = scipy.linalg.cho_factor(H, lower=True, check_finite=False)
        return -scipy.linalg.cho_solve(factor, g, check_finite=False)
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        # Singular Hessian (unpenalised and collinear features, or a saturated fit): the
        # least-squares step is the minimum-norm Newton direction.
        return -scipy.linalg.lstsq(H, g, check_finite=False)[0]


def solve_newton(problem, w0, b0, tol, max_iter, verbose=0):
    """Minimise the problem's objective (which must have ``l1 == 0``) from (w0, b0)."""
    d = problem.n_features
    w = np.array(w0, dtype=np.float64)
    b = float(b0)
    grad = np.empty(d + 1)
    z = np.empty(problem.n_samples)
    grad_trial = np.empty(d + 1)
    z_trial = np.empty(problem.n_samples)
    history = []
    threshold = tol * problem.grad_scale
    fit_b = problem.fit_intercept

    value = problem.objective_grad(w, b, grad, z)
    previous_violation = np.inf
    stalled = 0
    for iteration in range(1, max_iter + 1):
        violation = np.max(np.abs(grad))
        if violation <= threshold:
            return SolverResult(w, b, iteration - 1, history, True)
        stalled = stalled + 1 if violation > 0.5 * previous_violation else 0
        previous_violation = violation
        if stalled >= STALL_ITERATIONS:
            message = (f"the gradient stopped decreasing at {violation:.3g}, the rounding floor "
                       "of float64 sums over X; a larger tol reaches the same weights")
            return SolverResult(w, b, iteration - 1, history, False, message)

        H = problem.hessian(problem.curvature(z))
        H[np.arange(d), np.arange(d)] += problem.l2
        if not fit_b:
            H[d, :] = 0.0
            H[:, d] = 0.0
            H[d, d] = 1.0
        direction = _newton_direction(H, grad)
        slope = float(grad @ direction)
        if not slope < 0.0:
            direction = -grad
            slope = -float(grad @ grad)

        # The full Newton step usually passes the line search, so it is tried with one fused
        # pass, which also gives the next gradient. Otherwise backtracking along the
        # direction updates the margins in O(n) per trial.
        w_full = w + direction[:d]
        b_full = b + direction[d]
        trial = problem.objective_grad(w_full, b_full, grad_trial, z_trial)
        if accepts_full_step(trial, value, slope):
            w, b, value = w_full, b_full, trial
            grad, grad_trial = grad_trial, grad
            z, z_trial = z_trial, z
        else:
            q = problem.matvec(direction[:d]) + direction[d]
            step, _ = backtrack(problem, z, q, w, direction[:d], value, slope)
            if step == 0.0:
                message = ("the line search found no decrease; the objective is at machine "
                           "precision")
                history.append(value)
                return SolverResult(w, b, iteration, history, violation <= 10 * threshold,
                                    message)
            w = w + step * direction[:d]
            b += step * direction[d]
            value = problem.objective_grad(w, b, grad, z)
        history.append(value)
        log_iteration(verbose, "newton", iteration, value, violation)

    converged = np.max(np.abs(grad)) <= threshold
    return SolverResult(w, b, max_iter, history, converged)
