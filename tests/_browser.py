"""Shared helpers of the browser tests: Debian's chromium driven by Playwright, and a report page
loaded with what it logged and what it tried to fetch."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SKIP_HOW = "CI installs both: `apt-get install -y chromium` and `pip install playwright` (never `playwright install`)"


def skip_without_browser() -> None:
    """Skip the calling test module (call it at module level) without chromium or playwright."""
    if not CHROMIUM.is_file():
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM}; {SKIP_HOW}", allow_module_level=True)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip(f"browser tests need the playwright Python package; {SKIP_HOW}", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    """A headless chromium for the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


class Loaded:
    """The report open in a page, with what the page logged and what it tried to fetch."""

    def __init__(self, browser, path: Path, width: int = 1366, height: int = 768, **context):
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": height}, **context)
        self.page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.route("**/*", self._route)
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("body[data-charts=ready][data-tx=ready]", state="attached", timeout=30_000)

    def _route(self, route):
        url = route.request.url
        if url.startswith("file://"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()
