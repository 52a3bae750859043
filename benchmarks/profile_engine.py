"""Where ``run_backtest`` spends its time: its call tree and hotspots, from cProfile.

    python benchmarks/profile_engine.py [--n 2000] [--variant full] [--repeat 7] [--depth 3] [--json F]

The profile covers ``--repeat`` warm runs of ``run_backtest(cfg, market, benchmarks=False)`` on the
benchmark panel (built by ``compare.py``; ``workload.panel_dir``) and reports per-run times:

* the call tree below ``run_backtest`` (cumulative time of each callee *from that caller*, down to
  ``--depth`` levels, callees under ``--min-share`` of the run folded into "(other)"), which adapts
  to whatever the engine's stages are called today: nothing here names them;
* the hotspots by own time (numba kernels appear under their Python names).

cProfile only sees Python-level calls (a few thousand per run here), so its overhead is small; the
uninstrumented median is printed beside the profiled one to show it.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import workload  # noqa: E402


def load_market(n: int, days: int = workload.DEFAULT_DAYS, panel=None, volume=None):
    import polars as pl

    from index_engine.data.panel import panel_from_dense

    panel = panel if panel is not None else workload.load_panel(workload.panel_dir(n, days))
    return panel_from_dense(
        dates=panel.dates.astype("datetime64[D]"), asset_ids=np.array(panel.asset_ids, dtype=object),
        price=panel.price, market_cap=panel.market_cap, volume=panel.volume() if volume is None else volume,
        assets=pl.DataFrame({"asset_id": panel.asset_ids, "category": panel.categories}),
        source=f"benchmark panel {panel.path.name}",
    )


# the cold path by kind of work: (label, key predicate); cumulative times, so the rows overlap
COLD_PARTS = [
    ("all imports (`importlib._find_and_load`, top level)",
     lambda k: k[2] == "_find_and_load" and "importlib" in k[0]),
    ("numba: loading cached machine code (`Cache.load_overload`)",
     lambda k: k[2] == "load_overload" and "numba" in k[0]),
    ("numba: first call of each kernel (`_compile_for_args`: dispatch + cache load, or compile)",
     lambda k: k[2] == "_compile_for_args" and "numba" in k[0]),
    ("`panel_from_dense` (MarketData from the arrays)", lambda k: k[2] == "panel_from_dense"),
    ("the data hash (`MarketData._content_hash`)", lambda k: k[2] == "_content_hash"),
    ("`run_backtest` (first call, includes its lazy imports and JIT loading)",
     lambda k: k[2] == "run_backtest" and k[0].endswith("engine.py")),
]


def _name(key: tuple) -> str:
    path, line, func = key
    if path == "~":
        return func  # a builtin such as <method 'reduce' of 'numpy.ufunc' objects>
    if func.startswith("<"):
        func = f"{func}:{line}"  # <lambda>, <genexpr>: the line tells which
    p = Path(path)
    try:
        rel = p.resolve().relative_to(ROOT)
        return f"{rel.with_suffix('').as_posix().replace('/', '.')}.{func}"
    except ValueError:
        parts = p.with_suffix("").parts
        if "site-packages" in parts:
            parts = parts[parts.index("site-packages") + 1:]
        else:
            parts = parts[-2:]
        return f"{'.'.join(parts)}.{func}"


def call_tree(stats: pstats.Stats, root: tuple, runs: int, total: float, depth: int, min_share: float) -> list:
    """Rows (level, name, calls per run, ms per run) of the callees of ``root``, recursively."""
    callees: dict[tuple, list] = {}
    for fn, (_, _, _, _, callers) in stats.stats.items():
        for caller, (_, nc, _, ct) in callers.items():
            callees.setdefault(caller, []).append((fn, nc, ct))
    rows = []

    def walk(key, level, own_ct, seen):
        kids = sorted(callees.get(key, []), key=lambda c: -c[2])
        shown = 0.0
        for fn, nc, ct in kids:
            if ct / runs < min_share * total or fn in seen:
                continue
            rows.append((level, _name(fn), nc / runs, ct / runs))
            shown += ct
            if level < depth:
                walk(fn, level + 1, ct, seen | {fn})
        rest = own_ct - shown
        if shown > 0 and rest / runs >= min_share * total:
            rows.append((level, "(own time and smaller callees)", None, rest / runs))

    ct_root = stats.stats[root][3]
    rows.append((0, _name(root), stats.stats[root][1] / runs, ct_root / runs))
    walk(root, 1, ct_root, {root})
    return rows


def profile(n: int = 2000, variant: str = "full", repeat: int = 7, days: int = workload.DEFAULT_DAYS,
            depth: int = 3, min_share: float = 0.01, hotspots: int = 20) -> dict:
    panel = workload.load_panel(workload.panel_dir(n, days))
    volume = panel.volume()  # reading the files is not the engine's time
    # the cold path: imports, MarketData from the arrays, the first run (JIT code loaded from the cache)
    cold = cProfile.Profile()
    t0 = time.perf_counter()
    cold.enable()
    from backtest import run_backtest
    from index_engine import IndexConfig

    market = load_market(n, days, panel, volume)
    cfg = IndexConfig().with_overrides(workload.VARIANTS[variant].engine_overrides(10.0))
    t1 = time.perf_counter()
    run_backtest(cfg, market, benchmarks=False)  # first run on this market: per-panel caches (e.g. the data hash)
    cold.disable()
    first = time.perf_counter() - t1
    cold_total = time.perf_counter() - t0
    cold_stats = pstats.Stats(cold)
    cold_hot = sorted(cold_stats.stats.items(), key=lambda kv: -kv[1][2])[:hotspots]
    cold_rows = [(_name(k), v[1], v[2], v[3]) for k, v in cold_hot]
    cold_parts = []
    for label, match in COLD_PARTS:
        ct = sum(v[3] for k, v in cold_stats.stats.items() if match(k))
        if ct > 0:
            cold_parts.append((label, ct))
    run_backtest(cfg, market, benchmarks=False)
    plain = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run_backtest(cfg, market, benchmarks=False)
        plain.append(time.perf_counter() - t0)
    pr = cProfile.Profile()
    profiled = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        pr.enable()
        run_backtest(cfg, market, benchmarks=False)
        pr.disable()
        profiled.append(time.perf_counter() - t0)
    stats = pstats.Stats(pr)
    root = next(k for k in stats.stats if k[2] == "run_backtest" and k[0].endswith("engine.py"))
    total = stats.stats[root][3] / repeat
    tree = call_tree(stats, root, repeat, total, depth, min_share)
    hot = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:hotspots]
    hot_rows = [(_name(k), v[1] / repeat, v[2] / repeat, v[3] / repeat) for k, v in hot]
    return {"n": n, "days": days, "variant": variant, "repeat": repeat, "first_run": first,
            "cold_total": cold_total, "cold_hotspots": cold_rows, "cold_parts": cold_parts,
            "median_plain": statistics.median(plain), "median_profiled": statistics.median(profiled),
            "total_profiled": total, "tree": tree, "hotspots": hot_rows}


def format_markdown(prof: dict) -> list[str]:
    total = prof["total_profiled"]
    out = [
        f"run_backtest, N = {prof['n']:,}, T = {prof['days']:,}, variant `{prof['variant']}`: median "
        f"{prof['median_plain'] * 1e3:.1f} ms uninstrumented, {prof['median_profiled'] * 1e3:.1f} ms under "
        f"cProfile ({prof['repeat']} runs each).",
        "",
        "| call (cumulative, per run) | calls | ms | share |",
        "|---|---:|---:|---:|",
    ]
    for level, name, calls, t in prof["tree"]:
        pad = "&nbsp;" * 4 * level
        c = "" if calls is None else f"{calls:g}"
        label = f"`{name}`" if not name.startswith("(") else name
        out.append(f"| {pad}{label} | {c} | {t * 1e3:.1f} | {t / total * 100:.0f} % |")
    out += ["", "| hotspot (own time, per run) | calls | own ms | cumulative ms |", "|---|---:|---:|---:|"]
    for name, calls, tt, ct in prof["hotspots"]:
        out.append(f"| `{name}` | {calls:g} | {tt * 1e3:.1f} | {ct * 1e3:.1f} |")
    if prof.get("cold_hotspots"):
        out += ["", f"Cold path in a fresh process (imports, MarketData from the arrays, first run; numba code "
                f"loaded from its cache): {prof['cold_total'] * 1e3:.0f} ms under cProfile, of which the first "
                f"run_backtest {prof['first_run'] * 1e3:.0f} ms.", "",
                "| cold path, by kind (cumulative; rows overlap) | ms |", "|---|---:|"]
        for label, ct in prof.get("cold_parts", []):
            out.append(f"| {label} | {ct * 1e3:.0f} |")
        out += ["", "| cold-path hotspot (own time) | calls | own ms | cumulative ms |", "|---|---:|---:|---:|"]
        for name, calls, tt, ct in prof["cold_hotspots"]:
            out.append(f"| `{name}` | {calls:g} | {tt * 1e3:.1f} | {ct * 1e3:.1f} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--days", type=int, default=workload.DEFAULT_DAYS)
    ap.add_argument("--variant", default="full", choices=sorted(workload.VARIANTS))
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--min-share", type=float, default=0.01, help="fold callees below this share of the run")
    ap.add_argument("--hotspots", type=int, default=20)
    ap.add_argument("--json", help="also write the result as JSON here")
    args = ap.parse_args()
    if not (workload.panel_dir(args.n, args.days) / "meta.json").exists():
        sys.exit(f"no cached panel for N={args.n}, T={args.days}: run benchmarks/compare.py --sizes {args.n} first")
    prof = profile(args.n, args.variant, args.repeat, args.days, args.depth, args.min_share, args.hotspots)
    if args.json:
        Path(args.json).write_text(json.dumps(prof))
    print("\n".join(format_markdown(prof)))


if __name__ == "__main__":
    main()
