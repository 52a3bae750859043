"""What the index holds at a date: constituents, weights, the regime gauge and recent changes.

Computed by replaying the index up to ``as_of`` with the same engine as the backtest, so the answer
is by construction the backtest's holdings on that date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from backtest.engine import run_backtest
from backtest.gauges import SignalGauge, signal_gauges
from backtest.result import BacktestResult
from index_engine.config import IndexConfig
from index_engine.data.panel import MarketData
from index_engine.errors import PlanError
from index_engine.schedule import next_rebalance_date


@dataclass(frozen=True)
class IndexState:
    """The index at the close of ``as_of``.

    holdings: asset_id, symbol, target_weight (set at the last trade), weight (drifted to as_of),
        price (last valid close, USD), quantity, value (USD) of the replayed portfolio in ``result``.
    changes: what the last trade changed versus the one before: asset_id, symbol, change
        (entry | exit | reweight), weight_before, weight_after.
    regime: bull / bear / partial in effect; risk_share the share of NAV targeted in risk assets;
        signal, sma, threshold (the level whose crossing switches the regime) and distance = signal /
        threshold − 1 of a single signal (None where undefined, and for a composite); ``signals`` every
        signal against its own threshold (``backtest.gauges``).
    """

    as_of: dt.date
    last_trade: dt.date | None
    previous_trade: dt.date | None
    next_rebalance: dt.date | None
    regime: str
    signal: float | None
    sma: float | None
    threshold: float | None
    distance: float | None
    risk_share: float
    signals: list[SignalGauge]
    nav: float
    holdings: pl.DataFrame
    changes: pl.DataFrame
    result: BacktestResult

    def to_dict(self) -> dict:
        """JSON-ready dict (``holdings --json``): dates as ISO strings, non-finite numbers as None."""
        num = lambda v: None if v is None or not np.isfinite(v) else float(v)
        return {
            "as_of": str(self.as_of),
            "last_trade": None if self.last_trade is None else str(self.last_trade),
            "previous_trade": None if self.previous_trade is None else str(self.previous_trade),
            "next_rebalance": None if self.next_rebalance is None else str(self.next_rebalance),
            "regime": {"state": self.regime, "signal": num(self.signal), "sma": num(self.sma),
                       "threshold": num(self.threshold), "distance": num(self.distance),
                       "risk_share": self.risk_share, "signals": [g.to_dict() for g in self.signals]},
            "nav": self.nav,
            "holdings": self.holdings.with_columns(pl.col(pl.Date).cast(pl.Utf8)).to_dicts(),
            "changes": self.changes.to_dicts(),
        }


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def parse_as_of(value) -> dt.date | None:
    """``--as-of``: None, a ``date`` or an ISO ``YYYY-MM-DD`` string; anything else is a ``PlanError``
    naming the flag, the expected format and the value (shortened)."""
    if value is None or isinstance(value, dt.date):
        return None if value is None else _as_date(value)
    text = str(value).strip()
    try:
        if len(text) > 32:  # no date is longer; do not echo or parse a huge string
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        shown = text if len(text) <= 32 else text[:29] + "…"
        raise PlanError(f"--as-of: expected a date as YYYY-MM-DD, got {shown!r}") from None


def index_state(cfg: IndexConfig, market: MarketData, as_of=None) -> IndexState:
    """Replay ``cfg`` up to ``as_of`` (default: the last date of the data) and describe the index."""
    last_date = _as_date(market.dates[-1])
    parsed = parse_as_of(as_of)
    day = last_date if parsed is None else parsed
    if day > last_date or day < _as_date(market.dates[0]):
        raise PlanError(f"--as-of {day} is outside the data ({market.dates[0]} .. {last_date})")
    row = int(np.searchsorted(market.dates, np.datetime64(day, "D"), side="right")) - 1
    day = _as_date(market.dates[row])
    result = run_backtest(cfg.with_overrides({"backtest.end": str(day)}), market, benchmarks=False)
    nav_row = result.nav.row(result.nav.height - 1, named=True)
    trades = result.holdings["date"].unique().sort()
    last = trades[-1] if trades.len() else None
    prev = trades[-2] if trades.len() > 1 else None
    holdings = _drifted(result, market, last, row, nav_row["nav"])
    changes = _changes(result, prev, last)
    state = nav_row["regime"]
    sma, signal = nav_row["signal_sma"], nav_row["signal"]
    gauges = signal_gauges(cfg, nav_row)
    one = gauges[0] if len(gauges) == 1 else None
    threshold = None if one is None else one.threshold
    return IndexState(
        as_of=day, last_trade=last, previous_trade=prev, next_rebalance=next_rebalance_date(cfg, day),
        regime=state, signal=signal, sma=sma, threshold=threshold, distance=None if one is None else one.distance,
        risk_share=float(nav_row["risk_share"]), signals=gauges, nav=nav_row["nav"],
        holdings=holdings, changes=changes, result=result,
    )


def _drifted(result: BacktestResult, market: MarketData, last, row: int, nav: float) -> pl.DataFrame:
    if last is None:
        return pl.DataFrame(schema={"asset_id": pl.Utf8, "symbol": pl.Utf8, "target_weight": pl.Float64,
                                    "weight": pl.Float64, "price": pl.Float64, "quantity": pl.Float64,
                                    "value": pl.Float64})
    book = result.holdings.filter(pl.col("date") == last)
    prices = []
    for asset, traded_price in zip(book["asset_id"].to_list(), book["price"].to_list()):
        if asset == "cash":
            prices.append(1.0)
            continue
        px = market.last_close(market.asset_index(asset))[row]
        prices.append(float(px) if np.isfinite(px) else traded_price)
    price = np.array(prices)
    value = book["quantity"].to_numpy() * price
    return pl.DataFrame({
        "asset_id": book["asset_id"], "symbol": book["symbol"], "target_weight": book["weight"],
        "weight": value / nav, "price": price, "quantity": book["quantity"], "value": value,
    }).sort("weight", descending=True)


def _changes(result: BacktestResult, prev, last) -> pl.DataFrame:
    schema = {"asset_id": pl.Utf8, "symbol": pl.Utf8, "change": pl.Utf8, "weight_before": pl.Float64,
              "weight_after": pl.Float64}
    if last is None:
        return pl.DataFrame(schema=schema)
    after = result.holdings.filter(pl.col("date") == last).select(
        "asset_id", "symbol", pl.col("weight").alias("weight_after"))
    before = (result.holdings.filter(pl.col("date") == prev) if prev is not None else result.holdings.clear())
    before = before.select("asset_id", pl.col("symbol").alias("symbol_b"), pl.col("weight").alias("weight_before"))
    joined = after.join(before, on="asset_id", how="full", coalesce=True).with_columns(
        pl.coalesce("symbol", "symbol_b").alias("symbol"),
        pl.col("weight_before").fill_null(0.0),
        pl.col("weight_after").fill_null(0.0),
    )
    return joined.with_columns(
        pl.when(pl.col("weight_before") == 0).then(pl.lit("entry"))
        .when(pl.col("weight_after") == 0).then(pl.lit("exit"))
        .otherwise(pl.lit("reweight")).alias("change")
    ).select(list(schema)).sort("change", "asset_id")
