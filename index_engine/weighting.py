"""Weighting stage: market cap, sqrt of market cap or equal, with an optional exact cap.

Needs: (R, N) market caps at each trade's decision row, (R, N) selection, ``WeightingConfig``.
Produces: (R, N) risk-sleeve weights (each active row sums to 1 within 1e-12) and (R,) flags of
trades where the cap was infeasible (n × max_weight < 1 → equal weights).
"""

from __future__ import annotations

import numpy as np

from index_engine.config import WeightingConfig
from index_engine.kernels import weights_for_trades
from index_engine.kernels.capping import SCHEME_EQUAL, SCHEME_MARKET_CAP, SCHEME_SQRT_MARKET_CAP

_SCHEMES = {"market_cap": SCHEME_MARKET_CAP, "sqrt_market_cap": SCHEME_SQRT_MARKET_CAP, "equal": SCHEME_EQUAL}


def weigh(score: np.ndarray, selected: np.ndarray, cfg: WeightingConfig) -> tuple[np.ndarray, np.ndarray]:
    cap = cfg.max_weight if cfg.max_weight is not None else 0.0
    return weights_for_trades(np.ascontiguousarray(score), np.ascontiguousarray(selected), _SCHEMES[cfg.scheme], cap)
