"""Config values that would overflow, allocate gigabytes or reach outside the config's folder are refused
with one error naming the key; values at the bounds still run."""

from __future__ import annotations

import pytest

from index_engine import ConfigError, IndexConfig
from index_engine.config.run import MAX_SYNTHETIC_CELLS


@pytest.mark.parametrize("lag", [100_001, 10**12, 10**30])
def test_huge_decision_lag_is_refused_naming_the_key(lag, tmp_path):
    with pytest.raises(ConfigError, match=r"rebalance\.decision_lag.*less than or equal to 100000"):
        IndexConfig.from_dict({}).with_overrides({"rebalance.decision_lag": lag})
    (tmp_path / "c.yaml").write_text(f"rebalance: {{decision_lag: {lag}}}\n")
    with pytest.raises(ConfigError, match=r"rebalance\.decision_lag"):
        IndexConfig.from_yaml(tmp_path / "c.yaml")


def test_decision_lag_at_the_bound_runs_and_never_invests():
    from backtest import run_backtest
    from index_engine import MarketData

    cfg = IndexConfig.from_dict({"selection": {"top_n": 3}, "regime": {"window": 5},
                                 "rebalance": {"decision_lag": 100_000}})
    result = run_backtest(cfg, MarketData.synthetic(seed=1, n_assets=10, days=40), benchmarks=False)
    assert result.transactions.height == 0 and (result.nav["nav"] == cfg.backtest.initial_nav).all()


@pytest.mark.parametrize("n_assets, days", [(20_000, 36_500), (20_000, 501), (10_000, 1_001), (2_740, 3_650)])
def test_synthetic_market_size_is_bounded(n_assets, days):
    assert n_assets * days > MAX_SYNTHETIC_CELLS
    with pytest.raises(ConfigError, match=r"data\.synthetic: .*n_assets × days = .* more than 10,000,000"):
        IndexConfig.from_dict({"data": {"synthetic": {"n_assets": n_assets, "days": days}}})


def test_synthetic_market_at_the_bound_is_accepted():
    for n_assets, days in ((20_000, 500), (2_000, 5_000), (800, 2190)):
        s = IndexConfig.from_dict({"data": {"synthetic": {"n_assets": n_assets, "days": days}}}).data.synthetic
        assert s.n_assets * s.days <= MAX_SYNTHETIC_CELLS
    for key, value in (("n_assets", 20_001), ("days", 36_501), ("n_assets", 4)):
        with pytest.raises(ConfigError, match=rf"data\.synthetic\.{key}"):
            IndexConfig.from_dict({"data": {"synthetic": {key: value}}})


# ---- config-relative paths stay inside the config's folder -------------------------------------------
@pytest.mark.parametrize("key, yaml_key", [
    ("data.path", "data: {path: %s}"),
    ("data.categories", "data: {categories: %s}"),
    ("universe.membership", "universe: {membership: %s}"),
])
@pytest.mark.parametrize("value", ["../secret.parquet", "sub/../../secret.csv", "./../x/y.csv", "../../../../etc/passwd"])
def test_relative_paths_may_not_leave_the_config_folder(tmp_path, key, yaml_key, value):
    folder = tmp_path / "configs"
    (folder / "sub").mkdir(parents=True)
    config = folder / "c.yaml"
    config.write_text(yaml_key % f"'{value}'" + "\n")
    with pytest.raises(ConfigError) as info:
        IndexConfig.from_yaml(config)
    msg = str(info.value)
    assert msg.startswith(f"{config}: {key}: the relative path '{value}' resolves to") and "\n" not in msg
    assert f"outside the config file's folder {folder}" in msg and "absolute path" in msg


def test_a_symlink_inside_the_folder_may_not_point_outside(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "m.parquet").write_bytes(b"")
    (folder / "link").symlink_to(tmp_path / "elsewhere")
    (folder / "inside").mkdir()
    (folder / "alias").symlink_to(folder / "inside")
    (folder / "c.yaml").write_text("data: {path: link/m.parquet}\n")
    with pytest.raises(ConfigError, match=r"data\.path: the relative path 'link/m.parquet' resolves to .*elsewhere"):
        IndexConfig.from_yaml(folder / "c.yaml")
    (folder / "c.yaml").write_text("data: {path: alias/m.parquet}\n")  # a symlink that stays inside is fine
    assert IndexConfig.from_yaml(folder / "c.yaml").data.path == str(folder / "inside" / "m.parquet")


def test_paths_inside_the_folder_and_absolute_paths_are_kept(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    outside = tmp_path / "data" / "m.parquet"
    (folder / "c.yaml").write_text(
        f"data: {{path: sub/../m.parquet, categories: '{outside}'}}\nuniverse: {{membership: ./lists/m.csv}}\n")
    cfg = IndexConfig.from_yaml(folder / "c.yaml")
    assert cfg.data.path == str(folder / "m.parquet") and cfg.data.categories == str(outside)
    assert cfg.universe.membership == str(folder / "lists" / "m.csv")
    # with_paths_from without a source still names the key
    with pytest.raises(ConfigError, match=r"^universe\.membership: the relative path '\.\./m\.csv'"):
        IndexConfig.from_dict({"universe": {"membership": "../m.csv"}}).with_paths_from(folder)


def test_the_repository_configs_keep_their_paths_inside():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for path in sorted((root / "configs").rglob("*.yaml")):
        if path.name != "grid.yaml":
            IndexConfig.from_yaml(path)
