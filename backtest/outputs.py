"""Turn the kernel's arrays into the published frames and statistics, in bulk (no per-row Python)."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from backtest.analysis.sections import contributions_section, relative_section
from backtest.kernels import SimulationResult
from backtest.result import BacktestResult, Lazy
from backtest.stats import compute_stats
from index_engine import __version__
from index_engine.codes import (
    BEAR,
    BULL,
    CASH_ID,
    KIND_NAMES,
    KIND_REGIME_ENTRY,
    KIND_REGIME_EXIT,
    PARTIAL,
    REASON_NAMES,
    REGIME_NAMES,
    UNFILLED_REASONS,
)
from index_engine.config import IndexConfig
from index_engine.data.panel import MarketData
from index_engine.plan import IndexPlan

CASH_SYMBOL = "CASH"

_IDS: weakref.WeakKeyDictionary[MarketData, pl.Series] = weakref.WeakKeyDictionary()


def _labels(market: MarketData, rows: np.ndarray, cols: np.ndarray) -> tuple[pl.Series, pl.Series]:
    """asset_id and symbol Series of panel cells (row, col) (col −1 is the cash sleeve), gathered in bulk.

    The symbol is the one observed at the row's date (``MarketData.symbols_at``: never a later ticker).
    The per-panel id Series and symbol lookup are built once and shared by every frame of every run.
    """
    if market not in _IDS:
        _IDS[market] = pl.Series("asset_id", [*market.asset_ids.tolist(), CASH_ID], dtype=pl.Utf8)
    where = np.where(cols < 0, market.n_assets, cols)
    return _IDS[market].gather(where), market.symbols_at(rows, cols, fill=CASH_SYMBOL)


def _names(names: tuple[str, ...], codes: np.ndarray, column: str) -> pl.Series:
    return pl.Series(column, list(names), dtype=pl.Utf8).gather(codes.astype(np.int64))


_SIDES = ("sell", "buy")


def nav_frame(market: MarketData, plan: IndexPlan, sim: SimulationResult, level: np.ndarray) -> pl.DataFrame:
    """nav.parquet: one row per observation of the window (values after that date's trades)."""
    rows = np.arange(plan.first_row, plan.last_row + 1)
    share = plan.share_at[rows]
    regime = _names(REGIME_NAMES, regime_codes(share), "regime")
    return pl.DataFrame({
        "date": market.dates[rows],
        "nav": sim.nav,
        "regime": regime,
        "stable_weight": sim.stable_value / sim.nav,
        "turnover": sim.turnover,
        "costs": sim.fee + sim.platform_fee + sim.slippage + sim.gas,
        "n_holdings": sim.n_holdings,
        "fee": sim.fee,
        "platform_fee": sim.platform_fee,
        "slippage": sim.slippage,
        "gas": sim.gas,
        "signal": _at_decision(plan.regime.signal, rows - plan.decision_lag),
        "signal_sma": _at_decision(plan.regime.sma, rows - plan.decision_lag),
        "index_level": level,
        "rebalance_skipped": sim.skipped,
        "risk_share": share,
        "stable_yield": sim.stable_yield,
        **signal_columns(plan, rows - plan.decision_lag),
    })


def regime_codes(share: np.ndarray) -> np.ndarray:
    """``codes.REGIME_NAMES`` index of each risk share: bear (0), bull (1), partial (in between)."""
    return np.where(share >= 1.0, BULL, np.where(share <= 0.0, BEAR, PARTIAL))


def signal_columns(plan: IndexPlan, decision_rows: np.ndarray) -> dict[str, np.ndarray]:
    """Each signal's inputs in effect at each row (at its decision row): ``signal_<name>`` (its value),
    ``signal_<name>_lower`` / ``_upper`` (the exit and entry thresholds) and ``vote_<name>`` (its own
    state machine, 1 bull / 0 bear — before the ``evaluate`` sampling and the vote)."""
    out: dict[str, np.ndarray] = {}
    for s in plan.regime.signals:
        out[f"signal_{s.name}"] = _at_decision(s.value, decision_rows)
        out[f"signal_{s.name}_lower"] = _at_decision(s.lower, decision_rows)
        out[f"signal_{s.name}_upper"] = _at_decision(s.upper, decision_rows)
        vote = np.where(decision_rows >= 0, s.state[np.maximum(decision_rows, 0)], BULL)
        out[f"vote_{s.name}"] = vote.astype(np.int8)
    return out


def _at_decision(series: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The regime input in effect for a trade at each row (NaN before the data starts)."""
    return np.where(rows >= 0, series[np.maximum(rows, 0)], np.nan)


def holdings_frame(market: MarketData, sim: SimulationResult) -> pl.DataFrame:
    """holdings.parquet: one row per position after the trades of every trade date."""
    h = sim.holdings
    ids, syms = _labels(market, h["row"], h["col"])
    return pl.DataFrame({
        "date": market.dates[h["row"]],
        "asset_id": ids,
        "symbol": syms,
        "quantity": h["quantity"],
        "price": h["price"],
        "value": h["value"],
        "weight": h["weight"],
    })


def transactions_frame(market: MarketData, sim: SimulationResult) -> pl.DataFrame:
    """transactions.parquet: one row per order with its costs and reason."""
    o = sim.orders
    ids, syms = _labels(market, o["row"], o["col"])
    return pl.DataFrame({
        "date": market.dates[o["row"]],
        "asset_id": ids,
        "symbol": syms,
        "side": _names(_SIDES, o["quantity"] > 0, "side"),
        "quantity": np.abs(o["quantity"]),
        "price": o["price"],
        "notional": o["notional"],
        "fee": o["fee"],
        "slippage": o["slippage"],
        "gas": o["gas"],
        "reason": _names(REASON_NAMES, o["reason"], "reason"),
        "platform_fee": o["platform_fee"],
    })


def unfilled_frame(market: MarketData, sim: SimulationResult) -> pl.DataFrame:
    """Orders skipped (below min_order_usd) or cut (max_participation), with what was filled."""
    u = sim.unfilled
    ids, syms = _labels(market, u["row"], u["col"])
    return pl.DataFrame({
        "date": market.dates[u["row"]],
        "asset_id": ids,
        "symbol": syms,
        "side": _names(_SIDES, u["requested"] > 0, "side"),
        "requested_notional": np.abs(u["requested"]),
        "filled_notional": u["filled"],
        "price": u["price"],
        "reason": _names(UNFILLED_REASONS, u["reason"], "reason"),
    })


def regime_switch_dates(market: MarketData, plan: IndexPlan) -> list[dict]:
    """The trade dates of the regime exits and entries, ``[{"date", "to", "share"}]`` (summary.json):
    ``to`` is the regime label after the switch (bear / bull / partial), ``share`` the risk share."""
    kinds = plan.trade_kind
    switch = (kinds == KIND_REGIME_EXIT) | (kinds == KIND_REGIME_ENTRY)
    rows = plan.trade_rows[switch]
    labels = regime_codes(plan.share_at[rows])
    return [{"date": str(market.dates[r]), "to": REGIME_NAMES[c], "share": float(plan.share_at[r])}
            for r, c in zip(rows, labels)]


def stats_invested(sim: SimulationResult) -> np.ndarray:
    """Share of NAV in risk assets after each observation's trades."""
    return np.clip(1.0 - sim.stable_value / sim.nav, 0.0, 1.0)


def run_statistics(cfg: IndexConfig, market: MarketData, plan: IndexPlan, sim: SimulationResult) -> dict:
    """The flat statistics of a run (``backtest.stats.STATS_KEYS`` plus transaction counts)."""
    rows = np.arange(plan.first_row, plan.last_row + 1)
    n_switches = int(np.isin(plan.trade_kind, (KIND_REGIME_EXIT, KIND_REGIME_ENTRY)).sum())
    stats = compute_stats(market.dates[rows], sim.nav, sim.turnover, sim.fee, sim.slippage, sim.gas,
                          stats_invested(sim), n_switches, platform_fee=sim.platform_fee,
                          initial_value=cfg.backtest.initial_nav)
    stats["n_transactions"] = int(sim.orders.shape[0])
    stats["n_unfilled_orders"] = int(sim.unfilled.shape[0])
    stats["n_reconstitutions"] = int(plan.reselected.sum())
    stats["n_rebalances_skipped"] = int(sim.skipped.sum())
    stats["stable_yield"] = float(sim.stable_yield.sum())
    return stats


def benchmarks_frame(benchmarks: list[tuple[str, BacktestResult]]) -> pl.DataFrame:
    """Long frame: date, benchmark, nav (net of the same costs), index_level (gross, base 1000)."""
    frames = [
        r.nav.select("date", pl.lit(name).alias("benchmark"), "nav", "index_level") for name, r in benchmarks
    ]
    if not frames:
        return pl.DataFrame(schema={"date": pl.Date, "benchmark": pl.Utf8, "nav": pl.Float64,
                                    "index_level": pl.Float64})
    return pl.concat(frames)


def build_result(
    cfg: IndexConfig,
    market: MarketData,
    plan: IndexPlan,
    sim: SimulationResult,
    level: np.ndarray,
    benchmarks: Sequence[tuple[str, BacktestResult]] = (),
    cost_warnings: tuple = (),
    contributions: bool = True,
    rules: dict | None = None,
) -> BacktestResult:
    """The ``BacktestResult`` of a replay: the statistics now; the summary (summary.json) and the
    frames when they are first read. ``contributions`` False leaves the summary's contributions
    digest out (null), as for the benchmarks' own runs; ``rules`` is the summary's ``rules`` entry
    (a custom methodology's description)."""
    switches = regime_switch_dates(market, plan)
    stats = run_statistics(cfg, market, plan, sim)
    rows = np.arange(plan.first_row, plan.last_row + 1)
    zero = np.zeros_like(sim.nav)
    gross = compute_stats(market.dates[rows], level, sim.turnover, zero, zero, zero, stats_invested(sim),
                          len(switches), initial_value=1000.0)
    kinds, counts = np.unique(plan.trade_kind, return_counts=True)
    stats["n_trades_by_kind"] = {KIND_NAMES[k]: int(c) for k, c in zip(kinds, counts)}
    def make_summary() -> dict[str, Any]:
        warnings = {w.kind: {"count": w.count, "message": w.message, "examples": list(w.examples)}
                    for w in (*market.warnings, *plan.warnings, *cost_warnings)}
        summary = {
            "index": cfg.name,
            "statistics": stats,
            "gross": gross,
            "benchmarks": {name: r.stats for name, r in benchmarks},
            "relative": relative_section(market.dates[rows], sim.nav, cfg.backtest.initial_nav, benchmarks),
            "contributions": contributions_section(market, plan, sim,
                                                   np.asarray(REGIME_NAMES)[regime_codes(plan.share_at[rows])])
            if contributions else None,
            "regime_switches": switches,
            "warnings": warnings,
            "data": {
                "source": market.source,
                "sha256": market.content_hash(),
                "n_dates": market.n_dates,
                "n_assets": market.n_assets,
                "first_date": str(market.dates[0]),
                "last_date": str(market.dates[-1]),
            },
            "config": cfg.resolved(),
            "config_sha256": cfg.config_hash(),
            "version": __version__,
        }
        if rules is not None:
            summary["rules"] = rules
        return summary

    bench = list(benchmarks)
    frames = {
        "nav": Lazy(lambda: nav_frame(market, plan, sim, level)),
        "holdings": Lazy(lambda: holdings_frame(market, sim)),
        "transactions": Lazy(lambda: transactions_frame(market, sim)),
        "benchmarks": Lazy(lambda: benchmarks_frame(bench)),
        "unfilled": Lazy(lambda: unfilled_frame(market, sim)),
    }
    return BacktestResult(config=cfg, stats=stats, summary=Lazy(make_summary), plan=plan, frames=frames)
