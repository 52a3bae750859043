"""index-engine against vectorbt, bt and a hand-written numba loop, on the same work, in one run.

    python benchmarks/compare.py [--sizes 500,2000,5000] [--repeat 5] [--skip-peers] [--out docs/performance.md]

What it does (everything under benchmarks/.cache/, which is safe to delete):

1. builds the seeded synthetic panels (T = 3,650 days × N assets) once and caches their arrays;
2. creates the peers' virtual environment (benchmarks/.cache/peers-venv, from
   benchmarks/peers-requirements.txt) unless ``--skip-peers``;
3. measures every contender in fresh worker processes (``run_engine.py`` for index-engine, the
   baseline loop and the memory floor; ``peer_vectorbt.py`` / ``peer_bt.py`` inside the peers' venv),
   all following ``workload.run_worker``: cold = import + first run in a fresh process (numba
   caches warm, data already in memory), warm = median of ``--repeat`` runs after that, peak memory =
   peak RSS increase of one more warm run over the RSS before it;
4. checks that every contender's NAV agrees with index-engine's (zero fees: ≤ 1e-9 relative; with
   the 10 bps fee the maximum relative difference is reported) and that the peers' numpy target
   weights reproduce index-engine's plan;
5. times the CLI's cold start on N = 500 and profiles ``run_backtest`` at the headline size;
6. prints the tables and writes them to ``--out`` below the hand-written header of that file.

This file is the command: its options, the panels, the peers' venv and the order of the runs. The
workers, the NAV and plan checks and the CLI timing are in ``measure.py``; the tables in ``perf_doc.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import workload as W  # noqa: E402
from measure import RUNS, cli_cold, measure, nav_diffs, plan_check, worker  # noqa: E402
from perf_doc import render, targets, write_doc  # noqa: E402
from workload import CONTENDERS, DEFAULT_PEERS  # noqa: E402

VENV = W.CACHE / "peers-venv"
REQUIREMENTS = HERE / "peers-requirements.txt"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- environment ------------------------------------------------------------------------------------
def _run_text(cmd: list[str], **kw) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor() or "?")
    mem = next((int(ln.split()[1]) * 1024 for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")), 0)
    import numba
    import pandas
    import polars
    import pyarrow

    import index_engine

    commit = _run_text(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _run_text(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "--",
                       "index_engine", "backtest", "configs", "pyproject.toml"])  # the code measured
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem / 2**30, "os": platform.platform(),
        "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
        "polars": polars.__version__, "pandas": pandas.__version__, "pyarrow": pyarrow.__version__,
        "index_engine": getattr(index_engine, "__version__", "?"),
        "commit": (commit + (" + uncommitted changes" if dirty else "")) if commit else "?",
    }


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def ensure_panel(n: int, days: int) -> tuple[Path, float | None]:
    """The cached panel for N assets (built on first use); returns (folder, seconds to build or None)."""
    path = W.panel_dir(n, days)
    if (path / "meta.json").exists():
        return path, None
    from index_engine.data.synthetic import synthetic_market

    log(f"building the synthetic panel T={days} N={n}")
    t0 = time.perf_counter()
    m = synthetic_market(seed=W.SEED, n_assets=n, days=days, n_stablecoins=W.N_STABLECOINS)
    built = time.perf_counter() - t0
    tmp = path.with_name(path.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    np.save(tmp / "dates.npy", m.dates.astype("datetime64[D]").astype(np.int64))
    np.save(tmp / "price.npy", m.price)
    np.save(tmp / "market_cap.npy", m.market_cap)
    np.save(tmp / "volume.npy", m.volume)
    (tmp / "meta.json").write_text(json.dumps({
        "asset_ids": m.asset_ids.tolist(), "categories": [str(c) for c in m.categories.tolist()],
        "source": m.source,
    }))
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    return path, built


def ensure_peers_venv(rebuild: bool = False) -> tuple[Path, dict]:
    """The peers' venv (created or refreshed when peers-requirements.txt changed); (python, versions)."""
    py = VENV / "bin" / "python"
    stamp = VENV / ".requirements.sha256"
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if rebuild or not py.exists() or not stamp.exists() or stamp.read_text().strip() != want:
        log(f"creating the peers' venv in {VENV.relative_to(ROOT)} (pip install -r {REQUIREMENTS.name})")
        if VENV.exists():
            shutil.rmtree(VENV)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(REQUIREMENTS)], check=True)
        stamp.write_text(want)
    code = ("import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in "
            "('vectorbt', 'vectorbt-rust', 'bt', 'ffn', 'pandas', 'numpy', 'numba')}))")
    versions = json.loads(_run_text([str(py), "-c", code]) or "{}")
    versions["python"] = _run_text([str(py), "-c", "import platform; print(platform.python_version())"])
    return py, versions


