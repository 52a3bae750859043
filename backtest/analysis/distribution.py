"""The distribution of a NAV's period returns: shape (skew, kurtosis), tail risk (VaR/CVaR 95 %),
the best and worst period and calendar month, and the hit rates."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from backtest.stats import ZERO_STD_TOL, _iso, _num, monthly_returns

DISTRIBUTION_KEYS: tuple[str, ...] = (
    "n_periods", "skew", "kurtosis", "var_95", "cvar_95", "best_day", "best_day_date", "worst_day",
    "worst_day_date", "best_month", "best_month_period", "worst_month", "worst_month_period", "hit_rate",
    "hit_rate_months",
)
#: the tail of VaR/CVaR: the worst 5 % of period returns
TAIL = 0.05


def value_at_risk(returns, tail: float = TAIL) -> float | None:
    """Historical VaR: the ``tail`` quantile of the returns with linear interpolation
    (``numpy.percentile``'s default). A return, so a loss is negative. None without returns."""
    r = np.asarray(returns, dtype=np.float64)
    return float(np.percentile(r, 100.0 * tail)) if r.size else None


def conditional_value_at_risk(returns, tail: float = TAIL) -> float | None:
    """Historical CVaR (expected shortfall): the mean of the ``⌊(n − 1)·tail⌋ + 1`` lowest returns.
    A return, ≤ VaR. None without returns."""
    r = np.asarray(returns, dtype=np.float64)
    if not r.size:
        return None
    k = int((r.size - 1) * tail)
    return float(np.mean(np.sort(r)[: k + 1]))


def return_distribution(nav, dates) -> dict[str, Any]:
    """Distribution statistics of ``nav``'s period returns (``(T,)`` on increasing UTC ``dates``).

    ``skew`` = m3 / m2^1.5 and ``kurtosis`` = m4 / m2² − 3 (excess kurtosis; m_k the central
    moments with 1/n, as ``scipy.stats.skew``/``kurtosis`` by default); ``var_95``/``cvar_95``
    (``value_at_risk``/``conditional_value_at_risk``, returns: negative is a loss); ``best_day``/
    ``worst_day`` (the extreme period returns — a day on daily data — and the date each ends on);
    ``best_month``/``worst_month`` (calendar months chained as ``monthly_returns``, the first and
    last partial, with ``"YYYY-MM"``); ``hit_rate`` (share of period returns > 0) and
    ``hit_rate_months`` (share of months > 0). None where undefined.
    """
    d = np.asarray(dates).astype("datetime64[D]")
    x = np.asarray(nav, dtype=np.float64)
    if x.shape != d.shape:
        raise ValueError(f"nav {x.shape} and dates {d.shape} must have one shape")
    out: dict[str, Any] = dict.fromkeys(DISTRIBUTION_KEYS)
    out["n_periods"] = max(int(x.size) - 1, 0)
    if x.size < 2:
        return out
    r = x[1:] / x[:-1] - 1.0
    centred = r - r.mean()
    m2 = float(np.mean(centred ** 2))
    if math.sqrt(m2) > ZERO_STD_TOL:
        out["skew"] = _num(float(np.mean(centred ** 3)) / m2 ** 1.5)
        out["kurtosis"] = _num(float(np.mean(centred ** 4)) / m2 ** 2 - 3.0)
    out["var_95"], out["cvar_95"] = _num(value_at_risk(r)), _num(conditional_value_at_risk(r))
    best, worst = int(np.argmax(r)), int(np.argmin(r))
    out.update(best_day=float(r[best]), best_day_date=_iso(d[best + 1]),
               worst_day=float(r[worst]), worst_day_date=_iso(d[worst + 1]))
    months = monthly_returns(d, x)
    if months:
        labels, values = list(months), np.array(list(months.values()))
        hi, lo = int(np.argmax(values)), int(np.argmin(values))
        out.update(best_month=_num(values[hi]), best_month_period=labels[hi],
                   worst_month=_num(values[lo]), worst_month_period=labels[lo],
                   hit_rate_months=float(np.mean(values > 0)))
    out["hit_rate"] = float(np.mean(r > 0))
    return out
