"""Rolling statistics of a NAV: trailing return, volatility, Sharpe and beta over a moving window.

Each date t gets the statistics of its trailing window: the period returns ending after the
window's base row s and on or before t. With ``window`` an int, s = t − window (that many
returns); with ``"<n> days"``, s is the last row dated on or before date[t] − n days (on daily data
"365 days" is the 365 returns of the trailing year). Before a full window the values are null.
Annualisation uses the whole series' ``periods_per_year``, as the summary statistics do.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import polars as pl

from backtest.stats import ZERO_STD_TOL, periods_per_year

ROLLING_COLUMNS = ("date", "return", "volatility", "sharpe", "beta")
#: at most this many cells in one block of the padded window matrix (bounds the memory used)
_BLOCK_CELLS = 2_000_000
_DAYS = re.compile(r"^\s*(\d+)\s*(d|day|days)\s*$")


def window_bases(dates, window: int | str) -> np.ndarray:
    """(T,) base row of each date's window, or −1 where the window is not full (see module doc)."""
    d = np.asarray(dates).astype("datetime64[D]")
    rows = np.arange(d.size)
    if isinstance(window, (int, np.integer)) and not isinstance(window, bool):
        if window < 1:
            raise ValueError(f"window must be ≥ 1 observation, got {window}")
        base = rows - int(window)
    else:
        m = _DAYS.match(str(window))
        if not m or int(m.group(1)) < 1:
            raise ValueError(f"window must be an int (observations) or '<n> days', got {window!r}")
        start = d - np.timedelta64(int(m.group(1)), "D")
        base = np.searchsorted(d, start, side="right") - 1
        base = np.where(start >= d[0], base, -1) if d.size else base
    return np.where(base >= 0, base, -1)


def _windows(values: np.ndarray, base: np.ndarray, rows: np.ndarray, width: int) -> np.ndarray:
    """(len(rows), width) returns of each row's window, NaN-padded on the right."""
    start = base[rows]
    idx = start[:, None] + np.arange(width)[None, :]
    valid = idx < rows[:, None]
    return np.where(valid, values[np.minimum(idx, values.size - 1)], np.nan)


def rolling_stats(nav, dates, window: int | str = "365 days", bench=None) -> pl.DataFrame:
    """Trailing-window statistics of ``nav`` (``(T,)`` on increasing UTC ``dates``), one row per date.

    Columns: ``date``; ``return`` = nav[t] / nav[s] − 1 (not annualised); ``volatility`` = std of
    the window's returns (ddof 1) × √ppy, 0.0 when ≤ 1e-12; ``sharpe`` = mean / std × √ppy (rf 0;
    null with a zero std); ``beta`` = OLS slope of the window's returns on ``bench``'s (a ``(T,)``
    NAV on the same dates; null without it, where it is not finite, or with a zero benchmark std).
    A window needs ≥ 2 returns for volatility, Sharpe and beta.
    """
    d = np.asarray(dates).astype("datetime64[D]")
    x = np.asarray(nav, dtype=np.float64)
    if x.shape != d.shape:
        raise ValueError(f"nav {x.shape} and dates {d.shape} must have one shape")
    T = x.size
    cols = {k: np.full(T, np.nan) for k in ROLLING_COLUMNS[1:]}
    if T >= 2:
        ppy = periods_per_year(d)
        base = window_bases(d, window)
        full = np.flatnonzero(base >= 0)
        r = x[1:] / x[:-1] - 1.0  # r[j] ends on row j + 1
        b = None
        if bench is not None:
            y = np.asarray(bench, dtype=np.float64)
            if y.shape != d.shape:
                raise ValueError(f"bench {y.shape} and dates {d.shape} must have one shape")
            with np.errstate(invalid="ignore", divide="ignore"):
                b = y[1:] / y[:-1] - 1.0
        cols["return"][full] = x[full] / x[base[full]] - 1.0
        width = int((full - base[full]).max()) if full.size else 0
        step = max(1, _BLOCK_CELLS // max(width, 1))
        for lo in range(0, full.size, step):
            _fill(cols, r, b, base, full[lo: lo + step], width, ppy)
    return pl.DataFrame({"date": d, **{k: pl.Series(k, v, dtype=pl.Float64).fill_nan(None) for k, v in cols.items()}})


def _fill(cols: dict, r: np.ndarray, b: np.ndarray | None, base: np.ndarray, rows: np.ndarray, width: int,
          ppy: float) -> None:
    w = _windows(r, base, rows, width)
    n = np.sum(np.isfinite(w), axis=1)
    ok = n >= 2
    if not ok.any():
        return
    w, rows, n = w[ok], rows[ok], n[ok]
    mean = np.nanmean(w, axis=1)
    centred = w - mean[:, None]
    std = np.sqrt(np.nansum(centred ** 2, axis=1) / (n - 1))
    zero = std <= ZERO_STD_TOL
    cols["volatility"][rows] = np.where(zero, 0.0, std * math.sqrt(ppy))
    with np.errstate(divide="ignore", invalid="ignore"):
        cols["sharpe"][rows] = np.where(zero, np.nan, mean / std * math.sqrt(ppy))
    if b is None:
        return
    wb = _windows(b, base, rows, width)
    complete = np.all(np.isfinite(wb) == np.isfinite(w), axis=1)
    with warnings.catch_warnings():  # a window where the benchmark has no value: null beta
        warnings.simplefilter("ignore", RuntimeWarning)
        bc = wb - np.nanmean(wb, axis=1)[:, None]
    var_b = np.nansum(bc ** 2, axis=1) / n
    std_b = np.sqrt(var_b * n / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.nansum(bc * w, axis=1) / n / var_b
    cols["beta"][rows] = np.where(complete & (std_b > ZERO_STD_TOL), beta, np.nan)
