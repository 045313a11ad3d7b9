"""Public element-wise functions built on the kernels."""

import numpy as np

from ._kernels import log1pexp_array, sigmoid_array


def _apply(kernel, z):
    array = np.asarray(z)
    if array.dtype != np.float32:
        array = array.astype(np.float64, copy=False)
    flat = np.ascontiguousarray(array).reshape(-1)
    out = np.empty_like(flat)
    if flat.size:
        kernel(flat, out)
    out = out.reshape(array.shape)
    return out[()] if out.ndim == 0 else out


def sigmoid(z):
    """Logistic function 1 / (1 + exp(-z)), element-wise.

    Never overflows or warns for finite input. float32 input gives float32 output; any other
    numeric input is computed in float64. The output has the shape of the input.
    """
    return _apply(sigmoid_array, z)


def log1pexp(z):
    """log(1 + exp(z)), element-wise, without overflow; dtype rules as for :func:`sigmoid`."""
    return _apply(log1pexp_array, z)
