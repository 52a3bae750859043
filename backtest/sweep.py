"""Parameter sweeps: the cartesian product of config values, on local processes or a Dask cluster.

A grid maps dotted config paths to lists of values, e.g.::

    regime.window: [100, 200]
    weighting.max_weight: [null, 0.1]
    costs.fee_bps: [5, 10]

The optional key ``designs`` maps names to sets of overrides that vary together (a regime design, an
index family), crossed with the other keys; the result has a ``design`` column with the name::

    designs:
      sma200: {}
      golden_cross: {regime.signal: sma_crossover, regime.fast_window: 50}

A grid of more than ``MAX_CONFIGS`` combinations is refused before anything runs (raise the limit
with ``max_configs``). A combination whose run fails keeps its row, with the error in ``error`` and
no statistics; the other rows are kept.

Each config runs ``backtest_statistics`` (no frames). Work that does not depend on a swept value is
computed once per worker: the market panel is sent once (scattered once on Dask), plans are shared
between configs that differ only in costs or initial NAV, and regime signals and the rebalance
calendar between all plans (``index_engine.plan.PlanCache``). Results do not depend on the backend.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from backtest.engine import backtest_statistics
from backtest.formatting import sig
from backtest.progress import ProgressBar
from backtest.stats import ROW_STATS
from index_engine.config import ConfigError, IndexConfig, read_yaml
from index_engine.data.panel import MarketData
from index_engine.errors import ClusterError, IndexEngineError
from index_engine.extras import require_extra
from index_engine.methodology import Methodology, split
from index_engine.plan import PlanCache

# statistics a sweep can be ranked by; for LOWER_IS_BETTER the smallest value ranks first
RANK_KEYS = ("sharpe", "cagr", "sortino", "calmar", "total_return", "final_nav", "max_drawdown", "volatility",
             "costs_total", "cost_drag_bps_per_year", "turnover_annualised", "time_invested")
LOWER_IS_BETTER = ("volatility", "costs_total", "cost_drag_bps_per_year", "turnover_annualised")


#: the largest grid ``run_sweep`` accepts by default (``max_configs`` / ``--max-configs`` raise it)
MAX_CONFIGS = 20_000
#: the grid key of named override sets, and the result column that holds their names
DESIGNS, DESIGN_COLUMN = "designs", "design"
#: the grid-key prefix of a custom rule's keyword parameters: ``rules.<hook>.<param>``
RULES = "rules."


def load_grid(path: str | Path) -> dict[str, list]:
    """Read GRID.yaml: a mapping of dotted config paths to non-empty lists of values."""
    return validate_grid(read_yaml(Path(path), "grid file"), str(path))


def validate_grid(raw, source: str = "<grid>") -> dict[str, list]:
    """A parsed grid (``raw``, read from ``source``) checked: a non-empty mapping of dotted config
    paths to non-empty lists. ``ConfigError`` names the source and the key."""
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{source}: expected a mapping of dotted config paths to lists, "
                          "e.g. 'regime.window: [100, 200]'")
    grid: dict[str, list] = {}
    for key, values in raw.items():
        if key == DESIGNS:
            if not isinstance(values, dict) or not values or not all(
                    isinstance(v, dict) or v is None for v in values.values()):
                raise ConfigError(f"{source}: designs: expected a mapping of design names to mappings of dotted "
                                  "config paths, e.g. 'designs: {golden_cross: {regime.signal: sma_crossover}}'")
            grid[DESIGN_COLUMN] = [(str(name), dict(v or {})) for name, v in values.items()]
            continue
        if key == DESIGN_COLUMN:
            raise ConfigError(f"{source}: {key}: reserved for the names of 'designs'")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{source}: {key}: expected a non-empty list of values, got {values!r}")
        grid[str(key)] = values
    return grid


def grid_size(grid: dict[str, list]) -> int:
    """The number of combinations of ``grid`` (computed without expanding it)."""
    return math.prod(len(v) for v in grid.values())


def expand(spec: IndexConfig | Methodology, grid: dict[str, list], source: str = "<grid>",
           max_configs: int = MAX_CONFIGS) -> list[tuple[dict, Any]]:
    """Every combination as (swept values by dotted path — a design by its name —, validated config or
    methodology); errors name the combination. Keys ``rules.<hook>.<param>`` set a custom rule's keyword
    parameters (``spec`` must then be a ``Methodology`` with that rule). ``ConfigError`` before
    expanding a grid of more than ``max_configs``."""
    cfg, custom = split(spec)
    n = grid_size(grid)
    if n > max_configs:
        raise ConfigError(f"{source}: the grid has {n:,} combinations, more than the limit of {max_configs:,}; "
                          "narrow it, or raise the limit (--max-configs) if you mean it")
    keys = list(grid)
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        values = dict(zip(keys, combo))
        overrides = {k: v for k, v in values.items() if k != DESIGN_COLUMN}
        if DESIGN_COLUMN in values:
            name, design = values[DESIGN_COLUMN]
            values[DESIGN_COLUMN], overrides = name, {**design, **overrides}
        params = {k[len(RULES):]: v for k, v in overrides.items() if k.startswith(RULES)}
        try:
            one = cfg.with_overrides({k: v for k, v in overrides.items() if not k.startswith(RULES)})
            if params and custom is None:
                raise ConfigError(f"{', '.join(RULES + p for p in params)}: rule parameters need a Methodology with "
                                  "custom rules (index_engine.Methodology)")
            out.append((values, one if custom is None else custom.with_params(params).with_config(one)))
        except ConfigError as exc:
            raise ConfigError(f"{source}: the combination {values} is not a valid config:\n{exc}") from None
    return out


# ---- workers ------------------------------------------------------------------------------------

_WORKER: dict = {}


def _init_worker(market: MarketData, custom: Methodology | None = None) -> None:
    _WORKER["market"] = market
    _WORKER["cache"] = PlanCache()
    _WORKER["custom"] = custom


def _payload(spec) -> tuple[dict, dict | None]:
    """What travels to a worker: the resolved config, and each custom rule's parameters."""
    cfg, custom = split(spec)
    return cfg.resolved(), (None if custom is None else {h: r.params for h, r in custom.rules.items()})


