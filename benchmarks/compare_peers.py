"""Compare fastlogreg's solvers with other logistic regression solvers on the same objective.

Every solver minimises, on the same data,

    C * sum_i logloss(y_i, x_i . w + b) + (1 - l1_ratio) / 2 ||w||^2 + l1_ratio ||w||_1

with the intercept b unpenalized (scikit-learn >= 1.8 ``LogisticRegression`` uses this
objective with the same C and l1_ratio). Peers with other parametrisations get mapped
parameters: skglm and SGDClassifier divide the loss by n, so alpha = 1 / (C n); LIBLINEAR and
Snap ML put 1 / C on the penalty. Solvers that always penalize the intercept (scikit-learn's
liblinear, Snap ML) run on a variant of the problem: X with an explicit column of ones and
``fit_intercept=False`` for every solver in that variant, scored against its own optimum.
LIBLINEAR's own Python package leaves the bias unpenalized with ``-B 1 -R``, so it runs on the
main problem.

For each solver a ladder of settings (decreasing tol, or increasing epochs) is fitted from
scratch. The ladder stops at the rung that meets the last target, or before a rung whose
predicted time would overrun the time budget (see ``predict_next_seconds``). The first rung
whose relative suboptimality ``(f - f*) / |f*|`` is at most 1e-4 (or 1e-6) gives the time to
that target: the median of ``--repeats`` fits at that rung, or the one fit when that fit alone
took longer than the budget. f* is
a fastlogreg fit with tol=1e-10, or the lowest objective any solver reached if lower. Every
objective is recomputed by ``common.objective`` in numpy, whatever the solver reports. Peak
memory is the rise of the resident set (VmHWM after a reset, Linux only) during one fit at the
last rung, in a fresh child process that loads the arrays from a temporary .npy copy.

With matplotlib installed, each problem also gets a PNG of relative suboptimality against
fit time, one point per rung, in ``benchmarks/plots`` beside the Markdown file.

Run from the repository root:

    python benchmarks/compare_peers.py            # small default set, writes BENCHMARKS.md
    python benchmarks/compare_peers.py --quick    # a9a, w8a and 100k x 28 dense, short budget
    python benchmarks/compare_peers.py --full     # adds 1M x 100 and 4M x 28 dense problems
    python benchmarks/compare_peers.py --targets  # the performance targets, see below

``--targets`` runs a9a, w8a and the 1M x 100 and 4M x 28 dense problems, picks for each an L1
C that leaves about 10% of the weights non-zero, measures peak memory of fastlogreg's fits,
and adds a section that checks each performance target: the fused pass against one X @ w,
L2 and L1 time to 1e-6 against the fastest peer, SGD epochs against SGDClassifier, peak memory
against the size of X, and import plus first fit in a fresh process (``targets.py``).
"""

import argparse
import datetime
import importlib
import importlib.metadata
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks import common, targets
else:
    from . import common, targets

TARGETS = (1e-4, 1e-6)
PENALTY_NAMES = {0.0: "L2", 1.0: "L1", 0.5: "elastic net 0.5"}
TOL_LADDER = [10.0 ** -k for k in range(1, 11)]
EPOCH_LADDER = [1, 2, 5, 10, 20, 50, 100]
# Problems with more features than this skip the solvers that form a d x d Hessian.
MAX_HESSIAN_FEATURES = 2000


# ----------------------------------------------------------------------------- problems


@dataclass
class Problem:
    """One dataset in one intercept variant, with its held-out part for accuracy."""

    name: str
    X: object
    y: np.ndarray
    X_test: object
    y_test: np.ndarray
    fit_intercept: bool = True
    f_star: dict = field(default_factory=dict)
    support: dict = field(default_factory=dict)

    @property
    def variant(self):
        return "free intercept" if self.fit_intercept else "ones column, penalized"

    def with_ones_column(self):
        """Return the variant with an explicit column of ones and no separate intercept."""
        def augment(X):
            ones = np.ones((X.shape[0], 1), dtype=X.dtype)
            if sp.issparse(X):
                return common._int32_csr(sp.hstack([X, ones], format="csr"))
            return np.ascontiguousarray(np.hstack([X, ones]))

        return Problem(self.name, augment(self.X), self.y, augment(self.X_test), self.y_test,
                       fit_intercept=False)


