"""Three or more classes: the multinomial (softmax) model."""

import functools

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp
from scipy.special import log_softmax
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression

from fastlogreg import LogisticRegression
from fastlogreg.solvers.multinomial import MultinomialProblem


def softmax_objective(X, y, s, W, b, C, l1_ratio):
    """The multinomial objective written out in numpy."""
    Z = np.asarray(X @ W.T) + b
    data = -np.sum(s * log_softmax(Z, axis=1)[np.arange(len(y)), y])
    return C * data + 0.5 * (1 - l1_ratio) * np.sum(W * W) + l1_ratio * np.abs(W).sum()


def scipy_softmax_reference(X, y, C, l1_ratio):
    """Minimise the objective with L-BFGS-B; L1 through the split W = U - V, U, V >= 0."""
    n_classes = y.max() + 1
    d = X.shape[1]
    size = n_classes * d
    onehot = np.eye(n_classes)[y]

    def fun(theta):
        W = (theta[:size] - theta[size:2 * size]).reshape(n_classes, d)
        b = theta[2 * size:]
        Z = X @ W.T + b
        log_p = log_softmax(Z, axis=1)
        value = (-C * np.sum(onehot * log_p) + 0.5 * (1 - l1_ratio) * np.sum(W * W)
                 + l1_ratio * theta[:2 * size].sum())
        R = C * (np.exp(log_p) - onehot)
        gW = (R.T @ X + (1 - l1_ratio) * W).ravel()
        return value, np.concatenate([gW + l1_ratio, -gW + l1_ratio, R.sum(axis=0)])

    bounds = [(0, None)] * (2 * size) + [(None, None)] * n_classes
    result = scipy.optimize.minimize(
        fun, np.zeros(2 * size + n_classes), jac=True, method="L-BFGS-B", bounds=bounds,
        options={"maxiter": 50000, "maxfun": 100000, "ftol": 1e-16, "gtol": 1e-10},
    )
    W = (result.x[:size] - result.x[size:2 * size]).reshape(n_classes, d)
    b = result.x[2 * size:]
    return W, b - b.mean()


def scaled(loader):
    X, y = loader(return_X_y=True)
    return X / X.max(), y


@functools.lru_cache(maxsize=None)
def sklearn_reference(loader):
    """scikit-learn's fit at C=1 and tol=1e-10, shared by the tests of each layout."""
    X, y = scaled(loader)
    return SklearnLogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(X, y)


INPUTS = {
    "dense64": lambda X: X,
    "dense32": lambda X: X.astype(np.float32),
    "fortran": np.asfortranarray,
    "csr": sp.csr_matrix,
    "csc32": lambda X: sp.csc_matrix(X.astype(np.float32)),
}


