"""The embedded synthetic market: determinism, shape, and the stylised facts the demos rely on."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from index_engine.data.panel import MarketData
from index_engine.data.synthetic import synthetic_long_frame, synthetic_market


@pytest.fixture(scope="module")
def market() -> MarketData:
    return synthetic_market()  # the defaults: seed 7, 800 assets, 2190 days from 2019-01-01


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return np.array_equal(a, b, equal_nan=True)


def _risky_total_cap(m: MarketData) -> np.ndarray:
    risky = ~np.isin(m.categories, ["stablecoin", "wrapped"])
    return np.nansum(m.market_cap[:, risky], axis=1)


def _sma_crossings(total: np.ndarray, window: int = 200) -> tuple[list[int], list[int], np.ndarray]:
    """Indices where ``total`` crosses below / above its trailing ``window``-observation SMA."""
    c = np.cumsum(np.r_[0.0, total])
    sma = np.full(total.shape, np.nan)
    sma[window - 1:] = (c[window:] - c[:-window]) / window
    above = total > sma
    t = np.arange(window, total.shape[0])
    down = t[above[t - 1] & ~above[t]].tolist()
    up = t[~above[t - 1] & above[t] & np.isfinite(sma[t - 1])].tolist()
    return down, up, above


def test_same_seed_is_bit_identical_and_seeds_differ(market):
    again = synthetic_market(seed=7)
    for name in ("price", "market_cap", "volume"):
        assert _same(getattr(market, name), getattr(again, name)), name
    assert market.content_hash() == again.content_hash()
    assert market.assets.equals(again.assets)
    other = synthetic_market(seed=8)
    assert not _same(market.price, other.price)
    assert market.content_hash() != other.content_hash()


def test_shape_calendar_and_sorted_ids(market):
    assert market.price.shape == market.market_cap.shape == market.volume.shape == (2190, 800)
    assert market.dates[0] == np.datetime64("2019-01-01") and market.dates.dtype == np.dtype("datetime64[D]")
    assert (np.diff(market.dates).astype(int) == 1).all()
    ids = market.asset_ids.tolist()
    assert ids == sorted(ids) and len(set(ids)) == 800
    for special in ("bitcoin", "ethereum", "tether", "usd-coin", "dai", "wrapped-bitcoin", "syn-0001"):
        assert special in ids
    assert market.assets["asset_id"].to_list() == ids
    assert market.assets["symbol"].null_count() == 0 and market.assets["name"].null_count() == 0
    btc = market.assets.filter(pl.col("asset_id") == "bitcoin").row(0, named=True)
    assert (btc["symbol"], btc["name"]) == ("BTC", "Bitcoin")
    cats = dict(zip(ids, market.categories.tolist()))
    assert cats["tether"] == cats["usd-coin"] == cats["dai"] == "stablecoin"
    assert cats["wrapped-bitcoin"] == "wrapped" and cats["bitcoin"] == "other"
    assert sum(c == "stablecoin" for c in cats.values()) == 4
    assert "exchange_token" in cats.values()


def test_other_parameters():
    m = synthetic_market(seed=3, n_assets=40, days=60, start=date(2021, 6, 1), n_stablecoins=2)
    assert m.price.shape == (60, 40) and m.dates[0] == np.datetime64("2021-06-01")
    assert (m.categories == "stablecoin").sum() == 2
    tiny = synthetic_market(seed=1, n_assets=5, days=30, n_stablecoins=4)  # SyntheticConfig minimum
    assert tiny.price.shape == (30, 5) and np.isfinite(tiny.price).any(axis=0).all()
    none = synthetic_market(seed=1, n_assets=20, days=100, n_stablecoins=0)
    assert (none.categories == "stablecoin").sum() == 0
    big = synthetic_market(seed=2, n_assets=12_000, days=40)
    assert big.asset_ids.tolist() == sorted(big.asset_ids.tolist()) and "syn-11993" in big.asset_ids.tolist()


def test_observed_values_are_positive_and_finite(market):
    observed = np.isfinite(market.price)
    assert (market.price[observed] > 0).all()
    assert not np.isinf(market.price).any() and not np.isinf(market.market_cap).any()
    cap = market.market_cap
    assert (cap[np.isfinite(cap)] > 0).all()
    assert not (np.isfinite(cap) & ~observed).any()  # no cap without a price
    assert 0.0 < np.isnan(cap[observed]).mean() < 0.2  # a few small caps lack a cap
    vol = market.volume
    assert (np.isfinite(vol) == observed).all() and (vol[observed] >= 0).all()
    assert (vol[observed] == 0).any()  # some small-cap zero-volume days


def test_power_law_caps_and_a_dominant_bitcoin(market):
    logcap = np.log10(market.market_cap)
    spread_median = np.nanmax(logcap, axis=1) - np.nanmedian(logcap, axis=1)
    spread_all = np.nanmax(logcap, axis=1) - np.nanmin(logcap, axis=1)
    assert spread_median.max() > 3.0  # largest / median > 1e3
    assert spread_all.max() > 6.0  # six orders of magnitude
    total = _risky_total_cap(market)
    btc = market.market_cap[:, market.asset_index("bitcoin")]
    eth = market.market_cap[:, market.asset_index("ethereum")]
    assert 0.4 <= btc[0] / total[0] <= 0.6
    ranks = np.argsort(-np.nan_to_num(market.market_cap[0]))
    risky_ranked = [a for a in market.asset_ids[ranks] if a not in ("tether", "usd-coin", "dai", "wrapped-bitcoin")]
    assert risky_ranked[:2] == ["bitcoin", "ethereum"]
    assert np.nanmedian(eth / btc) < 0.5 and (eth < btc).mean() > 0.9


def test_listings_deaths_and_gaps(market):
    observed = np.isfinite(market.price)
    first = observed.argmax(axis=0)
    last = observed.shape[0] - 1 - observed[::-1].argmax(axis=0)
    assert observed.any(axis=0).all()
    assert 200 < (first == 0).sum() < 700  # many trade from day 0 ...
    assert (first > 0).sum() > 100  # ... and many list later
    assert not observed[0, first > 0].any()
    dead = last < observed.shape[0] - 1
    assert dead.sum() > 50
    # a death is preceded by a collapse of the price
    d = np.flatnonzero(dead & (last - first > 120))
    drop = market.price[last[d], d] / market.price[last[d] - 100, d]
    assert np.nanmedian(drop) < 0.1
    # short gaps: unobserved days strictly inside an asset's life
    life = (np.arange(observed.shape[0])[:, None] >= first) & (np.arange(observed.shape[0])[:, None] <= last)
    gaps = (life & ~observed).sum(axis=0)
    assert 5 <= (gaps > 0).sum() < 100 and gaps.max() <= 10
    assert market.assets["first_date"].null_count() == 0


def test_stablecoins_hold_the_peg_except_one_depeg(market):
    stables = np.flatnonzero(market.categories == "stablecoin")
    p = market.price[:, stables]
    obs = np.isfinite(p)
    assert ((p[obs] >= 0.8) & (p[obs] <= 1.2)).all()
    off = obs & (np.abs(p - 1.0) > 0.01)
    assert (np.abs(p[obs] - 1.0) <= 0.01).mean() > 0.99
    assert off.any(axis=0).sum() == 1  # one de-peg episode, on one coin
    days_off = np.flatnonzero(off.any(axis=1))
    assert 2 <= days_off.size <= 10 and days_off.max() - days_off.min() < 10
    assert np.nanmin(p) < 0.95
    assert (np.abs(p[days_off.max() + 1:][obs[days_off.max() + 1:]] - 1) <= 0.01).all()  # it recovers
    t = market.asset_index("tether")
    tether = market.market_cap[:, t] / market.price[:, t]
    assert tether[-1] > 3 * tether[0]  # growing supply


def test_wrapped_bitcoin_tracks_bitcoin(market):
    btc = market.price[:, market.asset_index("bitcoin")]
    wbtc = market.price[:, market.asset_index("wrapped-bitcoin")]
    both = np.isfinite(wbtc)
    assert both.sum() > 2000 and np.isfinite(btc[both]).all()
    assert np.abs(wbtc[both] / btc[both] - 1).max() < 0.03


@pytest.mark.parametrize("seed", [7, 11, 42])
def test_bear_phase_crosses_below_and_back_above_the_sma200(seed, market):
    m = market if seed == 7 else synthetic_market(seed=seed)
    total = _risky_total_cap(m)
    down, up, above = _sma_crossings(total)
    assert down and up
    # a bear: a cross below after the first 200 days, months below the SMA, then a cross back above
    spells = [(d, min(u for u in up if u > d)) for d in down if any(u > d for u in up)]
    long_spells = [(d, u) for d, u in spells if u - d >= 60 and not above[d:u].any()]
    assert long_spells, f"no bear spell below the SMA200 for seed {seed}"
    # and it is deep: total cap falls >= 50 % from its running peak at some point
    assert (total / np.maximum.accumulate(total)).min() < 0.5


def test_long_frame_matches_the_panel():
    frame, cats = synthetic_long_frame(seed=5, n_assets=30, days=90, start="2020-03-01")
    m = synthetic_market(seed=5, n_assets=30, days=90, start="2020-03-01")
    assert frame.columns == ["date", "asset_id", "symbol", "name", "price_usd", "market_cap_usd", "volume_24h_usd"]
    assert frame.schema["date"] == pl.Date and frame.height == int(np.isfinite(m.price).sum())
    assert frame["price_usd"].null_count() == 0
    assert frame.sort("date", "asset_id").equals(frame)
    assert cats.columns == ["asset_id", "category"] and cats["asset_id"].to_list() == m.asset_ids.tolist()
    row = frame.filter((pl.col("asset_id") == "bitcoin") & (pl.col("date") == date(2020, 3, 11))).row(0, named=True)
    i, t = m.asset_index("bitcoin"), m.date_index(np.datetime64("2020-03-11"))
    assert row["price_usd"] == m.price[t, i] and row["market_cap_usd"] == m.market_cap[t, i]
    assert row["symbol"] == "BTC"
    assert MarketData.synthetic(seed=5, n_assets=30, days=90, start="2020-03-01").content_hash() == m.content_hash()
