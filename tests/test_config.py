"""Config contract: defaults, validation errors that name the key, hashes, overrides, the flagship."""

from __future__ import annotations

from pathlib import Path

import pytest

from index_engine import ConfigError, IndexConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_flagship_config_loads_with_contract_keys():
    cfg = IndexConfig.from_yaml(CONFIGS / "global100.yaml")
    assert cfg.selection.top_n == 100
    assert cfg.rebalance.frequency == "weekly" and cfg.rebalance.weekday == "monday"
    assert cfg.regime.signal == "total_market_cap_sma" and cfg.regime.window == 200
    assert cfg.universe.exclude_categories == ["stablecoin", "wrapped", "pegged"]
    assert cfg.stable.asset == "cash"
    resolved = cfg.resolved()
    for section, keys in {
        "universe": {"exclude_categories", "min_history_days", "min_volume_usd", "assets"},
        "selection": {"top_n", "entry_rank", "exit_rank"},
        "weighting": {"scheme", "max_weight"},
        "rebalance": {"frequency", "weekday", "decision_lag"},
        "regime": {"signal", "window", "band", "confirm", "asset"},
        "stable": {"asset"},
        "costs": {"fee_bps", "slippage_bps", "gas_usd"},
        "backtest": {"start", "end", "initial_nav"},
    }.items():
        assert keys <= set(resolved[section]), section


@pytest.mark.parametrize(
    "raw, needle",
    [
        ({"selection": {"top_nn": 5}}, "selection.top_nn: unknown key"),
        ({"weighting": {"scheme": "cap"}}, "weighting.scheme"),
        ({"universe": {"exclude_categories": ["stable"]}}, "unknown categories ['stable']"),
        ({"selection": {"top_n": 10, "entry_rank": 12}}, "entry_rank (12) must be <= top_n (10)"),
        ({"regime": {"signal": "asset_price_sma"}}, "regime.asset is required"),
        ({"backtest": {"start": "2020-02-01", "end": "2020-01-01"}}, "before backtest.start"),
        ({"costs": {"fee_bps": -1}}, "costs.fee_bps"),
        ({"rebalance": {"decision_lag": -1}}, "rebalance.decision_lag"),
        ({"regimes": {}}, "regimes: unknown key"),
    ],
)
def test_invalid_configs_name_the_key(raw, needle):
    with pytest.raises(ConfigError) as err:
        IndexConfig.from_dict(raw, source="my.yaml")
    assert needle in str(err.value) and "my.yaml" in str(err.value)


def test_yaml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("selection: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        IndexConfig.from_yaml(bad)
    with pytest.raises(ConfigError, match="not found"):
        IndexConfig.from_yaml(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        IndexConfig.from_yaml(tmp_path / "list.yaml")


def test_hash_is_stable_and_ignores_the_data_section():
    a = IndexConfig.from_dict({"data": {"path": "x.parquet"}})
    b = IndexConfig()
    assert a.config_hash() == b.config_hash()
    assert b.with_overrides({"regime.window": 100}).config_hash() != b.config_hash()


def test_overrides_are_validated():
    cfg = IndexConfig().with_overrides({"weighting.max_weight": 0.1, "costs.fee_bps": 5})
    assert cfg.weighting.max_weight == 0.1 and cfg.costs.fee_bps == 5
    with pytest.raises(ConfigError, match="weighting.max_weight"):
        IndexConfig().with_overrides({"weighting.max_weight": 2})
    with pytest.raises(ConfigError, match="not a config section"):
        IndexConfig().with_overrides({"nope.x": 1})


def test_relative_data_paths_resolve_against_the_config_file(tmp_path):
    (tmp_path / "c.yaml").write_text("data: {path: sub/m.parquet}\n")
    assert IndexConfig.from_yaml(tmp_path / "c.yaml").data.path == str(tmp_path / "sub" / "m.parquet")
