"""Tests for LogisticRegressionCV against scikit-learn's and against separate fits."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.linear_model
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_svmlight_file
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastlogreg import LogisticRegression, LogisticRegressionCV

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TIGHT_TOL = 1e-8
CANCER_CS = list(np.logspace(-3, 2, 8))


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def a9a_subset():
    path = SHARED_DATA / "a9a.gz"
    if not path.is_file():
        pytest.skip(f"a9a.gz not found in {SHARED_DATA}; the LIBSVM datasets are kept "
                    "beside the checkout, not in the repository")
    X, y = load_svmlight_file(path, n_features=123)
    X, y = X[:4000], y[:4000]
    # 32-bit indices: scikit-learn 1.9 validates X with accept_large_sparse=False for its
    # liblinear, sag and saga solvers.
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int32)
    return X, y


def sklearn_cv(Cs, cv, scoring, **params):
    """Return scikit-learn's LogisticRegressionCV for an L2 search, with its 1.10 attributes."""
    return sklearn.linear_model.LogisticRegressionCV(
        Cs=Cs, cv=cv, scoring=scoring, l1_ratios=(0.0,), solver="newton-cholesky",
        tol=TIGHT_TOL, use_legacy_attributes=False, **params,
    )


@pytest.mark.parametrize("scoring", ["accuracy", "neg_log_loss"])
def test_cancer_matches_sklearn(cancer, scoring):
    X, y = cancer
    folds = StratifiedKFold(5)
    ours = LogisticRegressionCV(Cs=CANCER_CS, cv=folds, scoring=scoring,
                                tol=TIGHT_TOL).fit(X, y)
    theirs = sklearn_cv(CANCER_CS, folds, scoring).fit(X, y)
    assert ours.C_ == theirs.C_
    assert ours.l1_ratio_ == 0.0
    assert ours.scores_.shape == theirs.scores_.shape == (5, 1, 8)
    assert ours.coefs_paths_.shape == theirs.coefs_paths_.shape == (5, 1, 8, 1, 31)
    np.testing.assert_allclose(ours.scores_, theirs.scores_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours.coefs_paths_, theirs.coefs_paths_, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-5, atol=1e-6)


def test_a9a_subset_matches_sklearn(a9a_subset):
    X, y = a9a_subset
    Cs = list(np.logspace(-3, 1, 7))
    folds = StratifiedKFold(4)
    ours = LogisticRegressionCV(Cs=Cs, cv=folds, tol=TIGHT_TOL).fit(X, y)
    theirs = sklearn_cv(Cs, folds, "accuracy").fit(X, y)
    assert ours.C_ == theirs.C_
    np.testing.assert_allclose(ours.scores_, theirs.scores_, atol=1e-12)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-5)


def test_weighted_search_matches_sklearn(cancer):
    X, y = cancer
    weights = np.random.default_rng(0).uniform(0.2, 3.0, size=len(y))
    folds = StratifiedKFold(4)
    ours = LogisticRegressionCV(Cs=CANCER_CS, cv=folds, scoring="neg_log_loss",
                                tol=TIGHT_TOL).fit(X, y, sample_weight=weights)
    theirs = sklearn_cv(CANCER_CS, folds, "neg_log_loss").fit(X, y, sample_weight=weights)
    assert ours.C_ == theirs.C_
    # The held-out log loss is weighted as well as the training loss.
    np.testing.assert_allclose(ours.scores_, theirs.scores_, rtol=1e-6)
    unweighted = LogisticRegressionCV(Cs=CANCER_CS, cv=folds, scoring="neg_log_loss",
                                      tol=TIGHT_TOL).fit(X, y)
    assert not np.allclose(ours.scores_, unweighted.scores_)


