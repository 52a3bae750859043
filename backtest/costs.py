"""The cost model shared by the backtest and the pre-trade quote.

Per order of notional Q (USD) on asset i at trade k:

    cost = (fee + platform_fee)·Q + slippage_i·Q + min(impact_i·Q^0.5, max_impact)·Q + gas_k

``fixed_bps`` slippage gives slippage_i = bps/1e4 and impact_i = 0. ``sqrt_impact`` gives
slippage_i = spread/2 and impact_i = k·σ_i / sqrt(ADV_i) — so the rate is spread/2 + k·σ_i·sqrt(Q/ADV_i)
— with σ_i (daily vol of log returns) and ADV_i (mean 24 h volume) trailing at the decision date.
Assets without volume or volatility there pay ``fallback_bps`` and are counted in a warning.
``max_participation`` caps each order at that share of ADV_i; ``min_order_usd`` skips smaller orders.
The solve itself is ``backtest.kernels.rebalance_legs`` (re-exported here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# the per-trade solve is a numba kernel beside the replay (numba's cache only tracks a function's own file)
from backtest.kernels import rebalance_legs, solve_post_trade_value  # noqa: F401
from index_engine.config import IndexConfig
from index_engine.data.panel import DataWarning, MarketData
from index_engine.errors import CostModelError
from index_engine.kernels import trailing_logret_std_at, trailing_mean_at


@dataclass(frozen=True)
class CostModel:
    """Point-in-time cost parameters for a list of trades (arrays are (R, N) unless noted)."""

    fee_rate: float
    platform_rate: float
    slippage_rate: np.ndarray
    impact: np.ndarray
    order_cap: np.ndarray
    gas: np.ndarray  # (R,) USD per order
    min_order: float
    max_impact: float = np.inf  # cap on the impact rate impact_i·sqrt(Q)
    warnings: tuple[DataWarning, ...] = ()


def build_cost_model(
    cfg: IndexConfig,
    market: MarketData,
    trade_rows: np.ndarray,
    decision_rows: np.ndarray,
    weights: np.ndarray | None = None,
) -> CostModel:
    """Cost parameters for trades at ``trade_rows`` deciding on ``decision_rows`` (point in time).

    ``weights`` (R, N), when given, limits the ``cost_fallback`` warning to assets being bought there.
    """
    costs = cfg.costs
    slip = costs.slippage_model
    shape = (trade_rows.size, market.n_assets)
    warnings: list[DataWarning] = []
    need_adv = slip.model == "sqrt_impact" or costs.max_participation is not None
    adv = None
    if need_adv:
        window = slip.adv_window
        adv = trailing_mean_at(market.volume, decision_rows.astype(np.int64), window)
    if slip.model == "sqrt_impact":
        sigma = trailing_logret_std_at(market.price, decision_rows.astype(np.int64), slip.vol_window)
        if market.n_dates > 1:
            spacing = float(np.median(np.diff(market.dates.astype(np.int64))))
            sigma = sigma / np.sqrt(max(spacing, 1.0))  # per observation → per day
        ok = np.isfinite(sigma) & (adv > 0)
        impact = np.where(ok, slip.k * np.nan_to_num(sigma) / np.sqrt(np.where(ok, adv, 1.0)), 0.0)
        rate = np.where(ok, slip.spread_bps / 2e4, slip.fallback_bps / 1e4)
        lacking = ~ok if weights is None else (~ok & (weights > 0))
        flagged = np.flatnonzero(lacking.any(axis=0))
        if flagged.size:
            warnings.append(DataWarning(
                "cost_fallback", int(flagged.size),
                f"{flagged.size} assets {'traded ' if weights is not None else ''}lack volume or volatility at "
                f"some trades ({int(lacking.sum())} asset-trades): costs.slippage.fallback_bps={slip.fallback_bps} "
                "is charged on their orders there",
                [str(a) for a in market.asset_ids[flagged[:10]]],
            ))
    else:
        impact = np.broadcast_to(0.0, shape)
        rate = np.broadcast_to(slip.bps / 1e4, shape)
    if costs.max_participation is not None:
        order_cap = np.where(adv > 0, costs.max_participation * adv, np.inf)
    else:
        order_cap = np.broadcast_to(np.inf, shape)
    gas = np.full(trade_rows.size, costs.gas_usd)
    if costs.gas_units is not None:
        try:
            col = market.asset_index(costs.gas_asset)
        except KeyError:
            raise CostModelError(f"costs.gas_asset: {costs.gas_asset!r} is not an asset_id in the data") from None
        native = market.last_close(col)[trade_rows]
        if not np.isfinite(native).all():
            first = market.dates[trade_rows[~np.isfinite(native)][0]]
            raise CostModelError(f"costs.gas_asset {costs.gas_asset!r} has no price on or before {first}")
        gas = gas + costs.gas_units * costs.gas_price_gwei * 1e-9 * native
    return CostModel(
        fee_rate=costs.fee_bps / 1e4,
        platform_rate=costs.platform_fee_bps / 1e4,
        slippage_rate=rate,
        impact=impact,
        order_cap=order_cap,
        gas=gas,
        min_order=costs.min_order_usd,
        max_impact=slip.max_impact_bps / 1e4 if slip.model == "sqrt_impact" else np.inf,
        warnings=tuple(warnings),
    )
