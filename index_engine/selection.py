"""Selection stage: top-N (by market cap or a composite rank) with rank and time buffers.

Needs: the panel, the universe ``Screens``, ``SelectionConfig`` and the trade schedule (decision and
trade rows, invested flags, re-selection and review flags). Produces: the members of each trade as
CSR ``(ptr, col)``. The rules and their timing are in ``kernels.selection`` and docs/methodology.md.
"""

from __future__ import annotations

import numpy as np

from index_engine.config import SelectionConfig
from index_engine.data.panel import MarketData
from index_engine.kernels.selection import PanelView, Screens, SelectionRules, TradeSchedule, select_members


def panel_view(market: MarketData, rank_score: np.ndarray | None = None) -> PanelView:
    """The arrays the selection kernel reads (``rank_score`` defaults to the market cap)."""
    return PanelView(price=market.price, market_cap=market.market_cap,
                     rank_score=market.market_cap if rank_score is None else rank_score,
                     volume=market.volume, days=market.dates.astype(np.int64))


def select(view: PanelView, screens: Screens, cfg: SelectionConfig, schedule: TradeSchedule
           ) -> tuple[np.ndarray, np.ndarray, int]:
    """Members CSR ``(ptr, col)`` of every trade, and the count of pairs excluded for a missing score."""
    rules = SelectionRules(top_n=cfg.top_n, entry_rank=cfg.entry, exit_rank=cfg.exit, qualify_reviews=1,
                           replace_dropped=False, composite_cap=0.0, composite_volume=0.0)
    return select_members(view, screens, rules, schedule)
