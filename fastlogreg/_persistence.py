"""Save and load fitted models as ``.npz`` files that cannot execute code when loaded.

A model file is an uncompressed NumPy ``.npz`` archive read with ``allow_pickle=False``. It
contains the arrays ``coef_``, ``intercept_``, ``classes_`` and ``loss_history_``, and
``metadata``: UTF-8 JSON bytes with the format name and version, the fastlogreg version that
wrote the file, ``get_params()``, ``n_features_in_``, ``feature_names_in_``, ``solver_``,
``n_iter_`` and how to restore the type of ``classes_``.

NOTE: the private SGD state (step schedule and running averages) is not stored, so
``partial_fit`` on a loaded model continues from its ``coef_`` and ``intercept_`` with a new
step schedule.
"""

import json
import math
import numbers
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .io import is_zip_file

FORMAT_NAME = "fastlogreg-model"
FORMAT_VERSION = 1

_ARRAY_NAMES = ("coef_", "intercept_", "classes_", "loss_history_", "metadata")


def save_model(estimator, path):
    """Write a fitted ``LogisticRegression`` to ``path`` (conventionally ending in ``.npz``).

    The file is written under a temporary name in the same folder and then renamed, so a
    failed save leaves no partial file at ``path``. Returns ``path`` as a ``Path``.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        The estimator is not fitted.
    ValueError
        ``classes_`` or a parameter has a type that the format cannot store.
    """
    from . import __version__

    check_is_fitted(estimator)
    path = Path(path)
    classes, classes_kind = _encode_classes(estimator.classes_)
    names = getattr(estimator, "feature_names_in_", None)
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "fastlogreg_version": __version__,
        "estimator": type(estimator).__name__,
        "params": {key: _encode_value(key, value)
                   for key, value in estimator.get_params(deep=False).items()},
        "n_features_in_": int(estimator.n_features_in_),
        "feature_names_in_": None if names is None else [str(n) for n in names],
        "solver_": getattr(estimator, "solver_", None),
        "n_iter_": np.asarray(estimator.n_iter_).astype(int).tolist(),
        "classes_kind": classes_kind,
    }
    arrays = {
        "coef_": np.asarray(estimator.coef_, dtype=np.float64),
        "intercept_": np.asarray(estimator.intercept_, dtype=np.float64),
        "classes_": classes,
        "loss_history_": np.asarray(getattr(estimator, "loss_history_", []), dtype=np.float64),
        "metadata": np.frombuffer(json.dumps(metadata).encode("utf-8"), dtype=np.uint8),
    }

    folder = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as f:
            # Passing a file object keeps numpy from appending ".npz" to the name.
            np.savez(f, **arrays)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def load_model(path):
    """Read a model written by ``save_model`` and return the fitted estimator.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file is truncated, damaged, not a fastlogreg model, or written in a newer
        format version; the message names the file.
    """
    from ._estimator import LogisticRegression

    path = Path(path)
    if not path.is_file():
        if path.exists():
            raise IsADirectoryError(f"{path} is a folder, expected a model file.")
        raise FileNotFoundError(f"model file not found: {path}")

    arrays = _read_arrays(path)
    metadata = _decode_metadata(path, arrays["metadata"])
    estimator_name = metadata.get("estimator")
    if estimator_name != LogisticRegression.__name__:
        raise ValueError(
            f"{path}: the file contains a {estimator_name!r} model; this version of fastlogreg "
            f"loads {LogisticRegression.__name__} models only."
        )

    try:
        params = {key: _decode_value(value) for key, value in metadata["params"].items()}
        n_features = int(metadata["n_features_in_"])
        names = metadata["feature_names_in_"]
        n_iter = np.asarray(metadata["n_iter_"], dtype=np.int32)
        solver = metadata["solver_"]
        classes = _decode_classes(arrays["classes_"], metadata["classes_kind"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: invalid model metadata ({error!r}).") from error

    known = LogisticRegression().get_params(deep=False)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(
            f"{path}: the model has parameters {unknown} that this version of fastlogreg does "
            f"not know; it was written by fastlogreg {metadata.get('fastlogreg_version')}."
        )
    coef = arrays["coef_"]
    intercept = arrays["intercept_"]
    _check_fitted_arrays(path, coef, intercept, classes, n_features, names)

    estimator = LogisticRegression(**params)
    estimator.coef_ = coef.astype(np.float64)
    estimator.intercept_ = intercept.astype(np.float64)
    estimator.classes_ = classes
    estimator.n_features_in_ = n_features
    if names is not None:
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    estimator.n_iter_ = n_iter
    estimator.loss_history_ = arrays["loss_history_"].astype(np.float64)
    if solver is not None:
        estimator.solver_ = str(solver)
    return estimator


# ---------------------------------------------------------------------- reading


def _read_arrays(path):
    if not is_zip_file(path):
        raise ValueError(f"{path}: not a fastlogreg model file (not an .npz archive).")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path}: not a fastlogreg model file (cannot be read as .npz: {error})."
        ) from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not a fastlogreg model file (a single .npy array).")
    with archive:
        missing = [name for name in _ARRAY_NAMES if name not in archive.files]
        if missing:
            raise ValueError(
                f"{path}: not a fastlogreg model file (missing arrays: {', '.join(missing)})."
            )
        arrays = {}
        for name in _ARRAY_NAMES:
            try:
                arrays[name] = archive[name]
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
                raise ValueError(
                    f"{path}: damaged model file (array {name!r} cannot be read: {error})."
                ) from error
    return arrays


