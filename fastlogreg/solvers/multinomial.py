"""Solvers for the multinomial (softmax) objective of three or more classes.

The objective is the binary one with the softmax loss and the penalty summed over the
(K, n_features) coefficient matrix W; the K intercepts are unpenalized. The intercepts are
only determined up to a common constant, so the solvers return them centred (summing to
zero), the convention scikit-learn uses.

- ``solve_multinomial_lbfgs``: L-BFGS over (W, b) for L2 or no penalty.
- ``solve_multinomial_cd``: block proximal Newton for any elastic-net penalty. Each outer
  iteration visits the classes in turn; for class k the Hessian block of W_k is
  X' diag(D_k) X with D_k = alpha * s * p_k * (1 - p_k), which is the binary problem's
  structure, so the binary coordinate descent kernels give the step, followed by a line
  search on the full multinomial objective. After each sweep over the classes, every
  feature's column of W moves by the constant that minimises its penalty, a move that leaves
  the loss unchanged and that the per-class steps cannot make.
"""

from dataclasses import dataclass, field

import numpy as np
import scipy.optimize
import scipy.sparse as sp

from .. import _kernels as K
from ._problem import (
    ARMIJO,
    MAX_HALVINGS,
    NOISE,
    SolverResult,
    chunk_rows,
    data_layout,
    log_iteration,
)
from .cd import MAX_INNER_SWEEPS, WORKING_SET_MARGIN
from .lbfgs import HISTORY_SIZE


@dataclass
class MultinomialProblem:
    """Minimise ``alpha * sum_i s_i * softmax_loss_i + l2 / 2 ||W||^2 + l1 ||W||_1``.

    ``y`` contains class indices 0..n_classes-1 (int64) and ``s`` the combined sample and
    class weights (float64).
    """

    X: object
    y: np.ndarray
    s: np.ndarray
    n_classes: int
    alpha: float
    l1: float
    l2: float
    fit_intercept: bool
    n_blocks: int
    layout: str = field(init=False)

    def __post_init__(self):
        self.layout = data_layout(self.X)
        self.n_samples, self.n_features = self.X.shape
        self.grad_scale = self.alpha * float(self.s.sum())

    def loss_grad(self, W, b, grad, Z):
        """Return the data term at (W, b); write its gradient (K, d + 1) and margins Z (n, K).

        Row layouts use the fused kernels. Column layouts (F-ordered dense, CSC) use two
        products with X, in row chunks for dense X so that float32 data is never upcast whole.
        """
        X = self.X
        args = (self.y, self.s, W, b, self.alpha, self.n_blocks, grad, Z)
        if self.layout == "rows":
            return K.softmax_loss_grad_dense_rows(X, *args)
        if self.layout == "csr":
            return K.softmax_loss_grad_csr(X.data, X.indices, X.indptr, *args)
        d = self.n_features
        if self.layout == "csc":
            Z[:] = np.asarray(X @ W.T) + b
        else:
            rows = chunk_rows(d)
            for start in range(0, self.n_samples, rows):
                chunk = np.asarray(X[start:start + rows], dtype=np.float64)
                Z[start:start + chunk.shape[0]] = chunk @ W.T + b
        R = np.empty_like(Z)
        loss = K.softmax_residuals(Z, self.y, self.s, self.alpha, self.n_blocks, R)
        grad[:, :d] = np.asarray(X.T @ R).T
        grad[:, d] = R.sum(axis=0)
        return loss

    def penalty(self, W):
        return K.penalty_value(W.ravel(), self.l1, self.l2)

    def objective_grad(self, W, b, grad, Z):
        """Return the full objective; ``grad`` gets the data term's and the L2 term's gradient."""
        value = self.loss_grad(W, b, grad, Z)
        if not self.fit_intercept:
            grad[:, -1] = 0.0
        grad[:, :-1] += self.l2 * W
        return value + self.penalty(W)


def _centred(b, fit_intercept):
    return b - b.mean() if fit_intercept else np.zeros_like(b)


