"""Solvers against independent optima of the same objective."""

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression

from conftest import make_problem
from fastlogreg import LogisticRegression
from fastlogreg.solvers import Problem
from fastlogreg.solvers import cd as cd_module


def objective(X, y01, s, w, b, C, l1_ratio):
    """The objective written out in numpy (C may be inf: no penalty)."""
    z = np.asarray(X @ w).ravel() + b
    data = np.sum(s * np.logaddexp(0.0, np.where(y01 > 0.5, -z, z)))
    if np.isinf(C):
        return data
    return C * data + 0.5 * (1 - l1_ratio) * w @ w + l1_ratio * np.abs(w).sum()


def scipy_reference(X, y01, s, C, l1_ratio, fit_intercept=True):
    """Minimise the objective with L-BFGS-B, L1 through the split w = u - v, u, v >= 0."""
    d = X.shape[1]
    alpha, l1, l2 = (1.0, 0.0, 0.0) if np.isinf(C) else (C, l1_ratio, 1.0 - l1_ratio)

    def fun(theta):
        u, v, b = theta[:d], theta[d:2 * d], theta[2 * d]
        w = u - v
        z = X @ w + b
        loss = alpha * np.sum(s * np.logaddexp(0.0, np.where(y01 > 0.5, -z, z)))
        r = alpha * s * (1.0 / (1.0 + np.exp(-z)) - y01)
        gw = X.T @ r + l2 * w
        value = loss + 0.5 * l2 * w @ w + l1 * (u.sum() + v.sum())
        grad = np.concatenate([gw + l1, -gw + l1, [r.sum() if fit_intercept else 0.0]])
        return value, grad

    bounds = [(0, None)] * (2 * d) + [(None, None) if fit_intercept else (0, 0)]
    result = scipy.optimize.minimize(
        fun, np.zeros(2 * d + 1), jac=True, method="L-BFGS-B", bounds=bounds,
        options={"maxiter": 20000, "maxfun": 40000, "ftol": 1e-16, "gtol": 1e-11},
    )
    return result.x[:d] - result.x[d:2 * d], result.x[2 * d]


CASES = [(l1_ratio, C) for l1_ratio in (0.0, 0.5, 1.0) for C in (0.01, 1.0, 100.0)]


@pytest.mark.parametrize("l1_ratio,C", CASES + [(0.0, np.inf)])
def test_matches_scipy_reference(rng, l1_ratio, C):
    X, y = make_problem(rng, n=200, d=6)
    s = np.ones(X.shape[0])
    clf = LogisticRegression(C=C, l1_ratio=l1_ratio, tol=1e-10, max_iter=500).fit(X, y)
    w_ref, b_ref = scipy_reference(X, y.astype(float), s, C, l1_ratio)

    scale = max(np.abs(w_ref).max(), 1e-3)
    np.testing.assert_allclose(clf.coef_.ravel(), w_ref, rtol=1e-4, atol=1e-4 * scale)
    np.testing.assert_allclose(clf.intercept_[0], b_ref, rtol=1e-4, atol=1e-6)
    # The L1 solution has the reference's zero pattern.
    if l1_ratio > 0:
        np.testing.assert_array_equal(clf.coef_.ravel() == 0.0, np.abs(w_ref) < 1e-8 * scale)


@pytest.mark.parametrize("C", [0.01, 1.0, 100.0, np.inf])
def test_l2_matches_scikit_learn(rng, C):
    X, y = make_problem(rng, n=300, d=5)
    ours = LogisticRegression(C=C, tol=1e-10).fit(X, y)
    ref = SklearnLogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-4)


def test_l1_with_many_zeros_matches_reference(rng):
    X, y = make_problem(rng, n=300, d=20, informative=1.0)
    clf = LogisticRegression(C=0.02, l1_ratio=1.0, tol=1e-10).fit(X, y)
    w_ref, _ = scipy_reference(X, y.astype(float), np.ones(300), 0.02, 1.0)
    zeros = clf.coef_.ravel() == 0.0
    assert 0 < zeros.sum() < 20
    np.testing.assert_array_equal(zeros, np.abs(w_ref) < 1e-8)


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "cd"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_each_solver_reaches_the_same_optimum(rng, solver, fit_intercept):
    X, y = make_problem(rng, n=200, d=5)
    clf = LogisticRegression(solver=solver, tol=1e-10, max_iter=2000,
                             fit_intercept=fit_intercept).fit(X, y)
    w_ref, b_ref = scipy_reference(X, y.astype(float), np.ones(200), 1.0, 0.0, fit_intercept)
    np.testing.assert_allclose(clf.coef_.ravel(), w_ref, rtol=1e-4)
    assert clf.solver_ == solver
    if not fit_intercept:
        assert clf.intercept_[0] == 0.0


