"""Tests for backtest.stats' breakdowns of a NAV: returns by calendar year and month, and by regime
(thresholds, runs, statistics and periods), each chaining back into the whole return."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backtest.stats import (
    monthly_returns,
    regime_periods,
    regime_runs,
    regime_statistics,
    regime_threshold,
    signal_distance,
    yearly_returns,
)
from tests._helpers import SQ365, daily

# --------------------------------------------------------------------------- yearly returns


def test_yearly_returns():
    dates = np.array(["2020-12-30", "2020-12-31", "2021-06-30", "2021-12-31", "2022-01-02"], "datetime64[D]")
    nav = np.array([100.0, 110.0, 55.0, 165.0, 198.0])
    yr = yearly_returns(dates, nav)
    assert list(yr) == ["2020", "2021", "2022"]
    assert yr["2020"] == pytest.approx(0.10)  # from the first nav
    assert yr["2021"] == pytest.approx(0.50)  # 110 → 165
    assert yr["2022"] == pytest.approx(0.20)  # 165 → 198
    assert all(type(v) is float for v in yr.values())
    json.dumps(yr, allow_nan=False)
    # chained yearly returns compound to the total return
    assert np.prod([1 + v for v in yr.values()]) == pytest.approx(nav[-1] / nav[0])


def test_yearly_returns_single_observation():
    assert yearly_returns(np.array(["2021-05-01"], "datetime64[D]"), np.array([10.0])) == {"2021": 0.0}


def test_monthly_returns_chain_into_the_years():
    dates = np.array(["2020-12-30", "2020-12-31", "2021-01-15", "2021-02-01", "2021-02-28", "2021-03-31"], "datetime64[D]")
    nav = np.array([100.0, 110.0, 121.0, 60.5, 121.0, 133.1])
    mo = monthly_returns(dates, nav)
    assert list(mo) == ["2020-12", "2021-01", "2021-02", "2021-03"]
    assert mo["2020-12"] == pytest.approx(0.10)  # from the first nav
    assert mo["2021-01"] == pytest.approx(0.10)  # 110 → 121
    assert mo["2021-02"] == pytest.approx(0.0)   # 121 → 121 (last nav of February)
    assert mo["2021-03"] == pytest.approx(0.10)
    yr = yearly_returns(dates, nav)
    for year, ret in yr.items():
        months = [v for k, v in mo.items() if k.startswith(year)]
        assert np.prod([1 + v for v in months]) - 1 == pytest.approx(ret, rel=1e-12)


# --------------------------------------------------------------------------- by regime


def test_regime_threshold_and_distance():
    assert regime_threshold(100.0, 0.05, "bull") == pytest.approx(95.0)  # exit level
    assert regime_threshold(100.0, 0.05, "bear") == pytest.approx(105.0)  # re-entry level
    assert regime_threshold(float("nan"), 0.05, "bull") is None and regime_threshold(None, 0, "bull") is None
    assert signal_distance(315.0, 100.0) == pytest.approx(2.15)
    assert signal_distance(50.0, 100.0) == pytest.approx(-0.5)
    assert signal_distance(50.0, None) is None and signal_distance(float("nan"), 1.0) is None


def test_regime_runs():
    assert regime_runs(["bull", "bull", "bear", "bull"]) == [(0, 2), (2, 3), (3, 4)]
    assert regime_runs(np.array(["bear"])) == [(0, 1)] and regime_runs([]) == []


def test_regime_statistics_count_each_return_in_the_regime_that_earned_it():
    nav = np.array([100.0, 110.0, 99.0, 99.0, 108.9])
    regime = ["bull", "bull", "bear", "bear", "bull"]
    # returns: +10 % (set in bull), −10 % (bull), 0 (bear), +10 % (bear); the last label is unused
    st = regime_statistics(nav, regime, periods_per_year=365.0)
    assert st["bull"]["periods"] == 2 and st["bear"]["periods"] == 2
    assert st["bull"]["total_return"] == pytest.approx(1.1 * 0.9 - 1)
    assert st["bear"]["total_return"] == pytest.approx(0.10)
    assert st["bear"]["annualised"] == pytest.approx(1.1 ** (365 / 2) - 1)
    assert st["bull"]["volatility"] == pytest.approx(np.std([0.1, -0.1], ddof=1) * SQ365)
    assert st["bull"]["sharpe"] == pytest.approx(0.0, abs=1e-12)
    assert st["bear"]["sharpe"] == pytest.approx(0.05 / np.std([0.0, 0.1], ddof=1) * SQ365)
    # a regime that never occurs: nothing defined; missing values are left out
    none = regime_statistics(np.array([1.0, float("nan"), 1.2, 1.32]), ["bull"] * 4, 365.0)
    assert none["bear"] == {"periods": 0, "total_return": None, "annualised": None, "volatility": None, "sharpe": None}
    assert none["bull"]["periods"] == 1 and none["bull"]["total_return"] == pytest.approx(0.1)
    assert none["bull"]["volatility"] is None and none["bull"]["sharpe"] is None


def test_regime_periods_chain_into_the_whole_return():
    dates = daily("2024-01-01", 6)
    nav = np.array([100.0, 110.0, 99.0, 99.0, 108.9, 120.0])
    periods = regime_periods(dates, ["bull", "bull", "bear", "bear", "bull", "bull"], {"net": nav})
    assert [(p["regime"], p["first"], p["last"], p["days"]) for p in periods] == [
        ("bull", "2024-01-01", "2024-01-02", 2), ("bear", "2024-01-03", "2024-01-04", 2),
        ("bull", "2024-01-05", "2024-01-06", 2)]
    assert periods[0]["returns"]["net"] == pytest.approx(99 / 100 - 1)  # to the next period's first close
    assert np.prod([1 + p["returns"]["net"] for p in periods]) == pytest.approx(nav[-1] / nav[0])
    # a switch on the last date: the period before it ends the day before
    last = regime_periods(dates[:3], ["bull", "bull", "bear"], {"net": nav[:3]})
    assert [(p["first"], p["last"], p["days"]) for p in last] == [("2024-01-01", "2024-01-02", 2),
                                                                   ("2024-01-03", "2024-01-03", 1)]
    assert last[1]["returns"]["net"] == 0.0