def _rebuild(raw: dict, params: dict | None):
    cfg = IndexConfig.from_dict(raw, source="sweep")
    base = _WORKER.get("custom")
    if params is None or base is None:
        return cfg
    return base.with_config(cfg).with_params({f"{h}.{k}": v for h, ps in params.items() for k, v in ps.items()})


def _run_chunk(payload: list[tuple[int, dict, dict | None]], market: MarketData | None = None,
               custom: Methodology | None = None) -> list[tuple[int, dict]]:
    """Run a chunk of configs (given as resolved dicts, with rule parameters) in this process, sharing
    one cache."""
    if market is not None:  # Dask: the scattered panel, one cache per worker process and panel
        key = id(market)
        if _WORKER.get("market_id") != key:
            _WORKER.update(market=market, market_id=key, cache=PlanCache())
        _WORKER["custom"] = custom
    out: list[tuple[int, dict]] = []
    for index, raw, params in payload:
        spec = _rebuild(raw, params)
        try:
            out.append((index, backtest_statistics(spec, _WORKER["market"], _WORKER["cache"])))
        except IndexEngineError as exc:  # this combination cannot run: keep its error, run the others
            out.append((index, {"error": f"{type(exc).__name__}: {exc}"}))
    return out


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _order_for_sharing(configs: list[tuple[dict, Any]]) -> list[int]:
    """Indices sorted so configs sharing a plan land in the same chunk."""
    return sorted(range(len(configs)), key=lambda i: split(configs[i][1])[0].plan_key())


def run_sweep(
    cfg: IndexConfig | Methodology,
    market: MarketData,
    grid: dict[str, list],
    workers: int | None = None,
    scheduler: object | None = None,
    progress: bool = True,
    chunk_size: int | None = None,
    max_configs: int = MAX_CONFIGS,
) -> pl.DataFrame:
    """One row per config: the swept values (columns named by dotted path; ``design`` for named
    designs), the statistics, and ``error`` (null, or why that combination could not run).

    ``workers``: local processes (default: CPU count; 1 = in this process). ``scheduler``: address of
    a Dask distributed scheduler (``tcp://host:port``; ``ClusterError`` when it does not answer within
    ``SCHEDULER_TIMEOUT`` seconds) or a ``distributed.Client``; it needs the sweep extra
    (``MissingExtraError`` before any computing without it).
    """
    if scheduler is not None:
        require_extra("sweep", "sweep --scheduler")
    configs = expand(cfg, grid, max_configs=max_configs)
    custom = split(cfg)[1]
    order = _order_for_sharing(configs)
    payload = [(i, *_payload(configs[i][1])) for i in order]
    n_workers = workers or _cpu_count()
    size = chunk_size or max(1, min(64, math.ceil(len(payload) / (4 * n_workers))))
    chunks = list(_chunks(payload, size))
    results: dict[int, dict] = {}
    with ProgressBar("sweep", enabled=progress, total=len(payload)) as bar:
        advance = bar.advance
        if scheduler is not None:
            _run_dask(scheduler, market, custom, chunks, results, advance)
        elif n_workers == 1:
            _init_worker(market, custom)
            for chunk in chunks:
                results.update(_run_chunk(chunk))
                advance(len(chunk))
        else:
            _run_processes(market, custom, chunks, n_workers, results, advance)
    return _frame(configs, grid, results)


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _run_processes(market, custom, chunks, n_workers, results, advance) -> None:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    with ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=_init_worker, initargs=(market, custom)) as pool:
        futures = [pool.submit(_run_chunk, chunk) for chunk in chunks]
        for fut in as_completed(futures):
            done = fut.result()
            results.update(done)
            advance(len(done))


#: seconds ``sweep --scheduler`` waits for the scheduler to answer (dask's own default is 30 s, retried)
SCHEDULER_TIMEOUT = 10.0


