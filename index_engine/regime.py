"""Regime stage: bull/bear state per observation from a trend signal.

Needs: the panel and ``RegimeConfig``; the universe's excluded categories (for the total market
cap). Produces: ``RegimeSeries`` — the signal, its SMA, and the state at each observation using data
through that observation (the caller applies the decision lag).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index_engine.config import RegimeConfig, UniverseConfig
from index_engine.data.panel import MarketData
from index_engine.errors import PlanError
from index_engine.kernels import regime_states, rolling_mean
from index_engine.universe import total_market_cap


@dataclass(frozen=True)
class RegimeSeries:
    """Per-observation regime inputs and state (all arrays (T,)).

    signal: total market cap ex excluded categories (USD) or the regime asset's price (USD).
    sma: simple moving average of the signal over ``window`` observations (NaN until filled).
    lower / upper: thresholds sma × (1 ∓ band).
    state: 1 bull / 0 bear, from data through the observation (undefined SMA counts as bull).
    """

    signal: np.ndarray
    sma: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    state: np.ndarray


def regime_signal(market: MarketData, cfg: RegimeConfig, universe: UniverseConfig) -> np.ndarray:
    """(T,) the signal the regime follows (NaN everywhere for signal 'none')."""
    if cfg.signal == "none":
        return np.full(market.n_dates, np.nan)
    if cfg.signal == "total_market_cap_sma":
        return total_market_cap(market, universe)
    if cfg.asset is None:  # the config requires it for asset_price_sma
        raise PlanError("regime.asset is required for signal asset_price_sma")
    try:
        col = market.asset_index(cfg.asset)
    except KeyError as exc:
        raise PlanError(f"regime.asset: {exc.args[0]}") from None
    return market.last_close(col)  # gaps carry the last close


def compute_regime(
    market: MarketData, cfg: RegimeConfig, universe: UniverseConfig, signal: np.ndarray | None = None
) -> RegimeSeries:
    """The regime series; ``signal`` may be passed in when already computed (``regime_signal``)."""
    t = market.n_dates
    if cfg.signal == "none":
        nan = np.full(t, np.nan)
        return RegimeSeries(nan, nan, nan, nan, np.ones(t, np.int8))
    if signal is None:
        signal = regime_signal(market, cfg, universe)
    sma = rolling_mean(np.ascontiguousarray(signal, dtype=np.float64), cfg.window)
    state = regime_states(signal, sma, cfg.band, cfg.confirm)
    return RegimeSeries(signal, sma, sma * (1 - cfg.band), sma * (1 + cfg.band), state)
