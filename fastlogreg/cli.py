"""The ``fastlogreg`` command: train, predict and evaluate from data files.

    fastlogreg train [DATA] [--test FILE] [--output MODEL] [estimator options]
    fastlogreg train DATA --sgd [--chunk-rows N] [--epochs N]    (out-of-core SGD)
    fastlogreg train [DATA] --cv K [--Cs N|LIST] [--scoring NAME] [--plot FILE]
    fastlogreg predict MODEL DATA [--output FILE] [--proba]
    fastlogreg evaluate MODEL DATA

Invalid input ends the command with one line ``fastlogreg: error: ...`` on stderr and exit
status 1; command-line usage errors exit with status 2, as argparse does.
"""

import argparse
import csv
import itertools
import json
import math
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, get_scorer_names, log_loss, roc_auc_score

from . import __version__, _chunks, datasets, io
from ._cv import LogisticRegressionCV
from ._estimator import SOLVER_NAMES, LogisticRegression
from ._persistence import load_model

PROG = "fastlogreg"

# The defaults of fastlogreg._chunks.fit_chunks.
DEFAULT_CHUNK_ROWS = 100_000
DEFAULT_EPOCHS = 5


class CommandError(Exception):
    """An input problem reported as one ``fastlogreg: error:`` line."""


# ---------------------------------------------------------------------- progress


class Progress:
    """An elapsed-time line with a spinner on a terminal, for steps that take a while.

    ``with progress.step("fitting"):`` starts a thread that, after ``delay`` seconds, redraws
    ``fitting ... 3.2 s`` every ``interval`` seconds, and erases the line when the step ends.
    ``with progress.step("fitting") as status:`` also allows ``status.label = "epoch 2"`` to
    change the text from the next redraw on. Nothing is written when ``enabled`` is false; by
    default it is true only when ``stream`` is a terminal.
    """

    def __init__(self, stream=None, enabled=None, delay=1.0, interval=0.2):
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled
        self.delay = delay
        self.interval = interval

    @contextmanager
    def step(self, label):
        status = ProgressStatus(label)
        if not self.enabled:
            yield status
            return
        done = threading.Event()
        thread = threading.Thread(target=self._draw, args=(status, done), daemon=True)
        thread.start()
        try:
            yield status
        finally:
            done.set()
            thread.join()

    def _draw(self, status, done):
        start = time.perf_counter()
        if done.wait(self.delay):
            return
        width = 0
        for mark in itertools.cycle("|/-\\"):
            line = f"{status.label} ... {time.perf_counter() - start:.1f} s {mark}"
            width = max(width, len(line))
            self.stream.write("\r" + line.ljust(width))
            self.stream.flush()
            if done.wait(self.interval):
                break
        self.stream.write("\r" + " " * width + "\r")
        self.stream.flush()


class ProgressStatus:
    """The text of a progress line; the drawing thread reads ``label`` at each redraw."""

    def __init__(self, label):
        self.label = label


# ---------------------------------------------------------------------- arguments