def _decode_metadata(path, raw):
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError(f"{path}: not a fastlogreg model file (invalid metadata array).")
    try:
        metadata = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: damaged model file (metadata is not JSON: {error}).") \
            from error
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ValueError(f"{path}: not a fastlogreg model file (unknown metadata format).")
    version = metadata.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{path}: invalid model format version {version!r}.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path}: the model file has format version {version}, newer than the version "
            f"{FORMAT_VERSION} that this fastlogreg reads; it was written by fastlogreg "
            f"{metadata.get('fastlogreg_version')}. Upgrade fastlogreg to load it."
        )
    return metadata


def _check_fitted_arrays(path, coef, intercept, classes, n_features, names):
    n_classes = classes.shape[0]
    n_rows = 1 if n_classes == 2 else n_classes
    problems = []
    if classes.ndim != 1 or n_classes < 2:
        problems.append(f"classes_ has shape {classes.shape}")
    elif len(set(classes.tolist())) != n_classes:
        problems.append("classes_ contains duplicate labels")
    if coef.shape != (n_rows, n_features):
        problems.append(f"coef_ has shape {coef.shape}, expected {(n_rows, n_features)}")
    if intercept.shape != (n_rows,):
        problems.append(f"intercept_ has shape {intercept.shape}, expected {(n_rows,)}")
    if coef.dtype.kind != "f" or intercept.dtype.kind != "f":
        problems.append("coef_ or intercept_ is not a float array")
    elif not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
        problems.append("coef_ or intercept_ contains NaN or infinity")
    if names is not None and len(names) != n_features:
        problems.append(f"{len(names)} feature names for {n_features} features")
    if problems:
        raise ValueError(f"{path}: damaged model file: {'; '.join(problems)}.")


# ---------------------------------------------------------------------- encoding


def _encode_classes(classes):
    """Return ``classes_`` as a pickle-free array and the kind needed to restore its type.

    Numeric and bool classes are stored as they are. Strings are stored as a fixed-width
    unicode array. The kind ``"object"`` records that the classes were a NumPy object array,
    as pandas and ``numpy.unique`` produce for strings, so that loading restores that dtype.
    """
    classes = np.asarray(classes)
    if classes.dtype.kind in "biuf":
        return classes, "array"
    if classes.dtype.kind == "U":
        return classes, "array"
    if classes.dtype == object:
        values = classes.tolist()
        if all(isinstance(v, str) for v in values):
            return np.array(values, dtype=str), "object"
        if all(isinstance(v, (bool, np.bool_)) for v in values):
            return np.array(values, dtype=bool), "object"
        if all(isinstance(v, numbers.Real) for v in values):
            return np.array(values), "object"
    raise ValueError(
        f"classes_ of dtype {classes.dtype} cannot be saved; labels must be numbers, bools "
        "or strings."
    )


def _decode_classes(classes, kind):
    if kind == "object":
        return classes.astype(object)
    if kind == "array":
        if classes.dtype.kind not in "biufU":
            raise ValueError(f"classes_ has an unsupported dtype {classes.dtype}")
        return classes
    raise ValueError(f"unknown classes_kind {kind!r}")


def _encode_value(key, value):
    """Return a JSON-compatible form of a parameter value, tagged where JSON lacks the type."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, dict):
        return {"dict": [[_encode_value(key, k), _encode_value(key, v)]
                         for k, v in value.items()]}
    if isinstance(value, np.random.RandomState) and key == "random_state":
        warnings.warn(
            "random_state is a numpy RandomState, which a model file cannot store; it is "
            "saved as None. Pass an integer seed to keep it.",
            UserWarning,
            stacklevel=3,
        )
        return None
    raise ValueError(
        f"parameter {key}={value!r} of type {type(value).__name__} cannot be saved in a model "
        "file; use None, a bool, a number, a string or a dict of these."
    )


def _decode_value(value):
    if isinstance(value, dict):
        if set(value) == {"float"}:
            return float(value["float"])
        if set(value) == {"dict"}:
            return {_decode_value(k): _decode_value(v) for k, v in value["dict"]}
        raise ValueError(f"unknown tagged value {value!r}")
    if isinstance(value, list):
        raise ValueError(f"unexpected list {value!r}")
    return value
