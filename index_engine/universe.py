"""Universe / eligibility stage.

Needs: the panel, ``UniverseConfig``, each trade's decision and trade rows, and the stable
sleeve's column (excluded from the risk universe). Produces: (R, N) bool eligibility.

An asset is eligible for trade k when, at the decision row d_k, it has a finite price > 0 and a
market cap > 0, its category is not excluded, it has ``min_history_days`` of history (days since its
first priced observation), a trailing mean volume >= ``min_volume_usd`` over ``volume_window``
observations ending at d_k, it is in ``assets`` (when given), every score named in ``min_scores`` is present and at least its
minimum at d_k — and it has a valid price at the trade row t_k, since we never buy at a missing price.
"""

from __future__ import annotations

import numpy as np

from index_engine.config import UniverseConfig
from index_engine.data.panel import MarketData
from index_engine.errors import PlanError
from index_engine.kernels import positive_row_sum, trailing_mean_at


def _valid(x: np.ndarray) -> np.ndarray:
    return np.isfinite(x) & (x > 0)


def universe_mask(market: MarketData, universe: UniverseConfig) -> np.ndarray:
    """(N,) bool: assets whose category is not excluded and that the ``assets`` list allows."""
    keep = ~np.isin(market.categories, np.array(universe.exclude_categories, dtype=object))
    if universe.assets is not None:
        keep &= np.isin(market.asset_ids, np.array(universe.assets, dtype=object))
    return keep


def total_market_cap(market: MarketData, universe: UniverseConfig) -> np.ndarray:
    """(T,) sum of finite positive market caps of the non-excluded universe, USD."""
    return positive_row_sum(market.market_cap, np.flatnonzero(universe_mask(market, universe)))


def score_screen(market: MarketData, cfg: UniverseConfig, decision_rows: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, int]:
    """(R, N) bool: passes every ``min_scores`` screen at the decision rows; and how many otherwise
    eligible (asset, trade) pairs were excluded for a missing score."""
    ok = np.ones(base.shape, bool)
    missing = np.zeros(base.shape, bool)
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
    return ok, int((base & missing).sum())


def eligibility(
    market: MarketData,
    cfg: UniverseConfig,
    decision_rows: np.ndarray,
    trade_rows: np.ndarray,
    stable_col: int = -1,
) -> np.ndarray:
    """(R, N) bool eligibility; rows with ``decision_rows < 0`` (no data yet) are all False."""
    return eligibility_with_counts(market, cfg, decision_rows, trade_rows, stable_col)[0]


def eligibility_with_counts(
    market: MarketData,
    cfg: UniverseConfig,
    decision_rows: np.ndarray,
    trade_rows: np.ndarray,
    stable_col: int = -1,
) -> tuple[np.ndarray, int]:
    """``eligibility`` plus the number of (asset, trade) pairs excluded only for a missing score."""
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
    missing_scores = 0
    if cfg.min_scores:
        passed, missing_scores = score_screen(market, cfg, decision_rows, elig)
        elig &= passed
    return elig, missing_scores
