"""Market-cap stage: the market cap the methodology ranks and weights by (``market_cap`` section).

Needs: the panel's (T, N) market caps and ``MarketCapConfig``. Produces: a (T, N) array read at each
trade's decision row — the caps themselves, or a smoothed version computed through each row only:

* ``ewma``: per asset over observations, α = 1 − 2^(−1/halflife), seeded with the first valid cap
  (finite, > 0), s = α·m + (1 − α)·s_prev on each valid observation, carried over missing ones;
* ``sma``: the mean of the valid caps among the last ``window`` observations (the current one included).

α is computed with the portable ``exp`` so plans are bit-identical on every CPU.
"""

from __future__ import annotations

import numpy as np

from index_engine.config import MarketCapConfig
from index_engine.data.panel import MarketData
from index_engine.kernels import ewma_of_valid, sma_of_valid
from index_engine.kernels.portable import exp, log


def ewma_alpha(halflife: float) -> float:
    """α = 1 − 2^(−1/halflife): the weight of the newest observation."""
    return 1.0 - exp(-log(2.0) / halflife)


def ranking_cap(market: MarketData, cfg: MarketCapConfig) -> np.ndarray:
    """(T, N) market cap used for ranking and cap-based weights (USD)."""
    if cfg.smoothing == "ewma" and cfg.halflife is not None:  # the config requires it with ewma
        return ewma_of_valid(market.market_cap, ewma_alpha(float(cfg.halflife)))
    if cfg.smoothing == "sma" and cfg.window is not None:  # the config requires it with sma
        return sma_of_valid(market.market_cap, int(cfg.window))
    return market.market_cap
