"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

# The shared CoinMarketCap files live beside the project: <repo>/../shared/data
REAL_DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """Folder of the real data files; skips the test when it is absent."""
    if not REAL_DATA_DIR.is_dir():
        pytest.skip("../shared/data not found: real-data tests need the shared CoinMarketCap files beside the project")
    return REAL_DATA_DIR
