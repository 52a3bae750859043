"""The report's rolling 1-year charts and analysis tables in a real browser (see test_report_browser.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._browser import Loaded, browser, skip_without_browser  # noqa: F401 - browser is a fixture
from tests._reports import make_run_dir

pytestmark = pytest.mark.browser
skip_without_browser()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run_dir(tmp_path_factory.mktemp("browser") / "run")


ROLLING = ("chart-roll-ret", "chart-roll-vol", "chart-roll-sharpe", "chart-roll-beta")


@pytest.mark.parametrize("width, height", ((1366, 768), (390, 844)))
def test_rolling_charts_draw_side_by_side_or_stacked(browser, run_dir, width, height):  # noqa: F811
    loaded = Loaded(browser, run_dir / "report.html", width, height, is_mobile=width < 600)
    try:
        page = loaded.page
        assert loaded.errors == [] and loaded.blocked == []
        boxes = []
        for chart in ROLLING:
            el = page.locator(f"#{chart}")
            el.scroll_into_view_if_needed()
            assert el.locator(".main-svg").count() >= 1, chart
            boxes.append(el.bounding_box())
        same_row = abs(boxes[0]["y"] - boxes[1]["y"]) < 2
        assert same_row == (width > 800), boxes
        assert all(b["width"] > 300 for b in boxes)
        for table in ("drawdown-table", "distribution-table", "contrib-years"):
            assert page.locator(f"#{table}").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        loaded.page.close()


def test_a_run_shorter_than_a_year_says_so(browser, tmp_path):  # noqa: F811
    short = make_run_dir(tmp_path / "short", days=200)
    loaded = Loaded(browser, short / "report.html")
    try:
        assert loaded.errors == []
        assert "shorter than one year" in loaded.page.locator("#rolling").inner_text()
    finally:
        loaded.page.close()
