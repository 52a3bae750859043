"""The suite's own machinery (tests/conftest.py): markers set centrally and the Hypothesis profiles.

Checked in fresh pytest processes, so the outcome does not depend on how this run was selected."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from tests._hypothesis import examples

ROOT = Path(__file__).resolve().parents[1]


def _pytest(*args: str, profile: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_PROFILE"}
    if profile is not None:
        env["HYPOTHESIS_PROFILE"] = profile
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_markers_select_real_data_slow_and_browser_tests():
    files = ["tests/test_golden.py", "tests/test_loaders.py", "tests/test_formatting.py", "tests/test_invariants.py",
             "tests/test_report_browser.py"]
    proc = _pytest("--collect-only", "-q", "-m", "real_data or slow or browser", *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids = {line for line in proc.stdout.splitlines() if "::" in line}
    by_file: dict[str, set[str]] = {f: set() for f in files}
    for i in ids:
        file, _, name = i.partition("::")
        by_file[file].add(name)
    # real_data: every user of the real_data_dir fixture, also through another fixture (real_daily)
    assert by_file["tests/test_golden.py"] == {"test_flagship_on_real_daily_data"}
    assert {"test_real_daily_shape_and_values", "test_real_weekly_loads"} <= by_file["tests/test_loaders.py"]
    assert all("real" in name for name in by_file["tests/test_loaders.py"]), by_file["tests/test_loaders.py"]
    assert not by_file["tests/test_formatting.py"]
    # slow, set in conftest.py for a file this branch leaves to its owner
    assert by_file["tests/test_invariants.py"] == {"test_backtest_invariants",
                                                   "test_check_result_invariants_detects_corruption"}
    browser = by_file["tests/test_report_browser.py"]  # a module-level skip collects none without chromium
    assert not Path("/usr/bin/chromium").is_file() or "test_loads_offline_without_console_errors" in browser


def test_profiles_scale_the_example_counts():
    ci, dev, thorough = (settings.get_profile(name) for name in ("ci", "dev", "thorough"))
    assert ci.deadline is None and ci.max_examples == 100  # Hypothesis' default: today's counts
    assert dev.max_examples < ci.max_examples < thorough.max_examples
    assert (examples(200, ci), examples(200, dev), examples(200, thorough)) == (200, 20, 2000)
    assert examples(5, dev) == 1


@pytest.mark.slow  # ~6 s: two pytest processes
def test_hypothesis_profile_selects_the_profile():
    test = "tests/test_stats.py::test_properties"  # @settings(max_examples=examples(200))
    dev = _pytest("-q", "--hypothesis-show-statistics", test, profile="dev")
    assert dev.returncode == 0 and "- 20 passing" in dev.stdout, dev.stdout + dev.stderr
    bad = _pytest("-q", test, profile="nope")
    assert bad.returncode == 4 and "HYPOTHESIS_PROFILE='nope': expected one of ci, dev, thorough" in bad.stderr, \
        bad.stdout + bad.stderr


def test_test_modules_never_import_each_other():
    """Shared helpers live in tests/_*.py (e.g. _helpers, _runs, _reports, _browser); importing a test
    module would also collect its tests and fixtures a second time."""
    import ast

    offenders = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("tests.test_")]
    assert offenders == []
