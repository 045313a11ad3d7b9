"""``LogisticRegressionCV``: choose C (and l1_ratio) by cross-validation on warm-started paths."""

import inspect
import logging
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import check_scoring
from sklearn.model_selection import StratifiedKFold, check_cv
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from . import _kernels as K
from ._estimator import LogisticRegression, _numba_threads, _verbose_logging
from ._path import (
    check_Cs,
    fit_path,
    make_C_grid,
    validate_training_data,
    warn_not_converged,
)

logger = logging.getLogger("fastlogreg")


def _threading_layer_is_thread_safe():
    """Return whether Numba's threading layer accepts parallel kernels from several threads.

    The "workqueue" layer aborts the process when two threads launch parallel kernels at
    once; "omp" and "tbb" do not. The layer is chosen at the first parallel launch, so a
    tiny kernel call makes that happen first.
    """
    out = np.empty(1)
    K.curvature_weights(np.zeros(1), np.ones(1), 1.0, 1, out)
    return numba.threading_layer() != "workqueue"


def _accepts_sample_weight(scorer):
    try:
        parameters = inspect.signature(scorer).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "sample_weight" or p.kind is p.VAR_KEYWORD for p in parameters)


def _accuracy_scores(X_test, y_test, coefs, intercepts, sample_weight):
    """Return the (weighted) accuracy of each row of ``coefs`` on the test fold.

    ``y_test`` is encoded as 0 / 1. A sample is predicted positive when its margin is
    positive, as ``LogisticRegression.predict`` does.
    """
    margins = np.asarray(X_test @ coefs.T, dtype=np.float64) + intercepts
    correct = (margins > 0) == (y_test[:, None] == 1)
    return np.average(correct, axis=0, weights=sample_weight)