def build_parser():
    """Return the argument parser of the ``fastlogreg`` command."""
    defaults = LogisticRegression().get_params()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train and apply logistic regression models with fastlogreg.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="fit a model and print a summary",
        description="Fit a logistic regression model and print a summary with accuracy, log "
                    "loss and ROC AUC. Without DATA or --dataset, train on scikit-learn's "
                    "breast cancer data.",
    )
    train.add_argument("data", nargs="?", metavar="DATA",
                       help="training data: svmlight/LIBSVM text (optionally .gz, .bz2 or "
                            ".xz), CSV, TSV, .npz with arrays X and y, or Parquet")
    train.add_argument("--dataset", metavar="NAME",
                       help="train on a registered dataset instead of DATA "
                            f"({', '.join(datasets.list_datasets())}); its test set, if any, "
                            "is evaluated too")
    train.add_argument("--test", metavar="FILE", help="held-out data to evaluate the model on")
    train.add_argument("--output", "-o", metavar="MODEL", help="save the model to this .npz file")
    _add_data_options(train)

    estimator = train.add_argument_group("estimator parameters (default: the estimator's)")
    estimator.add_argument("--C", type=_positive_float, metavar="FLOAT",
                           help="inverse regularization strength, or inf for no penalty "
                                f"(default {defaults['C']})")
    estimator.add_argument("--l1-ratio", type=float, metavar="FLOAT",
                           help="share of the L1 term in the penalty, in [0, 1] "
                                f"(default {defaults['l1_ratio']})")
    estimator.add_argument("--solver", choices=SOLVER_NAMES,
                           help=f"optimization algorithm (default {defaults['solver']})")
    estimator.add_argument("--tol", type=float, metavar="FLOAT",
                           help=f"stopping tolerance (default {defaults['tol']})")
    estimator.add_argument("--max-iter", type=int, metavar="N",
                           help="maximum number of iterations, or of epochs for --solver sgd "
                                f"(default {defaults['max_iter']}); with --sgd use --epochs")
    estimator.add_argument("--batch-size", type=int, metavar="N",
                           help="mini-batch size of the sgd solver "
                                f"(default {defaults['batch_size']})")
    estimator.add_argument("--learning-rate", metavar="RATE",
                           help="step-size schedule or constant step of the sgd solver "
                                f"(default {defaults['learning_rate']})")
    estimator.add_argument("--average", action="store_true",
                           help="sgd solver: return the running mean of the iterates")
    estimator.add_argument("--n-iter-no-change", type=int, metavar="N",
                           help="sgd solver: epochs without improvement before stopping "
                                f"(default {defaults.get('n_iter_no_change')})")
    estimator.add_argument("--validation-fraction", type=float, metavar="FLOAT",
                           help="sgd solver: share of rows held out to stop early on their "
                                "log loss (default: none)")
    estimator.add_argument("--class-weight", metavar="WEIGHTS",
                           help="'balanced', or comma-separated LABEL:WEIGHT pairs such as "
                                "1:3,-1:1 (write --class-weight=-1:1,1:3 when the first "
                                "label is negative)")
    estimator.add_argument("--n-jobs", type=int, metavar="N",
                           help="Numba threads during the fit; -1 for all cores")
    estimator.add_argument("--random-state", type=int, metavar="SEED",
                           help="seed of the solvers that draw random numbers")
    estimator.add_argument("--no-intercept", action="store_true",
                           help="fit without an intercept")
    estimator.add_argument("--verbose", "-v", action="count", default=0,
                           help="log the objective after each iteration (repeat for more)")
    streaming = train.add_argument_group(
        "out-of-core SGD",
        "Train with SGD (partial_fit) while reading DATA, an svmlight or CSV/TSV file, in "
        "chunks of rows, so that the file is never loaded whole. DATA is read twice before "
        "training (to count its rows, labels and features), once per epoch, and once more for "
        "the training scores. Chunks are visited in file order, so shuffle a file sorted by "
        "label beforehand.",
    )
    streaming.add_argument("--sgd", action="store_true",
                           help="stream DATA through out-of-core SGD instead of loading it")
    streaming.add_argument("--chunk-rows", type=_positive_int, metavar="N",
                           help="rows of DATA in memory at a time "
                                f"(default {DEFAULT_CHUNK_ROWS:,})")
    streaming.add_argument("--epochs", type=_positive_int, metavar="N",
                           help="passes over DATA; --max-iter does not apply to --sgd "
                                f"(default {DEFAULT_EPOCHS})")

    cross_validation = train.add_argument_group(
        "cross-validation",
        "Choose C by K-fold cross-validation (LogisticRegressionCV) at the fixed --l1-ratio, "
        "then refit on all the training data with the best C.",
    )
    cross_validation.add_argument("--cv", type=_fold_count, metavar="K",
                                  help="number of stratified folds, at least 2")
    cross_validation.add_argument("--Cs", type=_C_grid, metavar="N|LIST",
                                  help="an integer N: N log-spaced values of C (without an L1 "
                                       "term 1e-4 to 1e4); or a comma-separated list of "
                                       "positive values such as 0.01,0.1,1 (write 1.0 for the "
                                       "single value 1) (default 10)")
    cross_validation.add_argument("--scoring", type=_scorer_name, metavar="NAME",
                                  help="scikit-learn scorer to maximize, for example "
                                       "neg_log_loss or roc_auc (default accuracy)")
    cross_validation.add_argument("--plot", metavar="FILE",
                                  help="write a PNG of the mean score (+-1 standard deviation "
                                       "over the folds) against C; needs matplotlib")

    train.add_argument("--json", action="store_true",
                       help="print the summary as JSON instead of text")
    train.add_argument("--quiet", "-q", action="store_true",
                       help="no progress line and no notes on stderr")

    predict = commands.add_parser(
        "predict", help="write predictions as CSV",
        description="Predict labels (and probabilities with --proba) for DATA and write them "
                    "as CSV with a header: a column 'prediction' and, with --proba, one "
                    "column 'proba_<class>' per class.",
    )
    predict.add_argument("model", metavar="MODEL", help="model file written by train --output")
    predict.add_argument("data", metavar="DATA", help="data to predict")
    predict.add_argument("--output", "-o", metavar="FILE",
                         help="CSV file to write (default: standard output)")
    predict.add_argument("--proba", action="store_true",
                         help="add the probability of each class")
    _add_data_options(predict, label_help="label column of a CSV/TSV/Parquet DATA, "
                                          "left out of the features")

    evaluate = commands.add_parser(
        "evaluate", help="print accuracy, log loss and ROC AUC of a model on labeled data",
    )
    evaluate.add_argument("model", metavar="MODEL", help="model file written by train --output")
    evaluate.add_argument("data", metavar="DATA", help="labeled data")
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    _add_data_options(evaluate)
    return parser


def _add_data_options(parser, label_help=None):
    parser.add_argument(
        "--label", metavar="COLUMN",
        help=label_help or "label column of CSV/TSV/Parquet data, by name or 0-based position "
                           "(default: a column named label, target or y, else the first)",
    )
    parser.add_argument("--format", choices=io.FORMATS,
                        help="data format (default: detected from the file name and content)")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _fold_count(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"needs at least 2 folds, got {text}")
    return value


def _C_grid(text):
    """Parse --Cs: an integer grid size, or a comma-separated list of positive floats."""
    try:
        size = int(text)
    except ValueError:
        size = None
    if size is not None:
        if size < 1:
            raise argparse.ArgumentTypeError(
                f"the number of values must be at least 1, got {text}")
        return size
    values = []
    for item in text.split(","):
        if not item.strip():
            continue
        try:
            value = float(item)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid value {item.strip()!r}; give an integer or a comma-separated list "
                "of numbers such as 0.01,0.1,1"
            ) from None
        if not value > 0:
            raise argparse.ArgumentTypeError(
                f"values of C must be positive or inf, got {item.strip()}")
        values.append(value)
    if not values:
        raise argparse.ArgumentTypeError(f"no value of C in {text!r}")
    return values


