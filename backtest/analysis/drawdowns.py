"""The drawdown table: the worst peak-to-recovery episodes of a NAV, as ``backtest.stats`` measures
the maximum drawdown (observed NAVs only, starting from ``nav[0]``)."""

from __future__ import annotations

import numpy as np
import polars as pl

DRAWDOWN_COLUMNS = ("rank", "peak", "trough", "recovery", "depth", "decline_days", "recovery_days", "total_days")


def _days(dates) -> np.ndarray:
    return np.asarray(dates).astype("datetime64[D]")


def drawdown_episodes(nav) -> list[tuple[int, int, int | None, float]]:
    """Every drawdown episode in date order: ``(peak, trough, recovery, depth)`` as rows of ``nav``.

    An episode starts after the last observation at the running high (the peak) and ends at the
    first later observation with nav ≥ the peak's nav (the recovery; None if it never comes). The
    trough is the first observation at the episode's lowest nav, depth = nav[trough] / nav[peak] − 1
    (a fraction < 0). The deepest episode is ``compute_stats``' maximum drawdown.
    """
    x = np.asarray(nav, dtype=np.float64)
    if x.size < 2:
        return []
    under = x < np.maximum.accumulate(x)
    edges = np.flatnonzero(np.diff(np.r_[False, under, False].astype(np.int8)))
    out = []
    for a, b in zip(edges[::2], edges[1::2]):  # under water on rows [a, b)
        peak = int(a) - 1
        trough = int(a) + int(np.argmin(x[a:b]))
        recovery = int(b) if b < x.size else None
        out.append((peak, trough, recovery, float(x[trough] / x[peak] - 1.0)))
    return out


def drawdown_table(nav, dates, n: int = 10) -> pl.DataFrame:
    """The ``n`` deepest drawdowns, deepest first (ties: the earlier one first), as a polars frame.

    Columns: ``rank`` (1 = the maximum drawdown), ``peak``, ``trough``, ``recovery`` (UTC dates;
    recovery null when not recovered by the last date), ``depth`` (fraction ≤ 0),
    ``decline_days`` (peak → trough), ``recovery_days`` (trough → recovery; null if not recovered)
    and ``total_days`` (peak → recovery, or → the last date) in calendar days. Rank 1 has the
    dates and ``total_days`` of ``max_drawdown_peak``/``_trough``/``_recovery``/``_days``.
    """
    d = _days(dates)
    x = np.asarray(nav, dtype=np.float64)
    if x.shape != d.shape:
        raise ValueError(f"nav {x.shape} and dates {d.shape} must have one shape")
    if not np.all(np.isfinite(x) & (x > 0)):
        raise ValueError("nav must be finite and > 0")
    episodes = sorted(drawdown_episodes(x), key=lambda e: (e[3], e[0]))[: max(int(n), 0)]

    def gap(a, b) -> int:
        return int((d[b] - d[a]).astype(np.int64))

    rows = [{
        "rank": i + 1, "peak": d[p].item(), "trough": d[t].item(),
        "recovery": None if r is None else d[r].item(), "depth": depth,
        "decline_days": gap(p, t), "recovery_days": None if r is None else gap(t, r),
        "total_days": gap(p, x.size - 1 if r is None else r),
    } for i, (p, t, r, depth) in enumerate(episodes)]
    schema = {"rank": pl.Int64, "peak": pl.Date, "trough": pl.Date, "recovery": pl.Date, "depth": pl.Float64,
              "decline_days": pl.Int64, "recovery_days": pl.Int64, "total_days": pl.Int64}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
