"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _kernel_cache_dir() -> str:
    """A numba cache folder keyed by the kernels' sources: numba's own cache only tracks the file of the
    function it compiles, so an edit to a kernel that another file's kernel calls could leave a stale
    compiled caller. Any edit to any kernel file gives a fresh folder here."""
    import hashlib

    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted([*root.glob("index_engine/kernels/*.py"), *root.glob("backtest/kernels/*.py"),
                        root / "index_engine" / "codes.py"]):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return str(root / ".pytest_cache" / "numba" / h.hexdigest()[:16])


os.environ.setdefault("NUMBA_CACHE_DIR", _kernel_cache_dir())


from hypothesis import settings  # noqa: E402

from tests._helpers import DATA_ENV, REAL_DATA_DIR  # noqa: E402  (after NUMBA_CACHE_DIR is set)

# ---- Hypothesis profiles: HYPOTHESIS_PROFILE=ci (default) | dev | thorough -----------------------------
# ``ci`` keeps the example counts the tests were written with: Hypothesis' default 100 where a test
# sets none, and its own count where it sets one through ``tests._hypothesis.examples(n)``, which
# scales n by the active profile's max_examples / ci's (dev: a tenth, thorough: ten times).
PROFILES = {
    "ci": settings(deadline=None, max_examples=100, print_blob=True),
    "dev": settings(deadline=None, max_examples=10),
    "thorough": settings(deadline=None, max_examples=1000, print_blob=True),
}
for _name, _profile in PROFILES.items():
    settings.register_profile(_name, _profile)
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or "ci"
if HYPOTHESIS_PROFILE in PROFILES:  # now, before the test modules build their settings; pytest's
    settings.load_profile(HYPOTHESIS_PROFILE)  # --hypothesis-profile option still wins


def pytest_configure(config: pytest.Config) -> None:
    """Refuse an unknown ``HYPOTHESIS_PROFILE`` with one line."""
    if HYPOTHESIS_PROFILE not in PROFILES:
        raise pytest.UsageError(f"HYPOTHESIS_PROFILE={HYPOTHESIS_PROFILE!r}: expected one of {', '.join(PROFILES)}")


# ---- markers ------------------------------------------------------------------------------------------
#: Tests > ~5 s warm that their files do not mark yet (better moved there as ``@pytest.mark.slow``).
SLOW_ELSEWHERE = {
    "tests/test_invariants.py": ("test_backtest_invariants", "test_check_result_invariants_detects_corruption"),
}


@pytest.hookimpl(tryfirst=True)  # before -m deselects by these marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``real_data`` on every test that uses the ``real_data_dir`` fixture (directly or through
    another fixture), ``slow`` on the tests of ``SLOW_ELSEWHERE``."""
    for item in items:
        if "real_data_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real_data)
        file = item.nodeid.partition("::")[0]  # relative to the rootdir
        if getattr(item, "originalname", item.name) in SLOW_ELSEWHERE.get(file, ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """Folder of the real data files; skips the test when it is absent."""
    if not (REAL_DATA_DIR / "cmc_daily_2013_2018.parquet").is_file():
        pytest.skip(f"real-data tests need the shared CoinMarketCap files: none at {REAL_DATA_DIR} "
                    f"(set {DATA_ENV}=/path/to/shared/data, or put shared/ beside the project)")
    return REAL_DATA_DIR
