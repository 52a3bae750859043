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


# ---- hostile and sloppy input: clear errors, never coercion, never a traceback or a hang ----------
def _error(tmp_path, text: str | bytes) -> str:
    path = tmp_path / "bad.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as info:
        IndexConfig.from_yaml(path)
    return str(info.value)


@pytest.mark.parametrize("text, where", [
    ("selection: {top_n: true}\n", "selection.top_n"),
    ("regime: {window: '200'}\n", "regime.window"),
    ("regime: {window: 200.0}\n", "regime.window"),
    ("benchmarks: {no_regime: 1}\n", "benchmarks.no_regime"),
    ("backtest: {initial_nav: .inf}\n", "backtest.initial_nav"),
    ("regime: {band: .nan}\n", "regime.band"),
    ("rebalance: {decision_lag: 100000000000000000000000}\n", "rebalance.decision_lag"),
])
def test_values_are_never_coerced_silently(tmp_path, text, where):
    assert where in _error(tmp_path, text)


def test_duplicate_keys_are_an_error_naming_the_lines(tmp_path):
    msg = _error(tmp_path, "selection:\n  top_n: 10\n  top_n: 20\n")
    assert "duplicate key 'top_n'" in msg and "line 3" in msg and "line 2" in msg
    assert "duplicate key 'regime'" in _error(tmp_path, "regime: {window: 5}\nregime: {window: 6}\n")


def test_yaml_that_fails_outside_the_parser_is_a_clear_error(tmp_path):
    assert "'2017-02-30' is not a valid date" in _error(tmp_path, "backtest: {start: 2017-02-30}\n")
    assert "not UTF-8" in _error(tmp_path, b"name: \xff\xfe caf\xe9\n")
    assert "NUL" in _error(tmp_path, b"name: a\x00b\n")
    assert "nested" in _error(tmp_path, "name: " + "[" * 20_000 + "]" * 20_000 + "\n")
    with pytest.raises(ConfigError, match="not found"):
        IndexConfig.from_yaml(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not a file"):
        IndexConfig.from_yaml(tmp_path)


def test_alias_bomb_is_refused_quickly(tmp_path):
    import time

    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 9):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 9) + "]")
    text = "\n".join(lines[:-1]) + "\nuniverse:\n  exclude_categories: *" + chr(96 + 8) + "\n"
    t0 = time.perf_counter()
    msg = _error(tmp_path, text)  # 72 aliases: parsed, but 9**8 strings must never be expanded
    assert time.perf_counter() - t0 < 2.0 and len(msg) < 3000
    assert "universe.exclude_categories" in msg
    wide = ['a: &a ["x"]'] + [f"k{i}: &k{i} [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a]" for i in range(12)]
    assert "more than 100 YAML aliases" in _error(tmp_path, "\n".join(wide) + "\n")


def test_huge_values_are_shortened_in_messages(tmp_path):
    msg = _error(tmp_path, "name: [" + ", ".join(["x" * 50] * 5000) + "]\n")
    assert "name" in msg and len(msg) < 1000
