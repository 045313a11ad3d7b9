"""Regularization paths: one fit per C, each warm-started from the previous solution.

The path is solved from the smallest C (strongest penalty) to the largest, because the
solution at one C is a good starting point for the next larger one. With an L1 term
(``l1_ratio > 0``) the ``"cd"`` solver also keeps a working set. A feature at zero whose
gradient is well inside the L1 threshold is skipped in the inner sweeps, so each sparse
solution at small C costs little more than its gradient passes.
"""

import logging
import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ._estimator import (
    CONVERGENCE_ADVICE,
    LogisticRegression,
    _log_odds,
    _numba_threads,
    _stored_entries,
    _verbose_logging,
)
from .solvers import SOLVERS, Problem

logger = logging.getLogger("fastlogreg")

# Integer Cs without an L1 term: the grid numpy.logspace(-4, 4, Cs), the default grid of
# scikit-learn's LogisticRegressionCV (1.9), so that both search the same values.
DEFAULT_LOG10_C_RANGE = (-4.0, 4.0)
# Integer Cs with an L1 term: the grid spans C_min to C_min * DEFAULT_C_RATIO.
DEFAULT_C_RATIO = 1e4


@dataclass
class RegularizationPath:
    """The fits of a regularization path, in the order of the requested Cs.

    Attributes
    ----------
    Cs : ndarray of shape (n_cs,)
        The values of C, in the order given (an integer Cs gives an increasing grid).
    coefs : ndarray of shape (n_cs, n_features)
    intercepts : ndarray of shape (n_cs,)
        Zeros when ``fit_intercept=False``.
    n_iter : ndarray of shape (n_cs,)
        Solver iterations per C; 0 where the warm start already met the tolerance.
    objectives : ndarray of shape (n_cs,)
        The objective of ``LogisticRegression`` at each fit (penalty dropped for C=inf).
    converged : ndarray of bool, shape (n_cs,)
    classes : ndarray of shape (2,)
        The labels; ``classes[1]`` is the positive class.
    solver : str
        The solver that ran, after resolving ``"auto"``.
    """

    Cs: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    n_iter: np.ndarray
    objectives: np.ndarray
    converged: np.ndarray
    classes: np.ndarray
    solver: str


# ---------------------------------------------------------------------- parameter checks


def check_Cs(Cs):
    """Return ``Cs`` as an int (grid size) or a float64 array of positive values.

    Raises ValueError for an empty list, a non-positive or NaN value, or an integer below 1.
    """
    if isinstance(Cs, numbers.Integral) and not isinstance(Cs, bool):
        if Cs < 1:
            raise ValueError(
                f"Cs as an integer is the number of grid points and must be at least 1, "
                f"got Cs={Cs!r}."
            )
        return int(Cs)
    if isinstance(Cs, (bool, str)):
        raise ValueError(f"Cs must be an integer or a list of positive numbers, got Cs={Cs!r}.")
    try:
        values = np.asarray(Cs, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Cs must be an integer or a list of positive numbers, got Cs={Cs!r}."
        ) from error
    if values.ndim != 1:
        raise ValueError(f"Cs must be one-dimensional, got an array of shape {values.shape}.")
    if values.size == 0:
        raise ValueError(
            "Cs is empty; pass the number of grid points as an integer or a non-empty list "
            "of positive C values."
        )
    invalid = values[~(values > 0)]
    if invalid.size:
        raise ValueError(
            f"Cs must contain positive values (numpy.inf allowed), got {invalid.tolist()}."
        )
    return values


def check_C_ratio(C_ratio):
    if (not isinstance(C_ratio, numbers.Real) or isinstance(C_ratio, bool)
            or not math.isfinite(C_ratio) or C_ratio < 1):
        raise ValueError(f"C_ratio must be a finite number >= 1, got C_ratio={C_ratio!r}.")


# ---------------------------------------------------------------------- data checks


def validate_training_data(owner, template, X, y, sample_weight):
    """Validate X, y and the weights as ``LogisticRegression.fit`` does.

    ``owner`` receives ``n_features_in_`` (and ``feature_names_in_``); ``template`` is a
    ``LogisticRegression`` with the caller's class_weight, whose ``classes_`` is set here.
    Returns X, the labels y, y encoded as 0.0 / 1.0, and the combined sample and class
    weights.
    """
    X, y = validate_data(
        owner, X, y, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32],
        accept_large_sparse=True, y_numeric=False,
    )
    X = template._ensure_layout(X)
    check_classification_targets(y)
    classes, y_encoded = np.unique(y, return_inverse=True)
    if classes.shape[0] < 2:
        raise ValueError(
            f"y contains one class ({classes[0]}); logistic regression needs samples "
            "of two classes."
        )
    if classes.shape[0] > 2:
        raise ValueError(
            f"Only binary classification is supported. y contains {classes.shape[0]} "
            "classes; this version of fastlogreg fits two."
        )
    template.classes_ = classes
    s = template._sample_weights(X, y_encoded, sample_weight)
    return X, y, y_encoded.astype(np.float64), s


