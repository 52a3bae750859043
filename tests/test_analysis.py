"""backtest.analysis on tiny hand-computed series: relative statistics, the drawdown table, rolling
statistics and the return distribution (the parity with empyrical is in test_analysis_parity.py)."""

from __future__ import annotations

import datetime as dt
import math
import statistics as pystats

import numpy as np
import pytest

from backtest.analysis import (
    DISTRIBUTION_KEYS,
    RELATIVE_KEYS,
    drawdown_table,
    relative_between,
    relative_stats,
    return_distribution,
    rolling_stats,
)
from backtest.analysis.rolling import window_bases
from backtest.stats import compute_stats


def days(n: int, start: str = "2021-01-01", step: int = 1) -> np.ndarray:
    return np.datetime64(start) + np.arange(n) * np.timedelta64(step, "D")


def nav_of(returns, start: float = 100.0) -> np.ndarray:
    out = [start]
    for r in returns:
        out.append(out[-1] * (1.0 + r))
    return np.array(out)


# ----------------------------------------------------------------------------------- relative
R = [0.10, -0.05, 0.02, 0.04]
B = [0.05, -0.10, 0.01, 0.03]


def test_relative_statistics_by_hand():
    nav, bench, d = nav_of(R), nav_of(B), days(5)
    rel = relative_stats(nav, bench, d)
    assert tuple(rel) == RELATIVE_KEYS
    a = [x - y for x, y in zip(R, B)]
    assert rel["tracking_error"] == pytest.approx(pystats.stdev(a) * math.sqrt(365), rel=1e-12)
    assert rel["information_ratio"] == pytest.approx(pystats.mean(a) / pystats.stdev(a) * math.sqrt(365), rel=1e-12)
    mb, mr = pystats.mean(B), pystats.mean(R)
    cov = sum((y - mb) * (x - mr) for x, y in zip(R, B)) / 4
    var = sum((y - mb) ** 2 for y in B) / 4
    beta = cov / var
    assert rel["beta"] == pytest.approx(beta, rel=1e-12)
    assert rel["alpha"] == pytest.approx((1 + mr - beta * mb) ** 365 - 1, rel=1e-9)
    assert rel["correlation"] == pytest.approx(pystats.correlation(R, B), rel=1e-12)
    years = 4 / 365
    growth_r, growth_b = math.prod(1 + x for x in R), math.prod(1 + y for y in B)
    assert rel["excess_return"] == pytest.approx(growth_r ** (1 / years) - growth_b ** (1 / years), rel=1e-9)
    # up periods of the benchmark: 1, 3, 4; down: 2 — the geometric mean return per period of each side
    up_r, up_b = (1.10 * 1.02 * 1.04) ** (1 / 3) - 1, (1.05 * 1.01 * 1.03) ** (1 / 3) - 1
    assert rel["up_capture"] == pytest.approx(up_r / up_b, rel=1e-9)
    assert rel["down_capture"] == pytest.approx(0.05 / 0.10, rel=1e-9)  # fell half as much, not "≈ 1"


def test_a_series_against_itself_and_against_twice_itself():
    nav, d = nav_of(R), days(5)
    same = relative_stats(nav, nav, d)
    assert same == {"excess_return": 0.0, "tracking_error": 0.0, "information_ratio": None, "beta": 1.0,
                    "alpha": 0.0, "correlation": 1.0, "up_capture": 1.0, "down_capture": 1.0}
    double = relative_stats(nav_of([2 * x for x in R]), nav, d)
    assert double["beta"] == pytest.approx(2.0, rel=1e-12)
    assert double["correlation"] == pytest.approx(1.0, rel=1e-12)
    assert double["alpha"] == pytest.approx(0.0, abs=1e-12)
    sharpe = pystats.mean(R) / pystats.stdev(R) * math.sqrt(365)  # active returns are R itself
    assert double["information_ratio"] == pytest.approx(sharpe, rel=1e-12)


