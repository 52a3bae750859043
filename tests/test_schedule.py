"""Rebalance calendar: scheduled weekday / month start mapped to the first observation on or after it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from index_engine.config import IndexConfig, RebalanceConfig
from index_engine.errors import ConfigError
from index_engine.schedule import next_rebalance_date, rebalance_mask


def _dates(start: str, n: int, step: int = 1) -> np.ndarray:
    return np.datetime64(start, "D") + np.arange(n) * step


def _picked(dates, **kw) -> list[str]:
    return [str(d) for d in dates[rebalance_mask(dates, RebalanceConfig(**kw))]]


def test_weekly_monday_on_daily_data():
    d = _dates("2024-01-01", 21)  # 2024-01-01 is a Monday
    assert _picked(d, frequency="weekly", weekday="monday") == ["2024-01-01", "2024-01-08", "2024-01-15"]
    assert _picked(d, frequency="weekly", weekday="wednesday") == ["2024-01-03", "2024-01-10", "2024-01-17"]


def test_weekly_falls_to_first_observation_after_a_missing_weekday():
    d = _dates("2024-01-01", 21)
    d = d[d != np.datetime64("2024-01-08")]  # no data on that Monday
    assert _picked(d, frequency="weekly", weekday="monday") == ["2024-01-01", "2024-01-09", "2024-01-15"]


def test_schedule_follows_calendar_not_data_start():
    d = _dates("2024-01-03", 12)  # starts on a Wednesday: the first row is not a scheduled day
    assert _picked(d, frequency="weekly", weekday="monday") == ["2024-01-08"]


def test_weekly_schedule_on_weekly_sunday_data_trades_every_observation():
    d = _dates("2017-01-01", 6, step=7)  # Sundays
    picked = _picked(d, frequency="weekly", weekday="monday")
    assert picked == [str(x) for x in d[1:]]  # each Monday maps to the following Sunday


def test_monthly_first_observation_of_each_month():
    d = _dates("2024-01-15", 60)
    assert _picked(d, frequency="monthly") == ["2024-02-01", "2024-03-01"]
    d = d[(d != np.datetime64("2024-02-01")) & (d != np.datetime64("2024-02-02"))]
    assert _picked(d, frequency="monthly") == ["2024-02-03", "2024-03-01"]


def test_every_observation():
    d = _dates("2024-01-01", 5, step=3)
    assert rebalance_mask(d, RebalanceConfig(frequency="every_observation")).all()


def test_next_rebalance_date_follows_the_calendar():
    weekly = {"rebalance": {"frequency": "weekly", "weekday": "monday"}}  # a resolved config, as in summary.json
    assert next_rebalance_date(weekly, dt.date(2024, 12, 29)) == dt.date(2024, 12, 30)  # Sunday → Monday
    assert next_rebalance_date(weekly, dt.date(2024, 12, 30)) == dt.date(2025, 1, 6)  # a Monday → the next one
    assert next_rebalance_date({"frequency": "weekly", "weekday": "friday"}, dt.date(2024, 12, 30)) == dt.date(2025, 1, 3)
    assert next_rebalance_date(RebalanceConfig(frequency="monthly"), dt.date(2024, 12, 15)) == dt.date(2025, 1, 1)
    assert next_rebalance_date(RebalanceConfig(frequency="monthly"), dt.date(2024, 1, 1)) == dt.date(2024, 2, 1)
    assert next_rebalance_date(IndexConfig(), dt.date(2024, 1, 1)) == dt.date(2024, 1, 8)  # default: weekly Monday
    # every observation: the next row of the data, which the calendar does not know
    assert next_rebalance_date({"frequency": "every_observation"}, dt.date(2024, 12, 15)) is None


def test_next_rebalance_date_agrees_with_the_mask():
    """The day it names is the first day after ``after`` that the schedule picks on daily data."""
    days = _dates("2024-01-01", 120)
    for kw in ({"frequency": "weekly", "weekday": "thursday"}, {"frequency": "monthly"}):
        picked = set(_picked(days, **kw))
        for after in days[:80:7]:
            nxt = next_rebalance_date(RebalanceConfig(**kw), after.astype(dt.date))
            assert str(nxt) == min(d for d in picked if d > str(after))


def test_next_rebalance_date_rejects_a_bad_section():
    with pytest.raises(ConfigError, match="rebalance: frequency"):
        next_rebalance_date({"frequency": "daily"}, dt.date(2024, 1, 1))
    with pytest.raises(TypeError):
        next_rebalance_date("weekly", dt.date(2024, 1, 1))
