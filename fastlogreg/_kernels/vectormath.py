"""exp and log1p written as plain arithmetic, so that loops over a block of samples vectorize.

``math.exp`` and ``math.log1p`` compile to calls into the C library, one sample at a time. In a
fused pass with a few dozen features per row those calls cost as much as reading the row. The
functions here use only multiplies, adds, one division and integer bit operations, which LLVM
turns into SIMD instructions when they run in a loop over an array. Both are accurate to a
few units in the last place of float64 on the ranges they accept (tested against numpy).

Kernels call ``residual_block`` on blocks of BLOCK margins: the block's scratch arrays stay in
L1 cache, and the rows of X that produced the margins are still in L2 when the gradient reads
them again.
"""

import math

import numpy as np

from ._jit import jit

# Samples per block. 128 float64 margins take 1 KiB; a block of rows with 100 float64
# features takes 100 KiB, which stays in a core's L2 cache between the two reads.
BLOCK = 128

_LOG2E = 1.4426950408889634
# ln 2 split in two: the high part has trailing zero bits, so k * _LN2_HI is exact for the
# exponents used here and the reduced argument keeps full precision.
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
# Adding 1.5 * 2**52 rounds a float64 of magnitude below 2**51 to an integer, which then sits
# in the low bits of the sum's bit pattern.
_SHIFTER = 6755399441055744.0
_SHIFTER_BITS = np.int64(0x4338000000000000)
_EXPONENT_BIAS = np.int64(1023)
# Below exp(-708) float64 turns subnormal; 2**k would need an exponent below the bias.
_MIN_EXPONENT = -708.0


@jit(inline="always", fastmath={"contract"})
def _exp_reduced(r):
    """Return exp(r) for |r| <= ln(2) / 2 by its Taylor polynomial of degree 13."""
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    return p * r + 1.0


@jit(inline="always", fastmath={"contract"})
def log1p_unit(e):
    """Return log(1 + e) for 0 <= e <= 1.

    Uses log(1 + e) = 2 atanh(t) with t = e / (2 + e) <= 1/3 and the odd series of atanh,
    so small e keep their full relative precision (log1p(e) ~ e).
    """
    t = e / (2.0 + e)
    t2 = t * t
    p = 1.0 / 31.0
    p = p * t2 + 1.0 / 29.0
    p = p * t2 + 1.0 / 27.0
    p = p * t2 + 1.0 / 25.0
    p = p * t2 + 1.0 / 23.0
    p = p * t2 + 1.0 / 21.0
    p = p * t2 + 1.0 / 19.0
    p = p * t2 + 1.0 / 17.0
    p = p * t2 + 1.0 / 15.0
    p = p * t2 + 1.0 / 13.0
    p = p * t2 + 1.0 / 11.0
    p = p * t2 + 1.0 / 9.0
    p = p * t2 + 1.0 / 7.0
    p = p * t2 + 1.0 / 5.0
    p = p * t2 + 1.0 / 3.0
    p = p * t2 + 1.0
    return 2.0 * t * p


@jit(fastmath={"contract"})
def exp_neg_abs(z, m, scratch, out):
    """Write exp(-|z_i|) for the first ``m`` entries of ``z`` into ``out``.

    ``scratch`` is a float64 array of at least ``m`` entries. For |z_i| > 708 the result is
    0.0: exp(-708) is about 3e-308, where float64 turns subnormal.
    """
    for i in range(m):
        x = max(-math.fabs(z[i]), _MIN_EXPONENT)
        shifted = x * _LOG2E + _SHIFTER
        scratch[i] = shifted
        k = shifted - _SHIFTER
        out[i] = _exp_reduced(x - k * _LN2_HI - k * _LN2_LO)
    # 2**k from the integer k in the low bits: its biased exponent moved to bits 52 to 62.
    bits = scratch.view(np.int64)
    for i in range(m):
        bits[i] = (bits[i] - _SHIFTER_BITS + _EXPONENT_BIAS) << 52
    for i in range(m):
        out[i] = out[i] * scratch[i] if math.fabs(z[i]) <= -_MIN_EXPONENT else 0.0


@jit(fastmath={"contract"})
def residual_block(z, y, s, alpha, m, scratch, e, r):
    """Write alpha * s_i * dloss/dz_i for the first ``m`` samples into ``r``; return the loss.

    The loss is sum_i s_i * log(1 + exp(-(2 y_i - 1) z_i)). Both come from one
    e = exp(-|z|): the sigmoid is 1 / (1 + e) for z >= 0 and e / (1 + e) below, and with
    t = z for y = 0, t = -z for y = 1 the loss is max(t, 0) + log1p(e). ``scratch`` and ``e``
    are float64 work arrays of at least ``m`` entries.
    """
    exp_neg_abs(z, m, scratch, e)
    loss = 0.0
    for i in range(m):
        ei = e[i]
        zi = z[i]
        inv = 1.0 / (1.0 + ei)
        p = inv if zi >= 0.0 else ei * inv
        t = -zi if y[i] > 0.5 else zi
        loss += s[i] * (max(t, 0.0) + log1p_unit(ei))
        r[i] = alpha * s[i] * (p - y[i])
    return loss
