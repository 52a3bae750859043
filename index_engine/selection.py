"""Selection stage: top-N (by market cap or a composite rank) with rank and time buffers.

Needs: the panel, the universe ``Screens``, ``SelectionConfig`` and the trade schedule (decision and
trade rows, invested flags, re-selection and review flags). Produces: the members of each trade as
CSR ``(ptr, col)``. The rules and their timing are in ``kernels.selection`` and docs/methodology.md.
"""

from __future__ import annotations

import numpy as np

from index_engine.config import SelectionConfig
from index_engine.data.panel import MarketData
from index_engine.errors import PlanError
from index_engine.kernels.selection import PanelView, Screens, SelectionRules, TradeSchedule, select_members


def panel_view(market: MarketData, rank_score: np.ndarray | None = None) -> PanelView:
    """The arrays the selection kernel reads (``rank_score`` defaults to the market cap)."""
    return PanelView(price=market.price, market_cap=market.market_cap,
                     rank_score=market.market_cap if rank_score is None else rank_score,
                     volume=market.volume, days=market.dates.astype(np.int64))


def selection_rules(cfg: SelectionConfig, market: MarketData) -> SelectionRules:
    """The kernel's rules for ``cfg``; a composite rank needs volume in the data."""
    weights = cfg.composite or {}
    if cfg.rank_by == "composite" and weights.get("volume", 0.0) > 0 and not np.isfinite(market.volume).any():
        raise PlanError(f"selection.composite ranks by volume, but the market data ({market.source}) has no "
                        "volume_24h_usd values")
    return SelectionRules(
        top_n=cfg.top_n, entry_rank=cfg.entry, exit_rank=cfg.exit, qualify_reviews=cfg.qualify_reviews,
        replace_dropped=cfg.replace_dropped,
        composite_cap=float(weights.get("market_cap", 0.0)) if cfg.rank_by == "composite" else 0.0,
        composite_volume=float(weights.get("volume", 0.0)) if cfg.rank_by == "composite" else 0.0,
    )


def select(view: PanelView, screens: Screens, rules: SelectionRules, schedule: TradeSchedule
           ) -> tuple[np.ndarray, np.ndarray, int]:
    """Members CSR ``(ptr, col)`` of every trade, and the count of pairs excluded for a missing score."""
    ptr, cols, missing = select_members(view, screens, rules, schedule)
    return ptr, cols, int(missing)
