"""``run_backtest``: replay an index methodology over a market panel.

Needs: an ``IndexConfig`` and a ``MarketData``. Produces: a ``BacktestResult`` with the NAV series,
post-trade holdings, the transactions log and the statistics. The kernel boundary is here:
``replay_inputs`` turns the plan and the config into the kernel's typed bundles and validates them
once (shapes, dtypes, contiguity, preconditions), so the kernels can trust their inputs.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from backtest.costs import cost_spec, fallback_warning, gas_per_order
from backtest.kernels import BASE_LEVEL, CostSpec, ReplayMarket, ReplayPlan, SimulationResult, index_level, simulate
from backtest.outputs import build_result, run_statistics
from backtest.result import BacktestResult
from index_engine.codes import STATUS_NAV_EXHAUSTED, STATUS_OK
from index_engine.config import IndexConfig
from index_engine.data.panel import MarketData
from index_engine.errors import BacktestError, PlanError
from index_engine.hygiene import panel_key, prepare_market
from index_engine.kernels.portable import exp_array, log_array
from index_engine.methodology import Methodology, split
from index_engine.plan import IndexPlan, PlanCache, build_plan


class ReplayInputs(NamedTuple):
    """The replay kernel's three input bundles."""

    market: ReplayMarket
    plan: ReplayPlan
    costs: CostSpec


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


def stable_growth(cfg: IndexConfig, market: MarketData) -> np.ndarray:
    """(T,) growth factor of the stable sleeve's units from the previous observation:
    (1 + stable.yield_apr) ^ (calendar days / 365), 1.0 at the first row and without a yield. Computed
    with the portable exp/log (``index_engine.kernels.portable``), identical on every CPU."""
    apr = float(cfg.stable.yield_apr)
    out = np.ones(market.n_dates)
    if apr == 0.0 or market.n_dates < 2:
        return out
    gaps = np.diff(market.dates.astype("datetime64[D]").astype(np.int64)).astype(np.float64)
    out[1:] = exp_array(log_array(np.array([1.0 + apr]))[0] * gaps / 365.0)
    return out


def replay_inputs(cfg: IndexConfig, market: MarketData, plan: IndexPlan) -> ReplayInputs:
    """The kernel's inputs for ``plan``, validated (see ``_check``)."""
    targets = plan.targets
    inputs = ReplayInputs(
        market=ReplayMarket(
            price=market.price, volume=market.volume, days=market.dates.astype(np.int64),
            stable_price=stable_prices(market, plan), stable_growth=stable_growth(cfg, market),
        ),
        plan=ReplayPlan(
            first=int(plan.first_row), last=int(plan.last_row), trade_rows=plan.trade_rows.astype(np.int64),
            decision_rows=plan.decision_rows.astype(np.int64), trade_kind=plan.trade_kind.astype(np.int8),
            ptr=targets.ptr, col=targets.col, weight=targets.weight,
            skippable=np.ascontiguousarray(plan.skippable, dtype=np.bool_), drift_band=float(plan.drift_band),
            stable_col=int(plan.stable_col),
            gas=gas_per_order(cfg, market, plan.trade_rows), initial_nav=float(cfg.backtest.initial_nav),
            max_stale_days=-1 if cfg.prices.max_stale_days is None else int(cfg.prices.max_stale_days),
        ),
        costs=cost_spec(cfg),
    )
    _check(inputs)
    return inputs


def _check(inputs: ReplayInputs) -> None:
    """One validation of the kernel's preconditions; a failure is a bug upstream (BacktestError)."""
    mk, pl = inputs.market, inputs.plan
    t, n = mk.price.shape
    problems = []
    for name, arr, shape, dtype in (
        ("price", mk.price, (t, n), np.float64), ("volume", mk.volume, (t, n), np.float64),
        ("days", mk.days, (t,), np.int64), ("stable_price", mk.stable_price, (t,), np.float64),
        ("stable_growth", mk.stable_growth, (t,), np.float64), ("trade_rows", pl.trade_rows, None, np.int64),
        ("decision_rows", pl.decision_rows, pl.trade_rows.shape, np.int64),
        ("trade_kind", pl.trade_kind, pl.trade_rows.shape, np.int8),
        ("ptr", pl.ptr, (pl.trade_rows.size + 1,), np.int64), ("col", pl.col, None, np.int64),
        ("weight", pl.weight, pl.col.shape, np.float64), ("skippable", pl.skippable, pl.trade_rows.shape, np.bool_),
        ("gas", pl.gas, pl.trade_rows.shape, np.float64),
    ):
        if arr.dtype != dtype or (shape is not None and arr.shape != shape) or not arr.flags.c_contiguous:
            problems.append(f"{name}: {arr.dtype}{arr.shape} (contiguous={arr.flags.c_contiguous}); expected "
                            f"{np.dtype(dtype)}{shape or ''} C-contiguous")
    if not problems:
        rows = pl.trade_rows
        if not (0 <= pl.first <= pl.last < t):
            problems.append(f"window rows {pl.first}..{pl.last} outside 0..{t - 1}")
        if rows.size and (rows[0] < pl.first or rows[-1] > pl.last or np.any(np.diff(rows) <= 0)):
            problems.append("trade rows must increase strictly inside the window")
        if np.any(pl.decision_rows > rows):
            problems.append("a decision row is after its trade row (look-ahead)")
        if pl.ptr[0] != 0 or pl.ptr[-1] != pl.col.size or np.any(np.diff(pl.ptr) < 0):
            problems.append("targets: ptr must start at 0, never decrease and end at len(col)")
        if pl.col.size and (pl.col.min() < 0 or pl.col.max() >= n):
            problems.append("targets: a column is outside the panel")
        if not np.all(np.isfinite(pl.weight) & (pl.weight >= 0)):
            problems.append("targets: weights must be finite and >= 0")
        if not (np.isfinite(pl.initial_nav) and pl.initial_nav > 0):
            problems.append(f"initial_nav {pl.initial_nav} must be finite and > 0")
        if not np.all(np.isfinite(pl.gas) & (pl.gas >= 0)):
            problems.append("gas per order must be finite and >= 0")
        window = mk.stable_price[pl.first: pl.last + 1]
        if not np.all(np.isfinite(window) & (window > 0)):
            problems.append("the stable sleeve has no positive price somewhere in the window")
    if problems:
        raise BacktestError("replay inputs are inconsistent (please report this): " + "; ".join(problems))


