"""Mini-batch stochastic gradient descent with proximal L1 / elastic-net steps.

The solver minimises the same objective as the exact solvers, divided by the number of
samples n that the penalty is shared over:

    (1 / n) * (alpha * sum_i s_i * logloss_i + l2 / 2 ||w||^2 + l1 ||w||_1).

A batch B of m rows gives the unbiased gradient estimate
``(1 / m) * sum_{i in B} alpha * s_i * dloss_i`` of the data term, the L2 term enters as a
shrink factor and the L1 term as a proximal (soft-thresholding) step, so weights become exact
zeros. One epoch is one kernel call over a fresh permutation of the rows, drawn here from
``random_state``: the same seed and block count give bit-identical weights.

After each epoch the exact objective (not divided by n) on the training rows is recorded with
one fused pass over X. The run stops when that objective, or the data term on the held-out rows
when ``validation_fraction`` is set, has not improved by a relative ``tol`` for
``n_iter_no_change`` epochs in a row.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from .. import _kernels as K
from .._kernels.sgd import sgd_epoch_csr, sgd_epoch_dense
from ._problem import SolverResult, log_iteration

# A batch is split into parallel blocks only when each block reads at least this many
# entries of X. Starting a parallel region costs tens of microseconds (30 to 100 measured with
# Numba 0.68 on a loaded 2-core machine), more than a small batch takes serially.
MIN_ENTRIES_PER_BLOCK = 100_000
# The accumulated L2 shrink factor of the CSR kernel is reset below this value.
MIN_WEIGHT_SCALE = 1e-9
# Exponent of the "auto" schedule eta0 / (1 + epochs) ** power, where epochs counts passes
# over the data in fractions of a pass.
AUTO_POWER = 0.5
# The "auto" eta0 is AUTO_STEP_FACTOR / (mean curvature bound + l2 per sample). The bound uses
# the loss's largest second derivative, 1/4, which holds only at zero margins, and the mean
# of s_i ||x_i||^2 over the rows, which exceeds the largest eigenvalue of the data term's
# Hessian unless the rows are nearly collinear. Measured on a9a and standardised Gaussian data
# (benchmarks/sgd_vs_sklearn.py and tests/test_sgd.py), factors 1, 2, 3 and 4 give relative
# gaps of 1.9e-2, 8.7e-3, 6.2e-3 and 5.5e-3 on a9a after 10 epochs of 256-row batches. 3 is
# used because collinear rows can make steps above 2 / curvature unstable, and the first
# epoch's halving (AUTO_MAX_HALVINGS) then catches a rising objective.
AUTO_STEP_FACTOR = 3.0
# Times the first epoch of an "auto" run may be restarted with half the step when it ends at a
# higher objective than it started from (or at NaN). Each restart costs one epoch.
AUTO_MAX_HALVINGS = 10
# Rows per chunk when the solver computes the row norms for the step size, which bounds the
# temporary arrays whatever n is.
NORM_CHUNK_ROWS = 65536

DIVERGENCE_ADVICE = (
    "Scale the features (for example with sklearn.preprocessing.StandardScaler) or use "
    "learning_rate='auto' or a smaller constant learning_rate."
)


@dataclass
class SGDState:
    """What a later call (``partial_fit``) needs to continue an SGD run where it stopped.

    ``coef`` and ``intercept`` are the SGD iterate, which differs from the returned weights
    when averaging is on. ``coef_avg``, ``intercept_avg`` and ``avg_count`` are the running
    mean of the iterates. ``n_steps`` counts the batch steps taken, for the step schedule.
    """

    coef: np.ndarray
    intercept: float
    n_steps: int = 0
    eta0: float = math.inf
    coef_avg: np.ndarray = None
    intercept_avg: float = 0.0
    avg_count: int = 0
    n_epochs: int = 0


@dataclass
class SGDResult(SolverResult):
    state: SGDState = field(default=None)


def mean_curvature(X, s, alpha, fit_intercept, n_rows):
    """Return 0.25 * alpha * sum_i s_i * (||x_i||^2 + fit_intercept) / n_rows.

    This is the mean over ``n_rows`` samples of the curvature bound of each sample's weighted
    logistic loss, since the second derivative of the loss in the margin is at most 1/4. Rows
    with ``s_i = 0`` (held-out rows) add nothing to the sum.
    """
    total = 0.0
    n = X.shape[0]
    for start in range(0, n, NORM_CHUNK_ROWS):
        stop = min(n, start + NORM_CHUNK_ROWS)
        rows = X[start:stop]
        if sp.issparse(rows):
            squared = np.asarray(rows.multiply(rows).sum(axis=1), dtype=np.float64).ravel()
        else:
            rows = np.asarray(rows, dtype=np.float64)
            squared = np.einsum("ij,ij->i", rows, rows)
        squared += float(fit_intercept)
        total += float(s[start:stop] @ squared)
    return 0.25 * alpha * total / max(n_rows, 1)


def _row_layout(X):
    """Return X as C-ordered dense or CSR, the two layouts the SGD kernels read.

    NOTE: F-ordered dense and CSC input are converted once, which copies X. Pass C-ordered or
    CSR data to SGD to avoid the copy.
    """
    if sp.issparse(X):
        if X.format != "csr":
            X = X.tocsr()
        if not X.has_sorted_indices:
            X = X.sorted_indices()
        return X
    return np.ascontiguousarray(X)


def _initial_step(problem, X, s, learning_rate, l2_per_sample, n_rows, curvature_factor=1.0):
    """Return eta0: the constant ``learning_rate``, or the "auto" step from the mean curvature.

    ``curvature_factor`` multiplies the logistic bound 1/4 of the loss's second derivative
    (2 for the softmax loss, whose bound is 1/2).
    """
    if learning_rate != "auto":
        eta0 = float(learning_rate)
        if eta0 * l2_per_sample >= 1.0:
            raise ValueError(
                f"learning_rate={learning_rate!r} is too large for the L2 penalty: the step "
                f"times the per-sample L2 weight is {eta0 * l2_per_sample:.3g}, it must be "
                "below 1. Use a smaller learning_rate or learning_rate='auto'."
            )
        return eta0
    data_curvature = curvature_factor * mean_curvature(X, s, problem.alpha,
                                                       problem.fit_intercept, n_rows)
    if not data_curvature > 0.0:
        # All rows are zero and there is no intercept: any step below 1 / l2 is stable.
        return 0.5 / l2_per_sample if l2_per_sample > 0.0 else 1.0
    # The factor stays below 1 / l2 as the shrink factor 1 - eta * l2 must stay positive.
    return min(AUTO_STEP_FACTOR / (data_curvature + l2_per_sample),
               0.5 / l2_per_sample if l2_per_sample > 0.0 else math.inf)


def _block_count(X, batch_size, max_blocks):
    """Return how many parallel blocks a batch is split into; 1 runs it serially.

    Depends only on the shape and sparsity of X, the batch size and the thread count, so the
    same ``n_jobs`` always gives the same blocks.
    """
    n, d = X.shape
    entries_per_row = X.nnz / max(n, 1) if sp.issparse(X) else d
    entries_per_batch = min(batch_size, n) * entries_per_row
    return int(max(1, min(max_blocks, entries_per_batch // MIN_ENTRIES_PER_BLOCK)))


def _split_rows(n, validation_fraction, rng):
    """Return (training rows, validation rows) as sorted int64 index arrays."""
    if not validation_fraction:
        return np.arange(n, dtype=np.int64), None
    n_valid = int(round(validation_fraction * n))
    if n_valid < 1 or n_valid >= n:
        raise ValueError(
            f"validation_fraction={validation_fraction!r} leaves {n_valid} of {n} samples for "
            "validation; it must leave at least one sample for validation and one for "
            "training."
        )
    permutation = rng.permutation(n).astype(np.int64)
    return np.sort(permutation[n_valid:]), np.sort(permutation[:n_valid])


def solve_sgd(problem, w0, b0, tol, max_iter, verbose=0, *, batch_size=256,
              learning_rate="auto", average=False, n_iter_no_change=5,
              validation_fraction=None, random_state=None, state=None,
              n_samples_total=None, check_convergence=True, shuffle=True):
    """Minimise the problem's objective from (w0, b0) with at most ``max_iter`` SGD epochs.

    ``learning_rate`` is "auto" (``eta0 / sqrt(1 + epochs)`` with ``eta0`` AUTO_STEP_FACTOR
    over the mean per-sample curvature bound, halved while the first epoch of a fresh run
    raises the objective) or a positive float for a constant step. ``shuffle=False`` visits
    the training rows in order instead of a new permutation per epoch. ``state``
    continues an earlier run (its step counter, step size and averages); ``n_samples_total``
    is the number of samples the penalty is shared over, by default the training rows of X.
    With ``check_convergence=False`` all ``max_iter`` epochs run and the result counts as
    converged. Raises ``ValueError`` when the weights become NaN or infinite.
    """
    X = _row_layout(problem.X)
    n, d = X.shape
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
        state = SGDState(coef=np.array(w0, dtype=np.float64), intercept=float(b0))
    if state.coef_avg is None:
        state.coef_avg = state.coef.copy()
        state.intercept_avg = state.intercept
    eta0 = min(state.eta0, _initial_step(problem, X, s_train, learning_rate, l2, n_train))
    state.eta0 = eta0
    if learning_rate == "auto":
        decay, power = batch_size / n_shared, AUTO_POWER
    else:
        decay, power = 0.0, 0.0
    n_blocks = _block_count(X, batch_size, problem.n_blocks)

    if sp.issparse(X):
        epoch_kernel = sgd_epoch_csr
        data_args = (X.data, X.indices, X.indptr)
        layout_args = (float(MIN_WEIGHT_SCALE),)
    else:
        epoch_kernel = sgd_epoch_dense
        data_args = (X,)
        layout_args = ()

    w = state.coef
    b = state.intercept if problem.fit_intercept else 0.0
    grad = np.empty(d + 1)
    z = np.empty(n)
    zeros = np.zeros(n)
    # The first epoch of a fresh "auto" run is checked: see AUTO_MAX_HALVINGS.
    guarded = learning_rate == "auto" and state.n_steps == 0
    if guarded:
        start_value, _ = _objectives(problem, w, b, s_train, s_valid, grad, z, zeros)
        start_w, start_b = w.copy(), b
    history = []
    best_score = math.inf
    best = None
    epochs_without_improvement = 0
    converged = not check_convergence
    n_iter = 0
    for epoch in range(1, max_iter + 1):
        order = rng.permutation(train_rows) if shuffle else train_rows
        order = order.astype(np.int64)
        # Averaging starts with the second epoch, once the iterates are near the optimum.
        averaging = bool(average) and state.n_epochs >= 1
        for halving in range(AUTO_MAX_HALVINGS + 1):
            b, b_avg, n_steps, avg_count = epoch_kernel(
                *data_args, problem.y, problem.s, order, w, float(b),
                bool(problem.fit_intercept), float(problem.alpha), float(l1), float(l2),
                float(eta0), float(decay), float(power), int(state.n_steps), int(batch_size),
                n_blocks, *layout_args, averaging, state.coef_avg,
                float(state.intercept_avg), int(state.avg_count),
            )
            if not (guarded and epoch == 1 and halving < AUTO_MAX_HALVINGS):
                break
            value, _ = _objectives(problem, w, b, s_train, s_valid, grad, z, zeros)
            if value <= start_value:
                break
            # The objective rose (or became NaN): restart the epoch with half the step.
            w[:] = start_w
            b = start_b
            eta0 *= 0.5
            state.eta0 = eta0
        state.n_steps, state.intercept_avg, state.avg_count = n_steps, b_avg, avg_count
        state.n_epochs += 1
        state.intercept = b
        n_iter = epoch
        if not (np.all(np.isfinite(w)) and math.isfinite(b)):
            raise ValueError(
                f"SGD diverged: the weights became NaN or infinite in epoch {epoch} (step "
                f"size {eta0:.3g}). {DIVERGENCE_ADVICE}"
            )

        coef, intercept = _fitted_weights(state, averaging)
        value, valid_loss = _objectives(problem, coef, intercept, s_train, s_valid, grad, z,
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
                best = (coef.copy(), intercept, value)
        if epochs_without_improvement >= n_iter_no_change:
            converged = True
            break

    coef, intercept = _fitted_weights(state, bool(average) and state.avg_count > 0)
    if best is not None:
        # With a validation set, the weights with the lowest validation loss are returned.
        coef, intercept, value = best
        if history[-1] != value:
            history.append(value)
    message = "" if converged else (
        f"the objective still changed by more than tol={tol} relative in the last "
        f"{n_iter_no_change} epochs"
    )
    result = SGDResult(np.ascontiguousarray(coef), float(intercept), n_iter, history, converged,
                       message)
    result.state = state
    return result


def _fitted_weights(state, averaging):
    if averaging:
        return state.coef_avg.copy(), state.intercept_avg
    return state.coef.copy(), state.intercept


def _objectives(problem, w, b, s_train, s_valid, grad, z, zeros):
    """Return the objective on the training rows and the data term on the validation rows.

    One fused pass computes the margins of every row; the two sums then cost O(n).
    """
    if s_valid is None:
        loss = problem.loss_grad(w, b, grad, z)
        return loss + problem.penalty(w), None
    problem.loss_grad(w, b, grad, z)
    alpha, n_blocks = problem.alpha, problem.n_blocks
    loss = K.loss_along_direction(z, zeros, 0.0, problem.y, s_train, alpha, n_blocks)
    valid_loss = K.loss_along_direction(z, zeros, 0.0, problem.y, s_valid, alpha, n_blocks)
    return loss + problem.penalty(w), valid_loss