def _scorer_name(text):
    if text not in get_scorer_names():
        raise argparse.ArgumentTypeError(
            f"unknown scorer {text!r}; use a name from sklearn.metrics.get_scorer_names(), "
            "for example accuracy, neg_log_loss or roc_auc"
        )
    return text


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive or inf, got {text}")
    return value


# ---------------------------------------------------------------------- entry point


def main(argv=None):
    """Run the ``fastlogreg`` command with ``argv`` (default ``sys.argv[1:]``).

    Returns the exit status: 0 on success, 1 after an input error, 130 on Ctrl-C.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"train": _train, "predict": _predict, "evaluate": _evaluate}
    try:
        return handlers[args.command](args)
    except BrokenPipeError:
        # The reader of standard output (for example `head`) closed the pipe: not an error.
        # Standard output is dropped so that the interpreter's final flush does not fail.
        sys.stdout = None
        return 0
    except (CommandError, ValueError, OSError, EOFError, ImportError) as error:
        _print_error(error)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _print_error(error):
    if isinstance(error, OSError) and error.strerror and error.filename:
        message = f"{error.strerror}: {error.filename}"
    else:
        message = str(error) or type(error).__name__
    message = " ".join(message.split())
    print(f"{PROG}: error: {message}", file=sys.stderr)


# ---------------------------------------------------------------------- train


def _train(args):
    if args.data and args.dataset:
        raise CommandError("give either DATA or --dataset, not both.")
    _check_mode_options(args)
    progress = Progress(enabled=False if args.quiet else None)
    note = (lambda text: None) if args.quiet else (
        lambda text: print(f"{PROG}: {text}", file=sys.stderr))
    if args.sgd:
        return _train_streamed(args, progress)

    plot_figure = None
    if args.plot:
        # Fail before the cross-validation runs, not after it.
        plot_figure = _import_matplotlib_figure()
        _check_output_folder(args.plot, "--plot")

    with progress.step("reading data"):
        train, test = _read_training_data(args, note)
    for part in (train, test):
        if part is not None:
            _check_finite(part)

    params = _estimator_params(args, train["y"])
    X_fit = _with_feature_names(train["X"], train["feature_names"])
    cv_summary = None
    if args.cv is not None:
        search = _make_cv_search(args, params)
        label = f"cross-validating ({args.cv} folds)"
        fit_seconds, converged = _run_fit(progress, label, train["source"],
                                          lambda status: search.fit(X_fit, train["y"]))
        cv_summary = _cv_summary(search, args)
        model = _refitted_model(search)
    else:
        model = LogisticRegression(**params)
        fit_seconds, converged = _run_fit(
            progress, f"fitting ({model.solver})", train["source"],
            lambda status: model.fit(X_fit, train["y"]),
        )

    with progress.step("evaluating"):
        scores = {"train": _scores(model, train)}
        if test is not None:
            scores["test"] = _scores(model, test)

    if args.output:
        model.save(args.output)
    if plot_figure is not None:
        _plot_cv_scores(plot_figure, search, cv_summary["scoring"], args.plot)

    summary = {
        "data": _describe(train),
        "test_data": None if test is None else _describe(test),
        "solver": getattr(model, "solver_", model.solver),
        "n_iter": int(np.max(model.n_iter_)),
        "converged": converged,
        "fit_seconds": round(fit_seconds, 4),
        "params": {key: _json_value(value) for key, value in model.get_params().items()},
        **scores,
        "model_path": args.output,
    }
    if cv_summary is not None:
        summary["cv"] = cv_summary
        summary["plot_path"] = args.plot
    _print_summary(args, summary)
    return 0


def _print_summary(args, summary):
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_train_summary(summary)


def _run_fit(progress, label, source, fit):
    """Run ``fit(status)`` under a progress line; return (seconds, converged).

    ``status`` is the line's ProgressStatus, for fits that report how far they are.

    Warnings raised during the fit are printed as ``fastlogreg: warning:`` lines, and a
    ``ConvergenceWarning`` among them makes ``converged`` false.
    """
    with progress.step(label) as status, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            fit(status)
        except ValueError as error:
            raise CommandError(f"{source}: {error}") from error
        seconds = time.perf_counter() - start
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    for warning in caught:
        print(f"{PROG}: warning: {' '.join(str(warning.message).split())}", file=sys.stderr)
    return seconds, converged


# Options that each training mode does not support, as (attribute of args, flag, reason).
_OPTIONS_NOT_WITH_SGD = (
    ("dataset", "--dataset", "--sgd streams a DATA file"),
    ("cv", "--cv", "cross-validation needs the data in memory"),
    ("max_iter", "--max-iter", "use --epochs for the number of passes"),
    ("tol", "--tol", "streamed SGD runs a fixed number of epochs"),
    ("n_iter_no_change", "--n-iter-no-change", "streamed SGD runs a fixed number of epochs"),
    ("validation_fraction", "--validation-fraction",
     "streamed SGD runs a fixed number of epochs"),
)
_OPTIONS_NOT_WITH_CV = (
    ("C", "--C", "--cv chooses C; give the values to try with --Cs"),
    ("average", "--average", "LogisticRegressionCV has no average parameter"),
    ("n_iter_no_change", "--n-iter-no-change",
     "LogisticRegressionCV has no n_iter_no_change parameter"),
    ("validation_fraction", "--validation-fraction",
     "LogisticRegressionCV has no validation_fraction parameter"),
)


def _check_mode_options(args):
    """Raise CommandError for options that do not apply to the chosen training mode."""
    if not args.sgd:
        for name, flag in (("chunk_rows", "--chunk-rows"), ("epochs", "--epochs")):
            if getattr(args, name) is not None:
                raise CommandError(f"{flag} applies only with --sgd (out-of-core SGD).")
    if args.cv is None:
        for name, flag in (("Cs", "--Cs"), ("scoring", "--scoring"), ("plot", "--plot")):
            if getattr(args, name) is not None:
                raise CommandError(f"{flag} applies only with --cv K (cross-validation).")
    if args.sgd:
        if not args.data and not args.dataset:
            raise CommandError("--sgd needs a DATA file (svmlight or CSV/TSV) to stream.")
        if args.solver not in (None, "sgd"):
            raise CommandError(f"--sgd trains with the sgd solver; remove --solver {args.solver}.")
        if args.class_weight is not None and args.class_weight.strip() == "balanced":
            raise CommandError(
                "--class-weight balanced is not supported with --sgd, because the weights "
                "need the class counts before training; give LABEL:WEIGHT pairs instead."
            )
        _reject_options(args, _OPTIONS_NOT_WITH_SGD, "--sgd")
    if args.cv is not None:
        _reject_options(args, _OPTIONS_NOT_WITH_CV, "--cv")


def _reject_options(args, table, mode):
    for name, flag, reason in table:
        value = getattr(args, name)
        if value is not None and value is not False:
            raise CommandError(f"{flag} is not supported with {mode}: {reason}.")


def _read_training_data(args, note):
    """Return the training part and the test part (or None) as dicts."""
    if args.dataset:
        loaded = datasets.load_dataset(args.dataset)
        source = f"dataset {loaded.name} ({', '.join(p.name for p in loaded.paths)})"
        train = _part(loaded.X, loaded.y, source)
        test = None
        if args.test:
            test = _read_test(args, train)
        elif loaded.X_test is not None:
            test = _part(loaded.X_test, loaded.y_test, f"dataset {loaded.name} test set")
        return train, test

    if not args.data:
        from sklearn.datasets import load_breast_cancer

        note("no DATA given: training on scikit-learn's breast cancer data (load_breast_cancer).")
        X, y = load_breast_cancer(return_X_y=True)
        train = _part(X, y, "scikit-learn load_breast_cancer (no DATA given)")
        return train, _read_test(args, train) if args.test else None

    train_format = args.format or io.detect_format(args.data)
    if args.test and train_format == "svmlight" and io.detect_format(args.test) == "svmlight":
        # Read together so both files get the same feature count and index base.
        X, y, X_test, y_test = io.load_svmlight_pair(args.data, args.test)
        return _part(X, y, args.data), _part(X_test, y_test, args.test)
    data = io.read_data(args.data, label=args.label, format=train_format)
    train = _part(data.X, data.y, args.data, data.feature_names)
    return train, _read_test(args, train) if args.test else None


def _read_test(args, train):
    return _read_test_file(args, train["X"].shape[1], train["feature_names"])


def _read_test_file(args, n_features, feature_names):
    """Read --test with the training data's feature count, aligning CSV columns by name."""
    test_format = io.detect_format(args.test)
    label = args.label if test_format not in ("svmlight", "npz") else None
    if test_format == "svmlight":
        data = io.read_data(args.test, n_features=n_features)
        return _part(data.X, data.y, args.test)
    data = io.read_data(args.test, label=label)
    X = _align_features(data, feature_names, n_features, args.test)
    return _part(X, data.y, args.test, feature_names)


