"""fastlogreg: logistic regression on large datasets with Numba-compiled kernels."""

from ._estimator import LogisticRegression
from ._cv import LogisticRegressionCV
from ._path import RegularizationPath, logistic_regression_path
from ._special import log1pexp, sigmoid
from . import datasets
from ._persistence import load_model as load

__version__ = "0.1.0"

__all__ = ["LogisticRegression", "LogisticRegressionCV", "RegularizationPath", "__version__",
           "datasets", "load", "log1pexp", "logistic_regression_path", "sigmoid"]