def solve_multinomial_lbfgs(problem, W0, b0, tol, max_iter, verbose=0):
    """Minimise the multinomial objective (``l1 == 0``) with L-BFGS from (W0, b0)."""
    n_classes, d = problem.n_classes, problem.n_features
    size = n_classes * d
    grad = np.empty((n_classes, d + 1))
    Z = np.empty((problem.n_samples, n_classes))
    history = []

    def unpack(x):
        W = x[:size].reshape(n_classes, d)
        b = x[size:] if problem.fit_intercept else np.zeros(n_classes)
        return np.ascontiguousarray(W), np.ascontiguousarray(b)

    def fun(x):
        W, b = unpack(x)
        value = problem.objective_grad(W, b, grad, Z)
        flat = grad[:, :d].ravel()
        if problem.fit_intercept:
            flat = np.concatenate([flat, grad[:, d]])
        return value, flat

    def callback(intermediate_result):
        history.append(float(intermediate_result.fun))
        log_iteration(verbose, "lbfgs", len(history), history[-1], float("nan"))

    x0 = np.asarray(W0, dtype=np.float64).ravel()
    if problem.fit_intercept:
        x0 = np.concatenate([x0, np.asarray(b0, dtype=np.float64)])
    result = scipy.optimize.minimize(
        fun, x0, jac=True, method="L-BFGS-B", callback=callback,
        options={"maxiter": max_iter, "maxfun": 2 * max_iter + 20,
                 "gtol": tol * problem.grad_scale, "ftol": 64 * np.finfo(np.float64).eps,
                 "maxcor": HISTORY_SIZE},
    )
    W, b = unpack(result.x)
    value, g = fun(result.x)
    if not history or history[-1] != value:
        history.append(value)
    # As in the binary L-BFGS solver, a stop on the relative reduction of the objective counts
    # as converged.
    converged = bool(np.max(np.abs(g)) <= tol * problem.grad_scale
                     or (result.success and result.nit < max_iter))
    message = "" if converged else f"L-BFGS-B stopped: {result.message}"
    return SolverResult(W, _centred(b, problem.fit_intercept), int(result.nit), history,
                        converged, message)


def _class_backtrack(problem, Z, q, k, W, k_delta, value, slope):
    """Armijo backtracking for a step of class k's row of W; see ``backtrack``."""
    step = 1.0
    trial_W = W.copy()
    for _ in range(MAX_HALVINGS):
        trial_W[k] = W[k] + step * k_delta
        trial = (K.softmax_loss_along(Z, q, k, step, problem.y, problem.s, problem.alpha,
                                      problem.n_blocks)
                 + problem.penalty(trial_W))
        if trial <= value + ARMIJO * step * slope:
            return step, trial
        if step == 1.0 and trial - value <= NOISE * abs(value):
            return step, trial
        step *= 0.5
    return 0.0, value


def _column_view(problem):
    if problem.layout in ("rows", "cols"):
        return K.cd_newton_dense, (problem.X,)
    # NOTE: CSR input is converted to CSC once per fit, a copy of X's non-zeros, because
    # coordinate descent reads columns.
    csc = problem.X if problem.layout == "csc" else sp.csc_matrix(problem.X)
    return K.cd_newton_csc, (csc.data, csc.indices, csc.indptr)


def _max_violation(problem, W, grad):
    return max(K.min_norm_subgradient(W[k], grad[k], problem.l1, problem.l2)
               for k in range(problem.n_classes))


# Outer iterations without a 10% drop of the largest gradient entry after which the solver
# stops: its convergence is linear, so a stall of this length means the rounding floor.
STALL_ITERATIONS = 20

# Features per block when the shift of the coefficient columns is computed, bounding the
# (block, K, K) temporary.
SHIFT_BLOCK_FEATURES = 4096


def _column_shifts(W, l1, l2):
    """Return, per feature j, the c_j minimising the penalty of the column W[:, j] - c_j.

    The softmax loss does not change when every class's weight of a feature moves by the same
    amount, so this shift lowers the objective by exactly the penalty it saves. Block
    coordinate descent over classes cannot make such a joint move and crawls along it.
    c = 0 is kept when it is optimal, and otherwise an optimum at one of the column's values
    is taken exactly, so that weights that are zero stay exact zeros.
    """
    n_classes, d = W.shape
    shifts = np.zeros(d)
    for start in range(0, d, SHIFT_BLOCK_FEATURES):
        A = W[:, start:start + SHIFT_BLOCK_FEATURES].T  # (block, K)
        total = A.sum(axis=1)

        def subgradient_bounds(c):
            # Lower and upper end of the subdifferential of the penalty in c, per candidate.
            below = (A[:, None, :] < c[:, :, None]).sum(axis=2)
            above = (A[:, None, :] > c[:, :, None]).sum(axis=2)
            equal = n_classes - below - above
            smooth = l2 * (n_classes * c - total[:, None])
            return (smooth + l1 * (below - above - equal),
                    smooth + l1 * (below - above + equal))

        # Candidates: no shift, then each value of the column.
        candidates = np.concatenate([np.zeros((A.shape[0], 1)), A], axis=1)
        low, high = subgradient_bounds(candidates)
        optimal = (low <= 1e-12 * (1.0 + np.abs(low))) & (high >= -1e-12 * (1.0 + np.abs(high)))
        found = optimal.any(axis=1)
        chosen = candidates[np.arange(A.shape[0]), np.argmax(optimal, axis=1)]
        block = np.where(found, chosen, 0.0)

        # Otherwise the optimum lies strictly between two sorted values, where the
        # subgradient is l2 * (K c - total) + l1 * (2 m - K) with m values below c.
        if l2 > 0.0 and not found.all():
            ordered = np.sort(A, axis=1)
            m = np.arange(n_classes + 1)
            roots = (l2 * total[:, None] - l1 * (2 * m - n_classes)) / (l2 * n_classes)
            lower = np.concatenate([np.full((A.shape[0], 1), -np.inf), ordered], axis=1)
            upper = np.concatenate([ordered, np.full((A.shape[0], 1), np.inf)], axis=1)
            inside = (roots > lower) & (roots < upper)
            interior = roots[np.arange(A.shape[0]), np.argmax(inside, axis=1)]
            block = np.where(found, block, interior)
        shifts[start:start + A.shape[0]] = block
    return shifts


