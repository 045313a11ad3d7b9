"""Mini-batch SGD for the multinomial (softmax) objective of three or more classes.

The solver is the binary one of ``sgd.py`` with the softmax loss: it minimises

    (1 / n) * (alpha * sum_i s_i * softmax_loss_i + l2 / 2 ||W||^2 + l1 ||W||_1)

over the (K, n_features) matrix W and the K unpenalized intercepts b, with the L2 term as a
shrink factor and the L1 term as a proximal step, so weights become exact zeros. Rows are
shuffled from ``random_state`` in each epoch, the step schedule, averaging, stopping rule,
``validation_fraction`` and ``n_samples_total`` have the meaning they have in ``solve_sgd``.

The softmax gradient of b sums to zero over the classes for every row, so SGD steps never
change the sum of the intercepts. The result's intercepts are centred (summing to zero), as
in the exact multinomial solvers. The SGD state keeps the iterate itself.
"""

import math

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from .. import _kernels as K
from .._kernels.sgd_multinomial import (
    sgd_multinomial_epoch_csr,
    sgd_multinomial_epoch_dense,
)
from ._problem import log_iteration
from .sgd import (
    AUTO_MAX_HALVINGS,
    AUTO_POWER,
    DIVERGENCE_ADVICE,
    MIN_WEIGHT_SCALE,
    SGDResult,
    SGDState,
    _block_count,
    _initial_step,
    _row_layout,
    _split_rows,
)

# The Hessian of the softmax loss in the K margins of one row, diag(p) - p p', has
# eigenvalues at most 1/2 (Boehning's bound), against 1/4 for the logistic loss in its margin.
# The "auto" step of the binary solver is therefore halved.
SOFTMAX_CURVATURE_FACTOR = 2.0


def _centred(b, fit_intercept):
    return b - b.mean() if fit_intercept else np.zeros_like(b)