def _part(X, y, source, feature_names=None):
    return {"X": X, "y": np.asarray(y), "source": str(source), "feature_names": feature_names}


def _check_finite(part):
    bad = io.count_nonfinite(part["X"])
    if bad:
        raise CommandError(
            f"{part['source']}: the features contain {bad} NaN or infinite values; remove or "
            "impute them before training."
        )
    y = part["y"]
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise CommandError(f"{part['source']}: the labels contain NaN or infinite values.")


def _estimator_params(args, y):
    params = {}
    options = {
        "C": args.C, "l1_ratio": args.l1_ratio, "solver": args.solver, "tol": args.tol,
        "max_iter": args.max_iter, "batch_size": args.batch_size, "n_jobs": args.n_jobs,
        "random_state": args.random_state, "n_iter_no_change": args.n_iter_no_change,
        "validation_fraction": args.validation_fraction,
    }
    for key, value in options.items():
        if value is not None:
            params[key] = value
    if args.learning_rate is not None:
        params["learning_rate"] = _number_or_text(args.learning_rate)
    if args.class_weight is not None:
        params["class_weight"] = parse_class_weight(args.class_weight, y)
    if args.no_intercept:
        params["fit_intercept"] = False
    if args.average:
        params["average"] = True
    if args.verbose:
        params["verbose"] = args.verbose
    return params


def _number_or_text(text):
    try:
        return float(text)
    except ValueError:
        return text


