"""The cost model shared by the backtest and the pre-trade quote: config → ``CostSpec`` and gas.

Per order of notional Q (USD) on asset i at trade k:

    cost = (fee + platform_fee)·Q + slippage_i·Q + min(impact_i·Q^0.5, max_impact)·Q + gas_k

``fixed_bps`` slippage gives slippage_i = bps/1e4 and impact_i = 0. ``sqrt_impact`` gives
slippage_i = spread/2 and impact_i = k·σ_i / sqrt(ADV_i) — so the rate is spread/2 + k·σ_i·sqrt(Q/ADV_i)
— with σ_i (daily vol of log returns, each return scaled by its own calendar gap) and ADV_i (mean 24 h
volume) trailing at the decision date. Assets without volume or volatility there pay ``fallback_bps``
and are counted in a warning. ``max_participation`` caps each order at that share of ADV_i;
``min_order_usd`` skips smaller orders. The per-asset parameters are computed inside the replay
kernel for the assets a trade involves (``backtest.kernels.costs.leg_cost``), never as R × N arrays.
"""

from __future__ import annotations

import numpy as np

from backtest.kernels.costs import CostSpec
from index_engine.config import IndexConfig
from index_engine.data.panel import DataWarning, MarketData
from index_engine.errors import CostModelError


def cost_spec(cfg: IndexConfig) -> CostSpec:
    """The kernel's cost settings for ``cfg`` (rates as fractions of notional)."""
    costs = cfg.costs
    slip = costs.slippage_model
    sqrt = slip.model == "sqrt_impact"
    return CostSpec(
        fee_rate=costs.fee_bps / 1e4,
        platform_rate=costs.platform_fee_bps / 1e4,
        fixed_rate=slip.bps / 1e4,
        sqrt_impact=sqrt,
        impact_k=float(slip.k),
        half_spread=slip.spread_bps / 2e4,
        fallback_rate=slip.fallback_bps / 1e4,
        max_impact=slip.max_impact_bps / 1e4 if sqrt else np.inf,
        vol_window=int(slip.vol_window),
        adv_window=int(slip.adv_window),
        participation=float(costs.max_participation) if costs.max_participation is not None else 0.0,
        min_order=float(costs.min_order_usd),
    )


def gas_per_order(cfg: IndexConfig, market: MarketData, trade_rows: np.ndarray) -> np.ndarray:
    """(R,) gas per order in USD at each trade: ``gas_usd`` plus units × gwei × 1e-9 × the gas asset's
    last close on or before the trade date."""
    costs = cfg.costs
    gas = np.full(trade_rows.size, costs.gas_usd)
    if costs.gas_units is not None and costs.gas_price_gwei is not None:  # validated to come together
        try:
            col = market.asset_index(costs.gas_asset)
        except KeyError:
            raise CostModelError(f"costs.gas_asset: {costs.gas_asset!r} is not an asset_id in the data") from None
        native = market.last_close(col)[trade_rows]
        if not np.isfinite(native).all():
            first = market.dates[trade_rows[~np.isfinite(native)][0]]
            raise CostModelError(f"costs.gas_asset {costs.gas_asset!r} has no price on or before {first}")
        gas = gas + costs.gas_units * costs.gas_price_gwei * 1e-9 * native
    return gas


def fallback_warning(cfg: IndexConfig, market: MarketData, fell_back: np.ndarray, n_pairs: int) -> DataWarning | None:
    """The ``cost_fallback`` warning: assets bought at trades where they lacked volume or volatility."""
    flagged = np.flatnonzero(fell_back)
    if not flagged.size:
        return None
    slip = cfg.costs.slippage_model
    return DataWarning(
        "cost_fallback", int(flagged.size),
        f"{flagged.size} assets traded lack volume or volatility at some trades ({int(n_pairs)} asset-trades): "
        f"costs.slippage.fallback_bps={slip.fallback_bps} is charged on their orders there",
        [str(a) for a in market.asset_ids[flagged[:10]]],
    )
