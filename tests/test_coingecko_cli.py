"""CoinGecko ``data fetch`` command, offline: it lives in ``backtest.cli.data`` (the library imports
neither click nor rich and reports progress through a callback), and it prints what the server
sends literally, on one line."""

from __future__ import annotations

import ast
import io
import logging
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from rich.console import Console

from backtest.cli import entrypoint, main
from backtest.cli.data import data_cmd
from backtest.progress import ProgressBar
from index_engine.data.coingecko import fetch
from tests._coingecko import _client, _no_real_keys, api, sleeps  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[1]
CLI_ARGS = ["fetch", "--no-progress", "--min-interval", "0"]


# ---- the command line is outside the library ------------------------------------------------


def test_library_never_imports_click_or_rich():
    offenders = []
    for path in sorted((ROOT / "index_engine").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in ("click", "rich")]
    assert offenders == []
    # httpx imports its own command line (click + rich) when they are installed: block that one
    # import, so that only index_engine's imports are measured
    code = ("import sys; sys.modules['httpx._main'] = None; import index_engine.data.coingecko; "
            "import index_engine.data.coingecko_client, httpx; assert callable(httpx.main); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'rich')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_data_fetch_is_attached_and_documents_its_limits():
    assert main.get_command(None, "data") is data_cmd
    done = subprocess.run([sys.executable, "-m", "backtest.cli", "data", "fetch", "--help"], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    for option in ("--top", "--days", "--out", "--no-progress", "--refresh", "--min-interval"):
        assert option in text
    assert "--max-wait FLOAT RANGE" in text and "[default: 120.0; x>0]" in text
    assert "--request-timeout FLOAT RANGE" in text and "--run-timeout FLOAT RANGE" in text
    assert "[default: 7200.0; x>0]" in text


def test_progress_callback_gets_plain_arguments(api, sleeps, tmp_path):
    calls = []
    with _client(sleeps) as client:
        fetch(3, "max", tmp_path, progress=lambda *args: calls.append(args), client=client)
    assert calls == [(0, 3, "bitcoin"), (1, 3, "ethereum"), (2, 3, "tether"), (3, 3, "")]


def test_progress_true_logs_each_coin(api, sleeps, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="index_engine.data.coingecko")
    with _client(sleeps) as client:
        fetch(2, "max", tmp_path, progress=True, client=client)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("market_chart")]
    assert lines == ["market_chart 0/2 bitcoin", "market_chart 1/2 ethereum", "market_chart 2/2 "]


def test_progress_bar_shows_markup_in_a_coin_id_literally():
    buf = io.StringIO()
    with ProgressBar("market_chart", True, console=Console(file=buf, width=120)) as bar:
        bar(0, 2, "[bold]coin")
    assert "market_chart [bold]coin" in buf.getvalue()


# ---- what the command prints ----------------------------------------------------------------


def test_entrypoint_prints_a_hostile_error_body_literally_on_one_line(api, tmp_path, monkeypatch, capsys):
    api.queue("/coins/markets", httpx.Response(403, text="[/] [bold]no\x1b[2J\r\n" + "x" * 5000))
    monkeypatch.setattr(sys, "argv", ["index-engine", "data", *CLI_ARGS, "--top", "1", "--out", str(tmp_path)])
    with pytest.raises(SystemExit) as info:
        entrypoint()
    assert info.value.code == 2
    err = capsys.readouterr().err  # the error line, after the command's own info line (logging)
    out = err.splitlines()[-1] + "\n"
    assert [ln for ln in err.splitlines() if not ln.startswith("info: ")] == [out.rstrip("\n")]
    assert "\x1b" not in err and len(out) < 500
    assert out.startswith("error: CoinGecko /coins/markets (page 1): HTTP 403: [/] [bold]no\\x1b[2J xxx")
    assert "...; check the API key" in out


def test_unwritable_output_folder_is_one_error_line(api, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    result = CliRunner().invoke(data_cmd, [*CLI_ARGS, "--top", "1", "--out", str(tmp_path / "file" / "data")])
    assert result.exit_code == 2 and api.requests == []
    out = tmp_path / "file" / "data"
    assert result.stderr.splitlines()[-1:] == [f"error: cannot write in {out}: Not a directory ({out / 'raw'})"]
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == result.stderr.splitlines()[-1:]
