"""The LogisticRegression estimator: scikit-learn conventions, input handling, errors."""

import pickle
import tracemalloc

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastlogreg.solvers
from conftest import make_problem
from fastlogreg import LogisticRegression

@parametrize_with_checks([LogisticRegression()])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def _capture_problem(monkeypatch):
    """Record the Problem that fit hands to the solver."""
    seen = {}
    original = dict(fastlogreg.solvers.SOLVERS)

    def spy(name):
        def solve(problem, *args, **kwargs):
            seen["problem"] = problem
            return original[name](problem, *args, **kwargs)
        return solve

    for name in original:
        monkeypatch.setitem(fastlogreg._estimator.SOLVERS, name, spy(name))
    return seen


@pytest.mark.parametrize("make_input", [
    lambda X: X.astype(np.float32),
    lambda X: np.asfortranarray(X),
    lambda X: np.asfortranarray(X.astype(np.float32)),
    lambda X: sp.csr_matrix(X),
    lambda X: sp.csc_matrix(X.astype(np.float32)),
])
def test_fit_does_not_copy_x(rng, monkeypatch, make_input):
    X, y = make_problem(rng)
    X_in = make_input(X)
    seen = _capture_problem(monkeypatch)
    LogisticRegression().fit(X_in, y)
    data = seen["problem"].X
    if sp.issparse(X_in):
        assert data is X_in or np.shares_memory(data.data, X_in.data)
        assert np.shares_memory(data.indices, X_in.indices)
    else:
        assert np.shares_memory(data, X_in)
    assert data.dtype == X_in.dtype


def test_csr_with_int64_indices_is_not_converted(rng, monkeypatch):
    X, y = make_problem(rng)
    X64 = sp.csr_matrix(X)
    # load_svmlight_file returns int64 indices; the constructor would narrow them to int32.
    X64.indices = X64.indices.astype(np.int64)
    X64.indptr = X64.indptr.astype(np.int64)
    seen = _capture_problem(monkeypatch)
    LogisticRegression().fit(X64, y)
    assert seen["problem"].X.indices.dtype == np.int64
    assert np.shares_memory(seen["problem"].X.indices, X64.indices)


@pytest.mark.parametrize("l1_ratio", [0.0, 1.0])
def test_layouts_and_dtypes_give_the_same_model(rng, l1_ratio):
    X, y = make_problem(rng, n=300, d=6)
    params = dict(C=0.5, l1_ratio=l1_ratio, tol=1e-10, max_iter=500)
    reference = LogisticRegression(**params).fit(X, y)
    for X_in in (np.asfortranarray(X), sp.csr_matrix(X), sp.csc_matrix(X)):
        other = LogisticRegression(**params).fit(X_in, y)
        # CSC input takes L-BFGS instead of Newton for L2, hence the tolerance of 1e-6.
        np.testing.assert_allclose(other.coef_, reference.coef_, rtol=1e-6, atol=1e-10)
        np.testing.assert_allclose(other.intercept_, reference.intercept_, rtol=1e-6)
    single = LogisticRegression(**params).fit(X.astype(np.float32), y)
    np.testing.assert_allclose(single.coef_, reference.coef_, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_sample_weight_equals_duplicates(rng, l1_ratio):
    X, y = make_problem(rng, n=120, d=4)
    weights = np.ones(120)
    weights[:30] = 2.0
    weighted = LogisticRegression(l1_ratio=l1_ratio, tol=1e-10).fit(X, y, sample_weight=weights)
    X_dup = np.vstack([X, X[:30]])
    y_dup = np.concatenate([y, y[:30]])
    duplicated = LogisticRegression(l1_ratio=l1_ratio, tol=1e-10).fit(X_dup, y_dup)
    np.testing.assert_allclose(weighted.coef_, duplicated.coef_, rtol=1e-7)
    np.testing.assert_allclose(weighted.intercept_, duplicated.intercept_, rtol=1e-7)


def test_class_weight_balanced_equals_explicit(rng):
    X, y = make_problem(rng, n=200, d=4)
    y = np.where(np.arange(200) < 150, y, 1)
    counts = np.bincount(y)
    explicit = {c: 200 / (2 * counts[c]) for c in (0, 1)}
    balanced = LogisticRegression(class_weight="balanced", tol=1e-10).fit(X, y)
    by_dict = LogisticRegression(class_weight=explicit, tol=1e-10).fit(X, y)
    by_weight = LogisticRegression(tol=1e-10).fit(
        X, y, sample_weight=np.array([explicit[c] for c in y]))
    np.testing.assert_allclose(balanced.coef_, by_dict.coef_, rtol=1e-10)
    np.testing.assert_allclose(balanced.coef_, by_weight.coef_, rtol=1e-8)


@pytest.mark.parametrize("labels", [
    np.array(["spam", "ham"]),
    np.array([-1, 1]),
    np.array([False, True]),
    np.array([1.0, 2.0]),
])
def test_any_two_labels(rng, labels):
    X, y = make_problem(rng)
    y_labels = labels[y]
    clf = LogisticRegression().fit(X, y_labels)
    reference = LogisticRegression().fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    assert set(clf.predict(X)) <= set(labels)
    np.testing.assert_allclose(np.abs(clf.coef_), np.abs(reference.coef_), rtol=1e-10)


def test_predictions_are_consistent(rng):
    X, y = make_problem(rng)
    clf = LogisticRegression().fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(proba[:, 1] > 0.5).astype(int)])
    assert clf.score(X, y) > 0.7


