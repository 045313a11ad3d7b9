"""fastlogreg.dask on a local two-process cluster that listens on loopback only."""

import os
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("dask", reason="fastlogreg.dask needs dask: pip install 'fastlogreg[dask]'")
pytest.importorskip("distributed",
                    reason="fastlogreg.dask needs distributed: pip install 'fastlogreg[dask]'")
pd = pytest.importorskip("pandas", reason="the dask.dataframe tests need pandas")

import dask.array as da  # noqa: E402
import dask.dataframe as dd  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

import fastlogreg  # noqa: E402
import fastlogreg.dask as fdask  # noqa: E402
from fastlogreg.dask import LogisticRegression  # noqa: E402

from conftest import make_problem  # noqa: E402

C = 0.05
TOL = 1e-8


def _data(seed=0, n=600, d=6):
    rng = np.random.default_rng(seed)
    X, y = make_problem(rng, n=n, d=d)
    weights = rng.uniform(0.5, 2.0, n)
    return X, y, weights


def _warm_kernels():
    """Compile the kernels in this process, so that the workers load them from the disk cache."""
    X, y, weights = _data(n=50)
    csr = sp.csr_matrix(X)
    for l1_ratio in (0.0, 1.0):
        for matrix in (X, csr):
            model = fastlogreg.LogisticRegression(C=C, l1_ratio=l1_ratio).fit(
                matrix, y, sample_weight=weights)
            model.predict_proba(matrix)
            model.predict_log_proba(matrix)


@pytest.fixture(scope="module")
def client():
    _warm_kernels()
    cluster = LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
        dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0",
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _objective(model, X, y, weights=None):
    """Return the objective of the in-memory estimator at model's coef_ and intercept_."""
    local = fastlogreg.LogisticRegression(**model.get_params())
    local.coef_ = model.coef_
    local.intercept_ = model.intercept_
    s = np.ones(X.shape[0]) if weights is None else weights
    y01 = np.searchsorted(model.classes_, y).astype(np.float64)
    if model.class_weight is not None:
        local.classes_ = model.classes_
        s = local._sample_weights(X, y01.astype(np.intp), weights)
    return local._objective(X, y01, s)


def test_cluster_listens_on_loopback_only(client):
    assert client.scheduler.address.startswith("tcp://127.0.0.1:")
    workers = client.scheduler_info()["workers"]
    assert len(workers) == 2
    for address, info in workers.items():
        assert address.startswith("tcp://127.0.0.1:")
        assert info["nanny"].startswith("tcp://127.0.0.1:")
    assert "127.0.0.1" in client.dashboard_link


def test_get_params_match_in_memory_class():
    distributed_names = set(LogisticRegression().get_params())
    assert distributed_names == set(fastlogreg.LogisticRegression().get_params())
    model = clone(LogisticRegression(C=3.0, l1_ratio=0.5))
    assert model.get_params()["C"] == 3.0


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("l1_ratio", [0.0, 1.0])
def test_fit_matches_in_memory(client, layout, l1_ratio):
    X, y, weights = _data()
    matrix = sp.csr_matrix(X * (X > -0.5)) if layout == "csr" else X
    X_dask = da.from_array(matrix, chunks=(130, 3), asarray=False)

    model = LogisticRegression(C=C, l1_ratio=l1_ratio, tol=TOL).fit(
        X_dask, da.from_array(y, chunks=130), sample_weight=da.from_array(weights, chunks=130))
    local = fastlogreg.LogisticRegression(C=C, l1_ratio=l1_ratio, tol=TOL).fit(
        matrix, y, sample_weight=weights)

    expected = local.loss_history_[-1]
    assert model.loss_history_[-1] == pytest.approx(expected, rel=1e-5)
    assert _objective(model, matrix, y, weights) == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(model.coef_, local.coef_, atol=1e-4)
    np.testing.assert_allclose(model.intercept_, local.intercept_, atol=1e-4)
    np.testing.assert_array_equal(model.coef_ == 0.0, local.coef_ == 0.0)
    assert model.solver_ == ("newton" if l1_ratio == 0.0 else "cd")


