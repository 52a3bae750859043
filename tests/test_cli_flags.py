"""Hostile command-line flags: each is one `error:` line on stderr naming the flag, exit code 2, never a
traceback or a hang (`--as-of`, `--workers`, `--scheduler`)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from backtest.current import parse_as_of
from index_engine.errors import PlanError
from tests._runs import run_cli


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backtest.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("value", ["2024-13-45", "yesterday", "2024-02-30", "", "x" * 10_000, "2024-01-01T00:00"])
def test_bad_as_of_names_the_flag_and_the_format(value):
    with pytest.raises(PlanError) as info:
        parse_as_of(value)
    msg = str(info.value)
    assert msg.startswith("--as-of: expected a date as YYYY-MM-DD") and len(msg) < 120


def test_as_of_accepts_dates_and_iso_strings():
    import datetime as dt

    assert parse_as_of(None) is None
    assert parse_as_of(" 2021-03-10 ") == parse_as_of(dt.date(2021, 3, 10)) == dt.date(2021, 3, 10)
    assert parse_as_of(dt.datetime(2021, 3, 10, 12)) == dt.date(2021, 3, 10)


@pytest.mark.slow  # ~4 s: two CLI processes
def test_cli_bad_as_of_is_one_line_and_exit_2():
    for command in (["holdings", "configs/global100.yaml"], ["quote", "configs/global100.yaml", "--amount", "100"]):
        for value in ("2024-13-45", "y" * 10_000):
            proc = _cli(*command, "--as-of", value)
            assert proc.returncode == 2, proc.stderr
            assert proc.stderr.startswith("error: --as-of: expected a date as YYYY-MM-DD"), proc.stderr
            assert "Traceback" not in proc.stderr and len(proc.stderr) < 200


# ---- sweep --workers / --scheduler ------------------------------------------------------------------
YAML = "name: small\nselection: {top_n: 5}\nregime: {window: 20}\ndata: {synthetic: {seed: 1, n_assets: 30, days: 200}}\n"


def _entry(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    code, out, err = run_cli(monkeypatch, capsys, *args)
    assert out == "" and "Traceback" not in err, out + err
    return code, err


@pytest.fixture()
def sweep_args(tmp_path):
    config, grid = tmp_path / "small.yaml", tmp_path / "grid.yaml"
    config.write_text(YAML)
    grid.write_text("regime.window: [10, 20]\n")
    return ["sweep", str(config), "--grid", str(grid), "--out", str(tmp_path / "sweep"), "--no-progress"]


@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_sweep_refuses_a_bad_worker_count(monkeypatch, capsys, sweep_args, workers):
    code, err = _entry(monkeypatch, capsys, *sweep_args, "--workers", workers)
    assert code == 2 and "--workers" in err, err


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_a_clear_error_within_the_timeout(monkeypatch):
    pytest.importorskip("distributed")
    from backtest.sweep import connect_scheduler
    from index_engine.errors import ClusterError

    address = f"tcp://127.0.0.1:{_closed_port()}"
    t0 = time.perf_counter()
    with pytest.raises(ClusterError, match=rf"--scheduler '{address}': no Dask scheduler answered within 1 s"):
        connect_scheduler(address, timeout=1.0)
    assert time.perf_counter() - t0 < 5
    for bad in ("nonsense", "a b:c"):
        with pytest.raises(ClusterError, match="is not a scheduler address"):
            connect_scheduler(bad, timeout=1.0)


def test_a_port_that_answers_garbage_is_not_taken_for_a_scheduler():
    pytest.importorskip("distributed")
    import socket
    import threading

    from backtest.sweep import connect_scheduler
    from index_engine.errors import ClusterError

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 4)

    threading.Thread(target=answer, daemon=True).start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(ClusterError, match="--scheduler 'tcp://127.0.0.1:"):
            connect_scheduler(f"tcp://127.0.0.1:{server.getsockname()[1]}", timeout=2.0)
    finally:
        server.close()
    assert time.perf_counter() - t0 < 6


def test_cli_sweep_on_an_unreachable_scheduler_fails_before_loading(monkeypatch, capsys, sweep_args, tmp_path):
    pytest.importorskip("distributed")
    monkeypatch.setattr("backtest.sweep.SCHEDULER_TIMEOUT", 1.0)
    monkeypatch.setattr("backtest.cli.sweep.load_market", lambda *a: pytest.fail("loaded the market"))
    t0 = time.perf_counter()
    code, err = _entry(monkeypatch, capsys, *sweep_args, "--scheduler", f"tcp://127.0.0.1:{_closed_port()}")
    assert code == 2 and err.startswith("error: --scheduler 'tcp://127.0.0.1:") and err.count("\n") == 1, err
    assert "within 1 s" in err and time.perf_counter() - t0 < 10
    assert not (tmp_path / "sweep").exists()


def test_sweep_refuses_an_unknown_rank_key_before_loading(monkeypatch, capsys, sweep_args, tmp_path):
    monkeypatch.setattr("backtest.cli.sweep.load_market", lambda *a: pytest.fail("loaded the market"))
    code, err = _entry(monkeypatch, capsys, *sweep_args, "--rank-by", "nope")
    assert code == 2 and err.startswith("error: --rank-by 'nope' is not a ranking statistic"), err
    assert not (tmp_path / "sweep").exists()
