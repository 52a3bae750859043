"""Regime stage: the risk share at each observation, from a library of trend signals.

Needs: the panel, ``RegimeConfig`` and the universe (its excluded categories and asset list define
the total market cap and the breadth ranking). Produces: ``RegimeSeries`` — per signal its value,
reference, thresholds and bull/bear state, and the combined risk share, each at observation t using
data through t only. ``share_in_effect`` then applies the decision lag and the ``evaluate`` sampling.

Signals (docs/methodology.md, *Regime*): every signal is a *value* compared with a *reference*;
bearish below reference × (1 − exit band), bullish again above reference × (1 + entry band):

================================  ===================================  ==============================
signal                            value                                reference
================================  ===================================  ==============================
total_market_cap_sma              total market cap                     its SMA(window)
asset_price_sma                   ``asset``'s close (forward-filled)   its SMA(window)
sma_crossover / ema_crossover     SMA / EMA(fast_window) of the series SMA / EMA(window)
breadth                           share of the top N above own SMA     ``breadth.threshold`` (≥ is bull)
momentum                          the series                           the series momentum_window ago
drawdown                          the series                           (1 − drawdown_limit) × peak
================================  ===================================  ==============================

"The series" is ``asset``'s close when ``asset`` is set, else the total market cap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index_engine.codes import BULL
from index_engine.config import RegimeConfig, SignalConfig, UniverseConfig
from index_engine.config.regime import FOLLOWS_ASSET
from index_engine.data.panel import MarketData
from index_engine.errors import PlanError
from index_engine.kernels import breadth_share, ema, regime_machine, rolling_mean
from index_engine.universe import total_market_cap, universe_mask


@dataclass(frozen=True)
class SignalSeries:
    """One signal's arrays (T,), each at observation t from data through t.

    name: its label in nav.parquet (``signal_<name>``, ``vote_<name>``): the signal type, suffixed
        ``_2``, ``_3`` … when a composite lists the type again.
    value / reference: what is compared (see the module table); NaN where undefined.
    lower / upper: reference × (1 − exit band) and reference × (1 + entry band).
    state: 1 bull / 0 bear (int8); an undefined value counts as bull and restarts the confirmation.
    """

    name: str
    value: np.ndarray
    reference: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    state: np.ndarray


@dataclass(frozen=True)
class RegimeSeries:
    """The regime over the whole panel (arrays (T,), at observation t from data through t).

    signals: every signal that runs a state machine (one, or a composite's list; none for ``none``).
    share: the risk share — 1.0 / 0.0 for binary exposure (by ``combine``), k / m for graduated.
    state: 1 where the share is > 0 (int8).
    signal / sma / lower / upper: the single signal's value, reference and thresholds (the nav
        columns ``signal`` and ``signal_sma``); NaN for ``none`` and for a composite.
    composite: True for ``signal: composite`` (its signals get their own nav columns).
    """

    signals: tuple[SignalSeries, ...]
    share: np.ndarray
    state: np.ndarray
    signal: np.ndarray
    sma: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    composite: bool = False


def series_key(sig: SignalConfig, universe: UniverseConfig) -> tuple:
    """A hashable description of the series ``sig`` follows (for sharing it between configs)."""
    if sig.signal in FOLLOWS_ASSET and sig.asset is not None:
        return ("close", sig.asset)
    return ("total_market_cap", tuple(universe.exclude_categories), tuple(universe.assets or ()))


def follow_series(market: MarketData, sig: SignalConfig, universe: UniverseConfig) -> np.ndarray:
    """(T,) the series ``sig`` follows: ``asset``'s close (gaps carry the last close) or the total
    market cap of the universe (USD)."""
    kind = series_key(sig, universe)
    if kind[0] == "total_market_cap":
        total = total_market_cap(market, universe)
        over = np.flatnonzero(np.isinf(total))
        if over.size:
            raise PlanError(f"regime: the total market cap of the universe overflows to infinity on "
                            f"{market.dates[over[0]]} ({market.source}); check the data's market_cap column")
        return total
    try:
        col = market.asset_index(kind[1])
    except KeyError as exc:
        raise PlanError(f"regime.asset: {exc.args[0]}") from None
    return market.last_close(col)


def signal_values(market: MarketData, sig: SignalConfig, universe: UniverseConfig,
                  series: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(value, reference), each (T,), of one signal; ``series`` is ``follow_series`` (unused by breadth)."""
    s = sig.signal
    if s == "breadth":
        return _breadth(market, sig, universe), np.full(market.n_dates, float(sig.breadth.threshold))
    assert series is not None
    x = np.ascontiguousarray(series, dtype=np.float64)
    if s in ("total_market_cap_sma", "asset_price_sma"):
        return x, rolling_mean(x, sig.window)
    if s == "sma_crossover":
        return rolling_mean(x, int(sig.fast_window or 1)), rolling_mean(x, sig.window)
    if s == "ema_crossover":
        return ema(x, int(sig.fast_window or 1)), ema(x, sig.window)
    if s == "momentum":
        k = int(sig.momentum_window or 1)
        ref = np.full(x.size, np.nan)
        ref[k:] = x[: x.size - k] if k < x.size else ref[k:]
        return x, ref
    if s == "drawdown":
        peak = np.fmax.accumulate(np.where(np.isfinite(x), x, np.nan))
        return x, (1.0 - float(sig.drawdown_limit or 0.0)) * peak
    raise PlanError(f"regime.signal: {s!r} has no series")  # 'none' and 'composite' never get here


