"""Named public binary classification datasets, cached in a local folder.

``load_dataset("a9a")`` returns the training and test data of a registered dataset. The files
are looked up in the cache folder first: ``data_home`` when given, else the ``FASTLOGREG_DATA``
environment variable, else ``~/.cache/fastlogreg``. Files found there are used without any
network access. Missing files are downloaded once from the LIBSVM binary datasets page with
``urllib``, and every file with a recorded SHA-256 checksum is verified before it is read.

Besides the upstream files, some datasets accept smaller local stand-ins under other names
(``covtype_binary_scale_20k.csv.gz`` for covtype, for example), each with its own checksum
and format. A folder that contains a stand-in needs no download for that dataset, but the data
are then the stand-in's, not the full upstream set.
"""

import hashlib
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import scipy.sparse as sp

from . import io

LIBSVM_BINARY_PAGE = "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/binary.html"
LIBSVM_BINARY_FILES = "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/binary/"

DATA_HOME_VARIABLE = "FASTLOGREG_DATA"
DEFAULT_DATA_HOME = Path("~/.cache/fastlogreg")

DOWNLOAD_TIMEOUT_SECONDS = 60
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class DataFileInfo:
    """One file of a dataset.

    ``sha256`` is None where no checksum has been recorded, in which case the file is read
    unverified and a download warns with the checksum it computed. ``url`` is None for
    local stand-ins, which are never downloaded. ``label`` is the label column of a CSV or
    TSV file.
    """

    name: str
    format: str
    sha256: str | None
    url: str | None = None
    label: int | None = None


@dataclass(frozen=True)
class FileSet:
    """The files that together make up one copy of a dataset.

    When ``test`` is None and ``test_rows_from_end`` is positive, the last
    ``test_rows_from_end`` rows of the training file are the test set.
    """

    train: DataFileInfo
    test: DataFileInfo | None = None
    test_rows_from_end: int = 0
    note: str = ""

    @property
    def files(self):
        return tuple(f for f in (self.train, self.test) if f is not None)


@dataclass(frozen=True)
class DatasetInfo:
    """A registry entry: where a dataset comes from and which files stand for it.

    ``upstream`` is the file set published upstream, which ``load_dataset`` downloads when
    no file set is complete in the cache folder. ``stand_ins`` are file sets accepted only
    when already present in that folder.
    """

    name: str
    description: str
    source: str
    n_features: int
    labels: str
    upstream: FileSet
    stand_ins: tuple = ()
    aliases: tuple = ()


@dataclass
class Dataset:
    """The data of a loaded dataset; ``X_test`` and ``y_test`` are None without a test set."""

    name: str
    X: object
    y: object
    X_test: object
    y_test: object
    paths: list = field(default_factory=list)
    note: str = ""


def _libsvm(name, format="svmlight"):
    return DataFileInfo(name=name, format=format, sha256=None, url=LIBSVM_BINARY_FILES + name)


