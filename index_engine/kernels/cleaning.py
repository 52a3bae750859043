"""Point-in-time price hygiene: flag closes that depart from their own recent past by a large factor.

A close at row t is a *spike* when it is more than ``factor`` times above, or below 1/``factor`` of, the
median of the last ``window`` valid closes of the same asset observed strictly before t (all of them
while there are fewer; a close is judged once its asset has ``MIN_HISTORY`` valid closes before it, as
the median of fewer cannot outvote one bad print). The median is
taken over the *raw* closes, flagged ones included, so a genuine level shift that persists becomes the
median after ⌈window/2⌉ observations and is accepted from then on; a one-off print (or a run of fewer
than half the window) is flagged and its revert is not. Nothing at or after t enters the reference of t.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Valid closes an asset needs before its next close can be judged (a median of 3 outvotes one outlier).
MIN_HISTORY = 3


@njit(cache=True)
def _median(buf: np.ndarray, m: int, tmp: np.ndarray) -> float:
    """Median of ``buf[:m]`` (mean of the two middle values for even m), sorted in ``tmp``."""
    for j in range(m):  # insertion sort: windows are small
        v = buf[j]
        k = j
        while k > 0 and tmp[k - 1] > v:
            tmp[k] = tmp[k - 1]
            k -= 1
        tmp[k] = v
    if m % 2 == 1:
        return tmp[m // 2]
    return 0.5 * (tmp[m // 2 - 1] + tmp[m // 2])


@njit(cache=True)
def spike_mask(price: np.ndarray, factor: float, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, N) bool: the valid (finite, > 0) closes that are spikes (see the module docstring), and
    (T, N) float64: the reference median of every flagged cell (NaN elsewhere).

    ``window`` must be >= ``MIN_HISTORY``. The reference of row t reads rows < t only, so the mask of row
    t is the same on any panel truncated at or after t.
    """
    t_count, n = price.shape
    mask = np.zeros((t_count, n), np.bool_)
    ref = np.full((t_count, n), np.nan)
    ring = np.empty((n, window))  # the last `window` valid raw closes of each column, oldest overwritten
    seen = np.zeros(n, np.int64)
    tmp = np.empty(window)
    for t in range(t_count):
        row = price[t]
        for i in range(n):
            p = row[i]
            if not (p > 0.0 and p < np.inf):
                continue
            c = seen[i]
            if c >= MIN_HISTORY:
                med = _median(ring[i], min(c, window), tmp)
                if p > med * factor or p * factor < med:
                    mask[t, i] = True
                    ref[t, i] = med
            ring[i, c % window] = p
            seen[i] = c + 1
    return mask, ref
