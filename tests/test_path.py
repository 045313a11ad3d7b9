"""Tests for logistic_regression_path: warm-started fits over a grid of C."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from fastlogreg import LogisticRegression, logistic_regression_path

TIGHT_TOL = 1e-8


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_l2_path_matches_separate_fits(cancer):
    X, y = cancer
    Cs = [0.01, 0.1, 1.0, 10.0]
    path = logistic_regression_path(X, y, Cs, tol=TIGHT_TOL)
    assert path.solver == "newton"
    assert path.coefs.shape == (4, X.shape[1])
    assert path.converged.all()
    for index, C in enumerate(Cs):
        model = LogisticRegression(C=C, tol=TIGHT_TOL).fit(X, y)
        np.testing.assert_allclose(path.coefs[index], model.coef_[0], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(path.intercepts[index], model.intercept_[0], atol=1e-7)
        np.testing.assert_allclose(path.objectives[index], model.loss_history_[-1],
                                   rtol=1e-10)


def test_l1_path_matches_separate_fits(cancer):
    X, y = cancer
    path = logistic_regression_path(X, y, 5, l1_ratio=1.0, tol=TIGHT_TOL, max_iter=500)
    assert path.solver == "cd"
    for index, C in enumerate(path.Cs):
        model = LogisticRegression(C=C, l1_ratio=1.0, tol=TIGHT_TOL, max_iter=500).fit(X, y)
        # The L1 objective is flat along directions of correlated features, so the weights
        # agree less closely than the objective does.
        np.testing.assert_allclose(path.objectives[index], model.loss_history_[-1],
                                   rtol=1e-8)
        np.testing.assert_allclose(path.coefs[index], model.coef_[0], atol=1e-2)
        np.testing.assert_array_equal(path.coefs[index] == 0, model.coef_[0] == 0)


def test_elastic_net_path_matches_separate_fits(cancer):
    X, y = cancer
    Cs = [0.05, 0.5]
    path = logistic_regression_path(X, y, Cs, l1_ratio=0.5, tol=TIGHT_TOL, max_iter=500)
    for index, C in enumerate(Cs):
        model = LogisticRegression(C=C, l1_ratio=0.5, tol=TIGHT_TOL, max_iter=500).fit(X, y)
        np.testing.assert_allclose(path.objectives[index], model.loss_history_[-1],
                                   rtol=1e-8)
        np.testing.assert_allclose(path.coefs[index], model.coef_[0], atol=1e-4)


def test_l1_grid_starts_at_all_zero_point(cancer):
    X, y = cancer
    path = logistic_regression_path(X, y, 4, l1_ratio=1.0, tol=1e-6, max_iter=500)
    assert np.all(np.diff(path.Cs) > 0)
    np.testing.assert_allclose(path.Cs[-1] / path.Cs[0], 1e4)
    assert np.count_nonzero(path.coefs[0]) == 0
    assert path.n_iter[0] == 0
    assert np.count_nonzero(path.coefs[1]) > 0
    # At C_min the intercept-only model is the solution: the intercept is the log-odds.
    p = y.mean()
    np.testing.assert_allclose(path.intercepts[0], np.log(p / (1 - p)), rtol=1e-12)


def test_all_zero_point_is_the_boundary(cancer):
    X, y = cancer
    C_min = logistic_regression_path(X, y, 1, l1_ratio=1.0).Cs[0]
    above = logistic_regression_path(X, y, [1.01 * C_min], l1_ratio=1.0, tol=1e-8)
    assert np.count_nonzero(above.coefs[0]) == 1


def test_elastic_net_grid_scales_with_l1_ratio(cancer):
    X, y = cancer
    l1_only = logistic_regression_path(X, y, 3, l1_ratio=1.0, C_ratio=100.0)
    mixed = logistic_regression_path(X, y, 3, l1_ratio=0.25, C_ratio=100.0)
    np.testing.assert_allclose(mixed.Cs, 0.25 * l1_only.Cs)
    np.testing.assert_allclose(l1_only.Cs[-1] / l1_only.Cs[0], 100.0)
    assert np.count_nonzero(mixed.coefs[0]) == 0


def test_l2_integer_grid_is_logspace(cancer):
    X, y = cancer
    path = logistic_regression_path(X, y, 3)
    np.testing.assert_allclose(path.Cs, [1e-4, 1.0, 1e4])


def test_results_follow_given_order(cancer):
    X, y = cancer
    increasing = logistic_regression_path(X, y, [0.1, 1.0, 10.0], tol=TIGHT_TOL)
    shuffled = logistic_regression_path(X, y, [10.0, 0.1, 1.0], tol=TIGHT_TOL)
    np.testing.assert_array_equal(shuffled.Cs, [10.0, 0.1, 1.0])
    np.testing.assert_allclose(shuffled.coefs, increasing.coefs[[2, 0, 1]], atol=1e-7)
    np.testing.assert_allclose(shuffled.objectives, increasing.objectives[[2, 0, 1]],
                               rtol=1e-10)


def test_warm_start_saves_iterations(cancer):
    X, y = cancer
    Cs = np.logspace(-2, 0, 8)
    path = logistic_regression_path(X, y, Cs, l1_ratio=1.0, tol=1e-6, max_iter=500)
    separate = [
        LogisticRegression(C=C, l1_ratio=1.0, tol=1e-6, max_iter=500).fit(X, y).n_iter_[0]
        for C in Cs
    ]
    assert path.n_iter.sum() < sum(separate)


def test_sparse_input_matches_dense(cancer):
    X, y = cancer
    Cs = [0.1, 1.0]
    dense = logistic_regression_path(X, y, Cs, tol=TIGHT_TOL)
    for matrix in (sp.csr_matrix(X), sp.csc_matrix(X)):
        sparse = logistic_regression_path(matrix, y, Cs, tol=TIGHT_TOL)
        np.testing.assert_allclose(sparse.coefs, dense.coefs, atol=1e-7)


def test_weights_and_infinite_C(cancer):
    X, y = cancer
    weights = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    Cs = [0.1, np.inf]
    path = logistic_regression_path(X[:, :5], y, Cs, sample_weight=weights,
                                    class_weight="balanced", tol=TIGHT_TOL)
    for index, C in enumerate(Cs):
        model = LogisticRegression(C=C, class_weight="balanced", tol=TIGHT_TOL)
        model.fit(X[:, :5], y, sample_weight=weights)
        np.testing.assert_allclose(path.coefs[index], model.coef_[0], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(path.objectives[index], model.loss_history_[-1],
                                   rtol=1e-10)


def test_no_intercept_path(cancer):
    X, y = cancer
    path = logistic_regression_path(X, y, [0.5], fit_intercept=False, tol=TIGHT_TOL)
    model = LogisticRegression(C=0.5, fit_intercept=False, tol=TIGHT_TOL).fit(X, y)
    assert path.intercepts[0] == 0.0
    np.testing.assert_allclose(path.coefs[0], model.coef_[0], rtol=1e-6, atol=1e-7)


def test_string_labels_positive_class(cancer):
    X, y = cancer
    labels = np.where(y == 1, "benign", "malignant")
    path = logistic_regression_path(X, labels, [1.0], tol=TIGHT_TOL)
    reference = logistic_regression_path(X, (labels == "malignant").astype(int), [1.0],
                                         tol=TIGHT_TOL)
    np.testing.assert_array_equal(path.classes, ["benign", "malignant"])
    np.testing.assert_allclose(path.coefs, reference.coefs)


def test_non_convergence_warns_once(cancer):
    from sklearn.exceptions import ConvergenceWarning

    X, y = cancer
    with pytest.warns(ConvergenceWarning, match=r"in 2 of 2 fits") as record:
        logistic_regression_path(X, y, [1.0, 10.0], solver="lbfgs", tol=1e-12, max_iter=2)
    assert len(record) == 1


@pytest.mark.parametrize(
    ("Cs", "message"),
    [
        ([], "Cs is empty"),
        ([1.0, -0.5], r"positive values .*-0\.5"),
        ([0.0], "positive values"),
        ([np.nan], "positive values"),
        (0, "at least 1"),
        ("10", "integer or a list"),
        ([[1.0, 2.0]], "one-dimensional"),
    ],
)
def test_invalid_Cs_raise(cancer, Cs, message):
    X, y = cancer
    with pytest.raises(ValueError, match=message):
        logistic_regression_path(X, y, Cs)


def test_invalid_parameters_raise(cancer):
    X, y = cancer
    with pytest.raises(ValueError, match="l1_ratio"):
        logistic_regression_path(X, y, [1.0], l1_ratio=1.5)
    with pytest.raises(ValueError, match="C_ratio"):
        logistic_regression_path(X, y, 3, l1_ratio=1.0, C_ratio=0.5)
    with pytest.raises(ValueError, match="solver='lbfgs' supports only l1_ratio=0"):
        logistic_regression_path(X, y, [1.0], l1_ratio=0.5, solver="lbfgs")
    with pytest.raises(ValueError, match="one class"):
        logistic_regression_path(X, np.zeros(len(y)), [1.0])
