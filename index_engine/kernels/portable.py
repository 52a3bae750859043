"""CPU-independent ``exp`` and ``log``: the same bits on every x86-64 and ARM machine.

numpy's float64 ``exp``/``log`` take a SIMD path on AVX-512 CPUs that differs in the last bit from
the scalar path elsewhere, and libm's variants differ between FMA and non-FMA builds. Anything that
reaches a pinned hash (the synthetic market, the regime and cost kernels) therefore uses these
functions instead: they are built only from IEEE-754 operations that every CPU rounds identically
(+, −, ×, ÷, comparisons and exact power-of-two scaling). Numba compiles them without
``fastmath``, so no multiply-add is ever fused.

The algorithms are the classic range reductions with minimax polynomials (as in fdlibm): relative
error below 1 ulp over the whole float64 range, which ``tests/test_portable.py`` measures against
numpy. ``exp_array`` / ``log_array`` apply them elementwise to arrays of any shape.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that k·_LN2_HI is exact for |k| < 2^20
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_EXP_OVERFLOW = 7.09782712893383973096e02
_EXP_UNDERFLOW = -7.45133219101941108420e02
_POW2_OFFSET = 1022
_POW2 = np.ldexp(1.0, np.arange(-1022, 1024))  # 2**k for k in [-1022, 1023], exact
_P1 = 1.66666666666666019037e-01
_P2 = -2.77777777770155933842e-03
_P3 = 6.61375632143793436117e-05
_P4 = -1.65339022054652515390e-06
_P5 = 4.13813679705723846039e-08
_SQRT_HALF = 7.07106781186547524401e-01
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01


@njit(cache=True)
def exp(x: float) -> float:
    """e**x, identical on every CPU (≤ 1 ulp from the correctly rounded value)."""
    if x != x:
        return x
    if x > _EXP_OVERFLOW:
        return math.inf
    if x < _EXP_UNDERFLOW:
        return 0.0
    kx = x * _INV_LN2
    ki = int(kx + 0.5) if kx >= 0.0 else int(kx - 0.5)  # nearest integer to x / ln 2
    k = float(ki)
    hi = x - k * _LN2_HI
    lo = k * _LN2_LO
    r = hi - lo
    r2 = r * r
    c = r - r2 * (_P1 + r2 * (_P2 + r2 * (_P3 + r2 * (_P4 + r2 * _P5))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    if ki < -1000:  # scale in two exact steps so that only the final product rounds (subnormals)
        return y * _POW2[ki + 1000 + _POW2_OFFSET] * _POW2[-1000 + _POW2_OFFSET]
    if ki > 1023:  # y < 1 here: the result is finite or overflows to inf like the true value
        return y * 2.0 * _POW2[1023 + _POW2_OFFSET]
    return y * _POW2[ki + _POW2_OFFSET]  # exact: a power of two


@njit(cache=True)
def log(x: float) -> float:
    """Natural logarithm, identical on every CPU (≤ 1 ulp); NaN below 0, −inf at 0."""
    if x != x or x < 0.0:
        return math.nan
    if x == 0.0:
        return -math.inf
    if x == math.inf:
        return x
    m, e = math.frexp(x)  # x = m·2^e, m in [0.5, 1), exact (also for subnormals)
    if m < _SQRT_HALF:
        m *= 2.0
        e -= 1
    f = m - 1.0  # exact (Sterbenz): m in [√½, √2)
    k = float(e)
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    return k * _LN2_HI - ((hfsq - (s * (hfsq + r) + k * _LN2_LO)) - f)


@njit(cache=True)
def _exp_flat(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.shape[0]):
        out[i] = exp(x[i])


@njit(cache=True)
def _log_flat(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.shape[0]):
        out[i] = log(x[i])


def exp_array(x) -> np.ndarray:
    """Elementwise portable ``exp`` of a float64 array (any shape); a new array."""
    a = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty_like(a)
    _exp_flat(a.reshape(-1), out.reshape(-1))
    return out


def log_array(x) -> np.ndarray:
    """Elementwise portable ``log`` of a float64 array (any shape); a new array."""
    a = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty_like(a)
    _log_flat(a.reshape(-1), out.reshape(-1))
    return out


@njit(cache=True)
def polar_normals(u: np.ndarray, out: np.ndarray) -> int:
    """Fill ``out`` with standard normals from uniforms ``u`` in [0, 1) (Marsaglia's polar method,
    pairs of uniforms, rejected outside the unit disc). Returns how many were filled: fewer than
    ``out.size`` when ``u`` ran out (the caller draws more)."""
    n = out.shape[0]
    j = 0
    i = 0
    while j < n and i + 1 < u.shape[0]:
        a = 2.0 * u[i] - 1.0
        b = 2.0 * u[i + 1] - 1.0
        i += 2
        s = a * a + b * b
        if s >= 1.0 or s == 0.0:
            continue
        f = math.sqrt(-2.0 * log(s) / s)
        out[j] = a * f
        j += 1
        if j < n:
            out[j] = b * f
            j += 1
    return j


@njit(cache=True)
def polar_student_t(u: np.ndarray, df: float, out: np.ndarray) -> int:
    """Fill ``out`` with Student-t draws of ``df`` degrees of freedom from uniforms ``u`` (Bailey's
    polar method: a pair (a, b) in the unit disc, s = a² + b², t = a·sqrt(df·(s^(−2/df) − 1)/s)).
    Returns how many were filled (fewer when ``u`` ran out)."""
    n = out.shape[0]
    j = 0
    i = 0
    while j < n and i + 1 < u.shape[0]:
        a = 2.0 * u[i] - 1.0
        b = 2.0 * u[i + 1] - 1.0
        i += 2
        s = a * a + b * b
        if s >= 1.0 or s == 0.0:
            continue
        out[j] = a * math.sqrt(df * (exp(-2.0 / df * log(s)) - 1.0) / s)
        j += 1
    return j