def test_against_cash_beta_and_captures_are_undefined():
    rel = relative_stats(nav_of(R), np.full(5, 100.0), days(5))
    assert rel["beta"] is None and rel["alpha"] is None and rel["correlation"] is None
    assert rel["up_capture"] is None and rel["down_capture"] is None
    assert rel["tracking_error"] == pytest.approx(pystats.stdev(R) * math.sqrt(365), rel=1e-12)


def test_missing_benchmark_values_are_left_out_and_too_few_give_none():
    nav, bench = nav_of(R), nav_of(B)
    holed = bench.copy()
    holed[2] = np.nan
    got = relative_stats(nav, holed, days(5))
    keep = [0, 1, 3, 4]
    assert got == relative_stats(nav[keep], bench[keep], days(5)[keep])
    assert relative_stats(nav[:1], bench[:1], days(1)) == dict.fromkeys(RELATIVE_KEYS)


def test_excess_return_is_the_difference_of_the_cagrs_of_compute_stats():
    nav, bench, d = nav_of(R, 99.0), nav_of(B, 98.0), days(5)
    z = np.zeros(5)

    def cagr(x):
        return compute_stats(d, x, z, z, z, z, np.ones(5), 0, initial_value=100.0)["cagr"]

    rel = relative_stats(nav, bench, d, initial_values=(100.0, 100.0))
    assert rel["excess_return"] == pytest.approx(cagr(nav) - cagr(bench), rel=1e-12)


def test_relative_between_two_runs_uses_their_common_dates():
    d = days(5)
    got = relative_between(d, nav_of(R), d[1:], nav_of(B)[1:])
    assert got == relative_stats(nav_of(R)[1:], nav_of(B)[1:], d[1:])


# ---------------------------------------------------------------------------------- drawdowns
def test_drawdown_table_by_hand():
    nav = np.array([100, 120, 90, 130, 117, 104, 140, 70.0])
    d = days(8)
    t = drawdown_table(nav, d)
    assert t["rank"].to_list() == [1, 2, 3]
    assert t["depth"].to_list() == pytest.approx([-0.5, -0.25, -0.2])
    day = [dt.date(2021, 1, 1) + dt.timedelta(days=i) for i in range(8)]
    assert t["peak"].to_list() == [day[6], day[1], day[3]]
    assert t["trough"].to_list() == [day[7], day[2], day[5]]
    assert t["recovery"].to_list() == [None, day[3], day[6]]
    assert t["decline_days"].to_list() == [1, 1, 2]
    assert t["recovery_days"].to_list() == [None, 1, 1]
    assert t["total_days"].to_list() == [1, 2, 3]
    assert drawdown_table(nav, d, n=2).height == 2
    assert drawdown_table(np.array([1.0, 2.0, 3.0]), days(3)).height == 0


def test_the_worst_drawdown_is_the_summary_max_drawdown():
    rng = np.random.default_rng(3)
    nav = nav_of(rng.normal(0.001, 0.05, 600))
    d = days(601)
    z = np.zeros(601)
    st = compute_stats(d, nav, z, z, z, z, np.ones(601), 0)
    first = drawdown_table(nav, d, n=1).row(0, named=True)
    assert first["depth"] == st["max_drawdown"]
    assert str(first["peak"]) == st["max_drawdown_peak"] and str(first["trough"]) == st["max_drawdown_trough"]
    assert (None if first["recovery"] is None else str(first["recovery"])) == st["max_drawdown_recovery"]
    assert first["total_days"] == st["max_drawdown_days"]


# ------------------------------------------------------------------------------------ rolling
def test_rolling_window_of_observations_by_hand():
    nav = nav_of(R)
    roll = rolling_stats(nav, days(5), 2)
    assert roll["return"].to_list()[:2] == [None, None]
    assert roll["return"][2] == pytest.approx(1.10 * 0.95 - 1)
    w = R[2:4]  # the window of the last date: its two returns
    assert roll["volatility"][4] == pytest.approx(pystats.stdev(w) * math.sqrt(365), rel=1e-12)
    assert roll["sharpe"][4] == pytest.approx(pystats.mean(w) / pystats.stdev(w) * math.sqrt(365), rel=1e-12)
    assert roll["beta"].null_count() == 5  # no benchmark
    with_bench = rolling_stats(nav, days(5), 3, nav_of(B))
    mb, mr = pystats.mean(B[1:]), pystats.mean(R[1:])
    beta = sum((y - mb) * (x - mr) for x, y in zip(R[1:], B[1:])) / sum((y - mb) ** 2 for y in B[1:])
    assert with_bench["beta"][4] == pytest.approx(beta, rel=1e-12)


