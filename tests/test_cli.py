"""The command line as a user runs it: outputs, columns, overrides and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from tests._helpers import make_market

NAV_COLUMNS = ["date", "nav", "regime", "stable_weight", "turnover", "costs", "n_holdings"]
HOLDINGS_COLUMNS = ["date", "asset_id", "symbol", "quantity", "price", "value", "weight"]
TX_COLUMNS = ["date", "asset_id", "symbol", "side", "quantity", "price", "notional", "fee", "slippage", "gas", "reason"]


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backtest.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture()
def small_csv(tmp_path):
    rng = np.random.default_rng(5)
    price = np.exp(np.cumsum(rng.normal(0, 0.04, (120, 8)), axis=0))
    m = make_market(price, price * rng.lognormal(8, 1, 8), categories={"a07": "stablecoin"})
    rows = np.argwhere(np.isfinite(m.price))
    frame = pl.DataFrame({
        "date": m.dates[rows[:, 0]], "asset_id": m.asset_ids[rows[:, 1]].tolist(),
        "price_usd": m.price[rows[:, 0], rows[:, 1]], "market_cap_usd": m.market_cap[rows[:, 0], rows[:, 1]],
    })
    data = tmp_path / "m.csv"
    frame.write_csv(data)
    cats = tmp_path / "c.csv"
    cats.write_text("asset_id,category\na07,stablecoin\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: small\nselection: {top_n: 3}\nregime: {window: 20}\n")
    return data, cats, cfg


def test_run_writes_every_output_with_contract_columns(small_csv, tmp_path):
    data, cats, cfg = small_csv
    out = tmp_path / "out"
    proc = _cli("run", str(cfg), "--data", str(data), "--categories", str(cats), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert pl.read_parquet(out / "nav.parquet").columns[:7] == NAV_COLUMNS
    assert pl.read_parquet(out / "holdings.parquet").columns == HOLDINGS_COLUMNS
    tx = pl.read_parquet(out / "transactions.parquet")
    assert tx.columns[: len(TX_COLUMNS)] == TX_COLUMNS and "a07" not in tx["asset_id"].to_list()
    summary = json.loads((out / "summary.json").read_text())
    for key in ("statistics", "regime_switches", "warnings", "config", "config_sha256", "data", "version"):
        assert key in summary
    assert len(summary["data"]["sha256"]) == 64
    assert (out / "report.html").read_text().startswith("<!doctype html>")


def test_start_end_overrides(small_csv, tmp_path):
    data, _, cfg = small_csv
    out = tmp_path / "o2"
    assert _cli("run", str(cfg), "--data", str(data), "--out", str(out), "--start", "2024-02-01",
                "--end", "2024-03-01", "--no-report").returncode == 0
    nav = pl.read_parquet(out / "nav.parquet")
    assert str(nav["date"][0]) == "2024-02-01" and str(nav["date"][-1]) == "2024-03-01"
    assert not (out / "report.html").exists()


@pytest.mark.parametrize(
    "yaml_text, needle",
    [("selection: {top_nn: 3}\n", "selection.top_nn: unknown key"),
     ("stable: {asset: nope}\n", "stable.asset")],
)
def test_bad_config_is_one_clear_line_and_exit_2(small_csv, tmp_path, yaml_text, needle):
    data, _, _ = small_csv
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml_text)
    proc = _cli("run", str(cfg), "--data", str(data), "--out", str(tmp_path / "x"))
    assert proc.returncode == 2
    assert needle in proc.stderr and "Traceback" not in proc.stdout + proc.stderr  # errors go to stderr


def test_bad_data_names_the_file_and_column(tmp_path, small_csv):
    _, _, cfg = small_csv
    bad = tmp_path / "bad.csv"
    bad.write_text("date,asset_id,price_usd\n2024-01-01,a,1\n")
    proc = _cli("run", str(cfg), "--data", str(bad), "--out", str(tmp_path / "x"))
    assert proc.returncode == 2 and "bad.csv" in proc.stderr and "market_cap_usd" in proc.stderr
