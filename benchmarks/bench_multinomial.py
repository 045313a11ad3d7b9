"""Fit time of the multinomial (softmax) model, L2 with lbfgs and L1 with cd.

Two problems: scikit-learn's digits (1797 x 64, 10 classes, standardized) and a generated
10-class problem of ``GENERATED_SHAPE``. Besides the fit time, ``track_objective`` scores the
fitted model with the numpy objective below, and ``track_sklearn_time_ratio`` times
scikit-learn's ``LogisticRegression`` (lbfgs for L2, saga for L1) with the same ``C``, ``tol``
and ``max_iter`` against fastlogreg in the same process. The two libraries apply ``tol`` to
different stopping tests, so the ratio compares fits with equal settings, not equal accuracy.
``benchmarks/compare_multinomial.py`` measures the time to a fixed suboptimality instead.
"""

import functools
import time
import warnings

import numpy as np

from fastlogreg import LogisticRegression

C = 1.0
TOL = 1e-4
MAX_ITER = 1000
# Rows x features of the generated problem. Set (1_000_000, 50) for the full-size problem.
# The default keeps one asv run of this suite to about 10 minutes on 2 cores (an estimate
# from single fits: L1 cd about 25 s and saga about 50 s at 200,000 rows).
GENERATED_SHAPE = (200_000, 50)
N_CLASSES = 10
# l1_ratio and the solver of each library for each penalty.
PENALTIES = {
    "l2": (0.0, "lbfgs", "lbfgs"),
    "l1": (1.0, "cd", "saga"),
}


def make_multiclass(n_samples, n_features, n_classes=N_CLASSES, seed=0):
    """Return a C-ordered float64 X and int64 labels y drawn from a softmax model.

    Features are standard normal with scales from 0.5 to 2. The true weights have a row norm
    of about 2 and the intercepts a spread of 0.5, so the classes overlap and no class is
    rare. Labels are drawn with the Gumbel-max trick, which samples the softmax exactly.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    X *= np.linspace(0.5, 2.0, n_features)
    W = rng.standard_normal((n_classes, n_features)) * (2.0 / np.sqrt(n_features))
    b = rng.normal(0.0, 0.5, n_classes)
    scores = X @ W.T + b + rng.gumbel(size=(n_samples, n_classes))
    return np.ascontiguousarray(X), np.argmax(scores, axis=1).astype(np.int64)


def load_digits_scaled():
    """Return scikit-learn's digits with every pixel standardized (constant pixels stay 0)."""
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    return np.ascontiguousarray(StandardScaler().fit_transform(X)), y.astype(np.int64)


@functools.lru_cache(maxsize=2)
def load_problem(name, shape=GENERATED_SHAPE):
    """Return (X, y) of the named problem: "digits" or "generated" of ``shape``."""
    if name == "digits":
        return load_digits_scaled()
    if name == "generated":
        return make_multiclass(*shape)
    raise ValueError(f"unknown problem {name!r}; expected 'digits' or 'generated'")


def softmax_objective(X, y, coef, intercept, C, l1_ratio):
    """Return ``C * sum_i softmax_loss_i + (1 - l1_ratio) / 2 ||W||^2 + l1_ratio ||W||_1``.

    Computed with numpy in float64, independently of the library under test. ``y`` contains
    class indices 0..K-1 in the order of the rows of ``coef``.
    """
    W = np.asarray(coef, dtype=np.float64)
    scores = np.asarray(X @ W.T, dtype=np.float64) + np.asarray(intercept, dtype=np.float64)
    top = scores.max(axis=1)
    log_sum = top + np.log(np.exp(scores - top[:, None]).sum(axis=1))
    data_term = float((log_sum - scores[np.arange(y.shape[0]), y]).sum())
    return C * data_term + (1.0 - l1_ratio) / 2.0 * float((W * W).sum()) \
        + l1_ratio * float(np.abs(W).sum())


def fit_fastlogreg(X, y, penalty, max_iter=MAX_ITER, tol=TOL):
    l1_ratio, solver, _ = PENALTIES[penalty]
    model = LogisticRegression(C=C, l1_ratio=l1_ratio, solver=solver, tol=tol,
                               max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


def fit_sklearn(X, y, penalty, max_iter=MAX_ITER, tol=TOL):
    from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression

    l1_ratio, _, solver = PENALTIES[penalty]
    model = SklearnLogisticRegression(C=C, l1_ratio=l1_ratio, solver=solver, tol=tol,
                                      max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


class MultinomialFit:
    params = (["digits", "generated"], list(PENALTIES))
    param_names = ["problem", "penalty"]
    number = 1
    repeat = (2, 5, 60.0)
    warmup_time = 0.0
    timeout = 1200

    def setup(self, problem, penalty):
        self.X, self.y = load_problem(problem)
        self.l1_ratio = PENALTIES[penalty][0]
        # Warm the JIT with the same solver, dtype and layout as the timed fit; the kernels
        # do not specialize on the number of rows.
        fit_fastlogreg(self.X[:500], self.y[:500], penalty, max_iter=2)

    def time_fit(self, problem, penalty):
        fit_fastlogreg(self.X, self.y, penalty)

    def track_objective(self, problem, penalty):
        model = fit_fastlogreg(self.X, self.y, penalty)
        return softmax_objective(self.X, self.y, model.coef_, model.intercept_, C,
                                 self.l1_ratio)

    track_objective.unit = "objective"

    def track_sklearn_time_ratio(self, problem, penalty):
        """Return scikit-learn's fit time divided by fastlogreg's, one fit of each."""
        start = time.perf_counter()
        fit_sklearn(self.X, self.y, penalty)
        sklearn_seconds = time.perf_counter() - start
        start = time.perf_counter()
        fit_fastlogreg(self.X, self.y, penalty)
        fastlogreg_seconds = time.perf_counter() - start
        return sklearn_seconds / fastlogreg_seconds

    track_sklearn_time_ratio.unit = "ratio"
