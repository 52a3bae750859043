"""Weighting stage: market cap, sqrt of market cap or equal, with exact caps.

Needs: the members CSR of each trade, the (T, N) weighting score (market cap) read at each trade's
decision row, ``WeightingConfig``. Produces: ``Targets`` (each invested trade's weights sum to 1
within 1e-12) and (R,) flags (``kernels.capping`` INFEASIBLE_* bits).
"""

from __future__ import annotations

import numpy as np

from index_engine.config import WeightingConfig
from index_engine.kernels.capping import (
    SCHEME_EQUAL,
    SCHEME_MARKET_CAP,
    SCHEME_SQRT_MARKET_CAP,
    WeightRules,
    weights_for_members,
)
from index_engine.kernels.sparse import Targets

_SCHEMES = {"market_cap": SCHEME_MARKET_CAP, "sqrt_market_cap": SCHEME_SQRT_MARKET_CAP, "equal": SCHEME_EQUAL}


def weight_rules(cfg: WeightingConfig, n_assets: int) -> WeightRules:
    """The kernel's rules for ``cfg``."""
    return WeightRules(
        scheme=_SCHEMES[cfg.scheme], max_weight=cfg.max_weight if cfg.max_weight is not None else 0.0,
        rank_caps=np.zeros(0), min_weight=0.0, category=np.full(n_assets, -1, np.int64),
        category_caps=np.zeros(0), fixed=np.full(n_assets, np.nan), list_weights=np.zeros((0, 0)),
        list_of_trade=np.zeros(0, np.int64),
    )


def weigh(ptr: np.ndarray, cols: np.ndarray, score: np.ndarray, decision_rows: np.ndarray, cfg: WeightingConfig
          ) -> tuple[Targets, np.ndarray]:
    """Target weights of the members, and the per-trade flags."""
    rules = weight_rules(cfg, score.shape[1])
    weight, flags = weights_for_members(ptr, cols, score, np.maximum(decision_rows, 0), rules)
    return Targets(ptr, cols, weight), flags
