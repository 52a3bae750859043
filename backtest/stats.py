"""Performance statistics of a backtest, as pure numpy functions.

Conventions (crypto markets trade every day):

* UTC calendar dates, 7 days a week; a year is 365 calendar days (no leap-year adjustment).
* Period returns are simple returns between consecutive observations, ``nav[t] / nav[t-1] - 1``;
  ``nav[0]`` is the value after the first date's trades, so the first return is ``nav[1]/nav[0] - 1``.
* Annualisation uses ``periods_per_year = 365 / median spacing in days`` of the observation calendar.
* Risk-free rate is 0: Sharpe and Sortino are computed on raw returns (no excess over cash).
* Drawdowns are measured on the observed navs only (no intra-period path), starting from ``nav[0]``.
* Undefined statistics are ``None`` — the output never contains NaN or inf.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

DAYS_PER_YEAR = 365.0
#: A standard deviation of period returns (a fraction) at or below this is treated as zero:
#: it only arises from floating-point noise, e.g. a constant-growth nav.
ZERO_STD_TOL = 1e-12

STATS_KEYS: tuple[str, ...] = (
    "start", "end", "n_observations", "years", "periods_per_year",
    "initial_nav", "final_nav", "total_return", "cagr", "volatility", "sharpe", "sortino",
    "max_drawdown", "max_drawdown_peak", "max_drawdown_trough", "max_drawdown_recovery",
    "max_drawdown_days", "calmar", "best_period", "worst_period",
    "turnover_total", "turnover_annualised",
    "costs_fee", "costs_platform_fee", "costs_slippage", "costs_gas", "costs_total", "cost_drag_bps_per_year",
    "n_regime_switches", "time_invested", "n_trade_dates",
)
#: the statistics of one row of a sweep (``STATS_KEYS`` plus the order counts)
ROW_STATS: tuple[str, ...] = (*STATS_KEYS, "n_transactions", "n_unfilled_orders", "n_reconstitutions",
                              "n_rebalances_skipped", "stable_yield")


def _as_days(dates: np.ndarray) -> np.ndarray:
    return np.asarray(dates).astype("datetime64[D]")


def _iso(d: np.datetime64) -> str:
    return str(np.asarray(d).astype("datetime64[D]"))


def _num(x: Any) -> Optional[float]:
    """A python float, or None if missing / NaN / inf."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def periods_per_year(dates: np.ndarray) -> float:
    """Observations per 365-day year: ``365 / median spacing in days`` (daily → 365, weekly → 52.14).

    Raises ``ValueError`` with fewer than two dates (no spacing to measure).
    """
    d = _as_days(dates)
    if d.size < 2:
        raise ValueError("periods_per_year needs at least two dates")
    spacing = float(np.median(np.diff(d).astype(np.int64)))
    if spacing <= 0:
        raise ValueError("dates must be strictly increasing")
    return DAYS_PER_YEAR / spacing


def period_returns(nav: np.ndarray) -> np.ndarray:
    """Simple returns between consecutive observations, ``(T-1,)``: ``nav[1:] / nav[:-1] - 1``."""
    nav = np.asarray(nav, dtype=np.float64)
    return nav[1:] / nav[:-1] - 1.0


def drawdown_series(nav: np.ndarray) -> np.ndarray:
    """Drawdown at each observation as a fraction ≤ 0: ``nav / running max(nav) - 1``."""
    nav = np.asarray(nav, dtype=np.float64)
    return nav / np.maximum.accumulate(nav) - 1.0


