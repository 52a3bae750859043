"""Sparse per-trade rows (CSR): the members and target weights of every trade without an R × N matrix.

Row k holds ``col[ptr[k]:ptr[k + 1]]`` (columns ascending) and the matching ``weight`` entries. A plan
over 3,650 daily trades of a 20,000-asset panel stores ~100 entries per trade instead of 73 million
cells.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


class Targets(NamedTuple):
    """Target weights per trade in CSR form.

    ptr: (R + 1,) int64 row offsets; col: (nnz,) int64 asset columns, ascending within a row;
    weight: (nnz,) float64 target weight of each entry (a fraction of NAV).
    """

    ptr: np.ndarray
    col: np.ndarray
    weight: np.ndarray

    @property
    def n_trades(self) -> int:
        """R, the number of trades."""
        return int(self.ptr.shape[0] - 1)

    def row(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(columns, weights) of trade ``k``."""
        a, b = int(self.ptr[k]), int(self.ptr[k + 1])
        return self.col[a:b], self.weight[a:b]

    def row_sums(self) -> np.ndarray:
        """(R,) Σ weights of each trade (the risk share)."""
        return row_sums(self.ptr, self.weight)

    def to_dense(self, n_assets: int) -> np.ndarray:
        """(R, N) dense weights; allocates R × N floats (for inspection and small panels)."""
        out = np.zeros((self.n_trades, n_assets))
        rows = np.repeat(np.arange(self.n_trades), np.diff(self.ptr))
        out[rows, self.col] = self.weight
        return out

    @classmethod
    def from_dense(cls, weights: np.ndarray) -> Targets:
        """CSR of the positive entries of an (R, N) matrix."""
        rows, cols = np.nonzero(weights > 0)
        ptr = np.zeros(weights.shape[0] + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=weights.shape[0]), out=ptr[1:])
        return cls(ptr, cols.astype(np.int64), np.ascontiguousarray(weights[rows, cols], dtype=np.float64))

    @classmethod
    def empty(cls, n_trades: int) -> Targets:
        """Targets of ``n_trades`` trades without any member."""
        return cls(np.zeros(n_trades + 1, np.int64), np.zeros(0, np.int64), np.zeros(0))


@njit(cache=True)
def row_sums(ptr: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(R,) sum of each CSR row, in column order (the same summation order as the kernels)."""
    out = np.zeros(ptr.shape[0] - 1)
    for k in range(ptr.shape[0] - 1):
        s = 0.0
        for j in range(ptr[k], ptr[k + 1]):
            s += weight[j]
        out[k] = s
    return out
