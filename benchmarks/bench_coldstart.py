"""Import plus first fit in a fresh Python process, with an empty and with a filled Numba cache.

This is the one suite that times compilation on purpose. ``NUMBA_CACHE_DIR`` points every
child process at a temporary folder: a new empty folder for each timed run of
``time_empty_cache``, and one folder filled in ``setup`` for ``time_filled_cache``. The child
fits a small dense float64 problem with the default solver, so the figures cover the kernels
that path compiles, not every signature in the package.
"""

import os
import shutil
import subprocess
import sys
import tempfile

CHILD_SCRIPT = """
import numpy as np
from fastlogreg import LogisticRegression
rng = np.random.default_rng(0)
X = rng.standard_normal((2000, 20))
y = (X[:, 0] + 0.5 * rng.standard_normal(2000) > 0).astype(np.int64)
LogisticRegression().fit(X, y)
"""


def run_child(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    subprocess.run([sys.executable, "-c", CHILD_SCRIPT], env=env, check=True)


class ColdStart:
    number = 1
    repeat = (1, 3, 120.0)
    warmup_time = 0.0
    timeout = 900

    def setup(self):
        self.folders = []
        self.filled = self.new_folder()
        run_child(self.filled)

    def teardown(self):
        for folder in self.folders:
            shutil.rmtree(folder, ignore_errors=True)

    def new_folder(self):
        folder = tempfile.mkdtemp(prefix="fastlogreg-numba-cache-")
        self.folders.append(folder)
        return folder

    def time_empty_cache(self):
        run_child(self.new_folder())

    def time_filled_cache(self):
        run_child(self.filled)
