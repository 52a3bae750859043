"""stable.depeg_band: a warning (never a change) when the priced stable asset leaves $1 ± band inside the
backtest window (index_engine/hygiene.py::depeg_warning)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from backtest import run_backtest
from index_engine import ConfigError, IndexConfig, MarketData
from index_engine.testing import check_result_invariants
from tests._helpers import flagship_config, make_market


def _market():
    """a (risky) and usd (a stablecoin): usd closes at 0.9 on 2024-01-11, 1.05 on 01-13 and 0.5 on 01-02."""
    t = 20
    usd = np.ones(t)
    usd[[1, 10, 12]] = [0.5, 0.9, 1.05]
    price = np.column_stack([np.linspace(1.0, 2.0, t), usd])
    return make_market(price, ids=["a", "usd"], categories={"usd": "stablecoin"})


def _cfg(**stable) -> IndexConfig:
    return IndexConfig.from_dict({"selection": {"top_n": 1}, "regime": {"signal": "none"},
                                  "stable": {"asset": "usd", **stable}, "backtest": {"start": "2024-01-05"}})


def test_a_depeg_inside_the_window_is_a_warning_with_dates_and_prices():
    market = _market()
    result = run_backtest(_cfg(), market)
    check_result_invariants(result, market)
    w = result.summary["warnings"]["stable_depeg"]
    # 2024-01-02 (0.5) is before backtest.start: not counted; the two closes inside are, largest departure first
    assert w["count"] == 2 and w["examples"] == ["2024-01-11: 0.9", "2024-01-13: 1.05"]
    assert "low 0.9 on 2024-01-11, high 1.05 on 2024-01-13" in w["message"]
    assert "2 of 16 observations" in w["message"] and "usd" in w["message"]


def test_the_band_is_configurable_and_only_a_warning():
    market = _market()
    base = run_backtest(_cfg(), market)
    wide = run_backtest(_cfg(depeg_band=0.06), market)  # only the 0.9 close is more than 6 % away
    assert wide.summary["warnings"]["stable_depeg"]["examples"] == ["2024-01-11: 0.9"]
    off = run_backtest(_cfg(depeg_band=None), market)
    assert "stable_depeg" not in off.summary["warnings"]
    for other in (wide, off):  # nothing but the warning changes
        assert other.stats == base.stats and other.transactions_hash() == base.transactions_hash()
    whole = run_backtest(_cfg().with_overrides({"backtest.start": None}), market)
    assert whole.summary["warnings"]["stable_depeg"]["count"] == 3  # the window now includes 2024-01-02
    assert whole.summary["data"]["sha256"] == market.content_hash()  # the same panel, with one more warning


def test_no_check_for_cash_or_a_stable_that_stays_on_its_peg():
    market = _market()
    cash = run_backtest(_cfg().with_overrides({"stable": {"asset": "cash"}}), market)
    assert "stable_depeg" not in cash.summary["warnings"]
    calm = run_backtest(_cfg().with_overrides({"backtest.start": "2024-01-14"}), market)
    assert "stable_depeg" not in calm.summary["warnings"]


def test_depeg_band_is_validated():
    for bad in (0.0, 1.0, -0.01, "0.02"):
        with pytest.raises(ConfigError, match="depeg_band"):
            _cfg(depeg_band=bad)


def test_tether_on_the_real_daily_panel(real_data_dir):
    """Measured: USDT closes outside $1 ± 2 % on 66 of 1,044 days from 2015-03-01 (its first week at $0.61,
    April 2017 at $0.91-0.93, $1.08 on 2017-12-12)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        market = MarketData.from_parquet(real_data_dir / "cmc_daily_2013_2018.parquet",
                                         categories=real_data_dir / "asset_categories.csv")
    cfg = flagship_config().with_overrides({"stable.asset": "tether", "backtest.start": "2015-03-01",
                                            "benchmarks": {"assets": [], "no_regime": False, "equal_weight": False}})
    w = run_backtest(cfg, market).summary["warnings"]["stable_depeg"]
    assert w["count"] == 66 and "66 of 1044 observations" in w["message"]
    assert w["examples"][:3] == ["2015-03-03: 0.606229", "2015-03-02: 0.606502", "2017-04-25: 0.913595"]
    assert "high 1.08 on 2017-12-12" in w["message"]
