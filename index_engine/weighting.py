"""Weighting stage: market cap, sqrt of market cap or equal — then exact caps, floors, tiered caps,
category caps and fixed weights, or a membership list's published weights.

Needs: the members CSR of each trade, the (T, N) weighting score (the market cap, or its smoothed
version) read at each trade's decision row, ``WeightingConfig`` and the panel (categories, ids).
Produces: ``Targets`` (each invested trade's weights sum to 1 within 1e-12) and (R,) flags
(``kernels.capping`` INFEASIBLE_* / FIXED_MISSING bits).
"""

from __future__ import annotations

import numpy as np

from index_engine.config import WeightingConfig
from index_engine.data.categories import CATEGORIES
from index_engine.data.panel import MarketData
from index_engine.kernels.capping import (
    SCHEME_EQUAL,
    SCHEME_MARKET_CAP,
    SCHEME_SQRT_MARKET_CAP,
    WeightRules,
    weights_for_members,
)
from index_engine.kernels.sparse import Targets

_SCHEMES = {"market_cap": SCHEME_MARKET_CAP, "sqrt_market_cap": SCHEME_SQRT_MARKET_CAP, "equal": SCHEME_EQUAL}


def weight_rules(cfg: WeightingConfig, market: MarketData | int, list_weights: np.ndarray | None = None,
                 list_of_trade: np.ndarray | None = None) -> WeightRules:
    """The kernel's rules for ``cfg`` over ``market`` (or just a number of assets, without categories)."""
    n = market if isinstance(market, int) else market.n_assets
    category = np.full(n, -1, np.int64)
    caps = np.zeros(0)
    if cfg.category_caps and not isinstance(market, int):
        caps = np.full(len(CATEGORIES), np.inf)
        for name, cap in cfg.category_caps.items():
            caps[CATEGORIES.index(name)] = cap
        codes = {c: i for i, c in enumerate(CATEGORIES)}
        category = np.array([codes.get(c, -1) for c in market.categories.tolist()], np.int64)
    fixed = np.full(n, np.nan)
    if cfg.fixed and not isinstance(market, int):
        for asset, w in cfg.fixed.items():
            pos = int(np.searchsorted(market.asset_ids, asset))
            if pos < n and market.asset_ids[pos] == asset:
                fixed[pos] = w
    return WeightRules(
        scheme=_SCHEMES[cfg.scheme], max_weight=cfg.max_weight if cfg.max_weight is not None else 0.0,
        rank_caps=np.asarray(cfg.rank_caps or [], dtype=np.float64), min_weight=float(cfg.min_weight or 0.0),
        category=category, category_caps=caps, fixed=fixed,
        list_weights=np.zeros((0, 0)) if list_weights is None else list_weights,
        list_of_trade=np.zeros(0, np.int64) if list_of_trade is None else list_of_trade,
    )


def weigh(ptr: np.ndarray, cols: np.ndarray, score: np.ndarray, decision_rows: np.ndarray, rules: WeightRules
          ) -> tuple[Targets, np.ndarray]:
    """Target weights of the members, and the per-trade flags."""
    weight, flags = weights_for_members(ptr, cols, score, np.maximum(decision_rows, 0), rules)
    return Targets(ptr, cols, weight), flags
