"""Time a 20-point, 5-fold search over C on a9a and w8a: fastlogreg against its peers.

Not an asv suite: run it as a script. Every contender searches the same grid of C on the
same stratified folds and scores accuracy on the held-out folds, so the chosen C can be
compared as well as the time.

- L2: ``fastlogreg.LogisticRegressionCV`` against scikit-learn's ``LogisticRegressionCV``
  with the "newton-cholesky" and "lbfgs" solvers, at n_jobs=1 and at all cores. At n_jobs=1
  both run with one BLAS thread.
- L1: ``fastlogreg.LogisticRegressionCV(l1_ratios=(1.0,))`` on its own integer grid (from the
  smallest C with all weights at zero, over four decades) against skglm's
  ``SparseLogisticRegression`` on the same values of C, warm-started along each fold's path.
  skglm minimises the same objective divided by C * n_train, so alpha = 1 / (C * n_train).
  Skipped when skglm is not installed.

Numba compilation (fastlogreg's and skglm's) is done before timing by small searches on a
2,000-row slice. Each time is
the best of ``--repeat`` runs.

    python benchmarks/bench_cv.py [--data-dir ../shared/data] [--repeat 3]
"""

import argparse
import importlib.util
import os
import platform
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import sklearn
import sklearn.linear_model
from sklearn.datasets import load_svmlight_file
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

import fastlogreg
from fastlogreg import LogisticRegressionCV

DATASETS = {"a9a": ("a9a.gz", 123), "w8a": ("w8a.gz", 300)}
N_CS = 20
N_FOLDS = 5
TOL = 1e-4


def load(data_dir, name):
    file_name, n_features = DATASETS[name]
    X, y = load_svmlight_file(str(data_dir / file_name), n_features=n_features)
    # 32-bit indices: scikit-learn 1.9 validates X with accept_large_sparse=False for its
    # liblinear, sag and saga solvers.
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int32)
    return X.tocsr(), (y > 0).astype(np.int64)


def best_time(function, repeat):
    """Return (best wall time in seconds, result of the last run, ConvergenceWarning count)."""
    times = []
    for _ in range(repeat):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            warnings.simplefilter("ignore", FutureWarning)
            start = time.perf_counter()
            result = function()
            times.append(time.perf_counter() - start)
    not_converged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    return min(times), result, not_converged


def fastlogreg_search(X, y, folds, Cs, n_jobs, l1_ratio=0.0):
    search = LogisticRegressionCV(Cs=Cs, l1_ratios=(l1_ratio,), cv=folds, tol=TOL,
                                  max_iter=100 if l1_ratio == 0 else 500, n_jobs=n_jobs)
    search.fit(X, y)
    return search.C_, search.scores_.mean(axis=0).max()


def sklearn_search(X, y, folds, Cs, solver, n_jobs):
    search = sklearn.linear_model.LogisticRegressionCV(
        Cs=list(Cs), l1_ratios=(0.0,), cv=folds, scoring="accuracy", solver=solver,
        tol=TOL, max_iter=100, n_jobs=n_jobs, use_legacy_attributes=False,
    )
    # scikit-learn's n_jobs sets processes, not BLAS threads. Here n_jobs=1 also gets one
    # BLAS thread, so that it uses one core as fastlogreg's n_jobs=1 does.
    with threadpool_limits(limits=1 if n_jobs == 1 else None, user_api="blas"):
        search.fit(X, y)
    return search.C_, search.scores_.mean(axis=0).max()


def skglm_search(X, y, folds, Cs):
    from skglm import SparseLogisticRegression

    scores = np.zeros(len(Cs))
    for train, test in folds:
        model = SparseLogisticRegression(fit_intercept=True, warm_start=True, tol=TOL,
                                         max_iter=50)
        for index, C in enumerate(Cs):
            model.set_params(alpha=1.0 / (C * len(train)))
            model.fit(X[train], y[train])
            scores[index] += model.score(X[test], y[test]) / len(folds)
    best = int(np.argmax(scores))
    return Cs[best], scores[best]


def run_dataset(name, X, y, repeat, cores):
    folds = list(StratifiedKFold(N_FOLDS).split(X, y))
    Cs = np.logspace(-4, 4, N_CS)
    rows = []

    def add(label, function, reference=None):
        seconds, (C, score), not_converged = best_time(function, repeat)
        rows.append((label, seconds, C, score, not_converged, reference))
        print(f"  {label:<48} {seconds:8.3f} s  C_={C:.4g}  cv accuracy={score:.5f}"
              f"  ConvergenceWarnings={not_converged}", flush=True)
        return seconds

    print(f"{name}: {X.shape[0]} x {X.shape[1]}, nnz {X.nnz}; L2, {N_CS} values of C "
          f"(logspace(-4, 4)), {N_FOLDS} folds")
    ours_1 = add("fastlogreg n_jobs=1", lambda: fastlogreg_search(X, y, folds, Cs, 1))
    ours_all = add(f"fastlogreg n_jobs=-1 ({cores} threads)",
                   lambda: fastlogreg_search(X, y, folds, Cs, -1))
    for solver in ("newton-cholesky", "lbfgs"):
        for n_jobs, ours in ((1, ours_1), (-1, ours_all)):
            seconds = add(f"sklearn {solver} n_jobs={n_jobs}",
                          lambda: sklearn_search(X, y, folds, Cs, solver, n_jobs))
            print(f"    ratio sklearn / fastlogreg at the same n_jobs: {seconds / ours:.2f}")

    if importlib.util.find_spec("skglm") is None:
        print("  skglm is not installed; the L1 comparison is skipped")
        return rows
    grid = LogisticRegressionCV(Cs=N_CS, l1_ratios=(1.0,), cv=folds, max_iter=500,
                                tol=TOL).fit(X, y).Cs_
    print(f"  L1: {N_CS} values of C from {grid[0]:.4g} (all weights zero) to {grid[-1]:.4g}")
    ours_l1 = add("fastlogreg L1 n_jobs=1",
                  lambda: fastlogreg_search(X, y, folds, grid, 1, l1_ratio=1.0))
    seconds = add("skglm SparseLogisticRegression (warm-started)",
                  lambda: skglm_search(X, y, folds, grid))
    print(f"    ratio skglm / fastlogreg n_jobs=1: {seconds / ours_l1:.2f}")
    return rows


def main():
    default_data = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data,
                        help="folder that contains a9a.gz and w8a.gz (LIBSVM format)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per contender; the best time is reported")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS),
                        choices=list(DATASETS), help="datasets to run")
    args = parser.parse_args()

    cores = os.cpu_count()
    print(f"{date.today()}, {platform.processor() or platform.machine()}, {cores} cores, "
          f"Python {platform.python_version()}, fastlogreg {fastlogreg.__version__}, "
          f"scikit-learn {sklearn.__version__}")
    for name in args.datasets:
        path = args.data_dir / DATASETS[name][0]
        if not path.is_file():
            print(f"{name}: {path} not found, skipped")
            continue
        X, y = load(args.data_dir, name)
        # Compile the Numba kernels of fastlogreg (and skglm) before timing.
        small_X, small_y = X[:2000], y[:2000]
        fastlogreg_search(small_X, small_y, N_FOLDS, np.logspace(-2, 2, 3), -1)
        fastlogreg_search(small_X, small_y, N_FOLDS, 3, -1, l1_ratio=1.0)
        if importlib.util.find_spec("skglm") is not None:
            skglm_search(small_X, small_y, list(StratifiedKFold(2).split(small_X, small_y)),
                         [0.1, 1.0])
        run_dataset(name, X, y, args.repeat, cores)


if __name__ == "__main__":
    main()
