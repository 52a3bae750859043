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


from tests._helpers import DATA_ENV, REAL_DATA_DIR  # noqa: E402  (after NUMBA_CACHE_DIR is set)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """Folder of the real data files; skips the test when it is absent."""
    if not (REAL_DATA_DIR / "cmc_daily_2013_2018.parquet").is_file():
        pytest.skip(f"real-data tests need the shared CoinMarketCap files: none at {REAL_DATA_DIR} "
                    f"(set {DATA_ENV}=/path/to/shared/data, or put shared/ beside the project)")
    return REAL_DATA_DIR
