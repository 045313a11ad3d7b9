"""Stable logistic function and log(1 + exp(z)).

Both branch on the sign of ``z`` so that ``exp`` is only ever taken of a non-positive number:
no overflow, no warning, for any finite input in float32 or float64.
"""

import math

from ._jit import jit


@jit(inline="always")
def sigmoid_scalar(z):
    """Return 1 / (1 + exp(-z)) without overflow."""
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@jit(inline="always")
def log1pexp(z):
    """Return log(1 + exp(z)) without overflow; equals z + log1p(exp(-z)) for z > 0."""
    if z > 0.0:
        return z + math.log1p(math.exp(-z))
    return math.log1p(math.exp(z))


@jit
def sigmoid_array(z, out):
    """Write the logistic function of the flat array ``z`` into ``out`` (same length)."""
    for i in range(z.shape[0]):
        out[i] = sigmoid_scalar(z[i])


@jit
def log1pexp_array(z, out):
    """Write log(1 + exp(z)) of the flat array ``z`` into ``out`` (same length)."""
    for i in range(z.shape[0]):
        out[i] = log1pexp(z[i])