@pytest.mark.parametrize("params", [
    {"solver": "lbfgs"},
    {"C": np.inf},
    {"fit_intercept": False, "l1_ratio": 0.5},
    {"class_weight": "balanced"},
    {"class_weight": {0: 2.0}, "l1_ratio": 0.3},
])
def test_other_settings_match_in_memory(client, params):
    X, y, weights = _data(seed=1)
    X_dask = da.from_array(X, chunks=(200, 6))
    y_dask = da.from_array(y, chunks=200)

    params = {"C": C, "tol": TOL, **params}
    model = LogisticRegression(**params).fit(X_dask, y_dask)
    local = fastlogreg.LogisticRegression(**params).fit(X, y)

    assert model.loss_history_[-1] == pytest.approx(local.loss_history_[-1], rel=1e-5)
    np.testing.assert_allclose(model.coef_, local.coef_, atol=1e-4)


def test_fista_for_many_features_matches_in_memory(client, monkeypatch):
    # FISTA runs above NEWTON_MAX_FEATURES features; lowering the limit keeps the data small.
    monkeypatch.setattr(fdask, "NEWTON_MAX_FEATURES", 3)
    X, y, _ = _data(seed=2, n=400, d=5)
    model = LogisticRegression(C=C, l1_ratio=0.5, tol=1e-6, max_iter=5000).fit(
        da.from_array(X, chunks=(150, 5)), da.from_array(y, chunks=150))
    local = fastlogreg.LogisticRegression(C=C, l1_ratio=0.5, tol=TOL).fit(X, y)

    assert model.solver_ == "fista"
    assert model.loss_history_[-1] == pytest.approx(local.loss_history_[-1], rel=1e-5)
    np.testing.assert_array_equal(model.coef_ == 0.0, local.coef_ == 0.0)
    assert np.all(np.diff(model.loss_history_) <= 1e-9 * abs(model.loss_history_[0]))


def test_dataframe_input(client):
    X, y, weights = _data(seed=3)
    columns = [f"f{j}" for j in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=columns)
    frame["label"] = np.where(y == 1, "yes", "no")
    frame["weight"] = weights
    dask_frame = dd.from_pandas(frame, npartitions=4)

    model = LogisticRegression(C=C, tol=TOL).fit(
        dask_frame[columns], dask_frame["label"], sample_weight=dask_frame["weight"])
    local = fastlogreg.LogisticRegression(C=C, tol=TOL).fit(
        frame[columns], frame["label"], sample_weight=weights)

    np.testing.assert_array_equal(model.classes_, ["no", "yes"])
    np.testing.assert_array_equal(model.feature_names_in_, columns)
    assert model.loss_history_[-1] == pytest.approx(local.loss_history_[-1], rel=1e-5)
    predicted = model.predict(dask_frame[columns])
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), local.predict(frame[columns]))


def test_predictions_are_lazy_and_match_to_local(client):
    X, y, _ = _data(seed=4)
    X_dask = da.from_array(X, chunks=(250, 6))
    model = LogisticRegression(C=C).fit(X_dask, da.from_array(y, chunks=250))
    local = model.to_local()

    assert type(local) is fastlogreg.LogisticRegression
    np.testing.assert_array_equal(local.coef_, model.coef_)
    np.testing.assert_array_equal(local.intercept_, model.intercept_)
    np.testing.assert_array_equal(local.classes_, model.classes_)
    for method in ("decision_function", "predict", "predict_proba", "predict_log_proba"):
        lazy = getattr(model, method)(X_dask)
        assert isinstance(lazy, da.Array), method
        np.testing.assert_allclose(lazy.compute(), getattr(local, method)(X), rtol=1e-12,
                                   err_msg=method)
    assert model.score(X_dask, da.from_array(y, chunks=250)) == pytest.approx(local.score(X, y))
    np.testing.assert_array_equal(model.predict(X), local.predict(X))