def calendar_returns(dates: np.ndarray, nav: np.ndarray, unit: str = "Y") -> dict[str, float]:
    """Calendar-period (UTC) simple returns keyed by period: ``unit`` "Y" gives ``{"2021": 0.53}``,
    "M" gives ``{"2021-03": -0.04}``.

    Each period runs from the last nav of the previous period to its own last nav; the first period
    is measured from the first nav (a partial period), the last one to the last nav. ``dates`` are
    increasing. A NaN nav gives NaN for the periods it bounds.
    """
    if unit not in ("Y", "M"):
        raise ValueError(f"unit must be 'Y' or 'M', got {unit!r}")
    d = _as_days(dates)
    nav = np.asarray(nav, dtype=np.float64)
    if d.size == 0:
        return {}
    periods = d.astype(f"datetime64[{unit}]")
    last = np.flatnonzero(np.r_[periods[1:] != periods[:-1], True])  # last row of each period
    ends = nav[last]
    bases = np.r_[nav[0], ends[:-1]]
    return {str(p): float(r) for p, r in zip(periods[last], ends / bases - 1.0)}


def yearly_returns(dates: np.ndarray, nav: np.ndarray) -> dict[str, float]:
    """Calendar-year (UTC) simple returns keyed by year, e.g. ``{"2021": 0.53}``.

    Each year runs from the last nav of the previous year to the last nav of the year; the first
    year is measured from the first nav (a partial year), the last year to the last nav.
    """
    return calendar_returns(dates, nav, "Y")


def monthly_returns(dates: np.ndarray, nav: np.ndarray) -> dict[str, float]:
    """Calendar-month (UTC) simple returns keyed ``"YYYY-MM"``, chained like ``yearly_returns``:
    the months of a year compound to that year's return."""
    return calendar_returns(dates, nav, "M")


def _max_drawdown(d: np.ndarray, nav: np.ndarray) -> dict[str, Any]:
    dd = drawdown_series(nav)
    trough = int(np.argmin(dd))  # first occurrence of the deepest drawdown
    depth = float(dd[trough])
    if depth >= 0.0:
        return {"max_drawdown": 0.0, "max_drawdown_peak": None, "max_drawdown_trough": None,
                "max_drawdown_recovery": None, "max_drawdown_days": 0}
    peak_nav = nav[: trough + 1].max()
    # Peak = the last observation at the high before the trough (the drawdown starts there).
    peak = int(np.flatnonzero(nav[: trough + 1] >= peak_nav)[-1])
    after = np.flatnonzero(nav[trough + 1:] >= peak_nav)
    recovery = trough + 1 + int(after[0]) if after.size else None
    end = recovery if recovery is not None else len(nav) - 1
    return {
        "max_drawdown": depth,
        "max_drawdown_peak": _iso(d[peak]),
        "max_drawdown_trough": _iso(d[trough]),
        "max_drawdown_recovery": _iso(d[recovery]) if recovery is not None else None,
        "max_drawdown_days": int((d[end] - d[peak]).astype(np.int64)),
    }