class LogisticRegressionCV(ClassifierMixin, BaseEstimator):
    """Logistic regression with C (and l1_ratio) chosen by cross-validation.

    For each fold and each l1_ratio, the values of C are fitted as one regularization path
    (see ``fastlogreg.logistic_regression_path``): from the smallest C to the largest, each
    fit warm-started from the previous one. Every fit is scored on the held-out fold, the
    (C, l1_ratio) pair with the highest mean score is chosen, and with ``refit=True`` the
    model is fitted again on all the data with it.

    Parameters
    ----------
    Cs : int or array-like of float, default=10
        The values of C to try, positive (``numpy.inf`` allowed). An integer gives a
        log-spaced grid of that many points, the same for every fold and l1_ratio: without an
        L1 term ``numpy.logspace(-4, 4, Cs)``, the grid of scikit-learn's
        ``LogisticRegressionCV`` (1.9). With an L1 term the grid spans
        ``C_min`` to ``1e4 * C_min``, where ``C_min`` is the smallest C that keeps all
        weights at zero on the whole training set for the smallest positive l1_ratio.
    l1_ratios : array-like of float, default=(0.0,)
        The values of l1_ratio to try, each in [0, 1].
    fit_intercept : bool, default=True
    cv : int, cross-validation splitter or iterable, default=None
        As in scikit-learn: None is 5 folds, an integer the number of folds; both give
        ``StratifiedKFold`` without shuffling. Every training fold needs both classes.
    scoring : str, callable or None, default=None
        A scikit-learn scorer name (for example ``"neg_log_loss"``) or a callable
        ``scorer(estimator, X, y)``. None is accuracy (``estimator.score``), the default of
        scikit-learn's ``LogisticRegressionCV`` in 1.9; scikit-learn plans to change its
        default to ``"neg_log_loss"`` in 1.11, and this class keeps accuracy.
    solver : {"auto", "newton", "lbfgs", "cd"}, default="auto"
        Resolved for each l1_ratio as in ``LogisticRegression``.
    tol : float, default=1e-4
    max_iter : int, default=100
        Maximum number of solver iterations per fit.
    batch_size, learning_rate :
        Passed to the refitted model; used only by ``solver="sgd"``.
    class_weight : dict, "balanced" or None, default=None
        "balanced" is computed once from all of y (without sample weights, as
        ``LogisticRegression`` does), and the same per-class weights are used in every fold.
    random_state : int, RandomState or None, default=None
        Passed to the solvers; the exact solvers ignore it. It does not shuffle the folds.
    n_jobs : int or None, default=None
        Total threads: None keeps Numba's current setting, -1 uses all cores. When there
        are at least two (fold, l1_ratio) fits and at least two threads, the fits run on a
        thread pool of ``min(n_fits, n_jobs)`` workers. Each worker then gets
        ``n_jobs // workers`` Numba threads and BLAS is limited to the same count, so that
        the total does not exceed ``n_jobs``. Run one after another, the fits and the refit
        use ``n_jobs`` Numba threads and at most ``n_jobs`` BLAS threads.
    refit : bool, default=True
        True: refit on all the data at the best (C, l1_ratio), starting from the mean of the
        fold solutions there. False: take the best pair of each fold, and set ``coef_`` and
        ``intercept_`` to the mean of those fold solutions and ``C_`` and ``l1_ratio_`` to the
        mean of those values, as scikit-learn does.
    verbose : int, default=0
        When positive, log each finished fit to stderr.

    Attributes
    ----------
    C_ : float
        The chosen C (the mean of the per-fold choices when ``refit=False``).
    l1_ratio_ : float
    Cs_ : ndarray of shape (n_cs,)
        The values of C tried, in the order of ``Cs``.
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
    scores_ : ndarray of shape (n_folds, n_l1_ratios, n_cs)
        The score of each fit on its held-out fold.
    coefs_paths_ : ndarray of shape (n_folds, n_l1_ratios, n_cs, 1, n_dof)
        The fold solutions; ``n_dof`` is n_features, plus 1 for the intercept (stored last)
        when ``fit_intercept``. These are the shapes of scikit-learn's LogisticRegressionCV with
        ``use_legacy_attributes=False`` for two classes.
    n_iter_ : ndarray of shape (n_folds, n_l1_ratios, n_cs)
        Solver iterations of each fold fit.
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    classes_ : ndarray of shape (2,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when X had string column names
    loss_history_ : ndarray, only when ``refit=True``
        The objective per iteration of the refit.
    solver_ : str, only when ``refit=True``
        The solver of the refit.
    """

    def __init__(self, Cs=10, l1_ratios=(0.0,), fit_intercept=True, cv=None, scoring=None,
                 solver="auto", tol=1e-4, max_iter=100, batch_size=256,
                 learning_rate="auto", class_weight=None, random_state=None, n_jobs=None,
                 refit=True, verbose=0):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.scoring = scoring
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.class_weight = class_weight
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.refit = refit
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # Multinomial fits are not implemented yet: three or more classes raise ValueError.
        tags.classifier_tags.multi_class = False
        return tags

    # ------------------------------------------------------------------ validation

    def _make_model(self, C=1.0, l1_ratio=0.0, n_jobs=None, warm_start=False):
        """Return an unfitted LogisticRegression with this object's shared parameters."""
        return LogisticRegression(
            C=C, l1_ratio=l1_ratio, fit_intercept=self.fit_intercept, solver=self.solver,
            tol=self.tol, max_iter=self.max_iter, batch_size=self.batch_size,
            learning_rate=self.learning_rate, class_weight=self.class_weight,
            random_state=self.random_state, n_jobs=n_jobs, warm_start=warm_start,
            verbose=self.verbose,
        )

    def _check_l1_ratios(self):
        try:
            values = np.asarray(self.l1_ratios, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"l1_ratios must be a list of numbers in [0, 1], got {self.l1_ratios!r}."
            ) from error
        if values.ndim != 1 or values.size == 0:
            raise ValueError(
                f"l1_ratios must be a non-empty list of numbers in [0, 1], got "
                f"{self.l1_ratios!r}."
            )
        invalid = values[~((values >= 0) & (values <= 1))]
        if invalid.size:
            raise ValueError(
                f"l1_ratios must contain numbers in [0, 1], got {invalid.tolist()}."
            )
        return values

    def _make_folds(self, X, y, y_encoded):
        cv = check_cv(self.cv, y, classifier=True)
        if isinstance(cv, StratifiedKFold):
            counts = np.bincount(y_encoded, minlength=len(self.classes_))
            smallest = int(np.argmin(counts))
            if counts[smallest] < cv.n_splits:
                raise ValueError(
                    f"cv has {cv.n_splits} stratified folds, but class "
                    f"{self.classes_[smallest]!r} has only {counts[smallest]} samples; "
                    f"use cv={int(counts[smallest])} or fewer folds, so that every fold "
                    "contains both classes."
                )
        folds = list(cv.split(X, y))
        if not folds:
            raise ValueError(f"cv={self.cv!r} produced no folds.")
        for number, (train, test) in enumerate(folds):
            if np.unique(y_encoded[train]).size < 2:
                raise ValueError(
                    f"the training part of fold {number} contains a single class; every "
                    "training fold needs samples of both classes. Use stratified folds "
                    "(an integer cv) or fewer folds."
                )
            if len(test) == 0:
                raise ValueError(f"the test part of fold {number} is empty.")
        return folds

    # ------------------------------------------------------------------ fit

    def fit(self, X, y, sample_weight=None):
        """Cross-validate the grid of (C, l1_ratio), then refit; return self.

        ``sample_weight`` weights the training loss in every fold and the refit, and is
        passed to the scorer on each held-out fold (when the scorer accepts it).
        """
        template = self._make_model()
        template._check_params()
        Cs = check_Cs(self.Cs)
        l1_ratios = self._check_l1_ratios()
        if not isinstance(self.refit, (bool, np.bool_)):
            raise ValueError(f"refit must be True or False, got refit={self.refit!r}.")

        X, y, y01, s = validate_training_data(self, template, X, y, sample_weight)
        self.classes_ = template.classes_
        y_encoded = y01.astype(np.intp)
        raw_weight = None if sample_weight is None else np.asarray(sample_weight,
                                                                    dtype=np.float64)
        if raw_weight is not None and raw_weight.ndim == 0:
            raw_weight = np.full(X.shape[0], float(raw_weight))
        grid = make_C_grid(Cs, X, y01, s, l1_ratios, bool(self.fit_intercept))
        solvers = [
            self._make_model(l1_ratio=float(r))._resolve_solver(X.shape[1]) for r in l1_ratios
        ]
        folds = self._make_folds(X, y, y_encoded)
        for number, (train, _) in enumerate(folds):
            if not s[train].sum() > 0:
                raise ValueError(
                    f"the sample weights of the training part of fold {number} sum to zero; "
                    "at least one must be positive."
                )
        scorer = check_scoring(template, scoring=self.scoring)
        pass_weight = raw_weight is not None and _accepts_sample_weight(scorer)
        # Accuracy, the default, is computed for all Cs at once from one product with X_test.
        # It equals what the scorer returns, without building a model per C.
        fast_accuracy = self.scoring is None or (isinstance(self.scoring, str)
                                                 and self.scoring == "accuracy")

        def run_fit(fold_index, ratio_index, n_threads):
            train, test = folds[fold_index]
            l1_ratio = float(l1_ratios[ratio_index])
            with _numba_threads(n_threads) as threads:
                path = fit_path(
                    X[train], y01[train], s[train], grid, l1_ratio, bool(self.fit_intercept),
                    solvers[ratio_index], self.tol, self.max_iter, threads, self.verbose,
                )
            coefs, intercepts, n_iter, _, converged = path
            test_weight = None if raw_weight is None else raw_weight[test]
            if fast_accuracy:
                scores = _accuracy_scores(X[test], y_encoded[test], coefs, intercepts,
                                          test_weight)
            else:
                score_kwargs = {"sample_weight": test_weight} if pass_weight else {}
                scores = self._score_path(scorer, coefs, intercepts, grid, l1_ratio,
                                          X[test], y[test], score_kwargs)
            if self.verbose:
                logger.info("fold %d, l1_ratio %g: best score %.6g at C=%.6g", fold_index,
                            l1_ratio, scores.max(), grid[int(np.argmax(scores))])
            return coefs, intercepts, n_iter, converged, scores

        tasks = [(f, r) for f in range(len(folds)) for r in range(len(l1_ratios))]
        with _numba_threads(self.n_jobs) as budget, _verbose_logging(self.verbose):
            results = self._run_tasks(run_fit, tasks, budget)
            self._store_cv_results(results, folds, grid, l1_ratios, X.shape[1], solvers)
            if self.refit:
                with threadpool_limits(limits=budget, user_api="blas"):
                    self._refit(X, y, sample_weight)
            else:
                self._average_best()
        return self

    def _run_tasks(self, run_fit, tasks, budget):
        """Run ``run_fit`` on each (fold, l1_ratio) task, on threads when that helps."""
        workers = min(len(tasks), budget)
        if workers > 1 and not _threading_layer_is_thread_safe():
            # NOTE: with Numba's "workqueue" layer the folds run one after another, each
            # with all threads; install tbb or use the "omp" layer for parallel folds.
            workers = 1
        if workers <= 1:
            with threadpool_limits(limits=budget, user_api="blas"):
                return [run_fit(f, r, budget) for f, r in tasks]
        per_worker = max(1, budget // workers)
        with threadpool_limits(limits=per_worker, user_api="blas"), \
                ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run_fit, f, r, per_worker) for f, r in tasks]
            return [future.result() for future in futures]

    def _score_path(self, scorer, coefs, intercepts, grid, l1_ratio, X_test, y_test,
                    score_kwargs):
        """Return the scorer's value on the test fold for each C of one fold's path."""
        scores = np.empty(len(grid))
        for index in range(len(grid)):
            model = self._fitted_model(coefs[index], intercepts[index], grid[index],
                                       l1_ratio, X_test.shape[1])
            scores[index] = scorer(model, X_test, y_test, **score_kwargs)
        return scores

    def _fitted_model(self, coef, intercept, C, l1_ratio, n_features):
        """Return a LogisticRegression holding the given weights, for scoring."""
        model = self._make_model(C=C, l1_ratio=l1_ratio)
        model.classes_ = self.classes_
        model.coef_ = np.asarray(coef, dtype=np.float64).reshape(1, -1)
        model.intercept_ = np.array([intercept])
        model.n_features_in_ = n_features
        return model

    def _store_cv_results(self, results, folds, grid, l1_ratios, n_features, solvers):
        n_folds, n_l1, n_cs = len(folds), len(l1_ratios), len(grid)
        n_dof = n_features + int(bool(self.fit_intercept))
        self.Cs_ = np.array(grid, dtype=np.float64)
        self.l1_ratios_ = np.array(l1_ratios, dtype=np.float64)
        self.scores_ = np.empty((n_folds, n_l1, n_cs))
        self.coefs_paths_ = np.empty((n_folds, n_l1, n_cs, 1, n_dof))
        self.n_iter_ = np.empty((n_folds, n_l1, n_cs), dtype=np.int32)
        failed = {}
        for task_index, (coefs, intercepts, n_iter, converged, scores) in enumerate(results):
            f, r = divmod(task_index, n_l1)
            self.scores_[f, r] = scores
            self.coefs_paths_[f, r, :, 0, :n_features] = coefs
            if self.fit_intercept:
                self.coefs_paths_[f, r, :, 0, n_features] = intercepts
            self.n_iter_[f, r] = n_iter
            if not converged.all():
                failed.setdefault(solvers[r], []).extend(grid[~converged].tolist())
        for solver, failed_Cs in failed.items():
            warn_not_converged(solver, self.tol, self.max_iter, failed_Cs,
                               n_folds * n_l1 * n_cs, stacklevel=4)

    def _best_index(self, scores):
        """Return (l1_ratio index, C index) of the highest score in an (n_l1, n_cs) array.

        Ties go to the smaller C index, then the smaller l1_ratio index, as in
        scikit-learn's LogisticRegressionCV.
        """
        by_C = scores.T
        c_index, r_index = np.unravel_index(int(np.argmax(by_C)), by_C.shape)
        return int(r_index), int(c_index)

    def _refit(self, X, y, sample_weight):
        r_index, c_index = self._best_index(self.scores_.mean(axis=0))
        self.C_ = float(self.Cs_[c_index])
        self.l1_ratio_ = float(self.l1_ratios_[r_index])
        start = self.coefs_paths_[:, r_index, c_index, 0, :].mean(axis=0)

        model = self._make_model(C=self.C_, l1_ratio=self.l1_ratio_, n_jobs=self.n_jobs,
                                 warm_start=True)
        n_features = X.shape[1]
        model.classes_ = self.classes_
        model.coef_ = start[:n_features].reshape(1, -1)
        model.intercept_ = np.array([start[n_features] if self.fit_intercept else 0.0])
        model.fit(X, y, sample_weight=sample_weight)

        self._model = model
        self.coef_ = model.coef_
        self.intercept_ = model.intercept_
        self.loss_history_ = model.loss_history_
        self.solver_ = model.solver_

    def _average_best(self):
        n_features = self.n_features_in_
        best = [self._best_index(fold_scores) for fold_scores in self.scores_]
        solutions = np.array([
            self.coefs_paths_[f, r, c, 0, :] for f, (r, c) in enumerate(best)
        ])
        mean = solutions.mean(axis=0)
        self.C_ = float(np.mean([self.Cs_[c] for _, c in best]))
        self.l1_ratio_ = float(np.mean([self.l1_ratios_[r] for r, _ in best]))
        self.coef_ = mean[:n_features].reshape(1, -1)
        self.intercept_ = np.array([mean[n_features] if self.fit_intercept else 0.0])
        self._model = self._fitted_model(self.coef_[0], self.intercept_[0], self.C_,
                                         self.l1_ratio_, n_features)

    # ------------------------------------------------------------------ predict

    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(
            self, X, reset=False, accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32], accept_large_sparse=True,
        )

    def decision_function(self, X):
        """Return the margin x . w + b of each sample, shape (n_samples,)."""
        X = self._validate_X(X)
        return self._model.decision_function(X)

    def predict(self, X):
        """Return the predicted label of each sample."""
        X = self._validate_X(X)
        return self._model.predict(X)

    def predict_proba(self, X):
        """Return the probabilities of classes_[0] and classes_[1], shape (n_samples, 2)."""
        X = self._validate_X(X)
        return self._model.predict_proba(X)

    def predict_log_proba(self, X):
        """Return the log-probabilities of classes_[0] and classes_[1]."""
        X = self._validate_X(X)
        return self._model.predict_log_proba(X)

    def score(self, X, y, sample_weight=None):
        """Return the score given by ``scoring`` (accuracy by default) on X and y."""
        if self.scoring is None:
            return super().score(X, y, sample_weight=sample_weight)
        scorer = check_scoring(self, scoring=self.scoring)
        if sample_weight is None:
            return scorer(self, X, y)
        return scorer(self, X, y, sample_weight=sample_weight)
