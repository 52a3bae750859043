"""``BacktestResult``: the frames and statistics of a run, and how they are written to disk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from index_engine.config import IndexConfig
from index_engine.plan import IndexPlan

OUTPUT_FILES = (
    "nav.parquet", "holdings.parquet", "transactions.parquet", "benchmarks.parquet", "unfilled.parquet",
    "summary.json", "report.html",
    "manifest.json",
)


class Lazy:
    """A frame built on first use and kept (``run_backtest`` builds no frame nobody reads)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make: Callable[[], Any] | None = make
        self._value: Any = None

    @classmethod
    def of(cls, value: Any) -> Lazy:
        """An already-built value."""
        out = cls(lambda: value)
        out.get()
        return out

    def get(self) -> Any:
        """The value, built now if needed."""
        if self._make is not None:
            self._value, self._make = self._make(), None
        return self._value


FRAMES = ("nav", "holdings", "transactions", "benchmarks", "unfilled")


@dataclass(frozen=True, eq=False, init=False)
class BacktestResult:
    """Outputs of ``run_backtest`` (polars frames; call ``.to_pandas()`` on any of them for pandas).

    nav: one row per observation of the backtest window (value after that date's trades).
    holdings: one row per holding after the trades of every trade date (incl. the stable sleeve).
    transactions: one row per order, with its costs and the reason it happened.
    stats: the flat statistics dict; summary: stats + regime switches, warnings, config, hashes.
    plan: the methodology's trade dates and target weights (``index_engine.plan.IndexPlan``).
    benchmarks: long frame (date, benchmark, nav, index_level) of the ``benchmarks:`` series.
    unfilled: orders skipped (``costs.min_order_usd``) or cut (``costs.max_participation``).

    The frames and the summary are built from the replay's records the first time they are read.
    """

    config: IndexConfig
    stats: dict
    plan: IndexPlan
    frames: dict[str, Lazy] = field(repr=False)
    _summary: Lazy = field(repr=False)

    def __init__(self, config: IndexConfig, stats: dict, summary: dict | Lazy, plan: IndexPlan,
                 frames: dict[str, Lazy] | None = None) -> None:
        """``summary``: the dict, or a ``Lazy`` that builds it when it is first read."""
        object.__setattr__(self, "config", config)
        object.__setattr__(self, "stats", stats)
        object.__setattr__(self, "plan", plan)
        object.__setattr__(self, "frames", dict(frames or {}))
        object.__setattr__(self, "_summary", summary if isinstance(summary, Lazy) else Lazy.of(summary))

    @property
    def summary(self) -> dict:
        """summary.json's content: stats, relative statistics, contributions, regime switches,
        warnings, config and hashes (built the first time it is read)."""
        return self._summary.get()

    @property
    def nav(self) -> pl.DataFrame:
        """nav.parquet's rows (one per observation of the window)."""
        return self.frames["nav"].get()

    @property
    def holdings(self) -> pl.DataFrame:
        """holdings.parquet's rows (the book after every trade date)."""
        return self.frames["holdings"].get()

    @property
    def transactions(self) -> pl.DataFrame:
        """transactions.parquet's rows (one per order)."""
        return self.frames["transactions"].get()

    @property
    def benchmarks(self) -> pl.DataFrame | None:
        """benchmarks.parquet's rows (date, benchmark, nav, index_level)."""
        return self.frames["benchmarks"].get() if "benchmarks" in self.frames else None

    @property
    def unfilled(self) -> pl.DataFrame | None:
        """unfilled.parquet's rows (orders skipped or cut)."""
        return self.frames["unfilled"].get() if "unfilled" in self.frames else None

    def with_frames(self, **frames: pl.DataFrame | None) -> BacktestResult:
        """A copy with some frames replaced (e.g. to test the invariant checkers on a corrupted run);
        None drops an optional frame (benchmarks, unfilled)."""
        unknown = set(frames) - set(FRAMES)
        if unknown:
            raise TypeError(f"unknown frames {sorted(unknown)}; expected some of {FRAMES}")
        merged = {**self.frames, **{k: Lazy.of(v) for k, v in frames.items() if v is not None}}
        return BacktestResult(self.config, self.stats, self._summary, self.plan,
                              {k: v for k, v in merged.items() if frames.get(k, True) is not None})

    def __repr__(self) -> str:
        """Name, period and headline statistics, from ``stats`` alone (builds no frame)."""
        from backtest.formatting import integer, num, pct

        s = self.stats
        return (f"<BacktestResult {self.config.name}: {s.get('start')} → "
                f"{s.get('end')}, CAGR {pct(s.get('cagr'))}, Sharpe {num(s.get('sharpe'))}, max drawdown "
                f"{pct(s.get('max_drawdown'))}, {integer(s.get('n_transactions'))} trades>")

    def plot(self, drawdown: bool = False, benchmarks: bool = True, log: bool = True):
        """A plotly ``Figure``: NAV on a log axis with bear runs shaded and the benchmarks, and a
        drawdown panel with ``drawdown=True`` (``backtest.plotting.plot_result``; report extra)."""
        from backtest.plotting import plot_result

        return plot_result(self, drawdown=drawdown, benchmarks=benchmarks, log=log)

    def write(self, out_dir: str | Path, report: bool = True) -> Path:
        """Write the run folder atomically with its manifest (``backtest.io.write_run``): the Parquet
        tables, summary.json and (by default) report.html. Returns the resolved folder."""
        from backtest.io import write_run

        return write_run(self, out_dir, report=report)

    def stats_vs(self, benchmark: str | BacktestResult) -> dict:
        """The relative statistics (``backtest.analysis.RELATIVE_KEYS``) of this run against a
        benchmark, by name (``summary["relative"]``), or against another run on their common dates."""
        from backtest.analysis.relative import relative_between

        if isinstance(benchmark, BacktestResult):
            mine, other = self.nav, benchmark.nav
            initial = (self.stats["initial_nav"], benchmark.stats["initial_nav"])
            return relative_between(mine["date"].to_numpy(), mine["nav"].to_numpy(), other["date"].to_numpy(),
                                    other["nav"].to_numpy(), initial)
        relative = self.summary.get("relative") or {}
        if benchmark not in relative:
            known = ", ".join(relative) or "none"
            raise KeyError(f"no benchmark {benchmark!r} in this run (benchmarks: {known})")
        return dict(relative[benchmark])

    def transactions_hash(self) -> str:
        """sha256 of the transactions log: ids, dates, sides and reasons exactly, prices to 10
        significant digits, USD amounts (notional and costs) to the cent; quantity is left out as it
        is notional / price.

        Pins a whole run in a golden test (like Lean's OrderListHash) while staying stable across
        CPUs whose last-bit float results differ, including on tiny reweights where those bits are
        amplified by cancellation.
        """
        money = [c for c in ("notional", "fee", "platform_fee", "slippage", "gas") if c in self.transactions.columns]
        frame = self.transactions.drop("quantity").with_columns(pl.col(money).round(2))
        return frame_hash(frame, 10)

    def holdings_at(self, date) -> pl.DataFrame:
        """Holdings after the last trade date on or before ``date``."""
        import datetime as dt

        day = dt.date.fromisoformat(str(date)) if not isinstance(date, dt.date) else date
        dates = self.holdings.filter(pl.col("date") <= day)["date"]
        if dates.is_empty():
            return self.holdings.clear()
        return self.holdings.filter(pl.col("date") == dates.max())


def frame_hash(frame: pl.DataFrame, significant_digits: int = 10) -> str:
    """sha256 of a frame's CSV rendering with every float rounded to ``significant_digits``."""
    import hashlib

    fmt = f"{{:.{significant_digits - 1}e}}"
    cols = []
    for name, dtype in frame.schema.items():
        col = frame[name]
        if dtype.is_float():
            col = pl.Series(name, [fmt.format(v) for v in col.to_list()], dtype=pl.Utf8)
        cols.append(col.cast(pl.Utf8))
    text = pl.DataFrame(cols).write_csv() if cols else ""
    return hashlib.sha256(text.encode()).hexdigest()
