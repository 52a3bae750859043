"""``run_backtest``: replay an index methodology over a market panel.

Needs: an ``IndexConfig`` and a ``MarketData``. Produces: a ``BacktestResult`` with the NAV series,
post-trade holdings, the transactions log and the statistics.
"""

from __future__ import annotations

import numpy as np

from backtest.costs import CostModel, build_cost_model
from backtest.index_level import BASE_LEVEL, index_level
from backtest.kernels import simulate
from backtest.outputs import SimulationArrays, build_result, run_statistics
from backtest.result import BacktestResult
from index_engine.config import IndexConfig
from index_engine.data.panel import MarketData
from index_engine.codes import STATUS_NAV_EXHAUSTED, STATUS_OK
from index_engine.errors import BacktestError, PlanError
from index_engine.plan import IndexPlan, PlanCache, build_plan


def stable_prices(market: MarketData, plan: IndexPlan) -> np.ndarray:
    """(T,) price of the stable sleeve: 1.0 for cash, else the asset's last valid close."""
    if plan.stable_col < 0:
        return np.ones(market.n_dates)
    out = market.last_close(plan.stable_col)
    if not np.isfinite(out[plan.first_row]):
        raise PlanError(
            f"stable.asset {market.asset_ids[plan.stable_col]!r} has no price on or before the backtest "
            f"start {market.dates[plan.first_row]}"
        )
    return out


def simulate_plan(cfg: IndexConfig, market: MarketData, plan: IndexPlan, costs: CostModel | None = None) -> SimulationArrays:
    """Run the replay kernel for a plan and return its raw arrays."""
    if costs is None:
        costs = build_cost_model(cfg, market, plan.trade_rows, plan.decision_rows)
    nnz = (plan.weights > 0).sum(axis=1)
    capacity = int(2 * nnz.sum() + 2 * nnz.size + 64)
    out = simulate(
        market.price,
        stable_prices(market, plan),
        plan.stable_col,
        plan.first_row,
        plan.last_row,
        plan.trade_rows.astype(np.int64),
        plan.trade_kind,
        np.ascontiguousarray(plan.weights),
        float(cfg.backtest.initial_nav),
        costs.fee_rate,
        costs.platform_rate,
        costs.slippage_rate,
        costs.impact,
        costs.order_cap,
        costs.gas,
        costs.min_order,
        costs.max_impact,
        capacity,
    )
    sim = SimulationArrays(*out)
    if sim.status != STATUS_OK:
        date = market.dates[plan.trade_rows[sim.fail_at]]
        if sim.status == STATUS_NAV_EXHAUSTED:
            raise BacktestError(
                f"on {date} the costs of the rebalance exceed the portfolio value (gas per order "
                f"{costs.gas[sim.fail_at]:,.2f} USD with costs.gas_usd={cfg.costs.gas_usd}, plus fees and slippage): "
                "lower the costs or raise backtest.initial_nav"
            )
        raise BacktestError(f"the self-financing cost solve did not converge on {date} (please report this)")
    return sim


def gross_level(market: MarketData, plan: IndexPlan) -> np.ndarray:
    """The gross index level (base 1000, units method, no costs): ``backtest.index_level``."""
    return index_level(market.price, stable_prices(market, plan), plan.first_row, plan.last_row,
                       plan.trade_rows.astype(np.int64), np.ascontiguousarray(plan.weights), BASE_LEVEL)


def run_backtest(cfg: IndexConfig, market: MarketData, benchmarks: bool = True) -> BacktestResult:
    """Replay ``cfg`` over ``market``; see ``docs/methodology.md`` for every convention.

    With ``benchmarks`` (default) the series listed in ``cfg.benchmarks`` are run too, by the same
    engine (``backtest.benchmarks``), and returned in ``result.benchmarks``.
    """
    from backtest.benchmarks import benchmark_configs

    plan = build_plan(cfg, market)
    costs = build_cost_model(cfg, market, plan.trade_rows, plan.decision_rows, plan.weights)
    sim = simulate_plan(cfg, market, plan, costs)
    level = gross_level(market, plan)
    bench = []
    if benchmarks and cfg.benchmarks.enabled:
        bench = [(name, run_backtest(bcfg, market, benchmarks=False)) for name, bcfg in benchmark_configs(cfg, market)]
    return build_result(cfg, market, plan, sim, level, bench, costs.warnings)


def backtest_statistics(cfg: IndexConfig, market: MarketData, cache: PlanCache | None = None) -> dict:
    """The statistics of ``run_backtest(cfg, market)`` without building any frame (for sweeps).

    With a shared ``cache``, configs that differ only in costs or initial NAV reuse one plan, and
    every plan reuses the regime signal and the rebalance calendar.
    """
    cache = cache or PlanCache()
    plan = cache.get(("plan", cfg.plan_key()), lambda: build_plan(cfg, market, cache))
    sim = simulate_plan(cfg, market, plan)
    return run_statistics(cfg, market, plan, sim)
