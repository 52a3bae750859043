"""Settings that run but cannot do what they say inside the backtest window are warned about in the run's
summary (index_engine/diagnostics.py::degenerate_warnings, docs/methodology.md, Data quirks and warnings)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backtest import run_backtest
from index_engine import IndexConfig
from index_engine.plan import build_plan
from tests._helpers import make_market

DEGENERATE = {"single_observation", "no_decision_data", "regime_never_defined", "regime_longer_than_window"}


@pytest.fixture(scope="module")
def market():
    rng = np.random.default_rng(4)
    return make_market(np.exp(np.cumsum(rng.normal(0, 0.05, (40, 6)), axis=0)))  # 40 daily rows from 2024-01-01


def cfg(**sections) -> IndexConfig:
    base = {"selection": {"top_n": 3}, "universe": {"exclude_categories": []}, "regime": {"window": 10},
            "rebalance": {"frequency": "weekly", "decision_lag": 1}}
    for k, v in sections.items():
        base[k] = v if not isinstance(v, dict) else {**base.get(k, {}), **v}
    return IndexConfig.from_dict(base)


def kinds(c: IndexConfig, market) -> dict:
    return {w.kind: w for w in build_plan(c, market).warnings if w.kind in DEGENERATE}


def test_sensible_settings_raise_none_of_these(market):
    assert kinds(cfg(), market) == {}
    # a window filled only part-way into the backtest window is normal: defined at some decision rows
    assert kinds(cfg(regime={"window": 35}), market) == {}
    assert kinds(cfg(regime={"window": 35}, backtest={"start": "2024-02-06"}), market) == {}
    assert kinds(cfg(regime={"confirm": 5, "min_dwell": 20}), market) == {}


@pytest.mark.parametrize("regime, example", [
    ({"window": 41}, "regime.signal=total_market_cap_sma (regime.window=41, 40 observations in the data)"),
    ({"signal": "sma_crossover", "fast_window": 5, "window": 100}, "regime.window=100"),
    ({"signal": "ema_crossover", "fast_window": 5, "window": 100}, "regime.window=100"),
    ({"signal": "asset_price_sma", "asset": "a00", "window": 50}, "regime.window=50"),
    ({"signal": "momentum", "momentum_window": 40, "window": 200}, "regime.momentum_window=40"),
    ({"signal": "breadth", "breadth": {"window": 60}}, "regime.breadth.window=60"),
])
def test_a_signal_window_longer_than_the_data_is_warned(market, regime, example):
    w = kinds(cfg(regime=regime), market)["regime_never_defined"]
    assert w.count == 1 and example in w.examples[0] and "count as bullish throughout" in w.message


def test_a_window_that_fills_only_after_the_backtest_window_is_warned(market):
    w = kinds(cfg(regime={"window": 30}, backtest={"end": "2024-01-20"}), market)["regime_never_defined"]
    assert "2024-01-01 .. 2024-01-20, 19 observations" in w.message  # decision rows 0..18 with lag 1


def test_composite_names_each_undefined_signal(market):
    c = cfg(regime={"signal": "composite", "window": 200, "signals": [
        {"signal": "momentum", "momentum_window": 50}, {"signal": "total_market_cap_sma", "window": 5},
        {"signal": "breadth", "breadth": {"window": 45}}]})
    w = kinds(c, market)["regime_never_defined"]
    assert w.count == 2 and w.examples[0].startswith("regime.signals[0].signal=momentum (regime.signals[0]."
                                                     "momentum_window=50")
    assert w.examples[1].startswith("regime.signals[2].signal=breadth (regime.signals[2].breadth.window=45")


@pytest.mark.parametrize("regime, examples", [
    ({"confirm": 40}, ["regime.confirm=40"]),
    ({"entry_confirm": 45, "exit_confirm": 2}, ["regime.entry_confirm=45"]),
    ({"confirm": 50, "exit_confirm": 2}, ["regime.confirm=50"]),  # still the bear → bull confirmation
    ({"confirm": 50, "entry_confirm": 2, "exit_confirm": 2}, []),  # confirm is overridden in both directions
    ({"min_dwell": 100, "exit_confirm": 60}, ["regime.exit_confirm=60", "regime.min_dwell=100"]),
])
def test_confirmations_or_dwell_longer_than_the_window_are_warned(market, regime, examples):
    w = kinds(cfg(regime=regime), market).get("regime_longer_than_window")
    if not examples:
        assert w is None
        return
    assert w.examples == examples and w.count == len(examples) and "at most one such switch" in w.message


def test_a_decision_lag_beyond_the_window_warns_that_the_index_never_invests(market):
    late = cfg(rebalance={"decision_lag": 40})
    w = kinds(late, market)["no_decision_data"]
    assert "never invests" in w.message and "rebalance.decision_lag=40" in w.message
    result = run_backtest(late, market, benchmarks=False)
    assert result.transactions.height == 0
    assert result.summary["warnings"]["no_decision_data"]["count"] == 1
    json.dumps(result.summary["warnings"], allow_nan=False)
    assert "no_decision_data" not in kinds(cfg(rebalance={"decision_lag": 39}), market)  # trades on the last row
    short = cfg(rebalance={"decision_lag": 10}, backtest={"end": "2024-01-08"})
    assert "no_decision_data" in kinds(short, market)


def test_a_single_observation_window_is_warned(market):
    one = cfg(backtest={"start": "2024-01-15", "end": "2024-01-15"})
    w = kinds(one, market)["single_observation"]
    assert w.examples == ["2024-01-15"]
    result = run_backtest(one, market, benchmarks=False)
    assert result.nav.height == 1 and "single_observation" in result.summary["warnings"]
