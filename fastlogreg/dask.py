"""Logistic regression on Dask collections, fitted on a ``dask.distributed`` cluster.

``LogisticRegression`` here takes the parameters of ``fastlogreg.LogisticRegression`` and
minimises the same objective, but ``fit`` takes a ``dask.array`` (dense chunks or
scipy.sparse chunks) or a ``dask.dataframe``. The rows stay on the workers:

1. X, y and the sample weights are persisted once, split into the same blocks of rows, each
   block with all columns. One task per block then validates it and keeps it, as the kernels
   take it, in the memory of its worker.
2. Each solver iteration sends (w, b) to every block and runs the fused loss-and-gradient
   kernel there, and for the Newton methods also the (d + 1) x (d + 1) Hessian. The client
   sums the results of the blocks in block order and takes the solver step. Only vectors of
   length n_features + 1, and the Hessians, travel.

The solvers are chosen as in the in-memory estimator. L2 or no penalty: Newton with a
Cholesky solve up to ``NEWTON_MAX_FEATURES`` features, L-BFGS above. L1 and elastic net:
proximal Newton with coordinate descent on the gathered Hessian up to
``NEWTON_MAX_FEATURES`` features, FISTA above. The proximal methods give exact zeros.

``solver="sgd"`` runs SGD with parameter mixing instead. In each epoch every block runs one
epoch of the in-memory SGD (``solve_sgd``) on its own rows, starting from the current
(w, b). The client then sets (w, b) to the mean of the blocks' results, weighted by their
sums of sample weights, and one distributed pass computes the exact objective there. This
approximates the in-memory SGD and does not equal it: a block takes only its own rows'
steps per epoch (n_k / batch_size of them, not n / batch_size), and the mean of the
blocks' weights is not an SGD iterate.

The blocks are kept as futures whose tasks Dask can run again: when a worker dies, the
scheduler recomputes its blocks from the graph of the input collections on the remaining
workers, and the fit goes on. Every block's result depends only on its rows and on
``n_jobs``, and the client sums the blocks in a fixed order, so the fitted model does not
depend on which worker ran which block.
"""

import contextlib
import math
import numbers
import threading
import warnings

import numba
import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted

try:
    import dask
    import dask.array as da
    import dask.dataframe as dd
    from distributed import default_client, futures_of
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fastlogreg.dask needs dask and distributed; install them with "
        "pip install 'fastlogreg[dask]'."
    ) from error

from . import _kernels as K
from ._estimator import (
    NEWTON_MAX_FEATURES,
    LogisticRegression as _LocalLogisticRegression,
    _numba_threads,
    _stored_entries,
    _verbose_logging,
)
from ._kernels._jit import jit
from ._kernels.cd import _model_violation
from ._kernels.penalty import soft_threshold
from .solvers import Problem, SolverResult, solve_lbfgs
from .solvers._problem import ARMIJO, MAX_HALVINGS, NOISE, log_iteration
from .solvers.cd import MAX_INNER_SWEEPS, WORKING_SET_MARGIN
from .solvers.newton import _newton_direction
from .solvers.sgd import SGDState, solve_sgd

__all__ = ["LogisticRegression"]

# (w, b) vectors larger than this many bytes are scattered to every worker once per
# evaluation instead of being copied into each block's task.
BROADCAST_MIN_BYTES = 1 << 20

# FISTA: the factor by which the Lipschitz estimate grows after a failed sufficient-decrease
# test, and shrinks before each iteration so that the step can grow again.
FISTA_BACKTRACK = 2.0
FISTA_RELAX = 0.9

_KERNEL_LOCK = threading.Lock()


# ---------------------------------------------------------------------- worker side


class _Partition:
    """One block of rows on a worker: X as the kernels take it, labels 0/1 and weights s."""

    __slots__ = ("X", "y", "s")

    def __init__(self, X, y, s):
        self.X = X
        self.y = y
        self.s = s

    def __getstate__(self):
        return (self.X, self.y, self.s)

    def __setstate__(self, state):
        self.X, self.y, self.s = state


def _kernel_guard():
    """Return a context that serialises kernel calls when Numba's threading layer needs it.

    Numba's "workqueue" layer aborts the process when two threads launch parallel kernels at
    once, and a Dask worker with several threads runs several tasks at once. Before the
    first parallel launch in a process the layer is not known yet, so that launch is
    serialised too.
    """
    try:
        thread_safe = numba.threading_layer() != "workqueue"
    except ValueError:  # no parallel kernel has run in this process yet
        thread_safe = False
    return contextlib.nullcontext() if thread_safe else _KERNEL_LOCK


def _task_threads(n_jobs):
    # Dask already runs one task per worker thread, so by default a task takes one thread.
    return 1 if n_jobs is None else n_jobs


def _block_labels(y_block):
    """Return the sorted labels of one block of y and their counts."""
    return np.unique(np.asarray(y_block).ravel(), return_counts=True)


def _prepare_partition(index, X_block, y_block, weight_block, classes, class_weights,
                       row_layout=False):
    """Validate one block of rows and return it as a ``_Partition``.

    Dense float32 and float64 blocks in C or F order and CSR or CSC blocks are kept without a
    copy; other dtypes become float64 and other sparse formats CSR. With ``row_layout`` (for
    SGD, whose kernels read rows) F-ordered blocks become C-ordered and CSC blocks become CSR
    with sorted indices, once here instead of in every epoch.
    """
    try:
        X = check_array(
            X_block, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32],
            accept_large_sparse=True, ensure_min_samples=0, input_name="X",
        )
    except ValueError as error:
        raise ValueError(f"row block {index} of X is invalid: {error}") from error
    if not sp.issparse(X) and not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    if row_layout:
        X = _row_layout(X)

    y = np.asarray(y_block).ravel()
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(
            f"row block {index} has {n} rows in X and {y.shape[0]} in y; X and y must be "
            "split into the same row chunks (for a dask array, y.rechunk({0: X.chunks[0]}))."
        )
    y_encoded = np.searchsorted(classes, y)
    if n and not np.array_equal(classes[np.minimum(y_encoded, classes.shape[0] - 1)], y):
        raise ValueError(
            f"row block {index} of y contains labels outside {classes.tolist()}: the block "
            "changed between two computations of the same graph."
        )

    if weight_block is None:
        s = np.ones(n)
    else:
        s = np.asarray(weight_block, dtype=np.float64)
        if s.ndim == 0:
            s = np.full(n, float(s))
        if s.shape != (n,):
            raise ValueError(
                f"row block {index} has {n} rows in X and {s.shape[0]} in sample_weight; "
                "they must be split into the same row chunks."
            )
        if not np.all(np.isfinite(s)):
            raise ValueError(
                f"row block {index} of sample_weight contains NaN or infinity; pass finite "
                "weights."
            )
        if np.any(s < 0):
            raise ValueError(
                f"row block {index} of sample_weight contains negative values (min "
                f"{s.min()!r}); weights must be non-negative."
            )
        s = s.copy()
    if class_weights is not None:
        s *= class_weights[y_encoded]
    return _Partition(X, y_encoded.astype(np.float64), s)