# ---- main -------------------------------------------------------------------------------------------
def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="500,2000,5000", help="comma-separated N (assets)")
    ap.add_argument("--days", type=int, default=W.DEFAULT_DAYS, help="T (days)")
    ap.add_argument("--headline", type=int, default=2000, help="N of the full comparison (default 2000)")
    ap.add_argument("--variants", default="plain,cap10,regime,full", help="variants for index-engine and the baseline")
    ap.add_argument("--peer-variants", default="plain,full", help="variants the peers run at the headline size")
    ap.add_argument("--scaling-variants", default="plain", help="variants the peers run at the other sizes")
    ap.add_argument("--repeat", type=int, default=5, help="warm runs of index-engine / baseline / floor")
    ap.add_argument("--cold-repeat", type=int, default=3, help="fresh processes for the cold median")
    ap.add_argument("--peer-repeat", type=int, default=3, help="warm runs of each peer")
    ap.add_argument("--peer-cold-repeat", type=int, default=1, help="fresh processes for a peer's cold median")
    ap.add_argument("--peers", default=DEFAULT_PEERS,
                    help=f"peer contenders (default {DEFAULT_PEERS}; also vectorbt-rust, vectorbt-nan-rows)")
    ap.add_argument("--skip-peers", action="store_true", help="no vectorbt / bt (no venv needed)")
    ap.add_argument("--peer-limit", type=float, default=60.0,
                    help="skip a peer at a size where its run is predicted (linear in N) to exceed this many s")
    ap.add_argument("--rebuild-venv", action="store_true")
    ap.add_argument("--cli-n", type=int, default=500, help="N of the CLI cold-start measurement (0: skip)")
    ap.add_argument("--large", type=int, default=20000,
                    help="N of the every-observation run (CoinGecko's whole universe; 0: skip)")
    ap.add_argument("--cli-repeat", type=int, default=3)
    ap.add_argument("--no-profile", action="store_true", help="skip the run_backtest profile")
    ap.add_argument("--worker-timeout", type=float, default=1800.0)
    ap.add_argument("--out", default=str(ROOT / "docs" / "performance.md"), help="markdown file ('' = none)")
    ap.add_argument("--json", default=str(W.CACHE / "results.json"), help="raw results ('' = none)")
    return ap.parse_args(argv)