def connect_scheduler(address: str, timeout: float | None = None):
    """A ``distributed.Client`` on the scheduler at ``address``, or ``ClusterError`` naming the address
    and the cause when it does not answer as a Dask scheduler within ``timeout`` seconds
    (default ``SCHEDULER_TIMEOUT``)."""
    from distributed import Client

    timeout = SCHEDULER_TIMEOUT if timeout is None else timeout
    shown = _short(address)
    try:
        # a bare handshake first: a Client that fails to start leaves a finaliser that blocks the
        # interpreter's exit for another 20 s and prints a traceback
        asyncio.run(_handshake(address, timeout))
        return Client(address, timeout=timeout, set_as_default=False)
    except (ValueError, TypeError) as exc:
        raise ClusterError(f"--scheduler {shown!r} is not a scheduler address (expected e.g. tcp://host:8786): "
                           f"{_short(exc)}") from None
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"--scheduler {shown!r}: no Dask scheduler answered within {timeout:g} s "
                           f"({_short(exc)}); check the address and that the scheduler is running") from None
    except Exception as exc:  # noqa: BLE001 - e.g. another service on that port answers garbage
        cause = "its answer is not the Dask protocol" if isinstance(exc, MemoryError) else \
            f"{type(exc).__name__}: {_short(exc)}"
        raise ClusterError(f"--scheduler {shown!r} did not answer as a Dask scheduler ({cause})") from None


async def _handshake(address: str, timeout: float) -> None:
    from distributed.comm import connect

    comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout + 1.0)
    await comm.close()


def _short(value: object, limit: int = 200) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _run_dask(scheduler, market, custom, chunks, results, advance) -> None:
    from distributed import Client, as_completed

    client = scheduler if isinstance(scheduler, Client) else connect_scheduler(scheduler)
    try:
        # the panel travels once per worker; a fresh key (hash=False) so that the release of an earlier
        # sweep's scatter of the same panel can never drop this one
        shared = client.scatter(market, broadcast=True, hash=False)
        futures = [client.submit(_run_chunk, chunk, shared, custom, pure=False) for chunk in chunks]
        for fut in as_completed(futures):
            done = fut.result()
            results.update(done)
            advance(len(done))
    finally:
        if not isinstance(scheduler, Client):
            client.close()


def _frame(configs, grid, results) -> pl.DataFrame:
    rows = []
    for i, (values, _) in enumerate(configs):
        stats = results[i]
        rows.append({**{k: values[k] for k in grid}, **{k: stats.get(k) for k in ROW_STATS},
                     "error": stats.get("error")})
    return pl.DataFrame(rows, infer_schema_length=None).with_columns(pl.col("error").cast(pl.Utf8))


def failures(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows of a sweep whose combination could not run (``error`` set)."""
    return frame.filter(pl.col("error").is_not_null()) if "error" in frame.columns else frame.clear()


def check_rank_key(by: str) -> None:
    """``ConfigError`` unless ``by`` is one of ``RANK_KEYS`` (checked before a sweep computes)."""
    if by not in RANK_KEYS:
        raise ConfigError(f"--rank-by {by!r} is not a ranking statistic; choose one of {', '.join(RANK_KEYS)}")


def ranked(frame: pl.DataFrame, by: str = "sharpe", top: int = 10) -> pl.DataFrame:
    """The best ``top`` configs by a statistic (max_drawdown: closest to 0 first; costs, volatility
    and turnover: smallest first)."""
    check_rank_key(by)
    if "error" in frame.columns:
        frame = frame.filter(pl.col("error").is_null())
    return frame.sort(by, descending=by not in LOWER_IS_BETTER, nulls_last=True).head(top)


def write_sweep(frame: pl.DataFrame, out_dir: str | Path, grid: dict, by: str = "sharpe") -> Path:
    """Write sweep.parquet (every config) and ranking.md (the best 20 by ``by``) as a sweep folder,
    atomically with its manifest (``backtest.io.write_sweep_dir``). Returns the resolved folder."""
    from backtest.io import write_sweep_dir

    return write_sweep_dir(frame, ranking_markdown(frame, grid, by), out_dir)


def ranking_markdown(frame: pl.DataFrame, grid: dict, by: str = "sharpe") -> str:
    """ranking.md: the best 20 configs by ``by`` as a Markdown table."""
    best = ranked(frame, by, 20)
    cols = [*grid, "cagr", "volatility", "sharpe", "max_drawdown", "turnover_annualised", "costs_total"]
    lines = [f"# Sweep: {frame.height} configs, ranked by {by}", "", "| " + " | ".join(cols) + " |",
             "|" + "---|" * len(cols)]
    cell = lambda v: "–" if v is None else (sig(v, 4) if isinstance(v, float) else str(v))
    for r in best.select(cols).iter_rows():
        lines.append("| " + " | ".join(cell(v) for v in r) + " |")
    return "\n".join(lines) + "\n"
