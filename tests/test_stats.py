"""Tests for backtest.stats' summary statistics (compute_stats): hand-computed examples, a pandas
cross-check, degenerate inputs, JSON safety, properties. The returns by year, month and regime are
in tests/test_stats_breakdowns.py."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.stats import STATS_KEYS, compute_stats, drawdown_series, periods_per_year
from tests._helpers import SQ365, daily
from tests._hypothesis import examples


def stats(nav, dates=None, *, turnover=None, fee=None, slippage=None, gas=None, risk_on=None,
          n_regime_switches=0) -> dict:
    nav = np.asarray(nav, dtype=float)
    T = nav.size
    dates = daily("2021-01-01", T) if dates is None else np.asarray(dates, dtype="datetime64[D]")
    z = np.zeros(T)
    return compute_stats(
        dates, nav,
        z if turnover is None else np.asarray(turnover, float),
        z if fee is None else np.asarray(fee, float),
        z if slippage is None else np.asarray(slippage, float),
        z if gas is None else np.asarray(gas, float),
        np.ones(T, bool) if risk_on is None else np.asarray(risk_on, bool),
        n_regime_switches,
    )


def assert_json_safe(s: dict) -> None:
    assert tuple(s) == STATS_KEYS
    json.dumps(s, allow_nan=False)
    for v in s.values():
        assert v is None or type(v) in (int, float, str)


# --------------------------------------------------------------------------- periods_per_year


def test_periods_per_year_daily_weekly():
    assert periods_per_year(daily("2021-01-01", 10)) == 365.0
    weekly = np.datetime64("2021-01-04") + 7 * np.arange(20)
    assert periods_per_year(weekly) == pytest.approx(365 / 7)
    assert periods_per_year(weekly) == pytest.approx(52.142857, abs=1e-6)


def test_periods_per_year_median_spacing():
    # spacings 1, 1, 1, 30: median 1 → daily
    d = np.array(["2021-01-01", "2021-01-02", "2021-01-03", "2021-01-04", "2021-02-03"], "datetime64[D]")
    assert periods_per_year(d) == 365.0


def test_periods_per_year_needs_two_dates():
    with pytest.raises(ValueError):
        periods_per_year(daily("2021-01-01", 1))


def test_weekly_stats_use_weekly_annualisation():
    dates = np.datetime64("2021-01-04") + 7 * np.arange(4)
    s = stats([100, 110, 99, 103.95], dates)
    assert s["periods_per_year"] == pytest.approx(365 / 7)
    assert s["sharpe"] == pytest.approx(1 / math.sqrt(39) * math.sqrt(365 / 7))
    assert s["years"] == pytest.approx(21 / 365)


# --------------------------------------------------------------------------- returns & CAGR


def test_constant_growth_known_cagr_and_no_drawdown():
    # 2021-01-01 .. 2022-01-01: 365 days = exactly one year, nav grows 10 %.
    dates = daily("2021-01-01", 366)
    nav = 100 * 1.1 ** (np.arange(366) / 365)
    s = stats(nav, dates)
    assert s["start"] == "2021-01-01" and s["end"] == "2022-01-01"
    assert s["n_observations"] == 366
    assert s["years"] == 1.0
    assert s["periods_per_year"] == 365.0
    assert s["initial_nav"] == 100.0
    assert s["final_nav"] == pytest.approx(110.0)
    assert s["total_return"] == pytest.approx(0.10)
    assert s["cagr"] == pytest.approx(0.10)
    assert s["max_drawdown"] == 0.0
    assert s["max_drawdown_peak"] is None
    assert s["max_drawdown_trough"] is None
    assert s["max_drawdown_recovery"] is None
    assert s["max_drawdown_days"] == 0
    assert s["calmar"] is None  # no drawdown
    # identical returns (up to float noise): zero volatility, Sharpe undefined, no downside
    assert s["volatility"] == 0.0
    assert s["sharpe"] is None
    assert s["sortino"] is None
    assert s["best_period"] == pytest.approx(1.1 ** (1 / 365) - 1)
    assert s["worst_period"] == pytest.approx(1.1 ** (1 / 365) - 1)
    assert_json_safe(s)


def test_cagr_two_years_and_365_day_convention():
    # 730 days = 2 years under the 365-day convention (even across a leap year)
    dates = np.array(["2019-06-01", "2021-05-31"], "datetime64[D]")
    assert (dates[1] - dates[0]).astype(int) == 730
    s = stats([100.0, 121.0], dates)
    assert s["years"] == 2.0
    assert s["total_return"] == pytest.approx(0.21)
    assert s["cagr"] == pytest.approx(0.10)


def test_cagr_negative():
    dates = np.array(["2021-01-01", "2022-01-01", "2023-01-01"], "datetime64[D]")
    s = stats([100.0, 80.0, 64.0], dates)
    assert s["years"] == 2.0
    assert s["total_return"] == pytest.approx(-0.36)
    assert s["cagr"] == pytest.approx(-0.20)
    assert s["max_drawdown"] == pytest.approx(-0.36)
    assert s["calmar"] == pytest.approx(-0.20 / 0.36)


def test_hand_computed_vol_sharpe_sortino():
    # returns +10 %, -10 %, +5 %: mean 1/60, std(ddof=1) sqrt(39)/60,
    # downside deviation sqrt((0 + 0.01 + 0) / 3) = 0.1 / sqrt(3)
    s = stats([100, 110, 99, 103.95])
    assert s["best_period"] == pytest.approx(0.10)
    assert s["worst_period"] == pytest.approx(-0.10)
    assert s["volatility"] == pytest.approx(math.sqrt(39) / 60 * SQ365)
    assert s["sharpe"] == pytest.approx(1 / math.sqrt(39) * SQ365)
    assert s["sortino"] == pytest.approx(math.sqrt(3) / 6 * SQ365)


def test_first_return_is_from_first_nav():
    s = stats([100.0, 50.0])
    assert s["worst_period"] == pytest.approx(-0.5)
    assert s["best_period"] == pytest.approx(-0.5)
    # one return: std(ddof=1) undefined; Sortino defined (downside deviation = 0.5)
    assert s["volatility"] is None and s["sharpe"] is None
    assert s["sortino"] == pytest.approx(-1.0 * SQ365)


def test_volatility_sharpe_match_pandas():
    rng = np.random.default_rng(7)
    r = rng.normal(0.001, 0.03, 500)
    nav = 1000 * np.cumprod(np.r_[1.0, 1 + r])
    dates = pd.date_range("2020-03-01", periods=nav.size, freq="D")
    s = stats(nav, dates.values.astype("datetime64[D]"))

    ret = pd.Series(nav, index=dates).pct_change().dropna()
    assert s["volatility"] == pytest.approx(ret.std() * SQ365, rel=1e-10)
    assert s["sharpe"] == pytest.approx(ret.mean() / ret.std() * SQ365, rel=1e-10)
    downside = np.sqrt((ret.clip(upper=0) ** 2).mean())
    assert s["sortino"] == pytest.approx(ret.mean() / downside * SQ365, rel=1e-10)
    assert s["best_period"] == pytest.approx(ret.max())
    assert s["worst_period"] == pytest.approx(ret.min())
    dd = nav / pd.Series(nav).cummax().values - 1
    assert s["max_drawdown"] == pytest.approx(dd.min())
    years = (dates[-1] - dates[0]).days / 365
    assert s["cagr"] == pytest.approx((nav[-1] / nav[0]) ** (1 / years) - 1)


# --------------------------------------------------------------------------- drawdowns


def test_drawdown_recovered_known_dates():
    nav = [100, 110, 99, 88, 99, 110, 121, 115]
    s = stats(nav)  # dates 2021-01-01 ..
    assert s["max_drawdown"] == pytest.approx(-0.20)
    assert s["max_drawdown_peak"] == "2021-01-02"
    assert s["max_drawdown_trough"] == "2021-01-04"
    assert s["max_drawdown_recovery"] == "2021-01-06"
    assert s["max_drawdown_days"] == 4
    assert s["calmar"] == pytest.approx(s["cagr"] / 0.20)
    np.testing.assert_allclose(
        drawdown_series(np.array(nav, float)),
        [0, 0, -0.1, -0.2, -0.1, 0, 0, 115 / 121 - 1],
        atol=1e-15,
    )


def test_drawdown_not_recovered_runs_to_end():
    s = stats([100, 120, 90, 100])
    assert s["max_drawdown"] == pytest.approx(-0.25)
    assert s["max_drawdown_peak"] == "2021-01-02"
    assert s["max_drawdown_trough"] == "2021-01-03"
    assert s["max_drawdown_recovery"] is None
    assert s["max_drawdown_days"] == 2  # peak 01-02 → end 01-04


def test_drawdown_peak_is_last_visit_of_the_high():
    # the high of 100 is revisited on 01-03 before the deeper trough on 01-04
    s = stats([100, 90, 100, 80, 100])
    assert s["max_drawdown"] == pytest.approx(-0.20)
    assert s["max_drawdown_peak"] == "2021-01-03"
    assert s["max_drawdown_trough"] == "2021-01-04"
    assert s["max_drawdown_recovery"] == "2021-01-05"
    assert s["max_drawdown_days"] == 2


def test_drawdown_from_first_nav_with_calendar_day_gaps():
    dates = np.array(["2021-01-01", "2021-01-08", "2021-02-01", "2021-03-01"], "datetime64[D]")
    s = stats([100, 50, 75, 100], dates)
    assert s["max_drawdown"] == pytest.approx(-0.5)
    assert s["max_drawdown_peak"] == "2021-01-01"
    assert s["max_drawdown_trough"] == "2021-01-08"
    assert s["max_drawdown_recovery"] == "2021-03-01"
    assert s["max_drawdown_days"] == 59


# --------------------------------------------------------------------------- turnover, costs, regime


def test_turnover_costs_and_activity():
    # 5 observations over 4 days → years = 4/365
    nav = [100.0, 100.0, 100.0, 100.0, 100.0]
    s = stats(
        nav,
        turnover=[0.5, 0.0, 0.2, 0.0, 0.0],
        fee=[1.0, 0.0, 0.5, 0.0, 0.0],
        slippage=[0.5, 0.0, 0.25, 0.0, 0.0],
        gas=[0.1, 0.0, 0.1, 0.0, 0.3],  # gas-only cost on the last date still counts as a trade date
        risk_on=[True, True, False, False, True],
        n_regime_switches=2,
    )
    years = 4 / 365
    assert s["turnover_total"] == pytest.approx(0.7)
    assert s["turnover_annualised"] == pytest.approx(0.7 / years)
    assert s["costs_fee"] == pytest.approx(1.5)
    assert s["costs_slippage"] == pytest.approx(0.75)
    assert s["costs_gas"] == pytest.approx(0.5)
    assert s["costs_total"] == pytest.approx(2.75)
    assert s["cost_drag_bps_per_year"] == pytest.approx(2.75 / 100 / years * 1e4)
    assert s["n_regime_switches"] == 2
    assert s["time_invested"] == pytest.approx(0.6)
    assert s["n_trade_dates"] == 3
    assert_json_safe(s)


def test_cost_drag_uses_mean_nav():
    dates = np.array(["2021-01-01", "2022-01-01"], "datetime64[D]")
    s = stats([100.0, 300.0], dates, fee=[2.0, 0.0])
    assert s["cost_drag_bps_per_year"] == pytest.approx(2.0 / 200.0 / 1.0 * 1e4)  # 100 bps


# --------------------------------------------------------------------------- degenerate inputs


def test_single_observation():
    s = stats([100.0], turnover=[1.0], fee=[0.2], risk_on=[False])
    assert_json_safe(s)
    assert s["start"] == s["end"] == "2021-01-01"
    assert s["n_observations"] == 1
    assert s["years"] == 0.0
    assert s["periods_per_year"] is None
    assert s["total_return"] == 0.0
    for k in ("cagr", "volatility", "sharpe", "sortino", "best_period", "worst_period", "calmar",
              "turnover_annualised", "cost_drag_bps_per_year", "max_drawdown_peak",
              "max_drawdown_recovery"):
        assert s[k] is None, k
    assert s["max_drawdown"] == 0.0
    assert s["turnover_total"] == 1.0
    assert s["n_trade_dates"] == 1
    assert s["time_invested"] == 0.0


def test_flat_nav():
    s = stats(np.full(30, 250.0), risk_on=np.zeros(30, bool))
    assert_json_safe(s)
    assert s["total_return"] == 0.0 and s["cagr"] == 0.0
    assert s["volatility"] == 0.0
    assert s["sharpe"] is None and s["sortino"] is None
    assert s["max_drawdown"] == 0.0 and s["calmar"] is None
    assert s["time_invested"] == 0.0


def test_huge_short_window_cagr_is_none_not_inf():
    s = stats([1.0, 1e6])  # one day, ×1e6 → annualised beyond float range
    assert s["cagr"] is None and s["calmar"] is None
    assert_json_safe(s)


def test_input_validation():
    with pytest.raises(ValueError, match="increasing"):
        stats([1.0, 2.0], np.array(["2021-01-02", "2021-01-01"], "datetime64[D]"))
    with pytest.raises(ValueError, match="nav"):
        stats([1.0, 0.0])
    with pytest.raises(ValueError, match="shape"):
        stats([1.0, 2.0], turnover=[0.0])
    with pytest.raises(ValueError, match="NaN"):
        stats([1.0, float("nan")])
    with pytest.raises(ValueError):
        stats([])


# --------------------------------------------------------------------------- properties


@settings(max_examples=examples(200), deadline=None)
@given(
    rets=st.lists(st.floats(-0.5, 0.5, allow_nan=False), min_size=0, max_size=60),
    gaps=st.lists(st.integers(1, 10), min_size=60, max_size=60),
    start=st.floats(1e-3, 1e6),
)
def test_properties(rets, gaps, start):
    nav = start * np.cumprod(np.r_[1.0, 1.0 + np.array(rets, float)])
    dates = np.datetime64("2020-01-01") + np.r_[0, np.cumsum(gaps[: len(rets)])].astype(int)
    s = stats(nav, dates.astype("datetime64[D]"))
    assert_json_safe(s)
    assert -1.0 <= s["max_drawdown"] <= 0.0
    assert s["total_return"] == pytest.approx(s["final_nav"] / s["initial_nav"] - 1, rel=1e-12, abs=1e-15)
    if s["years"] > 0:
        assert s["cagr"] is not None  # ≤ log 1.5 per day ⇒ ≤ 148 per year: no overflow
        assert np.sign(s["cagr"]) == np.sign(s["total_return"])
    else:
        assert s["cagr"] is None
    if s["calmar"] is not None:
        assert np.sign(s["calmar"]) == np.sign(s["cagr"])
    if s["volatility"] is not None:
        assert s["volatility"] >= 0
    dd = drawdown_series(nav)
    assert dd.min() == s["max_drawdown"]
    assert np.all(dd <= 0) and np.all(dd > -1)