def _partition_stats(part):
    """Return (rows, sum of weights, sum of weights of the positive class) of a block."""
    return part.X.shape[0], float(part.s.sum()), float(part.s @ part.y)


def _block_problem(part, alpha, n_threads):
    return Problem(part.X, part.y, part.s, alpha=alpha, l1=0.0, l2=0.0, fit_intercept=True,
                   n_blocks=max(1, min(n_threads, part.X.shape[0])))


def _partition_loss_grad(part, w, b, alpha, n_jobs):
    """Return the data term of one block at (w, b) and its gradient (length d + 1)."""
    with _kernel_guard(), _numba_threads(_task_threads(n_jobs), _stored_entries(part.X)) as n:
        problem = _block_problem(part, alpha, n)
        grad = np.empty(problem.n_features + 1)
        z = np.empty(problem.n_samples)
        loss = problem.loss_grad(w, b, grad, z)
    return loss, grad


def _partition_hessian(part, w, b, alpha, n_jobs):
    """Return the (d + 1) x (d + 1) Hessian of one block's data term at (w, b)."""
    with _kernel_guard(), _numba_threads(_task_threads(n_jobs), _stored_entries(part.X)) as n:
        problem = _block_problem(part, alpha, n)
        z = problem.matvec(w) + b
        return problem.hessian(problem.curvature(z))


def _row_layout(X):
    """Return X as C-ordered dense or CSR with sorted indices, the layouts SGD reads."""
    if sp.issparse(X):
        X = X.tocsr()
        return X if X.has_sorted_indices else X.sorted_indices()
    return np.ascontiguousarray(X)


def _partition_sgd_epoch(part, index, seed, n_steps, eta0, avg_count, penalty_share, w, b,
                         w_avg, b_avg, n_epochs, problem_args, sgd_options, n_jobs):
    """Run one SGD epoch on one block from (w, b) and return the block's new weights.

    ``problem_args`` are ``(alpha, l1, l2, fit_intercept)`` of the whole objective. The block
    minimises its data term plus ``penalty_share`` (its share of the sample weights) times
    the penalty, shared over its rows. When the blocks have the same mean weight, each step
    then applies the per-sample penalty of the whole problem. ``n_steps``, ``eta0``,
    ``avg_count`` and ``n_epochs`` continue the block's step schedule and running mean.
    Returns ``(w, b, w_avg, b_avg, eta0, avg_count)``, with ``w_avg`` None unless
    ``sgd_options["average"]`` is set.
    """
    # NOTE: solve_sgd also computes the block's objective after the epoch, and before it in
    # a fresh "auto" run, which the mixing does not use. So each epoch reads the block two
    # or three times, plus once for the exact objective at the mixed weights.
    alpha, l1, l2, fit_intercept = problem_args
    average = bool(sgd_options.get("average"))
    # Copies, because solve_sgd updates the state's arrays in place and a worker in the
    # client's process receives the client's arrays themselves.
    state = SGDState(
        coef=np.array(w, dtype=np.float64), intercept=float(b), n_steps=int(n_steps),
        eta0=float(eta0), avg_count=int(avg_count), n_epochs=int(n_epochs),
        coef_avg=np.array(w_avg, dtype=np.float64) if average else None,
        intercept_avg=float(b_avg),
    )
    with _kernel_guard(), _numba_threads(_task_threads(n_jobs), _stored_entries(part.X)) as n:
        problem = Problem(part.X, part.y, part.s, alpha=alpha, l1=l1 * penalty_share,
                          l2=l2 * penalty_share, fit_intercept=fit_intercept,
                          n_blocks=max(1, min(n, part.X.shape[0])))
        try:
            result = solve_sgd(problem, state.coef, state.intercept, 0.0, 1, 0, state=state,
                               random_state=seed, n_samples_total=part.X.shape[0],
                               **sgd_options)
        except ValueError as error:
            raise ValueError(
                f"SGD failed on row block {index} in epoch {n_epochs + 1}: {error}"
            ) from error
    state = result.state
    return (state.coef, state.intercept, state.coef_avg if average else None,
            state.intercept_avg, state.eta0, state.avg_count)


# ---------------------------------------------------------------------- client side