def test_log_proba_is_finite_at_extreme_margins(rng):
    X, y = make_problem(rng)
    clf = LogisticRegression().fit(X, y)
    far = np.full((2, X.shape[1]), 1e6)
    far[1] *= -1
    log_proba = clf.predict_log_proba(far)
    assert np.all(np.isfinite(log_proba))
    assert np.all(log_proba <= 0.0)


def test_n_jobs_is_restored_and_reproducible(rng):
    X, y = make_problem(rng, n=400)
    before = numba.get_num_threads()
    first = LogisticRegression(n_jobs=1).fit(X, y)
    assert numba.get_num_threads() == before
    again = LogisticRegression(n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(first.coef_, again.coef_)
    everything = LogisticRegression(n_jobs=-1, tol=1e-10).fit(X, y)
    one = LogisticRegression(n_jobs=1, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(everything.coef_, one.coef_, rtol=1e-9)


def test_warm_start_continues_from_previous_fit(rng):
    X, y = make_problem(rng, n=300)
    clf = LogisticRegression(warm_start=True, tol=1e-8).fit(X, y)
    clf.fit(X, y)
    assert clf.n_iter_[0] <= 1
    cold = LogisticRegression(warm_start=False, tol=1e-8).fit(X, y)
    np.testing.assert_allclose(clf.coef_, cold.coef_, rtol=1e-6)


def test_clone_pickle_pipeline_and_grid_search(rng):
    X, y = make_problem(rng)
    clf = LogisticRegression(C=0.3).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert clone(clf).get_params() == clf.get_params()
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    search = GridSearchCV(pipe, {"logisticregression__C": [0.1, 1.0]}, cv=3).fit(X, y)
    assert search.best_params_["logisticregression__C"] in (0.1, 1.0)


def test_pandas_feature_names(rng):
    pd = pytest.importorskip("pandas")
    X, y = make_problem(rng, d=3)
    frame = pd.DataFrame(X, columns=["age", "height", "weight"])
    clf = LogisticRegression().fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["age", "height", "weight"])


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError):
        LogisticRegression().predict(np.zeros((2, 2)))


@pytest.mark.parametrize("params,match", [
    ({"C": 0.0}, "C must be a positive number"),
    ({"C": -1.0}, "C must be a positive number"),
    ({"C": float("nan")}, "C must be a positive number"),
    ({"l1_ratio": 1.5}, r"l1_ratio must be a number in \[0, 1\]"),
    ({"l1_ratio": -0.1}, r"l1_ratio must be a number in \[0, 1\]"),
    ({"tol": -1.0}, "tol must be a non-negative number"),
    ({"max_iter": 0}, "max_iter must be a positive integer"),
    ({"solver": "saga"}, "solver must be one of"),
    ({"solver": "newton", "l1_ratio": 0.5}, "supports only l1_ratio=0"),
    ({"n_jobs": 0}, "n_jobs must be None or a non-zero integer"),
    ({"class_weight": "auto"}, "class_weight must be None, 'balanced' or a dict"),
])
def test_invalid_parameters(rng, params, match):
    X, y = make_problem(rng, n=50)
    with pytest.raises(ValueError, match=match):
        LogisticRegression(**params).fit(X, y)


def test_invalid_data(rng):
    X, y = make_problem(rng, n=50)
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LogisticRegression().fit(X_nan, y)
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        LogisticRegression().fit(X_inf, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LogisticRegression().fit(X, y[:-1])
    with pytest.raises(ValueError, match="one class"):
        LogisticRegression().fit(X, np.ones(50))
    with pytest.raises(ValueError, match="fits two classes only"):
        LogisticRegression(solver="newton").fit(X, np.arange(50) % 3)
    with pytest.raises(ValueError, match="negative"):
        LogisticRegression().fit(X, y, sample_weight=-np.ones(50))
    with pytest.raises(ValueError, match="sample_weight has shape"):
        LogisticRegression().fit(X, y, sample_weight=np.ones(49))
    with pytest.raises(ValueError, match="sum to zero"):
        LogisticRegression().fit(X, y, sample_weight=np.zeros(50))
    with pytest.raises(ValueError, match="class_weight has labels"):
        LogisticRegression(class_weight={5: 1.0}).fit(X, y)
    clf = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :-1])


def test_strided_view_is_accepted(rng):
    X, y = make_problem(rng, n=200)
    view = X[::2]
    clf = LogisticRegression(tol=1e-10).fit(view, y[::2])
    copy = LogisticRegression(tol=1e-10).fit(np.ascontiguousarray(view), y[::2])
    np.testing.assert_allclose(clf.coef_, copy.coef_, rtol=1e-12)


@pytest.mark.parametrize("l1_ratio", [0.0, 1.0])
@pytest.mark.parametrize("order", ["C", "F"])
def test_float32_fit_allocates_no_copy_of_x(rng, l1_ratio, order):
    X = np.asarray(rng.standard_normal((50_000, 100)), dtype=np.float32, order=order)
    y = (X[:, 0] + rng.standard_normal(50_000) > 0).astype(int)
    # The same fit once before measuring, so that Numba's compilation is not traced.
    LogisticRegression(l1_ratio=l1_ratio, C=0.1).fit(X, y)
    tracemalloc.start()
    try:
        LogisticRegression(l1_ratio=l1_ratio, C=0.1).fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # A float64 copy of X would add 2 * X.nbytes; what remains is O(n + d) work arrays.
    assert peak < 0.5 * X.nbytes