def solve_multinomial_cd(problem, W0, b0, tol, max_iter, verbose=0):
    """Minimise the multinomial objective with any l1 and l2 from (W0, b0)."""
    n_classes, d, n = problem.n_classes, problem.n_features, problem.n_samples
    l1, l2 = problem.l1, problem.l2
    fit_b = problem.fit_intercept
    cd_kernel, column_args = _column_view(problem)

    W = np.array(W0, dtype=np.float64).reshape(n_classes, d)
    b = np.array(b0, dtype=np.float64)
    grad = np.empty((n_classes, d + 1))
    Z = np.empty((n, n_classes))
    D = np.empty(n)
    delta = np.empty(d + 1)
    q = np.empty(n)
    history = []
    threshold = tol * problem.grad_scale

    # Here ``grad`` contains the gradient of the data term only; the L2 term is added per class.
    value = problem.loss_grad(W, b, grad, Z) + problem.penalty(W)
    best_violation = np.inf
    stalled = 0
    for iteration in range(1, max_iter + 1):
        if not fit_b:
            grad[:, d] = 0.0
        violation = _max_violation(problem, W, grad)
        if violation <= threshold:
            return SolverResult(W, _centred(b, fit_b), iteration - 1, history, True)
        if violation < 0.9 * best_violation:
            best_violation = violation
            stalled = 0
        else:
            stalled += 1
        if stalled >= STALL_ITERATIONS:
            message = (f"the gradient stopped decreasing at {violation:.3g}, the rounding floor "
                       "of float64 sums over X; a larger tol reaches the same weights")
            return SolverResult(W, _centred(b, fit_b), iteration - 1, history, False, message)

        for k in range(n_classes):
            g_k = np.ascontiguousarray(grad[k])
            if not fit_b:
                g_k[d] = 0.0
            smooth = g_k[:d] + l2 * W[k]
            active = np.flatnonzero((W[k] != 0.0) | (np.abs(smooth) > WORKING_SET_MARGIN * l1))
            K.softmax_class_curvature(Z, k, problem.s, problem.alpha, problem.n_blocks, D)
            delta[:] = 0.0
            q[:] = 0.0
            w_k = np.ascontiguousarray(W[k])
            cd_kernel(*column_args, g_k, D, w_k, l1, l2, fit_b, active.astype(np.int64),
                      MAX_INNER_SWEEPS, max(0.1 * violation, 0.1 * threshold), delta, q)
            slope = (float(g_k @ delta) + l2 * float(w_k @ delta[:d])
                     + l1 * (np.abs(w_k + delta[:d]).sum() - np.abs(w_k).sum()))
            if not slope < 0.0:
                continue
            step, _ = _class_backtrack(problem, Z, q, k, W, delta[:d], value, slope)
            if step == 0.0:
                continue
            W[k] += step * delta[:d]
            b[k] += step * delta[d]
            value = problem.loss_grad(W, b, grad, Z) + problem.penalty(W)

        if l1 > 0.0 or l2 > 0.0:
            shifts = _column_shifts(W, l1, l2)
            if np.any(shifts != 0.0):
                W -= shifts
                value = problem.loss_grad(W, b, grad, Z) + problem.penalty(W)

        if not fit_b:
            grad[:, d] = 0.0
        history.append(value)
        log_iteration(verbose, "cd", iteration, value, violation)

    converged = _max_violation(problem, W, grad) <= threshold
    return SolverResult(W, _centred(b, fit_b), max_iter, history, converged)