def parse_class_weight(text, y):
    """Return ``"balanced"`` or a dict {label: weight} from ``LABEL:WEIGHT,...`` text.

    Each LABEL is matched against the labels in ``y`` by its text (``-1``, ``cat``, ``True``)
    or, for numeric labels, by value (``1.0`` matches the label 1).
    """
    if text.strip() == "balanced":
        return "balanced"
    labels = np.unique(y).tolist()
    weights = {}
    for pair in text.split(","):
        key, colon, value = pair.strip().rpartition(":")
        if not colon or not key:
            raise CommandError(
                f"invalid --class-weight pair {pair.strip()!r}; expected LABEL:WEIGHT, for "
                "example 1:3, or 'balanced'."
            )
        try:
            weight = float(value)
        except ValueError:
            raise CommandError(f"invalid weight {value!r} in --class-weight pair {pair!r}.") \
                from None
        if not (math.isfinite(weight) and weight >= 0):
            raise CommandError(f"class weight {value!r} must be a finite non-negative number.")
        weights[_match_label(key, labels)] = weight
    return weights


def _match_label(key, labels):
    for label in labels:
        if str(label) == key:
            return label
    try:
        number = float(key)
    except ValueError:
        number = None
    if number is not None:
        for label in labels:
            if isinstance(label, (int, float)) and not isinstance(label, bool) \
                    and label == number:
                return label
    raise CommandError(
        f"--class-weight label {key!r} is not one of the training labels "
        f"{', '.join(map(str, labels))}."
    )


# ---------------------------------------------------------------------- cross-validation


def _make_cv_search(args, params):
    """Return the LogisticRegressionCV for --cv, with the estimator options in ``params``."""
    search_params = {key: value for key, value in params.items() if key != "l1_ratio"}
    default_l1_ratio = LogisticRegression().get_params()["l1_ratio"]
    search_params["l1_ratios"] = (params.get("l1_ratio", default_l1_ratio),)
    search_params["cv"] = args.cv
    if args.Cs is not None:
        search_params["Cs"] = args.Cs
    if args.scoring is not None:
        search_params["scoring"] = args.scoring
    return LogisticRegressionCV(**search_params)


def _refitted_model(search):
    """Return the LogisticRegression that ``search`` refitted on all the data at ``C_``."""
    # NOTE: LogisticRegressionCV exposes neither its refitted model nor a save(), so this
    # reads its private attribute _model. That model was built with warm_start=True to start
    # from the fold solutions, and the saved model should not keep that setting.
    model = search._model
    model.set_params(warm_start=False)
    return model


def _cv_curve(search):
    """Return the values of C and the mean and standard deviation of their fold scores."""
    scores = search.scores_[:, 0, :]  # one l1_ratio: (n_folds, n_Cs)
    return search.Cs_, scores.mean(axis=0), scores.std(axis=0)


def _cv_summary(search, args):
    Cs, mean, std = _cv_curve(search)
    return {
        "n_folds": int(search.scores_.shape[0]),
        # LogisticRegressionCV scores with accuracy when scoring is None.
        "scoring": args.scoring or "accuracy",
        "l1_ratio": float(search.l1_ratio_),
        "C": _json_value(float(search.C_)),
        "Cs": [_json_value(float(C)) for C in Cs],
        "mean_scores": [float(value) for value in mean],
        "std_scores": [float(value) for value in std],
    }


def _import_matplotlib_figure():
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise CommandError(
            "--plot needs matplotlib, which is not installed; install it with "
            "`pip install matplotlib`."
        ) from error
    return Figure


def _check_output_folder(path, flag):
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise CommandError(f"{flag} {path}: folder not found: {folder}.")


def _plot_cv_scores(figure_class, search, scoring, path):
    """Write a PNG of the mean fold score (with a +-1 standard deviation band) against C."""
    Cs, mean, std = _cv_curve(search)
    finite = np.isfinite(Cs)
    figure = figure_class(figsize=(6.4, 4.2), layout="constrained")
    axes = figure.add_subplot()
    if finite.any():
        axes.plot(Cs[finite], mean[finite], marker="o", label="mean over folds")
        axes.fill_between(Cs[finite], (mean - std)[finite], (mean + std)[finite], alpha=0.25,
                          label="+-1 standard deviation")
        axes.set_xscale("log")
    if not finite.all():
        # C = inf (no penalty) has no position on a log axis: draw its score as a level.
        axes.axhline(mean[~finite][0], color="gray", linestyle="--", label="C = inf")
    if math.isfinite(search.C_):
        axes.axvline(search.C_, color="black", linestyle=":",
                     label=f"chosen C = {search.C_:.4g}")
    axes.set_xlabel("C")
    axes.set_ylabel(f"{scoring} on the held-out folds")
    axes.set_title(f"{search.scores_.shape[0]}-fold cross-validation")
    axes.legend()
    figure.savefig(path, format="png", dpi=100)


# ---------------------------------------------------------------------- out-of-core SGD


class _ChunkProgress:
    """Forward ``partial_fit`` calls to ``estimator`` and show the epoch and chunk on ``status``.

    ``fit_chunks`` calls ``partial_fit`` once per chunk, in file order, in every epoch, and
    reads ``loss_history_`` after each epoch.
    """

    def __init__(self, estimator, status, n_chunks, epochs):
        self.estimator = estimator
        self.status = status
        self.n_chunks = n_chunks
        self.epochs = epochs
        self.n_calls = 0

    def partial_fit(self, X, y, **kwargs):
        epoch, chunk = divmod(self.n_calls, self.n_chunks)
        self.status.label = (f"SGD epoch {epoch + 1}/{self.epochs}, "
                             f"chunk {chunk + 1}/{self.n_chunks}")
        self.estimator.partial_fit(X, y, **kwargs)
        self.n_calls += 1
        return self

    @property
    def loss_history_(self):
        return self.estimator.loss_history_


