"""Keeps benchmarks/ honest: its hand-written baseline loop and the peers' numpy target weights compute
the same index as index-engine (tiny panel, no peers; see benchmarks/README.md).

The baseline solves the same exact self-financing cost equation as index-engine's replay, so with the
10 bps fee it must agree as tightly as at zero fees: only the order of float summations differs
(observed ~1e-13). Both tolerances are 1e-9 relative, on every day's NAV.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from backtest import run_backtest
from index_engine import IndexConfig
from index_engine.data.synthetic import synthetic_market

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import baseline_numba  # noqa: E402
import workload  # noqa: E402

ZERO_FEE_TOL = 1e-9
FEE_TOL = 1e-9  # same cost equation, solved exactly by both
TOP_N = 20  # < the eligible count, so the baseline's partial selection is exercised
WINDOW = 50  # regime SMA window short enough for switches inside 400 days


@pytest.fixture(scope="module")
def market():
    return synthetic_market(seed=11, n_assets=60, days=400, n_stablecoins=3)


def _config(variant: str, fee_bps: float) -> IndexConfig:
    v = workload.VARIANTS[variant]
    return IndexConfig().with_overrides({**v.engine_overrides(fee_bps), "selection.top_n": TOP_N,
                                         "regime.window": WINDOW})


def _include(market) -> np.ndarray:
    return ~np.isin(market.categories, np.array(workload.EXCLUDED_CATEGORIES, dtype=object))


def _days(market) -> np.ndarray:
    return market.dates.astype("datetime64[D]").astype(np.int64)


@pytest.mark.parametrize("variant", sorted(workload.VARIANTS))
@pytest.mark.parametrize("fee_bps, tol", [(0.0, ZERO_FEE_TOL), (10.0, FEE_TOL)])
def test_baseline_loop_matches_run_backtest(market, variant, fee_bps, tol):
    v = workload.VARIANTS[variant]
    result = run_backtest(_config(variant, fee_bps), market, benchmarks=False)
    ours = result.nav["nav"].to_numpy()
    nav = baseline_numba.run(market.price, market.market_cap, _include(market), workload.schedule_mask(_days(market), v),
                             v.max_weight, v.regime, fee_bps, top_n=TOP_N, regime_window=WINDOW)
    assert nav.shape == ours.shape
    assert np.max(np.abs(nav / ours - 1.0)) <= tol
    if v.regime:  # the regime really switches in this panel, so that path is compared too
        assert set(np.unique(result.nav["regime"].to_numpy())) == {"bull", "bear"}


@pytest.mark.parametrize("variant", sorted(workload.VARIANTS))
def test_peer_target_weights_match_build_plan(market, variant):
    from index_engine.plan import build_plan

    plan = build_plan(_config(variant, 10.0), market)
    rows, w = workload.target_plan(_days(market), market.price, market.market_cap, _include(market),
                                   workload.VARIANTS[variant], top_n=TOP_N, regime_window=WINDOW)
    # trades that change the book: invested targets, and the first all-cash target after one
    def effective(r, x):
        invested = x.sum(axis=1) > 0
        keep = invested | np.r_[False, invested[:-1]]
        return r[keep], x[keep]

    rows_e, w_e = effective(plan.trade_rows, plan.weights)
    rows_p, w_p = effective(rows, w)
    np.testing.assert_array_equal(rows_p, rows_e)
    assert np.abs(w_p - w_e).max() <= 1e-12


def test_memory_floor_reads_every_value(market):
    expected = int(np.isfinite(market.price).sum() + np.isfinite(market.market_cap).sum())
    assert baseline_numba.memory_floor(market.price, market.market_cap) == expected
