"""Defects users saw in report.html, one regression test each: the platform fee left out, a header
that described the wrong cost model, "1 regime switches", a regime gauge pinned at its end, hostile
names, and the next rebalance disagreeing with ``index-engine holdings``. Also: the templates'
escaping, the typed payload, clear errors on bad input. Browser-side checks: test_report_browser.py."""

from __future__ import annotations

import html as htmllib
import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import tomllib
from jinja2 import UndefinedError
from markupsafe import escape

from backtest.formatting import money
from backtest.io import render_run_dir
from backtest.report import ReportPayload, build_payload, render_report
from backtest.report.header import GAUGE_RATIOS, gauge_scale
from backtest.report.render import environment, visible
from index_engine.errors import ConfigError, RunFolderError
from index_engine.schedule import next_rebalance_date
from tests._reports import HOSTILE, frames, make_hostile_run, make_run_dir, payload, table

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run_dir(tmp_path_factory.mktemp("regressions") / "run", days=300)


def text_of(html: str, element_id: str) -> str:
    m = re.search(rf'id="{element_id}"[^>]*>(.*?)</(p|div|pre|h1)>', html, re.S)
    assert m, element_id
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", "", m.group(1))).split())


def body_of(html: str) -> str:
    """The page before the embedded data and scripts: the templates' output."""
    return html[:html.index('<script type="application/json"')]


# ------------------------------------------------------------------------------- platform fee
def test_platform_fee_is_shown_wherever_costs_are(run_dir):
    summary, nav, holdings, tx, bench = frames(run_dir)
    html = (run_dir / "report.html").read_text()
    data = payload(html)
    assert tx["platform_fee"].sum() > 0
    np.testing.assert_allclose(sum(data["tx"]["pf"]), tx["platform_fee"].sum(), rtol=1e-6)
    np.testing.assert_allclose(sum(data["tx"]["pf"]), summary["statistics"]["costs_platform_fee"], rtol=1e-6)
    assert "platform fee" in table(html, "tx-table")[0] and "platform fee" in table(html, "tx-years")[0]
    stats = {row[0]: row[1:] for row in table(html, "stats-table")}
    assert stats["· platform fee"][0] == money(summary["statistics"]["costs_platform_fee"])
    assert stats["Costs (all)"][0] == money(summary["statistics"]["costs_total"])
    # the CSV export writes every column of transactions.parquet, in its order
    csv_head = re.search(r'var head = "([^"\\]*)\\n"', html).group(1)
    assert csv_head.split(",") == tx.columns


# ------------------------------------------------------------------------------- cost model
COST_CASES = [
    ({"fee_bps": 10, "slippage_bps": 5, "gas_usd": 1},
     "exchange fee 10 bp · slippage 5 bp · gas $1.00 per order"),
    ({"fee_bps": 10, "platform_fee_bps": 25, "gas_usd": 2, "min_order_usd": 10, "max_participation": 0.1,
      "slippage": {"model": "sqrt_impact", "k": 0.7, "spread_bps": 10}},
     "exchange fee 10 bp · platform fee 25 bp · square-root slippage: half the 10 bp spread + 0.7·σ·√(order / ADV) "
     "impact, at most 2,500 bp (σ over 30 obs., ADV over 30 obs.; 100 bp without them) · gas $2.00 per order · "
     "orders under $10.00 skipped · orders capped at 10% of ADV (30-obs. mean volume)"),
    ({"fee_bps": 0, "gas_units": 150000, "gas_price_gwei": 30},
     "exchange fee 0 bp · no slippage · gas 150,000 gas units × 30 gwei priced in ethereum per order"),
    ({"fee_bps": 7.5, "gas_usd": 0.5, "gas_units": 21000, "gas_price_gwei": 12.5, "gas_asset": "bitcoin",
      "max_participation": 0.025,
      "slippage": {"model": "sqrt_impact", "k": 1.2, "max_impact_bps": 500, "vol_window": 20, "adv_window": 10,
                   "fallback_bps": 80}},
     "exchange fee 7.5 bp · square-root slippage: 1.2·σ·√(order / ADV) impact, at most 500 bp (σ over 20 obs., ADV "
     "over 10 obs.; 80 bp without them) · gas $0.50 + 21,000 gas units × 12.5 gwei priced in bitcoin per order · "
     "orders capped at 2.5% of ADV (10-obs. mean volume)"),
    ({"fee_bps": 10, "slippage": {"model": "fixed_bps", "bps": 12}}, "exchange fee 10 bp · slippage 12 bp · no gas"),
]