@pytest.mark.parametrize("loader", [load_iris, load_digits], ids=["iris", "digits"])
@pytest.mark.parametrize("layout", list(INPUTS))
def test_l2_matches_scikit_learn(loader, layout):
    X, y = scaled(loader)
    reference = sklearn_reference(loader)
    clf = LogisticRegression(C=1.0, tol=1e-10, max_iter=2000).fit(INPUTS[layout](X), y)
    rtol = 1e-3 if "32" in layout else 1e-4
    scale = np.abs(reference.coef_).max()
    assert clf.coef_.shape == reference.coef_.shape
    np.testing.assert_allclose(clf.coef_, reference.coef_, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(clf.intercept_, reference.intercept_, rtol=rtol,
                               atol=rtol * np.abs(reference.intercept_).max())
    np.testing.assert_allclose(clf.predict_proba(X), reference.predict_proba(X), atol=1e-4)


@pytest.mark.parametrize("layout", ["dense64", "csr", "dense32"])
def test_l1_matches_scipy_reference(layout):
    X, y = scaled(load_iris)
    clf = LogisticRegression(C=2.0, l1_ratio=1.0, tol=1e-10, max_iter=500)
    clf.fit(INPUTS[layout](X), y)
    W_ref, b_ref = scipy_softmax_reference(X, y, 2.0, 1.0)
    rtol = 1e-3 if "32" in layout else 1e-4
    scale = np.abs(W_ref).max()
    np.testing.assert_allclose(clf.coef_, W_ref, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(clf.intercept_, b_ref, rtol=rtol, atol=rtol * scale)
    assert np.any(clf.coef_ == 0.0)
    np.testing.assert_array_equal(clf.coef_ == 0.0, np.abs(W_ref) < 1e-8 * scale)


def test_elastic_net_on_digits_reaches_reference_objective():
    X, y = scaled(load_digits)
    X, y = X[:400], y[:400]
    clf = LogisticRegression(C=0.5, l1_ratio=0.5, tol=1e-8, max_iter=1000).fit(X, y)
    W_ref, b_ref = scipy_softmax_reference(X, y, 0.5, 0.5)
    ones = np.ones(len(y))
    ours = softmax_objective(X, y, ones, clf.coef_, clf.intercept_, 0.5, 0.5)
    best = softmax_objective(X, y, ones, W_ref, b_ref, 0.5, 0.5)
    assert ours <= best * (1 + 1e-7)
    np.testing.assert_allclose(clf.loss_history_[-1], ours, rtol=1e-10)


def test_softmax_stable_at_extreme_margins():
    X = np.array([[1.0], [-1.0]])
    W = np.array([[1e4], [0.0], [-1e4]])
    b = np.zeros(3)
    y = np.array([2, 0])
    problem = MultinomialProblem(X, y, np.ones(2), n_classes=3, alpha=1.0, l1=0.0, l2=0.0,
                                 fit_intercept=True, n_blocks=1)
    grad = np.empty((3, 2))
    Z = np.empty((2, 3))
    loss = problem.loss_grad(W, b, grad, Z)
    # Each sample gives its true class a margin 2e4 below the best class.
    np.testing.assert_allclose(loss, 4e4)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad[:, 0], [1.0 + 1.0, 0.0, -1.0 - 1.0])


@pytest.mark.parametrize("layout", ["dense64", "fortran", "csr", "csc32"])
def test_softmax_gradient_matches_finite_differences(rng, layout):
    n, d, n_classes = 60, 4, 3
    X = rng.standard_normal((n, d))
    y = rng.integers(0, n_classes, n)
    s = rng.uniform(0.5, 2.0, n)
    X_in = INPUTS[layout](X)
    problem = MultinomialProblem(X_in, y, s, n_classes=n_classes, alpha=0.8, l1=0.0, l2=0.3,
                                 fit_intercept=True, n_blocks=2)
    W = rng.standard_normal((n_classes, d))
    b = rng.standard_normal(n_classes)
    grad = np.empty((n_classes, d + 1))
    problem.objective_grad(W, b, grad, np.empty((n, n_classes)))

    def value(theta):
        return problem.objective_grad(
            np.ascontiguousarray(theta[:, :d]), np.ascontiguousarray(theta[:, d]),
            np.empty((n_classes, d + 1)), np.empty((n, n_classes)))

    theta = np.column_stack([W, b])
    h = 1e-3
    fd = np.empty_like(theta)
    for index in np.ndindex(theta.shape):
        e = np.zeros_like(theta)
        e[index] = h
        fd[index] = (-value(theta + 2 * e) + 8 * value(theta + e)
                     - 8 * value(theta - e) + value(theta - 2 * e)) / (12 * h)
    tolerance = 1e-5 if "32" in layout else 1e-8
    np.testing.assert_allclose(grad, fd, rtol=tolerance, atol=tolerance)


def test_string_labels_class_weight_and_sample_weight():
    X, y = scaled(load_iris)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    weights = {"setosa": 1.0, "versicolor": 2.0, "virginica": 0.5}
    by_class = LogisticRegression(class_weight=weights, tol=1e-10).fit(X, names)
    by_sample = LogisticRegression(tol=1e-10).fit(
        X, names, sample_weight=np.array([weights[name] for name in names]))
    np.testing.assert_allclose(by_class.coef_, by_sample.coef_, rtol=1e-8)
    np.testing.assert_array_equal(by_class.classes_, ["setosa", "versicolor", "virginica"])
    assert set(by_class.predict(X)) <= set(names)
    np.testing.assert_allclose(by_class.predict_proba(X).sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(by_class.predict_log_proba(X)), by_class.predict_proba(X))


def test_two_classes_keep_the_binary_shape():
    X, y = scaled(load_iris)
    clf = LogisticRegression().fit(X[y < 2], y[y < 2])
    assert clf.coef_.shape == (1, X.shape[1])
    assert clf.intercept_.shape == (1,)
    assert clf.decision_function(X).shape == (X.shape[0],)


def test_multiclass_predict_is_argmax():
    X, y = scaled(load_digits)
    clf = LogisticRegression(C=0.3).fit(X, y)
    scores = clf.decision_function(X)
    assert scores.shape == (X.shape[0], 10)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[scores.argmax(axis=1)])
    assert clf.score(X, y) > 0.9
    assert clf.intercept_.sum() == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("C,l1_ratio", [(0.05, 1.0), (1.0, 1.0), (0.3, 0.5)])
def test_l1_five_classes_matches_reference(C, l1_ratio):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((600, 8))
    y = np.argmax(X @ rng.standard_normal((5, 8)).T + rng.gumbel(size=(600, 5)), axis=1)
    clf = LogisticRegression(C=C, l1_ratio=l1_ratio, tol=1e-7, max_iter=200).fit(X, y)
    W_ref, b_ref = scipy_softmax_reference(X, y, C, l1_ratio)
    ones = np.ones(600)
    ours = softmax_objective(X, y, ones, clf.coef_, clf.intercept_, C, l1_ratio)
    best = softmax_objective(X, y, ones, W_ref, b_ref, C, l1_ratio)
    assert ours <= best * (1 + 1e-10)
    np.testing.assert_array_equal(clf.coef_ == 0.0, np.abs(W_ref) < 1e-8)


def test_l1_ten_classes_converges_in_few_iterations():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 20))
    y = np.argmax(X @ (0.5 * rng.standard_normal((10, 20))).T + rng.gumbel(size=(3000, 10)),
                  axis=1)
    clf = LogisticRegression(l1_ratio=1.0, tol=1e-5, max_iter=300).fit(X, y)
    # Shifting each feature's column by its penalty-optimal constant keeps block coordinate
    # descent from crawling along the loss's flat direction: without the shift this problem
    # took 147 iterations, with it 17.
    assert clf.n_iter_[0] < 40
