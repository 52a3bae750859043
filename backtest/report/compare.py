"""``compare.html`` / ``compare.md`` / ``compare.csv``: several finished runs side by side — their NAVs
and drawdowns overlaid, their statistics, and their relative statistics against the first run.

``compare_runs`` turns verified run folders (``backtest.io.read_run``) into a ``Comparison``;
``render_compare`` writes its page with the report's CSS, plotly.js and formatting, ``markdown`` and
``csv`` its tables. The CLI is ``index-engine compare`` (``backtest/cli/compare.py``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field

from backtest.analysis import RELATIVE_KEYS, relative_between
from backtest.report.analysis import RELATIVE_ROWS, _fmt
from backtest.report.model import _HTML_SAFE_PAIRS, Num
from backtest.report.payload import rounded
from backtest.report.render import _asset, _plotly_js, environment
from backtest.report.tables import STAT_ROWS, _stat
from backtest.stats import ROW_STATS

if TYPE_CHECKING:
    from backtest.io import RunFiles


class CompareSeries(BaseModel):
    """One run's NAV for the overlay charts."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    label: str = Field(description="the run's label (its folder name)")
    initial_nav: float = Field(description="the money put in, USD: the base of 'growth of 1,000'")
    dates: list[str] = Field(description="the run's observations, ISO")
    nav: list[Num] = Field(description="NAV net of costs, USD (9 significant digits)")


@dataclass(frozen=True)
class Comparison:
    """Runs in the order given: labels, their summaries, NAV series, and the relative statistics of
    each against the first run (``relative[0]`` is the first run against itself)."""

    labels: list[str]
    summaries: list[dict]
    series: list[CompareSeries]
    relative: list[dict]


def labels_of(names: list[str]) -> list[str]:
    """Unique labels from folder names: a repeated name gets " (2)", " (3)" …"""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def compare_runs(runs: list[RunFiles]) -> Comparison:
    """The ``Comparison`` of verified run folders (at least one)."""
    labels = labels_of([r.path.name for r in runs])
    first = runs[0]
    relative = []
    for run in runs:
        initial = (float(run.summary["statistics"]["initial_nav"]), float(first.summary["statistics"]["initial_nav"]))
        relative.append(relative_between(run.nav["date"].to_numpy(), run.nav["nav"].to_numpy(),
                                         first.nav["date"].to_numpy(), first.nav["nav"].to_numpy(), initial))
    series = [CompareSeries(label=label, initial_nav=float(r.summary["statistics"]["initial_nav"]),
                            dates=[str(d) for d in r.nav["date"].to_list()], nav=rounded(r.nav["nav"].to_numpy(), 9))
              for label, r in zip(labels, runs)]
    return Comparison(labels, [r.summary for r in runs], series, relative)


def _period(summary: dict) -> str:
    st = summary.get("statistics") or {}
    return f"{st.get('start', '–')} → {st.get('end', '–')}"


def statistics_rows(c: Comparison) -> list[dict]:
    """The statistics table: the period, then ``tables.STAT_ROWS``, one column per run."""
    rows = [{"label": "Index", "cells": [str(s.get("index", "")) for s in c.summaries]},
            {"label": "Period", "cells": [_period(s) for s in c.summaries]}]
    rows += [{"label": label, "cells": [_stat(s.get("statistics") or {}, key, kind, False) for s in c.summaries]}
             for label, key, kind in STAT_ROWS]
    return rows


def relative_rows(c: Comparison) -> list[dict]:
    """The relative statistics table: each later run against the first, on their common dates."""
    return [{"label": label, "cells": [_fmt(rel.get(key), kind) for rel in c.relative[1:]]}
            for label, key, kind in RELATIVE_ROWS]


def render_compare(c: Comparison) -> str:
    """The whole self-contained compare.html (same inputs, same bytes)."""
    payload = "[" + ",".join(s.model_dump_json() for s in c.series) + "]"
    for char, escaped in _HTML_SAFE_PAIRS:  # as ReportPayload.to_json: nothing can end the <script>
        payload = payload.replace(char, escaped)
    context = {
        "labels": c.labels, "n": len(c.labels),
        "runs": [{"label": lab, "index": str(s.get("index", "")), "period": _period(s),
                  "config": str(s.get("config_sha256", ""))[:12],
                  "data": str((s.get("data") or {}).get("sha256", ""))[:12],
                  "version": str(s.get("version", ""))} for lab, s in zip(c.labels, c.summaries)],
        "stats": statistics_rows(c), "relative": relative_rows(c),
        "css": _asset("report.css"), "payload_json": Markup(payload),
        "scripts": [_plotly_js(), _asset("compare.js")],
    }
    return environment().get_template("compare.html.j2").render(context)


def markdown(c: Comparison) -> str:
    """compare.md: the statistics table and the relative statistics table (GitHub Markdown)."""
    def table(head: list[str], rows: list[dict]) -> list[str]:
        esc = [h.replace("|", "\\|") for h in head]
        out = ["| " + " | ".join(esc) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(str(x).replace("|", "\\|") for x in (r["label"], *r["cells"])) + " |" for r in rows]
        return out

    lines = [f"# Comparison of {len(c.labels)} runs", "", "## Statistics", "",
             *table(["", *c.labels], statistics_rows(c)), ""]
    if len(c.labels) > 1:
        lines += [f"## Relative statistics against {c.labels[0]}", "",
                  *table(["", *c.labels[1:]], relative_rows(c)), ""]
    lines += ["Definitions: docs/outputs.md (statistics and relative statistics).", ""]
    return "\n".join(lines)


def csv_text(c: Comparison) -> str:
    """compare.csv: one row per run — its label, index, the flat statistics (``ROW_STATS``) and the
    relative statistics against the first run (``vs_first_<key>``); raw numbers, empty = null."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    keys = [k for k in ROW_STATS]
    writer.writerow(["run", "index", *keys, *(f"vs_first_{k}" for k in RELATIVE_KEYS)])
    for label, summary, rel in zip(c.labels, c.summaries, c.relative):
        st = summary.get("statistics") or {}
        writer.writerow([label, summary.get("index", ""), *("" if st.get(k) is None else st.get(k) for k in keys),
                         *("" if rel.get(k) is None else repr(float(rel[k])) for k in RELATIVE_KEYS)])
    return buf.getvalue()
