"""fastlogreg: logistic regression on large datasets with Numba-compiled kernels."""

from ._estimator import LogisticRegression
from ._special import log1pexp, sigmoid

__version__ = "0.1.0"

__all__ = ["LogisticRegression", "__version__", "log1pexp", "sigmoid"]