def split(name, X, y, test_share=0.25, seed=0):
    """Return a Problem with a seeded random held-out share of the rows."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(X.shape[0])
    cut = int(X.shape[0] * (1.0 - test_share))
    train, test = np.sort(order[:cut]), np.sort(order[cut:])
    return Problem(name, X[train], y[train], X[test], y[test])


def real_problems(keep=None):
    """Yield the real datasets found in the data folder (LIBSVM pairs and dense tables).

    With ``keep``, a set of problem names, other files are not loaded at all.
    """
    def is_kept(name):
        return keep is None or name in keep

    pairs = [("a9a", "a9a.gz", "a9a.t.gz"), ("w8a", "w8a.gz", "w8a.t.gz"),
             ("ijcnn1", "ijcnn1.trn.bz2", "ijcnn1.tst.bz2"),
             ("rcv1_small", "rcv1_small.svm.gz", "rcv1_small_test.svm.gz")]
    for name, train, test in pairs:
        if not is_kept(name):
            continue
        loaded = common.load_svmlight_pair(train, test)
        if loaded is not None:
            yield Problem(name, *loaded)
    if is_kept("mushrooms"):
        loaded = common.load_svmlight_pair("mushrooms.gz")
        if loaded is not None:
            yield split("mushrooms", loaded[0], loaded[1])
    if is_kept("covtype_20k"):
        loaded = common.load_dense_csv("covtype_binary_scale_20k.csv.gz")
        if loaded is not None:
            yield split("covtype_20k", *loaded)
    if is_kept("higgs_7k"):
        train = common.load_dense_csv("higgs_lightgbm.train.tsv.gz", sep="\t")
        test = common.load_dense_csv("higgs_lightgbm.test.tsv.gz", sep="\t")
        if train is not None and test is not None:
            yield Problem("higgs_7k", train[0], train[1], test[0], test[1])


def generated_problems(shapes):
    for n, d in shapes:
        X, y = common.make_dense(n + n // 4, d, seed=17)
        for dtype in (np.float64, np.float32):
            Xd = np.ascontiguousarray(X, dtype=dtype)
            name = f"dense_{n}x{d}_{np.dtype(dtype).name}"
            yield Problem(name, Xd[:n], y[:n], Xd[n:], y[n:])


# ----------------------------------------------------------------------------- solvers


@dataclass
class Solver:
    """A solver, the penalties it supports and the ladder of settings that tightens it."""

    name: str
    package: str
    l1_ratios: tuple
    ladder: list
    setting_name: str
    fit: object
    needs_ones_column: bool = False
    max_features: int = None

    def supports(self, problem, l1_ratio):
        if l1_ratio not in self.l1_ratios:
            return False
        return self.max_features is None or problem.X.shape[1] <= self.max_features


def quiet_fit(function):
    """Wrap a fit function so that convergence warnings do not flood the output."""
    def wrapped(*args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return function(*args)
    return wrapped


def fastlogreg_solver(name, l1_ratios, max_features=None):
    def fit(problem, C, l1_ratio, tol):
        from fastlogreg import LogisticRegression

        model = LogisticRegression(C=C, l1_ratio=l1_ratio, solver=name, tol=tol,
                                   max_iter=100_000, fit_intercept=problem.fit_intercept)
        model.fit(problem.X, problem.y)
        return model.coef_, model.intercept_[0]

    return Solver(f"fastlogreg {name}", "fastlogreg", l1_ratios, TOL_LADDER, "tol",
                  quiet_fit(fit), max_features=max_features)


def fastlogreg_sgd():
    def fit(problem, C, l1_ratio, epochs):
        from fastlogreg import LogisticRegression

        model = LogisticRegression(C=C, l1_ratio=l1_ratio, solver="sgd", tol=0.0,
                                   max_iter=epochs, random_state=0,
                                   fit_intercept=problem.fit_intercept)
        model.fit(problem.X, problem.y)
        return model.coef_, model.intercept_[0]

    return Solver("fastlogreg sgd", "fastlogreg", (0.0, 1.0), EPOCH_LADDER, "epochs",
                  quiet_fit(fit))


def sklearn_solver(name, l1_ratios, max_features=None, needs_ones_column=False):
    def fit(problem, C, l1_ratio, tol):
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=C, l1_ratio=l1_ratio, solver=name, tol=tol,
                                   max_iter=100_000, fit_intercept=problem.fit_intercept)
        model.fit(problem.X, problem.y)
        return model.coef_, np.ravel(model.intercept_)[0] if problem.fit_intercept else 0.0

    return Solver(f"sklearn {name}", "scikit-learn", l1_ratios, TOL_LADDER, "tol",
                  quiet_fit(fit), needs_ones_column=needs_ones_column,
                  max_features=max_features)


def sklearn_sgd():
    def fit(problem, C, l1_ratio, epochs):
        from sklearn.linear_model import SGDClassifier

        # SGDClassifier minimises mean(loss) + alpha * R(w), R = ||w||^2 / 2 or ||w||_1.
        model = SGDClassifier(loss="log_loss", penalty="l1" if l1_ratio else "l2",
                              alpha=1.0 / (C * problem.X.shape[0]), max_iter=epochs, tol=None,
                              random_state=0, fit_intercept=problem.fit_intercept)
        model.fit(problem.X, problem.y)
        return model.coef_, model.intercept_[0]

    return Solver("sklearn SGDClassifier", "scikit-learn", (0.0, 1.0), EPOCH_LADDER, "epochs",
                  quiet_fit(fit))


def skglm_solver():
    def fit(problem, C, l1_ratio, tol):
        from skglm import SparseLogisticRegression

        # skglm minimises mean(loss) + alpha * (l1_ratio ||w||_1 + (1 - l1_ratio)/2 ||w||^2).
        model = SparseLogisticRegression(alpha=1.0 / (C * problem.X.shape[0]),
                                         l1_ratio=l1_ratio, tol=tol, max_iter=1000,
                                         fit_intercept=problem.fit_intercept)
        model.fit(problem.X, problem.y)
        return model.coef_, np.ravel(model.intercept_)[0] if problem.fit_intercept else 0.0

    return Solver("skglm", "skglm", (1.0,), TOL_LADDER, "tol", quiet_fit(fit))


def liblinear_solver():
    def fit(problem, C, l1_ratio, eps):
        from liblinear import liblinearutil

        solver_type = 6 if l1_ratio else 0
        options = f"-s {solver_type} -c {C} -e {eps} -q"
        if problem.fit_intercept:
            options += " -B 1 -R"
        X = problem.X if sp.issparse(problem.X) else np.asarray(problem.X, dtype=np.float64)
        labels = np.where(problem.y > 0.5, 1.0, -1.0)
        model = liblinearutil.train(labels, X, options)
        w, b = model.get_decfun()
        # LIBLINEAR's decision function favours its first label; make it favour y = 1.
        sign = 1.0 if model.get_labels()[0] == 1 else -1.0
        return sign * np.asarray(w), sign * b

    return Solver("LIBLINEAR (liblinear-official)", "liblinear-official", (0.0, 1.0),
                  TOL_LADDER, "eps", quiet_fit(fit))


def snapml_solver():
    def fit(problem, C, l1_ratio, tol):
        from snapml import LogisticRegression

        # Snap ML minimises sum(loss) + regularizer * R(w): regularizer = 1 / C. Its
        # intercept is an appended, penalized feature, so only the ones-column variant fits.
        model = LogisticRegression(regularizer=1.0 / C, penalty="l1" if l1_ratio else "l2",
                                   dual=not l1_ratio, tol=tol, max_iter=100_000,
                                   fit_intercept=False, n_jobs=os.cpu_count() or 1)
        model.fit(problem.X, problem.y)
        return np.ravel(model.coef_), 0.0

    return Solver("snapml", "snapml", (0.0, 1.0), TOL_LADDER, "tol", quiet_fit(fit),
                  needs_ones_column=True)


def all_solvers():
    return [
        fastlogreg_solver("newton", (0.0,), max_features=MAX_HESSIAN_FEATURES),
        fastlogreg_solver("lbfgs", (0.0,)),
        fastlogreg_solver("cd", (0.0, 1.0, 0.5)),
        fastlogreg_sgd(),
        sklearn_solver("lbfgs", (0.0,)),
        sklearn_solver("newton-cholesky", (0.0,), max_features=MAX_HESSIAN_FEATURES),
        sklearn_solver("saga", (0.0, 1.0, 0.5)),
        sklearn_solver("liblinear", (0.0, 1.0), needs_ones_column=True),
        sklearn_sgd(),
        skglm_solver(),
        liblinear_solver(),
        snapml_solver(),
    ]


def availability(solver):
    """Return None when the solver can run here, else the reason it is skipped."""
    module = {"fastlogreg": "fastlogreg", "scikit-learn": "sklearn", "skglm": "skglm",
              "liblinear-official": "liblinear.liblinearutil", "snapml": "snapml"}[solver.package]
    try:
        importlib.import_module(module)
    except ImportError as error:
        return f"{solver.package} is not installed ({error}); install the 'bench' extra"
    if solver.name == "fastlogreg sgd":
        from fastlogreg import LogisticRegression

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                LogisticRegression(solver="sgd", max_iter=1).fit(np.eye(4), [0, 1, 0, 1])
        except ValueError as error:
            return f"solver='sgd' is not available in this fastlogreg: {error}"
    return None


# ----------------------------------------------------------------------------- measuring


def relative_gap(value, f_star):
    return (value - f_star) / abs(f_star)


def predict_next_seconds(rung_seconds):
    """Estimate the next rung's time: the last rung's time times its growth over the one before.

    The growth factor is at least 1 because rungs only get tighter. A rung can still take
    several times this estimate.
    """
    last = rung_seconds[-1]
    if len(rung_seconds) < 2:
        return last
    return last * max(1.0, last / max(rung_seconds[-2], 1e-9))


def run_ladder(solver, problem, C, l1_ratio, budget_s):
    """Fit each rung of the ladder until the last target is met or the budget runs out.

    The ladder stops before a rung whose predicted time would overrun ``budget_s``. Returns a
    list of (setting, seconds, objective, coef, intercept).
    """
    rungs = []
    spent = 0.0
    f_star = problem.f_star[l1_ratio]
    for setting in solver.ladder:
        start = time.perf_counter()
        coef, intercept = solver.fit(problem, C, l1_ratio, setting)
        seconds = time.perf_counter() - start
        spent += seconds
        value = common.objective(problem.X, problem.y, coef, intercept, C, l1_ratio)
        rungs.append((setting, seconds, value, coef, intercept))
        gap = relative_gap(value, f_star)
        print(f"    {solver.setting_name}={setting:g}: {seconds:.3g} s, gap {gap:.1e}",
              flush=True)
        if gap <= TARGETS[-1]:
            break
        if len(rungs) == len(solver.ladder):
            break
        if spent + predict_next_seconds([rung[1] for rung in rungs]) > budget_s:
            print(f"    stopped: the next rung would likely overrun the {budget_s:g} s budget",
                  flush=True)
            break
    return rungs


def memory_child(spec_path):
    """Entry point of the child process that measures one fit's peak memory."""
    spec = json.loads(Path(spec_path).read_text())
    arrays = np.load(spec["arrays"], allow_pickle=False)
    if "data" in arrays:
        X = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]),
                          shape=tuple(arrays["shape"]))
    else:
        X = arrays["X"]
    y = arrays["y"]
    problem = Problem("child", X, y, X, y, fit_intercept=spec["fit_intercept"])
    solver = {s.name: s for s in all_solvers()}[spec["solver"]]
    warm_up(solver, problem, spec["C"], spec["l1_ratio"])
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    before = read_status_kib("VmRSS")
    solver.fit(problem, spec["C"], spec["l1_ratio"], spec["setting"])
    print(json.dumps({"extra_mib": (read_status_kib("VmHWM") - before) / 1024.0}))