class _DistributedObjective:
    """The objective of one fit, evaluated block by block on the workers.

    ``bytes_sent`` and ``bytes_received`` count the payload of (w, b), the gradients and the
    Hessians from their array sizes; task metadata and protocol overhead are not counted.
    """

    def __init__(self, client, partitions, n_features, alpha, l1, l2, fit_intercept, n_jobs,
                 grad_scale):
        self.client = client
        self.partitions = partitions
        self.n_features = n_features
        self.alpha = alpha
        self.l1 = l1
        self.l2 = l2
        self.fit_intercept = fit_intercept
        self.n_jobs = n_jobs
        self.grad_scale = grad_scale
        # solve_lbfgs sizes its margin buffer with n_samples; the margins stay on the workers.
        self.n_samples = 0
        self.n_passes = 0
        self.n_hessians = 0
        self.bytes_sent = 0
        self.bytes_received = 0

    def send_vector(self, w):
        """Return w as a task argument: a future on every worker when it is large, else w."""
        if w.nbytes >= BROADCAST_MIN_BYTES:
            return self.client.scatter(w, broadcast=True, hash=False)
        return w

    def _map(self, function, w, b):
        w = np.ascontiguousarray(w, dtype=np.float64)
        argument = self.send_vector(w)
        futures = self.client.map(function, self.partitions, w=argument, b=float(b),
                                  alpha=self.alpha, n_jobs=self.n_jobs, pure=False)
        self.bytes_sent += len(self.partitions) * (w.nbytes + 8)
        # gather returns the results in block order, so the sums below are deterministic.
        return self.client.gather(futures)

    def loss_grad(self, w, b):
        """Return the data term at (w, b) and its gradient, with the intercept's zeroed when
        the intercept is not fitted."""
        results = self._map(_partition_loss_grad, w, b)
        d = self.n_features
        self.n_passes += 1
        self.bytes_received += len(results) * 8 * (d + 2)
        loss = 0.0
        grad = np.zeros(d + 1)
        for part_loss, part_grad in results:
            loss += part_loss
            grad += part_grad
        if not self.fit_intercept:
            grad[d] = 0.0
        return loss, grad

    def hessian(self, w, b):
        results = self._map(_partition_hessian, w, b)
        d = self.n_features
        self.n_hessians += 1
        self.bytes_received += len(results) * 8 * (d + 1) ** 2
        H = np.zeros((d + 1, d + 1))
        for part_hessian in results:
            H += part_hessian
        return H

    def penalty(self, w):
        return K.penalty_value(w, self.l1, self.l2)

    def objective_grad(self, w, b, grad, z):
        """Return the full objective; write its gradient (L2 term included) into ``grad``.

        The signature is ``Problem.objective_grad``'s, so that ``solve_lbfgs`` runs on it;
        ``z`` is unused because the margins stay on the workers. Only for ``l1 == 0``.
        """
        loss, data_grad = self.loss_grad(w, b)
        grad[:] = data_grad
        return loss + K.add_l2(w, self.l2, grad)


# NOTE: this kernel runs on the client on the gathered Hessian. It lives here, not in
# fastlogreg/_kernels/, only because this module was added without touching the kernels.
@jit
def _cd_quadratic(H, grad, w, l1, l2, fit_intercept, active, max_sweeps, inner_tol, delta):
    """Minimise the proximal Newton model over the step ``delta`` by coordinate descent.

    The model is ``grad . delta + 1/2 delta' H delta + l2 / 2 ||w + dw||^2 + l1 ||w + dw||_1``,
    with ``dw = delta[:d]``, ``H`` the (d + 1) x (d + 1) Hessian of the data term and
    ``grad`` its gradient, the intercept last. The intercept gets an exact unpenalized
    update before each sweep and after each coordinate, as in the in-memory coordinate
    descent. Returns the number of sweeps made.
    """
    d = w.shape[0]
    h_delta = np.zeros(d + 1)
    hb = H[d, d]
    update_b = fit_intercept and hb > 0.0
    for sweep in range(max_sweeps):
        if update_b:
            change = -(grad[d] + h_delta[d]) / hb
            delta[d] += change
            for k in range(d + 1):
                h_delta[k] += change * H[k, d]
        worst = 0.0
        for a in range(active.shape[0]):
            j = active[a]
            curvature = H[j, j] + l2
            if curvature <= 0.0:
                continue
            old = w[j] + delta[j]
            g = grad[j] + h_delta[j] + l2 * old
            worst = max(worst, _model_violation(g, old, l1))
            change = soft_threshold(old - g / curvature, l1 / curvature) - old
            if change != 0.0:
                delta[j] += change
                for k in range(d + 1):
                    h_delta[k] += change * H[k, j]
                if update_b:
                    change_b = -(grad[d] + h_delta[d]) / hb
                    delta[d] += change_b
                    for k in range(d + 1):
                        h_delta[k] += change_b * H[k, d]
        if worst <= inner_tol:
            return sweep + 1
    return max_sweeps


def _newton_step(objective, H, grad, w, violation, threshold):
    """Return the Newton direction (Cholesky) for an objective without an L1 term."""
    d = objective.n_features
    H = H.copy()
    H[np.arange(d), np.arange(d)] += objective.l2
    full_grad = grad.copy()
    full_grad[:d] += objective.l2 * w
    if not objective.fit_intercept:
        H[d, :] = 0.0
        H[:, d] = 0.0
        H[d, d] = 1.0
    direction = _newton_direction(H, full_grad)
    if not float(full_grad @ direction) < 0.0:
        direction = -full_grad
    return direction


def _proximal_newton_step(objective, H, grad, w, violation, threshold):
    """Return the proximal Newton step from coordinate descent on the quadratic model."""
    l1, l2 = objective.l1, objective.l2
    smooth = grad[:-1] + l2 * w
    active = np.flatnonzero((w != 0.0) | (np.abs(smooth) > WORKING_SET_MARGIN * l1))
    delta = np.zeros(objective.n_features + 1)
    _cd_quadratic(H, grad, w, l1, l2, objective.fit_intercept, active.astype(np.int64),
                  MAX_INNER_SWEEPS, max(0.1 * violation, 0.1 * threshold), delta)
    return delta


def _line_search(objective, w, b, delta, value, slope):
    """Return ``(step, w, b, value, grad)`` at the step chosen by Armijo backtracking.

    The rule is ``solvers._problem.backtrack``'s, but each trial is one distributed pass
    whose gradient is kept, so an accepted first trial costs no extra pass. Returns a step
    of 0 with the inputs when no step decreases the objective.

    NOTE: a halving costs a full pass over the data, where the in-memory search costs O(n),
    so a search that halves many times (up to MAX_HALVINGS) is slow.
    """
    d = objective.n_features
    step = 1.0
    for _ in range(MAX_HALVINGS):
        w_trial = w + step * delta[:d]
        b_trial = b + step * delta[d]
        loss, grad = objective.loss_grad(w_trial, b_trial)
        trial = loss + objective.penalty(w_trial)
        if trial <= value + ARMIJO * step * slope or (
                step == 1.0 and trial - value <= NOISE * abs(value)):
            return step, w_trial, b_trial, trial, grad
        step *= 0.5
    return 0.0, w, b, value, None


