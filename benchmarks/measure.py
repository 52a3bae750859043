"""How ``compare.py`` measures: each contender in fresh worker processes (cold, warm, peak memory,
NAVs), the NAVs' and the peers' target weights' agreement with index-engine, and the CLI's cold start.

Imported by ``compare.py`` (project environment), which builds the panels and the peers' venv first.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import workload as W
from workload import CONTENDERS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUNS = W.CACHE / "runs"


# ---- workers ------------------------------------------------------------------------------------------
def worker(key: str, panel: Path, variant: str, *, peers_python: Path | None, fee_bps: float = 10.0,
           repeat: int = 5, cold_only: bool = False, nav_dir: Path | None = None, timeout: float = 1800) -> dict:
    env_name, script, prefix, opts, _ = CONTENDERS[key]
    python = sys.executable if env_name == "main" else str(peers_python)
    RUNS.mkdir(parents=True, exist_ok=True)
    fd, out = tempfile.mkstemp(prefix=f"{key}-", suffix=".json", dir=RUNS)
    os.close(fd)
    cmd = [python, str(HERE / script), *prefix, "--panel", str(panel), "--variant", variant,
           "--fee-bps", str(fee_bps), "--repeat", str(repeat), "--out", out]
    if opts:
        cmd += ["--opts", opts]
    if cold_only:
        cmd.append("--cold-only")
    if nav_dir is not None:
        cmd += ["--nav-dir", str(nav_dir)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(HERE))
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {"error": f"exit {proc.returncode}: {tail[0][:200]}"}
    res = json.loads(Path(out).read_text())
    Path(out).unlink()
    res["wall"] = wall
    return res


def measure(key: str, panel: Path, variant: str, args, peers_python, nav_dir: Path) -> dict:
    """Full worker (cold, warm, memory, NAVs) plus extra cold-only workers for the cold median."""
    is_peer = CONTENDERS[key][0] == "peers"
    repeat = args.peer_repeat if is_peer else args.repeat
    colds = args.peer_cold_repeat if is_peer else args.cold_repeat
    res = worker(key, panel, variant, peers_python=peers_python, repeat=repeat, nav_dir=nav_dir,
                 timeout=args.worker_timeout)
    if "error" in res:
        return res
    cold = [res["cold"]]
    for _ in range(max(0, colds - 1)):
        extra = worker(key, panel, variant, peers_python=peers_python, cold_only=True, timeout=args.worker_timeout)
        if "error" not in extra:
            cold.append(extra["cold"])
    res["colds"] = cold
    res["cold_median"] = statistics.median(cold)
    res["warm_median"] = statistics.median(res["warm"])
    return res


def nav_diffs(ref_dir: Path, other_dir: Path) -> dict:
    out = {}
    for kind in ("zero", "fee"):
        a, b = other_dir / f"nav_{kind}.npy", ref_dir / f"nav_{kind}.npy"
        if a.exists() and b.exists():
            x, y = np.load(a), np.load(b)
            out[kind] = float(np.max(np.abs(x / y - 1.0))) if x.shape == y.shape else float("inf")
    return out


def plan_check(panel_path: Path, variants: list[str]) -> dict:
    """Does workload.target_plan (the peers' numpy weights) reproduce index-engine's plan?"""
    import polars as pl

    from index_engine import IndexConfig
    from index_engine.data.panel import panel_from_dense
    from index_engine.plan import build_plan

    p = W.load_panel(panel_path)
    market = panel_from_dense(
        dates=p.dates.astype("datetime64[D]"), asset_ids=np.array(p.asset_ids, dtype=object), price=p.price,
        market_cap=p.market_cap, volume=None,
        assets=pl.DataFrame({"asset_id": p.asset_ids, "category": p.categories}))
    def effective(rows, w):  # invested targets, and the first all-cash target after one (no-op trades dropped)
        invested = w.sum(axis=1) > 0
        keep = invested | np.r_[False, invested[:-1]]
        return rows[keep], w[keep]

    out = {}
    for v in variants:
        plan = build_plan(IndexConfig().with_overrides(W.VARIANTS[v].engine_overrides(10.0)), market)
        rows_e, w_e = effective(plan.trade_rows, plan.weights)
        rows, w = effective(*W.target_plan(p.dates, p.price, p.market_cap, p.include, W.VARIANTS[v]))
        same = bool(np.array_equal(rows, rows_e))
        out[v] = {"same_trade_dates": same, "n_trades": int(rows.size),
                  "max_weight_diff": float(np.abs(w - w_e).max()) if same else None,
                  "held_columns": int(W.held_columns(w).size)}
    return out


# ---- the CLI's cold start -------------------------------------------------------------------------------
def cli_cold(n: int, days: int, repeat: int) -> list[dict]:
    import yaml

    from index_engine.data.synthetic import synthetic_long_frame

    folder = W.CACHE / "cli"
    folder.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load((ROOT / "configs" / "global100.yaml").read_text())
    raw.setdefault("data", {})["synthetic"] = {"seed": W.SEED, "n_assets": n, "days": days,
                                               "start": "2019-01-01", "n_stablecoins": W.N_STABLECOINS}
    cfg = folder / f"global100_N{n}.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    data, cats = folder / f"synthetic_N{n}_T{days}.parquet", folder / f"categories_N{n}.csv"
    if not data.exists():
        frame, categories = synthetic_long_frame(seed=W.SEED, n_assets=n, days=days, n_stablecoins=W.N_STABLECOINS)
        frame.write_parquet(data)
        categories.write_csv(cats)
    exe = shutil.which("index-engine")
    base = [exe] if exe else [sys.executable, "-m", "backtest.cli"]
    cases = [
        ("flagship config, embedded synthetic market generated in the run", [str(cfg)]),
        ("flagship config, `--data` Parquet (long format) + `--categories`",
         [str(cfg), "--data", str(data), "--categories", str(cats)]),
    ]
    results = []
    for label, extra in cases:
        out_dir = folder / "out"
        cmd = base + ["run", *extra, "--out", str(out_dir)]
        times, err = [], None
        for i in range(repeat + 1):  # the first run warms the numba cache and the page cache
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(folder))
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                err = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
                break
            if i:
                times.append(wall)
        results.append({"label": label, "cmd": " ".join(["index-engine", "run", *[Path(a).name if "/" in a else a
                                                                                   for a in extra]]),
                        "times": times, "median": statistics.median(times) if times else None,
                        "error": err[0] if err else None})
    return results
