"""backtest.formatting: one set of plain-text formatters for the report, the CLI and the sweep."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from backtest.formatting import MISSING, bps, day, integer, money, num, pct, plural, sig

UNDEFINED = (None, math.nan, math.inf, -math.inf, np.float64("nan"), np.float32("inf"))


@pytest.mark.parametrize("fmt", [pct, num, integer, bps, sig, money])
@pytest.mark.parametrize("value", UNDEFINED)
def test_undefined_values_are_a_dash(fmt, value):
    assert fmt(value) == MISSING == "–"


def test_percent():
    assert pct(0.1234) == "12.3%" and pct(0.1234, 2) == "12.34%" and pct(-0.5, 0) == "-50%"
    assert pct(39.1, 1, True) == "+3,910.0%" and pct(0.02, 1, True) == "+2.0%" and pct(-0.02, 1, True) == "-2.0%"
    assert pct(np.float32(0.25)) == "25.0%"


@pytest.mark.parametrize("value", [-0.0, -1e-9, -0.00049])
def test_negative_zero_is_never_shown(value):
    assert pct(value) == "0.0%" and pct(value, 1, True) == "+0.0%"
    assert num(value) == "0.00" and num(value * 1e-3, 0) == "0"
    assert money(value) == "$0.00" and bps(value * 1e-3) == "0.0 bp" and integer(value) == "0"


def test_numbers_have_thousands_separators():
    assert num(1234567.891) == "1,234,567.89" and num(-1234.5, 1) == "-1,234.5" and num(3, 0, sign=True) == "+3"
    assert integer(12345.6) == "12,346" and bps(0.0015) == "15.0 bp" and bps(0.12345, 0) == "1,234 bp"


def test_significant_digits_never_use_an_exponent():
    assert sig(2500.0) == "2,500" and sig(0.7) == "0.7" and sig(1e-7) == "0.0000001"
    assert sig(0.000123456789) == "0.000123457" and sig(1234567.0, 3) == "1,234,567" and sig(0) == "0"
    assert sig(-12.3456789, 4) == "-12.35"


def test_money_compact_and_full():
    assert [money(v) for v in (40.11e6, 1.23e12, 950_200, 12.34, -1500, 0.5)] == [
        "$40.11M", "$1.23T", "$950.20K", "$12.34", "-$1.50K", "$0.50"]
    # rounding up to the next unit changes the unit, not "1,000.00K"
    assert money(999_999.999) == "$1.00M" and money(999.996) == "$1.00K" and money(999.99) == "$999.99"
    assert money(1234.5, compact=False) == "$1,234.50" and money(1234.7, 0, compact=False) == "$1,235"
    assert money(5e15) == "$5,000.00T" and money(12, prefix="") == "12.00"


def test_plural():
    assert plural(1, "regime switch") == "1 regime switch" and plural(2, "regime switch") == "2 regime switches"
    assert plural(0, "order") == "0 orders" and plural(1500, "day") == "1,500 days"
    assert plural(1, "entry") == "1 entry" and plural(3, "entry") == "3 entries" and plural(2, "day") == "2 days"
    assert plural(2, "datum", "data") == "2 data" and plural(None, "order") == "– orders"


def test_day():
    assert day(dt.date(2024, 1, 31)) == "2024-01-31" and day(dt.date(2024, 1, 31), weekday=True) == "Wed 2024-01-31"
    assert day(np.datetime64("2024-01-31")) == "2024-01-31" and day("2024-01-31") == "2024-01-31"
    assert day(dt.datetime(2024, 1, 31, 23)) == "2024-01-31" and day(None) == day(np.datetime64("NaT")) == MISSING
    with pytest.raises(ValueError, match="not an ISO date"):
        day("31/01/2024")