def main(argv=None) -> None:
    a = parse_args(argv)
    t_start = time.perf_counter()
    sizes = sorted(int(s) for s in a.sizes.split(",") if s)
    headline = a.headline if a.headline in sizes else sizes[len(sizes) // 2]
    variants = [v for v in a.variants.split(",") if v]
    peer_variants = [v for v in a.peer_variants.split(",") if v]
    scaling_variants = [v for v in a.scaling_variants.split(",") if v]
    peers = [] if a.skip_peers else [p for p in a.peers.split(",") if p]
    for k in peers:
        if k not in CONTENDERS or CONTENDERS[k][0] != "peers":
            sys.exit(f"unknown peer {k!r}; expected one of {[c for c, v in CONTENDERS.items() if v[0] == 'peers']}")
    ctx = {"args": a, "sizes": sizes, "headline": headline, "variants": variants,
           "scaling_variants": scaling_variants, "load_start": loadavg(),
           "contenders": ["index-engine", "index-engine-frames", "baseline", "floor", *peers]}
    ctx["machine"] = machine_info()
    ctx["built"] = {}
    panels = {}
    for n in sizes:
        panels[n], ctx["built"][n] = ensure_panel(n, a.days)
    peers_python = None
    if peers:
        peers_python, ctx["peer_versions"] = ensure_peers_venv(a.rebuild_venv)

    # warm every JIT cache once (a fresh process then loads machine code instead of compiling)
    smallest = panels[sizes[0]]
    log("warming the numba caches")
    for key in ("index-engine", "baseline"):
        for v in variants:
            worker(key, smallest, v, peers_python=None, cold_only=True)
    worker("floor", smallest, "plain", peers_python=None, cold_only=True)
    for key in peers:
        if key.startswith("vectorbt") and "rust" not in key:
            worker(key, smallest, peer_variants[0], peers_python=peers_python, cold_only=True)

    results: dict = {}
    navroot = RUNS / "nav"
    shutil.rmtree(navroot, ignore_errors=True)
    for n in sizes:
        for v in variants:
            for key in ("index-engine", "baseline"):
                log(f"N={n} {v}: {key}")
                r = measure(key, panels[n], v, a, peers_python, navroot / f"{key}_{n}_{v}")
                results[(key, n, v)] = r
        if n == headline:
            for v in variants:
                log(f"N={n} {v}: index-engine-frames")
                results[("index-engine-frames", n, v)] = measure("index-engine-frames", panels[n], v, a, peers_python,
                                                                 navroot / f"index-engine-frames_{n}_{v}")
        log(f"N={n}: floor")
        results[("floor", n, "plain")] = measure("floor", panels[n], "plain", a, peers_python, None)
        for key in peers:
            for v in (peer_variants if n == headline else scaling_variants):
                prev = [(m, results[(key, m, v)]["warm_median"]) for m in sizes
                        if m < n and "warm_median" in results.get((key, m, v), {})]
                if prev and prev[-1][1] * n / prev[-1][0] > a.peer_limit:
                    est = prev[-1][1] * n / prev[-1][0]
                    results[(key, n, v)] = {"skipped": f"~{est:.0f} s per run predicted (> {a.peer_limit:.0f} s)"}
                    log(f"N={n} {v}: {key} skipped ({est:.0f} s predicted)")
                    continue
                log(f"N={n} {v}: {key}")
                results[(key, n, v)] = measure(key, panels[n], v, a, peers_python, navroot / f"{key}_{n}_{v}")
    if a.large:
        # every-observation rebalancing at the headline size and at CoinGecko's whole universe (N = 20,000)
        ctx["large"] = a.large
        panels[a.large], ctx["built"][a.large] = ensure_panel(a.large, a.days)
        for n in (headline, a.large):
            for key in ("index-engine", "baseline"):
                log(f"N={n} daily: {key}")
                results[(key, n, "daily")] = measure(key, panels[n], "daily", a, peers_python,
                                                     navroot / f"{key}_{n}_daily")
    # NAV agreement against index-engine
    for (key, n, v), r in results.items():
        if key in ("index-engine", "floor") or "warm" not in r:
            continue
        r["nav"] = nav_diffs(navroot / f"index-engine_{n}_{v}", navroot / f"{key}_{n}_{v}")

    if peers:
        log("checking the peers' numpy target weights against build_plan")
        ctx["plan_check"] = {}
        for n in sizes:
            vs = sorted(set(peer_variants if n == headline else scaling_variants))
            for v, c in plan_check(panels[n], vs).items():
                ctx["plan_check"][(n, v)] = c
    if a.cli_n:
        log(f"CLI cold start, N={a.cli_n}")
        ctx["cli"] = cli_cold(a.cli_n, a.days, a.cli_repeat)
    if not a.no_profile:
        log(f"profiling run_backtest at N={headline}")
        prof_json = RUNS / "profile.json"
        prof_json.unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, str(HERE / "profile_engine.py"), "--n", str(headline), "--days",
                               str(a.days), "--variant", "full" if "full" in variants else variants[0],
                               "--json", str(prof_json)], check=False, capture_output=True, text=True)
        if proc.returncode == 0 and prof_json.exists():
            ctx["profile"] = json.loads(prof_json.read_text())
        else:
            ctx["profile_error"] = ((proc.stderr or proc.stdout).strip().splitlines() or ["?"])[-1][:300]

    ctx["results"] = results
    ctx["targets"] = targets(ctx)
    ctx["load_end"] = loadavg()
    ctx["elapsed"] = time.perf_counter() - t_start
    ctx["when"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    ctx["command"] = " ".join(["python benchmarks/compare.py", *(sys.argv[1:] if argv is None else argv)])
    body = render(ctx)
    print(body)
    if a.out:
        write_doc(Path(a.out), body)
        log(f"wrote {a.out}")
    if a.json:
        raw = {f"{k[0]}|{k[1]}|{k[2]}": v for k, v in results.items()}
        Path(a.json).write_text(json.dumps({"results": raw, "machine": ctx["machine"], "cli": ctx.get("cli"),
                                            "plan_check": {f"{k[0]}|{k[1]}": v for k, v in
                                                           ctx.get("plan_check", {}).items()}}, indent=1))
    log(f"done in {ctx['elapsed'] / 60:.1f} min")


if __name__ == "__main__":
    main()