@pytest.mark.parametrize("costs, words", COST_CASES)
def test_header_describes_the_cost_model_of_the_config(run_dir, costs, words):
    summary, nav, holdings, tx, bench = frames(run_dir)
    summary["config"]["costs"] = costs
    html = render_report(summary, nav, holdings, tx, bench)
    assert text_of(html, "cost-model") == f"costs: {words}"
    caption = " ".join(htmllib.unescape(re.sub(r"<[^>]+>", "", html.split('id="tx-years"')[1].split("</p>")[0])).split())
    assert f"The costs of this run: {words}." in caption
    assert "slippage 0" not in html and "fee_bps" not in body_of(html).split('id="config-yaml"')[0]


# ------------------------------------------------------------------------------- counts
@pytest.mark.parametrize("n, words", [(0, "0 regime switches"), (1, "1 regime switch"), (2, "2 regime switches")])
def test_counts_are_pluralised(run_dir, n, words):
    summary, nav, holdings, tx, bench = frames(run_dir)
    summary["regime_switches"] = [{"date": "2021-03-01", "to": "bear"}, {"date": "2021-04-01", "to": "bull"}][:n]
    html = render_report(summary, nav, holdings, tx, bench)
    assert f"; {words}." in html
    text = htmllib.unescape(re.sub(r"<[^>]+>", " ", body_of(html)))
    assert not re.search(r"(?<![\d,.])1 (regime switches|periods|observations|dates|assets|days|orders)\b", text)


# ------------------------------------------------------------------------------- regime gauge
def test_gauge_scale_adapts_to_the_distance():
    near, far = gauge_scale(0.02), gauge_scale(2.15)  # +215 %: the real data's distance
    assert (near["lo"], near["hi"]) == ("-33%", "+50%") and 52 < near["pos"] < 55
    assert (far["lo"], far["hi"]) == ("-80%", "+400%") and 80 < far["pos"] < 90 and not far["clipped"]
    # twice the threshold and half of it sit at the same distance from the centre
    assert gauge_scale(1.0)["pos"] - 50 == pytest.approx(50 - gauge_scale(-0.5)["pos"])
    for d in (-0.98, -0.5, -0.2, -0.01, 0.0, 0.01, 0.4, 1.9, 9.0, 60.0):
        g = gauge_scale(d)
        assert 0 < g["pos"] < 100 and (g["pos"] > 50) == (d > 0) and not g["clipped"], d
    assert gauge_scale(GAUGE_RATIOS[-1] * 2)["clipped"] and gauge_scale(GAUGE_RATIOS[-1] * 2)["pos"] == 100


def test_gauge_is_not_pinned_for_a_far_signal(run_dir):
    summary, nav, holdings, tx, bench = frames(run_dir)
    name = "signal_total_market_cap_sma"  # the per-signal columns the gauge reads (band 0: lower = SMA)
    nav = nav.with_columns(pl.when(pl.int_range(pl.len()) == pl.len() - 1).then(pl.col(f"{name}_lower") * 3.15)
                           .otherwise(pl.col(name)).alias(name), pl.lit("bull").alias("regime"),
                           pl.lit(1, dtype=pl.Int8).alias("vote_total_market_cap_sma"))
    html = render_report(summary, nav, holdings, tx, bench)
    gauge = html.split('id="regime-gauge"')[1].split("</div>\n<div class=\"card\">")[0]
    pos = float(re.search(r'class="dot" style="left:([\d.]+)%"', gauge).group(1))
    assert 80 < pos < 90
    assert "<span>-80%</span><span>threshold</span><span>+400%</span>" in gauge
    assert "<b>215.0% above</b>" in gauge  # the exact value, in text


# ------------------------------------------------------------------------------- hostile strings


def test_hostile_strings_are_shown_literally_and_never_run(run_dir, tmp_path):
    run = make_hostile_run(run_dir, tmp_path / "hostile")
    html = (run / "report.html").read_text()
    assert render_run_dir(run, tmp_path / "again.html").read_text() == html  # deterministic
    body = body_of(html)
    for tag in ("<script", "<img", "<!--", "<b>bold"):
        assert tag not in body, tag
    title = HOSTILE[0] + HOSTILE[4] + HOSTILE[5]
    shown = re.search(r"<h1>(.*?)</h1>", body).group(1)
    assert htmllib.unescape(shown) == visible(title) == "<script>window.__pwned=1</script>nul␀byte␛[31mansi␛[0m"
    assert f'<span class="brand" title="{escape(visible(title))}">' in body
    assert escape("[bold]red[/bold]") in body and "&#34;double&#34; &#39;single&#39;" in body
    # the payload: nothing that could end the script element, and every name exactly as in the files
    raw = re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1)
    assert not set(raw) & set("<>&\u2028")
    data = json.loads(raw)
    tx = pl.read_parquet(run / "transactions.parquet")
    assert [data["assets"]["sym"][a] for a in data["tx"]["a"]] == tx["symbol"].to_list()
    assert set(HOSTILE) <= set(data["assets"]["sym"])