def test_worker_restart_during_fit_gives_same_model(client, monkeypatch):
    X, y, weights = _data(seed=5)
    X_dask = da.from_array(X, chunks=(100, 6))
    y_dask = da.from_array(y, chunks=100)
    w_dask = da.from_array(weights, chunks=100)
    reference = LogisticRegression(C=C, l1_ratio=0.5, tol=TOL).fit(
        X_dask, y_dask, sample_weight=w_dask)

    pids_before = set(client.run(os.getpid).values())
    original = fdask._DistributedObjective.loss_grad
    calls = []

    def restart_on_third_call(objective, w, b):
        calls.append(1)
        if len(calls) == 3:
            # Restart the worker that holds the first block: its blocks are lost and must be
            # recomputed from the graph of X, y and the weights.
            holder = client.who_has(objective.partitions[0])[objective.partitions[0].key][0]
            client.restart_workers([holder])
        return original(objective, w, b)

    monkeypatch.setattr(fdask._DistributedObjective, "loss_grad", restart_on_third_call)
    model = LogisticRegression(C=C, l1_ratio=0.5, tol=TOL).fit(
        X_dask, y_dask, sample_weight=w_dask)

    assert len(calls) > 3
    assert set(client.run(os.getpid).values()) != pids_before
    # Block results do not depend on the worker and are summed in block order.
    np.testing.assert_array_equal(model.coef_, reference.coef_)
    np.testing.assert_array_equal(model.intercept_, reference.intercept_)


def test_empty_and_single_class_blocks(client):
    X, y, _ = _data(seed=6, n=500)
    order = np.argsort(y, kind="stable")
    X, y = X[order], y[order]
    # The first non-empty block has one class only; two blocks have no rows.
    row_chunks = (0, 100, 150, 0, 250)
    model = LogisticRegression(C=C, tol=TOL).fit(
        da.from_array(X, chunks=(row_chunks, 6)), da.from_array(y, chunks=(row_chunks,)))
    local = fastlogreg.LogisticRegression(C=C, tol=TOL).fit(X, y)

    assert np.unique(y[:100]).size == 1
    assert model.loss_history_[-1] == pytest.approx(local.loss_history_[-1], rel=1e-5)


def test_mismatched_row_chunks_raise(client):
    X, y, weights = _data(seed=7, n=300)
    X_dask = da.from_array(X, chunks=(100, 6))
    with pytest.raises(ValueError, match="different row chunks"):
        LogisticRegression().fit(X_dask, da.from_array(y, chunks=(150, 50, 100)))
    with pytest.raises(ValueError, match="3 row chunks and y has 2"):
        LogisticRegression().fit(X_dask, da.from_array(y, chunks=150))
    with pytest.raises(ValueError, match="sample_weight"):
        LogisticRegression().fit(X_dask, da.from_array(y, chunks=100),
                                 sample_weight=da.from_array(weights, chunks=150))


def test_mismatched_dataframe_partitions_raise(client):
    X, y, _ = _data(seed=8, n=300)
    features = dd.from_pandas(pd.DataFrame(X), npartitions=3)
    labels = dd.from_pandas(pd.Series(y), chunksize=120)
    assert features.npartitions == labels.npartitions
    with pytest.raises(ValueError, match="same row chunks"):
        LogisticRegression().fit(features, labels)


def test_invalid_input_raises(client):
    X, y, _ = _data(seed=9, n=300)
    X_dask = da.from_array(X, chunks=(100, 6))
    with pytest.raises(ValueError, match="two classes only"):
        LogisticRegression().fit(X_dask, da.from_array(np.arange(300) % 3, chunks=100))
    with pytest.raises(ValueError, match="one class"):
        LogisticRegression().fit(X_dask, da.from_array(np.zeros(300), chunks=100))
    with pytest.raises(ValueError, match="validation_fraction"):
        LogisticRegression(solver="sgd", validation_fraction=0.2).fit(
            X_dask, da.from_array(y, chunks=100))
    with pytest.raises(TypeError, match="dask.array"):
        LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="negative"):
        LogisticRegression().fit(X_dask, da.from_array(y, chunks=100),
                                 sample_weight=da.from_array(np.full(300, -1.0), chunks=100))
    X_nan = X.copy()
    X_nan[250, 2] = np.nan
    with pytest.raises(ValueError, match="row block 2 of X"):
        LogisticRegression().fit(da.from_array(X_nan, chunks=(100, 6)),
                                 da.from_array(y, chunks=100))
    model = LogisticRegression().fit(X_dask, da.from_array(y, chunks=100))
    with pytest.raises(ValueError, match="5 features"):
        model.predict(X_dask[:, :5])