def test_refit_matches_direct_fit(cancer):
    X, y = cancer
    search = LogisticRegressionCV(Cs=CANCER_CS, tol=TIGHT_TOL).fit(X, y)
    direct = LogisticRegression(C=search.C_, tol=TIGHT_TOL).fit(X, y)
    np.testing.assert_allclose(search.coef_, direct.coef_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(search.intercept_, direct.intercept_, rtol=1e-6)
    np.testing.assert_allclose(search.loss_history_[-1], direct.loss_history_[-1],
                               rtol=1e-10)
    np.testing.assert_array_equal(search.predict(X), direct.predict(X))
    np.testing.assert_allclose(search.predict_proba(X), direct.predict_proba(X), atol=1e-7)


def test_l1_choice_matches_manual_search(cancer):
    X, y = cancer
    Cs = [0.01, 0.05, 0.2, 1.0]
    l1_ratios = [0.5, 1.0]
    folds = list(StratifiedKFold(3).split(X, y))
    search = LogisticRegressionCV(Cs=Cs, l1_ratios=l1_ratios, cv=folds,
                                  scoring="neg_log_loss", tol=1e-7, max_iter=500).fit(X, y)
    manual = np.empty((3, 2, 4))
    for f, (train, test) in enumerate(folds):
        for r, l1_ratio in enumerate(l1_ratios):
            for c, C in enumerate(Cs):
                model = LogisticRegression(C=C, l1_ratio=l1_ratio, tol=1e-7, max_iter=500)
                model.fit(X[train], y[train])
                manual[f, r, c] = -log_loss(y[test], model.predict_proba(X[test]))
    np.testing.assert_allclose(search.scores_, manual, rtol=1e-5)
    best_r, best_c = np.unravel_index(np.argmax(manual.mean(axis=0)), (2, 4))
    assert search.C_ == Cs[best_c]
    assert search.l1_ratio_ == l1_ratios[best_r]
    assert search.solver_ == "cd"


def test_integer_Cs_l1_grid(cancer):
    X, y = cancer
    search = LogisticRegressionCV(Cs=4, l1_ratios=(1.0,), cv=3, tol=1e-6,
                                  max_iter=500).fit(X, y)
    np.testing.assert_allclose(search.Cs_[-1] / search.Cs_[0], 1e4)
    # The smallest C keeps every weight at zero on the whole data set. The threshold of a
    # fold differs a little, so only a near-zero count is checked there.
    assert np.count_nonzero(search.coefs_paths_[:, 0, 0, 0, :-1]) <= 3
    assert np.count_nonzero(search.coefs_paths_[:, 0, -1, 0, :-1]) > 0


def test_integer_Cs_l2_grid_is_sklearn_default(cancer):
    X, y = cancer
    search = LogisticRegressionCV(Cs=3, cv=3).fit(X, y)
    np.testing.assert_allclose(search.Cs_, [1e-4, 1.0, 1e4])


def test_parallel_folds_equal_sequential(cancer):
    X, y = cancer
    sequential = LogisticRegressionCV(Cs=CANCER_CS, n_jobs=1).fit(X, y)
    parallel = LogisticRegressionCV(Cs=CANCER_CS, n_jobs=2).fit(X, y)
    # Each parallel fold runs with one Numba thread, as the sequential folds do.
    np.testing.assert_array_equal(parallel.coefs_paths_, sequential.coefs_paths_)
    np.testing.assert_array_equal(parallel.scores_, sequential.scores_)
    assert parallel.C_ == sequential.C_


def test_refit_false_averages_fold_solutions(cancer):
    X, y = cancer
    search = LogisticRegressionCV(Cs=CANCER_CS, cv=4, scoring="neg_log_loss",
                                  refit=False).fit(X, y)
    best = np.argmax(search.scores_[:, 0, :], axis=1)
    np.testing.assert_allclose(search.C_, np.mean(np.asarray(CANCER_CS)[best]))
    solutions = search.coefs_paths_[np.arange(4), 0, best, 0, :]
    np.testing.assert_allclose(search.coef_[0], solutions[:, :-1].mean(axis=0))
    np.testing.assert_allclose(search.intercept_[0], solutions[:, -1].mean())
    assert not hasattr(search, "loss_history_")


def test_scorer_callable_and_default(cancer):
    X, y = cancer
    folds = StratifiedKFold(3)

    def balanced_error(estimator, X_test, y_test):
        return -np.mean(estimator.predict(X_test) != y_test)

    with_callable = LogisticRegressionCV(Cs=CANCER_CS, cv=folds,
                                         scoring=balanced_error).fit(X, y)
    default = LogisticRegressionCV(Cs=CANCER_CS, cv=folds).fit(X, y)
    np.testing.assert_allclose(-with_callable.scores_, 1 - default.scores_, atol=1e-12)
    # The default is accuracy, as in scikit-learn 1.9.
    assert default.score(X, y) == accuracy_score(y, default.predict(X))


def test_sparse_and_string_labels(cancer):
    X, y = cancer
    labels = np.where(y == 1, "benign", "malignant")
    dense = LogisticRegressionCV(Cs=CANCER_CS[:4], cv=3, tol=TIGHT_TOL).fit(X, labels)
    sparse = LogisticRegressionCV(Cs=CANCER_CS[:4], cv=3, tol=TIGHT_TOL)
    sparse.fit(sp.csr_matrix(X), labels)
    np.testing.assert_array_equal(sparse.classes_, ["benign", "malignant"])
    np.testing.assert_allclose(sparse.coefs_paths_, dense.coefs_paths_, atol=1e-7)
    assert set(sparse.predict(X[:20])) <= {"benign", "malignant"}


def test_clone_get_set_params_and_pickle(cancer):
    X, y = cancer
    search = LogisticRegressionCV(Cs=[0.1, 1.0], l1_ratios=(0.0, 0.5), cv=3)
    copy = clone(search)
    assert copy.get_params() == search.get_params()
    copy.set_params(Cs=[0.5], refit=False)
    assert copy.Cs == [0.5]
    assert search.Cs == [0.1, 1.0]
    search.fit(X, y)
    restored = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(restored.predict(X), search.predict(X))


def test_pipeline_grid_search_with_weights(cancer):
    X, y = cancer
    weights = np.where(y == 1, 1.0, 2.0)
    pipeline = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=[0.01, 0.1, 1.0], cv=3))
    grid = GridSearchCV(pipeline, {"logisticregressioncv__l1_ratios": [(0.0,), (1.0,)]},
                        cv=3)
    grid.fit(X, y, logisticregressioncv__sample_weight=weights)
    best = grid.best_estimator_[-1]
    assert best.C_ in (0.01, 0.1, 1.0)
    assert grid.best_score_ > 0.9


