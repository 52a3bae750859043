"""The JSON the page's scripts draw from (``<script type="application/json" id="report-data">``),
as pydantic models. ``backtest.report.build_payload`` fills ``ReportPayload``; ``to_json`` writes it.

Columnar and compact: dates are ISO strings, assets and reasons are indexes into lookup lists,
numbers are rounded to a few significant digits. Money is USD, weights and returns are fractions.
``null`` marks a missing value. Field by field: ``docs/report.md`` ("The embedded data").
"""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: A number as rounded for the page: whole values stay ints ("2", not "2.0": the file is smaller).
Real = Union[int, float]
Num = Optional[Real]
#: JSON text that may sit inside <script>…</script>: no "<", ">" or "&" survive unescaped, so no
#: string can close the element or open a comment; JSON.parse reads the \u escapes back.
_HTML_SAFE_PAIRS = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                   ("\u2029", "\\u2029"))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _same_length(owner: str, columns: dict[str, list | None]) -> None:
    sizes = {k: len(v) for k, v in columns.items() if v is not None}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"{owner}: columns differ in length {sizes}")


class BenchmarkSeries(_Model):
    """A benchmark (``benchmarks.parquet``) aligned on ``ReportPayload.dates``; null where it has no row."""

    name: str = Field(description="benchmarks.benchmark, e.g. 'bitcoin', 'no_regime'")
    label: str = Field(description="the label shown in legends and tables")
    nav: list[Num] = Field(description="NAV net of costs, USD (8 significant digits)")
    level: list[Num] = Field(description="gross level, base 1000 (8 significant digits)")


class Assets(_Model):
    """Every asset named by the holdings or the transactions, sorted by id; others index into it."""

    id: list[str] = Field(description="asset_id")
    sym: list[str] = Field(description="symbol")


class Holdings(_Model):
    """The holdings after each trade date (weights ≥ ``DUST_WEIGHT``); rows ``start[k]:start[k+1]``
    belong to ``dates[k]``, by weight, largest first."""

    dates: list[str] = Field(description="trade dates, ISO")
    kind: list[str] = Field(description="per trade date: initial investment, rebalance, regime exit, regime entry")
    start: list[int] = Field(description="row offsets, len(dates) + 1")
    a: list[int] = Field(description="asset, index into assets")
    w: list[Real] = Field(description="weight after the trades, fraction of NAV (6 significant digits)")
    v: list[Real] = Field(description="value, USD (7 significant digits)")
    r: list[Num] = Field(description="price change since the previous trade date; null for a new position")

    @model_validator(mode="after")
    def _consistent(self) -> Holdings:
        _same_length("hold", {"a": self.a, "w": self.w, "v": self.v, "r": self.r})
        _same_length("hold", {"dates": self.dates, "kind": self.kind})
        if len(self.start) != len(self.dates) + 1 or self.start[0] != 0 or self.start[-1] != len(self.a) \
                or any(b < a for a, b in zip(self.start, self.start[1:])):
            raise ValueError("hold.start: expected increasing offsets from 0 to the number of rows")
        return self


class WeightSeries(_Model):
    """One band of the stacked weights chart, on ``Weights.dates``."""

    name: str = Field(description="symbol, 'others' or 'stable sleeve'")
    id: str = Field(description="asset_id, 'others', or the stable asset's id")
    values: list[Real] = Field(description="weight at each of Weights.dates (5 significant digits)")


class Weights(_Model):
    """Stacked weights: the top assets by time-weighted mean weight, then 'others', then the sleeve."""

    dates: list[str] = Field(description="trade dates, plus the last date when it is later")
    series: list[WeightSeries]

    @model_validator(mode="after")
    def _aligned(self) -> Weights:
        if any(len(s.values) != len(self.dates) for s in self.series):
            raise ValueError("weights: every series needs one value per date")
        return self