# ---------------------------------------------------------------------- SGD over partitions

SGD_GAP = 0.02
stops_at_max_iter = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def sgd_client(client):
    """Return the cluster's client after compiling the SGD kernels in this process.

    The workers then load them from Numba's disk cache instead of compiling them again.
    """
    X, y, _ = _data(n=50)
    for matrix in (X, sp.csr_matrix(X)):
        fastlogreg.LogisticRegression(random_state=0).partial_fit(matrix, y, classes=[0, 1])
    return client


def _standardised_data(seed=10, n=2000, d=10):
    rng = np.random.default_rng(seed)
    X, y = make_problem(rng, n=n, d=d)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    weights = rng.uniform(0.5, 2.0, n)
    return X, y, weights


def _relative_gap(model, X, y, weights, **params):
    """Return the relative gap of model's objective to the exact optimum found in memory."""
    exact = fastlogreg.LogisticRegression(solver="newton", tol=1e-10, **params).fit(
        X, y, sample_weight=weights)
    optimum = exact.loss_history_[-1]
    return (_objective(model, X, y, weights) - optimum) / optimum


@stops_at_max_iter
@pytest.mark.parametrize("layout, average", [("dense", False), ("dense", True), ("csr", False)])
def test_sgd_near_exact_optimum(sgd_client, layout, average):
    X, y, weights = _standardised_data()
    matrix = sp.csr_matrix(X * (np.abs(X) > 0.5)) if layout == "csr" else X
    X_dask = da.from_array(matrix, chunks=(500, 10), asarray=False)

    # The running mean lags the iterates, so averaging takes more epochs to the same gap.
    model = LogisticRegression(solver="sgd", C=C, batch_size=32, max_iter=20 if average else 10,
                               tol=1e-4, average=average, random_state=0).fit(
        X_dask, da.from_array(y, chunks=500), sample_weight=da.from_array(weights, chunks=500))

    assert model.solver_ == "sgd"
    assert model.loss_history_.shape == (model.n_iter_[0],)
    # loss_history_ records the exact objective of the returned weights.
    assert model.loss_history_[-1] == pytest.approx(_objective(model, matrix, y, weights),
                                                    rel=1e-9)
    gap = _relative_gap(model, matrix, y, weights, C=C)
    assert 0.0 <= gap < SGD_GAP
    assert model.n_data_passes_ == model.n_iter_[0]
    assert model.bytes_moved_ > 0


def test_sgd_same_random_state_same_model(sgd_client):
    X, y, _ = _standardised_data(seed=11, n=1200)
    X_dask = da.from_array(X, chunks=(400, 10))
    y_dask = da.from_array(y, chunks=400)

    def fit(random_state):
        return LogisticRegression(solver="sgd", C=C, batch_size=32, max_iter=4,
                                  random_state=random_state).fit(X_dask, y_dask)

    with pytest.warns(ConvergenceWarning):
        first, second, other = fit(0), fit(0), fit(1)
    np.testing.assert_array_equal(first.coef_, second.coef_)
    np.testing.assert_array_equal(first.intercept_, second.intercept_)
    np.testing.assert_array_equal(first.loss_history_, second.loss_history_)
    assert not np.array_equal(first.coef_, other.coef_)