def solve_sgd_multinomial(problem, W0, b0, tol, max_iter, verbose=0, *, batch_size=256,
                          learning_rate="auto", average=False, n_iter_no_change=5,
                          validation_fraction=None, random_state=None, state=None,
                          n_samples_total=None, check_convergence=True, shuffle=True):
    """Minimise a ``MultinomialProblem`` from (W0, b0) with at most ``max_iter`` SGD epochs.

    Takes the arguments of ``solve_sgd``. ``state`` is an ``SGDState`` whose ``coef`` is a
    (K, n_features) array and ``intercept`` a (K,) array. It is updated in place and returned
    as ``result.state``. The result's ``coef`` has shape (K, n_features) and its ``intercept``
    shape (K,), centred. Raises ``ValueError`` when the weights become NaN or infinite.
    """
    X = _row_layout(problem.X)
    n, d = X.shape
    n_classes = problem.n_classes
    rng = check_random_state(random_state)
    train_rows, valid_rows = _split_rows(n, validation_fraction, rng)
    n_train = train_rows.shape[0]
    n_shared = float(n_samples_total if n_samples_total is not None else n_train)
    l1 = problem.l1 / n_shared
    l2 = problem.l2 / n_shared

    s_train = problem.s
    s_valid = None
    if valid_rows is not None:
        s_train = problem.s.copy()
        s_train[valid_rows] = 0.0
        s_valid = np.zeros_like(problem.s)
        s_valid[valid_rows] = problem.s[valid_rows]

    if state is None:
        state = SGDState(coef=np.array(W0, dtype=np.float64).reshape(n_classes, d),
                         intercept=np.array(b0, dtype=np.float64).reshape(n_classes))
    if not problem.fit_intercept:
        state.intercept[:] = 0.0
    if state.coef_avg is None:
        state.coef_avg = state.coef.copy()
        state.intercept_avg = state.intercept.copy()
    eta0 = min(state.eta0, _initial_step(problem, X, s_train, learning_rate, l2, n_train,
                                         SOFTMAX_CURVATURE_FACTOR))
    state.eta0 = eta0
    if learning_rate == "auto":
        decay, power = batch_size / n_shared, AUTO_POWER
    else:
        decay, power = 0.0, 0.0
    n_blocks = _block_count(X, batch_size, problem.n_blocks)

    if sp.issparse(X):
        epoch_kernel = sgd_multinomial_epoch_csr
        data_args = (X.data, X.indices, X.indptr)
        layout_args = (float(MIN_WEIGHT_SCALE),)
    else:
        epoch_kernel = sgd_multinomial_epoch_dense
        data_args = (X,)
        layout_args = ()

    W = state.coef
    b = state.intercept
    grad = np.empty((n_classes, d + 1))
    Z = np.empty((n, n_classes))
    zeros = np.zeros(n)
    # The first epoch of a fresh "auto" run is checked, as in the binary solver.
    guarded = learning_rate == "auto" and state.n_steps == 0
    if guarded:
        start_value, _ = _objectives(problem, W, b, s_train, s_valid, grad, Z, zeros)
        start_W, start_b = W.copy(), b.copy()
    history = []
    best_score = math.inf
    best = None
    epochs_without_improvement = 0
    converged = not check_convergence
    n_iter = 0
    for epoch in range(1, max_iter + 1):
        order = rng.permutation(train_rows) if shuffle else train_rows
        order = order.astype(np.int64)
        # Averaging starts with the second epoch, as in the binary solver.
        averaging = bool(average) and state.n_epochs >= 1
        for halving in range(AUTO_MAX_HALVINGS + 1):
            n_steps, avg_count = epoch_kernel(
                *data_args, problem.y, problem.s, order, W, b, bool(problem.fit_intercept),
                float(problem.alpha), float(l1), float(l2), float(eta0), float(decay),
                float(power), int(state.n_steps), int(batch_size), n_blocks, *layout_args,
                averaging, state.coef_avg, state.intercept_avg, int(state.avg_count),
            )
            if not (guarded and epoch == 1 and halving < AUTO_MAX_HALVINGS):
                break
            value, _ = _objectives(problem, W, b, s_train, s_valid, grad, Z, zeros)
            if value <= start_value:
                break
            # The objective rose (or became NaN): restart the epoch with half the step.
            W[:] = start_W
            b[:] = start_b
            eta0 *= 0.5
            state.eta0 = eta0
        state.n_steps, state.avg_count = n_steps, avg_count
        state.n_epochs += 1
        n_iter = epoch
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            raise ValueError(
                f"SGD diverged: the weights became NaN or infinite in epoch {epoch} (step "
                f"size {eta0:.3g}). {DIVERGENCE_ADVICE}"
            )

        coef, intercept = _fitted_weights(state, averaging, problem.fit_intercept)
        value, valid_loss = _objectives(problem, coef, intercept, s_train, s_valid, grad, Z,
                                        zeros)
        history.append(value)
        log_iteration(verbose, "sgd", epoch, value, float("nan"))
        if not check_convergence:
            continue

        score = value if s_valid is None else valid_loss
        if score > best_score - tol * abs(best_score):
            epochs_without_improvement += 1
        else:
            epochs_without_improvement = 0
        if score < best_score:
            best_score = score
            if s_valid is not None:
                best = (coef, intercept, value)
        if epochs_without_improvement >= n_iter_no_change:
            converged = True
            break

    averaged = bool(average) and state.avg_count > 0
    coef, intercept = _fitted_weights(state, averaged, problem.fit_intercept)
    if best is not None:
        # With a validation set, the weights with the lowest validation loss are returned.
        coef, intercept, value = best
        if history[-1] != value:
            history.append(value)
    message = "" if converged else (
        f"the objective still changed by more than tol={tol} relative in the last "
        f"{n_iter_no_change} epochs"
    )
    result = SGDResult(np.ascontiguousarray(coef), intercept, n_iter, history, converged,
                       message)
    result.state = state
    return result


def _fitted_weights(state, averaging, fit_intercept):
    """Return copies of the current (or averaged) W and the centred intercepts."""
    if averaging:
        return state.coef_avg.copy(), _centred(state.intercept_avg, fit_intercept)
    return state.coef.copy(), _centred(state.intercept, fit_intercept)


def _objectives(problem, W, b, s_train, s_valid, grad, Z, zeros):
    """Return the objective on the training rows and the data term on the validation rows.

    One fused pass computes the margins of every row; the two sums then cost O(n K).
    """
    loss = problem.loss_grad(W, b, grad, Z)
    if s_valid is None:
        return loss + problem.penalty(W), None
    # A step of 0 along any class gives the data term at the margins Z, weighted by s.
    args = (Z, zeros, 0, 0.0, problem.y)
    train_loss = K.softmax_loss_along(*args, s_train, problem.alpha, problem.n_blocks)
    valid_loss = K.softmax_loss_along(*args, s_valid, problem.alpha, problem.n_blocks)
    return train_loss + problem.penalty(W), valid_loss
