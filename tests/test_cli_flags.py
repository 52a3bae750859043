"""Hostile command-line flags: each is one `error:` line on stderr naming the flag, exit code 2, never a
traceback or a hang (`--as-of`, `--workers`, `--scheduler`)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from backtest.current import parse_as_of
from index_engine.errors import PlanError


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