def _solve_second_order(objective, w0, b0, tol, max_iter, verbose, name, direction_of):
    """Run Newton (``_newton_step``) or proximal Newton (``_proximal_newton_step``)."""
    d = objective.n_features
    l1, l2 = objective.l1, objective.l2
    w = np.array(w0, dtype=np.float64)
    b = float(b0)
    threshold = tol * objective.grad_scale
    history = []

    loss, grad = objective.loss_grad(w, b)
    value = loss + objective.penalty(w)
    for iteration in range(1, max_iter + 1):
        violation = K.min_norm_subgradient(w, grad, l1, l2)
        if violation <= threshold:
            return SolverResult(w, b, iteration - 1, history, True), value

        H = objective.hessian(w, b)
        delta = direction_of(objective, H, grad, w, violation, threshold)
        w_full = w + delta[:d]
        slope = (float(grad @ delta) + l2 * float(w @ delta[:d])
                 + l1 * (np.abs(w_full).sum() - np.abs(w).sum()))
        if not slope < 0.0:
            history.append(value)
            return SolverResult(w, b, iteration, history, violation <= 10 * threshold,
                                "the step is not a descent direction"), value

        step, w, b, value, new_grad = _line_search(objective, w, b, delta, value, slope)
        if step == 0.0:
            history.append(value)
            return SolverResult(w, b, iteration, history, violation <= 10 * threshold,
                                "the line search found no decrease"), value
        grad = new_grad
        history.append(value)
        log_iteration(verbose, name, iteration, value, violation)

    converged = K.min_norm_subgradient(w, grad, l1, l2) <= threshold
    return SolverResult(w, b, max_iter, history, converged), value


def _solve_fista(objective, w0, b0, tol, max_iter, verbose):
    """Run FISTA with backtracking and restarts, for L1 and elastic net with many features.

    The smooth part is the data term; the proximal step applies the whole penalty
    (``prox_elastic_net``), and the intercept takes a plain gradient step. When an iterate
    would increase the objective, the momentum is reset and the step is taken again from the
    last iterate, so the objective never increases. Each iteration costs two distributed
    passes, plus one per halving of the step.
    """
    d = objective.n_features
    l1, l2 = objective.l1, objective.l2
    fit_b = objective.fit_intercept
    threshold = tol * objective.grad_scale
    history = []

    x = np.append(np.asarray(w0, dtype=np.float64), b0 if fit_b else 0.0)
    loss_x, grad_x = objective.loss_grad(x[:d], x[d])
    value_x = loss_x + objective.penalty(x[:d])
    if K.min_norm_subgradient(x[:d], grad_x, l1, l2) <= threshold:
        return SolverResult(x[:d], float(x[d]), 0, history, True), value_x

    # First Lipschitz estimate: the secant of the gradient along a short gradient step.
    probe = x - grad_x * (1e-3 / max(np.linalg.norm(grad_x), 1e-300))
    _, grad_probe = objective.loss_grad(probe[:d], probe[d])
    lipschitz = max(np.linalg.norm(grad_probe - grad_x) / np.linalg.norm(probe - x), 1e-12)

    y, loss_y, grad_y = x, loss_x, grad_x
    t = 1.0
    proximal = np.empty(d)
    for iteration in range(1, max_iter + 1):
        lipschitz *= FISTA_RELAX
        while True:
            step = 1.0 / lipschitz
            K.prox_elastic_net(y[:d] - step * grad_y[:d], step, l1, l2, proximal)
            x_new = np.append(proximal, y[d] - step * grad_y[d] if fit_b else 0.0)
            loss_new, grad_new = objective.loss_grad(x_new[:d], x_new[d])
            diff = x_new - y
            bound = loss_y + float(grad_y @ diff) + 0.5 * lipschitz * float(diff @ diff)
            if loss_new <= bound + NOISE * abs(loss_y):
                break
            lipschitz *= FISTA_BACKTRACK
        value_new = loss_new + objective.penalty(x_new[:d])

        if value_new > value_x:
            # Restart: drop the momentum and take a plain proximal gradient step from x.
            t = 1.0
            y, loss_y, grad_y = x, loss_x, grad_x
            history.append(value_x)
            continue

        t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        y = x_new + ((t - 1.0) / t_next) * (x_new - x)
        x, loss_x, grad_x, value_x = x_new, loss_new, grad_new, value_new
        t = t_next
        history.append(value_x)
        violation = K.min_norm_subgradient(x[:d], grad_x, l1, l2)
        log_iteration(verbose, "fista", iteration, value_x, violation)
        if violation <= threshold:
            return SolverResult(x[:d].copy(), float(x[d]), iteration, history, True), value_x
        loss_y, grad_y = objective.loss_grad(y[:d], y[d])

    converged = K.min_norm_subgradient(x[:d], grad_x, l1, l2) <= threshold
    return SolverResult(x[:d].copy(), float(x[d]), max_iter, history, converged), value_x


def _block_seed(base_seed, epoch, block_index):
    """Return the SGD seed of one block in one epoch, drawn from (base_seed, epoch, block)."""
    sequence = np.random.SeedSequence([int(base_seed), int(epoch), int(block_index)])
    return int(sequence.generate_state(1)[0])


