"""Tiny hand-made markets for unit tests."""

from __future__ import annotations

import numpy as np
import polars as pl

from index_engine.data import MarketData, panel_from_dense


def make_market(
    price: np.ndarray,
    market_cap: np.ndarray | None = None,
    ids: list[str] | None = None,
    categories: dict[str, str] | None = None,
    start: str = "2024-01-01",
    step_days: int = 1,
    volume: np.ndarray | None = None,
) -> MarketData:
    """Panel from dense arrays; market cap defaults to price × 1000 × (column + 1)."""
    price = np.asarray(price, dtype=float)
    t, n = price.shape
    ids = ids or [f"a{i:02d}" for i in range(n)]
    if market_cap is None:
        market_cap = price * 1000.0 * (np.arange(n) + 1)
    dates = np.datetime64(start, "D") + np.arange(t) * step_days
    cats = [(categories or {}).get(a, "other") for a in ids]
    order = np.argsort(np.array(ids, dtype=object), kind="stable")
    return panel_from_dense(
        dates,
        np.array(ids, dtype=object)[order],
        price[:, order],
        np.asarray(market_cap, dtype=float)[:, order],
        None if volume is None else np.asarray(volume, dtype=float)[:, order],
        pl.DataFrame({"asset_id": [ids[i] for i in order], "category": [cats[i] for i in order]}),
    )
