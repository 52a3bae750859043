"""Optional extras: without one, its feature fails with one clear line naming the extra, and the
engine alone still works. A missing package is simulated with ``sys.modules[name] = None`` (an
import of it then fails) and the modules that import it at load time are dropped, to be loaded again."""

from __future__ import annotations

import importlib
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
import tomllib

from backtest.io import read_run, render_run_dir, write_run
from index_engine.errors import IndexEngineError, MissingExtraError
from index_engine.extras import EXTRAS, has_extra, require_extra
from tests._runs import run_cli, small_run

ROOT = Path(__file__).resolve().parents[1]
YAML = "name: small\nselection: {top_n: 5}\nregime: {window: 20}\ndata: {synthetic: {seed: 1, n_assets: 30, days: 200}}\n"


def _without(monkeypatch, *packages: str, reload: tuple[str, ...] = ()) -> None:
    """Make ``packages`` unimportable (with every submodule already loaded), and forget the modules
    whose names start with one of ``reload`` so that they import again; monkeypatch restores every
    entry after the test."""
    for name in [*packages, *(m for m in sys.modules if m.startswith(tuple(p + "." for p in packages)))]:
        monkeypatch.setitem(sys.modules, name, None)
    for name in [m for m in sys.modules if m.startswith(reload)]:
        monkeypatch.delitem(sys.modules, name)


def _one_error_line(code: int, out: str, err: str, extra: str, package: str) -> str:
    assert code == 2 and "Traceback" not in out + err, out + err
    assert err.startswith("error: ") and err.count("\n") == 1 and out == "", out + err  # errors go to stderr
    assert f"index-engine[{extra}]" in err and repr(package) in err, err
    return err


def test_the_extras_table_matches_pyproject():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(extras) - {"all", "dev"} == set(EXTRAS)
    assert extras["all"] == [f"index-engine[{','.join(EXTRAS)}]"]
    for name in EXTRAS:  # where the extra's distributions are installed, its modules import
        dists = [re.match(r"[A-Za-z0-9_.-]+", req)[0] for req in extras[name]]
        if all(_installed(d) for d in dists):
            assert has_extra(name), f"{name}: {EXTRAS[name]} do not import although {dists} are installed"


def _installed(distribution: str) -> bool:
    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_require_extra_names_the_feature_the_package_and_the_extra(monkeypatch):
    _without(monkeypatch, "plotly")
    assert not has_extra("report") and has_extra("fetch")
    with pytest.raises(MissingExtraError) as exc:
        require_extra("report", "report.html")
    assert isinstance(exc.value, ImportError) and isinstance(exc.value, IndexEngineError)
    assert str(exc.value) == ("report.html needs the 'plotly' package, which is not installed: "
                              "pip install 'index-engine[report]'")


@pytest.mark.parametrize("package", ["jinja2", "plotly"])
def test_run_without_the_report_extra_writes_everything_but_the_report(monkeypatch, capsys, tmp_path, package):
    config = tmp_path / "small.yaml"
    config.write_text(YAML)
    _without(monkeypatch, package)
    code, out, err = run_cli(monkeypatch, capsys, "run", str(config), "--out", str(tmp_path / "run"))
    assert code == 0, out + err
    assert out.count("report.html skipped: install index-engine[report]") == 1, out
    run = read_run(tmp_path / "run")  # a complete, verified run folder
    assert not (run.path / "report.html").exists() and run.nav.height == 200

    code, out, err = run_cli(monkeypatch, capsys, "run", str(config), "--out", str(tmp_path / "run"), "--no-report")
    assert code == 0 and "skipped" not in out + err, out + err


def test_run_with_the_report_extra_says_nothing_about_it(monkeypatch, capsys, tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(YAML)
    code, out, err = run_cli(monkeypatch, capsys, "run", str(config), "--out", str(tmp_path / "run"))
    assert code == 0 and "skipped" not in out + err, out + err
    assert (tmp_path / "run" / "report.html").is_file()


def test_report_command_without_the_report_extra_is_one_clear_error(monkeypatch, capsys, tmp_path):
    run = write_run(small_run(), tmp_path / "run", report=False)
    _without(monkeypatch, "jinja2")
    _one_error_line(*run_cli(monkeypatch, capsys, "report", str(run)), "report", "jinja2")
    assert not (run / "report.html").exists()


def test_rendering_without_the_report_extra_names_it(monkeypatch, tmp_path):
    _without(monkeypatch, "jinja2", reload=("backtest.report",))
    with pytest.raises(MissingExtraError, match=r"report\.html needs the 'jinja2' package.*index-engine\[report\]"):
        importlib.import_module("backtest.report")
    with pytest.raises(MissingExtraError, match=r"index-engine\[report\]"):
        render_run_dir(write_run(small_run(), tmp_path / "run", report=False))
    with pytest.raises(MissingExtraError, match=r"index-engine\[report\]"):
        small_run().write(tmp_path / "other")
    assert not (tmp_path / "other").exists()  # nothing written


def test_the_report_needs_plotly_at_render_time(monkeypatch):
    from backtest.report import render_report

    run = small_run()
    _without(monkeypatch, "plotly")
    with pytest.raises(MissingExtraError, match=r"'plotly' package.*index-engine\[report\]"):
        render_report(run.summary, run.nav, run.holdings, run.transactions, run.benchmarks)


def test_data_fetch_without_the_fetch_extra_is_one_clear_error(monkeypatch, capsys, tmp_path):
    _without(monkeypatch, "httpx", reload=("index_engine.data.coingecko", "backtest.cli.data"))
    _one_error_line(*run_cli(monkeypatch, capsys, "data", "fetch", "--out", str(tmp_path / "data")), "fetch", "httpx")
    assert not (tmp_path / "data").exists()
    with pytest.raises(MissingExtraError, match=r"CoinGecko adapter.*index-engine\[fetch\]"):
        importlib.import_module("index_engine.data.coingecko")


def test_sweep_on_a_cluster_without_the_sweep_extra_fails_before_computing(monkeypatch, capsys, tmp_path):
    from backtest.sweep import run_sweep
    from index_engine import IndexConfig, MarketData

    config, grid = tmp_path / "small.yaml", tmp_path / "grid.yaml"
    config.write_text(YAML)
    grid.write_text("regime.window: [10, 20]\n")
    _without(monkeypatch, "distributed")
    monkeypatch.setattr("backtest.cli.sweep.load_market", lambda *a: pytest.fail("loaded the market"))
    _one_error_line(*run_cli(monkeypatch, capsys, "sweep", str(config), "--grid", str(grid), "--out",
                          str(tmp_path / "sweep"), "--scheduler", "tcp://127.0.0.1:1"), "sweep", "distributed")
    assert not (tmp_path / "sweep").exists()
    with pytest.raises(MissingExtraError, match=r"sweep --scheduler.*index-engine\[sweep\]"):
        run_sweep(IndexConfig.from_yaml(config), MarketData.synthetic(n_assets=5, days=30), {"regime.window": [5]},
                  scheduler="tcp://127.0.0.1:1")


def test_index_engine_testing_without_hypothesis_names_the_testing_extra(monkeypatch):
    _without(monkeypatch, "hypothesis", reload=("index_engine.testing",))
    with pytest.raises(MissingExtraError, match=r"index-engine\[testing\]"):
        importlib.import_module("index_engine.testing")
