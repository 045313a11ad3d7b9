"""The scikit-learn compatible ``LogisticRegression`` estimator.

All input validation happens here, once; solvers and kernels receive checked arrays.
"""

import functools
import logging
import math
import numbers
import sys
import warnings
from contextlib import contextmanager

import numba
import numpy as np
import scipy.sparse as sp
import scipy.special
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import ThreadpoolController

from . import _kernels as K
from .solvers import SMOOTH_SOLVERS, SOLVERS, Problem
from .solvers.multinomial import (
    MultinomialProblem,
    solve_multinomial_cd,
    solve_multinomial_lbfgs,
)
from .solvers.sgd import SGDState, solve_sgd
from .solvers.sgd_multinomial import solve_sgd_multinomial

logger = logging.getLogger("fastlogreg")

SOLVER_NAMES = ("auto", "newton", "lbfgs", "cd", "sgd")

# "auto" picks Newton with a Cholesky solve up to this many features: the Hessian costs
# n * d^2 per iteration (nnz_per_row^2 for sparse rows), which is a small multiple of a pass
# over X below this size. Above it, L-BFGS.
NEWTON_MAX_FEATURES = 500

# Fewest stored entries of X per thread before fit uses another thread. A pass over a hundred
# thousand entries takes about 0.1 ms on one core, and waking a thread costs tens of
# microseconds on an idle machine, more on a busy one. Measured on a 2-core machine with BLAS
# kept to one thread, newton to tol=1e-6 on a9a (451,592 entries) takes 30 ms on one thread
# and 17 ms on two; on w8a it takes 95 ms and 52 ms.
MIN_WORK_PER_THREAD = 200_000

CONVERGENCE_ADVICE = (
    "Increase max_iter, loosen tol, or scale the features (for example with "
    "sklearn.preprocessing.StandardScaler)."
)


@functools.cache
def _blas_controller():
    """Return a ThreadpoolController made once: making one scans the loaded libraries (ms)."""
    return ThreadpoolController()


