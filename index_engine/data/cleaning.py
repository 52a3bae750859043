"""Point-in-time cleaning of a panel: closes that are spikes become missing (``prices.spike_factor``).

``filter_spikes(market, factor, window)`` returns a new ``MarketData`` where every close flagged by
``kernels.cleaning.spike_mask`` — more than ``factor`` away from the median of the asset's previous
``window`` valid closes, in either direction — is NaN, and so is its market cap (computed from that
close). Volumes and scores are kept. The panel's warnings gain one ``price_spike_filtered`` warning
with the count and the largest departures as examples. Whether a close is a spike depends only on
closes before it, so filtering a truncated panel gives the truncation of the filtered panel.
"""

from __future__ import annotations

import numpy as np

from index_engine.data.panel import DataWarning, MarketData, panel_from_dense
from index_engine.kernels.cleaning import spike_mask

SPIKE_WARNING = "price_spike_filtered"


def filter_spikes(market: MarketData, factor: float, window: int) -> MarketData:
    """``market`` with its spiked closes (and their market caps) set to NaN; ``market`` itself when no
    close is flagged."""
    mask, ref = spike_mask(market.price, float(factor), int(window))
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return market
    ratio = market.price[rows, cols] / ref[rows, cols]
    departure = np.maximum(ratio, 1.0 / ratio)
    worst = np.argsort(-departure, kind="stable")[:10]
    examples = [f"{market.asset_ids[cols[k]]} {market.dates[rows[k]]}: {market.price[rows[k], cols[k]]:.6g} "
                f"(median of the previous closes {ref[rows[k], cols[k]]:.6g})" for k in worst]
    warning = DataWarning(
        SPIKE_WARNING, int(rows.size),
        f"{rows.size} closes of {np.unique(cols).size} assets are more than {factor:g}× away from the median of "
        f"their previous {window} closes (prices.spike_factor): treated as missing for every decision and for "
        "valuation (their market caps too); largest departures first",
        examples,
    )
    return panel_from_dense(
        dates=market.dates, asset_ids=market.asset_ids, price=np.where(mask, np.nan, market.price),
        market_cap=np.where(mask, np.nan, market.market_cap), volume=market.volume,
        assets=market.assets.drop(["first_date", "last_date"]), source=market.source,
        warnings=(*market.warnings, warning), scores=market.scores, symbol_changes=market.symbol_changes,
    )