@pytest.mark.parametrize("l1_ratio,solver", [(0.0, "newton"), (0.0, "lbfgs"), (0.5, "cd")])
def test_loss_history_ends_at_fitted_objective(rng, l1_ratio, solver):
    X, y = make_problem(rng, n=150, d=4)
    clf = LogisticRegression(C=0.5, l1_ratio=l1_ratio, solver=solver, tol=1e-8).fit(X, y)
    expected = objective(X, y, np.ones(150), clf.coef_.ravel(), clf.intercept_[0], 0.5,
                         l1_ratio)
    np.testing.assert_allclose(clf.loss_history_[-1], expected, rtol=1e-12)
    assert clf.loss_history_.shape[0] >= 1
    # Each iteration decreases the objective.
    assert np.all(np.diff(clf.loss_history_) <= 1e-12 * abs(expected))


@pytest.mark.parametrize("solver,l1_ratio", [("newton", 0.0), ("lbfgs", 0.0), ("cd", 1.0)])
def test_max_iter_warns_convergence(rng, solver, l1_ratio):
    X, y = make_problem(rng, n=200, d=8)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        clf = LogisticRegression(solver=solver, l1_ratio=l1_ratio, tol=1e-14, max_iter=1)
        clf.fit(X * 50, y)
    assert clf.n_iter_[0] == 1


def test_looser_tol_stops_earlier(rng):
    X, y = make_problem(rng, n=300, d=10)
    loose = LogisticRegression(solver="lbfgs", tol=1e-2).fit(X, y)
    tight = LogisticRegression(solver="lbfgs", tol=1e-10, max_iter=1000).fit(X, y)
    assert loose.n_iter_[0] < tight.n_iter_[0]


def test_unpenalized_fit_on_collinear_features(rng):
    X, y = make_problem(rng, n=200, d=3)
    X = np.column_stack([X, X[:, 0]])
    clf = LogisticRegression(C=np.inf, tol=1e-8).fit(X, y)
    ref = LogisticRegression(C=np.inf, tol=1e-8).fit(X[:, :3], y)
    # The duplicated column splits its weight; the predictions are those of the reduced fit.
    np.testing.assert_allclose(clf.decision_function(X), ref.decision_function(X[:, :3]),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("gram", [True, False])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_cd_layouts_and_inner_modes_agree(rng, monkeypatch, gram, fit_intercept):
    # Coordinate descent works on the Hessian for small n_features, except on CSC input, and
    # on the columns of X otherwise. Both reach the scipy optimum on every layout.
    if not gram:
        monkeypatch.setattr(cd_module, "GRAM_MAX_FEATURES", 0)
    X, y = make_problem(rng, n=200, d=8)
    X[np.abs(X) < 0.7] = 0.0
    s = np.ones(len(y))
    w_ref, b_ref = scipy_reference(X, y.astype(float), s, 0.3, 0.7, fit_intercept)
    for matrix in (X, np.asfortranarray(X), sp.csr_matrix(X), sp.csc_matrix(X)):
        clf = LogisticRegression(l1_ratio=0.7, C=0.3, tol=1e-10, fit_intercept=fit_intercept)
        clf.fit(matrix, y)
        expected_gram = gram and not sp.isspmatrix_csc(matrix)
        assert cd_module.uses_gram(_problem_of(matrix, y)) is expected_gram
        np.testing.assert_allclose(clf.coef_.ravel(), w_ref, atol=2e-6)
        np.testing.assert_allclose(clf.intercept_[0], b_ref, atol=2e-6)


def _problem_of(X, y):
    return Problem(X, y.astype(float), np.ones(len(y)), alpha=1.0, l1=1.0, l2=0.0,
                   fit_intercept=True, n_blocks=1)


def test_newton_stops_at_rounding_floor(rng):
    X, y = make_problem(rng, n=2000, d=8)
    with pytest.warns(ConvergenceWarning, match="rounding floor"):
        clf = LogisticRegression(solver="newton", tol=1e-18, max_iter=500).fit(X, y)
    # Quadratic convergence reaches the floor in a few iterations; it must not run to max_iter.
    assert clf.n_iter_[0] < 30
    reference = LogisticRegression(solver="newton", tol=1e-10).fit(X, y)
    np.testing.assert_allclose(clf.coef_, reference.coef_, rtol=1e-8)