def _breadth(market: MarketData, sig: SignalConfig, universe: UniverseConfig) -> np.ndarray:
    caps = market.market_cap
    if not np.any(np.isfinite(caps) & (caps > 0)):
        raise PlanError(f"regime.signal: breadth ranks by market cap, but the data ({market.source}) has no "
                        "positive market_cap_usd value; use a price signal (regime.asset) instead")
    b = sig.breadth
    return breadth_share(market.price, caps, universe_mask(market, universe), b.top_n, b.window)


def signal_series(market: MarketData, sig: SignalConfig, universe: UniverseConfig, name: str,
                  series: np.ndarray | None = None) -> SignalSeries:
    """One signal's values, thresholds and state machine; ``series`` may be passed in when computed."""
    if series is None and sig.signal != "breadth":
        series = follow_series(market, sig, universe)
    value, reference = signal_values(market, sig, universe, series)
    lower = reference * (1.0 - sig.exit_band_value)
    upper = reference * (1.0 + sig.entry_band_value)
    state = regime_machine(value, lower, upper, sig.entry_confirm_value, sig.exit_confirm_value, sig.min_dwell,
                           sig.signal == "breadth")
    return SignalSeries(name, value, reference, lower, upper, state)


def combine_states(states: np.ndarray, cfg: RegimeConfig) -> np.ndarray:
    """(T,) risk share from (m, T) signal states: graduated k / m, else 1.0 / 0.0 by ``combine``."""
    m = states.shape[0]
    k = (states == BULL).sum(axis=0)
    if cfg.exposure == "graduated":
        return k / m
    if cfg.combine == "all":
        bull = k == m
    elif cfg.combine == "any":
        bull = k >= 1
    else:
        bull = 2 * k > m
    return bull.astype(np.float64)


def compute_regime(market: MarketData, cfg: RegimeConfig, universe: UniverseConfig,
                   parts: list[SignalSeries] | None = None) -> RegimeSeries:
    """The regime series; ``parts`` (``signal_series`` of each of ``cfg.parts()``) may be passed in."""
    t = market.n_dates
    nan = np.full(t, np.nan)
    if cfg.signal == "none":
        return RegimeSeries((), np.ones(t), np.ones(t, np.int8), nan, nan, nan, nan)
    if parts is None:
        parts = [signal_series(market, p, universe, n) for p, n in zip(cfg.parts(), cfg.part_names())]
    share = combine_states(np.stack([p.state for p in parts]), cfg) if parts else np.ones(t)
    state = (share > 0).astype(np.int8)
    if cfg.signal == "composite":
        return RegimeSeries(tuple(parts), share, state, nan, nan, nan, nan, composite=True)
    one = parts[0]
    return RegimeSeries(tuple(parts), share, state, one.value, one.reference, one.lower, one.upper)


def share_in_effect(share: np.ndarray, lag: int, sample: np.ndarray | None = None) -> np.ndarray:
    """(T,) risk share in effect for a trade at each row: the share at row t − lag (1.0 before any
    data). With ``sample`` (T,) bool (``evaluate: rebalance``), the share changes only on sampled rows
    and is held in between; rows before the first sampled row keep the lagged share."""
    t = share.size
    at = np.ones(t)
    if lag < t:
        at[lag:] = share[: t - lag]
    if sample is None:
        return at
    last = np.maximum.accumulate(np.where(sample, np.arange(t), -1))
    return np.where(last >= 0, at[np.maximum(last, 0)], at)
