"""Plain-text formatting of numbers, fractions, money, counts and dates, for every table we print.

One set of pure functions for the HTML report, the CLI tables and the sweep tables. They return
plain ``str`` (no HTML, no rich markup; callers escape or style the text). Conventions, for every
function:

* ``None``, NaN and ±inf (also numpy scalars) give ``MISSING`` ("–").
* Thousands are separated by commas: ``1,234,567.89``.
* A value that rounds to zero is never shown with a minus sign ("-0.0%" is "0.0%", or "+0.0%"
  with ``sign=True``).
* Fractions are fractions: ``pct(0.123)`` is ``"12.3%"``. Money is USD.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

MISSING = "–"
_SCALES = ((1.0, ""), (1e3, "K"), (1e6, "M"), (1e9, "B"), (1e12, "T"))


def finite(v) -> float | None:
    """``v`` as a float, or None when it is None, NaN, ±inf or not a number."""
    if v is None or isinstance(v, (str, bytes, bool)):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _fixed(x: float, digits: int, sign: bool) -> str:
    """``x`` with ``digits`` decimals, thousands separators, and no negative zero."""
    spec = f"{'+' if sign else ''},.{max(digits, 0)}f"
    s = format(x, spec)
    if s.lstrip("+-").strip("0.,") == "":  # rounds to zero: drop the sign of -0.0
        s = format(0.0, spec)
    return s


def num(v, digits: int = 2, sign: bool = False) -> str:
    """A plain number with ``digits`` decimals: ``num(1234.5)`` → ``"1,234.50"``."""
    x = finite(v)
    return MISSING if x is None else _fixed(x, digits, sign)


def integer(v) -> str:
    """A whole number (rounded): ``integer(12345)`` → ``"12,345"``."""
    return num(v, 0)


def pct(v, digits: int = 1, sign: bool = False) -> str:
    """A fraction as a percentage: ``pct(0.1234)`` → ``"12.3%"``; ``sign`` adds "+" to gains."""
    x = finite(v)
    return MISSING if x is None else _fixed(x * 100.0, digits, sign) + "%"


def bps(v, digits: int = 1) -> str:
    """A fraction in basis points: ``bps(0.0015)`` → ``"15.0 bp"``."""
    x = finite(v)
    return MISSING if x is None else _fixed(x * 1e4, digits, False) + " bp"


def sig(v, digits: int = 6) -> str:
    """At most ``digits`` significant digits, trailing zeros dropped, never an exponent:
    ``sig(2500.0)`` → ``"2,500"``, ``sig(0.000123456789)`` → ``"0.000123457"``. Digits left of
    the point are all kept (``sig(1234567, 3)`` → ``"1,234,567"``)."""
    x = finite(v)
    if x is None:
        return MISSING
    if x == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    s = _fixed(x, decimals, False)
    return s.rstrip("0").rstrip(".") if "." in s else s


def money(v, digits: int = 2, compact: bool = True, prefix: str = "$") -> str:
    """USD. Compact by default: ``$40.11M``, ``$1.23T``, ``$950.20K``, ``$12.34``, ``-$1.50K``;
    ``compact=False`` gives ``$40,110,000.00``."""
    x = finite(v)
    if x is None:
        return MISSING
    scales = _SCALES if compact else _SCALES[:1]
    k = max(i for i, (div, _) in enumerate(scales) if abs(x) >= div or i == 0)
    s = _fixed(abs(x) / scales[k][0], digits, False)
    if k + 1 < len(scales) and float(s.replace(",", "")) >= 1000:  # $999,999.999 is $1.00M
        k += 1
        s = _fixed(abs(x) / scales[k][0], digits, False)
    unit = scales[k][1]
    negative = x < 0 and s.strip("0.,") != ""
    return f"{'-' if negative else ''}{prefix}{s}{unit}"


def plural(n, singular: str, plural_form: str | None = None) -> str:
    """A count with its noun: ``plural(1, "regime switch")`` → ``"1 regime switch"``,
    ``plural(2, "regime switch")`` → ``"2 regime switches"``, ``plural(1500, "day")`` → ``"1,500 days"``."""
    x = finite(n)
    if x is None:
        return f"{MISSING} {plural_form or _plural(singular)}"
    word = singular if x == 1 else (plural_form or _plural(singular))
    return f"{integer(x)} {word}"


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    return word + "s"


def day(v, weekday: bool = False) -> str:
    """A calendar day as ISO ``2024-01-31`` (``weekday=True``: ``Wed 2024-01-31``). Takes a
    ``date``/``datetime``, a ``numpy.datetime64`` or an ISO string (anything else: ValueError);
    None/NaT give ``MISSING``."""
    if v is None:
        return MISSING
    if isinstance(v, np.datetime64):
        if np.isnat(v):
            return MISSING
        v = v.astype("datetime64[D]").item()
    elif isinstance(v, str):
        try:
            v = dt.date.fromisoformat(v[:10])
        except ValueError:
            raise ValueError(f"not an ISO date (YYYY-MM-DD): {v!r}") from None
    if isinstance(v, dt.datetime):
        v = v.date()
    if not isinstance(v, dt.date):
        raise ValueError(f"not a date: {v!r}")
    return f"{v:%a} {v.isoformat()}" if weekday else v.isoformat()
