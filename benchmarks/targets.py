"""Measurements behind the "Performance targets" section of the peer comparison.

``compare_peers.py --targets`` runs the solver ladders on the target problems. These
functions measure what the ladders do not give: the fused pass against one matrix-vector
product, SGD epochs against scikit-learn's SGDClassifier, and import plus first fit in a fresh
process. Each returns plain dictionaries; the report is
written by ``compare_peers.py``. Every ratio compares two timings made in the same process,
one right after the other, as medians of several calls.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numba
import numpy as np

from . import common

KERNEL_REPEATS = 15
SGD_EPOCHS = 10
SGD_REPEATS = 3
COLD_START_REPEATS = 3
# Share of non-zero weights that the L1 comparison aims for, and the tolerance on it.
L1_NONZERO_SHARE = 0.10
L1_SHARE_SLACK = 0.03


def kernel_ratios(dense_shape=(1_000_000, 100), csr_shape=(500_000, 123, 14)):
    """Return the fused loss+gradient pass timed against one matrix-vector product of X.

    Dense: float64 and float32 C-ordered X of ``dense_shape``, both against the BLAS product
    of the float64 array (with BLAS's default threads). CSR: an a9a-like 0/1 matrix of
    ``csr_shape`` (rows, columns, non-zeros per row) against scipy's product.
    """
    from fastlogreg import _kernels as K

    n_threads = numba.get_num_threads()
    results = []
    n, d = dense_shape
    X64, y = common.make_dense(n, d, seed=3)
    X32 = X64.astype(np.float32)
    w = np.random.default_rng(4).standard_normal(d) * 0.1
    s = np.ones(n)
    grad = np.empty(d + 1)
    z = np.empty(n)
    ours = {}
    _let_blas_threads_sleep()
    for X, name in ((X64, "float64"), (X32, "float32")):
        def fused(X=X):
            K.loss_grad_dense_rows(X, y, s, w, 0.0, 1.0, n_threads, grad, z)

        ours[name] = _median(fused)
    # BLAS runs last: OpenBLAS threads keep spinning after a call and would slow the kernels.
    floor = _median(lambda: X64 @ w)
    for name in ("float64", "float32"):
        results.append({"name": f"dense {name} {n}x{d}", "ours": ours[name], "floor": floor,
                        "floor_name": "BLAS X @ w, float64 X"})
    del X32, X64

    n, d, per_row = csr_shape
    X, y = common.make_sparse_binary(n, d, per_row, seed=5)
    w = np.random.default_rng(6).standard_normal(d) * 0.1
    s = np.ones(n)
    grad = np.empty(d + 1)
    z = np.empty(n)

    def fused_csr():
        K.loss_grad_csr(X.data, X.indices, X.indptr, y, s, w, 0.0, 1.0, n_threads, grad, z)

    _let_blas_threads_sleep()
    results.append({"name": f"CSR float64 {n}x{d}, {per_row} non-zeros per row",
                    "ours": _median(fused_csr), "floor": _median(lambda: X @ w),
                    "floor_name": "scipy CSR X @ w"})
    for result in results:
        result["ratio"] = result["ours"] / result["floor"]
    return results


def _let_blas_threads_sleep():
    """Wait until OpenBLAS threads, which spin for a while after each call, have gone idle."""
    time.sleep(1.0)


def _median(function, repeats=KERNEL_REPEATS):
    function()
    return common.median_time(function, repeats)


def sgd_epochs(problems, C, epochs=SGD_EPOCHS, repeats=SGD_REPEATS):
    """Return the SGD time per epoch and objective of fastlogreg and SGDClassifier.

    Both run ``epochs`` epochs with no stopping rule, L2 penalty, the same data and the same
    objective (SGDClassifier's alpha = 1 / (C n)). Times are medians of ``repeats`` fits after
    one untimed fit.
    """
    from sklearn.linear_model import SGDClassifier

    from fastlogreg import LogisticRegression

    results = []
    for problem in problems:
        X, y = problem.X, problem.y
        ours = LogisticRegression(C=C, solver="sgd", tol=0.0, max_iter=epochs, random_state=0)
        theirs = SGDClassifier(loss="log_loss", penalty="l2", alpha=1.0 / (C * X.shape[0]),
                               max_iter=epochs, tol=None, random_state=0)
        row = {"name": problem.name, "epochs": epochs}
        for key, model in (("ours", ours), ("peer", theirs)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X, y)
                seconds = common.median_time(model.fit, repeats, X, y)
            row[key] = seconds / epochs
            row[key + "_objective"] = common.objective(X, y, model.coef_,
                                                       np.ravel(model.intercept_)[0], C, 0.0)
        row["ratio"] = row["peer"] / row["ours"]
        results.append(row)
    return results


def choose_l1_C(problem, share=L1_NONZERO_SHARE, steps=14):
    """Return C for which fastlogreg's L1 fit keeps about ``share`` of the weights non-zero.

    Bisects log10(C) between 1e-6 and 1e2 with fits at tol=1e-6. Stops once the share of
    non-zero weights is within L1_SHARE_SLACK of ``share``; else returns the closest C seen.
    """
    from fastlogreg import LogisticRegression

    low, high = -6.0, 2.0
    best = None
    for _ in range(steps):
        middle = 0.5 * (low + high)
        model = LogisticRegression(C=10.0 ** middle, l1_ratio=1.0, solver="cd", tol=1e-6,
                                   max_iter=1000, fit_intercept=problem.fit_intercept)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(problem.X, problem.y)
        got = np.count_nonzero(model.coef_) / model.coef_.size
        if best is None or abs(got - share) < abs(best[1] - share):
            best = (10.0 ** middle, got)
        if abs(got - share) <= L1_SHARE_SLACK:
            break
        if got < share:
            low = middle
        else:
            high = middle
    return best


COLD_START_CHILD = """
import time
start = time.perf_counter()
import numpy as np
from {module} import LogisticRegression
rng = np.random.default_rng(0)
X = rng.standard_normal((2000, 20))
y = (X[:, 0] + 0.5 * rng.standard_normal(2000) > 0).astype(np.int64)
LogisticRegression().fit(X, y)
print(time.perf_counter() - start)
"""


def cold_start(repeats=COLD_START_REPEATS):
    """Return seconds for import plus a first fit of 2000 x 20 in a fresh process (medians).

    fastlogreg runs with an empty Numba cache (a new NUMBA_CACHE_DIR each time) and with a
    filled one; scikit-learn has no compile step. Each figure is measured inside the child,
    from before ``import numpy`` to the end of the fit, so interpreter start-up is left out.
    """
    def child(module, cache_dir=None):
        env = dict(os.environ)
        if cache_dir is not None:
            env["NUMBA_CACHE_DIR"] = cache_dir
        completed = subprocess.run(
            [sys.executable, "-c", COLD_START_CHILD.format(module=module)], env=env,
            capture_output=True, text=True, check=True)
        return float(completed.stdout.strip().splitlines()[-1])

    with tempfile.TemporaryDirectory(prefix="fastlogreg-cold-") as folder:
        empty = []
        for index in range(repeats):
            empty.append(child("fastlogreg", os.path.join(folder, f"empty{index}")))
        filled_dir = os.path.join(folder, "empty0")
        filled = [child("fastlogreg", filled_dir) for _ in range(repeats)]
        sklearn = [child("sklearn.linear_model") for _ in range(repeats)]
    return {"empty": statistics.median(empty), "filled": statistics.median(filled),
            "sklearn": statistics.median(sklearn)}