def read_status_kib(field_name):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise KeyError(field_name)


def save_arrays(problem, folder):
    path = Path(folder) / f"{problem.name}-{int(problem.fit_intercept)}.npz"
    if not path.exists():
        if sp.issparse(problem.X):
            np.savez(path, data=problem.X.data, indices=problem.X.indices,
                     indptr=problem.X.indptr, shape=np.array(problem.X.shape), y=problem.y)
        else:
            np.savez(path, X=problem.X, y=problem.y)
    return path


def measure_memory(solver, problem, C, l1_ratio, setting, folder):
    """Return the peak RSS rise in MiB of one fit in a child process, or None on failure."""
    if not Path("/proc/self/clear_refs").exists():
        return None
    spec = {"arrays": str(save_arrays(problem, folder)), "solver": solver.name, "C": C,
            "l1_ratio": l1_ratio, "setting": setting, "fit_intercept": problem.fit_intercept}
    spec_path = Path(folder) / "spec.json"
    spec_path.write_text(json.dumps(spec))
    completed = subprocess.run([sys.executable, __file__, "--memory-child", str(spec_path)],
                               capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        print(f"    memory measurement failed: {completed.stderr.strip()[-300:]}")
        return None
    return json.loads(completed.stdout.strip().splitlines()[-1])["extra_mib"]


def compute_reference(problem, l1_ratio, C):
    """Return the objective of a fastlogreg fit with tol=1e-10, the starting value of f*.

    Same solver choice as ``common.reference_fit`` (cd with an L1 part, else newton, or lbfgs
    above 1000 features), but Newton gets at most 100 iterations.
    """
    from fastlogreg import LogisticRegression

    solver = "cd" if l1_ratio > 0 else "newton"
    if l1_ratio == 0 and problem.X.shape[1] > 1000:
        solver = "lbfgs"
    # NOTE: on w8a with C=1, fastlogreg's newton reaches its optimum in 9 iterations but never
    # meets tol=1e-10, so it runs all of max_iter (about 70 s per 1000 iterations on 2 cores).
    max_iter = 100 if solver == "newton" else 10_000
    model = LogisticRegression(C=C, l1_ratio=l1_ratio, solver=solver, tol=1e-10,
                               max_iter=max_iter, fit_intercept=problem.fit_intercept)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(problem.X, problem.y)
    problem.support[l1_ratio] = np.flatnonzero(model.coef_.ravel())
    return common.objective(problem.X, problem.y, model.coef_, model.intercept_[0], C,
                            l1_ratio)


def warm_up(solver, problem, C, l1_ratio):
    """Fit 500 rows once, so that Numba compilation (fastlogreg, skglm) is not timed.

    The rows are the first 250 of each class, so that the fit runs even where the first rows
    of the file all have one label (w8a).
    """
    rows = np.sort(np.concatenate([np.flatnonzero(problem.y > 0.5)[:250],
                                   np.flatnonzero(problem.y <= 0.5)[:250]]))
    small = Problem("warm-up", problem.X[rows], problem.y[rows], problem.X[rows],
                    problem.y[rows], problem.fit_intercept)
    if np.unique(small.y).shape[0] == 2:
        solver.fit(small, C, l1_ratio, solver.ladder[0])


def summarize(solver, problem, C, l1_ratio, rungs, args, folder):
    """Return one result row for a solver whose ladder has run, scored against the final f*."""
    f_star = problem.f_star[l1_ratio]
    setting, _, value, coef, intercept = rungs[-1]
    row = {"problem": problem, "solver": solver, "l1_ratio": l1_ratio, "C": C,
           "setting": setting, "objective": value, "gap": relative_gap(value, f_star),
           "accuracy": common.accuracy(problem.X_test, problem.y_test, coef, intercept),
           "trace": [(seconds, relative_gap(rung_value, f_star))
                     for _, seconds, rung_value, _, _ in rungs]}
    # Both targets often fall on the same rung; its repeated fits are timed once.
    medians = {}
    for target in TARGETS:
        row[target] = None
        for rung_setting, seconds, rung_value, rung_coef, _ in rungs:
            if relative_gap(rung_value, f_star) <= target:
                # Whether this fit has the reference fit's zero pattern.
                row[("same zeros", target)] = np.array_equal(
                    np.flatnonzero(np.ravel(rung_coef)), problem.support[l1_ratio])
                if rung_setting not in medians:
                    # A fit that alone overran the budget is not repeated.
                    repeats = 1 if seconds > args.budget else args.repeats
                    times = [seconds] + [timed_fit(solver, problem, C, l1_ratio, rung_setting)
                                         for _ in range(repeats - 1)]
                    medians[rung_setting] = statistics.median(times)
                row[target] = (medians[rung_setting], rung_setting)
                break
    measured = not args.no_memory and (not args.targets or solver.package == "fastlogreg")
    row["memory"] = measure_memory(solver, problem, C, l1_ratio, setting,
                                   folder) if measured else None
    return row


def timed_fit(solver, problem, C, l1_ratio, setting):
    start = time.perf_counter()
    solver.fit(problem, C, l1_ratio, setting)
    return time.perf_counter() - start


def compare_on(problem, solvers, C, l1_ratio, args, folder):
    """Run every solver that supports this problem and penalty; return the result rows."""
    start = time.perf_counter()
    problem.f_star[l1_ratio] = compute_reference(problem, l1_ratio, C)
    print(f"  reference f* (fastlogreg, tol=1e-10): {time.perf_counter() - start:.3g} s",
          flush=True)
    ladders = []
    for solver in solvers:
        if not solver.supports(problem, l1_ratio):
            continue
        print(f"  {solver.name} ...", flush=True)
        try:
            warm_up(solver, problem, C, l1_ratio)
            rungs = run_ladder(solver, problem, C, l1_ratio, args.budget)
        except Exception as error:  # noqa: BLE001 - one peer's failure must not end the run
            print(f"    failed: {type(error).__name__}: {error}")
            continue
        ladders.append((solver, rungs))
        # A solver that goes below the reference moves f* down for every row.
        lowest = min(rung[2] for rung in rungs)
        problem.f_star[l1_ratio] = min(problem.f_star[l1_ratio], lowest)
    return [summarize(solver, problem, C, l1_ratio, rungs, args, folder)
            for solver, rungs in ladders]


# ----------------------------------------------------------------------------- report


def package_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_description():
    from threadpoolctl import threadpool_info

    parts = [f"{info.get('internal_api')} {info.get('version')} ({info.get('num_threads')} "
             f"threads)" for info in threadpool_info() if info.get("user_api") == "blas"]
    return ", ".join(parts) or "unknown"


def format_seconds(entry):
    if entry is None:
        return "not reached"
    seconds, setting = entry
    return f"{seconds:.3g} ({setting:g})"


def format_row(row):
    penalty = PENALTY_NAMES[row["l1_ratio"]]
    problem = row["problem"]
    memory = "n/a" if row["memory"] is None else f"{row['memory']:.1f}"
    cells = [problem.name, problem.variant, f"{penalty}, C={row['C']:g}", row["solver"].name,
             format_seconds(row[TARGETS[0]]), format_seconds(row[TARGETS[1]]),
             f"{row['setting']:g}", f"{row['objective']:.10g}", f"{row['gap']:.1e}",
             f"{row['accuracy']:.4f}", memory]
    return "| " + " | ".join(cells) + " |"


def write_report(path, rows, skipped, args, started, wall_seconds, plots, measured=None):
    command = "python " + " ".join(shlex.quote(part) for part in sys.argv)
    versions = ", ".join(f"{name} {package_version(name)}" for name in (
        "fastlogreg", "numpy", "scipy", "numba", "scikit-learn", "skglm",
        "liblinear-official", "snapml", "threadpoolctl"))
    lines = [
        "# Peer comparison",
        "",
        "Generated by `benchmarks/compare_peers.py`; rerun it to refresh this page. Figures",
        "are from one machine on one day and say nothing beyond the rows shown.",
        "",
        f"- Command: `{command}`",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC; the run took {wall_seconds / 60:.1f} minutes",
        f"- Machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} "
        f"{platform.release()}",
        f"- Python {platform.python_version()}; {versions}",
        f"- BLAS: {blas_description()}; Numba threads: {numba_threads()}",
        f"- Load average (1, 5, 15 min) at the end of the run: "
        f"{', '.join(f'{value:.2f}' for value in os.getloadavg())}; other processes shared "
        "the machine when that exceeds the CPU count",
        f"- Objective: C = {args.C:g}, `C * sum_i logloss_i + (1 - l1_ratio) / 2 ||w||^2 "
        "+ l1_ratio ||w||_1`, intercept unpenalized unless the variant says otherwise",
        f"- Time budget per solver ladder: {args.budget:g} s; times are medians of "
        f"{args.repeats} fits, or of one fit where that fit alone overran the budget",
    ]
    if args.quick:
        lines.append(f"- Configuration: `--quick`, {QUICK_DESCRIPTION}")
    if args.targets:
        lines.append(f"- Configuration: `--targets`, {TARGETS_DESCRIPTION}")
    lines += [
        "",
        "How to read the table:",
        "",
        "- *to 1e-4* and *to 1e-6*: seconds for one fit, from scratch, that reaches that",
        "  relative suboptimality `(f - f*) / |f*|`, with the tol, eps or epochs of that fit",
        "  in brackets. f* is fastlogreg with tol=1e-10, or the lowest objective any solver",
        "  reached. Each fit includes the solver's own input checks and conversions.",
        "- *last setting* is the tightest rung fitted (the ladder stops at the 1e-6 target, or",
        "  before a rung predicted to overrun the budget: the last rung's time times its growth",
        "  over the rung before); *objective*, *gap* and *test acc* are for that fit.",
        "  Test accuracy is on the dataset's test file, or on a seeded 25% held-out split.",
        "- *peak MiB*: rise of the resident set during that fit in a fresh process (Linux",
        "  VmHWM), beyond the loaded data; n/a where it was not measured.",
        "- Variant *ones column, penalized*: X gets a column of ones, `fit_intercept=False`",
        "  everywhere, for solvers that always penalize the intercept (scikit-learn's",
        "  liblinear, Snap ML); compare rows within the same variant only.",
        "",
        "| problem | variant | penalty | solver | to 1e-4 s (setting) | to 1e-6 s (setting) "
        "| last setting | objective | gap | test acc | peak MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [format_row(row) for row in rows]
    if skipped:
        lines += ["", "Skipped:", ""] + [f"- {message}" for message in skipped]
    if measured is not None:
        lines += target_lines(rows, measured)
    lines += plot_lines(plots, path)
    lines += behind_lines(rows)
    Path(path).write_text("\n".join(lines) + "\n")


# The limit behind each kind of target, written from profiles of this code on a 2-core
# machine. The report shows a kind's text only when one of its rows missed the goal.
LIMITS = {
    "kernel dense": (
        "Dense fused pass: it makes two multiply-adds per entry (the margin and the gradient) "
        "where X @ w makes one, plus an exp and a log1p per row. With two cores the pass is "
        "bound by arithmetic, not by memory bandwidth, so float32 X saves the bytes but not "
        "the arithmetic, which is done in float64."),
    "kernel csr": (
        "CSR fused pass: the gradient X' r scatters into the same columns that X @ w gathers "
        "from, so the pass costs about two sparse products on one core; the exp and log1p per "
        "row come on top. scipy's product is single-threaded, and the two threads of the fused "
        "pass bring it closer to, but not within, 1.3x."),
    "solver": (
        "Solver time: Newton's method and proximal Newton make 4 to 15 iterations to reach "
        "1e-6, each a fused pass and a Hessian (sum_i nnz_i^2 / 2 multiply-adds for sparse "
        "rows, about half of a w8a fit). On a9a and w8a a fit takes 20 to 70 ms, and LIBLINEAR, "
        "whose Newton method uses Hessian-vector products instead of a Hessian, takes about "
        "as many passes over X. A larger margin needs fewer passes, not cheaper ones: the "
        "fused pass is already within the ratios of target 1 of one product X @ w."),
    "sgd": (
        "SGD epochs on sparse rows: SGDClassifier updates after each sample in compiled code "
        "with a lazily scaled weight vector, about 100 ns per a9a row. fastlogreg's "
        "mini-batch epoch gathers the batch's rows, scatters their gradient and updates the "
        "touched weights, about as much work per row; a9a is too small to split a batch "
        "between threads."),
    "memory": (
        "Memory: besides X, a fit keeps float64 vectors of n_samples entries: labels, sample "
        "weights, margins, margins at the trial step and curvature, 8 bytes per sample each, "
        "and one (d + 1) x (d + 1) Hessian per thread. That is more than 10% of X when a row "
        "takes less than about 400 bytes: 28 float64 features (224 bytes), 100 float32 "
        "features (400 bytes), or a9a's 14 non-zeros (168 bytes)."),
    "cold": (
        "Cold start: with an empty cache Numba compiles every kernel of the path taken; with a "
        "filled cache it still loads and links them, and importing Numba itself takes a "
        "few tenths of a second."),
}


def default_solver(row):
    """Return the name of the fastlogreg solver that solver="auto" picks for the row's problem."""
    if row["l1_ratio"] > 0.0:
        return "fastlogreg cd"
    return "fastlogreg newton" if row["problem"].X.shape[1] <= 500 else "fastlogreg lbfgs"


def target_lines(rows, measured):
    """Return the Markdown lines of the "Performance targets" section."""
    table = []
    missed = set()

    def add(target, case, goal, value, met, kind):
        table.append(f"| {target} | {case} | {goal} | {value} | {'yes' if met else 'no'} |")
        if not met:
            missed.add(kind)

    kernel_goals = (("dense float64", 1.2), ("dense float32", 0.65), ("CSR", 1.3))
    for result in measured["kernels"]:
        goal = next(limit for prefix, limit in kernel_goals if result["name"].startswith(prefix))
        case = (f"{result['name']}: {result['ours'] * 1e3:.1f} ms against "
                f"{result['floor_name']} {result['floor'] * 1e3:.1f} ms")
        kind = "kernel csr" if result["name"].startswith("CSR") else "kernel dense"
        add("1. fused pass / X @ w", case, f"<= {goal}", f"{result['ratio']:.2f}",
            result["ratio"] <= goal, kind)

    target = TARGETS[-1]
    for (name, variant, l1_ratio), group in group_rows(rows).items():
        if l1_ratio not in (0.0, 1.0):
            continue
        ours = fastest_to([row for row in group if row["solver"].package == "fastlogreg"],
                          target)
        peer = fastest_to([row for row in group if row["solver"].package != "fastlogreg"],
                          target)
        goal = 3.0 if l1_ratio == 0.0 else 2.0
        label = ("2. L2" if l1_ratio == 0.0 else "3. L1") + " time to 1e-6, peer / ours"
        case = f"{name}, {variant}, C={group[0]['C']:g}"
        if ours is None:
            value = "fastlogreg did not reach 1e-6 within the budget"
            met = False
        elif peer is None:
            value = f"no peer reached 1e-6 within the budget; fastlogreg {ours[target][0]:.3g} s"
            met = True
        else:
            ratio = peer[target][0] / ours[target][0]
            value = (f"{ratio:.2f} ({peer['solver'].name} {peer[target][0]:.3g} s, "
                     f"{ours['solver'].name} {ours[target][0]:.3g} s)")
            met = ratio >= goal
        if l1_ratio == 1.0 and ours is not None:
            nonzero = group[0]["problem"].support[1.0].size
            total = group[0]["problem"].X.shape[1]
            same = ours.get(("same zeros", target))
            value += f"; {nonzero} of {total} weights non-zero"
            value += "; same zero pattern as the reference" if same else (
                "; zero pattern differs from the reference")
            if peer is not None:
                value += (", peer's the same" if peer.get(("same zeros", target))
                          else ", peer's differs")
        add(label, case, f">= {goal:g}", value, met, "solver")

    for result in measured["sgd"]:
        lower = result["ours_objective"] < result["peer_objective"]
        case = (f"{result['name']}, {result['epochs']} epochs, L2: "
                f"{result['ours'] * 1e3:.1f} ms per epoch against {result['peer'] * 1e3:.1f} ms; "
                f"objective {result['ours_objective']:.6g} against "
                f"{result['peer_objective']:.6g}")
        add("4. SGD epoch time, SGDClassifier / ours, and a lower objective", case,
            ">= 3 and lower", f"{result['ratio']:.2f}, {'lower' if lower else 'not lower'}",
            result["ratio"] >= 3.0 and lower, "sgd")

    for row in rows:
        if row["memory"] is None or row["solver"].name != default_solver(row):
            continue
        X = row["problem"].X
        x_mib = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes if sp.issparse(X)
                 else X.nbytes) / 2**20
        share = row["memory"] / x_mib
        case = (f"{row['problem'].name} ({X.dtype}, {'CSR' if sp.issparse(X) else 'dense'}), "
                f"{row['problem'].variant}, {PENALTY_NAMES[row['l1_ratio']]}, "
                f"{row['solver'].name}: "
                f"{row['memory']:.1f} MiB beyond X of {x_mib:.1f} MiB")
        add("5. peak memory of fit beyond X / size of X", case, "<= 0.10", f"{share:.2f}",
            share <= 0.10, "memory")

    cold = measured["cold"]
    gap = cold["filled"] - cold["sklearn"]
    add("6. cold start, filled cache, ours - scikit-learn", f"import and fit 2000 x 20: "
        f"{cold['filled']:.2f} s against {cold['sklearn']:.2f} s", "<= 0.3 s", f"{gap:.2f} s",
        gap <= 0.3, "cold")
    add("6. cold start, empty Numba cache", "import, compile and fit 2000 x 20", "< 10 s",
        f"{cold['empty']:.2f} s", cold["empty"] < 10.0, "cold")

    lines = [
        "",
        "## Performance targets",
        "",
        "Each target compares two figures measured in this run on this machine. Kernel ratios",
        "are medians of "
        f"{targets.KERNEL_REPEATS} calls; SGD times are medians of {targets.SGD_REPEATS} fits; "
        "cold start times are",
        f"medians of {targets.COLD_START_REPEATS} fresh processes; solver times are those of "
        "the table above.",
        "",
        "| target | case | goal | measured | met |",
        "| --- | --- | --- | --- | --- |",
    ] + table
    if missed:
        lines += ["", "What limits the missed targets:", ""]
        lines += [f"- {LIMITS[kind]}" for kind in LIMITS if kind in missed]
    return lines


def group_rows(rows):
    """Return the rows grouped by (problem name, variant, l1_ratio), in first-seen order."""
    groups = {}
    for row in rows:
        key = (row["problem"].name, row["problem"].variant, row["l1_ratio"])
        groups.setdefault(key, []).append(row)
    return groups


def fastest_to(rows, target):
    """Return the row with the lowest time to ``target``, or None when no row reached it."""
    reached = [row for row in rows if row[target] is not None]
    return min(reached, key=lambda row: row[target][0], default=None)


def behind_lines(rows):
    """Return the Markdown lines of the "Where fastlogreg is behind" section."""
    target = TARGETS[-1]
    label = f"{target:.0e}".replace("e-0", "e-")
    listed, ahead, unreached = [], 0, 0
    for (name, variant, l1_ratio), group in group_rows(rows).items():
        ours = fastest_to([row for row in group if row["solver"].package == "fastlogreg"],
                          target)
        peer = fastest_to([row for row in group if row["solver"].package != "fastlogreg"],
                          target)
        if peer is None and ours is None:
            unreached += 1
            continue
        if ours is not None and (peer is None or ours[target][0] <= peer[target][0]):
            ahead += 1
            continue
        cells = [name, variant, PENALTY_NAMES[l1_ratio], peer["solver"].name,
                 format_seconds(peer[target])]
        if ours is None:
            cells += ["none reached it", "not reached", "n/a"]
        else:
            cells += [ours["solver"].name, format_seconds(ours[target]),
                      f"{ours[target][0] / peer[target][0]:.1f}x"]
        listed.append("| " + " | ".join(cells) + " |")

    lines = [
        "",
        "## Where fastlogreg is behind",
        "",
        f"For each problem, variant and penalty: the fastest peer's time to {label} against",
        "the fastest fastlogreg solver's time, with the ratio fastlogreg / peer. Only cases",
        "where a peer is faster are listed.",
        "",
        f"fastlogreg was fastest, or alone in reaching {label}, in {ahead} case(s). In "
        f"{unreached} case(s) no solver reached {label} within the budget. Times are medians "
        "of few fits on a shared machine, so ratios near 1 are within noise.",
        "",
    ]
    if not listed:
        return lines + ["No peer was faster than fastlogreg in this run."]
    return lines + [
        f"| problem | variant | penalty | fastest peer | peer s to {label} (setting) "
        f"| fastest fastlogreg solver | fastlogreg s to {label} (setting) "
        "| fastlogreg / peer |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ] + listed


def plot_problems(rows, folder):
    """Draw one PNG per problem of relative suboptimality against fit time, one point per rung.

    Returns a list of (problem name, PNG path), or a string with the reason nothing was drawn.
    """
    try:
        import matplotlib
    except ImportError as error:
        return f"matplotlib is not installed ({error}); install it to get the plots"
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    floor = 1e-12
    # tab10 has 10 colours for 12 solvers, so each solver also gets its own marker.
    colours = plt.get_cmap("tab10").colors
    markers = "osD^vP<>Xph*"
    solver_names = [solver.name for solver in all_solvers()]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    groups = group_rows(rows)
    written = []
    for name in dict.fromkeys(key[0] for key in groups):
        keys = [key for key in groups if key[0] == name]
        variants = list(dict.fromkeys(key[1] for key in keys))
        penalties = list(dict.fromkeys(key[2] for key in keys))
        height = 4.5 * len(penalties) + 1.0
        figure, axes = plt.subplots(len(penalties), len(variants), squeeze=False,
                                    figsize=(6.5 * len(variants), height))
        handles = {}
        for key in keys:
            axis = axes[penalties.index(key[2])][variants.index(key[1])]
            for row in groups[key]:
                solver = row["solver"]
                ours = solver.package == "fastlogreg"
                seconds = [point[0] for point in row["trace"]]
                gaps = [max(point[1], floor) for point in row["trace"]]
                index = solver_names.index(solver.name)
                (line,) = axis.plot(seconds, gaps, label=solver.name,
                                    color=colours[index % len(colours)],
                                    marker=markers[index % len(markers)],
                                    linestyle="-" if ours else "--", markersize=5)
                handles.setdefault(solver.name, line)
            for target in TARGETS:
                axis.axhline(target, color="grey", linestyle=":", linewidth=1)
            axis.set_xscale("log")
            axis.set_yscale("log")
            # Labelled minor ticks overlap when the times span less than a decade.
            axis.xaxis.set_minor_formatter(NullFormatter())
            axis.set_title(f"{PENALTY_NAMES[key[2]]}, {key[1]}")
            axis.set_xlabel("seconds for one fit from scratch")
            axis.set_ylabel("relative suboptimality (f - f*) / |f*|")
            axis.grid(True, which="major", alpha=0.3)
        for axis in axes.flat:
            if not axis.has_data():
                axis.set_visible(False)
        ordered = [handles[solver] for solver in solver_names if solver in handles]
        figure.legend(ordered, [line.get_label() for line in ordered], loc="lower center",
                      ncol=4, fontsize="small", frameon=False)
        figure.suptitle(f"{name}: one point per rung of each solver's ladder; solid lines are "
                        f"fastlogreg, gaps below {floor:g} are drawn at {floor:g}")
        legend_rows = -(-len(ordered) // 4)
        figure.tight_layout(rect=(0, (0.25 * legend_rows + 0.15) / height, 1, 0.96))
        path = folder / f"{name}.png"
        figure.savefig(path, dpi=100)
        plt.close(figure)
        written.append((name, path))
    return written


def plot_lines(plots, report_path):
    """Return the Markdown lines that link each plot relative to the report's folder."""
    lines = ["", "## Plots", ""]
    if isinstance(plots, str):
        return lines + [f"No plots: {plots}."]
    lines += ["Relative suboptimality (log scale) against the time of one fit, one point per",
              "rung of each solver's ladder, one PNG per problem:", ""]
    for name, path in plots:
        link = Path(os.path.relpath(path, Path(report_path).resolve().parent)).as_posix()
        lines.append(f"- {name}: [{link}]({link})")
    return lines


def numba_threads():
    import numba

    return numba.get_num_threads()


# ----------------------------------------------------------------------------- main


QUICK_SHAPE = (100_000, 28)
QUICK_DATASETS = ("a9a", "w8a", f"dense_{QUICK_SHAPE[0]}x{QUICK_SHAPE[1]}_float64",
                  f"dense_{QUICK_SHAPE[0]}x{QUICK_SHAPE[1]}_float32")
QUICK_BUDGET = 2.0
QUICK_REPEATS = 2
QUICK_DESCRIPTION = (
    f"problems {', '.join(QUICK_DATASETS)}; budget {QUICK_BUDGET:g} s per ladder; "
    f"{QUICK_REPEATS} fits per median; peak memory not measured")
TARGET_SHAPES = [(1_000_000, 100), (4_000_000, 28)]
TARGET_DATASETS = ("a9a", "w8a") + tuple(
    f"dense_{n}x{d}_{dtype}" for n, d in TARGET_SHAPES for dtype in ("float64", "float32"))
TARGET_BUDGET = 10.0
TARGET_SGD_DATASETS = ("a9a", "w8a", "dense_1000000x100_float64")
TARGETS_DESCRIPTION = (
    f"problems {', '.join(TARGET_DATASETS)}; budget {TARGET_BUDGET:g} s per ladder; L1 with "
    f"the C that leaves about {targets.L1_NONZERO_SHARE:.0%} of the weights non-zero; SGD "
    "solvers timed per epoch instead of in ladders; peak memory of fastlogreg's fits only")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])

    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help=f"short run that still covers every peer: {QUICK_DESCRIPTION}. "
                           "--datasets, --budget and --repeats override these values. It "
                           "took 3.9 minutes on a 2-core AMD EPYC shared with other jobs "
                           "(load average about 4)")
    size.add_argument("--full", action="store_true",
                      help="add generated dense problems of 1M x 100 and 4M x 28 "
                           "(float64 and float32; needs about 8 GB of memory)")
    size.add_argument("--targets", action="store_true",
                      help=f"check the performance targets: {TARGETS_DESCRIPTION}. Needs "
                           "about 8 GB of memory")

    parser.add_argument("--datasets", default=None,
                        help="comma-separated problem names to keep (default: all found)")
    parser.add_argument("--penalties", default="l2,l1",
                        help="comma-separated subset of l2, l1, elasticnet (default: l2,l1)")
    parser.add_argument("--solvers", default=None,
                        help="comma-separated substrings; keep solvers whose name contains one")
    parser.add_argument("--C", type=float, default=1.0, help="inverse penalty strength C")
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"fits behind each median time (default: 3, with --quick "
                             f"{QUICK_REPEATS})")
    parser.add_argument("--budget", type=float, default=None,
                        help=f"seconds of fitting per solver ladder before it stops "
                             f"(default: 30, with --quick {QUICK_BUDGET:g})")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak-memory child processes")
    parser.add_argument("--output", default=str(common.REPO_ROOT / "BENCHMARKS.md"),
                        help="Markdown file to write (default: BENCHMARKS.md at the "
                             "repository root)")
    parser.add_argument("--plots-dir", default=None,
                        help="folder for the PNG plots, one per problem (default: "
                             "benchmarks/plots beside the Markdown file)")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)

    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = QUICK_REPEATS if args.quick else 3
    if args.budget is None:
        args.budget = 30.0
        if args.quick:
            args.budget = QUICK_BUDGET
        elif args.targets:
            args.budget = TARGET_BUDGET
    if args.quick:
        args.no_memory = True
        if args.datasets is None:
            args.datasets = ",".join(QUICK_DATASETS)
    if args.targets and args.datasets is None:
        args.datasets = ",".join(TARGET_DATASETS)
    if args.plots_dir is None:
        args.plots_dir = str(Path(args.output).parent / "benchmarks" / "plots")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return
    started = datetime.datetime.now(datetime.timezone.utc)
    clock = time.perf_counter()
    l1_ratios = [{"l2": 0.0, "l1": 1.0, "elasticnet": 0.5}[name]
                 for name in args.penalties.split(",")]

    solvers, skipped = [], []
    for solver in all_solvers():
        if args.solvers and not any(part in solver.name for part in args.solvers.split(",")):
            continue
        if args.targets and solver.ladder is EPOCH_LADDER:
            continue
        reason = availability(solver)
        if reason is None:
            solvers.append(solver)
        else:
            print(f"skipping {solver.name}: {reason}")
            skipped.append(f"{solver.name}: {reason}")

    if args.quick:
        shapes = [QUICK_SHAPE]
    elif args.targets:
        shapes = list(TARGET_SHAPES)
    else:
        shapes = [(100_000, 100)]
    if args.full:
        shapes += TARGET_SHAPES
    keep = set(args.datasets.split(",")) if args.datasets else None
    problems = list(real_problems(keep)) + list(generated_problems(shapes))
    if common.data_dir() is None:
        skipped.append("real datasets: data folder not found (set FASTLOGREG_DATA_DIR)")
    if keep is not None:
        problems = [problem for problem in problems if problem.name in keep]

    rows = []
    with tempfile.TemporaryDirectory(prefix="fastlogreg-peers-") as folder:
        for problem in problems:
            for l1_ratio in l1_ratios:
                C = args.C
                if args.targets and l1_ratio == 1.0:
                    C, share = targets.choose_l1_C(problem)
                    print(f"{problem.name}: L1 with C={C:.4g} keeps {share:.1%} of the "
                          "weights non-zero", flush=True)
                print(f"{problem.name} {problem.X.shape} l1_ratio={l1_ratio}", flush=True)
                free = [s for s in solvers if not s.needs_ones_column]
                rows += compare_on(problem, free, C, l1_ratio, args, folder)
                column_solvers = [s for s in solvers if s.needs_ones_column
                                  and s.supports(problem, l1_ratio)]
                if column_solvers:
                    variant = problem.with_ones_column()
                    own = [s for s in solvers if s.package == "fastlogreg"
                           and s.name != "fastlogreg sgd"]
                    print(f"{problem.name} ones column l1_ratio={l1_ratio}", flush=True)
                    rows += compare_on(variant, own + column_solvers, C, l1_ratio, args,
                                       folder)
    measured = None
    if args.targets:
        print("fused pass against X @ w ...", flush=True)
        measured = {"kernels": targets.kernel_ratios()}
        print("SGD epochs ...", flush=True)
        measured["sgd"] = targets.sgd_epochs(
            [problem for problem in problems if problem.name in TARGET_SGD_DATASETS], args.C)
        print("cold start ...", flush=True)
        measured["cold"] = targets.cold_start()
    plots = plot_problems(rows, args.plots_dir)
    if isinstance(plots, str):
        print(f"no plots: {plots}")
    write_report(args.output, rows, skipped, args, started, time.perf_counter() - clock,
                 plots, measured)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