# ---------------------------------------------------------------------- the grid of C


def smallest_all_zero_C(X, y01, s, l1_ratio, fit_intercept):
    """Return the smallest C at which the ``l1_ratio`` penalty keeps every weight at zero.

    At w = 0 (with the intercept fitted, it is the log-odds b*) the zero vector is optimal
    while ``C * max_j |g_j| <= l1_ratio``, where g is the gradient of the data term without
    the factor C. The L2 term has zero gradient at w = 0, so it plays no part. Returns None
    when g is zero (no C lets a feature in) or ``l1_ratio`` is 0.
    """
    if l1_ratio <= 0:
        return None
    b = _log_odds(y01, s) if fit_intercept else 0.0
    problem = Problem(X, y01, s, alpha=1.0, l1=0.0, l2=0.0, fit_intercept=fit_intercept,
                      n_blocks=1)
    grad = np.empty(X.shape[1] + 1)
    z = np.empty(X.shape[0])
    problem.loss_grad(np.zeros(X.shape[1]), b, grad, z)
    largest = float(np.max(np.abs(grad[:-1]))) if X.shape[1] else 0.0
    if not largest > 0:
        return None
    return l1_ratio / largest


def make_C_grid(Cs, X, y01, s, l1_ratios, fit_intercept, C_ratio=DEFAULT_C_RATIO):
    """Return the values of C to fit, as a float64 array.

    A list of Cs is returned as is. An integer Cs gives a log-spaced grid of that many
    points. Without an L1 term it is ``numpy.logspace(-4, 4, Cs)``. With one, it starts at
    the smallest C that keeps all weights at zero for the smallest positive l1_ratio and
    ends at ``C_ratio`` times that value.
    """
    if not isinstance(Cs, int):
        return Cs
    starts = [smallest_all_zero_C(X, y01, s, r, fit_intercept) for r in l1_ratios if r > 0]
    starts = [c for c in starts if c is not None]
    if not starts:
        return np.logspace(*DEFAULT_LOG10_C_RANGE, Cs)
    return min(starts) * np.logspace(0.0, math.log10(C_ratio), Cs)


# ---------------------------------------------------------------------- solving


def fit_path(X, y01, s, Cs, l1_ratio, fit_intercept, solver, tol, max_iter, n_threads,
             verbose=0):
    """Fit every C in ``Cs`` on validated data; return the results in the order of Cs.

    The fits run in increasing order of C, each starting from the previous solution. The
    first starts from w = 0 and the log-odds intercept, as ``LogisticRegression.fit`` does.
    Returns (coefs, intercepts, n_iter, objectives, converged).
    """
    n_samples, n_features = X.shape
    n_cs = len(Cs)
    coefs = np.zeros((n_cs, n_features))
    intercepts = np.zeros(n_cs)
    n_iter = np.zeros(n_cs, dtype=np.int32)
    objectives = np.zeros(n_cs)
    converged = np.zeros(n_cs, dtype=bool)

    w = np.zeros(n_features)
    b = _log_odds(y01, s) if fit_intercept else 0.0
    n_blocks = max(1, min(n_threads, n_samples))
    grad = np.empty(n_features + 1)
    z = np.empty(n_samples)
    # A stable sort keeps repeated values in their given order.
    for index in np.argsort(Cs, kind="stable"):
        C = float(Cs[index])
        finite_C = math.isfinite(C)
        problem = Problem(
            X, y01, s,
            alpha=C if finite_C else 1.0,
            l1=float(l1_ratio) if finite_C else 0.0,
            l2=1.0 - float(l1_ratio) if finite_C else 0.0,
            fit_intercept=fit_intercept,
            n_blocks=n_blocks,
        )
        result = SOLVERS[solver](problem, w, b, tol, max_iter, verbose)
        if not (np.all(np.isfinite(result.coef)) and math.isfinite(result.intercept)):
            raise ValueError(
                f"the fit at C={C!r} diverged to non-finite weights; scale the features or "
                "use a finite C."
            )
        w = np.array(result.coef, dtype=np.float64)
        b = float(result.intercept) if fit_intercept else 0.0
        if result.loss_history:
            objective = float(result.loss_history[-1])
        else:
            # The solver met the tolerance at its starting point and recorded nothing.
            objective = problem.loss_grad(w, b, grad, z) + problem.penalty(w)

        coefs[index] = w
        intercepts[index] = b
        n_iter[index] = result.n_iter
        objectives[index] = objective
        converged[index] = result.converged
        if verbose:
            logger.info("path C=%.6g: %d iterations, objective %.10g, %d non-zero weights",
                        C, result.n_iter, objective, int(np.count_nonzero(w)))
    return coefs, intercepts, n_iter, objectives, converged


