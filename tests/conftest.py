"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Environment variable naming the folder of the shared CoinMarketCap files; default <repo>/../shared/data.
DATA_ENV = "INDEX_ENGINE_SHARED_DATA"
REAL_DATA_DIR = Path(os.environ.get(DATA_ENV) or Path(__file__).resolve().parents[1] / ".." / "shared" / "data")


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """Folder of the real data files; skips the test when it is absent."""
    if not (REAL_DATA_DIR / "cmc_daily_2013_2018.parquet").is_file():
        pytest.skip(f"real-data tests need the shared CoinMarketCap files: none at {REAL_DATA_DIR} "
                    f"(set {DATA_ENV}=/path/to/shared/data, or put shared/ beside the project)")
    return REAL_DATA_DIR
