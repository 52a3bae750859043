"""The base of every config section: strict, frozen, ``extra="forbid"``, self-documenting fields.

* ``extra="forbid"``: a misspelt key is an error naming it.
* strict types: ``top_n: true`` or ``window: "200"`` are errors, never silently coerced
  (an int is still accepted where a float is expected; dates accept ISO ``YYYY-MM-DD`` strings).
* ``key(...)``: a pydantic ``Field`` that also records what ``docs/config.md`` shows for the key
  (allowed values, whether the key is part of the public contract); the key tables of that page are
  generated from these models (``index_engine.config.docs``) and a test fails when they drift.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class Section(BaseModel):
    """A config section (or the whole config): frozen, strict, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def key(default: Any = ..., *, doc: str, allowed: str, contract: bool = False, **constraints: Any) -> Any:
    """A config field: ``doc`` (what it means, one or two sentences), ``allowed`` (the accepted values
    and unit, as shown in docs/config.md), ``contract`` (a key named by an issue: public, stable)."""
    extra: dict[str, Any] = {"allowed": allowed, "contract": contract}
    if callable(default) and not isinstance(default, (int, float, str, bool)):
        return Field(default_factory=default, description=doc, json_schema_extra=extra, **constraints)
    return Field(default, description=doc, json_schema_extra=extra, **constraints)


def _iso_date(value: Any) -> Any:
    """Dates may be given as ``date`` objects (YAML) or ISO ``YYYY-MM-DD`` strings (overrides, CLI)."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r}") from None
    if isinstance(value, dt.datetime):
        raise ValueError(f"expected a date without a time, got {value!r}")
    return value


#: A calendar date; accepts ``date`` objects and ISO strings, rejects datetimes and other types.
Date = Annotated[dt.date, BeforeValidator(_iso_date)]
