"""Tests of the dataset registry and cache. No test downloads from the internet: downloads go
to an HTTP server on 127.0.0.1 that the test starts, and every other test fails on any
download attempt."""

import hashlib
import http.server
import re
import threading
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from fastlogreg import datasets

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

needs_shared_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"shared dataset folder not found: {SHARED_DATA}"
)

TINY_TRAIN = b"1 1:1 2:0.5\n-1 2:1\n1 1:0.25\n"


@pytest.fixture
def no_download(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def local_server(tmp_path):
    """Serve the folder tmp_path/served over HTTP on 127.0.0.1; yield (base_url, requests)."""
    served = tmp_path / "served"
    served.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, format, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", served, requests
    finally:
        server.shutdown()
        server.server_close()


def register_tiny(monkeypatch, url, sha256):
    info = datasets.DatasetInfo(
        name="tiny", description="three rows", source=url, n_features=3, labels="-1 and 1",
        upstream=datasets.FileSet(
            train=datasets.DataFileInfo("tiny.svm", "svmlight", sha256, url=url),
        ),
    )
    monkeypatch.setitem(datasets.DATASETS, "tiny", info)


def test_registry_required_names():
    names = datasets.list_datasets()

    for required in ("a9a", "w8a", "ijcnn1", "covtype_binary", "higgs"):
        assert required in names


@pytest.mark.parametrize("name", sorted(datasets.DATASETS))
def test_registry_entry_complete(name):
    info = datasets.DATASETS[name]

    assert info.upstream.train.url.startswith(datasets.LIBSVM_BINARY_FILES)
    assert info.n_features > 0
    assert info.stand_ins, "every registered dataset has a local stand-in"
    for file_set in info.stand_ins:
        for f in file_set.files:
            assert re.fullmatch(r"[0-9a-f]{64}", f.sha256), f.name
            assert f.url is None


def test_lookup_by_alias():
    assert datasets.get_dataset_info("HIGGS").name == "higgs"
    assert datasets.get_dataset_info("covtype").name == "covtype_binary"


def test_unknown_dataset_lists_names():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'.*a9a"):
        datasets.load_dataset("mnist")


def test_data_home_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv(datasets.DATA_HOME_VARIABLE, str(tmp_path / "from_env"))
    assert datasets.get_data_home() == tmp_path / "from_env"
    assert datasets.get_data_home(tmp_path / "given") == tmp_path / "given"

    monkeypatch.delenv(datasets.DATA_HOME_VARIABLE)
    assert datasets.get_data_home() == Path("~/.cache/fastlogreg").expanduser()


def test_missing_files_without_download(tmp_path, no_download):
    with pytest.raises(FileNotFoundError, match=r"a9a\.gz and a9a\.t\.gz"):
        datasets.load_dataset("a9a", data_home=tmp_path, download=False)


def test_stand_in_checksum_mismatch(tmp_path, no_download):
    (tmp_path / "a9a.gz").write_bytes(b"not the data")
    (tmp_path / "a9a.t.gz").write_bytes(b"not the data")

    with pytest.raises(ValueError, match=r"a9a\.gz: SHA-256 checksum mismatch"):
        datasets.load_dataset("a9a", data_home=tmp_path)


@needs_shared_data
@pytest.mark.parametrize(
    ("name", "train_shape", "test_shape", "labels"),
    [
        ("a9a", (32561, 123), (16281, 123), {-1, 1}),
        ("w8a", (49749, 300), (14951, 300), {-1, 1}),
        ("covtype", (20000, 54), None, {1, 2}),
        ("higgs", (7000, 28), (500, 28), {0, 1}),
    ],
)
def test_shared_stand_ins(monkeypatch, no_download, name, train_shape, test_shape, labels):
    monkeypatch.setenv(datasets.DATA_HOME_VARIABLE, str(SHARED_DATA))

    loaded = datasets.load_dataset(name)

    assert loaded.X.shape == train_shape
    assert set(np.unique(loaded.y).tolist()) == labels
    if test_shape is None:
        assert loaded.X_test is None
    else:
        assert loaded.X_test.shape == test_shape


@needs_shared_data
def test_shared_ijcnn1(no_download):
    loaded = datasets.load_dataset("ijcnn1", data_home=SHARED_DATA)

    assert loaded.X.shape == (49990, 22)
    assert loaded.X_test.shape == (91701, 22)


def test_download_from_local_server(tmp_path, monkeypatch, local_server):
    base_url, served, requests = local_server
    (served / "tiny.svm").write_bytes(TINY_TRAIN)
    register_tiny(monkeypatch, base_url + "tiny.svm", hashlib.sha256(TINY_TRAIN).hexdigest())
    cache = tmp_path / "cache"

    first = datasets.load_dataset("tiny", data_home=cache)
    second = datasets.load_dataset("tiny", data_home=cache)

    assert first.X.shape == (3, 3)
    assert second.X.shape == (3, 3)
    assert requests == ["/tiny.svm"], "the second load reads the cached file"
    assert (cache / "tiny.svm").read_bytes() == TINY_TRAIN


def test_download_checksum_mismatch(tmp_path, monkeypatch, local_server):
    base_url, served, _ = local_server
    (served / "tiny.svm").write_bytes(TINY_TRAIN)
    register_tiny(monkeypatch, base_url + "tiny.svm", "0" * 64)
    cache = tmp_path / "cache"

    with pytest.raises(ValueError, match="expected 0000"):
        datasets.load_dataset("tiny", data_home=cache)

    assert list(cache.iterdir()) == []


def test_download_without_checksum_warns(tmp_path, monkeypatch, local_server):
    base_url, served, _ = local_server
    (served / "tiny.svm").write_bytes(TINY_TRAIN)
    register_tiny(monkeypatch, base_url + "tiny.svm", None)
    digest = hashlib.sha256(TINY_TRAIN).hexdigest()

    with pytest.warns(UserWarning, match=digest):
        loaded = datasets.load_dataset("tiny", data_home=tmp_path / "cache")

    assert loaded.X.shape == (3, 3)


def test_download_not_found(tmp_path, monkeypatch, local_server):
    base_url, _, _ = local_server
    register_tiny(monkeypatch, base_url + "missing.svm", None)
    cache = tmp_path / "cache"

    with pytest.raises(OSError, match="failed to download .*missing.svm"):
        datasets.load_dataset("tiny", data_home=cache)

    assert list(cache.iterdir()) == []


def test_download_rejects_file_url(tmp_path):
    with pytest.raises(ValueError, match="invalid download URL"):
        datasets.download_file((tmp_path / "x").as_uri(), tmp_path / "y")
