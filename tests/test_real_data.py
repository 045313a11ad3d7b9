"""Fits on real datasets against independent tight optima and scikit-learn's accuracy."""

import functools
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_svmlight_files
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression

from conftest import shared_file
from fastlogreg import LogisticRegression
from test_solvers import objective, scipy_reference

PAIRS = {"a9a": ("a9a.gz", "a9a.t.gz"), "w8a": ("w8a.gz", "w8a.t.gz")}


@functools.lru_cache(maxsize=None)
def load_pair(name):
    train, test = PAIRS[name]
    return load_svmlight_files([str(shared_file(train)), str(shared_file(test))])


def with_int32_indices(X):
    """Copy of a CSR matrix with int32 indices, which scikit-learn's solvers require."""
    X = X.copy()
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int32)
    return X


@functools.lru_cache(maxsize=None)
def baseline_accuracy(name):
    """Test accuracy of scikit-learn's default LogisticRegression (C=1, lbfgs)."""
    X_train, y_train, X_test, y_test = load_pair(name)
    baseline = SklearnLogisticRegression(C=1.0, max_iter=1000)
    baseline.fit(with_int32_indices(X_train), y_train)
    return baseline.score(with_int32_indices(X_test), y_test)


@pytest.mark.parametrize("name", ["a9a", "w8a"])
@pytest.mark.parametrize("l1_ratio", [0.0, 1.0])
def test_real_data_reaches_tight_optimum(name, l1_ratio):
    X_train, y_train, X_test, y_test = load_pair(name)
    # load_svmlight_file returns CSR with int64 indices; fit uses it as is.
    assert X_train.indices.dtype == np.int64
    y01 = (y_train > 0).astype(np.float64)
    ones = np.ones(X_train.shape[0])

    clf = LogisticRegression(C=1.0, l1_ratio=l1_ratio, tol=1e-8).fit(X_train, y_train)
    ours = objective(X_train, y01, ones, clf.coef_.ravel(), clf.intercept_[0], 1.0, l1_ratio)
    np.testing.assert_allclose(clf.loss_history_[-1], ours, rtol=1e-10)

    if l1_ratio == 0.0:
        ref = SklearnLogisticRegression(C=1.0, tol=1e-10, max_iter=10000)
        ref.fit(with_int32_indices(X_train), y_train)
        w_ref, b_ref = ref.coef_.ravel(), ref.intercept_[0]
    else:
        w_ref, b_ref = scipy_reference(X_train, y01, ones, 1.0, 1.0)
    best = objective(X_train, y01, ones, w_ref, b_ref, 1.0, l1_ratio)
    assert (ours - best) / best <= 1e-6

    assert clf.score(X_test, y_test) >= baseline_accuracy(name) - 0.002
    if l1_ratio == 1.0:
        assert np.any(clf.coef_ == 0.0)


def test_breast_cancer_unscaled_converges():
    X, y = load_breast_cancer(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = LogisticRegression().fit(X, y)
    assert clf.score(X, y) > 0.95
    # The same unscaled data defeats scikit-learn's default lbfgs in 1000 iterations.
    with pytest.warns(ConvergenceWarning):
        SklearnLogisticRegression(max_iter=1000).fit(X, y)
