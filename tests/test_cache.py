"""The compile cache when the package folder cannot be written."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import fastlogreg

SCRIPT = """
import warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import fastlogreg
import numpy as np
assert fastlogreg.__file__.startswith({root!r}), fastlogreg.__file__
assert fastlogreg.sigmoid(np.array([0.0]))[0] == 0.5
print("cache warnings:", sum("cannot write a Numba cache" in str(w.message) for w in caught))
"""


def run_from_copy(tmp_path, cache_home):
    """Import a copy of the package whose __pycache__ folders are blocked by plain files."""
    root = tmp_path / "site"
    package = root / "fastlogreg"
    shutil.copytree(Path(fastlogreg.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for folder in [package, *[p for p in package.rglob("*") if p.is_dir()]]:
        # A file where Numba wants to create its cache folder makes that folder unusable,
        # even for root, who can write into read-only folders.
        (folder / "__pycache__").write_text("")
    env = {key: value for key, value in os.environ.items() if not key.startswith("NUMBA_")}
    env.update(PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", HOME=str(cache_home),
               XDG_CACHE_HOME=str(cache_home / ".cache"))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(root=str(root))], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_unwritable_package_uses_user_cache_folder(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    output = run_from_copy(tmp_path, home)
    assert "cache warnings: 0" in output
    assert any((home / ".cache" / "numba").rglob("*.nbi"))


def test_no_writable_cache_still_runs(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    output = run_from_copy(tmp_path, blocker)
    # Every cached kernel falls back to compiling in-process, with a warning each.
    assert "cache warnings: 0" not in output
