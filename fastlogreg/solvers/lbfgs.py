"""L-BFGS (scipy's L-BFGS-B without bounds) driven by the fused loss/gradient pass."""

import numpy as np
import scipy.optimize

from ._problem import SolverResult, log_iteration

# Stored correction pairs: more pairs model curvature better on ill-conditioned data at
# O(m * n_features) memory and time per iteration.
HISTORY_SIZE = 20


def solve_lbfgs(problem, w0, b0, tol, max_iter, verbose=0):
    """Minimise the problem's objective (which must have ``l1 == 0``) from (w0, b0)."""
    d = problem.n_features
    fit_b = problem.fit_intercept
    grad = np.empty(d + 1)
    z = np.empty(problem.n_samples)
    history = []

    def fun(x):
        b = x[d] if fit_b else 0.0
        value = problem.objective_grad(x[:d], b, grad, z)
        return value, (grad.copy() if fit_b else grad[:d].copy())

    def callback(intermediate_result):
        history.append(float(intermediate_result.fun))
        log_iteration(verbose, "lbfgs", len(history), history[-1], float("nan"))

    x0 = np.concatenate([np.asarray(w0, dtype=np.float64), [b0]]) if fit_b else \
        np.array(w0, dtype=np.float64)
    result = scipy.optimize.minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        callback=callback,
        options={
            "maxiter": max_iter,
            "maxfun": 2 * max_iter + 20,
            "gtol": tol * problem.grad_scale,
            "ftol": 64 * np.finfo(np.float64).eps,
            "maxcor": HISTORY_SIZE,
        },
    )
    x = result.x
    w = np.ascontiguousarray(x[:d])
    b = float(x[d]) if fit_b else 0.0
    value, g = fun(x)
    if not history or history[-1] != value:
        history.append(value)
    # A stop on the relative reduction of the objective (ftol, at 64 machine epsilons) counts
    # as converged: the objective no longer changes in float64, whatever the value of the gradient.
    converged = bool(np.max(np.abs(g)) <= tol * problem.grad_scale
                     or (result.success and result.nit < max_iter))
    message = "" if converged else f"L-BFGS-B stopped: {result.message}"
    return SolverResult(w, b, int(result.nit), history, converged, message)
