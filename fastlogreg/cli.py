"""The ``fastlogreg`` command: train, predict and evaluate from data files.

    fastlogreg train [DATA] [--test FILE] [--output MODEL] [estimator options]
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

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from . import __version__, datasets, io
from ._estimator import SOLVER_NAMES, LogisticRegression
from ._persistence import load_model

PROG = "fastlogreg"


class CommandError(Exception):
    """An input problem reported as one ``fastlogreg: error:`` line."""


# ---------------------------------------------------------------------- progress


class Progress:
    """An elapsed-time line with a spinner on a terminal, for steps that take a while.

    ``with progress.step("fitting"):`` starts a thread that, after ``delay`` seconds, redraws
    ``fitting ... 3.2 s`` every ``interval`` seconds, and erases the line when the step ends.
    Nothing is written when ``enabled`` is false; by default it is true only when ``stream``
    is a terminal.
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
        if not self.enabled:
            yield
            return
        done = threading.Event()
        thread = threading.Thread(target=self._draw, args=(label, done), daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def _draw(self, label, done):
        start = time.perf_counter()
        if done.wait(self.delay):
            return
        width = 0
        for mark in itertools.cycle("|/-\\"):
            line = f"{label} ... {time.perf_counter() - start:.1f} s {mark}"
            width = max(width, len(line))
            self.stream.write("\r" + line.ljust(width))
            self.stream.flush()
            if done.wait(self.interval):
                break
        self.stream.write("\r" + " " * width + "\r")
        self.stream.flush()


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
                           help=f"maximum number of iterations (default {defaults['max_iter']})")
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
    progress = Progress(enabled=False if args.quiet else None)
    note = (lambda text: None) if args.quiet else (
        lambda text: print(f"{PROG}: {text}", file=sys.stderr))

    with progress.step("reading data"):
        train, test = _read_training_data(args, note)
    for part in (train, test):
        if part is not None:
            _check_finite(part)

    params = _estimator_params(args, train["y"])
    model = LogisticRegression(**params)
    X_fit = _with_feature_names(train["X"], train["feature_names"])

    with progress.step(f"fitting ({model.solver})"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            model.fit(X_fit, train["y"])
        except ValueError as error:
            raise CommandError(f"{train['source']}: {error}") from error
        fit_seconds = time.perf_counter() - start
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    for warning in caught:
        print(f"{PROG}: warning: {' '.join(str(warning.message).split())}", file=sys.stderr)

    with progress.step("evaluating"):
        scores = {"train": _scores(model, train)}
        if test is not None:
            scores["test"] = _scores(model, test)

    if args.output:
        model.save(args.output)

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
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_train_summary(summary)
    return 0


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
    test_format = io.detect_format(args.test)
    label = args.label if test_format not in ("svmlight", "npz") else None
    n_features = train["X"].shape[1]
    if test_format == "svmlight":
        data = io.read_data(args.test, n_features=n_features)
        return _part(data.X, data.y, args.test)
    data = io.read_data(args.test, label=label)
    X = _align_features(data, train["feature_names"], n_features, args.test)
    return _part(X, data.y, args.test, train["feature_names"])


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
    status = "converged" if summary["converged"] else "NOT converged"
    print(f"solver:    {summary['solver']}, {summary['n_iter']} iterations, {status}, "
          f"fit {summary['fit_seconds']:.3f} s")
    print(f"{'':<10} {'accuracy':>9} {'log loss':>9} {'ROC AUC':>9}")
    for part in ("train", "test"):
        if part in summary:
            s = summary[part]
            print(f"{part:<10} {_format_score(s['accuracy']):>9} "
                  f"{_format_score(s['log_loss']):>9} {_format_score(s['roc_auc']):>9}")
    if summary["model_path"]:
        print(f"model:     saved to {summary['model_path']}")


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