def compute_stats(
    dates: np.ndarray,
    nav: np.ndarray,
    turnover: np.ndarray,
    fee: np.ndarray,
    slippage: np.ndarray,
    gas: np.ndarray,
    risk_on: np.ndarray,
    n_regime_switches: int,
    platform_fee: np.ndarray | None = None,
    initial_value: float | None = None,
) -> dict[str, Any]:
    """Summary statistics of a backtest window as a flat JSON-serialisable dict (keys: ``STATS_KEYS``).

    Inputs are ``(T,)`` arrays over the observations: ``dates`` (datetime64[D], strictly increasing,
    UTC), ``nav`` (> 0, after each date's trades), ``turnover`` (one-way, fraction of nav; 0 on
    non-trade dates), ``fee``/``slippage``/``gas`` (USD per observation), ``risk_on`` (bool, or the
    invested share in [0, 1]: holds risk assets). Returns are fractions (0.1 = 10 %), dates ISO strings,
    durations calendar days,
    ``years = (end - start).days / 365``. Risk-free rate 0. Undefined values are ``None``.
    ``platform_fee`` (USD per observation) is reported beside the exchange fee. ``initial_value``
    (the money put in, before the first date's costs) is the base of ``total_return`` and ``cagr``;
    by default ``nav[0]``.
    """
    d = _as_days(dates)
    nav = np.asarray(nav, dtype=np.float64)
    turnover = np.asarray(turnover, dtype=np.float64)
    fee, slippage, gas = (np.asarray(a, dtype=np.float64) for a in (fee, slippage, gas))
    platform = np.zeros_like(fee) if platform_fee is None else np.asarray(platform_fee, dtype=np.float64)
    risk_on = np.asarray(risk_on, dtype=np.float64)

    T = d.size
    if T == 0:
        raise ValueError("compute_stats needs at least one observation")
    for name, a in (("nav", nav), ("turnover", turnover), ("fee", fee), ("slippage", slippage),
                    ("gas", gas), ("platform_fee", platform), ("risk_on", risk_on)):
        if a.shape != (T,):
            raise ValueError(f"{name} has shape {a.shape}, expected ({T},) like dates")
        if a.dtype != bool and not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or inf")
    if T > 1 and np.any(np.diff(d).astype(np.int64) <= 0):
        raise ValueError("dates must be strictly increasing")
    if np.any(nav <= 0):
        raise ValueError("nav must be > 0")

    years = float((d[-1] - d[0]).astype(np.int64)) / DAYS_PER_YEAR
    ppy = periods_per_year(d) if T > 1 else None

    start_value = float(nav[0]) if initial_value is None else float(initial_value)
    growth = nav[-1] / start_value  # from the money put in, so first-day costs count
    total_return = growth - 1.0
    # expm1(log) keeps the sign of cagr identical to that of total_return; a very short window with
    # a large return would overflow a float (> e^709) and is reported as None.
    cagr = None
    if years > 0:
        log_growth_per_year = math.log(growth) / years
        cagr = math.expm1(log_growth_per_year) if log_growth_per_year <= 709.0 else None

    r = period_returns(nav)
    volatility = sharpe = sortino = best = worst = None
    if r.size >= 1:
        best, worst = float(r.max()), float(r.min())
        mean = float(r.mean())
        downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
        if downside > ZERO_STD_TOL and ppy is not None:
            sortino = mean / downside * math.sqrt(ppy)
    if r.size >= 2:
        std = float(r.std(ddof=1))
        if std > ZERO_STD_TOL and ppy is not None:
            volatility = std * math.sqrt(ppy)
            sharpe = mean / std * math.sqrt(ppy)
        else:
            volatility = 0.0

    mdd = _max_drawdown(d, nav)
    calmar = cagr / abs(mdd["max_drawdown"]) if cagr is not None and mdd["max_drawdown"] < 0 else None

    turnover_total = float(turnover.sum())
    costs_fee, costs_slippage, costs_gas = float(fee.sum()), float(slippage.sum()), float(gas.sum())
    costs_platform = float(platform.sum())
    costs_total = costs_fee + costs_platform + costs_slippage + costs_gas
    traded = (turnover > 0) | (fee > 0) | (platform > 0) | (slippage > 0) | (gas > 0)

    out: dict[str, Any] = {
        "start": _iso(d[0]),
        "end": _iso(d[-1]),
        "n_observations": int(T),
        "years": years,
        "periods_per_year": _num(ppy),
        "initial_nav": start_value,
        "final_nav": float(nav[-1]),
        "total_return": _num(total_return),
        "cagr": _num(cagr),
        "volatility": _num(volatility),
        "sharpe": _num(sharpe),
        "sortino": _num(sortino),
        **mdd,
        "calmar": _num(calmar),
        "best_period": _num(best),
        "worst_period": _num(worst),
        "turnover_total": turnover_total,
        "turnover_annualised": _num(turnover_total / years) if years > 0 else None,
        "costs_fee": costs_fee,
        "costs_platform_fee": costs_platform,
        "costs_slippage": costs_slippage,
        "costs_gas": costs_gas,
        "costs_total": costs_total,
        "cost_drag_bps_per_year": _num(costs_total / float(nav.mean()) / years * 1e4) if years > 0 else None,
        "n_regime_switches": int(n_regime_switches),
        "time_invested": float(risk_on.mean()),
        "n_trade_dates": int(traded.sum()),
    }
    return {k: out[k] for k in STATS_KEYS}