def test_non_convergence_warns_once(cancer):
    X, y = cancer
    with pytest.warns(ConvergenceWarning) as record:
        LogisticRegressionCV(Cs=[1.0, 10.0], cv=3, solver="lbfgs", tol=1e-12, max_iter=2,
                             refit=False).fit(X, y)
    assert len(record) == 1
    assert "in 6 of 6 fits" in str(record[0].message)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"Cs": []}, "Cs is empty"),
        ({"Cs": [0.1, -1.0]}, r"positive values .*-1\.0"),
        ({"Cs": 0}, "at least 1"),
        ({"l1_ratios": []}, "non-empty list"),
        ({"l1_ratios": [0.5, 1.5]}, r"in \[0, 1\], got \[1\.5\]"),
        ({"refit": "yes"}, "refit must be True or False"),
        ({"tol": -1.0}, "tol must be"),
        ({"solver": "lbfgs", "l1_ratios": [1.0]}, "use solver='cd'"),
    ],
)
def test_invalid_parameters_raise(cancer, params, message):
    X, y = cancer
    with pytest.raises(ValueError, match=message):
        LogisticRegressionCV(**params).fit(X, y)


def test_more_folds_than_class_samples_raise(cancer):
    X, y = cancer
    rare = np.r_[np.flatnonzero(y == 0)[:3], np.flatnonzero(y == 1)[:40]]
    with pytest.raises(ValueError, match=r"cv has 5 stratified folds.* only 3 samples"):
        LogisticRegressionCV(Cs=[1.0]).fit(X[rare], y[rare])
    with pytest.raises(ValueError, match=r"cv has 4 stratified folds"):
        LogisticRegressionCV(Cs=[1.0], cv=StratifiedKFold(4)).fit(X[rare], y[rare])


def test_single_class_training_fold_raises(cancer):
    X, y = cancer
    order = np.argsort(y, kind="stable")
    with pytest.raises(ValueError, match="fold 0 contains a single class"):
        LogisticRegressionCV(Cs=[1.0], cv=KFold(2)).fit(X[order], y[order])


def test_passes_sklearn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(LogisticRegressionCV(Cs=2, cv=2), on_fail=None)
    failed = [f"{r['check_name']}: {r['exception']!r}" for r in results
              if r["status"] == "failed"]
    assert failed == []


def test_feature_names_from_dataframe(cancer):
    pandas = pytest.importorskip("pandas")
    X, y = cancer
    frame = pandas.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    search = LogisticRegressionCV(Cs=[0.1, 1.0], cv=3).fit(frame, y)
    from_array = LogisticRegressionCV(Cs=[0.1, 1.0], cv=3).fit(X, y)
    np.testing.assert_array_equal(search.feature_names_in_, frame.columns)
    np.testing.assert_array_equal(search.predict(frame), from_array.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        search.predict(frame[frame.columns[::-1]])


def test_zero_weight_training_fold_raises(cancer):
    X, y = cancer
    folds = list(StratifiedKFold(3).split(X, y))
    weights = np.zeros(len(y))
    weights[folds[0][0]] = 0.0
    weights[folds[0][1]] = 1.0
    with pytest.raises(ValueError, match="training part of fold 0 sum to zero"):
        LogisticRegressionCV(Cs=[1.0], cv=folds).fit(X, y, sample_weight=weights)