def warn_not_converged(solver, tol, max_iter, failed_Cs, n_fits, stacklevel=3):
    """Issue one ConvergenceWarning that lists the values of C whose fits did not converge."""
    distinct = sorted(set(failed_Cs))
    listed = ", ".join(f"{C:.4g}" for C in distinct[:10])
    more = "" if len(distinct) <= 10 else ", ..."
    warnings.warn(
        f"solver {solver!r} did not converge to tol={tol} within max_iter={max_iter} "
        f"iterations in {len(failed_Cs)} of {n_fits} fits (C = {listed}{more}). "
        f"{CONVERGENCE_ADVICE}",
        ConvergenceWarning,
        stacklevel=stacklevel,
    )


def logistic_regression_path(X, y, Cs=10, l1_ratio=0.0, fit_intercept=True, tol=1e-4,
                             max_iter=100, sample_weight=None, class_weight=None,
                             solver="auto", n_jobs=None, C_ratio=DEFAULT_C_RATIO, verbose=0):
    """Fit ``LogisticRegression`` at several values of C, warm-starting each fit.

    The fits run from the smallest C (strongest penalty) to the largest, each starting
    from the solution at the previous C, and each to the same tolerance as a separate
    ``LogisticRegression(C=C, ...).fit(X, y)``. X, y, the weights and the other parameters
    are validated and mean what they mean in ``LogisticRegression``.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Two classes.
    Cs : int or array-like of float, default=10
        The values of C, positive (``numpy.inf`` allowed). An integer gives a log-spaced
        grid of that many points: ``numpy.logspace(-4, 4, Cs)`` when ``l1_ratio == 0`` (the
        default grid of scikit-learn's ``LogisticRegressionCV``). When ``l1_ratio > 0`` the
        grid runs from ``C_min = l1_ratio / max_j |g_j|``, the smallest C whose solution
        has all weights at zero, up to ``C_ratio * C_min``. Here g is the gradient of the data
        term ``sum_i s_i logloss_i`` at w = 0 and the fitted intercept-only model.
    l1_ratio : float, default=0.0
    fit_intercept : bool, default=True
    tol : float, default=1e-4
    max_iter : int, default=100
        Maximum number of solver iterations per value of C.
    sample_weight : array-like of shape (n_samples,), default=None
    class_weight : dict, "balanced" or None, default=None
    solver : {"auto", "newton", "lbfgs", "cd"}, default="auto"
    n_jobs : int or None, default=None
        Numba threads, as in ``LogisticRegression``.
    C_ratio : float, default=1e4
        Ratio of the largest to the smallest C of an integer grid with an L1 term.
    verbose : int, default=0
        When positive, log each solver iteration and each finished C to stderr.

    Returns
    -------
    RegularizationPath
        ``Cs``, ``coefs`` (n_cs, n_features), ``intercepts``, ``n_iter``, ``objectives`` and
        ``converged``, each in the order of ``Cs``, plus ``classes`` and ``solver``.

    Warns
    -----
    ConvergenceWarning
        Once, naming the values of C whose fits reached max_iter.
    """
    template = LogisticRegression(
        C=1.0, l1_ratio=l1_ratio, fit_intercept=fit_intercept, solver=solver, tol=tol,
        max_iter=max_iter, class_weight=class_weight, n_jobs=n_jobs, verbose=verbose,
    )
    template._check_params()
    Cs = check_Cs(Cs)
    check_C_ratio(C_ratio)
    X, _, y01, s = validate_training_data(template, template, X, y, sample_weight)
    grid = make_C_grid(Cs, X, y01, s, [l1_ratio], fit_intercept, C_ratio)
    resolved_solver = template._resolve_solver(X.shape[1])

    with _numba_threads(n_jobs, _stored_entries(X)) as n_threads, _verbose_logging(verbose):
        coefs, intercepts, n_iter, objectives, converged = fit_path(
            X, y01, s, grid, l1_ratio, bool(fit_intercept), resolved_solver, tol, max_iter,
            n_threads, verbose,
        )
    if not converged.all():
        warn_not_converged(resolved_solver, tol, max_iter, grid[~converged].tolist(),
                           grid.size)
    return RegularizationPath(
        Cs=np.array(grid, dtype=np.float64), coefs=coefs, intercepts=intercepts,
        n_iter=n_iter, objectives=objectives, converged=converged,
        classes=template.classes_, solver=resolved_solver,
    )
