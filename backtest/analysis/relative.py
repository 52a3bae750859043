"""Relative statistics of a NAV against a benchmark NAV (or another run), on their common dates.

Conventions are those of ``backtest.stats`` (UTC days, 365-day years, risk-free rate 0, sample
standard deviations with ddof 1, a standard deviation ≤ ``ZERO_STD_TOL`` counts as zero, undefined
values are ``None``). Returns are simple returns between consecutive *common* observations: rows
where either NAV is missing, non-finite or ≤ 0 are left out, and the return across such a gap is
one period. ``r`` are the index's period returns, ``b`` the benchmark's, ``a = r − b`` the active
returns, ``ppy`` = ``periods_per_year`` of the common dates. Formulas: docs/outputs.md ("relative").
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from backtest.stats import DAYS_PER_YEAR, ZERO_STD_TOL, _num, periods_per_year

RELATIVE_KEYS: tuple[str, ...] = (
    "excess_return", "tracking_error", "information_ratio", "beta", "alpha", "correlation",
    "up_capture", "down_capture",
)


def _days(dates) -> np.ndarray:
    return np.asarray(dates).astype("datetime64[D]")


def annualised_growth(returns: np.ndarray, ppy: float) -> Optional[float]:
    """``Π(1 + r) ^ (ppy / n) − 1``: the returns compounded and scaled to a year of ``ppy`` periods
    (as ``regime_statistics``' "annualised"), computed in logs. None without returns or when the
    result overflows a float."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size == 0 or np.any(r <= -1.0):
        return None
    log_per_year = float(np.log1p(r).sum()) * ppy / r.size
    return math.expm1(log_per_year) if log_per_year <= 709.0 else None


def _cagr(growth: float, years: float) -> Optional[float]:
    if years <= 0 or not growth > 0:
        return None
    per_year = math.log(growth) / years
    return math.expm1(per_year) if per_year <= 709.0 else None


def align(dates_a, nav_a, dates_b, nav_b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two NAV series on their common dates: ``(dates, nav_a, nav_b)``; each input's dates are
    strictly increasing."""
    da, db = _days(dates_a), _days(dates_b)
    common, ia, ib = np.intersect1d(da, db, assume_unique=True, return_indices=True)
    return common, np.asarray(nav_a, dtype=np.float64)[ia], np.asarray(nav_b, dtype=np.float64)[ib]


def relative_stats(nav, bench_nav, dates, initial_values: tuple[float, float] | None = None,
                   ppy: float | None = None) -> dict[str, Any]:
    """The eight relative statistics (``RELATIVE_KEYS``) of ``nav`` against ``bench_nav``.

    ``nav`` and ``bench_nav`` are ``(T,)`` values on the same ``dates`` (increasing UTC days; NaN
    where a series has no value). ``initial_values`` (the money put into each, before the first
    date's costs) are the bases of the two CAGRs of ``excess_return`` when the first date is a
    common observation, as ``total_return``/``cagr`` in ``compute_stats``; by default the NAVs at the
    first common date. ``ppy`` overrides the periods per year (default: from the common dates).

    Units: ``excess_return``, ``tracking_error``, ``alpha`` are fractions per year;
    ``information_ratio``, ``beta``, ``correlation``, ``up_capture``, ``down_capture`` are ratios.
    """
    nav = np.asarray(nav, dtype=np.float64)
    bench = np.asarray(bench_nav, dtype=np.float64)
    d = _days(dates)
    if nav.shape != d.shape or bench.shape != d.shape:
        raise ValueError(f"nav {nav.shape}, bench_nav {bench.shape} and dates {d.shape} must have one shape")
    if d.size > 1 and np.any(np.diff(d).astype(np.int64) <= 0):
        raise ValueError("dates must be strictly increasing")
    with np.errstate(invalid="ignore"):
        keep = np.isfinite(nav) & np.isfinite(bench) & (nav > 0) & (bench > 0)
    out: dict[str, Any] = dict.fromkeys(RELATIVE_KEYS)
    if keep.sum() < 2:
        return out
    x, y, dk = nav[keep], bench[keep], d[keep]
    ppy = float(ppy) if ppy is not None else periods_per_year(dk)
    years = float((dk[-1] - dk[0]).astype(np.int64)) / DAYS_PER_YEAR
    base_x, base_y = (initial_values if initial_values is not None and keep[0] else (x[0], y[0]))
    cagr_x, cagr_y = _cagr(x[-1] / base_x, years), _cagr(y[-1] / base_y, years)
    if cagr_x is not None and cagr_y is not None:
        out["excess_return"] = _num(cagr_x - cagr_y)

    r, b = x[1:] / x[:-1] - 1.0, y[1:] / y[:-1] - 1.0
    n = r.size
    if n >= 2:
        active = r - b
        te = float(active.std(ddof=1))
        if te > ZERO_STD_TOL:
            out["tracking_error"] = _num(te * math.sqrt(ppy))
            out["information_ratio"] = _num(float(active.mean()) / te * math.sqrt(ppy))
        else:
            out["tracking_error"] = 0.0
        sd_r, sd_b = float(r.std(ddof=1)), float(b.std(ddof=1))
        bc = b - b.mean()
        if sd_b > ZERO_STD_TOL:
            beta = float(np.mean(bc * r)) / float(np.mean(bc * bc))
            out["beta"] = _num(beta)
            alpha_per_period = float(np.mean(r - beta * b))
            if alpha_per_period > -1.0:
                log_alpha = ppy * math.log1p(alpha_per_period)
                out["alpha"] = _num(math.expm1(log_alpha)) if log_alpha <= 709.0 else None
            if sd_r > ZERO_STD_TOL:
                rc = r - r.mean()
                corr = float(np.mean(bc * rc)) / math.sqrt(float(np.mean(bc * bc)) * float(np.mean(rc * rc)))
                out["correlation"] = _num(min(1.0, max(-1.0, corr)))
    out["up_capture"] = _capture(r, b, b > 0)
    out["down_capture"] = _capture(r, b, b < 0)
    return out


def _capture(r: np.ndarray, b: np.ndarray, mask: np.ndarray) -> Optional[float]:
    """Geometric mean return per period of r over ``mask`` / that of b; None if undefined.

    Not annualised: raising each side to ppy / |mask| (empyrical's convention) turns a ratio of daily
    means of 1.5 % / 2.5 % into (1.015³⁶⁵ − 1) / (1.025³⁶⁵ − 1) ≈ 0.03, and any two down sides into ≈ 1."""
    if not mask.any():
        return None
    gr, gb = annualised_growth(r[mask], 1.0), annualised_growth(b[mask], 1.0)
    if gr is None or gb is None or gb == 0.0:
        return None
    return _num(gr / gb)


def relative_between(dates_a, nav_a, dates_b, nav_b,
                     initial_values: tuple[float, float] | None = None) -> dict[str, Any]:
    """``relative_stats`` of run A against run B on their common dates (e.g. two run folders).
    ``initial_values`` apply only when both runs start on the same date."""
    common, xa, xb = align(dates_a, nav_a, dates_b, nav_b)
    same_start = common.size > 0 and common[0] == _days(dates_a)[0] == _days(dates_b)[0]
    return relative_stats(xa, xb, common, initial_values if same_start else None)
