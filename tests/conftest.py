"""Shared fixtures: the real datasets that live beside the checkout, when present."""

from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_file(name):
    """Return the path of a dataset file in ../shared/data, or skip the test if absent."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"dataset {name} not found in {SHARED_DATA}; it ships beside the checkout")
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def make_problem(rng, n=300, d=6, informative=2.0):
    """Return a non-separable binary problem (X float64 C-ordered, y in {0, 1})."""
    X = rng.standard_normal((n, d))
    w = np.zeros(d)
    w[: max(1, d // 2)] = informative * rng.standard_normal(max(1, d // 2))
    margin = X @ w + 0.3
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-margin))).astype(np.int64)
    return X, y