def _solve_sgd_mixing(objective, block_indices, block_rows, block_weights, w0, b0, tol,
                      max_iter, n_iter_no_change, verbose, base_seed, sgd_options):
    """Run SGD with parameter mixing over the blocks of ``objective.partitions``.

    Each epoch runs one SGD epoch on every block from the same (w, b). It then sets (w, b)
    to the mean of the blocks' results weighted by ``block_weights`` (each block's sum of
    sample weights) and evaluates the exact objective there with one distributed pass. The
    stopping rule is ``solve_sgd``'s without a validation set. ``block_indices`` (the
    blocks' positions in the input) and the epoch number seed each block's row order.
    Returns ``(SolverResult, final objective)``.
    """
    client = objective.client
    partitions = objective.partitions
    d = objective.n_features
    shares = np.asarray(block_weights, dtype=np.float64)
    shares /= shares.sum()
    average = bool(sgd_options["average"])
    batch_size = sgd_options["batch_size"]
    problem_args = (objective.alpha, objective.l1, objective.l2, objective.fit_intercept)
    vectors_per_block = 2 if average else 1

    w = np.array(w0, dtype=np.float64)
    b = float(b0) if objective.fit_intercept else 0.0
    w_avg, b_avg = w.copy(), b
    # Per block: the step size after the first epoch's halvings, and the averaged steps.
    eta0 = [math.inf] * len(partitions)
    avg_counts = [0] * len(partitions)
    history = []
    best_value = math.inf
    epochs_without_improvement = 0
    converged = False
    n_iter = 0
    for epoch in range(max_iter):
        # The "auto" schedule counts passes over a block's rows, so every block starts
        # epoch e at e passes, as the in-memory solver does.
        n_steps = [epoch * math.ceil(rows / batch_size) for rows in block_rows]
        seeds = [_block_seed(base_seed, epoch, index) for index in block_indices]
        futures = client.map(
            _partition_sgd_epoch, partitions, block_indices, seeds, n_steps, eta0, avg_counts,
            shares, w=objective.send_vector(w), b=b,
            w_avg=objective.send_vector(w_avg) if average else None, b_avg=b_avg,
            n_epochs=epoch, problem_args=problem_args,
            sgd_options=sgd_options, n_jobs=objective.n_jobs, pure=False,
        )
        results = client.gather(futures)
        objective.bytes_sent += len(partitions) * vectors_per_block * (w.nbytes + 8)
        objective.bytes_received += len(partitions) * vectors_per_block * 8 * (d + 1)

        # The sums run in block order, so the same seeds give the same model.
        w = np.zeros(d)
        b = 0.0
        w_avg = np.zeros(d)
        b_avg = 0.0
        for block, (share, result) in enumerate(zip(shares, results)):
            block_w, block_b, block_w_avg, block_b_avg, eta0[block], avg_counts[block] = result
            w += share * block_w
            b += share * block_b
            if average:
                w_avg += share * block_w_avg
                b_avg += share * block_b_avg
        n_iter = epoch + 1
        if not (np.all(np.isfinite(w)) and math.isfinite(b)):
            raise ValueError(
                f"SGD diverged: the mixed weights became NaN or infinite in epoch {n_iter}. "
                "Scale the features (for example with sklearn.preprocessing.StandardScaler) "
                "or use a smaller constant learning_rate."
            )

        # As in memory, averaging starts with the second epoch.
        model_w, model_b = (w_avg, b_avg) if average and epoch >= 1 else (w, b)
        loss, _ = objective.loss_grad(model_w, model_b)
        value = loss + objective.penalty(model_w)
        history.append(value)
        log_iteration(verbose, "sgd", n_iter, value, float("nan"))

        if value > best_value - tol * abs(best_value):
            epochs_without_improvement += 1
        else:
            epochs_without_improvement = 0
        best_value = min(best_value, value)
        if epochs_without_improvement >= n_iter_no_change:
            converged = True
            break

    message = "" if converged else (
        f"the objective still changed by more than tol={tol} relative in the last "
        f"{n_iter_no_change} epochs"
    )
    result = SolverResult(model_w.copy(), float(model_b), n_iter, history, converged, message)
    return result, history[-1]


# ---------------------------------------------------------------------- input handling


def _is_dask_collection(value):
    return dask.is_dask_collection(value)


def _resolve_client(client):
    if client is not None:
        return client
    try:
        return default_client()
    except ValueError as error:
        raise ValueError(
            "fastlogreg.dask needs a dask.distributed Client: create one first, for example "
            "distributed.Client(distributed.LocalCluster()) or "
            "distributed.Client('tcp://scheduler:8786'), or pass client= to fit."
        ) from error


def _as_dask_matrix(X):
    """Return X as a 2-d dask array and its string column names, or None."""
    feature_names = None
    if isinstance(X, dd.DataFrame):
        columns = list(X.columns)
        if columns and all(isinstance(name, str) for name in columns):
            feature_names = np.asarray(columns, dtype=object)
        X = X.to_dask_array()
    elif isinstance(X, dd.Series):
        raise ValueError(
            "X is a dask Series; pass a 2-d dask array or a dask DataFrame, for example "
            "X.to_frame()."
        )
    elif not isinstance(X, da.Array):
        raise TypeError(
            f"X must be a dask.array.Array or dask.dataframe.DataFrame, got "
            f"{type(X).__name__}; use fastlogreg.LogisticRegression for in-memory data, or "
            "wrap it with dask.array.from_array."
        )
    if X.ndim != 2:
        raise ValueError(f"X must be 2-d (n_samples, n_features), got shape {X.shape}.")
    if X.dtype.kind not in "biuf":
        raise ValueError(
            f"X has dtype {X.dtype}; fastlogreg.dask needs numeric features (bool, int or "
            "float)."
        )
    if X.numblocks[1] > 1:
        if any(math.isnan(size) for size in X.chunks[0]):
            raise ValueError(
                "X has unknown row chunk sizes and several column chunks; call "
                "X.compute_chunk_sizes() first, so that the columns can be joined."
            )
        # Each block of rows must contain all columns for the fused kernels.
        X = X.rechunk({1: -1})
    return X, feature_names


