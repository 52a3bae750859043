"""Benchmarks, run by the same engine from derived configs (no separate code path).

Needs: the index's ``IndexConfig`` (its ``benchmarks`` section) and the market. Produces one
``(name, config)`` per benchmark:

- ``<asset_id>``: buy-and-hold of that asset — universe restricted to it, top 1, no regime.
- ``no_regime``: the same index, always invested.
- ``equal_weight``: equal-weight top-N of the same universe, always invested.

All keep the index's costs, window, initial NAV, rebalance calendar and stable sleeve.
"""

from __future__ import annotations

from index_engine.config import IndexConfig
from index_engine.data.panel import MarketData
from index_engine.errors import PlanError


def benchmark_configs(cfg: IndexConfig, market: MarketData) -> list[tuple[str, IndexConfig]]:
    """``(name, config)`` of each benchmark in ``cfg.benchmarks``, in the order written to
    benchmarks.parquet: the assets, then ``no_regime``, then ``equal_weight``. ``PlanError`` names a
    benchmark asset absent from ``market``."""
    out: list[tuple[str, IndexConfig]] = []
    base: dict[str, object] = {"benchmarks": {}, "regime": {"signal": "none"}}  # the whole section: no composite left
    for asset in cfg.benchmarks.assets:
        try:
            market.asset_index(asset)
        except KeyError:
            raise PlanError(f"benchmarks.assets: {asset!r} is not an asset_id in the data ({market.source})") from None
        out.append((asset, cfg.with_overrides({
            **base,
            "universe": {"exclude_categories": [], "assets": [asset]},
            "selection": {"top_n": 1},
            "weighting": {"scheme": "equal"},
        })))
    if cfg.benchmarks.no_regime:
        out.append(("no_regime", cfg.with_overrides(base)))
    if cfg.benchmarks.equal_weight:
        out.append(("equal_weight", cfg.with_overrides({**base, "weighting": {"scheme": "equal"}})))
    return out