class Transactions(_Model):
    """Every order of ``transactions.parquet``, in file order, one list per column."""

    dates: list[str] = Field(description="the distinct trade dates, ISO, sorted")
    reasons: list[str] = Field(description="the distinct reasons, sorted")
    d: list[int] = Field(description="date, index into dates")
    a: list[int] = Field(description="asset, index into assets")
    s: list[Literal[0, 1]] = Field(description="side: 1 buy, 0 sell")
    q: list[Real] = Field(description="quantity, units (8 significant digits)")
    p: list[Real] = Field(description="price, USD (8 significant digits)")
    n: list[Real] = Field(description="notional, USD, to the cent")
    f: list[Real] = Field(description="exchange fee, USD (7 significant digits)")
    pf: list[Real] = Field(description="platform fee, USD (7 significant digits); 0 for runs before the column")
    sl: list[Real] = Field(description="slippage, USD (7 significant digits)")
    g: list[Real] = Field(description="gas, USD (7 significant digits)")
    r: list[int] = Field(description="reason, index into reasons")

    @model_validator(mode="after")
    def _consistent(self) -> Transactions:
        _same_length("tx", {k: getattr(self, k) for k in ("d", "a", "s", "q", "p", "n", "f", "pf", "sl", "g", "r")})
        if any(not 0 <= i < len(self.dates) for i in self.d) or any(not 0 <= i < len(self.reasons) for i in self.r):
            raise ValueError("tx: a date or reason index is out of range")
        return self


class Rolling(_Model):
    """Rolling statistics of the net NAV over a trailing window (``backtest.analysis.rolling_stats``),
    on ``ReportPayload.dates``; null before a full window."""

    window: str = Field(description="the window, e.g. '365 days'")
    ret: list[Num] = Field(description="trailing return over the window, fraction (5 significant digits)")
    vol: list[Num] = Field(description="annualised volatility of the window's returns, fraction")
    sharpe: list[Num] = Field(description="Sharpe ratio of the window's returns (rf 0)")
    beta: Optional[list[Num]] = Field(description="beta against the first benchmark; null without benchmarks")
    bench: Optional[str] = Field(description="label of the benchmark of beta")


class ReportPayload(_Model):
    """Everything the charts and the transactions table read; the per-date lists follow ``dates``."""

    initial_nav: float = Field(description="the money put in, USD (backtest.initial_nav)")
    dates: list[str] = Field(description="every observation of nav.parquet, ISO")
    nav: list[Num] = Field(description="NAV net of costs, USD (9 significant digits)")
    level: Optional[list[Num]] = Field(description="gross index level, base 1000; null for runs without it")
    bear: list[tuple[str, str]] = Field(description="[first bear date, first date after] of each bear run")
    signal: Optional[list[Num]] = Field(description="the (first) regime signal's value (nav.signal, or "
                                                    "signal_<name> of a composite), 6 significant digits")
    sma: Optional[list[Num]] = Field(description="its reference (nav.signal_sma; a composite's first exit "
                                                 "threshold), 6 significant digits")
    signal_name: str = Field(description="what the regime follows, e.g. 'Total market cap'")
    reference_name: str = Field(description="what the signal is compared with, e.g. 'moving average (200 obs.)'")
    signal_unit: Literal["USD", "share"] = Field(description="unit of signal and sma")
    window: Optional[int] = Field(description="regime.window, observations")
    stable_id: str = Field(description="stable.asset: 'cash' or an asset_id")
    bench: list[BenchmarkSeries]
    assets: Assets
    hold: Holdings
    weights: Weights
    tx: Transactions
    rolling: Optional[Rolling] = Field(default=None, description="rolling 1-year statistics; null below 2 dates")

    @model_validator(mode="after")
    def _aligned(self) -> ReportPayload:
        roll = self.rolling
        rolling = {} if roll is None else {"rolling.ret": roll.ret, "rolling.vol": roll.vol,
                                           "rolling.sharpe": roll.sharpe, "rolling.beta": roll.beta}
        _same_length("payload", {"dates": self.dates, "nav": self.nav, "level": self.level, "signal": self.signal,
                                 "sma": self.sma, **{f"bench {b.name}": b.nav for b in self.bench}, **rolling})
        _same_length("assets", {"id": self.assets.id, "sym": self.assets.sym})
        if any(not 0 <= i < len(self.assets.id) for i in (*self.hold.a, *self.tx.a)):
            raise ValueError("an asset index is out of range of assets")
        return self

    def to_json(self) -> str:
        """Compact JSON, safe to embed in ``<script type="application/json">`` (``<``, ``>`` and
        ``&`` written as ``\\u003c`` …, so ``</script>`` or ``<!--`` in a name cannot end it)."""
        text = self.model_dump_json()
        for char, escaped in _HTML_SAFE_PAIRS:  # str.replace: far faster than translate on a wide string
            text = text.replace(char, escaped)
        return text