# NOTE: no SHA-256 is recorded for the upstream LIBSVM files, because no copy of them was
# available when this registry was written. Their downloads warn with the computed checksum.
# The stand-in checksums are those of the stand-in files (recompressed copies where the note
# states so), so they verify the stand-ins only.
DATASETS = {
    "a9a": DatasetInfo(
        name="a9a",
        description="UCI Adult census income, binarized features (Platt 1998); 32,561 "
                    "training and 16,281 test samples.",
        source=LIBSVM_BINARY_PAGE + " (original: UCI Adult)",
        n_features=123,
        labels="-1 and 1",
        upstream=FileSet(train=_libsvm("a9a"), test=_libsvm("a9a.t")),
        stand_ins=(
            FileSet(
                train=DataFileInfo(
                    "a9a.gz", "svmlight",
                    "b301f3e87350539f3ebc751d07b4691a8c66f0bf38c1d179c86bbf5e2d9623b2"),
                test=DataFileInfo(
                    "a9a.t.gz", "svmlight",
                    "92967561181c73a60149cc8221b936eb746573fda8cbf483115d673f42b26c3f"),
                note="gzip-compressed copies of the LIBSVM text files",
            ),
        ),
    ),
    "w8a": DatasetInfo(
        name="w8a",
        description="Web page classification (Platt 1998), 300 sparse binary features; "
                    "49,749 training and 14,951 test samples.",
        source=LIBSVM_BINARY_PAGE,
        n_features=300,
        labels="-1 and 1",
        upstream=FileSet(train=_libsvm("w8a"), test=_libsvm("w8a.t")),
        stand_ins=(
            FileSet(
                train=DataFileInfo(
                    "w8a.gz", "svmlight",
                    "758d97c654378b34cca0160e7a6b2ac926d882b51dddd2f0d3d3743f0ed9135b"),
                test=DataFileInfo(
                    "w8a.t.gz", "svmlight",
                    "41722ce826a00f5f530f9b21a9900f53db6cf07bd56ed4275156f97963d7dc6c"),
                note="gzip-compressed copies of the LIBSVM text files",
            ),
        ),
    ),
    "ijcnn1": DatasetInfo(
        name="ijcnn1",
        description="IJCNN 2001 neural network competition, 22 features; 49,990 training "
                    "(training plus validation) and 91,701 test samples.",
        source=LIBSVM_BINARY_PAGE + " (original: IJCNN 2001 challenge, Prokhorov)",
        n_features=22,
        labels="-1 and 1",
        upstream=FileSet(train=_libsvm("ijcnn1.bz2"), test=_libsvm("ijcnn1.t.bz2")),
        stand_ins=(
            FileSet(
                train=DataFileInfo(
                    "ijcnn1.trn.bz2", "svmlight",
                    "b38a4198ce142d43e96fb86d17b87211feec1f909ac344fa057455c69de29de3"),
                test=DataFileInfo(
                    "ijcnn1.tst.bz2", "svmlight",
                    "acd1db430684fdd3f0c768ecc49aa8e749d0004fc117611220c2aa576a7b6a24"),
                note="LIBSVM ijcnn1.tr and ijcnn1.val concatenated (49,990 rows), and "
                     "ijcnn1.t, each bzip2-compressed",
            ),
        ),
    ),
    "covtype_binary": DatasetInfo(
        name="covtype_binary",
        description="UCI Covertype reduced to two classes by the LIBSVM maintainers, 54 "
                    "features scaled to [0, 1]; 581,012 samples, no test split.",
        source=LIBSVM_BINARY_PAGE + " (original: UCI Covertype, "
                                    "https://archive.ics.uci.edu/dataset/31/covertype)",
        n_features=54,
        labels="1 and 2",
        upstream=FileSet(train=_libsvm("covtype.libsvm.binary.scale.bz2")),
        stand_ins=(
            FileSet(
                train=DataFileInfo(
                    "covtype_binary_scale_20k.csv.gz", "csv",
                    "286eb5fd3c8caaeb275c072d8603724468514ab20a05402ebced2cf8aa3f170f",
                    label=0),
                note="20,000 rows of covtype.libsvm.binary.scale written as dense CSV with "
                     "the label first; how the rows were chosen is unknown",
            ),
        ),
        aliases=("covtype", "covtype.binary"),
    ),
    "higgs": DatasetInfo(
        name="higgs",
        description="UCI HIGGS, signal against background in simulated collisions, 28 "
                    "features; 11,000,000 samples of which the last 500,000 are the test "
                    "set.",
        source=LIBSVM_BINARY_PAGE + " (original: UCI HIGGS, "
                                    "https://archive.ics.uci.edu/dataset/280/higgs)",
        n_features=28,
        labels="0 and 1",
        upstream=FileSet(train=_libsvm("HIGGS.xz"), test_rows_from_end=500_000),
        stand_ins=(
            FileSet(
                train=DataFileInfo(
                    "higgs_lightgbm.train.tsv.gz", "tsv",
                    "f83cfc97c1f1bf61a958e997957f9565a0538a66cffacdfc2f287f4f7bbc6a7f",
                    label=0),
                test=DataFileInfo(
                    "higgs_lightgbm.test.tsv.gz", "tsv",
                    "d38afbdb220220b6cb9dadfb66b8e50fbef21e66ee1cec7074fe3f048c147858",
                    label=0),
                note="LightGBM's binary classification example: 7,000 training and 500 "
                     "test rows of HIGGS rounded to 3 decimals, TSV with the label first",
            ),
        ),
        aliases=("HIGGS",),
    ),
}


def list_datasets():
    """Return the names of the registered datasets, sorted."""
    return sorted(DATASETS)


def get_dataset_info(name):
    """Return the ``DatasetInfo`` for a name or alias (case-insensitive)."""
    requested = name.lower()
    for info in DATASETS.values():
        if requested == info.name.lower() or requested in (a.lower() for a in info.aliases):
            return info
    raise ValueError(
        f"unknown dataset {name!r}; registered datasets: {', '.join(list_datasets())}."
    )


def get_data_home(data_home=None):
    """Return the cache folder: ``data_home``, else ``$FASTLOGREG_DATA``, else the default."""
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_VARIABLE) or DEFAULT_DATA_HOME
    return Path(data_home).expanduser()


