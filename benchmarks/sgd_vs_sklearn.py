"""Compare the epoch time and objective of fastlogreg SGD with scikit-learn's SGDClassifier.

Both run the same number of epochs on the same data, in one process: a generated dense
problem (standardised Gaussian features) and a9a (sparse, from ../shared/data or --a9a).
SGDClassifier gets ``alpha = 1 / (C * n)``, so that its objective, mean log loss plus
``alpha`` times the penalty, is fastlogreg's objective divided by C * n, and the penalty
that matches ``l1_ratio``. Its step schedule is "optimal", which needs no tuning, like
fastlogreg's "auto". Each time is the median of ``--repeats`` runs, after one untimed run
that compiles the Numba kernels. The objective of both models is computed with fastlogreg's
formula. Prints a Markdown table and the command that produced it.

    python benchmarks/sgd_vs_sklearn.py [--epochs 10] [--repeats 3] [--n 200000] [--d 50]
"""

import argparse
import platform
import shlex
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_svmlight_file
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier

from fastlogreg import LogisticRegression

DEFAULT_A9A = Path(__file__).resolve().parents[2] / "shared" / "data" / "a9a.gz"


def make_dense(n, d, seed=0):
    """Return standardised Gaussian features and labels drawn from a logistic model."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d) / np.sqrt(d)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ w + 0.3)))).astype(np.int64)
    return X, y


def objective(X, y, coef, intercept, C, l1_ratio):
    """Return C * sum_i logloss_i + (1 - l1_ratio) / 2 ||w||^2 + l1_ratio ||w||_1."""
    w = np.ravel(coef)
    z = np.asarray(X @ w).ravel() + float(np.ravel(intercept)[0])
    sign = np.where(y == 1, 1.0, -1.0)
    data = np.logaddexp(0.0, -sign * z).sum()
    return C * data + 0.5 * (1 - l1_ratio) * w @ w + l1_ratio * np.abs(w).sum()


def sklearn_model(C, l1_ratio, n, epochs):
    if l1_ratio == 0:
        penalty = "l2"
    elif l1_ratio == 1:
        penalty = "l1"
    else:
        penalty = "elasticnet"
    return SGDClassifier(loss="log_loss", penalty=penalty, alpha=1.0 / (C * n),
                         l1_ratio=l1_ratio if penalty == "elasticnet" else 0.15,
                         learning_rate="optimal", max_iter=epochs, tol=None, shuffle=True,
                         random_state=0)


def fastlogreg_model(C, l1_ratio, epochs, n_jobs):
    return LogisticRegression(solver="sgd", C=C, l1_ratio=l1_ratio, max_iter=epochs, tol=0.0,
                              random_state=0, n_jobs=n_jobs)


def median_fit_time(make, X, y, repeats):
    make().fit(X, y)  # untimed: compiles the Numba kernels
    times = []
    model = None
    for _ in range(repeats):
        model = make()
        start = time.perf_counter()
        model.fit(X, y)
        times.append(time.perf_counter() - start)
    return statistics.median(times), model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="epochs per fit")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per cell")
    parser.add_argument("--n", type=int, default=200_000, help="rows of the dense problem")
    parser.add_argument("--d", type=int, default=50, help="features of the dense problem")
    parser.add_argument("--C", type=float, default=1.0, help="inverse penalty strength")
    parser.add_argument("--n-jobs", type=int, default=None, help="fastlogreg n_jobs")
    parser.add_argument("--a9a", type=Path, default=DEFAULT_A9A, help="a9a svmlight file")
    args = parser.parse_args(argv)

    datasets = {"dense %dx%d" % (args.n, args.d): make_dense(args.n, args.d)}
    if args.a9a.exists():
        X, y = load_svmlight_file(str(args.a9a))
        # SGDClassifier needs int32 indices; fastlogreg reads both.
        X = sp.csr_matrix((X.data, X.indices.astype(np.int32), X.indptr.astype(np.int32)),
                          shape=X.shape)
        datasets["a9a (sparse)"] = (X, (y > 0).astype(np.int64))
    else:
        print(f"a9a not found at {args.a9a}; only the dense problem runs.", file=sys.stderr)

    rows = []
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    for name, (X, y) in datasets.items():
        n = X.shape[0]
        for l1_ratio in (0.0, 1.0):
            ours_time, ours = median_fit_time(
                lambda: fastlogreg_model(args.C, l1_ratio, args.epochs, args.n_jobs), X, y,
                args.repeats)
            theirs_time, theirs = median_fit_time(
                lambda: sklearn_model(args.C, l1_ratio, n, args.epochs), X, y, args.repeats)
            exact_solver = "cd" if l1_ratio > 0 else "newton"
            exact = LogisticRegression(solver=exact_solver, C=args.C, l1_ratio=l1_ratio,
                                       tol=1e-10, max_iter=500).fit(X, y)
            best = objective(X, y, exact.coef_, exact.intercept_, args.C, l1_ratio)
            ours_value = objective(X, y, ours.coef_, ours.intercept_, args.C, l1_ratio)
            theirs_value = objective(X, y, theirs.coef_, theirs.intercept_, args.C, l1_ratio)
            rows.append((name, l1_ratio, ours_time / args.epochs, theirs_time / args.epochs,
                         (ours_value - best) / best, (theirs_value - best) / best))

    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *sys.argv[1:]])
    print(f"Command: `{command}`  ")
    print(f"Machine: {platform.machine()}, {platform.processor() or 'unknown CPU'}, "
          f"Python {platform.python_version()}; {args.epochs} epochs, C={args.C}, "
          f"median of {args.repeats} fits.\n")
    print("| data | l1_ratio | fastlogreg s/epoch | SGDClassifier s/epoch | time ratio "
          "(sklearn / ours) | fastlogreg gap | SGDClassifier gap |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, l1_ratio, ours_epoch, theirs_epoch, ours_gap, theirs_gap in rows:
        print(f"| {name} | {l1_ratio:g} | {ours_epoch:.4f} | {theirs_epoch:.4f} | "
              f"{theirs_epoch / ours_epoch:.2f} | {ours_gap:.2e} | {theirs_gap:.2e} |")
    print("\ngap: (objective - optimum) / optimum, with the optimum from solver='newton' "
          "(l1_ratio=0) or 'cd' (l1_ratio=1) at tol=1e-10.")


if __name__ == "__main__":
    main()