@contextmanager
def _numba_threads(n_jobs, work=None):
    """Set Numba's and BLAS's thread count from ``n_jobs`` for the duration of the block.

    ``work``, the number of stored entries of X, caps the count so that each thread gets at
    least MIN_WORK_PER_THREAD entries, because waking threads costs more than it saves on small
    data, and far more when the cores are busy with other processes. BLAS gets the same count, so
    that its threads do not compete with Numba's for the cores.
    """
    available = numba.config.NUMBA_NUM_THREADS
    previous = numba.get_num_threads()
    if n_jobs is None:
        requested = previous
    elif n_jobs < 0:
        requested = max(1, available + 1 + n_jobs)
    else:
        requested = min(n_jobs, available)
    if work is not None:
        requested = max(1, min(requested, int(work) // MIN_WORK_PER_THREAD))
    numba.set_num_threads(requested)
    try:
        with _blas_controller().limit(limits=1, user_api="blas"):
            yield requested
    finally:
        numba.set_num_threads(previous)


def _stored_entries(X):
    return X.nnz if sp.issparse(X) else X.shape[0] * X.shape[1]


@contextmanager
def _verbose_logging(verbose):
    """Show the solvers' per-iteration INFO messages on stderr while ``verbose`` is set."""
    if not verbose:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[fastlogreg] %(message)s"))
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


class LogisticRegression(ClassifierMixin, BaseEstimator):
    """Logistic regression with L2, L1 and elastic-net penalties.

    For two classes, minimises over the weights ``w`` and the unpenalized intercept ``b``::

        C * sum_i s_i * log(1 + exp(-y_i (x_i . w + b)))
            + (1 - l1_ratio) / 2 * ||w||_2^2 + l1_ratio * ||w||_1

    with ``y_i`` in {-1, +1} and ``s_i = sample_weight_i * class_weight[y_i]``; ``C=numpy.inf``
    drops the penalty. Three or more classes use the multinomial (softmax) loss
    ``log(sum_k exp(z_ik)) - z_i,y_i`` with ``z_ik = x_i . W_k + b_k`` and the same penalty on
    the whole (n_classes, n_features) matrix W. This is the objective of scikit-learn's
    ``LogisticRegression`` (1.8 and later) with the same ``C`` and ``l1_ratio``.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularization strength, positive; ``numpy.inf`` for no penalty.
    l1_ratio : float, default=0.0
        Share of the L1 term in the penalty, in [0, 1]: 0 is L2, 1 is L1.
    fit_intercept : bool, default=True
        Whether to fit the intercept ``b``.
    solver : {"auto", "newton", "lbfgs", "cd", "sgd"}, default="auto"
        ``"newton"``: Newton with a Cholesky solve, for up to a few hundred features.
        ``"lbfgs"``: L-BFGS. Both need ``l1_ratio=0`` or ``C=inf``. ``"cd"``: proximal Newton
        with coordinate descent, for any ``l1_ratio``; it gives exact zeros.
        ``"auto"`` takes ``"cd"`` when the L1 term is present, else ``"newton"`` up to 500
        features and ``"lbfgs"`` above or for CSC input (whose Hessian needs a copy of X) or
        three or more classes. ``"sgd"``: mini-batch stochastic gradient descent
        with proximal L1 steps (exact zeros), for any ``l1_ratio``. It minimises the same
        objective only approximately, and an epoch costs about one pass over X, so it suits
        very large n. See ``batch_size``, ``learning_rate`` and ``average``.
    tol : float, default=1e-4
        Exact solvers stop when the largest entry of the (minimum-norm sub)gradient of the
        objective is at most ``tol * C * sum(s)``, the scale at which scikit-learn applies its
        ``tol``. SGD stops when the objective (or, with ``validation_fraction``, the
        validation loss) has not decreased by more than ``tol`` relative to its best value for
        ``n_iter_no_change`` epochs in a row.
    max_iter : int, default=100
        Maximum number of solver iterations (epochs for SGD); a ``ConvergenceWarning`` is
        issued when reached.
    batch_size : int, default=256
        Rows per SGD step. Each step costs one read of its rows, so an epoch costs the same
        whatever the size, but larger batches take fewer, less noisy steps per epoch:
        they need more epochs to reach a given objective, while smaller batches make more
        progress per epoch and stop at a noisier point. Batches of about 100,000 entries of X
        or more are split over ``n_jobs`` threads; smaller ones run on one thread, because
        starting parallel work costs more than it saves.
    learning_rate : "auto" or float, default="auto"
        Step size of SGD. ``"auto"``: ``eta0 / sqrt(1 + epochs)``, where ``epochs`` counts
        passes over the data (fractions included) and ``eta0 = 3 / L`` with
        ``L = C * mean_i s_i * (||x_i||^2 + 1) / 4 + (1 - l1_ratio) / n`` the mean curvature
        bound of one sample's share of the objective (with ``/ 2`` in place of ``/ 4`` for
        three or more classes, the bound of the softmax loss). It needs no tuning on
        standardised features: on a9a and on standardised Gaussian data, 10 epochs reach an
        objective within 1% of the optimum at C=1. If the first epoch of a fresh fit ends at
        a higher objective than it started from, or at NaN, it is rerun with half the step,
        up to 10 times. ``partial_fit`` takes ``eta0`` from the first chunk (the smallest
        over the chunks seen so far), so its steps equal those of ``fit`` only when the
        chunks have the same mean of ``s_i * ||x_i||^2``. A float: that constant step size.
        Steps too large for the data make the weights diverge, which raises ``ValueError``.
    class_weight : dict, "balanced" or None, default=None
        Weights per class, multiplied into the sample weights.
    random_state : int, RandomState or None, default=None
        Seed for the solvers that draw random numbers: SGD shuffles the rows in each epoch
        and draws the ``validation_fraction`` split. The exact solvers are deterministic.
    n_jobs : int or None, default=None
        Numba threads used during ``fit``: None keeps Numba's current setting, -1 uses all
        cores, -2 all but one. Numba's previous setting is restored afterwards. The same
        ``n_jobs`` gives bit-identical models; different values can differ in the last bits,
        because the rows are split into one block per thread. With SGD the same holds, and
        when every batch runs on one thread (see ``batch_size``) different ``n_jobs`` give
        bit-identical models too.
    warm_start : bool, default=False
        Start from the previous ``coef_`` and ``intercept_`` when they fit the data.
    verbose : int, default=0
        When positive, log the objective after each iteration to stderr.
    average : bool, default=False
        SGD only: return the running mean of the iterates after each step, starting with the
        second epoch, instead of the last iterate. Averaging removes most of the noise of
        small batches. On sparse X it adds O(n_features) work per batch. The mean of sparse
        iterates is not sparse: keep ``average=False`` when the L1 term should give exact
        zeros.
    n_iter_no_change : int, default=5
        SGD only: epochs without a relative improvement of ``tol`` before stopping.
    validation_fraction : float or None, default=None
        SGD only: the share of rows held out, drawn with ``random_state``, to stop early on
        their log loss; the weights with the lowest validation loss are returned, and the
        objective in ``loss_history_`` is then the one on the training rows. None trains on
        all rows and stops on the training objective.
    shuffle : bool, default=True
        SGD only: visit the rows in a new random order (drawn with ``random_state``) in each
        epoch and each ``partial_fit`` call. False visits them in the order of X, so that
        ``partial_fit`` over consecutive chunks, each a multiple of ``batch_size`` rows,
        with ``n_samples_total`` set, takes the same steps as one epoch of ``fit``.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
        With three or more classes the intercepts are only determined up to a common
        constant; they are returned centred (summing to zero), as scikit-learn does.
    classes_ : ndarray of shape (n_classes,)
        The sorted labels; with two classes ``classes_[1]`` is the positive class.
    n_iter_ : ndarray of shape (1,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when X had string column names
    loss_history_ : ndarray
        The objective above after each iteration; its last entry is the objective at the
        fitted ``coef_`` and ``intercept_``.
    solver_ : str
        The solver that ran, after resolving ``"auto"``.
    """

    def __init__(self, C=1.0, l1_ratio=0.0, fit_intercept=True, solver="auto", tol=1e-4,
                 max_iter=100, batch_size=256, learning_rate="auto", class_weight=None,
                 random_state=None, n_jobs=None, warm_start=False, verbose=0, average=False,
                 n_iter_no_change=5, validation_fraction=None, shuffle=True):
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.class_weight = class_weight
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.warm_start = warm_start
        self.verbose = verbose
        self.average = average
        self.n_iter_no_change = n_iter_no_change
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------ validation

    def _check_params(self):
        def is_real(value):
            return isinstance(value, numbers.Real) and not isinstance(value, bool)

        if not is_real(self.C) or math.isnan(self.C) or self.C <= 0:
            raise ValueError(
                f"C must be a positive number or numpy.inf, got C={self.C!r}."
            )
        if not is_real(self.l1_ratio) or not 0.0 <= self.l1_ratio <= 1.0:
            raise ValueError(
                f"l1_ratio must be a number in [0, 1], got l1_ratio={self.l1_ratio!r}."
            )
        if not is_real(self.tol) or not self.tol >= 0:
            raise ValueError(f"tol must be a non-negative number, got tol={self.tol!r}.")
        if (not isinstance(self.max_iter, numbers.Integral) or isinstance(self.max_iter, bool)
                or self.max_iter < 1):
            raise ValueError(
                f"max_iter must be a positive integer, got max_iter={self.max_iter!r}."
            )
        if self.solver not in SOLVER_NAMES:
            raise ValueError(
                f"solver must be one of {', '.join(map(repr, SOLVER_NAMES))}, "
                f"got solver={self.solver!r}."
            )
        if self.n_jobs is not None and (not isinstance(self.n_jobs, numbers.Integral)
                                        or self.n_jobs == 0):
            raise ValueError(
                f"n_jobs must be None or a non-zero integer, got n_jobs={self.n_jobs!r}."
            )
        if self.class_weight is not None and not isinstance(self.class_weight, dict) \
                and self.class_weight != "balanced":
            raise ValueError(
                "class_weight must be None, 'balanced' or a dict mapping labels to weights, "
                f"got class_weight={self.class_weight!r}."
            )

    def _resolve_solver(self, n_features, n_classes=2, sparse_format=None):
        penalized_l1 = self.l1_ratio > 0 and math.isfinite(self.C)
        if n_classes > 2 and self.solver == "newton":
            raise ValueError(
                f"solver={self.solver!r} fits two classes only, and y has {n_classes}; use "
                "'auto', 'lbfgs', 'cd' or 'sgd' for the multinomial model."
            )
        if self.solver == "sgd":
            # SGD takes any l1_ratio: the L1 term is a proximal step.
            self._check_sgd_params()
            return "sgd"
        if self.solver in SMOOTH_SOLVERS and penalized_l1:
            raise ValueError(
                f"solver={self.solver!r} supports only l1_ratio=0 (or C=inf), got "
                f"l1_ratio={self.l1_ratio!r}; use solver='cd' for L1 and elastic-net penalties."
            )
        if self.solver != "auto":
            return self.solver
        if penalized_l1:
            return "cd"
        if n_classes > 2:
            return "lbfgs"
        if sparse_format == "csc":
            # Newton's Hessian of CSC data needs a temporary copy of X; L-BFGS needs none.
            return "lbfgs"
        return "newton" if n_features <= NEWTON_MAX_FEATURES else "lbfgs"

    def _check_sgd_params(self):
        def is_integer(value):
            return isinstance(value, numbers.Integral) and not isinstance(value, bool)

        if not is_integer(self.batch_size) or self.batch_size < 1:
            raise ValueError(
                f"batch_size must be a positive integer, got batch_size={self.batch_size!r}."
            )
        rate = self.learning_rate
        if not (isinstance(rate, str) and rate == "auto") and not (
                isinstance(rate, numbers.Real) and not isinstance(rate, bool)
                and math.isfinite(rate) and rate > 0):
            raise ValueError(
                "learning_rate must be 'auto' or a positive number (a constant step size), "
                f"got learning_rate={rate!r}."
            )
        if not is_integer(self.n_iter_no_change) or self.n_iter_no_change < 1:
            raise ValueError(
                "n_iter_no_change must be a positive integer, got "
                f"n_iter_no_change={self.n_iter_no_change!r}."
            )
        fraction = self.validation_fraction
        if fraction is not None and not (
                isinstance(fraction, numbers.Real) and 0.0 < fraction < 1.0):
            raise ValueError(
                "validation_fraction must be None or a number in (0, 1), got "
                f"validation_fraction={fraction!r}."
            )

    def _sgd_options(self):
        """Return the keyword arguments of ``solve_sgd`` set by the estimator's parameters."""
        return {
            "batch_size": int(self.batch_size),
            "learning_rate": self.learning_rate,
            "average": bool(self.average),
            "n_iter_no_change": int(self.n_iter_no_change),
            "validation_fraction": self.validation_fraction,
            "random_state": self.random_state,
            "shuffle": bool(self.shuffle),
        }

    def _validate_X(self, X, reset):
        X = validate_data(
            self, X, reset=reset, accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32], accept_large_sparse=True,
        )
        return self._ensure_layout(X)

    @staticmethod
    def _ensure_layout(X):
        if sp.issparse(X):
            return X
        if not (X.flags.c_contiguous or X.flags.f_contiguous):
            # Strided views (every other row, say) have no kernel; this is the one copy of X
            # that fit makes, and only for such views.
            X = np.ascontiguousarray(X)
        return X

    def _sample_weights(self, X, y_encoded, sample_weight):
        n = X.shape[0]
        if sample_weight is None:
            s = np.ones(n)
        else:
            s = np.asarray(sample_weight, dtype=np.float64)
            if s.ndim == 0:
                s = np.full(n, float(s))
            if s.shape != (n,):
                raise ValueError(
                    f"sample_weight has shape {s.shape}, expected ({n},) to match X with "
                    f"{n} samples."
                )
            if not np.all(np.isfinite(s)):
                raise ValueError("sample_weight contains NaN or infinity; pass finite weights.")
            if np.any(s < 0):
                raise ValueError(
                    f"sample_weight contains negative values (min {s.min()!r}); weights "
                    "must be non-negative."
                )
            s = s.copy()
        if self.class_weight is not None:
            class_weight = self.class_weight
            if isinstance(class_weight, dict):
                unknown = set(class_weight) - set(self.classes_.tolist())
                if unknown:
                    raise ValueError(
                        f"class_weight has labels {sorted(map(str, unknown))} that are not in "
                        f"the training labels {self.classes_.tolist()}."
                    )
            per_class = compute_class_weight(class_weight, classes=self.classes_,
                                             y=self.classes_[y_encoded])
            s *= per_class[y_encoded]
        if not s.sum() > 0:
            raise ValueError("the sample weights sum to zero; at least one must be positive.")
        return s

    # ------------------------------------------------------------------ fit

    def fit(self, X, y, sample_weight=None):
        """Fit the model to X (n_samples, n_features) and labels y; return self.

        X may be a float32 or float64 array in C or F order (used as is, without a copy),
        another numeric array (converted to float64), a scipy.sparse CSR or CSC matrix, or a
        pandas DataFrame.
        """
        self._check_params()
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32],
            accept_large_sparse=True, y_numeric=False,
        )
        X = self._ensure_layout(X)
        check_classification_targets(y)
        classes, y_encoded = np.unique(y, return_inverse=True)
        if classes.shape[0] < 2:
            raise ValueError(
                f"y contains one class ({classes[0]}); logistic regression needs samples "
                "of two classes."
            )
        n_classes = classes.shape[0]
        coef_rows = 1 if n_classes == 2 else n_classes
        if self.warm_start and hasattr(self, "classes_") and \
                not np.array_equal(self.classes_, classes):
            warm = False
        else:
            warm = self.warm_start and hasattr(self, "coef_") and \
                self.coef_.shape == (coef_rows, X.shape[1])
        self.classes_ = classes
        s = self._sample_weights(X, y_encoded, sample_weight)
        solver = self._resolve_solver(X.shape[1], n_classes,
                                      X.format if sp.issparse(X) else None)
        if n_classes > 2:
            return self._fit_multinomial(X, y_encoded.astype(np.int64), s, solver, warm)

        y01 = y_encoded.astype(np.float64)
        finite_C = math.isfinite(self.C)
        if warm:
            w0 = self.coef_.ravel().astype(np.float64)
            b0 = float(self.intercept_[0]) if self.fit_intercept else 0.0
        else:
            w0 = np.zeros(X.shape[1])
            b0 = _log_odds(y01, s) if self.fit_intercept else 0.0

        with _numba_threads(self.n_jobs, _stored_entries(X)) as n_threads, _verbose_logging(self.verbose):
            problem = Problem(
                X, y01, s,
                alpha=float(self.C) if finite_C else 1.0,
                l1=float(self.l1_ratio) if finite_C else 0.0,
                l2=1.0 - float(self.l1_ratio) if finite_C else 0.0,
                fit_intercept=bool(self.fit_intercept),
                n_blocks=max(1, min(n_threads, X.shape[0])),
            )
            options = self._sgd_options() if solver == "sgd" else {}
            result = SOLVERS[solver](problem, w0, b0, self.tol, self.max_iter, self.verbose,
                                     **options)
        # partial_fit continues an SGD fit from its iterate and step schedule.
        self._sgd_state = getattr(result, "state", None)

        if not (np.all(np.isfinite(result.coef)) and math.isfinite(result.intercept)):
            raise ValueError(
                "the fit diverged to non-finite weights; scale the features or use a "
                "finite C."
            )
        self.coef_ = result.coef.reshape(1, -1)
        self.intercept_ = np.array([result.intercept if self.fit_intercept else 0.0])
        self.n_iter_ = np.array([result.n_iter], dtype=np.int32)
        self.loss_history_ = np.asarray(result.loss_history, dtype=np.float64)
        if self.loss_history_.size == 0:
            self.loss_history_ = np.array([self._objective(X, y01, s)])
        self.solver_ = solver
        self._warn_if_not_converged(result, solver)
        return self

    def _warn_if_not_converged(self, result, solver):
        if not result.converged:
            detail = f" ({result.message})" if result.message else ""
            warnings.warn(
                f"solver {solver!r} did not converge to tol={self.tol} in "
                f"{result.n_iter} iterations{detail}. {CONVERGENCE_ADVICE}",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _make_multinomial_problem(self, X, y, s, n_blocks):
        finite_C = math.isfinite(self.C)
        return MultinomialProblem(
            X, y, s, n_classes=self.classes_.shape[0],
            alpha=float(self.C) if finite_C else 1.0,
            l1=float(self.l1_ratio) if finite_C else 0.0,
            l2=1.0 - float(self.l1_ratio) if finite_C else 0.0,
            fit_intercept=bool(self.fit_intercept),
            n_blocks=n_blocks,
        )

    def _fit_multinomial(self, X, y, s, solver, warm):
        """Fit the softmax model of three or more classes; y contains class indices."""
        n_classes = self.classes_.shape[0]
        if warm:
            W0 = self.coef_.astype(np.float64)
            b0 = self.intercept_.astype(np.float64)
        else:
            W0 = np.zeros((n_classes, X.shape[1]))
            b0 = np.zeros(n_classes)
            if self.fit_intercept:
                # The intercept-only optimum: log class frequencies, centred.
                freq = np.maximum(np.bincount(y, weights=s, minlength=n_classes), 1e-10)
                b0 = np.log(freq / freq.sum())
                b0 -= b0.mean()
        solve = {"cd": solve_multinomial_cd, "sgd": solve_sgd_multinomial}.get(
            solver, solve_multinomial_lbfgs)
        options = self._sgd_options() if solver == "sgd" else {}
        with _numba_threads(self.n_jobs, _stored_entries(X)) as n_threads, _verbose_logging(self.verbose):
            problem = self._make_multinomial_problem(
                X, y, s, n_blocks=max(1, min(n_threads, X.shape[0])))
            result = solve(problem, W0, b0, self.tol, self.max_iter, self.verbose, **options)
            history = list(result.loss_history)
            if not history:
                grad = np.empty((n_classes, X.shape[1] + 1))
                Z = np.empty((X.shape[0], n_classes))
                history = [problem.objective_grad(result.coef, result.intercept, grad, Z)]

        if not (np.all(np.isfinite(result.coef)) and np.all(np.isfinite(result.intercept))):
            raise ValueError(
                "the fit diverged to non-finite weights; scale the features or use a "
                "finite C."
            )
        # partial_fit continues an SGD fit from its iterate and step schedule.
        self._sgd_state = getattr(result, "state", None)
        self.coef_ = np.ascontiguousarray(result.coef)
        self.intercept_ = np.asarray(result.intercept, dtype=np.float64)
        self.n_iter_ = np.array([result.n_iter], dtype=np.int32)
        self.loss_history_ = np.asarray(history, dtype=np.float64)
        self.solver_ = solver
        self._warn_if_not_converged(result, solver)
        return self

    def _objective(self, X, y01, s):
        """Return the objective at the fitted coef_ and intercept_ (one fused pass)."""
        finite_C = math.isfinite(self.C)
        problem = Problem(
            X, y01, s, alpha=float(self.C) if finite_C else 1.0,
            l1=float(self.l1_ratio) if finite_C else 0.0,
            l2=1.0 - float(self.l1_ratio) if finite_C else 0.0,
            fit_intercept=bool(self.fit_intercept), n_blocks=1,
        )
        grad = np.empty(X.shape[1] + 1)
        z = np.empty(X.shape[0])
        w = self.coef_.ravel().astype(np.float64)
        return problem.loss_grad(w, float(self.intercept_[0]), grad, z) + problem.penalty(w)

    # ------------------------------------------------------------------ partial_fit

    def partial_fit(self, X, y, classes=None, sample_weight=None, n_samples_total=None):
        """Run one SGD epoch over the chunk (X, y), starting from the current model; return self.

        For data that does not fit in memory: call it once per chunk, and loop over all
        chunks as many times as needed (``fastlogreg._chunks.fit_chunks`` does this for
        svmlight and CSV files). The conventions of scikit-learn's ``SGDClassifier`` apply:

        - ``classes``, all labels of the whole data set, is required on the first call. Later
          calls may omit it; when given it must equal ``classes_``. Labels of ``y`` outside
          ``classes_`` raise ``ValueError``, and a chunk may lack some classes or contain a
          single one. Three or more classes fit the multinomial model.
        - A call after ``fit`` continues from the fitted ``coef_`` and ``intercept_`` (and from
          the SGD step schedule and averages when ``fit`` used ``solver="sgd"``). ``fit`` after
          ``partial_fit`` starts over unless ``warm_start=True``.
        - ``solver``, ``tol``, ``max_iter``, ``n_iter_no_change``, ``validation_fraction`` and
          ``warm_start`` are ignored. ``class_weight="balanced"`` raises ``ValueError``,
          because one chunk does not give the class frequencies: pass a dict instead.

        ``n_samples_total`` is the number of samples of the whole data set. The penalty is
        shared over that many samples, so that passes over all chunks minimise the objective
        of ``fit`` on the whole data. By default each call shares it over its own chunk, as if
        the chunk were the whole data set. With chunks of m rows out of n, the penalty is
        then n / m times stronger, relative to the data term, than in ``fit``.

        After each call ``n_iter_`` is 1 and ``loss_history_`` gains one entry: the objective
        on this chunk (its data term plus the whole penalty) at the new weights.
        """
        self._check_params()
        self._check_sgd_params()
        first_call = not hasattr(self, "classes_")
        if first_call and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit: all labels of the "
                "whole data set, for example numpy.unique(y)."
            )
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit, because one chunk "
                "does not give the class frequencies of the whole data. Compute the weights "
                "with sklearn.utils.class_weight.compute_class_weight and pass them as a dict."
            )
        if n_samples_total is not None and (
                not isinstance(n_samples_total, numbers.Integral) or n_samples_total < 1):
            raise ValueError(
                "n_samples_total must be None or a positive integer, got "
                f"n_samples_total={n_samples_total!r}."
            )
        if classes is not None:
            classes = np.unique(np.asarray(classes))
            if not first_call and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes.tolist()} differs from classes_={self.classes_.tolist()}"
                    " of the earlier calls; pass the same labels on every call."
                )
            if classes.shape[0] < 2:
                raise ValueError(
                    f"classes={classes.tolist()} has fewer than two labels; pass every label "
                    "of the whole data set, at least two."
                )

        X, y = validate_data(
            self, X, y, reset=first_call, accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32], accept_large_sparse=True, y_numeric=False,
        )
        X = self._ensure_layout(X)
        check_classification_targets(y)
        known = classes if first_call else self.classes_
        unknown = np.setdiff1d(np.unique(y), known)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()} that are not in classes "
                f"{known.tolist()}; pass every label of the whole data set as classes."
            )
        if first_call:
            self.classes_ = classes
        y_encoded = np.searchsorted(self.classes_, y)
        s = self._sample_weights(X, y_encoded, sample_weight)
        if self.classes_.shape[0] > 2:
            return self._partial_fit_multinomial(X, y_encoded.astype(np.int64), s,
                                                 n_samples_total)
        y01 = y_encoded.astype(np.float64)

        state = getattr(self, "_sgd_state", None)
        if state is None:
            if hasattr(self, "coef_"):
                w0 = self.coef_.ravel().astype(np.float64)
                b0 = float(self.intercept_[0])
            else:
                w0 = np.zeros(X.shape[1])
                b0 = _log_odds(y01, s) if self.fit_intercept else 0.0
            state = SGDState(coef=w0, intercept=b0)
        options = self._sgd_options()
        options.update(
            n_iter_no_change=1, validation_fraction=None, state=state,
            random_state=_call_random_state(self.random_state, state.n_epochs),
            n_samples_total=n_samples_total, check_convergence=False,
        )
        with _numba_threads(self.n_jobs, _stored_entries(X)) as n_threads, _verbose_logging(self.verbose):
            problem = self._make_problem(X, y01, s, n_blocks=max(1, min(n_threads, X.shape[0])))
            result = solve_sgd(problem, state.coef, state.intercept, 0.0, 1, self.verbose,
                               **options)

        self.coef_ = result.coef.reshape(1, -1)
        self.intercept_ = np.array([result.intercept if self.fit_intercept else 0.0])
        self.n_iter_ = np.array([1], dtype=np.int32)
        previous = getattr(self, "loss_history_", np.empty(0))
        self.loss_history_ = np.concatenate([previous, result.loss_history])
        self.solver_ = "sgd"
        self._sgd_state = result.state
        return self

    def _partial_fit_multinomial(self, X, y, s, n_samples_total):
        """Run partial_fit's SGD epoch for three or more classes, with y as class indices."""
        n_classes = self.classes_.shape[0]
        state = getattr(self, "_sgd_state", None)
        if state is None:
            if hasattr(self, "coef_"):
                W0 = self.coef_.astype(np.float64)
                b0 = self.intercept_.astype(np.float64)
            else:
                W0 = np.zeros((n_classes, X.shape[1]))
                b0 = np.zeros(n_classes)
                if self.fit_intercept:
                    # Log class frequencies of this chunk with one pseudo-sample of mean
                    # weight per class, so that a class missing from the first chunk starts
                    # at a finite intercept.
                    freq = np.bincount(y, weights=s, minlength=n_classes) + s.mean()
                    b0 = np.log(freq / freq.sum())
                    b0 -= b0.mean()
            state = SGDState(coef=W0, intercept=b0)
        options = self._sgd_options()
        options.update(
            n_iter_no_change=1, validation_fraction=None, state=state,
            random_state=_call_random_state(self.random_state, state.n_epochs),
            n_samples_total=n_samples_total, check_convergence=False,
        )
        with _numba_threads(self.n_jobs, _stored_entries(X)) as n_threads, _verbose_logging(self.verbose):
            problem = self._make_multinomial_problem(
                X, y, s, n_blocks=max(1, min(n_threads, X.shape[0])))
            result = solve_sgd_multinomial(problem, state.coef, state.intercept, 0.0, 1,
                                           self.verbose, **options)

        self.coef_ = np.ascontiguousarray(result.coef)
        self.intercept_ = np.asarray(result.intercept, dtype=np.float64)
        self.n_iter_ = np.array([1], dtype=np.int32)
        previous = getattr(self, "loss_history_", np.empty(0))
        self.loss_history_ = np.concatenate([previous, result.loss_history])
        self.solver_ = "sgd"
        self._sgd_state = result.state
        return self

    def _make_problem(self, X, y01, s, n_blocks):
        finite_C = math.isfinite(self.C)
        return Problem(
            X, y01, s,
            alpha=float(self.C) if finite_C else 1.0,
            l1=float(self.l1_ratio) if finite_C else 0.0,
            l2=1.0 - float(self.l1_ratio) if finite_C else 0.0,
            fit_intercept=bool(self.fit_intercept),
            n_blocks=n_blocks,
        )

    # ------------------------------------------------------------------ predict

    def decision_function(self, X):
        """Return the margins x . w + b: shape (n_samples,) for two classes, else (n, K)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        coef = self.coef_
        if X.dtype == np.float32:
            # Keeps float32 X from being upcast (copied) by the product.
            coef = coef.astype(np.float32)
        if coef.shape[0] == 1:
            scores = X @ coef.ravel()
            return np.asarray(scores, dtype=np.float64).ravel() + self.intercept_[0]
        return np.asarray(X @ coef.T, dtype=np.float64) + self.intercept_

    def predict(self, X):
        """Return the predicted label of each sample."""
        scores = self.decision_function(X)
        if scores.ndim == 2:
            return self.classes_[np.argmax(scores, axis=1)]
        return self.classes_[(scores > 0).astype(np.intp)]

    def predict_proba(self, X):
        """Return the probability of each class in ``classes_``, shape (n_samples, K)."""
        scores = self.decision_function(X)
        if scores.ndim == 2:
            return scipy.special.softmax(scores, axis=1)
        positive = np.empty_like(scores)
        negative = np.empty_like(scores)
        K.sigmoid_array(scores, positive)
        K.sigmoid_array(-scores, negative)
        return np.column_stack([negative, positive])

    def predict_log_proba(self, X):
        """Return the log-probabilities, computed without taking the log of a rounded 0."""
        scores = self.decision_function(X)
        if scores.ndim == 2:
            return scipy.special.log_softmax(scores, axis=1)
        log_positive = np.empty_like(scores)
        log_negative = np.empty_like(scores)
        K.log1pexp_array(-scores, log_positive)
        K.log1pexp_array(scores, log_negative)
        return -np.column_stack([log_negative, log_positive])

    def save(self, path):
        """Write the fitted model to ``path``, a ``.npz`` file that ``fastlogreg.load`` reads.

        The file contains arrays and JSON metadata only, so loading it cannot execute code.
        Returns ``path`` as a ``pathlib.Path``.
        """
        from ._persistence import save_model

        return save_model(self, path)


def _log_odds(y01, s):
    """Return the intercept of the intercept-only model, clipped away from +-inf."""
    positive = float(np.sum(s * y01))
    total = float(s.sum())
    p = min(max(positive / total, 1e-10), 1.0 - 1e-10)
    return math.log(p / (1.0 - p))


def _call_random_state(random_state, n_calls):
    """Return the random state of the next partial_fit call.

    An integer seed gives each call its own stream, derived from the seed and the number of
    earlier epochs, so that a sequence of calls is reproducible without every chunk being
    shuffled the same way. None and RandomState instances are passed through.
    """
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        seed = np.random.SeedSequence([int(random_state), int(n_calls)]).generate_state(1)
        return np.random.RandomState(seed)
    return random_state
