"""Time fastlogreg.dask against in-memory fastlogreg and dask-ml on the same data and objective.

Not an asv benchmark and not a test: run it by hand, for example

    python benchmarks/bench_dask.py --n-samples 200000 --n-features 50 --chunk-rows 25000

It starts a LocalCluster on 127.0.0.1 with 1 and then 2 single-threaded worker processes,
draws the data on the workers from a seeded dask.array graph and persists it before
timing. In memory it fits with n_jobs=None and n_jobs=1; the ratios ("vs memory") are to the
faster of the two, warms the kernels with one untimed fit, and
prints one row per (library, solver, workers): total fit time, iterations, time per
iteration, the final objective relative to the best one found, and for fastlogreg.dask the
bytes moved per iteration between the client and the workers (from the array sizes of
(w, b), the gradients and the Hessians; task and protocol overhead not included).

The objective is the L2 one without an intercept, ``C * sum_i logloss_i + ||w||^2 / 2``,
because dask-ml (through dask-glm 0.4) also penalizes the intercept: its
``sum_i logloss_i + ||beta||^2 / (2 C)`` then has the same minimiser. dask-ml is skipped,
with a message, when it is not installed.
"""

import argparse
import time

import numpy as np

import fastlogreg


def make_dask_data(n_samples, n_features, chunk_rows, seed):
    """Return (X, y) as dask arrays drawn from a seeded graph, so that every cluster and the
    in-memory copy get the same rows without the data being embedded in the graph."""
    import dask.array as da

    state = da.random.RandomState(seed)
    X = state.standard_normal((n_samples, n_features), chunks=(chunk_rows, n_features))
    w = np.random.default_rng(seed).standard_normal(n_features) / np.sqrt(n_features)
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    y = (state.random_sample(n_samples, chunks=chunk_rows) < p).astype(np.int64)
    return X, y


def objective(X, y, coef, C):
    """Return C * sum of log losses + ||w||^2 / 2, the objective every row is judged by."""
    z = X @ coef
    losses = np.logaddexp(0.0, -z) * y + np.logaddexp(0.0, z) * (1 - y)
    return C * losses.sum() + 0.5 * float(coef @ coef)


def measure_fit(make_model, fit):
    model = make_model()
    start = time.perf_counter()
    fit(model)
    return model, time.perf_counter() - start


def run_in_memory(X, y, args):
    rows = []
    for solver in ("newton", "lbfgs"):
        for n_jobs in (None, 1):
            def make(solver=solver, n_jobs=n_jobs):
                return fastlogreg.LogisticRegression(C=args.C, fit_intercept=False,
                                                     solver=solver, tol=args.tol,
                                                     max_iter=args.max_iter, n_jobs=n_jobs)
            measure_fit(make, lambda model: model.fit(X[:1000], y[:1000]))  # compile
            model, seconds = measure_fit(make, lambda model: model.fit(X, y))
            rows.append({"library": f"fastlogreg n_jobs={n_jobs}", "solver": solver,
                         "workers": "-",
                                  "seconds": seconds, "iterations": int(model.n_iter_[0]),
                         "coef": model.coef_.ravel(), "bytes": None})
    return rows


def run_distributed(args, n_workers):
    from distributed import Client, LocalCluster, wait

    import fastlogreg.dask as fdask

    rows = []
    cluster = LocalCluster(n_workers=n_workers, processes=True, threads_per_worker=1,
                           host="127.0.0.1", dashboard_address="127.0.0.1:0",
                           worker_dashboard_address="127.0.0.1:0")
    client = Client(cluster)
    try:
        X_dask, y_dask = make_dask_data(args.n_samples, args.n_features, args.chunk_rows,
                                        args.seed)
        X_dask, y_dask = client.persist([X_dask, y_dask])
        wait([X_dask, y_dask])

        for solver in ("newton", "lbfgs"):
            def make(solver=solver):
                return fdask.LogisticRegression(C=args.C, fit_intercept=False, solver=solver,
                                                tol=args.tol, max_iter=args.max_iter)
            measure_fit(make, lambda model: model.fit(X_dask, y_dask))  # warm the workers
            model, seconds = measure_fit(make, lambda model: model.fit(X_dask, y_dask))
            rows.append({"library": "fastlogreg.dask", "solver": solver,
                         "workers": n_workers, "seconds": seconds,
                         "iterations": int(model.n_iter_[0]), "coef": model.coef_.ravel(),
                         "bytes": model.bytes_moved_ / max(1, int(model.n_iter_[0])),
                         "passes": model.n_data_passes_, "hessians": model.n_hessians_})

        try:
            from dask_ml.linear_model import LogisticRegression as DaskMLLogisticRegression
        except ImportError as error:
            print(f"dask-ml skipped: {error}")
            return rows

        def make_dask_ml():
            return DaskMLLogisticRegression(C=args.C, fit_intercept=False, solver="lbfgs",
                                            penalty="l2", tol=args.tol, max_iter=args.max_iter)
        measure_fit(make_dask_ml, lambda model: model.fit(X_dask, y_dask))
        model, seconds = measure_fit(make_dask_ml, lambda model: model.fit(X_dask, y_dask))
        rows.append({"library": "dask-ml", "solver": "lbfgs", "workers": n_workers,
                     "seconds": seconds, "iterations": None,
                     "coef": np.asarray(model.coef_).ravel(), "bytes": None})
    finally:
        client.close()
        cluster.close()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--n-features", type=int, default=50)
    parser.add_argument("--chunk-rows", type=int, default=25_000,
                        help="rows per dask block")
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--tol", type=float, default=1e-6,
                        help="solver tolerance of fastlogreg; passed to dask-ml as its tol")
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import dask

    X, y = dask.compute(*make_dask_data(args.n_samples, args.n_features, args.chunk_rows,
                                        args.seed), scheduler="threads")
    print(f"data: {X.shape[0]} x {X.shape[1]} float64 ({X.nbytes / 1e6:.0f} MB), "
          f"blocks of {args.chunk_rows} rows, C={args.C}, tol={args.tol}, no intercept")

    rows = run_in_memory(X, y, args)
    for n_workers in args.workers:
        rows.extend(run_distributed(args, n_workers))

    values = [objective(X, y, row["coef"], args.C) for row in rows]
    best = min(values)
    # Ratios are to the faster in-memory fit of the same solver.
    baseline = {}
    for row in rows:
        if row["library"].startswith("fastlogreg n_jobs"):
            previous = baseline.get(row["solver"], np.inf)
            baseline[row["solver"]] = min(previous, row["seconds"])
    header = (f"{'library':<22} {'solver':<7} {'workers':>7} {'fit s':>8} {'iter':>5} "
              f"{'s/iter':>8} {'vs memory':>9} {'rel. gap':>9} {'bytes/iter':>11}")
    print(header)
    for row, value in zip(rows, values):
        iterations = row["iterations"]
        per_iteration = f"{row['seconds'] / iterations:8.4f}" if iterations else f"{'-':>8}"
        ratio = row["seconds"] / baseline.get(row["solver"], baseline["lbfgs"])
        moved = f"{row['bytes']:11.0f}" if row["bytes"] is not None else f"{'-':>11}"
        print(f"{row['library']:<22} {row['solver']:<7} {row['workers']!s:>7} "
              f"{row['seconds']:8.3f} {iterations if iterations else '-':>5} {per_iteration} "
              f"{ratio:9.2f} {(value - best) / abs(best):9.1e} {moved}")


if __name__ == "__main__":
    main()
