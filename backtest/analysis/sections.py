"""The analysis parts of ``summary.json`` that ``backtest.outputs.build_result`` adds: ``relative``
(the index against each benchmark) and ``contributions`` (the digest per year, regime state and
the whole window)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from backtest.analysis.attribution import grouped
from backtest.analysis.contributions import contributions_summary, replay_book
from backtest.analysis.relative import relative_between


def relative_section(dates, nav, initial_nav: float, benchmarks: Sequence[tuple[str, Any]]) -> dict[str, dict]:
    """``{benchmark name: relative statistics of the index against it}``; each benchmark is a
    ``BacktestResult`` (its nav frame and ``stats["initial_nav"]`` are read)."""
    out = {}
    for name, bench in benchmarks:
        frame = bench.nav
        out[name] = relative_between(dates, nav, frame["date"].to_numpy(), frame["nav"].to_numpy(),
                                     (initial_nav, float(bench.stats["initial_nav"])))
    return out


def contributions_section(market, plan, sim, regime: np.ndarray) -> dict[str, Any]:
    """summary.json's ``contributions`` of a replay (``contributions_summary`` of "year", "regime"
    and "all"), computed from the replay's records and the market's closes."""
    rows = np.arange(plan.first_row, plan.last_row + 1)
    book = replay_book(market, plan.first_row, plan.stable_col, sim.holdings, sim.orders)
    dates = market.dates[rows]
    periods = {by: grouped(book, sim.nav, sim.stable_value, _costs(sim), dates, regime, by)
               for by in ("year", "regime", "all")}
    return contributions_summary(periods, book)


def _costs(sim) -> np.ndarray:
    return sim.fee + sim.platform_fee + sim.slippage + sim.gas
