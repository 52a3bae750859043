"""``BacktestResult.plot()``: the NAV on a log axis with the bear regime shaded and the benchmarks, as
a plotly ``Figure`` (the ``report`` extra), optionally with a drawdown panel below.

For notebooks: ``result.plot()`` displays itself; ``fig.write_html(...)`` or ``fig.write_image(...)``
save it. The HTML report (``backtest.report``) has its own, richer charts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from backtest.stats import drawdown_series, regime_runs
from index_engine.extras import missing_extra, require_extra

if TYPE_CHECKING:
    from backtest.result import BacktestResult

#: names of the built-in benchmarks in legends; another benchmark is "<asset id> buy & hold"
BENCHMARK_NAMES = {"no_regime": "no regime filter", "equal_weight": "equal weight"}
BEAR_FILL = "rgba(220, 53, 69, 0.12)"


def bear_spans(nav: pl.DataFrame) -> list[tuple[Any, Any]]:
    """(first bear date, first date after it — or the last date) of every run of bear observations."""
    if nav.is_empty() or "regime" not in nav.columns:
        return []
    dates, regime = nav["date"].to_list(), nav["regime"].to_numpy()
    return [(dates[a], dates[min(b, len(dates) - 1)]) for a, b in regime_runs(regime) if regime[a] == "bear"]


def benchmark_label(name: str) -> str:
    """The legend label of a benchmark."""
    return BENCHMARK_NAMES.get(name, f"{name} buy & hold")


def plot_result(result: BacktestResult, drawdown: bool = False, benchmarks: bool = True, log: bool = True):
    """A plotly ``Figure`` of ``result``: the index NAV (net of costs) and, with ``benchmarks``, each
    benchmark's NAV, on a log axis (``log=False``: linear), with every bear run shaded. With
    ``drawdown`` a second panel shows each series' drawdown from its running peak. Needs the
    ``report`` extra (``MissingExtraError`` without plotly)."""
    require_extra("report", "BacktestResult.plot()")
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError as exc:  # pragma: no cover - require_extra imported plotly just before
        raise missing_extra("report", "BacktestResult.plot()", "plotly") from exc

    name = result.summary.get("index") or result.config.name
    series = [(name, result.nav)]
    bench = result.benchmarks if benchmarks else None
    if bench is not None and not bench.is_empty():
        series += [(benchmark_label(b), bench.filter(pl.col("benchmark") == b))
                   for b in bench["benchmark"].unique(maintain_order=True).to_list()]
    rows = 2 if drawdown else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        row_heights=[0.7, 0.3] if drawdown else [1.0])
    for i, (label, frame) in enumerate(series):
        line = {"width": 2.0 if i == 0 else 1.2}
        fig.add_trace(go.Scatter(x=frame["date"].to_list(), y=frame["nav"].to_numpy(), name=label, mode="lines",
                                 line=line, legendgroup=label), row=1, col=1)
        if drawdown:
            dd = drawdown_series(frame["nav"].to_numpy()) if frame.height else np.array([])
            fig.add_trace(go.Scatter(x=frame["date"].to_list(), y=dd, name=f"{label} drawdown", mode="lines",
                                     line=line, legendgroup=label, showlegend=False), row=2, col=1)
    axes = ["", *map(str, range(2, rows + 1))]  # x/y, x2/y2: one shaded rectangle per bear run and panel
    fig.update_layout(shapes=[{"type": "rect", "xref": f"x{a}", "yref": f"y{a} domain", "x0": start, "x1": stop,
                               "y0": 0, "y1": 1, "fillcolor": BEAR_FILL, "line": {"width": 0}, "layer": "below"}
                              for start, stop in bear_spans(result.nav) for a in axes])
    stats = result.stats
    fig.update_layout(title=f"{name}: {stats.get('start')} → {stats.get('end')} (shaded: bear regime)",
                      hovermode="x unified", template="plotly_white", legend={"orientation": "h", "y": -0.12},
                      margin={"l": 60, "r": 20, "t": 50, "b": 40})
    fig.update_yaxes(title_text="NAV (USD)", type="log" if log else "linear", row=1, col=1)
    if drawdown:
        fig.update_yaxes(title_text="drawdown", tickformat=".0%", row=2, col=1)
    return fig
