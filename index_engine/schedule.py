"""Rebalance and reconstitution calendars: which observations are scheduled dates.

The schedule follows the calendar, not the backtest start. A scheduled day D (each chosen weekday,
the 1st of each month, or the 1st of January, April, July and October) maps to the first
observation on or after D; observation t is scheduled when some scheduled day falls in
(date[t−1], date[t]]. The first observation of the data counts only when it is itself a scheduled
day.
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


def calendar_mask(dates: np.ndarray, frequency: str, weekday: str = "monday") -> np.ndarray:
    """(T,) bool: True on the observations of a ``frequency`` calendar (weekly on ``weekday``, monthly,
    quarterly or every observation)."""
    days = dates.astype("datetime64[D]").astype(np.int64)
    if days.size == 0:
        return np.zeros(0, bool)
    prev = np.empty_like(days)
    prev[1:] = days[:-1]
    prev[0] = days[0] - 1
    if frequency == "every_observation":
        return np.ones(days.size, bool)
    if frequency == "weekly":
        target = WEEKDAYS.index(weekday)
        last_scheduled = days - (_weekday(days) - target) % 7
    else:  # monthly / quarterly: the 1st of the month (of the quarter) containing date[t]
        months = dates.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)  # months since 1970-01
        if frequency == "quarterly":
            months = months - months % 3  # January, April, July, October
        last_scheduled = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return last_scheduled > prev


def rebalance_mask(dates: np.ndarray, cfg: RebalanceConfig) -> np.ndarray:
    """(T,) bool: True on scheduled rebalance observations (``rebalance.frequency``)."""
    return calendar_mask(dates, cfg.frequency, cfg.weekday)


def reconstitution_mask(dates: np.ndarray, cfg: RebalanceConfig, list_dates: np.ndarray | None = None) -> np.ndarray:
    """(T,) bool: True where members are re-selected on the calendar — ``rebalance.reconstitution`` (every
    observation when null) — plus the first observation on or after each membership list's date."""
    if cfg.reconstitution is None:
        out = np.ones(dates.shape[0], bool)
    else:
        out = calendar_mask(dates, cfg.reconstitution, cfg.weekday)
    if list_dates is not None and list_dates.size:
        rows = np.searchsorted(dates.astype("datetime64[D]"), list_dates.astype("datetime64[D]"), side="left")
        out[rows[rows < dates.shape[0]]] = True
    return out


def next_rebalance_date(rebalance, after: dt.date) -> dt.date | None:
    """The next scheduled rebalance day strictly after ``after`` (calendar rule, UTC days): the next
    ``weekday`` for weekly, the 1st of the next month for monthly, the 1st of the next January, April,
    July or October for quarterly. None for ``every_observation``:
    the next observation of the data, which the calendar does not know.

    ``rebalance`` is a ``RebalanceConfig``, a config that has one (``IndexConfig``), or a mapping:
    the ``rebalance`` section or a whole resolved config holding one (as in ``summary.json``).
    The scheduled day trades at the first observation on or after it (see ``rebalance_mask``).
    """
    cfg = _rebalance_config(rebalance)
    if cfg.frequency == "weekly":
        ahead = (WEEKDAYS.index(cfg.weekday) - after.weekday()) % 7 or 7
        return after + dt.timedelta(days=ahead)
    if cfg.frequency in ("monthly", "quarterly"):
        step = 1 if cfg.frequency == "monthly" else 3 - (after.month - 1) % 3
        month = after.month - 1 + step
        return dt.date(after.year + month // 12, month % 12 + 1, 1)
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
