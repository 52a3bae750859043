"""Run folders from the command line: concurrent runs, a writer killed mid-write, output folders
checked before any computing, and ``report`` on damaged folders. Functions: tests/test_io.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backtest.cli import entrypoint
from backtest.io import read_run, write_run
from tests._runs import damage, sha, small_run

ROOT = Path(__file__).resolve().parents[1]
YAML = "name: small\nselection: {{top_n: {n}}}\nregime: {{window: 20}}\ndata: {{synthetic: {{seed: 1, n_assets: 30, days: 200}}}}\n"
ENV = {**os.environ, "COLUMNS": "500"}  # one error line stays one line
# runs the CLI with a hook: argv[1] = marker file written when the hook runs, argv[2] = seconds to sleep there
HOOKED = """
import pathlib, sys, time
import backtest.engine, backtest.report, backtest.report.render
marker, seconds, target = pathlib.Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
modules = [backtest.engine] if target == "run_backtest" else [backtest.report, backtest.report.render]
real = getattr(modules[0], target)
def hook(*a, **k):
    marker.write_text("in the hook")
    time.sleep(seconds)
    return real(*a, **k)
for module in modules:
    setattr(module, target, hook)
sys.argv = ["index-engine", *sys.argv[4:]]
from backtest.cli import entrypoint
entrypoint()
"""


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backtest.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=ENV, timeout=300)


def _hooked(marker: Path, seconds: float, target: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HOOKED, str(marker), str(seconds), target, *args], cwd=ROOT,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(marker: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    t0 = time.monotonic()
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "the hooked process never reached its hook"
        time.sleep(0.05)


@pytest.fixture()
def config(tmp_path) -> Path:
    cfg = tmp_path / "small.yaml"
    cfg.write_text(YAML.format(n=5))
    return cfg


def _previous_run(out: Path) -> dict:
    """A complete run in ``out`` (top 3); returns the sha256 of each of its files."""
    write_run(small_run(3), out)
    return {n: sha(out / n) for n in os.listdir(out)}


# ---------------------------------------------------------------------------- concurrent runs
@pytest.mark.slow  # ~5 s: the first run holds the folder for 4 s
def test_second_run_into_the_same_folder_fails_fast_naming_the_holder(config, tmp_path):
    out = tmp_path / "run"
    first = _hooked(tmp_path / "computing", 4, "run_backtest", "run", str(config), "--out", str(out), "--no-report")
    try:
        _wait_for(tmp_path / "computing", first)  # the first run holds the folder and is computing
        t0 = time.monotonic()
        second = _cli("run", str(config), "--out", str(out))
        assert second.returncode == 2, second.stdout + second.stderr
        assert second.stderr.startswith(f"error: {out}: another process is writing this folder (pid {first.pid} on ")
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stdout + second.stderr
        assert time.monotonic() - t0 < 60 and first.poll() is None  # it did not wait for the first to finish
    finally:
        stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stdout + stderr
    run = read_run(out)
    assert run.summary["config"]["selection"]["top_n"] == 5 and not (tmp_path / "run.lock").exists()


def test_two_runs_started_together_leave_one_consistent_run(tmp_path):
    out = tmp_path / "run"
    cfgs = []
    for n in (5, 8):
        cfgs.append(tmp_path / f"top{n}.yaml")
        cfgs[-1].write_text(YAML.format(n=n))
    procs = [subprocess.Popen([sys.executable, "-m", "backtest.cli", "run", str(c), "--out", str(out)], cwd=ROOT,
                              env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cfgs]
    results = [(p, *p.communicate(timeout=300)) for p in procs]
    assert {p.returncode for p, _, _ in results} <= {0, 2} and any(p.returncode == 0 for p, _, _ in results)
    for p, stdout, stderr in results:
        if p.returncode:
            assert "another process is writing this folder" in stderr and "Traceback" not in stdout + stderr
    run = read_run(out)  # the manifest verifies: one run's files, all of them
    winners = {n for (p, _, _), n in zip(results, (5, 8)) if p.returncode == 0}
    assert run.summary["config"]["selection"]["top_n"] in winners


# ------------------------------------------------------------------------------ killed writer
def test_a_run_killed_mid_write_leaves_the_previous_run(config, tmp_path):
    out = tmp_path / "run"
    before = _previous_run(out)
    writer = _hooked(tmp_path / "writing", 120, "render_report", "run", str(config), "--out", str(out))
    _wait_for(tmp_path / "writing", writer)  # Parquet files and summary.json of the new run are written
    writer.kill()  # SIGKILL: no cleanup code runs
    writer.communicate()
    assert {n: sha(out / n) for n in os.listdir(out)} == before
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".run.tmp-")]
    assert len(leftovers) == 1 and (leftovers[0] / "nav.parquet").exists()  # clearly named, beside the run
    assert read_run(out).summary["config"]["selection"]["top_n"] == 3
    rendered = _cli("report", str(out), "--out", str(tmp_path / "again.html"))
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    # the stale lock file of the killed process does not block the next run, which cleans up
    assert (tmp_path / "run.lock").exists()
    rerun = _cli("run", str(config), "--out", str(out), "--no-report")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert read_run(out).summary["config"]["selection"]["top_n"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.html", "run", "small.yaml", "writing"]


# --------------------------------------------------------------- output folders checked first
def _boom(*a, **k):
    raise AssertionError("computed before checking the output folder")


def _run_cli_in_process(monkeypatch, capsys, *args: str, usage_error: bool = False) -> str:
    """Exit code 2 and one ``error:`` line (or, for click's own checks, its usage error)."""
    monkeypatch.setattr("backtest.cli.run.load_market", _boom)
    monkeypatch.setattr("backtest.cli.sweep.load_market", _boom)
    monkeypatch.setattr("backtest.engine.run_backtest", _boom)
    monkeypatch.setattr("backtest.sweep.run_sweep", _boom)
    monkeypatch.setenv("COLUMNS", "500")
    monkeypatch.setattr(sys, "argv", ["index-engine", *args])
    with pytest.raises(SystemExit) as exc:
        entrypoint()
    out, err = capsys.readouterr()
    assert exc.value.code == 2 and "Traceback" not in out + err, out + err
    if usage_error:
        assert out == "" and err.rstrip().splitlines()[-1].startswith("Error: "), err
        return err.rstrip().splitlines()[-1]
    assert err.startswith("error: ") and err.count("\n") == 1 and out == "", out + err  # errors go to stderr
    return err


@pytest.mark.parametrize("command", ["run", "sweep"])
@pytest.mark.parametrize("case, needle", [
    ("parent is a file", "is a file, not a folder; choose another --out"),
    ("target is a file", "is a file."),  # click's --out check (file_okay=False) comes first
    ("foreign folder", "exists and is not an index-engine folder"),
])
def test_bad_out_fails_before_computing(config, tmp_path, monkeypatch, capsys, command, case, needle):
    (tmp_path / "afile").write_text("mine")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("mine")
    out = {"parent is a file": tmp_path / "afile" / "out", "target is a file": tmp_path / "afile",
           "foreign folder": tmp_path / "mine"}[case]
    grid = tmp_path / "grid.yaml"
    grid.write_text("regime.window: [10, 20]\n")
    args = ("run", str(config)) if command == "run" else ("sweep", str(config), "--grid", str(grid))
    message = _run_cli_in_process(monkeypatch, capsys, *args, "--out", str(out), usage_error=case == "target is a file")
    assert needle in message and str(out) in message
    assert (tmp_path / "afile").read_text() == "mine" and os.listdir(tmp_path / "mine") == ["thesis.tex"]


def test_a_run_folder_is_not_a_sweep_folder(config, tmp_path, monkeypatch, capsys):
    _previous_run(tmp_path / "run")
    (tmp_path / "grid.yaml").write_text("regime.window: [10, 20]\n")
    message = _run_cli_in_process(monkeypatch, capsys, "sweep", str(config), "--grid", str(tmp_path / "grid.yaml"),
                                  "--out", str(tmp_path / "run"))
    assert "is a run folder, not a sweep folder" in message


def test_unwritable_out_fails_before_computing(config, tmp_path):
    """chmod does not bite root: as root the CLI runs without CAP_DAC_OVERRIDE (util-linux setpriv)."""
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    if root and not shutil.which("setpriv"):
        pytest.skip("running as root and setpriv is missing: chmod cannot make a folder unwritable")
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if root else []
    (tmp_path / "ro").mkdir(mode=0o555)
    script = ("import sys, backtest, backtest.cli\n"
              "def boom(*a, **k): raise SystemExit(99)\n"
              "backtest.run_backtest = backtest.cli.load_market = boom\n"
              f"sys.argv = ['index-engine', 'run', {str(config)!r}, '--out', {str(tmp_path / 'ro' / 'run')!r}]\n"
              "backtest.cli.entrypoint()\n")
    try:
        proc = subprocess.run([*prefix, sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                              env=ENV, timeout=300)
    finally:
        (tmp_path / "ro").chmod(0o755)
    if root and proc.returncode != 2 and "setpriv" in proc.stderr:
        pytest.skip(f"setpriv cannot drop capabilities here: {proc.stderr.strip()}")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert f"cannot write in {tmp_path / 'ro'} (Permission denied)" in proc.stderr


# ------------------------------------------------------------------------------------ report
@pytest.mark.parametrize("how", ["truncated parquet", "bad JSON", "file missing", "column missing", "size mismatch",
                                 "no manifest"])
def test_report_on_a_damaged_folder_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, how):
    out = tmp_path / "run"
    _previous_run(out)
    damage(out, how)
    message = _run_cli_in_process(monkeypatch, capsys, "report", str(out))
    assert str(out) in message and "index-engine run" in message


def test_report_out_inside_the_run_is_refused(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    before = _previous_run(out)
    message = _run_cli_in_process(monkeypatch, capsys, "report", str(out), "--out", str(out / "nav.parquet"))
    assert "is inside the run folder" in message
    assert {n: sha(out / n) for n in os.listdir(out)} == before
