"""The panel a run uses: the config's data hygiene, applied once to the whole panel, with its warnings.

``prepare_market(cfg, market)`` is called by ``backtest.engine.run_backtest`` and
``backtest_statistics`` before anything else, so the plan and the replay see the same panel:

* ``prices.spike_factor`` / ``spike_window``: spiked closes become missing (``data.cleaning``), with
  warning ``price_spike_filtered``.

Without a filter it returns ``market`` itself, so runs are exactly as before. The filtered panel is
computed once per (panel, filter) and reused (sweeps, benchmarks). Preparing a prepared panel for
the same config returns it unchanged — filtering twice would not be the same rule — and for another
config re-prepares its source. To build a plan yourself with the filter on, call this first.
"""

from __future__ import annotations

import weakref
from typing import Optional

from index_engine.config import IndexConfig
from index_engine.data.cleaning import filter_spikes
from index_engine.data.panel import MarketData

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
    key = panel_key(cfg)
    origin = _ORIGIN.get(market)
    if origin is not None:
        if origin[1] == key:
            return market
        source: Optional[MarketData] = origin[0]()
        if source is None:
            raise ValueError("prepare_market: this panel was prepared for another config and its source panel is "
                             "gone; prepare the source panel again")
        market = source
    out = _filtered(market, key)
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