def _as_dask_vector(values, name, X):
    """Return y or sample_weight as a 1-d dask array with the row blocks of X."""
    if isinstance(values, dd.DataFrame):
        if len(values.columns) != 1:
            raise ValueError(f"{name} is a DataFrame with {len(values.columns)} columns; "
                             "pass one column.")
        values = values[values.columns[0]]
    if isinstance(values, dd.Series):
        with warnings.catch_warnings():
            # Labels of pandas' string dtype become an object array, which np.unique sorts.
            warnings.filterwarnings("ignore", message=".*extension dtypes to arrays",
                                    category=UserWarning)
            values = values.to_dask_array()
    elif not isinstance(values, da.Array):
        values = np.asarray(values)
        if values.ndim == 0:
            return values
        if values.ndim != 1:
            raise ValueError(f"{name} must be 1-d, got shape {values.shape}.")
        if any(math.isnan(size) for size in X.chunks[0]):
            raise ValueError(
                f"{name} is an in-memory array and X has unknown row chunk sizes; pass {name} "
                "as a dask collection split like X, or call X.compute_chunk_sizes()."
            )
        if values.shape[0] != X.shape[0]:
            raise ValueError(
                f"{name} has {values.shape[0]} entries and X has {X.shape[0]} rows."
            )
        return da.from_array(values, chunks=(X.chunks[0],))
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got shape {values.shape}.")

    if values.numblocks[0] != X.numblocks[0]:
        raise ValueError(
            f"X has {X.numblocks[0]} row chunks and {name} has {values.numblocks[0]}; split "
            f"them the same way, for example {name}.rechunk({{0: X.chunks[0]}})."
        )
    known = not any(math.isnan(size) for size in X.chunks[0] + values.chunks[0])
    if known and values.chunks[0] != X.chunks[0]:
        raise ValueError(
            f"X and {name} have different row chunks, {X.chunks[0]} and {values.chunks[0]}; "
            f"split them the same way, for example {name}.rechunk({{0: X.chunks[0]}})."
        )
    return values


def _row_block_futures(collection):
    """Return the futures of a persisted collection's blocks, one per block of rows."""
    futures = {future.key: future for future in futures_of(collection)}
    keys = collection.__dask_keys__()
    if collection.ndim == 2:
        keys = [row[0] for row in keys]
    return [futures[key] for key in keys]


def _class_weight_array(class_weight, classes, counts):
    """Return the weight of each class in ``classes``, as the in-memory estimator sets it."""
    if class_weight is None:
        return None
    if isinstance(class_weight, str):  # "balanced", checked by _check_params
        return counts.sum() / (classes.shape[0] * counts.astype(np.float64))
    unknown = set(class_weight) - set(classes.tolist())
    if unknown:
        raise ValueError(
            f"class_weight has labels {sorted(map(str, unknown))} that are not in the "
            f"training labels {classes.tolist()}."
        )
    return np.array([float(class_weight.get(label, 1.0)) for label in classes.tolist()])


# ---------------------------------------------------------------------- prediction blocks


def _decision_block(X_block, coef, intercept):
    X = check_array(X_block, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32],
                    accept_large_sparse=True, ensure_min_samples=0, input_name="X")
    if X.dtype == np.float32:
        # Keeps float32 X from being upcast (copied) by the product, as in memory.
        coef = coef.astype(np.float32)
    return np.asarray(X @ coef, dtype=np.float64).ravel() + intercept


def _label_block(scores, classes):
    return classes[(scores > 0).astype(np.intp)]


def _proba_block(scores):
    positive = np.empty_like(scores)
    negative = np.empty_like(scores)
    K.sigmoid_array(scores, positive)
    K.sigmoid_array(-scores, negative)
    return np.column_stack([negative, positive])


def _log_proba_block(scores):
    log_positive = np.empty_like(scores)
    log_negative = np.empty_like(scores)
    K.log1pexp_array(-scores, log_positive)
    K.log1pexp_array(scores, log_negative)
    return -np.column_stack([log_negative, log_positive])


def _block_matches(predicted, expected, weights):
    """Return (weighted number of correct predictions, total weight) of one block."""
    expected = np.asarray(expected).ravel()
    weights = np.ones(expected.shape[0]) if weights is None else np.asarray(weights).ravel()
    return float(weights @ (np.asarray(predicted) == expected)), float(weights.sum())


# ---------------------------------------------------------------------- estimator


