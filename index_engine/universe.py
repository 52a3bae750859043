"""Universe / eligibility stage: which assets may be selected at each trade.

Needs: the panel, ``UniverseConfig``, each trade's decision rows, the stable sleeve's column.
Produces: a ``kernels.selection.Screens`` bundle that the selection kernel evaluates per trade
(no R × N eligibility matrix), plus the total market cap the regime follows.

An asset is eligible for trade k when, at the decision row d_k, it has a finite price > 0 and a
market cap > 0, its category is not excluded, it has ``min_history_days`` of history (days since its
first priced observation), a trailing mean volume >= ``min_volume_usd`` over ``volume_window``
observations ending at d_k, it is in ``assets`` (when given), every score named in ``min_scores`` is
present and at least its minimum at d_k — and it has a valid price at the trade row t_k, since we
never buy at a missing price.
"""

from __future__ import annotations

import numpy as np

from index_engine.config import UniverseConfig
from index_engine.data.panel import MarketData
from index_engine.errors import PlanError
from index_engine.kernels import positive_row_sum
from index_engine.kernels.selection import Screens

_NONE_BOOL = np.zeros((0, 0), np.bool_)


def universe_mask(market: MarketData, universe: UniverseConfig) -> np.ndarray:
    """(N,) bool: assets whose category is not excluded and that the ``assets`` list allows."""
    keep = ~np.isin(market.categories, np.array(universe.exclude_categories, dtype=object))
    if universe.assets is not None:
        keep &= np.isin(market.asset_ids, np.array(universe.assets, dtype=object))
    return keep


def total_market_cap(market: MarketData, universe: UniverseConfig) -> np.ndarray:
    """(T,) sum of finite positive market caps of the non-excluded universe, USD."""
    return positive_row_sum(market.market_cap, np.flatnonzero(universe_mask(market, universe)))


def first_priced_day(market: MarketData) -> np.ndarray:
    """(N,) int64 day number (days since 1970-01-01) of each asset's first priced observation."""
    first = market.assets["first_date"].to_numpy().astype("datetime64[D]")
    return np.where(np.isnat(first), np.iinfo(np.int64).max // 2, first.astype(np.int64)).astype(np.int64)


def score_screen(market: MarketData, cfg: UniverseConfig, decision_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, N) bool: passes every ``min_scores`` screen at the decision rows; (R, N) bool: some score is
    missing there. Both (0, 0) when there is no score screen."""
    if not cfg.min_scores:
        return _NONE_BOOL, _NONE_BOOL
    shape = (decision_rows.size, market.n_assets)
    ok = np.ones(shape, bool)
    missing = np.zeros(shape, bool)
    d = np.maximum(decision_rows, 0)
    for name, minimum in cfg.min_scores.items():
        if name not in market.scores:
            raise PlanError(
                f"universe.min_scores: score column {name!r} is not loaded in the market data "
                f"({market.source}); score columns come from the data file (MarketData.from_parquet/from_csv/"
                f"from_frame with scores=[{name!r}]; the CLI loads every min_scores column of --data); the "
                "synthetic market has none"
            )
        score = market.scores[name][d]
        missing |= ~np.isfinite(score)
        ok &= np.isfinite(score) & (score >= minimum)
    return ok, missing


def screens(market: MarketData, cfg: UniverseConfig, decision_rows: np.ndarray, stable_col: int = -1,
            list_of_trade: np.ndarray | None = None, list_members: np.ndarray | None = None) -> Screens:
    """The eligibility screens of ``cfg`` for trades deciding at ``decision_rows``."""
    static_ok = universe_mask(market, cfg)
    if stable_col >= 0:
        static_ok[stable_col] = False
    ok, missing = score_screen(market, cfg, decision_rows)
    return Screens(
        static_ok=static_ok,
        first_day=first_priced_day(market),
        min_history_days=int(cfg.min_history_days),
        min_volume=float(cfg.min_volume_usd),
        volume_window=int(cfg.volume_window),
        score_ok=ok,
        score_missing=missing,
        list_of_trade=np.zeros(0, np.int64) if list_of_trade is None else list_of_trade,
        list_members=_NONE_BOOL if list_members is None else list_members,
    )
