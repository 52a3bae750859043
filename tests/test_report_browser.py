"""report.html in a real headless browser (Debian's chromium driven by Playwright), fully offline:
every request other than file:// is blocked and recorded.

Needs /usr/bin/chromium (Debian package ``chromium``) and the ``playwright`` Python package; the
browser is never downloaded (no ``playwright install``). Skips when either is missing.
"""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from backtest.formatting import money, pct
from backtest.report import DUST_WEIGHT
from backtest.report.render import visible
from tests._browser import Loaded, browser, skip_without_browser  # noqa: F401 - browser is a fixture
from tests._reports import HOSTILE, make_hostile_run, make_run_dir

pytestmark = pytest.mark.browser
CHARTS = ("chart-perf", "chart-dd", "chart-treemap", "chart-weights", "chart-signal")
VIEWPORTS = ((1366, 768), (390, 844))  # the laptop the layout is made for, and a phone
skip_without_browser()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run_dir(tmp_path_factory.mktemp("browser") / "run")


@pytest.fixture(scope="module")
def report(browser, run_dir):
    loaded = Loaded(browser, run_dir / "report.html")
    yield loaded
    loaded.page.close()


def _ink(browser, png: bytes) -> tuple[float, int]:
    """Share of pixels that differ from the most common colour, and the number of distinct colours
    (decoded by the browser itself, on a blank page)."""
    page = browser.new_page()
    try:
        return tuple(page.evaluate("""async (b64) => {
            const img = new Image(); img.src = "data:image/png;base64," + b64; await img.decode();
            const c = document.createElement("canvas"); c.width = img.width; c.height = img.height;
            const ctx = c.getContext("2d"); ctx.drawImage(img, 0, 0);
            const d = ctx.getImageData(0, 0, c.width, c.height).data, counts = new Map();
            for (let i = 0; i < d.length; i += 4) {
                const k = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2]; counts.set(k, (counts.get(k) || 0) + 1);
            }
            const top = Math.max(...counts.values()), n = d.length / 4;
            return [(n - top) / n, counts.size];
        }""", base64.b64encode(png).decode()))
    finally:
        page.close()


def test_loads_offline_without_console_errors(report):
    assert report.blocked == [], f"the report tried to fetch {report.blocked[:5]}"
    assert report.errors == []
    assert report.page.evaluate("typeof Plotly") == "object"


@pytest.mark.parametrize("chart", CHARTS)
def test_every_chart_renders(report, browser, chart):
    el = report.page.locator(f"#{chart}")
    el.scroll_into_view_if_needed()
    assert el.locator(".main-svg").count() >= 1, f"{chart}: plotly drew nothing"
    box = el.bounding_box()
    assert box["width"] > 300 and box["height"] > 150
    ink, colours = _ink(browser, el.screenshot())
    assert ink > 0.02 and colours > 20, f"{chart} looks blank: {ink:.1%} ink, {colours} colours"


def _tiles(page) -> list[str]:
    """Labels of the treemap's leaf tiles (the root, id __all__, is the frame they sit in)."""
    return page.evaluate("""() => {
        const gd = document.getElementById("chart-treemap");
        return Array.from(gd.querySelectorAll("g.slice")).map(s => s.__data__ && s.__data__.data && s.__data__.data.data)
            .filter(d => d && d.id !== "__all__").map(d => d.id);
    }""")


def _held(run_dir: Path, day: date | None = None) -> list[str]:
    h = pl.read_parquet(run_dir / "holdings.parquet").filter(pl.col("weight") >= DUST_WEIGHT)
    return sorted(h.filter(pl.col("date") == (day or h["date"].max()))["asset_id"].to_list())


def test_treemap_has_one_tile_per_holding(report, run_dir):
    page = report.page
    assert page.locator("#chart-treemap g.slice").count() == len(_held(run_dir)) + 1  # + the root frame
    assert sorted(_tiles(page)) == _held(run_dir)
    # an earlier rebalance date, from the date picker: the tiles follow
    h = pl.read_parquet(run_dir / "holdings.parquet")
    dates = h["date"].unique().sort().to_list()
    k = len(dates) // 2
    page.select_option("#hold-date", str(k))
    page.wait_for_function(f"document.getElementById('hold-info').textContent.startsWith('{dates[k]}')")
    assert sorted(_tiles(page)) == _held(run_dir, dates[k])
    page.click("#hold-next")
    page.wait_for_function(f"document.getElementById('hold-info').textContent.startsWith('{dates[k + 1]}')")
    assert sorted(_tiles(page)) == _held(run_dir, dates[k + 1])
    assert page.locator("#hold-table tbody tr").count() == len(_held(run_dir, dates[k + 1]))