def _train_streamed(args, progress):
    """Train with out-of-core SGD over DATA, one chunk of rows in memory at a time."""
    path = args.data
    chunk_rows = args.chunk_rows or DEFAULT_CHUNK_ROWS
    epochs = args.epochs or DEFAULT_EPOCHS
    reader = _streamed_reader(args)

    with progress.step(f"counting the rows of {path}"), _streaming_errors(path, reader):
        if reader["format"] == "svmlight":
            n_samples, n_features, labels, zero_based = _chunks.scan_svmlight(path, chunk_rows)
        else:
            n_samples, n_features, labels = _chunks.scan_csv(
                path, chunk_rows, reader["label_column"], reader["sep"], reader["header"])
            zero_based = None
    if n_samples == 0:
        raise CommandError(f"{path}: the file contains no samples.")
    label_map = _integer_label_map(labels)
    classes = labels if label_map is None else label_map(labels)
    if classes.shape[0] < 2:
        raise CommandError(
            f"{path}: the file contains a single class ({classes[0]}); training needs two."
        )
    test = None
    if args.test:
        test = _read_test_file(args, n_features, reader["feature_names"])
        _check_finite(test)

    params = _estimator_params(args, classes)
    params["solver"] = "sgd"
    model = LogisticRegression(**params)
    n_chunks = math.ceil(n_samples / chunk_rows)

    def fit(status):
        tracker = _ChunkProgress(model, status, n_chunks, epochs)
        with _streaming_errors(path, reader):
            # NOTE: fit_chunks counts the rows in a pass of its own before the epochs. The
            # count above cannot be passed to it, so DATA is read epochs + 3 times in all.
            _chunks.fit_chunks(
                tracker, path, chunk_rows=chunk_rows, epochs=epochs, classes=classes,
                format=reader["format"], label_column=reader["label_column"],
                sep=reader["sep"], header=reader["header"], label_map=label_map,
            )

    fit_seconds, converged = _run_fit(progress, "SGD", path, fit)

    with progress.step("scoring the training data chunk by chunk"), \
            _streaming_errors(path, reader):
        if reader["format"] == "svmlight":
            chunks = _chunks.iter_svmlight_chunks(path, chunk_rows, n_features, zero_based)
        else:
            chunks = _chunks.iter_csv_chunks(path, chunk_rows, reader["label_column"],
                                             reader["sep"], reader["header"])
        description, train_scores = _score_chunks(model, chunks, label_map, path)
    scores = {"train": train_scores}
    if test is not None:
        with progress.step("evaluating"):
            scores["test"] = _scores(model, test)

    if args.output:
        model.save(args.output)

    summary = {
        "data": description,
        "test_data": None if test is None else _describe(test),
        "solver": "sgd",
        "n_iter": epochs,
        # A fixed number of epochs: partial_fit does not test convergence.
        "converged": None if converged else False,
        "fit_seconds": round(fit_seconds, 4),
        "params": {key: _json_value(value) for key, value in model.get_params().items()},
        "streaming": {
            "chunk_rows": chunk_rows,
            "n_chunks": n_chunks,
            "epochs": epochs,
            "train_scores": "computed chunk by chunk in one more pass over DATA after the "
                            "last epoch; ROC AUC needs all scores at once and is not computed",
        },
        **scores,
        "model_path": args.output,
    }
    _print_summary(args, summary)
    return 0


def _streamed_reader(args):
    """Return how ``fit_chunks`` reads DATA: format, CSV separator, header and label column."""
    path = Path(args.data)
    if not path.is_file():
        raise CommandError(f"data file not found: {args.data}")
    data_format = args.format or io.detect_format(path)
    if data_format not in ("svmlight", "csv", "tsv"):
        raise CommandError(
            f"{args.data}: --sgd streams svmlight and CSV/TSV files, not {data_format}; "
            "train without --sgd, or convert the file."
        )
    if data_format == "svmlight":
        if path.name.lower().endswith(".xz"):
            raise CommandError(
                f"{args.data}: --sgd reads svmlight files plain, .gz or .bz2 compressed, not "
                ".xz; decompress the file or recompress it with gzip."
            )
        if args.label is not None:
            raise CommandError(f"{args.data}: --label applies to CSV and TSV files only.")
        return {"format": "svmlight", "label_column": 0,
                "sep": None, "header": "infer", "feature_names": None}

    import pandas

    sep = "\t" if data_format == "tsv" else ","
    # The same rules as the in-memory reader: a header when the first row is not numeric,
    # and the label column named label, target or y unless --label chooses one.
    has_header = io._has_header(path, sep)
    header = 0 if has_header else None
    try:
        first_rows = pandas.read_csv(path, sep=sep, header=header, nrows=5)
    except (pandas.errors.ParserError, pandas.errors.EmptyDataError) as error:
        raise CommandError(f"{args.data}: not a readable CSV file ({error}).") from error
    label_column = io._label_column(path, first_rows, args.label, has_header)
    feature_names = None
    if has_header:
        feature_names = [str(name) for name in first_rows.columns if name != label_column]
    return {"format": "csv", "label_column": label_column,
            "sep": sep, "header": header, "feature_names": feature_names}