def simulate_plan(cfg: IndexConfig, market: MarketData, plan: IndexPlan,
                  inputs: ReplayInputs | None = None) -> SimulationResult:
    """Run the replay kernel for a plan; BacktestError when the replay cannot continue."""
    inputs = inputs or replay_inputs(cfg, market, plan)
    sim = simulate(market=inputs.market, plan=inputs.plan, costs=inputs.costs)
    if sim.status != STATUS_OK:
        date = market.dates[plan.trade_rows[sim.fail_at]]
        if sim.status == STATUS_NAV_EXHAUSTED:
            raise BacktestError(
                f"on {date} the costs of the rebalance exceed the portfolio value (gas per order "
                f"{inputs.plan.gas[sim.fail_at]:,.2f} USD with costs.gas_usd={cfg.costs.gas_usd}, plus fees and "
                "slippage): lower the costs or raise backtest.initial_nav"
            )
        raise BacktestError(f"the self-financing cost solve did not converge on {date} (please report this)")
    return sim


def gross_level(inputs: ReplayInputs) -> np.ndarray:
    """The gross index level (base 1000, units method, no costs): ``backtest.kernels.level``."""
    return index_level(market=inputs.market, plan=inputs.plan, base=BASE_LEVEL)


def run_backtest(spec: IndexConfig | Methodology, market: MarketData, benchmarks: bool = True) -> BacktestResult:
    """Replay ``spec`` (an ``IndexConfig``, or a ``Methodology`` with custom Python rules) over
    ``market``; see ``docs/methodology.md`` for every convention and ``docs/python.md`` for rules.

    With ``benchmarks`` (default) the series listed in ``cfg.benchmarks`` are run too, by the same
    engine (``backtest.benchmarks``), and returned in ``result.benchmarks``. For a methodology,
    ``no_regime`` keeps its selection and weighting rules and drops its regime rule.
    """
    return _replay(spec, market, benchmarks, digest=True)


def _replay(spec: IndexConfig | Methodology, market: MarketData, benchmarks: bool, digest: bool) -> BacktestResult:
    """``run_backtest``; a benchmark's own run skips the contributions digest (``digest``), which
    only the index's summary shows."""
    from backtest.benchmarks import benchmark_configs

    cfg, custom = split(spec)
    market = prepare_market(cfg, market)  # prices.spike_factor etc. (index_engine/hygiene.py), once for all
    plan = build_plan(spec, market)
    inputs = replay_inputs(cfg, market, plan)
    sim = simulate_plan(cfg, market, plan, inputs)
    level = gross_level(inputs)
    bench = []
    if benchmarks and cfg.benchmarks.enabled:
        for name, bcfg in benchmark_configs(cfg, market):
            bspec = custom.without("regime").with_config(bcfg) if custom is not None and name == "no_regime" else bcfg
            bench.append((name, _replay(bspec, market, benchmarks=False, digest=False)))
    warning = fallback_warning(cfg, market, sim.fell_back, sim.n_fell_back)
    return build_result(cfg, market, plan, sim, level, bench, () if warning is None else (warning,),
                        contributions=digest, rules=None if custom is None else custom.describe())


def backtest_statistics(spec: IndexConfig | Methodology, market: MarketData, cache: PlanCache | None = None) -> dict:
    """The statistics of ``run_backtest(spec, market)`` without building any frame (for sweeps).

    With a shared ``cache``, configs that differ only in costs or initial NAV reuse one plan, and
    every plan reuses the regime signal and the rebalance calendar.
    """
    cfg, custom = split(spec)
    market = prepare_market(cfg, market)
    cache = (cache or PlanCache()).get(panel_key(cfg), PlanCache)  # one cache per prepared panel
    key = ("plan", cfg.plan_key(), custom.key() if custom is not None else ())
    plan = cache.get(key, lambda: build_plan(spec, market, cache))
    sim = simulate_plan(cfg, market, plan)
    return run_statistics(cfg, market, plan, sim)
