"""Text from an input file, shown safely in a ``DataError``: literal, printable and short.

A file can hold anything — binary garbage, ANSI escapes, a megabyte in one cell — and the reader
libraries' own messages can echo it or their internals. Messages therefore never include a reader's
exception text, and every value taken from a file goes through ``literal``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

LIMIT = 40  # characters of one value shown
MOST = 20  # names listed
MAX_EXAMPLES = 5  # offending rows shown

_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def literal(value: object, limit: int = LIMIT) -> str:
    """``value`` for a message: as is when it is a short plain name (letters, digits, ``_-.``), else
    ``repr`` of its first ``limit`` characters (quoted; NUL, ESC, newlines escaped) plus its length."""
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
    if text and len(text) <= limit and set(text) <= _PLAIN:
        return text
    cut = f"... ({len(text)} characters)" if len(text) > limit else ""
    return repr(text[:limit]) + cut


def literal_list(values: Iterable[object], most: int = MOST) -> str:
    """Up to ``most`` values, each ``literal``, comma-separated (``none`` when empty)."""
    items = list(values)
    shown = ", ".join(literal(v) for v in items[:most])
    more = f", ... ({len(items) - most} more)" if len(items) > most else ""
    return (shown + more) or "none"


def looks_binary(names: Iterable[str]) -> bool:
    """True when header names hold NUL or undecodable bytes (U+FFFD, as a lossy reader decodes them):
    binary data rather than text, not worth listing."""
    return any("\ufffd" in n or "\x00" in n for n in names)


def csv_problem(exc: BaseException) -> str:
    """What was wrong with a CSV file the reader refused, in words (never the reader's message)."""
    text = str(exc).lower()
    if "utf-8" in text or "utf8" in text:
        return "not UTF-8 text (a binary file, or text in another encoding); expected a UTF-8 CSV file"
    if "more fields" in text:
        return ("a line has more fields than the header; expected one field per header column on every "
                "line (quote fields that contain commas)")
    return ("not a readable CSV file (unbalanced quotes, a malformed line, or not CSV); expected a UTF-8 "
            "CSV file with a header row")


def cell(value: Any) -> str:
    """A cell for messages: ISO dates, numbers and None as is, text quoted with non-printable
    characters escaped and cut to ``LIMIT`` characters (so '' stays visible and file bytes never
    print raw)."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
    return repr(text[:LIMIT]) + (f"... ({len(text)} characters)" if len(text) > LIMIT else "")


def examples(bad: pl.DataFrame, columns: list[str], is_csv: bool) -> str:
    """Up to 5 offending rows as '  row R (line L): col=value, ...' lines (rows count from 1)."""
    shown = bad.head(MAX_EXAMPLES)
    lines = []
    for rec in shown.iter_rows(named=True):
        where = f"row {rec['_row']}" + (f" (line {rec['_row'] + 1})" if is_csv else "")
        values = ", ".join(f"{c}={cell(rec[c])}" for c in columns if c in rec)
        lines.append(f"  {where}: {values}")
    if bad.height > shown.height:
        lines.append(f"  ... {bad.height - shown.height} more")
    return "\n".join(lines)


def type_clash(files: list[Path], frames: list[pl.DataFrame]) -> str:
    """Which column has types in two of the stacked files that do not combine, in words."""
    seen: dict[str, tuple[Path, pl.DataType]] = {}
    for path, frame in zip(files, frames):
        for name, dtype in frame.schema.items():
            first = seen.setdefault(name, (path, dtype))
            if not _combine(first[1], dtype):
                return (f"column {literal(name)} is {first[1]} in {first[0]} but {dtype} in {path}; "
                        "give it one type in every file")
    return "their columns cannot be combined; give each column one type in every file"


def _combine(a: pl.DataType, b: pl.DataType) -> bool:
    """True when polars stacks columns of types ``a`` and ``b`` (they have a common supertype)."""
    try:
        pl.concat([pl.DataFrame(schema={"c": a}), pl.DataFrame(schema={"c": b})], how="vertical_relaxed")
    except pl.exceptions.PolarsError:
        return False
    return True