@contextmanager
def _streaming_errors(path, reader):
    """Turn an error while reading or training on a chunk into a CommandError naming ``path``."""
    try:
        yield
    except ValueError as error:
        if reader["format"] == "svmlight":
            # scikit-learn's parser does not report the line number, so find the line here.
            bad = io.find_malformed_svmlight_line(path)
            if bad is not None:
                raise CommandError(str(io._malformed_line_error(path, bad))) from error
        raise CommandError(f"{path}: {error}") from error
    except (OSError, EOFError) as error:
        # A damaged compressed file, for example.
        raise CommandError(f"{path}: failed to read the file ({error}).") from error


def _integer_label_map(labels):
    """Return a function that casts labels to int when all are whole numbers, else None.

    svmlight labels are read as floats. The in-memory reader turns 1.0 and -1.0 into 1 and -1
    as well, so both ways of training give a model with the same classes.
    """
    if labels.dtype.kind == "f" and np.all(np.isfinite(labels)) \
            and np.all(labels == np.round(labels)):
        return lambda y: np.asarray(y).astype(np.int64)
    return None


def _score_chunks(model, chunks, label_map, source):
    """Return the description and the scores of streamed data, accumulated chunk by chunk.

    Accuracy and log loss equal those on the whole data at once, up to rounding. ROC AUC
    needs all scores at once, so it is None.
    """
    classes = model.classes_
    n_samples = 0
    n_correct = 0
    n_nonzero = 0
    loss_sum = 0.0
    sparse = False
    label_counts = dict.fromkeys(classes.tolist(), 0)
    for X, y in chunks:
        if label_map is not None:
            y = label_map(y)
        probabilities = model.predict_proba(X)
        predictions = model.predict(X)
        n_correct += int(accuracy_score(y, predictions, normalize=False))
        loss_sum += float(log_loss(y, probabilities, labels=classes, normalize=False))
        n_samples += X.shape[0]
        sparse = sp.issparse(X)
        n_nonzero += X.nnz if sparse else int(np.count_nonzero(X))
        values, counts = np.unique(y, return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist()):
            label_counts[value] += count

    n_features = model.n_features_in_
    description = {
        "source": str(source),
        "n_samples": n_samples,
        "n_features": int(n_features),
        "sparse": sparse,
        "density": n_nonzero / max(1, n_samples * n_features),
        "label_counts": {_label_text(label): count for label, count in label_counts.items()},
    }
    scores = {
        "n_samples": n_samples,
        "accuracy": n_correct / n_samples,
        "log_loss": loss_sum / n_samples,
        "roc_auc": None,
    }
    return description, scores


# ---------------------------------------------------------------------- predict, evaluate


def _predict(args):
    model = load_model(args.model)
    X, _ = _read_for_model(args, model, need_labels=False)
    labels = model.predict(X)
    probabilities = model.predict_proba(X) if args.proba else None

    header = ["prediction"]
    if args.proba:
        header += [f"proba_{c}" for c in model.classes_]
    if args.output:
        with open(args.output, "w", newline="") as f:
            _write_predictions(f, header, labels, probabilities)
    else:
        try:
            _write_predictions(sys.stdout, header, labels, probabilities)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader (for example `head`) closed the pipe; that is not an error.
            sys.stdout = None
    return 0


def _write_predictions(f, header, labels, probabilities):
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(header)
    for i, label in enumerate(labels):
        row = [_label_text(label)]
        if probabilities is not None:
            row += [repr(float(p)) for p in probabilities[i]]
        writer.writerow(row)


def _label_text(label):
    return str(label.item() if isinstance(label, np.generic) else label)


def _evaluate(args):
    model = load_model(args.model)
    X, y = _read_for_model(args, model, need_labels=True)
    part = _part(X, y, args.data)
    _check_finite(part)
    scores = _scores(model, part)
    if args.json:
        print(json.dumps({"data": _describe(part), **scores}, indent=2))
    else:
        print(f"data:      {_describe_text(_describe(part))}")
        for key, name in (("accuracy", "accuracy"), ("log_loss", "log loss"),
                          ("roc_auc", "ROC AUC")):
            print(f"{name + ':':<10} {_format_score(scores[key])}")
    return 0


def _read_for_model(args, model, need_labels):
    """Read DATA for a fitted model: pad svmlight columns, align CSV columns by name."""
    n_features = model.n_features_in_
    names = getattr(model, "feature_names_in_", None)
    data_format = args.format or io.detect_format(args.data)
    if data_format == "svmlight":
        data = io.read_data(args.data, n_features=n_features, format=data_format)
        return data.X, data.y

    names = None if names is None else [str(name) for name in names]
    if need_labels or args.label is not None:
        data = io.read_data(args.data, label=args.label, format=data_format,
                            feature_columns=names)
    else:
        data = io.read_data(args.data, label=False, format=data_format, feature_columns=names)
        selected_by_name = names is not None and data.feature_names is not None
        if not selected_by_name and data.X.shape[1] == n_features + 1:
            # One column more than the model has: the file carries its labels too.
            data = io.read_data(args.data, label=None, format=data_format)
    X = _align_features(data, names, n_features, args.data)
    return _with_feature_names(X, names), data.y