class LogisticRegression(_LocalLogisticRegression):
    """Logistic regression fitted on Dask collections with a ``dask.distributed`` cluster.

    The parameters, the objective and the fitted attributes are those of
    ``fastlogreg.LogisticRegression``, with these differences:

    - ``fit`` takes a ``dask.array`` with dense or scipy.sparse chunks, or a
      ``dask.dataframe.DataFrame``, and runs on the active ``distributed.Client`` or on the
      ``client`` passed to it. Two classes only.
    - ``solver``: ``"newton"`` (Newton with a Cholesky solve), ``"lbfgs"`` and ``"cd"``
      (proximal Newton with coordinate descent on the client), as in memory. ``"auto"``
      takes Newton or ``"cd"`` up to ``NEWTON_MAX_FEATURES`` (500) features, because their
      Hessian of (d + 1)^2 floats per block travels to the client. Above that it takes
      L-BFGS for L2 or no penalty, and FISTA for L1 and elastic net, which needs more
      iterations. ``"cd"`` with more features also runs FISTA.
    - ``solver="sgd"``, for very large n, runs SGD over the blocks with parameter mixing. In
      each epoch every block runs one epoch of the in-memory SGD from the current (w, b) on
      its own rows, with its row order seeded from ``random_state``, the epoch and the
      block's position. The block minimises its data term plus its share (of the sample
      weights) of the penalty, so each step applies the penalty per sample as in memory.
      The client then sets (w, b) to the mean of the blocks' weights, each weighted by its
      block's sum of sample weights. With ``average=True`` it mixes the running means the
      same way. Only vectors of length n_features + 1 travel. After each epoch one
      distributed pass records the exact objective in ``loss_history_``, and the fit stops
      when it has not improved by a relative ``tol`` for ``n_iter_no_change`` epochs, with a
      ``ConvergenceWarning`` at ``max_iter``. The result approximates the in-memory SGD but
      does not equal it, because each block takes only its own rows' steps per epoch.
      Blocks should therefore hold many batches: a block of one batch takes one step per
      epoch. With 2,000 standardised rows in 4 blocks and ``batch_size=32``, 10 epochs
      reached an objective 0.2% above the exact optimum, and 20 epochs with
      ``average=True`` 0.5% (``test_sgd_near_exact_optimum`` in ``tests/test_dask.py``).
      ``validation_fraction`` is not supported and raises ``ValueError``. The same integer
      ``random_state`` and the same blocks give the same model.
    - ``n_jobs``: Numba threads per block task on its worker. None means 1, because Dask
      already runs one task per worker thread; -1 means all cores of the worker.
    - ``predict``, ``predict_proba``, ``predict_log_proba`` and ``decision_function`` return
      lazy dask arrays for Dask input, and numpy arrays for in-memory input.
    - ``partial_fit`` is not available; ``to_local()`` returns the in-memory estimator.

    Extra fitted attributes: ``n_data_passes_`` (distributed loss-and-gradient
    evaluations, for SGD one per epoch besides the epoch itself), ``n_hessians_``
    (distributed Hessian evaluations) and ``bytes_moved_`` (payload between the client and
    the workers during the solver, from the array sizes).
    """

    # ------------------------------------------------------------------ fit

    def fit(self, X, y, sample_weight=None, *, client=None):
        """Fit the model on the Dask collections X and y; return self.

        ``y`` and ``sample_weight`` (dask arrays or Series, or in-memory arrays when the row
        chunks of X are known) must be split into the same row blocks as X. ``client``: the
        ``distributed.Client`` to run on; by default the current one.
        """
        self._check_params()
        client = _resolve_client(client)
        X, feature_names = _as_dask_matrix(X)
        y = _as_dask_vector(y, "y", X)
        if y.ndim == 0:
            raise ValueError("y must be 1-d with one label per row of X, got a scalar.")
        weights = None if sample_weight is None else _as_dask_vector(sample_weight, "sample_weight", X)
        n_features = X.shape[1]
        solver = self._resolve_solver(n_features, 2)
        if self.solver == "sgd" and self.validation_fraction is not None:
            # NOTE: early stopping on held-out rows is not implemented over partitions.
            raise ValueError(
                f"validation_fraction={self.validation_fraction!r} is not supported by "
                "fastlogreg.dask with solver='sgd'; pass validation_fraction=None to stop on "
                "the training objective, or hold out rows yourself and score them."
            )

        to_persist = [X, y] + ([weights] if isinstance(weights, da.Array) else [])
        persisted = client.persist(to_persist)
        X_blocks = _row_block_futures(persisted[0])
        y_blocks = _row_block_futures(persisted[1])
        if isinstance(weights, da.Array):
            weight_blocks = _row_block_futures(persisted[2])
        else:
            weight_blocks = [weights] * len(X_blocks)
        del persisted

        classes, counts = self._gather_classes(client, y_blocks)
        self.classes_ = classes
        class_weights = _class_weight_array(self.class_weight, classes, counts)
        partitions = [
            client.submit(_prepare_partition, index, X_block, y_block, weight_block, classes,
                          class_weights, row_layout=solver == "sgd", pure=False)
            for index, (X_block, y_block, weight_block)
            in enumerate(zip(X_blocks, y_blocks, weight_blocks))
        ]
        del X_blocks, y_blocks, weight_blocks
        try:
            self._fit_partitions(client, partitions, n_features, solver)
        finally:
            client.cancel(partitions)

        self.n_features_in_ = n_features
        if feature_names is not None:
            self.feature_names_in_ = feature_names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

    @staticmethod
    def _gather_classes(client, y_blocks):
        """Return the sorted labels of all blocks of y and the number of rows of each."""
        per_block = client.gather(client.map(_block_labels, y_blocks, pure=False))
        all_labels = np.concatenate([labels for labels, _ in per_block])
        classes = np.unique(all_labels)
        check_classification_targets(classes)
        counts = np.zeros(classes.shape[0], dtype=np.int64)
        for labels, block_counts in per_block:
            counts[np.searchsorted(classes, labels)] += block_counts
        if classes.shape[0] < 2:
            raise ValueError(
                f"y contains one class ({classes[0] if classes.size else 'no rows'}); "
                "logistic regression needs samples of two classes."
            )
        if classes.shape[0] > 2:
            raise ValueError(
                f"y contains {classes.shape[0]} classes; fastlogreg.dask fits two classes "
                "only. Use fastlogreg.LogisticRegression in memory for the multinomial model."
            )
        return classes, counts

    def _fit_partitions(self, client, partitions, n_features, solver):
        stats = client.gather(client.map(_partition_stats, partitions, pure=False))
        rows = np.array([row_count for row_count, _, _ in stats])
        total_weight = sum(weight for _, weight, _ in stats)
        positive_weight = sum(positive for _, _, positive in stats)
        if not total_weight > 0:
            raise ValueError("the sample weights sum to zero; at least one must be positive.")
        # Blocks without rows add nothing to any sum, so no task is sent to them.
        non_empty = [part for part, count in zip(partitions, rows) if count > 0]

        finite_C = math.isfinite(self.C)
        alpha = float(self.C) if finite_C else 1.0
        objective = _DistributedObjective(
            client, non_empty, n_features, alpha=alpha,
            l1=float(self.l1_ratio) if finite_C else 0.0,
            l2=1.0 - float(self.l1_ratio) if finite_C else 0.0,
            fit_intercept=bool(self.fit_intercept), n_jobs=self.n_jobs,
            grad_scale=alpha * total_weight,
        )

        warm = self.warm_start and hasattr(self, "coef_") and \
            self.coef_.shape == (1, n_features)
        if warm:
            w0 = self.coef_.ravel().astype(np.float64)
            b0 = float(self.intercept_[0]) if self.fit_intercept else 0.0
        else:
            w0 = np.zeros(n_features)
            b0 = _intercept_only(positive_weight, total_weight) if self.fit_intercept else 0.0

        if solver == "cd" and n_features > NEWTON_MAX_FEATURES:
            solver = "fista"
        with _verbose_logging(self.verbose):
            if solver == "sgd":
                result, final_value = self._solve_sgd(objective, partitions, stats, w0, b0)
            elif solver == "lbfgs":
                result = solve_lbfgs(objective, w0, b0, self.tol, self.max_iter, self.verbose)
                final_value = result.loss_history[-1]
            elif solver == "fista":
                result, final_value = _solve_fista(objective, w0, b0, self.tol, self.max_iter,
                                                   self.verbose)
            else:
                direction_of = _newton_step if solver == "newton" else _proximal_newton_step
                result, final_value = _solve_second_order(
                    objective, w0, b0, self.tol, self.max_iter, self.verbose, solver,
                    direction_of)

        if not (np.all(np.isfinite(result.coef)) and math.isfinite(result.intercept)):
            raise ValueError(
                "the fit diverged to non-finite weights; scale the features or use a "
                "finite C."
            )
        self._sgd_state = None
        self.coef_ = np.asarray(result.coef, dtype=np.float64).reshape(1, -1)
        self.intercept_ = np.array([result.intercept if self.fit_intercept else 0.0])
        self.n_iter_ = np.array([result.n_iter], dtype=np.int32)
        history = list(result.loss_history) or [final_value]
        self.loss_history_ = np.asarray(history, dtype=np.float64)
        self.solver_ = solver
        self.n_data_passes_ = objective.n_passes
        self.n_hessians_ = objective.n_hessians
        self.bytes_moved_ = objective.bytes_sent + objective.bytes_received
        self._warn_if_not_converged(result, solver)

    def _solve_sgd(self, objective, partitions, stats, w0, b0):
        """Run SGD with parameter mixing on the blocks that have a positive weight sum."""
        blocks = [(index, part, rows, weight) for index, (part, (rows, weight, _)) in
                  enumerate(zip(partitions, stats)) if weight > 0]
        objective.partitions = [part for _, part, _, _ in blocks]
        # An integer random_state gives the same seeds in every fit; a RandomState advances.
        base_seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        options = self._sgd_options()
        del options["random_state"]
        options.update(n_iter_no_change=1, validation_fraction=None, check_convergence=False)
        return _solve_sgd_mixing(
            objective, [block[0] for block in blocks], [block[2] for block in blocks],
            [block[3] for block in blocks], w0, b0, self.tol, self.max_iter,
            int(self.n_iter_no_change), self.verbose, base_seed, options,
        )

    def partial_fit(self, X, y, classes=None, sample_weight=None, n_samples_total=None):
        """Not available on Dask collections; raises ``NotImplementedError``."""
        raise NotImplementedError(
            "fastlogreg.dask.LogisticRegression has no partial_fit; use fit on the whole "
            "collection, or fastlogreg.LogisticRegression.partial_fit on in-memory chunks."
        )

    # ------------------------------------------------------------------ predict

    def to_local(self):
        """Return an in-memory ``fastlogreg.LogisticRegression`` with this fitted model."""
        check_is_fitted(self)
        local = _LocalLogisticRegression(**self.get_params())
        for name in ("coef_", "intercept_", "classes_", "n_iter_", "n_features_in_",
                     "feature_names_in_", "loss_history_", "solver_"):
            if hasattr(self, name):
                value = getattr(self, name)
                setattr(local, name, value.copy() if isinstance(value, np.ndarray) else value)
        local._sgd_state = None
        return local

    def _predict_matrix(self, X):
        X, feature_names = _as_dask_matrix(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but this model was fitted with "
                f"{self.n_features_in_} features."
            )
        fitted_names = getattr(self, "feature_names_in_", None)
        if feature_names is not None and fitted_names is not None and \
                not np.array_equal(feature_names, fitted_names):
            raise ValueError(
                "the feature names of X differ from those seen in fit; pass the columns "
                f"{fitted_names.tolist()} in that order."
            )
        return X

    def decision_function(self, X):
        """Return the margins x . w + b, lazily for Dask input (a dask array of shape (n,))."""
        check_is_fitted(self)
        if not _is_dask_collection(X):
            return self.to_local().decision_function(X)
        X = self._predict_matrix(X)
        return X.map_blocks(_decision_block, self.coef_.ravel().copy(),
                            float(self.intercept_[0]), drop_axis=1, dtype=np.float64,
                            meta=np.empty(0))

    def predict(self, X):
        """Return the predicted label of each sample, lazily for Dask input."""
        if not _is_dask_collection(X):
            check_is_fitted(self)
            return self.to_local().predict(X)
        scores = self.decision_function(X)
        return scores.map_blocks(_label_block, self.classes_, dtype=self.classes_.dtype,
                                 meta=np.empty(0, dtype=self.classes_.dtype))

    def predict_proba(self, X):
        """Return the probabilities of ``classes_``, shape (n, 2), lazily for Dask input."""
        if not _is_dask_collection(X):
            check_is_fitted(self)
            return self.to_local().predict_proba(X)
        scores = self.decision_function(X)
        return scores.map_blocks(_proba_block, new_axis=1, chunks=(scores.chunks[0], (2,)),
                                 dtype=np.float64, meta=np.empty((0, 0)))

    def predict_log_proba(self, X):
        """Return the log-probabilities of ``classes_``, lazily for Dask input."""
        if not _is_dask_collection(X):
            check_is_fitted(self)
            return self.to_local().predict_log_proba(X)
        scores = self.decision_function(X)
        return scores.map_blocks(_log_proba_block, new_axis=1,
                                 chunks=(scores.chunks[0], (2,)), dtype=np.float64,
                                 meta=np.empty((0, 0)))

    def score(self, X, y, sample_weight=None):
        """Return the (weighted) accuracy on X and y; computes it now for Dask input."""
        if not _is_dask_collection(X):
            check_is_fitted(self)
            return self.to_local().score(X, y, sample_weight=sample_weight)
        predicted = self.predict(X)
        X_matrix, _ = _as_dask_matrix(X)
        y = _as_dask_vector(y, "y", X_matrix)
        weights = None if sample_weight is None else \
            _as_dask_vector(sample_weight, "sample_weight", X_matrix)
        predicted_blocks = predicted.to_delayed().ravel()
        y_blocks = y.to_delayed().ravel()
        if isinstance(weights, da.Array):
            weight_blocks = weights.to_delayed().ravel()
        else:
            weight_blocks = [weights] * len(y_blocks)
        matches = dask.compute(*[
            dask.delayed(_block_matches)(p, t, s)
            for p, t, s in zip(predicted_blocks, y_blocks, weight_blocks)
        ])
        correct = sum(count for count, _ in matches)
        total = sum(weight for _, weight in matches)
        return correct / total


def _intercept_only(positive_weight, total_weight):
    """Return the intercept of the intercept-only model, clipped away from +-inf."""
    p = min(max(positive_weight / total_weight, 1e-10), 1.0 - 1e-10)
    return math.log(p / (1.0 - p))