def _count(page) -> int:
    return int(page.inner_text("#tx-count").replace(",", ""))


def test_transactions_filter_narrows_the_table(report, run_dir):
    page = report.page
    tx = pl.read_parquet(run_dir / "transactions.parquet")
    assert _count(page) == tx.height
    assert page.locator("#tx-table tbody tr").count() == min(50, tx.height)
    page.fill("#tx-asset", "BTC")
    btc = tx.filter(pl.col("symbol") == "BTC")
    assert 0 < _count(page) == btc.height < tx.height
    rows = page.locator("#tx-table tbody tr")
    assert all(rows.nth(i).locator("td").nth(1).inner_text() == "BTC" for i in range(min(rows.count(), 10)))
    page.select_option("#tx-reason", "reweight")
    assert _count(page) == btc.filter(pl.col("reason") == "reweight").height
    page.click("#tx-reset")
    assert _count(page) == tx.height
    # date range: inclusive on both ends
    days = tx["date"].unique().sort().to_list()
    lo, hi = days[len(days) // 4], days[len(days) // 2]
    page.fill("#tx-from", str(lo))
    page.fill("#tx-to", str(hi))
    assert _count(page) == tx.filter(pl.col("date").is_between(lo, hi)).height < tx.height
    # totals and the per-year table follow the filter
    window = tx.filter(pl.col("date").is_between(lo, hi))
    fee = float(page.inner_text("#tx-totals").split("fee $")[1].split()[0].replace(",", ""))
    assert fee == pytest.approx(window["fee"].sum(), abs=0.01)
    years = page.locator("#tx-years tbody tr th").all_inner_texts()
    assert [y for y in years if y != "all"] == sorted({str(d.year) for d in window["date"]})
    page.click("#tx-reset")


def test_transactions_sort_by_clicking_a_header(report, run_dir):
    page = report.page
    tx = pl.read_parquet(run_dir / "transactions.parquet")
    page.click("#tx-table th[data-k=f]")  # fee: largest first
    first = page.locator("#tx-table tbody tr").first.locator("td").nth(6).inner_text()
    assert float(first.replace(",", "")) == pytest.approx(tx["fee"].max(), abs=0.006)
    page.click("#tx-table th[data-k=f]")  # again: smallest first
    first = page.locator("#tx-table tbody tr").first.locator("td").nth(6).inner_text()
    assert float(first.replace(",", "")) == pytest.approx(tx["fee"].min(), rel=0.01)
    page.click("#tx-table th[data-k=d]")
    assert page.locator("#tx-table tbody tr").first.locator("td").first.inner_text() == str(tx["date"].min())


def test_report_of_a_run_without_benchmarks_loads_cleanly(browser, tmp_path):
    run = make_run_dir(tmp_path / "plain", {"benchmarks": {}, "regime.signal": "none"}, days=200)
    loaded = Loaded(browser, run / "report.html")
    try:
        assert loaded.errors == [] and loaded.blocked == []
        assert "always invested" in loaded.page.inner_text("#statistics")
    finally:
        loaded.page.close()



def test_platform_fee_in_the_table_totals_costs_per_year_and_csv(report, run_dir, tmp_path):
    page = report.page
    tx = pl.read_parquet(run_dir / "transactions.parquet")
    assert tx["platform_fee"].sum() > 0
    heads = page.locator("#tx-table thead th").all_inner_texts()
    assert [h.strip() for h in heads[6:10]] == ["fee", "platform fee", "slippage", "gas"]
    first = page.locator("#tx-table tbody tr").first.locator("td").nth(7).inner_text()  # the first order by date
    assert float(first.replace(",", "")) == pytest.approx(tx["platform_fee"][0], abs=0.006)
    totals = page.inner_text("#tx-totals")
    platform = float(totals.split("platform fee $")[1].split()[0].replace(",", ""))
    assert platform == pytest.approx(tx["platform_fee"].sum(), abs=0.01)
    total = float(totals.split("total costs $")[1].split()[0].replace(",", ""))
    assert total == pytest.approx(tx.select(pl.sum_horizontal("fee", "platform_fee", "slippage", "gas")).to_series().sum(), abs=0.01)
    years = page.locator("#tx-years tbody tr")
    by_year = tx.group_by(pl.col("date").dt.year().alias("y")).agg(pl.col("platform_fee").sum()).sort("y")
    for i, (year, fee) in enumerate(by_year.iter_rows()):
        cells = years.nth(i).locator("th, td").all_inner_texts()
        assert cells[0] == str(year) and float(cells[4].strip("$").replace(",", "")) == pytest.approx(fee, abs=0.01)
    with page.expect_download() as dl:
        page.click("#tx-csv")
    csv = pl.read_csv(dl.value.path(), try_parse_dates=True)
    assert csv.columns == tx.columns and csv.height == tx.height
    for col in ("notional", "fee", "platform_fee", "slippage", "gas"):  # every cost column, each from its own data
        assert csv[col].sum() == pytest.approx(tx[col].sum(), rel=1e-6), col


@pytest.fixture(scope="module")
def hostile_dir(run_dir, tmp_path_factory) -> Path:
    return make_hostile_run(run_dir, tmp_path_factory.mktemp("browser") / "hostile")


@pytest.mark.parametrize("width, height", VIEWPORTS)
@pytest.mark.parametrize("which", ["plain", "hostile"])
def test_nothing_makes_the_page_wider_than_the_viewport(browser, run_dir, hostile_dir, which, width, height):
    """Long names, warnings and hashes wrap or scroll inside their own box: at 1366 px and on a
    390 px phone the page never scrolls sideways."""
    path = (hostile_dir if which == "hostile" else run_dir) / "report.html"
    loaded = Loaded(browser, path, width, height, is_mobile=width < 600)
    try:
        page = loaded.page
        page.wait_for_timeout(200)  # let plotly's responsive resize settle
        # HTML boxes that stick out of the viewport other than inside a scrolling box (SVG content is
        # clipped by its own <svg>)
        wide = page.evaluate("""() => Array.from(document.querySelectorAll("body *")).filter(e => {
            const r = e.getBoundingClientRect();
            return e instanceof HTMLElement && r.right > window.innerWidth + 0.5 && !e.closest(".scroll, .topbar .wrap, pre");
        }).slice(0, 5).map(e => e.tagName + "#" + e.id + "." + e.className)""")
        sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert sizes[0] <= sizes[1], f"page is {sizes[0]} px wide in a {sizes[1]} px viewport; too wide: {wide}"
        assert sizes[1] == width, f"the phone zoomed out to a {sizes[1]} px layout to fit the page; too wide: {wide}"
        assert wide == []
        assert loaded.errors == [] and loaded.blocked == []
    finally:
        loaded.page.close()


def test_hostile_names_are_shown_literally_and_never_run(browser, hostile_dir):
    loaded = Loaded(browser, hostile_dir / "report.html")
    try:
        page = loaded.page
        assert loaded.errors == [] and loaded.blocked == []
        assert page.evaluate("window.__pwned") is None
        title = HOSTILE[0] + HOSTILE[4] + HOSTILE[5]
        assert page.inner_text("h1") == visible(title)
        data = page.evaluate("window.REPORT_DATA")
        # the holdings table and the weights legend show the symbols as written (controls made visible)
        h = data["hold"]
        k = len(h["dates"]) - 1
        syms = [data["assets"]["sym"][a] for a in h["a"][h["start"][k]:h["start"][k + 1]]]
        shown = page.locator("#hold-table tbody tr td:nth-child(2)").all_text_contents()
        assert shown == [visible(s) for s in syms]
        legend = page.locator("#chart-weights .legend .legendtext").all_text_contents()
        assert legend == [visible(s["name"]) for s in data["weights"]["series"]]
        assert set(HOSTILE[:4]) <= set(legend)  # markup, rich tags and quotes, as written
        page.fill("#tx-asset", HOSTILE[2])  # [bold]red[/bold]: an exact symbol selects its orders
        assert page.locator("#tx-table tbody tr td:nth-child(2)").first.text_content() == HOSTILE[2]
    finally:
        loaded.page.close()


def test_the_scripts_format_numbers_as_backtest_formatting(report):
    """The holdings panel formats in the browser; it must print what the Python side prints."""
    values = [0.1234, -0.00001, 39.1, -0.5, 0.0, None, 1e-9, 999_999.999, -1500.0, 12.34, 0.004, -0.004, 1.23e12, -2.5e7]
    got = report.page.evaluate("""(vs) => vs.map(v => [REPORT.format.pct(v, 1), REPORT.format.spct(v, 1),
                                                       REPORT.format.money(v)])""", values)
    assert got == [[pct(v, 1), pct(v, 1, sign=True), money(v)] for v in values]