def load_dataset(name, data_home=None, download=True):
    """Load a registered dataset and return a ``Dataset``.

    The cache folder (see ``get_data_home``) is searched for a complete file set: the
    upstream files first, then each stand-in. The first complete set is verified against
    its checksums and read. When no set is complete and ``download`` is true, the missing
    upstream files are downloaded into the folder.

    Raises
    ------
    ValueError
        Unknown name, a checksum mismatch, or a file that cannot be parsed.
    FileNotFoundError
        No complete file set is present and ``download`` is false.
    OSError
        A download failed.
    """
    info = get_dataset_info(name)
    folder = get_data_home(data_home)
    for file_set in (info.upstream, *info.stand_ins):
        if all((folder / f.name).is_file() for f in file_set.files):
            return _load_file_set(info, file_set, folder)

    if not download:
        raise FileNotFoundError(
            f"dataset {info.name!r} is not in {folder} and download=False; place "
            f"{_describe_accepted_files(info)} there, or allow the download."
        )
    folder.mkdir(parents=True, exist_ok=True)
    for f in info.upstream.files:
        if not (folder / f.name).is_file():
            download_file(f.url, folder / f.name, f.sha256)
    return _load_file_set(info, info.upstream, folder)


def _describe_accepted_files(info):
    choices = [" and ".join(f.name for f in fs.files) for fs in (info.upstream, *info.stand_ins)]
    return " or ".join(choices)


def _load_file_set(info, file_set, folder):
    paths = [folder / f.name for f in file_set.files]
    for f, path in zip(file_set.files, paths):
        verify_checksum(path, f.sha256)

    train, test = file_set.train, file_set.test
    if test is not None and train.format == "svmlight" and test.format == "svmlight":
        X, y, X_test, y_test = io.load_svmlight_pair(paths[0], paths[1])
    else:
        X, y = _read_file(train, paths[0], info.n_features)
        X_test = y_test = None
        if test is not None:
            X_test, y_test = _read_file(test, paths[1], info.n_features)

    X = _with_n_features(X, info, paths[0])
    if X_test is not None:
        X_test = _with_n_features(X_test, info, paths[1])
    if X_test is None and 0 < file_set.test_rows_from_end < X.shape[0]:
        split = X.shape[0] - file_set.test_rows_from_end
        X, X_test = X[:split], X[split:]
        y, y_test = y[:split], y[split:]
    return Dataset(name=info.name, X=X, y=y, X_test=X_test, y_test=y_test,
                   paths=paths, note=file_set.note)


def _read_file(file_info, path, n_features):
    label = file_info.label if file_info.format in ("csv", "tsv", "parquet") else None
    return io.load_data(path, label=label, n_features=n_features, format=file_info.format)


def _with_n_features(X, info, path):
    """Pad a sparse X with zero columns up to the dataset's feature count."""
    if X.shape[1] > info.n_features:
        raise ValueError(
            f"{path}: {X.shape[1]} features, more than the {info.n_features} of dataset "
            f"{info.name!r}; the file is not a copy of that dataset."
        )
    if X.shape[1] < info.n_features and sp.issparse(X):
        X = X.tocsr()
        X = sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], info.n_features))
    return X


def file_sha256(path):
    """Return the hex SHA-256 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_checksum(path, sha256):
    """Raise ValueError when the file's SHA-256 differs from ``sha256`` (None skips the check)."""
    if sha256 is None:
        return
    actual = file_sha256(path)
    if actual != sha256:
        raise ValueError(
            f"{path}: SHA-256 checksum mismatch (expected {sha256}, got {actual}); the file "
            "is damaged or is not the registered file. Delete it so it can be downloaded again."
        )


def download_file(url, path, sha256=None, timeout=DOWNLOAD_TIMEOUT_SECONDS):
    """Download ``url`` to ``path`` and verify its SHA-256 when one is given.

    The data go to ``path`` + ``.part`` first and are renamed only after the checksum
    matches, so an interrupted or wrong download never leaves a file under the final name.
    Without ``sha256`` a ``UserWarning`` states the checksum of the downloaded file.
    Returns ``path``.
    """
    path = Path(path)
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise ValueError(f"invalid download URL {url!r}: only http and https URLs are allowed.")
    partial = path.with_name(path.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, \
                open(partial, "wb") as out:
            for chunk in iter(lambda: response.read(_CHUNK_BYTES), b""):
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        raise OSError(
            f"failed to download {url} to {path}: {error}. Download it by hand and place it "
            f"at {path}."
        ) from error

    actual = digest.hexdigest()
    if sha256 is not None and actual != sha256:
        partial.unlink(missing_ok=True)
        raise ValueError(
            f"downloaded {url} has SHA-256 {actual}, expected {sha256}; the file was not "
            "saved."
        )
    if sha256 is None:
        warnings.warn(
            f"no checksum is recorded for {path.name}; the downloaded file has SHA-256 "
            f"{actual}.",
            UserWarning,
            stacklevel=2,
        )
    shutil.move(partial, path)
    return path
