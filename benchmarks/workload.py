"""The canonical benchmark workload, shared by every contender (numpy + pandas only).

This module is imported both by the project's environment (``compare.py``, ``run_engine.py``) and
by the peers' virtual environment (``peer_vectorbt.py``, ``peer_bt.py``), so it imports nothing
from ``index_engine`` and nothing beyond numpy, pandas and the standard library.

Workload: the seeded synthetic daily panel (``index_engine.data.synthetic``, seed 7, 4 stablecoins)
of T days × N assets; weekly (Monday) rebalance to the top 100 by market cap, cap-weighted, 10 bps
fee, decision lag 1, a $1 cash sleeve, 1,000,000 initial NAV. Variants (``VARIANTS``):

* ``plain``: no cap, no regime (always invested);
* ``cap10``: 10 % cap per constituent (water-filling);
* ``regime``: 100 % cash while the total market cap (ex stablecoin/wrapped/pegged) at t−1 is below
  its 200-observation SMA; switches trade immediately;
* ``full``: the 10 % cap and the regime switch together.

``target_plan`` computes the trade rows and the (R, N) target weights of a variant with vectorised
numpy/pandas; the peers run it as part of their timed work, and ``compare.py`` checks that it
reproduces ``index_engine``'s own plan. ``harness``-style helpers (peak memory, timing) live here
too so that both environments measure the same way.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
EXCLUDED_CATEGORIES = ("stablecoin", "wrapped", "pegged")
SEED = 7
N_STABLECOINS = 4
DEFAULT_DAYS = 3650
INITIAL_NAV = 1_000_000.0
TOP_N = 100
DECISION_LAG = 1
REGIME_WINDOW = 200


@dataclass(frozen=True)
class Variant:
    name: str
    max_weight: float | None  # None = no cap
    regime: bool  # total-market-cap 200-observation SMA switch
    frequency: str = "weekly"  # "weekly" (Mondays) or "every_observation"

    def engine_overrides(self, fee_bps: float) -> dict:
        """Dotted overrides of ``IndexConfig()`` (the flagship defaults) for index-engine."""
        return {
            "universe.exclude_categories": list(EXCLUDED_CATEGORIES),
            "selection.top_n": TOP_N,
            "weighting.scheme": "market_cap",
            "weighting.max_weight": self.max_weight,
            "rebalance.frequency": self.frequency,
            "rebalance.weekday": "monday",
            "rebalance.decision_lag": DECISION_LAG,
            "regime.signal": "total_market_cap_sma" if self.regime else "none",
            "regime.window": REGIME_WINDOW,
            "stable.asset": "cash",
            "costs.fee_bps": fee_bps,
            "costs.slippage_bps": 0,
            "costs.gas_usd": 0,
            "backtest.initial_nav": INITIAL_NAV,
            "benchmarks": {},
        }


#: contenders of compare.py — key: (environment, script, worker argv prefix, options, label)
CONTENDERS = {
    "index-engine": ("main", "run_engine.py", ["engine"], "", "index-engine `run_backtest` → NAV"),
    "index-engine-frames": ("main", "run_engine.py", ["engine-frames"], "",
                            "index-engine `run_backtest` → every output frame"),
    "baseline": ("main", "run_engine.py", ["baseline"], "", "hand-written numba loop (NAV only)"),
    "floor": ("main", "run_engine.py", ["floor"], "", "memory floor: one pass over price + cap"),
    "vectorbt": ("peers", "peer_vectorbt.py", [], "", "vectorbt `from_orders`, all N columns"),
    "vectorbt-pruned": ("peers", "peer_vectorbt.py", [], "prune", "vectorbt, held columns only"),
    "vectorbt-rust": ("peers", "peer_vectorbt.py", [], "rust", "vectorbt-rust engine, all N columns"),
    "vectorbt-nan-rows": ("peers", "peer_vectorbt.py", [], "nan-rows", "vectorbt, NaN = no order (untuned)"),
    "bt": ("peers", "peer_bt.py", [], "", "bt `Backtest`, all N columns"),
    "bt-pruned": ("peers", "peer_bt.py", [], "prune", "bt, held columns only"),
}
DEFAULT_PEERS = "vectorbt,vectorbt-pruned,bt,bt-pruned"


VARIANTS = {
    "plain": Variant("plain", None, False),
    "cap10": Variant("cap10", 0.10, False),
    "regime": Variant("regime", None, True),
    "full": Variant("full", 0.10, True),
    "daily": Variant("daily", None, False, "every_observation"),
}


# ---- the panel cache ------------------------------------------------------------------------------


@dataclass
class Panel:
    """The dense arrays every contender reads. ``include`` = category not excluded."""

    path: Path
    dates: np.ndarray  # (T,) int64 days since 1970-01-01
    price: np.ndarray  # (T, N) float64, NaN = no observation
    market_cap: np.ndarray  # (T, N) float64
    asset_ids: list[str]
    categories: list[str]
    include: np.ndarray  # (N,) bool

    @property
    def shape(self) -> tuple[int, int]:
        return self.price.shape

    @property
    def input_bytes(self) -> int:
        """Size of the price + market-cap arrays (the memory target's yardstick)."""
        return self.price.nbytes + self.market_cap.nbytes

    def volume(self) -> np.ndarray:
        return np.load(self.path / "volume.npy")


def panel_dir(n_assets: int, days: int = DEFAULT_DAYS) -> Path:
    """Cache folder of one panel; the key includes a hash of the synthetic market's source."""
    src = HERE.parent / "index_engine" / "data" / "synthetic.py"
    tag = hashlib.sha256(src.read_bytes()).hexdigest()[:10] if src.exists() else "nosrc"
    return CACHE / "panels" / f"syn_s{SEED}_T{days}_N{n_assets}_{tag}"


def load_panel(path: str | Path) -> Panel:
    path = Path(path)
    meta = json.loads((path / "meta.json").read_text())
    cats = meta["categories"]
    include = ~np.isin(np.array(cats, dtype=object), np.array(EXCLUDED_CATEGORIES, dtype=object))
    return Panel(
        path=path,
        dates=np.load(path / "dates.npy"),
        price=np.load(path / "price.npy"),
        market_cap=np.load(path / "market_cap.npy"),
        asset_ids=meta["asset_ids"],
        categories=cats,
        include=include,
    )


# ---- the target weights with numpy / pandas (the peers' timed preparation) -------------------------


def _valid(x: np.ndarray) -> np.ndarray:
    return np.isfinite(x) & (x > 0)


def regime_state(market_cap: np.ndarray, include: np.ndarray, window: int = REGIME_WINDOW) -> np.ndarray:
    """(T,) int8 bull (1) / bear (0) state from data through each observation.

    Signal = sum of finite positive caps of the included assets; bear when signal < SMA(window),
    bull when signal > SMA, else (equal, or SMA undefined) the state carries; bull before that.
    """
    import pandas as pd

    caps = market_cap[:, include]
    total = np.where(_valid(caps), caps, 0.0).sum(axis=1)
    sma = pd.Series(total).rolling(window).mean().to_numpy()
    raw = np.where(total < sma, 0.0, np.where(total > sma, 1.0, np.nan))
    return pd.Series(raw).ffill().fillna(1.0).to_numpy().astype(np.int8)


def schedule_mask(dates: np.ndarray, variant: Variant) -> np.ndarray:
    """(T,) scheduled rebalance rows of ``variant``: Mondays, or every row."""
    return np.ones(dates.shape[0], bool) if variant.frequency == "every_observation" else monday_mask(dates)


def monday_mask(dates: np.ndarray) -> np.ndarray:
    """(T,) scheduled weekly (Monday) rebalance rows: the first observation on/after each Monday."""
    days = dates.astype(np.int64)
    prev = np.r_[days[0] - 1, days[:-1]]
    return days - (days + 3) % 7 > prev


def cap_weights_rows(raw: np.ndarray, cap: float) -> np.ndarray:
    """Row-wise water-filling of (R, N) raw weights (0 = not selected) to weights ≤ cap."""
    sel = raw > 0
    n = sel.sum(axis=1)
    fixed = np.zeros_like(sel)
    w = np.zeros_like(raw)
    while True:
        free = sel & ~fixed
        free_sum = np.where(free, raw, 0.0).sum(axis=1, keepdims=True)
        budget = 1.0 - fixed.sum(axis=1, keepdims=True) * cap
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.where(fixed, cap, np.where(free, raw / free_sum * budget, 0.0))
        breach = free & (w > cap)
        if not breach.any():
            break
        fixed |= breach
    infeasible = (n > 0) & (n * cap < 1.0)
    if infeasible.any():  # equal weights where n × cap < 1
        w[infeasible] = np.where(sel[infeasible], 1.0 / n[infeasible, None], 0.0)
    return w


def target_plan(
    dates: np.ndarray, price: np.ndarray, market_cap: np.ndarray, include: np.ndarray, variant: Variant,
    top_n: int = TOP_N, regime_window: int = REGIME_WINDOW,
) -> tuple[np.ndarray, np.ndarray]:
    """Trade rows (R,) and target risk weights (R, N) of ``variant`` (cash gets 1 − row sum).

    Same rules as index-engine (docs/methodology.md): the trade at t decides on d = t − 1;
    eligible = finite price > 0 and cap > 0 at d, valid price at t, category not excluded; top 100
    by cap at d (ties by column = asset_id order); weights ∝ cap at d, water-filled to the cap;
    invest at row 1 when bullish, trade every regime switch at once, and every Monday while bullish.
    """
    t_count, _ = price.shape
    lag = DECISION_LAG
    regime_at = np.ones(t_count, np.int8)
    if variant.regime:
        regime_at[lag:] = regime_state(market_cap, include, regime_window)[: t_count - lag]
    rows = np.arange(lag, t_count)
    state = regime_at[lag:]
    prev = np.r_[state[0], state[:-1]]
    bull = state == 1
    trade = (bull & schedule_mask(dates, variant)[lag:]) | (state != prev)
    trade[0] = bull[0]
    trade_rows = rows[trade]
    d = trade_rows - lag
    active = regime_at[trade_rows] == 1

    cap_d = market_cap[d]
    elig = _valid(price[d]) & _valid(cap_d) & _valid(price[trade_rows]) & include[None, :] & active[:, None]
    score = np.where(elig, cap_d, 0.0)
    top = np.argsort(-score, axis=1, kind="stable")[:, :top_n]
    r = np.arange(trade_rows.size)[:, None]
    raw = np.zeros_like(score)
    raw[r, top] = score[r, top]  # 0 where the top slots run into ineligible assets
    if variant.max_weight is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            w = raw / raw.sum(axis=1, keepdims=True)
        w[~np.isfinite(w)] = 0.0
    else:
        w = cap_weights_rows(raw, variant.max_weight)
    return trade_rows, w


# ---- measurement helpers ---------------------------------------------------------------------------

_STATUS = re.compile(r"^(VmHWM|VmRSS):\s+(\d+) kB", re.M)


def rss_hwm_bytes() -> tuple[int, int]:
    """(current RSS, peak RSS since the last reset) of this process, bytes (Linux /proc)."""
    vals = dict(_STATUS.findall(Path("/proc/self/status").read_text()))
    return int(vals["VmRSS"]) * 1024, int(vals["VmHWM"]) * 1024


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (Linux ≥ 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def release_free_memory() -> None:
    """Collect garbage and hand free heap pages back to the OS, so RSS = live memory."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # pragma: no cover - non-glibc
        pass


def measure_peak(fn) -> tuple[object, int, int]:
    """Run ``fn()`` and return (its result, peak RSS increase over the RSS before it, peak RSS).

    The increase is the run's working memory (every allocation: numpy, numba, polars, pandas),
    excluding the inputs, the interpreter and loaded code, which are resident before it starts.
    """
    release_free_memory()
    if not reset_peak():
        raise RuntimeError("cannot reset the peak RSS counter (/proc/self/clear_refs)")
    rss0, _ = rss_hwm_bytes()
    out = fn()
    _, hwm = rss_hwm_bytes()
    return out, hwm - rss0, hwm


def timed(fn) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def worker_args(argv=None):
    """Command line shared by every worker script (peers and index-engine)."""
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--panel", required=True, help="panel cache folder (workload.panel_dir)")
    p.add_argument("--variant", required=True, choices=sorted(VARIANTS))
    p.add_argument("--fee-bps", type=float, default=10.0)
    p.add_argument("--repeat", type=int, default=5, help="timed warm runs after the cold run")
    p.add_argument("--cold-only", action="store_true", help="only the cold run (import + first run)")
    p.add_argument("--out", required=True, help="JSON result file")
    p.add_argument("--nav-dir", help="write nav_fee.npy / nav_zero.npy here (NAV agreement)")
    p.add_argument("--opts", default="", help="comma-separated contender options (peers: prune, rust, nan-rows)")
    return p.parse_args(argv)


def held_columns(weights: np.ndarray) -> np.ndarray:
    """Columns that some trade gives a positive weight: the only ones a simulation needs."""
    return np.flatnonzero((weights > 0).any(axis=0))


def run_worker(args, t_start: float, import_engine, prepare, run_once) -> None:
    """The measurement protocol every contender follows, in a fresh process.

    ``t_start`` is the interpreter start-up before the worker's first line (for information only).
    The clock starts after numpy and the panel are loaded (both excluded). ``import_engine()``
    imports the contender; ``prepare(panel)`` builds its input objects (excluded from the timings,
    e.g. index-engine's MarketData); ``run_once(inputs, variant, fee_bps)`` does the timed work and
    returns the (T,) NAV. Cold = import + first run. Warm = ``repeat`` runs after that one. Peak
    memory = ``measure_peak`` around one more warm run.
    """
    panel = load_panel(args.panel)
    variant = VARIANTS[args.variant]
    t0 = time.perf_counter()
    import_engine()
    t_import = time.perf_counter() - t0
    inputs = prepare(panel)
    release_free_memory()
    reset_peak()
    rss0 = rss_hwm_bytes()[0]
    _, t_first = timed(lambda: run_once(inputs, variant, args.fee_bps))
    first_peak_delta = rss_hwm_bytes()[1] - rss0  # includes code loaded by the first call (JIT cache, lazy imports)
    out = {"cold": t_import + t_first, "import": t_import, "first_run": t_first, "first_peak_delta": first_peak_delta,
           "t": panel.shape[0], "n": panel.shape[1], "input_bytes": panel.input_bytes,
           "startup": process_start_offset() - (time.perf_counter() - t_start)}
    if not args.cold_only:
        warm = []
        for _ in range(args.repeat):
            _, dt = timed(lambda: run_once(inputs, variant, args.fee_bps))
            warm.append(dt)
        out["warm"] = warm
        out["process_peak_before_mem"] = rss_hwm_bytes()[1]
        nav, peak_delta, peak = measure_peak(lambda: run_once(inputs, variant, args.fee_bps))
        out["peak_delta"] = peak_delta
        out["peak_rss"] = peak
        if args.nav_dir:
            nav_dir = Path(args.nav_dir)
            nav_dir.mkdir(parents=True, exist_ok=True)
            np.save(nav_dir / "nav_fee.npy", np.asarray(nav, dtype=np.float64))
            nav0 = nav if args.fee_bps == 0 else run_once(inputs, variant, 0.0)
            np.save(nav_dir / "nav_zero.npy", np.asarray(nav0, dtype=np.float64))
    Path(args.out).write_text(json.dumps(out))


def process_start_offset() -> float:
    """Seconds since this process started (for information: interpreter start-up)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):  # pragma: no cover
        return float("nan")
