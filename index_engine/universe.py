"""Universe / eligibility stage.

Needs: the panel, ``UniverseConfig``, each trade's decision and trade rows, and the stable
sleeve's column (excluded from the risk universe). Produces: (R, N) bool eligibility.

An asset is eligible for trade k when, at the decision row d_k, it has a finite price > 0 and a
market cap > 0, its category is not excluded, it has ``min_history_days`` of history (days since its
first priced observation), a trailing mean volume >= ``min_volume_usd`` over ``volume_window``
observations ending at d_k, it is in ``assets`` (when given) — and it has a valid price at the trade
row t_k, since we never buy at a missing price.
"""

from __future__ import annotations

import numpy as np

from index_engine.config import UniverseConfig
from index_engine.data.panel import MarketData
from index_engine.kernels import trailing_mean_at
from index_engine.regime import universe_mask


def _valid(x: np.ndarray) -> np.ndarray:
    return np.isfinite(x) & (x > 0)


def eligibility(
    market: MarketData,
    cfg: UniverseConfig,
    decision_rows: np.ndarray,
    trade_rows: np.ndarray,
    stable_col: int = -1,
) -> np.ndarray:
    """(R, N) bool eligibility; rows with ``decision_rows < 0`` (no data yet) are all False."""
    have = decision_rows >= 0
    d = np.maximum(decision_rows, 0)
    elig = _valid(market.price[d]) & _valid(market.market_cap[d]) & _valid(market.price[trade_rows])
    elig &= have[:, None]
    elig &= universe_mask(market, cfg)[None, :]
    if stable_col >= 0:
        elig[:, stable_col] = False
    if cfg.min_history_days > 0:
        first = market.assets["first_date"].to_numpy().astype("datetime64[D]")
        age = (market.dates[d][:, None] - first[None, :]).astype(np.int64)
        elig &= age >= cfg.min_history_days
    if cfg.min_volume_usd > 0:
        vol = trailing_mean_at(market.volume, np.where(have, decision_rows, -1), cfg.volume_window)
        elig &= vol >= cfg.min_volume_usd
    return elig