# ------------------------------------------------------------------------------- next rebalance
@pytest.mark.parametrize("rebalance", [{"frequency": "weekly", "weekday": "wednesday"}, {"frequency": "monthly"},
                                       {"frequency": "every_observation"}])
def test_next_rebalance_is_the_schedule_s(run_dir, rebalance):
    """The header's next rebalance is index_engine.schedule.next_rebalance_date, as `holdings` prints it."""
    summary, nav, holdings, tx, bench = frames(run_dir)
    summary["config"]["rebalance"] = {**rebalance, "decision_lag": 1}
    html = render_report(summary, nav, holdings, tx, bench)
    nxt = next_rebalance_date(summary["config"], nav["date"][-1])
    want = "next: the next observation" if nxt is None else f"next {nxt:%a} {nxt}"
    card = html.split('<div class="label">Rebalances</div>')[1].split("</div></div>")[0]
    assert want in card


# ------------------------------------------------------------------------------- templates and model
def test_templates_escape_everything_and_refuse_undefined_names():
    env = environment()
    assert env.from_string("{{ x }}").render(x="<b>&\"'") == "&lt;b&gt;&amp;&#34;&#39;"
    assert env.get_template("page.html.j2").environment.autoescape("page.html.j2") is True
    with pytest.raises(UndefinedError):
        env.from_string("{{ nope }}").render()


def test_payload_is_validated_by_its_model(run_dir):
    summary, nav, holdings, tx, bench = frames(run_dir)
    built = build_payload(summary, nav, holdings, tx, bench)
    assert isinstance(built, ReportPayload)
    assert ReportPayload.model_validate_json(built.to_json()) == built
    broken = json.loads(built.to_json())
    broken["tx"]["pf"] = broken["tx"]["pf"][:-1]
    with pytest.raises(ValueError, match="tx: columns differ in length"):
        ReportPayload.model_validate(broken)
    broken = json.loads(built.to_json())
    broken["hold"]["a"][0] = len(broken["assets"]["id"])
    with pytest.raises(ValueError, match="asset index is out of range"):
        ReportPayload.model_validate(broken)


def test_bad_input_names_the_file_and_the_column(run_dir, tmp_path):
    summary, nav, holdings, tx, bench = frames(run_dir)
    with pytest.raises(RunFolderError, match=r"transactions\.parquet: missing column\(s\) fee, gas"):
        render_report(summary, nav, holdings, tx.drop("fee", "gas"), bench)
    with pytest.raises(RunFolderError, match=r"nav\.parquet: missing column\(s\) regime"):
        render_report(summary, nav.drop("regime"), holdings, tx, bench)
    with pytest.raises(ConfigError, match=r"(?s)summary\.json: config.*costs\.fee_bsp: unknown key"):
        render_report({**summary, "config": {**summary["config"], "costs": {"fee_bsp": 1}}}, nav, holdings, tx, bench)
    with pytest.raises(ConfigError, match=r"summary\.json: no 'config'"):
        render_report({k: v for k, v in summary.items() if k != "config"}, nav, holdings, tx, bench)
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in ("nav.parquet", "holdings.parquet", "transactions.parquet"):
        (broken / f).write_bytes((run_dir / f).read_bytes())
    (broken / "summary.json").write_text("{not json")
    with pytest.raises(RunFolderError, match=r"no manifest\.json"):  # damaged folders: tests/test_io*.py
        render_run_dir(broken)


def test_package_data_ships_every_template_and_asset():
    """An installed wheel needs every file the renderer reads: pyproject's package-data covers them."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["backtest.report"]
    package = ROOT / "backtest" / "report"
    files = [p.relative_to(package) for d in ("templates", "assets") for p in (package / d).iterdir()]
    assert {f.name for f in files} >= {"page.html.j2", "report.css", "charts.js", "transactions.js"}
    for f in files:
        assert any(f.match(p) for p in patterns), f"{f} is not in package-data"
