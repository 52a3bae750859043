"""Selection stage: top-N by market cap with an optional entry/exit rank buffer.

Needs: (R, N) market caps at each trade's decision row, (R, N) eligibility, (R,) active flags
(False for trades into the stable sleeve), ``SelectionConfig``. Produces: (R, N) bool selection.
Incumbents are the previous active trade's selection; see ``kernels.ranking``.
"""

from __future__ import annotations

import numpy as np

from index_engine.config import SelectionConfig
from index_engine.kernels import select_constituents


def select(score: np.ndarray, eligible: np.ndarray, active: np.ndarray, cfg: SelectionConfig) -> np.ndarray:
    return select_constituents(
        np.ascontiguousarray(score), np.ascontiguousarray(eligible), np.ascontiguousarray(active),
        cfg.top_n, cfg.entry, cfg.exit,
    )