@stops_at_max_iter
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_sgd_l1_gives_exact_zeros(sgd_client, layout):
    X, y, _ = _standardised_data(seed=12, n=2000, d=20)
    X[:, 10:] *= 0.05  # weak features, which the L1 term should remove
    matrix = sp.csr_matrix(X * (np.abs(X) > 0.5)) if layout == "csr" else X
    params = {"C": 0.01, "l1_ratio": 1.0}

    model = LogisticRegression(solver="sgd", batch_size=32, max_iter=10, tol=0.0,
                               random_state=0, **params).fit(
        da.from_array(matrix, chunks=(500, 20), asarray=False), da.from_array(y, chunks=500))
    exact = fastlogreg.LogisticRegression(solver="cd", tol=1e-10, **params).fit(matrix, y)

    assert np.count_nonzero(exact.coef_ == 0.0) > 0
    assert np.count_nonzero(model.coef_ == 0.0) > 0
    optimum = exact.loss_history_[-1]
    assert (model.loss_history_[-1] - optimum) / optimum < SGD_GAP


def test_sgd_stops_on_tol(sgd_client):
    X, y, _ = _standardised_data(seed=13, n=1000)
    X_dask = da.from_array(X, chunks=(500, 10))
    y_dask = da.from_array(y, chunks=500)

    stopped = LogisticRegression(solver="sgd", C=C, batch_size=32, tol=1e-2,
                                 n_iter_no_change=2, max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        stopped.fit(X_dask, y_dask)
    assert stopped.n_iter_[0] < 50


def test_sgd_warns_at_max_iter(sgd_client):
    X, y, _ = _standardised_data(seed=13, n=1000)
    X_dask = da.from_array(X, chunks=(500, 10))
    y_dask = da.from_array(y, chunks=500)

    limited = LogisticRegression(solver="sgd", C=C, batch_size=32, tol=0.0, max_iter=2,
                                 random_state=0)
    with pytest.warns(ConvergenceWarning, match="'sgd' did not converge"):
        limited.fit(X_dask, y_dask)
    assert limited.n_iter_[0] == 2
    assert limited.loss_history_.shape == (2,)


@stops_at_max_iter
def test_sgd_skips_empty_and_zero_weight_blocks(sgd_client):
    X, y, weights = _standardised_data(seed=14, n=1500)
    row_chunks = (0, 500, 500, 0, 500)
    weights[500:1000] = 0.0  # the second block of rows has no weight
    model = LogisticRegression(solver="sgd", C=C, batch_size=32, max_iter=10,
                               random_state=0).fit(
        da.from_array(X, chunks=(row_chunks, 10)), da.from_array(y, chunks=(row_chunks,)),
        sample_weight=da.from_array(weights, chunks=(row_chunks,)))

    assert np.all(np.isfinite(model.coef_))
    assert _relative_gap(model, X, y, weights, C=C) < SGD_GAP


@pytest.mark.parametrize("params, message", [
    ({"validation_fraction": 0.2}, "validation_fraction"),
    ({"batch_size": 0}, "batch_size"),
    ({"learning_rate": -0.1}, "learning_rate"),
    ({"n_iter_no_change": 0}, "n_iter_no_change"),
])
def test_sgd_invalid_params_raise(sgd_client, params, message):
    X, y, _ = _standardised_data(seed=15, n=200)
    with pytest.raises(ValueError, match=message):
        LogisticRegression(solver="sgd", **params).fit(
            da.from_array(X, chunks=(100, 10)), da.from_array(y, chunks=100))


def test_sgd_divergence_raises(sgd_client):
    X, y, _ = _standardised_data(seed=16, n=400)
    # The logistic gradient is bounded by |x|, so only a step times |x| past the float64
    # range makes the weights infinite.
    X = X * 1e100
    model = LogisticRegression(solver="sgd", learning_rate=1e300, C=np.inf, max_iter=3,
                               random_state=0)
    with pytest.raises(ValueError, match="diverged.*Scale the features"):
        model.fit(da.from_array(X, chunks=(200, 10)), da.from_array(y, chunks=200))
