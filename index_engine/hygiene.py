"""The panel a run uses: the config's data hygiene, applied once to the whole panel, with its warnings.

``prepare_market(cfg, market)`` is called by ``backtest.engine.run_backtest`` and
``backtest_statistics`` before anything else, so the plan and the replay see the same panel:

* ``prices.spike_factor`` / ``spike_window``: spiked closes become missing (``data.cleaning``), with
  warning ``price_spike_filtered``;
* ``stable.depeg_band``: warning ``stable_depeg`` when the priced stable asset closes outside
  $1 ± the band inside the backtest window (only a warning).

Without a filter or a warning it returns ``market`` itself, so runs are exactly as before. The filtered panel is
computed once per (panel, filter) and reused (sweeps, benchmarks). Preparing a prepared panel for
the same config returns it unchanged — filtering twice would not be the same rule — and for another
config re-prepares its source. To build a plan yourself with the filter on, call this first.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Optional

import numpy as np

from index_engine.config import IndexConfig
from index_engine.data.cleaning import filter_spikes
from index_engine.data.panel import DataWarning, MarketData
from index_engine.errors import PlanError
from index_engine.plan import backtest_window

#: Filtered panels kept per source panel (each is a copy of the price and market-cap arrays).
KEEP = 4
_FILTERED: weakref.WeakKeyDictionary[MarketData, dict[tuple, MarketData]] = weakref.WeakKeyDictionary()
_ORIGIN: weakref.WeakKeyDictionary[MarketData, tuple[weakref.ref, tuple]] = weakref.WeakKeyDictionary()


def panel_key(cfg: IndexConfig) -> tuple:
    """What the prepared panel's arrays depend on (the spike filter), e.g. to key caches of work
    computed from them: ``("prices", None)`` without a filter."""
    p = cfg.prices
    return ("prices", None) if p.spike_factor is None else ("prices", float(p.spike_factor), int(p.spike_window))


def prepare_market(cfg: IndexConfig, market: MarketData) -> MarketData:
    """The panel a run of ``cfg`` uses (see the module docstring); ``market`` itself when nothing applies."""
    key = (panel_key(cfg), cfg.stable.asset, cfg.stable.depeg_band, cfg.backtest.start, cfg.backtest.end)
    origin = _ORIGIN.get(market)
    if origin is not None:
        if origin[1] == key:
            return market
        source: Optional[MarketData] = origin[0]()
        if source is None:
            raise ValueError("prepare_market: this panel was prepared for another config and its source panel is "
                             "gone; prepare the source panel again")
        market = source
    out = _filtered(market, key[0])
    depeg = depeg_warning(cfg, out)
    if depeg is not None:
        out = dataclasses.replace(out, warnings=(*out.warnings, depeg))
    if out is not market:
        _ORIGIN[out] = (weakref.ref(market), key)
    return out


def _filtered(market: MarketData, key: tuple) -> MarketData:
    if key[1] is None:
        return market
    memo = _FILTERED.setdefault(market, {})
    if key not in memo:
        while len(memo) >= KEEP:
            memo.pop(next(iter(memo)))
        memo[key] = filter_spikes(market, key[1], key[2])
    return memo[key]


def depeg_warning(cfg: IndexConfig, market: MarketData) -> Optional[DataWarning]:
    """Warning ``stable_depeg``: the closes of the priced ``stable.asset`` inside the backtest window that are
    outside $1 ± ``stable.depeg_band`` (the 10 largest departures as examples); None when there are none, for
    ``cash``, without a band, or when the asset or the window is not in the panel (the plan reports those)."""
    band, asset = cfg.stable.depeg_band, cfg.stable.asset
    if band is None or asset == "cash":
        return None
    try:
        col = market.asset_index(asset)
        first, last = backtest_window(cfg, market)
    except (KeyError, PlanError):
        return None
    px = market.price[first: last + 1, col]
    rows = np.flatnonzero(np.isfinite(px) & (px > 0))
    out = rows[np.abs(px[rows] - 1.0) > band]
    if out.size == 0:
        return None
    worst = out[np.argsort(-np.abs(px[out] - 1.0), kind="stable")[:10]]
    lo, hi = out[np.argmin(px[out])], out[np.argmax(px[out])]
    day = market.dates[first:]
    return DataWarning(
        "stable_depeg", int(out.size),
        f"stable.asset {asset} closed outside $1 ± {band:g} (stable.depeg_band) on {out.size} of {rows.size} "
        f"observations of the backtest window ({day[0]} .. {day[last - first]}): low {px[lo]:.6g} on {day[lo]}, "
        f"high {px[hi]:.6g} on {day[hi]}. The stable sleeve is valued and traded at these prices; largest "
        "departures first",
        [f"{day[r]}: {px[r]:.6g}" for r in worst],
    )
