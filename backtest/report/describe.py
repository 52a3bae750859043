"""The run's config in words, as the report prints it: the signal, the schedule, the cost model
and the benchmark labels. Plain text; the templates escape it."""

from __future__ import annotations

import polars as pl

from backtest.formatting import money, sig
from index_engine.config import CostsConfig, IndexConfig
from index_engine.errors import ConfigError

SCHEMES = {"market_cap": "cap-weighted", "sqrt_market_cap": "√cap-weighted", "equal": "equal-weighted"}


def run_config(summary: dict) -> IndexConfig:
    """The run's resolved config (``summary["config"]``), validated; ConfigError names the key."""
    raw = summary.get("config")
    if not isinstance(raw, dict):
        raise ConfigError("summary.json: no 'config' mapping (the resolved config of the run)")
    return IndexConfig.from_dict(raw, source="summary.json: config")


def rebalance_text(cfg: IndexConfig) -> str:
    """"weekly (Mondays)", "monthly (1st of the month)" or "every observation"."""
    reb = cfg.rebalance
    if reb.frequency == "weekly":
        return f"weekly ({reb.weekday.capitalize()}s)"
    if reb.frequency == "monthly":
        return "monthly (1st of the month)"
    return "every observation"


def cost_model(costs: CostsConfig) -> list[str]:
    """One phrase per part of the cost model of ``costs`` (see docs/costs.md), in charging order:
    exchange fee, platform fee, slippage (fixed bps or square-root impact), gas (USD and/or native
    gas units × gwei priced in ``gas_asset``), and the minimum order and participation cap if set."""
    parts = [f"exchange fee {sig(costs.fee_bps)} bp"]
    if costs.platform_fee_bps:
        parts.append(f"platform fee {sig(costs.platform_fee_bps)} bp")
    parts.append(_slippage(costs))
    gas = []
    if costs.gas_usd:
        gas.append(money(costs.gas_usd, compact=False))
    if costs.gas_units is not None:
        gas.append(f"{sig(costs.gas_units)} gas units × {sig(costs.gas_price_gwei)} gwei priced in {costs.gas_asset}")
    parts.append(f"gas {' + '.join(gas)} per order" if gas else "no gas")
    if costs.min_order_usd:
        parts.append(f"orders under {money(costs.min_order_usd, compact=False)} skipped")
    if costs.max_participation is not None:
        adv = costs.slippage_model.adv_window
        parts.append(f"orders capped at {sig(costs.max_participation * 100)}% of ADV ({adv}-obs. mean volume)")
    return parts


def _slippage(costs: CostsConfig) -> str:
    sm = costs.slippage_model
    if sm.model == "fixed_bps":
        return f"slippage {sig(sm.bps)} bp" if sm.bps else "no slippage"
    impact = (f"{sig(sm.k)}·σ·√(order / ADV) impact, at most {sig(sm.max_impact_bps)} bp "
              f"(σ over {sm.vol_window} obs., ADV over {sm.adv_window} obs.; {sig(sm.fallback_bps)} bp without them)")
    spread = f"half the {sig(sm.spread_bps)} bp spread + " if sm.spread_bps else ""
    return f"square-root slippage: {spread}{impact}"


def benchmark_labels(summary: dict, benchmarks: pl.DataFrame | None, symbols: dict[str, str],
                     top_n: int) -> dict[str, str]:
    """A readable label for every benchmark named in ``summary.json`` or ``benchmarks.parquet``."""
    names = list(summary.get("benchmarks") or {})
    if benchmarks is not None:
        names += [n for n in benchmarks["benchmark"].unique(maintain_order=True).to_list() if n not in names]
    fixed = {"no_regime": "Same index, no regime filter", "equal_weight": f"Equal-weight top {top_n}"}
    return {n: fixed.get(n) or f"{symbols.get(n, n)} buy & hold" for n in names}
