"""Float-residue ("dust") orders are never placed: a resize of a held position by at most ORDER_DUST of
the position, or a stable-sleeve trade of at most ORDER_DUST of NAV_pre (backtest.kernels.solve)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from backtest import run_backtest
from backtest.kernels import ORDER_DUST, Legs, rebalance_legs
from index_engine import IndexConfig
from index_engine.codes import FREEZE_DUST, FREEZE_NONE
from index_engine.testing import check_result_invariants
from tests._helpers import make_market


def _constant_market(t: int = 4):
    """a at $1, b at $3, usd at $7 (a stablecoin by category, so never a risk asset): nothing ever moves."""
    price = np.ones((t, 3)) * [1.0, 3.0, 7.0]
    return make_market(price, ids=["a", "b", "usd"], categories={"usd": "stablecoin"})


def _cfg(stable: str, gas: float) -> IndexConfig:
    return IndexConfig.from_dict({
        "selection": {"top_n": 2}, "weighting": {"scheme": "equal"}, "regime": {"signal": "none"},
        "stable": {"asset": stable}, "rebalance": {"frequency": "every_observation", "decision_lag": 0},
        "costs": {"fee_bps": 10, "gas_usd": gas}})


def test_a_float_residue_order_no_longer_pays_gas():
    """Regression. Day 1 buys a and b for w·x each; on day 2 the prices and targets are unchanged, but
    qty·price − w·NAV is 5.8e-11 USD for a (float residue). The replay used to place that order and charge it
    the full gas_usd (1e-8 USD, 170× its notional); with gas_usd = 1 the residue made the first solve pay gas,
    which moved x, so both legs traded $1.001 and paid $1 each — every day."""
    market = _constant_market()
    for gas in (1e-8, 1.0):
        result = run_backtest(_cfg("cash", gas), market)
        check_result_invariants(result, market)
        later = result.transactions.filter(pl.col("date") > market.dates[0])
        assert later.height == 0, later
        nav = result.nav["nav"].to_list()
        assert nav[1:] == [nav[0]] * 3  # nothing is charged after the first day
        assert result.nav["costs"].to_list()[1:] == [0.0] * 3
        assert result.unfilled.height == 0  # dust is not an unfilled order


def test_dust_does_not_clutter_unfilled_orders():
    """Regression: with min_order_usd = 5, the residue's gas made each leg want a $1.001 order, below the
    minimum, so unfilled.parquet reported two phantom min_order rows at every rebalance."""
    market = _constant_market()
    cfg = _cfg("cash", 1.0).with_overrides({"costs.min_order_usd": 5.0})
    result = run_backtest(cfg, market)
    check_result_invariants(result, market)
    assert result.unfilled.height == 0 and result.transactions.height == 2


def _legs(h, w, h_s, w_s, gas=1.0, nav=None, lin=0.001):
    m = len(w)
    nav = float(sum(h) + h_s) if nav is None else nav
    return rebalance_legs(Legs(h=np.asarray(h, float), w=np.asarray(w, float), lin=np.full(m, lin),
                               impact=np.zeros(m), cap=np.full(m, np.inf), h_s=h_s, w_s=w_s, lin_s=lin,
                               impact_s=0.0, gas=gas, gas_s=gas, max_impact=np.inf, min_order=0.0, nav_pre=nav))


def test_legs_at_target_up_to_residue_do_not_trade():
    # 0.1 + 0.2 + 0.7 in float: each leg sits within a few ulps of w·NAV_pre
    f = _legs([100.00000000000003, 199.99999999999997], [0.1, 0.2], 700.0000000000001, 0.7)
    assert f.ok and f.x == f.post.sum() + f.post_s == pytest.approx(1000.0, rel=1e-15)
    assert f.trade.tolist() == [0.0, 0.0] and f.trade_s == 0.0
    assert f.frozen.tolist() == [FREEZE_DUST, FREEZE_DUST]


def test_a_leg_at_target_still_trades_when_another_leg_pays_costs():
    """Not dust: when b's reweight costs money, a at its old target must sell w_a·costs so that every
    post-trade weight equals its target exactly — a real order (exact self-financing, as before)."""
    f = _legs([100.0, 300.0], [0.1, 0.2], 600.0, 0.7)
    assert f.ok and f.frozen.tolist() == [FREEZE_NONE, FREEZE_NONE]
    costs = 0.001 * (abs(f.trade).sum() + abs(f.trade_s)) + 3 * 1.0
    assert f.x == pytest.approx(1000.0 - costs, rel=1e-14)
    assert f.trade[0] == pytest.approx(-0.1 * costs, rel=1e-9) and f.trade[0] < 0
    assert (f.post / f.x).tolist() == pytest.approx([0.1, 0.2], rel=1e-14) and f.post_s / f.x == pytest.approx(0.7)


def test_entries_and_exits_are_never_dust():
    # a position of 1e-13 × NAV is sold; a target of 1e-13 is bought (both 100 % of their position)
    f = _legs([1e-7, 0.0], [0.0, 1e-13], 1e6 - 1e-7, 1.0 - 1e-13, gas=0.0)
    assert f.frozen.tolist() == [FREEZE_NONE, FREEZE_NONE]
    assert f.trade[0] == -1e-7 and f.trade[1] == pytest.approx(1e-7)


def test_the_threshold_is_relative_to_the_position():
    # a $1 resize of a $1e6 position is 1e-6 of it: a real order (far above ORDER_DUST)
    f = _legs([1e6 - 1.0, 0.0], [1.0, 0.0], 1.0, 0.0, gas=0.0, lin=0.0)
    assert f.trade[0] == pytest.approx(1.0) and f.frozen[0] == FREEZE_NONE
    # the same position off by half the threshold is left alone
    h = 1e6 * (1 - 0.5 * ORDER_DUST)
    f = _legs([h], [1.0], 1e6 - h, 0.0, gas=0.0, lin=0.0)
    assert f.frozen[0] == FREEZE_DUST and f.trade[0] == 0.0 and f.trade_s == 0.0
