"""The ``prices`` section: how the engine treats bad or missing closes (a methodology section).

Both keys are off by default (``null``), which keeps every run as it was.
"""

from __future__ import annotations

from typing import Optional

from index_engine.config.base import Section, key


class PricesConfig(Section):
    """Bad and missing closes: a point-in-time spike filter and holding through short price gaps."""

    spike_factor: Optional[float] = key(
        None, gt=1, le=1e12, allowed="> 1, or `null` (off)",
        doc="Treat a close as missing (for every decision and for valuation) when it is more than this factor above, "
            "or below 1/factor of, the median of the asset's last `spike_window` valid closes before it. Decided "
            "point in time: nothing after the close is used. Its market cap is dropped too. Flagged cells are counted "
            "in warning `price_spike_filtered`. `null` = no filter.")
    spike_window: int = key(
        5, ge=3, le=1000, allowed="3 … 1000, valid closes",
        doc="Number of the asset's previous valid closes (flagged ones included) whose median is the reference. A "
            "move that persists for more than half of them is accepted; a close is judged once the asset has 3 valid "
            "closes. Used only with `spike_factor`.")
    max_stale_days: Optional[int] = key(
        None, ge=1, le=100_000, allowed="1 … 100000, calendar days, or `null`",
        doc="A held asset without a close on a trade date whose last valid close is at most this many days old is "
            "neither sold nor bought there: its position is kept (`unfilled.parquet` reason `stale_price`) and the "
            "other legs trade. It is sold as `delisted` once the gap is longer. `null` = sell at once (`delisted`).")
