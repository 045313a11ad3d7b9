"""Objective reached and fit time on a9a, fastlogreg against scikit-learn, in one run.

Usage: python benchmarks/a9a_vs_sklearn.py [DATA_FOLDER]   (default: ../shared/data)

Each pair of fits runs five times, alternating the libraries. The script prints the median
times, their median ratio and the objective each fit reached, all at default tolerances.
scikit-learn's liblinear penalizes the intercept, so its objective differs slightly.
"""

import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_svmlight_files
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression

from fastlogreg import LogisticRegression

REPEATS = 5
CASES = [(0.0, "lbfgs"), (0.0, "newton-cholesky"), (1.0, "liblinear"), (1.0, "saga")]


def with_int32_indices(X):
    """Copy of a CSR matrix with int32 indices, which scikit-learn's solvers require."""
    X = X.copy()
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int32)
    return X


def main():
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[2] / "shared/data"
    X, y, X_test, y_test = load_svmlight_files([str(folder / "a9a.gz"), str(folder / "a9a.t.gz")])
    X32, X_test32 = with_int32_indices(X), with_int32_indices(X_test)
    y01 = (y > 0).astype(float)

    def objective(model, l1_ratio):
        w, b = model.coef_.ravel(), model.intercept_[0]
        z = X @ w + b
        data = np.sum(np.logaddexp(0.0, np.where(y01 > 0, -z, z)))
        return data + 0.5 * (1 - l1_ratio) * w @ w + l1_ratio * np.abs(w).sum()

    LogisticRegression().fit(X, y)  # compile or load the kernels before timing
    for l1_ratio, peer in CASES:
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            ours = LogisticRegression(l1_ratio=l1_ratio).fit(X, y)
            middle = time.perf_counter()
            theirs = SklearnLogisticRegression(l1_ratio=l1_ratio, solver=peer,
                                               max_iter=1000).fit(X32, y)
            times.append((middle - start, time.perf_counter() - middle))
        f_ours, f_theirs = objective(ours, l1_ratio), objective(theirs, l1_ratio)
        print(
            f"l1_ratio={l1_ratio} vs sklearn {peer}: "
            f"fastlogreg {statistics.median(t for t, _ in times):.3f} s ({ours.solver_}, "
            f"objective {f_ours:.6f}, test accuracy {ours.score(X_test, y_test):.4f}); "
            f"sklearn {statistics.median(t for _, t in times):.3f} s (objective "
            f"{f_theirs:.6f}, test accuracy {theirs.score(X_test32, y_test):.4f}); "
            f"median time ratio sklearn / fastlogreg "
            f"{statistics.median(b / a for a, b in times):.2f}; "
            f"objective gap (sklearn - fastlogreg) / fastlogreg {(f_theirs - f_ours) / f_ours:.2e}"
        )


if __name__ == "__main__":
    main()
