"""The values of the report's header: title, the run's rules in words, the regime gauge and the
cards. Everything is computed and formatted here; ``templates/header.html.j2`` lays it out."""

from __future__ import annotations

import math

import polars as pl

from backtest.formatting import day, integer, money, pct, plural
from backtest.gauges import signal_gauges
from backtest.report.describe import SCHEMES, cost_model, rebalance_text
from index_engine.config import IndexConfig
from index_engine.schedule import next_rebalance_date

#: Where the regime meter may end: the signal at ``r`` × its threshold (right end) or at 1 / ``r``
#: of it (left end). The smallest ``r`` that holds the value within 90 % of the half-meter is used
#: (a dot at the very end would look clipped); beyond the last, it clips.
GAUGE_RATIOS = (1.5, 2.0, 3.0, 5.0, 10.0, 100.0)


def gauge_scale(distance: float) -> dict:
    """Where ``distance`` (signal / threshold − 1) sits on the regime meter.

    The meter is logarithmic in signal / threshold, so twice the threshold and half of it sit at
    the same distance from the centre, and values far from the threshold stay on the meter. Returns
    ``pos`` (percent of the meter's width, 50 = the threshold), the end labels ``lo``/``hi`` and
    ``clipped`` (the value is beyond the widest scale, ×/÷ 100).
    """
    x = math.log1p(distance) if distance > -1 else -math.inf
    ratio = next((r for r in GAUGE_RATIOS if abs(x) <= 0.9 * math.log(r)), GAUGE_RATIOS[-1])
    half = math.log(ratio)
    return {"pos": round(50 + 50 * max(-1.0, min(1.0, x / half)), 1), "lo": pct(1 / ratio - 1, 0),
            "hi": pct(ratio - 1, 0, sign=True), "clipped": abs(x) > half}


def regime_gauge(cfg: IndexConfig, nav: pl.DataFrame) -> dict:
    """The regime card: ``state`` (bull / bear / partial, with the risk ``share``), and either
    ``always_in`` (no regime filter) or one meter per signal (``backtest.gauges``): its value against
    its threshold on the meter's ``scale``, or ``undefined`` while its window is not filled."""
    state = nav["regime"][-1] if nav.height else "bull"
    meters: list[dict] = []
    out: dict = {"state": state, "always_in": False, "meters": meters, "share": None}
    if cfg.regime.signal == "none" or not nav.height:
        return {**out, "always_in": True}
    row = nav.row(nav.height - 1, named=True)
    if state == "partial" and "risk_share" in row:
        out["share"] = pct(row["risk_share"], 0)
    for g in signal_gauges(cfg, row):
        fmt = (lambda v: pct(v, 1)) if g.unit == "share" else money
        meter = {"name": g.name, "vote": g.vote, "what": g.what, "against": g.against, "undefined": g.distance is None}
        if g.distance is not None:
            meter.update(signal=fmt(g.value), threshold=fmt(g.threshold), distance=pct(abs(g.distance)),
                         exact=pct(g.distance, 1, sign=True), side="above" if g.distance >= 0 else "below",
                         turns=g.turns, scale=gauge_scale(g.distance))
        meters.append(meter)
    return out


def _next_rebalance_note(cfg: IndexConfig, nav: pl.DataFrame, bear: bool) -> str:
    end = nav["date"][-1] if nav.height else None
    nxt = next_rebalance_date(cfg, end) if end is not None else None
    if end is None:
        text = "next –"
    elif nxt is None:
        text = "next: the next observation"
    else:
        text = f"next {day(nxt, weekday=True)}"
    return text + (" (no trade unless the regime turns bull)" if bear else "")


def header(summary: dict, cfg: IndexConfig, nav: pl.DataFrame, holdings: pl.DataFrame,
           trade_kind: str | None) -> dict:
    """Title, description, the rules line, the cost model and the cards of the header."""
    st = summary.get("statistics") or {}
    last_trade = holdings["date"].max() if holdings.height else None
    bear = bool(nav.height) and nav["regime"][-1] == "bear"
    cards = [
        {"label": "NAV", "big": money(st.get("final_nav")),
         "sub": [f"net of costs · started at {money(st.get('initial_nav'))}"]},
        {"label": "Period return", "big": pct(st.get("total_return"), 1, True),
         "sub": [f"CAGR {pct(st.get('cagr'))} · max DD {pct(st.get('max_drawdown'))}"]},
        {"label": "Constituents", "big": integer(nav["n_holdings"][-1]) if nav.height else "0",
         "sub": [f"of top {cfg.selection.top_n} by market cap · {SCHEMES.get(cfg.weighting.scheme, 'weighted')}"]},
        {"label": "Rebalances", "big": cfg.rebalance.frequency.replace("_", " "),
         "sub": [f"last trade {day(last_trade)}" + (f" · {trade_kind}" if trade_kind else ""),
                 _next_rebalance_note(cfg, nav, bear)]},
    ]
    return {
        "title": summary.get("index", cfg.name),
        "description": cfg.description,
        "period": f"{st.get('start', '–')} → {st.get('end', '–')}",
        "observations": plural(st.get("n_observations", nav.height), "observation"),
        "rebalance": rebalance_text(cfg),
        "costs": cost_model(cfg.costs),
        "gauge": regime_gauge(cfg, nav),
        "cards": cards,
    }
