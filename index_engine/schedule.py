"""Rebalance calendar: which observations are scheduled rebalance dates.

The schedule follows the calendar, not the backtest start. A scheduled day D (each chosen weekday,
or the 1st of each month) maps to the first observation on or after D; observation t is a
rebalance date when some scheduled day falls in (date[t−1], date[t]]. The first observation of the
data counts only when it is itself a scheduled day.
"""

from __future__ import annotations

import numpy as np

from index_engine.config import WEEKDAYS, RebalanceConfig


def _weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 … Sunday = 6 for int days since 1970-01-01 (a Thursday)."""
    return (days + 3) % 7


def rebalance_mask(dates: np.ndarray, cfg: RebalanceConfig) -> np.ndarray:
    """(T,) bool: True on scheduled rebalance observations."""
    days = dates.astype("datetime64[D]").astype(np.int64)
    if days.size == 0:
        return np.zeros(0, bool)
    prev = np.empty_like(days)
    prev[1:] = days[:-1]
    prev[0] = days[0] - 1
    if cfg.frequency == "every_observation":
        return np.ones(days.size, bool)
    if cfg.frequency == "weekly":
        target = WEEKDAYS.index(cfg.weekday)
        last_scheduled = days - (_weekday(days) - target) % 7
    else:  # monthly: the 1st of the month containing date[t]
        months = dates.astype("datetime64[M]")
        last_scheduled = months.astype("datetime64[D]").astype(np.int64)
    return last_scheduled > prev
