"""``BacktestResult.__repr__`` (from the statistics alone) and ``BacktestResult.plot()`` (a plotly Figure)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from backtest import BacktestResult
from backtest.plotting import bear_spans
from backtest.result import Lazy
from backtest.stats import drawdown_series
from index_engine.errors import MissingExtraError
from tests._runs import small_run


def test_repr_is_short_and_builds_no_frame():
    run = small_run()

    def refuse():
        raise AssertionError("repr built a frame or the summary")

    lazy = BacktestResult(run.config, run.stats, Lazy(refuse), run.plan, {k: Lazy(refuse) for k in run.frames})
    text = repr(lazy)
    s = run.stats
    assert text == (f"<BacktestResult index: {s['start']} → {s['end']}, CAGR {s['cagr'] * 100:,.1f}%, "
                    f"Sharpe {s['sharpe']:.2f}, max drawdown {s['max_drawdown'] * 100:.1f}%, "
                    f"{s['n_transactions']:,} trades>")
    assert "\n" not in text and len(text) < 160
    empty = BacktestResult(run.config, {}, {}, run.plan, {})  # a hand-made result without statistics
    assert repr(empty) == "<BacktestResult index: None → None, CAGR –, Sharpe –, max drawdown –, – trades>"


def test_plot_has_the_nav_benchmarks_bear_shading_and_a_log_axis():
    run = small_run()
    fig = run.plot()
    assert [t.name for t in fig.data] == ["index", "no regime filter"]
    np.testing.assert_array_equal(fig.data[0].y, run.nav["nav"].to_numpy())
    assert list(fig.data[0].x) == run.nav["date"].to_list()
    assert fig.layout.yaxis.type == "log"
    spans = bear_spans(run.nav)
    assert spans and [(s.x0, s.x1) for s in fig.layout.shapes] == spans
    assert all(s.yref == "y domain" for s in fig.layout.shapes)
    assert len(run.plot(benchmarks=False).data) == 1 and run.plot(log=False).layout.yaxis.type == "linear"


def test_plot_with_drawdown_adds_a_panel():
    run = small_run()
    fig = run.plot(drawdown=True)
    assert [t.name for t in fig.data] == ["index", "index drawdown", "no regime filter", "no regime filter drawdown"]
    assert [t.yaxis for t in fig.data] == ["y", "y2", "y", "y2"]
    np.testing.assert_array_equal(fig.data[1].y, drawdown_series(run.nav["nav"].to_numpy()))
    assert max(fig.data[1].y) == 0.0 and min(fig.data[1].y) == pytest.approx(run.stats["max_drawdown"])
    assert len(fig.layout.shapes) == 2 * len(bear_spans(run.nav))  # shaded in both panels


def test_plot_without_plotly_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "plotly" or m.startswith("plotly.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "plotly", None)
    with pytest.raises(MissingExtraError, match=r"BacktestResult.plot\(\) needs the 'plotly' package.*index-engine\[report\]"):
        small_run().plot()