# ------------------------------------------------------------------------------------ by regime
def regime_threshold(sma: float, band: float, state: str) -> float | None:
    """The signal level whose crossing switches the regime: ``sma × (1 − band)`` while ``state`` is
    "bull" (the exit level), ``sma × (1 + band)`` while "bear" (the re-entry level). Same unit as
    the signal (USD); None while the SMA is undefined."""
    level = _num(sma)
    if level is None:
        return None
    return level * (1.0 - band) if state == "bull" else level * (1.0 + band)


def signal_distance(signal: float, threshold: float | None) -> float | None:
    """``signal / threshold − 1`` (a fraction; > 0 above the threshold), None where undefined."""
    value, level = _num(signal), _num(threshold)
    if value is None or level is None or level <= 0:
        return None
    return value / level - 1.0


def regime_runs(regime) -> list[tuple[int, int]]:
    """``[start, stop)`` row ranges of the runs of equal consecutive labels, in order."""
    labels = np.asarray(regime)
    if labels.size == 0:
        return []
    starts = np.r_[0, np.flatnonzero(labels[1:] != labels[:-1]) + 1]
    stops = np.r_[starts[1:], labels.size]
    return [(int(a), int(b)) for a, b in zip(starts, stops)]


def regime_statistics(nav: np.ndarray, regime, periods_per_year: float,
                      states: tuple[str, ...] = ("bull", "bear")) -> dict[str, dict[str, Any]]:
    """Statistics of the period returns earned in each regime, keyed by state.

    The return from t−1 to t counts in ``regime[t−1]``: it is earned by the portfolio set then.
    Non-finite returns (e.g. a benchmark before its data starts) are left out. Per state:
    ``periods`` (returns counted), ``total_return`` (compounded), ``annualised``
    (``growth ** (periods_per_year / periods) − 1``: compounded over that regime's periods only),
    ``volatility`` (annualised, ddof 1) and ``sharpe`` (risk-free 0); fractions, None where undefined.
    """
    nav = np.asarray(nav, dtype=np.float64)
    labels = np.asarray(regime)[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r_all = period_returns(nav) if nav.size > 1 else np.zeros(0)
    out: dict[str, dict[str, Any]] = {}
    for state in states:
        r = r_all[labels == state]
        r = r[np.isfinite(r)]
        growth = float(np.prod(1.0 + r)) if r.size else None
        std = float(r.std(ddof=1)) if r.size > 1 else None
        out[state] = {
            "periods": int(r.size),
            "total_return": None if growth is None else growth - 1.0,
            "annualised": _num(growth ** (periods_per_year / r.size) - 1.0) if growth and growth > 0 else None,
            "volatility": None if std is None else (std * math.sqrt(periods_per_year) if std > ZERO_STD_TOL else 0.0),
            "sharpe": float(r.mean()) / std * math.sqrt(periods_per_year) if std and std > ZERO_STD_TOL else None,
        }
    return out


def regime_periods(dates: np.ndarray, regime, series: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Each run of equal ``regime``: ``regime``, ``first`` and ``last`` date (ISO), ``days``
    (calendar days, inclusive) and ``returns`` {name: value at the next run's first date (the last
    date for the final run) / value at the first date − 1}, so the runs chain into the whole return."""
    d = _as_days(dates)
    labels = np.asarray(regime)
    out = []
    for a, b in regime_runs(labels):
        end = min(b, d.size - 1)  # the next run's first row; the last row for the final run
        last = b - 1
        out.append({
            "regime": str(labels[a]), "first": _iso(d[a]), "last": _iso(d[last]),
            "days": int((d[last] - d[a]).astype(np.int64)) + 1,
            "returns": {name: _num(np.asarray(v, dtype=np.float64)[end] / v[a] - 1.0) for name, v in series.items()},
        })
    return out
