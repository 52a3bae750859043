"""Pydantic schemas of the CoinGecko responses the adapter uses, and one-line validation errors.

A violation raises ``CoinGeckoError`` naming the endpoint, the coin and up to three fields as paths
(``prices[2][1]``, ``[1].market_cap (coin ethereum)``). Untrusted values in messages are shown
escaped and truncated (``coingecko_guard.shown``). See ``docs/coingecko.md`` (schema validation).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from index_engine.data.coingecko_guard import check_coin_id, shown
from index_engine.errors import CoinGeckoError

_MAX_SHOWN_ERRORS = 3

T = TypeVar("T")

# Numbers must be JSON numbers (strict: no numeric strings, no booleans), finite and >= 0.
NonNegative = Annotated[float, Field(ge=0, strict=True, allow_inf_nan=False)]
# Milliseconds since the epoch between 2001-09-09 and 2100-01-01 (catches seconds-vs-ms mix-ups).
TimestampMs = Annotated[float, Field(ge=1_000_000_000_000, le=4_102_444_800_000, strict=True, allow_inf_nan=False)]
# A coin id becomes a file name: printable ASCII, no separators, no '..', at most MAX_ID_LENGTH characters.
CoinId = Annotated[str, Field(strict=True), AfterValidator(check_coin_id)]
Point = tuple[TimestampMs, NonNegative | None]


class MarketCoin(BaseModel):
    """One entry of ``/coins/markets`` (only the fields the adapter uses are checked)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: CoinId
    symbol: str
    name: str
    current_price: NonNegative | None
    market_cap: NonNegative | None
    market_cap_rank: Annotated[int, Field(ge=1, strict=True)] | None = None
    total_volume: NonNegative | None = None


class ListedCoin(BaseModel):
    """An entry of a category list: only ``id`` is used (to look our coins up), so nothing else is
    checked and an id that is not a safe file name simply matches none of them."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Annotated[str, Field(strict=True)]


class MarketChart(BaseModel):
    """``/coins/{id}/market_chart``: three lists of ``[timestamp_ms, value]`` pairs."""

    model_config = ConfigDict(extra="ignore")

    prices: list[Point]
    market_caps: list[Point]
    total_volumes: list[Point]


MARKETS = TypeAdapter(list[MarketCoin])
LISTED = TypeAdapter(list[ListedCoin])
MARKET_CHART = TypeAdapter(MarketChart)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def validation_message(exc: ValidationError, data: Any) -> str:
    """``field: problem (got value)`` for the first errors; list entries also name their coin id."""
    parts = []
    for err in exc.errors()[:_MAX_SHOWN_ERRORS]:
        loc = tuple(err["loc"])
        where = _loc(loc)
        if loc and isinstance(loc[0], int) and isinstance(data, list) and loc[0] < len(data):
            item = data[loc[0]]
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                where += f" (coin {shown(item['id'])})"
        got = repr(err.get("input"))
        got = "" if err["type"] == "missing" else f" (got {got if len(got) <= 80 else got[:77] + '...'})"
        parts.append(f"{where}: {err['msg']}{got}")
    more = len(exc.errors()) - len(parts)
    return "; ".join(parts) + (f"; +{more} more error(s)" if more > 0 else "")


def validate(adapter: TypeAdapter[T], data: Any, what: str) -> T:
    """Validate ``data`` or raise ``CoinGeckoError("<what>: response failed schema validation: ...")``."""
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise CoinGeckoError(f"{what}: response failed schema validation: {validation_message(exc, data)}") from None
