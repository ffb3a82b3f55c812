"""A vectorisable ``exp`` for the numba kernels.

numba compiles ``np.exp`` in a loop to one libm call per element, which
stops LLVM from vectorising the loop (numba's SVML path needs conda's
patched llvmlite). The soft-min passes take ``exp`` of ``t = hmin - h <= 0``
only, so :func:`exp_nonpos` is the textbook reduction written in plain
arithmetic that LLVM turns into AVX2/AVX-512/NEON code:

    exp(t) = 2**k * exp(r),   k = round(t / ln 2),   |r| <= ln(2) / 2,

``exp(r)`` by its degree-12 Taylor polynomial (truncation below 2e-17),
``2**k`` built from its IEEE-754 bits. Relative error below 3e-14 on
[-700, 0] (measured against ``np.exp`` in ``tests/test_reference.py``); 0
below -700 and for ``-inf`` (terms under ``exp(-700)`` are negligible next
to the soft minimum's own term, 1).
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["exp_nonpos", "FASTMATH"]

#: fastmath flags of the kernels that use :func:`exp_nonpos`: reassociation
#: so that sums and minima vectorise, but no ``nnan``/``ninf``, since
#: zero-weight templates carry ``h = +inf`` on purpose.
FASTMATH = {"nsz", "arcp", "contract", "reassoc"}

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # Cody-Waite split of ln 2
_LN2_LO = 1.90821492927058770002e-10
_SHIFT = 6755399441055744.0  # 1.5 * 2**52: k lands in the low mantissa bits
_TMIN = -700.0


@intrinsic
def _bits_to_float(typingctx, x):  # pragma: no cover - compiled
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _float_to_bits(typingctx, x):  # pragma: no cover - compiled
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@njit(inline="always")
def exp_nonpos(t):  # pragma: no cover - jitted
    """``exp(t)`` for ``t <= 0`` (float64), 0 below -700; vectorisable."""
    tt = max(t, _TMIN)
    # k by floor, not by the shift-and-subtract trick: under "reassoc"
    # LLVM folds (x + S) - S to x.
    kd = np.floor(tt * _LOG2E + 0.5)
    r = tt - kd * _LN2_HI - kd * _LN2_LO
    p = 1.0 / 479001600.0
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
    p = p * r + 1.0
    # kd + SHIFT holds k (two's complement, -1010 <= k <= 0) in its low
    # bits; adding the exponent bias and shifting by 52 leaves 2**k's bits.
    scale = _bits_to_float((_float_to_bits(kd + _SHIFT) + 1023) << 52)
    return p * scale if t >= _TMIN else 0.0
