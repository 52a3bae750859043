"""Methodology semantics: timing, eligibility, regime switches, window — each rule on a tiny market."""

from __future__ import annotations

import numpy as np
import pytest

from index_engine import IndexConfig, PlanError, build_plan
from index_engine.plan import KIND_INITIAL, KIND_REGIME_ENTRY, KIND_REGIME_EXIT, KIND_SCHEDULED
from tests._helpers import make_market


def cfg(**sections) -> IndexConfig:
    base = {"regime": {"signal": "none"}, "rebalance": {"frequency": "every_observation"}, "selection": {"top_n": 1}}
    for k, v in sections.items():
        base[k] = {**base.get(k, {}), **v}
    return IndexConfig.from_dict(base)


def flip_market(t: int = 10, flip_at: int = 5):
    """Two assets; a00 is larger before ``flip_at``, a01 from ``flip_at`` on."""
    price = np.ones((t, 2))
    mcap = np.ones((t, 2))
    mcap[:flip_at] = [2.0, 1.0]
    mcap[flip_at:] = [1.0, 2.0]
    return make_market(price, mcap)


@pytest.mark.parametrize("lag", [0, 1, 3])
def test_decisions_use_data_through_trade_minus_lag(lag):
    plan = build_plan(cfg(rebalance={"decision_lag": lag}), flip_market())
    top = plan.weights.argmax(axis=1)
    for row, winner in zip(plan.trade_rows, top):
        assert winner == (1 if row - lag >= 5 else 0), (row, lag)
    assert (plan.decision_rows == plan.trade_rows - lag).all()


def test_window_starts_in_stable_until_data_has_been_observed():
    plan = build_plan(cfg(rebalance={"decision_lag": 2}), flip_market())
    assert plan.trade_rows[0] == 2 and plan.trade_kind[0] == KIND_INITIAL


def test_never_buys_an_asset_without_a_price_at_the_trade_date():
    price = np.ones((6, 2))
    price[3, 1] = np.nan  # a01 is the larger asset but has no close on row 3
    plan = build_plan(cfg(), make_market(price, np.tile([1.0, 5.0], (6, 1))))
    by_row = dict(zip(plan.trade_rows.tolist(), plan.weights.argmax(axis=1).tolist()))
    assert by_row[3] == 0 and by_row[2] == 1 and by_row[5] == 1
    # and not when it had no price at the decision row (row 4 decides on row 3)
    assert by_row[4] == 0


def test_excluded_categories_assets_list_history_and_volume():
    price = np.ones((40, 4))
    mcap = np.tile([4.0, 3.0, 2.0, 1.0], (40, 1))
    price[:20, 1] = np.nan
    mcap[:20, 1] = np.nan  # a01 lists on row 20
    vol = np.tile([1e3, 1e7, 1e7, 1e7], (40, 1))
    market = make_market(price, mcap, categories={"a00": "stablecoin"}, volume=vol)
    pick = lambda c: {int(c) for c in np.flatnonzero(build_plan(c, market).weights[-1])}  # noqa: E731
    assert pick(cfg(selection={"top_n": 2})) == {1, 2}  # a00 excluded as a stablecoin
    assert pick(cfg(selection={"top_n": 2}, universe={"exclude_categories": []})) == {0, 1}
    assert pick(cfg(selection={"top_n": 2}, universe={"min_history_days": 25})) == {2, 3}
    assert pick(cfg(selection={"top_n": 2}, universe={"exclude_categories": [], "min_volume_usd": 1e6})) == {1, 2}
    assert pick(cfg(selection={"top_n": 3}, universe={"assets": ["a03", "a02"]})) == {2, 3}


def _trending_market(down_from: int, up_from: int, t: int = 60):
    level = np.ones(t)
    level[down_from:] = 0.5
    level[up_from:] = 2.0
    price = np.tile(level[:, None], (1, 2))
    return make_market(price, price * [[10.0, 5.0]], start="2024-01-01")  # 2024-01-01: Monday


def test_regime_switch_trades_on_detection_not_at_next_rebalance():
    market = _trending_market(down_from=17, up_from=31)
    c = cfg(regime={"signal": "total_market_cap_sma", "window": 3}, rebalance={"frequency": "weekly", "decision_lag": 1})
    plan = build_plan(c, market)
    kinds = dict(zip(plan.trade_rows.tolist(), plan.trade_kind.tolist()))
    assert kinds[18] == KIND_REGIME_EXIT  # observed at the close of 17, traded at the close of 18 (a Friday)
    assert kinds[32] == KIND_REGIME_ENTRY
    assert kinds[1] == KIND_INITIAL and kinds[7] == KIND_SCHEDULED  # row 0 has no observed data yet
    # while bearish, scheduled Mondays (rows 21, 28) keep the stable sleeve: zero risk weights
    assert kinds[21] == KIND_SCHEDULED and kinds[28] == KIND_SCHEDULED
    for row in (18, 21, 28):
        assert plan.weights[plan.trade_rows == row].sum() == 0
    assert plan.regime_at[18] == 0 and plan.regime_at[17] == 1


