"""Random draws that give the same bits on every CPU, from a ``numpy.random.Generator``.

Only the generator's raw uniforms (``random``: a 53-bit integer times 2**-53, exact) and integers
are used; every transformation is IEEE-754 arithmetic or the portable ``exp``/``log`` of
``index_engine.kernels.portable``. numpy's own ``standard_normal``/``standard_t``/``uniform`` go
through libm or may be compiled with fused multiply-adds on some platforms, so they are avoided
wherever the result is pinned (the embedded synthetic market).
"""

from __future__ import annotations

import math

import numpy as np

from index_engine.kernels.portable import polar_normals, polar_student_t


def uniform(rng: np.random.Generator, low: float, high: float, size=None):
    """Uniform on [low, high): ``low + (high − low)·u`` with one rounding per operation."""
    u = rng.random(size)
    if size is None:
        return low + (high - low) * float(u)
    u *= high - low
    u += low
    return u


def normal(rng: np.random.Generator, size) -> np.ndarray:
    """Standard normal draws of shape ``size`` (polar method)."""
    shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    return _fill(rng, polar_normals, (), math.prod(shape), pairs_per_draw=0.65).reshape(shape)


def student_t(rng: np.random.Generator, df: float, size) -> np.ndarray:
    """Student-t draws with ``df`` degrees of freedom, shape ``size`` (Bailey's polar method)."""
    shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    return _fill(rng, polar_student_t, (float(df),), math.prod(shape), pairs_per_draw=1.3).reshape(shape)


def _fill(rng: np.random.Generator, kernel, args: tuple, n: int, pairs_per_draw: float) -> np.ndarray:
    """Call a polar-method ``kernel(u, *args, out)`` on fresh uniforms until ``n`` draws are made."""
    out = np.empty(n)
    filled = 0
    while filled < n:
        pairs = int((n - filled) * pairs_per_draw) + 8
        filled += kernel(rng.random(2 * pairs), *args, out[filled:])
    return out
