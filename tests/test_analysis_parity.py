"""Parity of our statistics with empyrical-reloaded (Quantopian's empyrical, maintained) and scipy,
on seeded series, where the conventions agree (annualization = our periods per year, rf 0).

Where ours deliberately differ the documented relationship is tested instead (docs/outputs.md,
"Where ours differ from empyrical"): capture ratios (empyrical annualises each side with its period
table, which on daily crypto returns squashes them towards 0 and 1; ours are not annualised), the information ratio (empyrical's ``excess_sharpe`` is not
annualised) and the tracking error (empyrical has none: it is the annualised volatility of r − b).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtest.analysis import relative_stats, return_distribution, rolling_stats
from backtest.stats import compute_stats, periods_per_year

ep = pytest.importorskip("empyrical", reason="the parity tests need empyrical-reloaded (the dev extra)")
scipy_stats = pytest.importorskip("scipy.stats")

REL = 1e-9


def series(spacing_days: int, n: int = 1200, seed: int = 7):
    """Dates, a NAV and a correlated benchmark NAV with crypto-like daily moves."""
    rng = np.random.default_rng(seed)
    b = rng.standard_t(4, n - 1) * 0.03 + 0.001
    r = 1.3 * b + rng.normal(0.0005, 0.02, n - 1)
    dates = np.datetime64("2018-01-01") + np.arange(n) * np.timedelta64(spacing_days, "D")
    nav = 1000.0 * np.r_[1.0, np.cumprod(1.0 + r)]
    bench = 1000.0 * np.r_[1.0, np.cumprod(1.0 + b)]
    return dates, nav, bench, nav[1:] / nav[:-1] - 1.0, bench[1:] / bench[:-1] - 1.0


@pytest.fixture(params=[1, 7], ids=["daily", "weekly"])
def data(request):
    return series(request.param)


def _stats(dates, nav):
    z = np.zeros(nav.size)
    return compute_stats(dates, nav, z, z, z, z, np.ones(nav.size), 0)


def test_summary_statistics_match_empyrical(data):
    dates, nav, _, r, _ = data
    ppy = periods_per_year(dates)
    st = _stats(dates, nav)
    assert st["volatility"] == pytest.approx(ep.annual_volatility(r, annualization=ppy), rel=REL)
    assert st["sharpe"] == pytest.approx(ep.sharpe_ratio(r, annualization=ppy), rel=REL)
    assert st["sortino"] == pytest.approx(ep.sortino_ratio(r, annualization=ppy), rel=REL)
    assert st["max_drawdown"] == pytest.approx(ep.max_drawdown(r), rel=REL)
    # empyrical counts len(returns) / ppy years; ours (end − start) / 365 days: the same on a regular calendar
    assert st["cagr"] == pytest.approx(ep.cagr(r, annualization=ppy), rel=1e-8)
    assert st["calmar"] == pytest.approx(ep.calmar_ratio(r, annualization=ppy), rel=1e-8)


def test_relative_statistics_match_empyrical(data):
    dates, nav, bench, r, b = data
    ppy = periods_per_year(dates)
    rel = relative_stats(nav, bench, dates)
    assert rel["beta"] == pytest.approx(ep.beta(r, b), rel=REL)
    assert rel["alpha"] == pytest.approx(ep.alpha(r, b, annualization=ppy), rel=1e-8)
    assert rel["excess_return"] == pytest.approx(ep.cagr(r, annualization=ppy) - ep.cagr(b, annualization=ppy), rel=1e-8)
    assert rel["correlation"] == pytest.approx(np.corrcoef(r, b)[0, 1], rel=REL)
    assert rel["correlation"] == pytest.approx(scipy_stats.pearsonr(r, b)[0], rel=REL)
    # documented relationships: TE = annualised volatility of the active returns; IR = excess Sharpe × √ppy
    assert rel["tracking_error"] == pytest.approx(ep.annual_volatility(r - b, annualization=ppy), rel=REL)
    assert rel["information_ratio"] == pytest.approx(ep.excess_sharpe(r, b) * math.sqrt(ppy), rel=REL)


def test_capture_ratios_are_empyricals_without_annualisation():
    """empyrical annualises each side of a capture ratio with its period table; ours are the ratio of
    the per-period geometric means, which is empyrical's at period="yearly" (one period per year),
    on daily and on weekly returns alike."""
    dates, nav, bench, r, b = series(1)
    ours = relative_stats(nav, bench, dates)
    assert ours["up_capture"] == pytest.approx(ep.up_capture(r, b, period="yearly"), rel=1e-8)
    assert ours["down_capture"] == pytest.approx(ep.down_capture(r, b, period="yearly"), rel=1e-8)
    assert ours["up_capture"] != pytest.approx(ep.up_capture(r, b), rel=1e-3)
    assert relative_stats(nav, bench, dates, ppy=52)["up_capture"] == ours["up_capture"]  # ppy-free


def test_distribution_matches_empyrical_and_scipy(data):
    dates, nav, _, r, _ = data
    dist = return_distribution(nav, dates)
    assert dist["var_95"] == pytest.approx(ep.value_at_risk(r, 0.05), rel=REL)
    assert dist["cvar_95"] == pytest.approx(ep.conditional_value_at_risk(r, 0.05), rel=REL)
    assert dist["skew"] == pytest.approx(scipy_stats.skew(r), rel=1e-8)
    assert dist["kurtosis"] == pytest.approx(scipy_stats.kurtosis(r), rel=1e-8)  # excess (Fisher), biased


def test_rolling_statistics_match_empyrical():
    dates, nav, bench, r, b = series(1, n=900)
    roll = rolling_stats(nav, dates, "365 days", bench)
    full = roll[365:]  # date t's window: the 365 returns ending on t
    assert roll[:365]["sharpe"].null_count() == 365
    np.testing.assert_allclose(full["sharpe"].to_numpy(), ep.roll_sharpe_ratio(r, window=365, annualization=365),
                               rtol=1e-8)
    np.testing.assert_allclose(full["volatility"].to_numpy(),
                               ep.roll_annual_volatility(r, window=365, annualization=365), rtol=1e-8)
    np.testing.assert_allclose(full["beta"].to_numpy(), ep.roll_beta(r, b, window=365), rtol=1e-8)
    np.testing.assert_allclose(full["return"].to_numpy(), nav[365:] / nav[:-365] - 1.0, rtol=1e-12)