def test_bearish_at_start_waits_for_the_switch_to_bullish():
    market = _trending_market(down_from=17, up_from=31)
    c = cfg(regime={"signal": "total_market_cap_sma", "window": 3}, backtest={"start": "2024-01-20"})
    plan = build_plan(c, market)
    invested = plan.weights.sum(axis=1) > 0
    assert plan.trade_kind[invested][0] == KIND_REGIME_ENTRY and plan.trade_rows[invested][0] == 32
    assert (plan.trade_kind[~invested] == KIND_SCHEDULED).all()  # bearish Mondays: stable sleeve only


def test_asset_price_sma_signal_and_errors():
    market = _trending_market(down_from=17, up_from=31)
    plan = build_plan(cfg(regime={"signal": "asset_price_sma", "window": 3, "asset": "a01"}), market)
    assert KIND_REGIME_EXIT in plan.trade_kind
    with pytest.raises(ValueError, match="regime.asset.*nope"):
        build_plan(cfg(regime={"signal": "asset_price_sma", "window": 3, "asset": "nope"}), market)
    with pytest.raises(PlanError, match="stable.asset"):
        build_plan(cfg(stable={"asset": "nope"}), market)


def test_backtest_window_bounds_and_empty_window_error():
    market = flip_market()
    plan = build_plan(cfg(backtest={"start": "2024-01-03", "end": "2024-01-06"}), market)
    assert (plan.first_row, plan.last_row) == (2, 5)
    with pytest.raises(PlanError, match="holds no observation"):
        build_plan(cfg(backtest={"start": "2030-01-01"}), market)


def test_infeasible_cap_is_equal_weight_with_a_warning():
    plan = build_plan(cfg(selection={"top_n": 2}, weighting={"max_weight": 0.3}), flip_market())
    np.testing.assert_allclose(plan.weights[plan.weights.sum(axis=1) > 0].max(axis=1), 0.5)
    assert [w.kind for w in plan.warnings] == ["cap_infeasible"]


def test_weekly_panel_and_a_hole_in_the_data_is_warned_about():
    price = np.ones((12, 3))
    market = make_market(price, price * [[3.0, 2.0, 1.0]], start="2017-01-01", step_days=7)
    plan = build_plan(cfg(selection={"top_n": 2}, rebalance={"frequency": "weekly"}), market)
    assert plan.trade_rows.tolist() == list(range(1, 12)) and not plan.warnings
    holey = make_market(price, price * [[3.0, 2.0, 1.0]], start="2017-01-01", step_days=7)
    dates = holey.dates.copy()
    dates[6:] += 700  # two eras, like the shared weekly file
    object.__setattr__(holey, "dates", dates)
    plan = build_plan(cfg(selection={"top_n": 2}), holey)
    assert [w.kind for w in plan.warnings] == ["stale_decision"] and plan.warnings[0].count == 1


def test_min_scores_screen_excludes_low_and_missing_scores_point_in_time():
    import polars as pl

    from index_engine import MarketData

    rows = []
    for day in range(6):
        for asset, mc, grade in (("a", 3.0, 80.0), ("b", 2.0, 40.0 if day < 3 else 90.0), ("c", 1.0, None)):
            rows.append({"date": f"2024-01-0{day + 1}", "asset_id": asset, "price_usd": 1.0,
                         "market_cap_usd": mc, "grade": grade})
    market = MarketData.from_frame(pl.DataFrame(rows), scores=["grade"])
    plan = build_plan(cfg(selection={"top_n": 3}, universe={"min_scores": {"grade": 50}}), market)
    held = [set(np.flatnonzero(w).tolist()) for w in plan.weights]
    # trade k is at row k + 1 and decides on row k (lag 1): b's grade is 40 on rows 0-2, 90 from row 3
    assert held[0] == {0} and held[2] == {0} and held[3] == {0, 1} and held[-1] == {0, 1}
    warn = {w.kind: w.count for w in plan.warnings}
    assert warn["missing_score"] == len(plan.trade_rows)  # c has no grade at every trade
    with pytest.raises(PlanError, match="min_scores.*'rating'"):
        build_plan(cfg(universe={"min_scores": {"rating": 1}}), market)
