"""Rebalance calendar: which observations are scheduled rebalance dates.

The schedule follows the calendar, not the backtest start. A scheduled day D (each chosen weekday,
or the 1st of each month) maps to the first observation on or after D; observation t is a
rebalance date when some scheduled day falls in (date[t−1], date[t]]. The first observation of the
data counts only when it is itself a scheduled day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
from pydantic import ValidationError

from index_engine.config import WEEKDAYS, RebalanceConfig
from index_engine.errors import ConfigError


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


def next_rebalance_date(rebalance, after: dt.date) -> dt.date | None:
    """The next scheduled rebalance day strictly after ``after`` (calendar rule, UTC days): the next
    ``weekday`` for weekly, the 1st of the next month for monthly. None for ``every_observation``:
    the next observation of the data, which the calendar does not know.

    ``rebalance`` is a ``RebalanceConfig``, a config that has one (``IndexConfig``), or a mapping:
    the ``rebalance`` section or a whole resolved config holding one (as in ``summary.json``).
    The scheduled day trades at the first observation on or after it (see ``rebalance_mask``).
    """
    cfg = _rebalance_config(rebalance)
    if cfg.frequency == "weekly":
        ahead = (WEEKDAYS.index(cfg.weekday) - after.weekday()) % 7 or 7
        return after + dt.timedelta(days=ahead)
    if cfg.frequency == "monthly":
        return dt.date(after.year + (after.month == 12), after.month % 12 + 1, 1)
    return None


def _rebalance_config(rebalance) -> RebalanceConfig:
    if isinstance(rebalance, RebalanceConfig):
        return rebalance
    if isinstance(getattr(rebalance, "rebalance", None), RebalanceConfig):
        return rebalance.rebalance
    if isinstance(rebalance, Mapping):
        section = rebalance.get("rebalance", rebalance)
        try:
            return RebalanceConfig.model_validate(section)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"rebalance: {problems}") from None
    raise TypeError(f"expected a RebalanceConfig, an IndexConfig or a mapping, got {type(rebalance).__name__}")