def _align_features(data, names, n_features, source):
    """Return X with the columns in the model's order, selected by name where both have names."""
    if names is not None and data.feature_names is not None:
        position = {name: i for i, name in enumerate(data.feature_names)}
        missing = [name for name in names if name not in position]
        if missing:
            shown = ", ".join(map(repr, missing[:5])) + (" ..." if len(missing) > 5 else "")
            raise CommandError(f"{source}: feature columns of the model are missing: {shown}.")
        return data.X[:, [position[name] for name in names]]
    if data.X.shape[1] != n_features:
        raise CommandError(
            f"{source}: {data.X.shape[1]} feature columns, but the model has {n_features} "
            "features."
        )
    return data.X


def _with_feature_names(X, names):
    """Wrap dense X in a DataFrame with ``names`` so the model records or checks them."""
    if names is None or sp.issparse(X):
        return X
    import pandas

    return pandas.DataFrame(X, columns=names)


# ---------------------------------------------------------------------- scores and summary


def _scores(model, part):
    X = _with_feature_names(part["X"], part["feature_names"]) \
        if getattr(model, "feature_names_in_", None) is not None else part["X"]
    y = part["y"]
    classes = model.classes_
    unknown = sorted(set(np.unique(y).tolist()) - set(classes.tolist()), key=str)
    if unknown:
        raise CommandError(
            f"{part['source']}: labels {', '.join(map(str, unknown))} are not among the "
            f"model's classes {', '.join(map(str, classes.tolist()))}."
        )
    with warnings.catch_warnings():
        # A model fitted with feature names warns for unnamed X; columns match by position.
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        probabilities = model.predict_proba(X)
        predictions = model.predict(X)
    result = {
        "n_samples": int(y.shape[0]),
        "accuracy": float(accuracy_score(y, predictions)),
        "log_loss": float(log_loss(y, probabilities, labels=classes)),
        "roc_auc": None,
    }
    if np.unique(y).shape[0] == classes.shape[0]:
        if classes.shape[0] == 2:
            result["roc_auc"] = float(roc_auc_score(y == classes[1], probabilities[:, 1]))
        else:
            result["roc_auc"] = float(roc_auc_score(y, probabilities, multi_class="ovr",
                                                    labels=classes))
    return result


def _describe(part):
    X, y = part["X"], part["y"]
    n_samples, n_features = X.shape
    nonzero = X.nnz if sp.issparse(X) else int(np.count_nonzero(X))
    labels, counts = np.unique(y, return_counts=True)
    return {
        "source": part["source"],
        "n_samples": int(n_samples),
        "n_features": int(n_features),
        "sparse": bool(sp.issparse(X)),
        "density": nonzero / max(1, n_samples * n_features),
        "label_counts": {_label_text(label): int(count) for label, count in zip(labels, counts)},
    }


def _describe_text(info):
    layout = "sparse" if info["sparse"] else "dense"
    counts = ", ".join(f"{label}: {count}" for label, count in info["label_counts"].items())
    return (f"{info['source']}: {info['n_samples']} samples x {info['n_features']} features, "
            f"{layout}, density {info['density']:.4g}; labels {counts}")


def _print_train_summary(summary):
    print(f"data:      {_describe_text(summary['data'])}")
    if summary["test_data"] is not None:
        print(f"test data: {_describe_text(summary['test_data'])}")
    streaming = summary.get("streaming")
    if streaming is not None:
        status = "no convergence test" if summary["converged"] is None else "NOT converged"
        print(f"solver:    {summary['solver']}, out-of-core: {streaming['epochs']} epochs of "
              f"{streaming['n_chunks']} chunks (chunk rows {streaming['chunk_rows']:,}), "
              f"{status}, fit {summary['fit_seconds']:.3f} s")
    else:
        status = "converged" if summary["converged"] else "NOT converged"
        print(f"solver:    {summary['solver']}, {summary['n_iter']} iterations, {status}, "
              f"fit {summary['fit_seconds']:.3f} s")
    if "cv" in summary:
        _print_cv_curve(summary["cv"])
    print(f"{'':<10} {'accuracy':>9} {'log loss':>9} {'ROC AUC':>9}")
    for part in ("train", "test"):
        if part in summary:
            s = summary[part]
            print(f"{part:<10} {_format_score(s['accuracy']):>9} "
                  f"{_format_score(s['log_loss']):>9} {_format_score(s['roc_auc']):>9}")
    if streaming is not None:
        print(f"note:      train scores {streaming['train_scores']}")
    if summary["model_path"]:
        print(f"model:     saved to {summary['model_path']}")
    if summary.get("plot_path"):
        print(f"plot:      saved to {summary['plot_path']}")


def _print_cv_curve(cv):
    print(f"cv:        {cv['n_folds']} folds, scoring {cv['scoring']}, l1_ratio "
          f"{cv['l1_ratio']:g}: chosen C = {_format_C(cv['C'])}")
    print(f"{'':<10} {'C':>11} {'mean':>9} {'std':>9}")
    for C, mean, std in zip(cv["Cs"], cv["mean_scores"], cv["std_scores"]):
        chosen = "  <- chosen" if C == cv["C"] else ""
        print(f"{'':<10} {_format_C(C):>11} {mean:>9.4f} {std:>9.4f}{chosen}")


def _format_C(value):
    return value if isinstance(value, str) else f"{value:.4g}"


def _format_score(value):
    return "n/a" if value is None else f"{value:.4f}"


def _json_value(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


if __name__ == "__main__":
    sys.exit(main())