def test_rolling_window_in_days_spans_a_gap():
    d = np.array(["2021-01-01", "2021-01-02", "2021-01-05", "2021-01-06", "2021-01-08"], dtype="datetime64[D]")
    # "3 days": the base is the last date on or before date − 3 days; not full before 2021-01-04
    assert window_bases(d, "3 days").tolist() == [-1, -1, 1, 1, 2]
    roll = rolling_stats(nav_of(R), d, "3 days")
    assert roll["return"][4] == pytest.approx(1.02 * 1.04 - 1)  # from 2021-01-05: two returns
    assert roll["volatility"][4] == pytest.approx(pystats.stdev(R[2:]) * math.sqrt(365 / 1.5), rel=1e-12)
    assert roll["return"][2] == pytest.approx(-0.05)  # a single return: no volatility
    assert roll["volatility"][2] is None
    with pytest.raises(ValueError, match="window"):
        rolling_stats(nav_of(R), d, "a year")


def test_rolling_zero_volatility_is_zero_and_sharpe_null():
    roll = rolling_stats(np.full(6, 100.0), days(6), 3)
    assert roll["volatility"].to_list()[3:] == [0.0, 0.0, 0.0]
    assert roll["sharpe"].null_count() == 6


# ------------------------------------------------------------------------------- distribution
def test_return_distribution_by_hand():
    rets = [0.1, -0.2, 0.3, 0.0]
    d = np.array(["2021-01-30", "2021-01-31", "2021-02-01", "2021-02-02", "2021-03-01"], dtype="datetime64[D]")
    dist = return_distribution(nav_of(rets), d)
    assert tuple(dist) == DISTRIBUTION_KEYS
    m = pystats.mean(rets)
    m2 = sum((x - m) ** 2 for x in rets) / 4
    assert dist["skew"] == pytest.approx(sum((x - m) ** 3 for x in rets) / 4 / m2 ** 1.5, rel=1e-12)
    assert dist["kurtosis"] == pytest.approx(sum((x - m) ** 4 for x in rets) / 4 / m2 ** 2 - 3, rel=1e-12)
    # sorted: −0.2, 0, 0.1, 0.3; the 5 % point is 0.15 of the way from the first to the second
    assert dist["var_95"] == pytest.approx(-0.2 + 0.15 * 0.2, rel=1e-12)
    assert dist["cvar_95"] == pytest.approx(-0.2)
    assert (dist["best_day"], dist["best_day_date"]) == (pytest.approx(0.3), "2021-02-02")
    assert (dist["worst_day"], dist["worst_day_date"]) == (pytest.approx(-0.2), "2021-02-01")
    assert dist["hit_rate"] == 0.5
    # months: Jan 100 → 110 (+10 %), Feb 110 → 114.4 (88 × 1.3), Mar → 114.4 (0 %)
    assert (dist["best_month"], dist["best_month_period"]) == (pytest.approx(0.1), "2021-01")
    assert (dist["worst_month"], dist["worst_month_period"]) == (pytest.approx(0.0, abs=1e-15), "2021-03")
    assert dist["hit_rate_months"] == pytest.approx(2 / 3)
    assert dist["n_periods"] == 4


def test_flat_nav_has_no_skew_and_one_observation_has_nothing():
    assert return_distribution(np.full(5, 1.0), days(5))["skew"] is None
    one = return_distribution(np.array([1.0]), days(1))
    assert one["n_periods"] == 0 and one["var_95"] is None
