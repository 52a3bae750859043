"""Turn the kernel's arrays into the published frames and statistics, in bulk (no per-row Python)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import polars as pl

from backtest.kernels import REASON_NAMES
from backtest.result import BacktestResult
from backtest.stats import compute_stats
from index_engine import __version__
from index_engine.config import IndexConfig
from index_engine.data.panel import MarketData
from index_engine.plan import KIND_NAMES, IndexPlan
from index_engine.regime import BULL

CASH_ID = "cash"


class SimulationArrays(NamedTuple):
    nav: np.ndarray
    stable_value: np.ndarray
    turnover: np.ndarray
    fee: np.ndarray
    slippage: np.ndarray
    gas: np.ndarray
    n_holdings: np.ndarray
    tx_row: np.ndarray
    tx_col: np.ndarray
    tx_qty: np.ndarray
    tx_price: np.ndarray
    tx_notional: np.ndarray
    tx_fee: np.ndarray
    tx_slippage: np.ndarray
    tx_gas: np.ndarray
    tx_reason: np.ndarray
    h_row: np.ndarray
    h_col: np.ndarray
    h_qty: np.ndarray
    h_price: np.ndarray
    h_value: np.ndarray
    h_weight: np.ndarray
    status: int
    fail_at: int


def _labels(market: MarketData, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """asset_id and symbol for column indices; −1 is the cash sleeve."""
    ids = np.append(market.asset_ids, CASH_ID).astype(object)
    syms = np.append(market.symbols, "CASH").astype(object)
    return ids[cols], syms[cols]


def nav_frame(market: MarketData, plan: IndexPlan, sim: SimulationArrays, level: np.ndarray) -> pl.DataFrame:
    rows = np.arange(plan.first_row, plan.last_row + 1)
    regime = np.where(plan.regime_at[rows] == BULL, "bull", "bear")
    return pl.DataFrame({
        "date": market.dates[rows],
        "nav": sim.nav,
        "regime": regime,
        "stable_weight": sim.stable_value / sim.nav,
        "turnover": sim.turnover,
        "costs": sim.fee + sim.slippage + sim.gas,
        "n_holdings": sim.n_holdings,
        "fee": sim.fee,
        "slippage": sim.slippage,
        "gas": sim.gas,
        "signal": _at_decision(plan.regime.signal, rows - plan.decision_lag),
        "signal_sma": _at_decision(plan.regime.sma, rows - plan.decision_lag),
        "index_level": level,
    })


def _at_decision(series: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The regime input in effect for a trade at each row (NaN before the data starts)."""
    return np.where(rows >= 0, series[np.maximum(rows, 0)], np.nan)


def holdings_frame(market: MarketData, sim: SimulationArrays) -> pl.DataFrame:
    ids, syms = _labels(market, sim.h_col)
    return pl.DataFrame({
        "date": market.dates[sim.h_row],
        "asset_id": pl.Series(ids, dtype=pl.Utf8),
        "symbol": pl.Series(syms, dtype=pl.Utf8),
        "quantity": sim.h_qty,
        "price": sim.h_price,
        "value": sim.h_value,
        "weight": sim.h_weight,
    })


def transactions_frame(market: MarketData, sim: SimulationArrays) -> pl.DataFrame:
    ids, syms = _labels(market, sim.tx_col)
    return pl.DataFrame({
        "date": market.dates[sim.tx_row],
        "asset_id": pl.Series(ids, dtype=pl.Utf8),
        "symbol": pl.Series(syms, dtype=pl.Utf8),
        "side": np.where(sim.tx_qty > 0, "buy", "sell"),
        "quantity": np.abs(sim.tx_qty),
        "price": sim.tx_price,
        "notional": sim.tx_notional,
        "fee": sim.tx_fee,
        "slippage": sim.tx_slippage,
        "gas": sim.tx_gas,
        "reason": pl.Series(np.asarray(REASON_NAMES, dtype=object)[sim.tx_reason], dtype=pl.Utf8),
    })


def regime_switch_dates(market: MarketData, plan: IndexPlan) -> list[dict]:
    kinds = plan.trade_kind
    switch = (kinds == 2) | (kinds == 3)
    return [
        {"date": str(market.dates[r]), "to": "bear" if k == 2 else "bull"}
        for r, k in zip(plan.trade_rows[switch], kinds[switch])
    ]


def benchmarks_frame(benchmarks: list[tuple[str, BacktestResult]]) -> pl.DataFrame:
    """Long frame: date, benchmark, nav (net of the same costs), index_level (gross, base 1000)."""
    frames = [
        r.nav.select("date", pl.lit(name).alias("benchmark"), "nav", "index_level") for name, r in benchmarks
    ]
    if not frames:
        return pl.DataFrame(schema={"date": pl.Date, "benchmark": pl.Utf8, "nav": pl.Float64, "index_level": pl.Float64})
    return pl.concat(frames)


def build_result(
    cfg: IndexConfig,
    market: MarketData,
    plan: IndexPlan,
    sim: SimulationArrays,
    level: np.ndarray,
    benchmarks: list[tuple[str, BacktestResult]] = (),
) -> BacktestResult:
    nav = nav_frame(market, plan, sim, level)
    rows = np.arange(plan.first_row, plan.last_row + 1)
    dates = market.dates[rows]
    switches = regime_switch_dates(market, plan)
    risk_on = sim.n_holdings > 0
    stats = compute_stats(dates, sim.nav, sim.turnover, sim.fee, sim.slippage, sim.gas, risk_on, len(switches))
    zero = np.zeros_like(sim.nav)
    gross = compute_stats(dates, level, sim.turnover, zero, zero, zero, risk_on, len(switches))
    kinds, counts = np.unique(plan.trade_kind, return_counts=True)
    stats["n_trades_by_kind"] = {KIND_NAMES[k]: int(c) for k, c in zip(kinds, counts)}
    stats["n_transactions"] = int(sim.tx_row.size)
    warnings = {w.kind: {"count": w.count, "message": w.message, "examples": list(w.examples)}
                for w in (*market.warnings, *plan.warnings)}
    summary = {
        "index": cfg.name,
        "statistics": stats,
        "gross": gross,
        "benchmarks": {name: r.stats for name, r in benchmarks},
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
    return BacktestResult(
        config=cfg,
        nav=nav,
        holdings=holdings_frame(market, sim),
        transactions=transactions_frame(market, sim),
        stats=stats,
        summary=summary,
        plan=plan,
        benchmarks=benchmarks_frame(list(benchmarks)),
    )
