"""What every command shares: loading the market, printing user strings literally, quiet warnings.

User strings (asset ids, symbols, names, config names, error messages) may contain rich markup
(``[bold]``, ``[/]``) or terminal control sequences; ``text()`` turns them into a rich ``Text`` that
is never parsed as markup, with control characters shown escaped (``\\x1b``) so nothing reaches the
terminal raw. Everything printed for a user goes through it.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MAX_SHOWN = 2000


def console(stderr: bool = False) -> Console:
    """A rich console that never interprets markup or emoji codes in the strings it is given."""
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False, soft_wrap=True)


def clean(value: object, limit: int = MAX_SHOWN) -> str:
    """``str(value)`` with control characters escaped and bounded length."""
    s = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(value))
    return s if len(s) <= limit else s[: limit - 1] + "…"


def text(value: object, style: str | None = None) -> Text:
    """A literal rich ``Text`` of a user string (no markup, control characters escaped)."""
    return Text(clean(value), style=style or "")


def labelled(label: str, style: str, message: object) -> Text:
    """``label`` in ``style`` followed by a literal message, e.g. ``warning kind: message``."""
    return Text.assemble((label, style), " ", text(message))


def quiet_data_warnings() -> None:
    """Data-quality warnings are printed from the run's summary; silence the Python warning copy."""
    import warnings

    from index_engine.errors import DataQualityWarning

    warnings.simplefilter("ignore", DataQualityWarning)


def data_options(f):
    """``--data`` (repeatable) and ``--categories``, shared by run, holdings, quote and sweep."""
    f = click.option("--categories", type=click.Path(dir_okay=False), help="Categories CSV (asset_id,category).")(f)
    return click.option("--data", type=click.Path(dir_okay=False), multiple=True,
                        help="Long market table (.parquet or .csv); repeat to stack several files of one format "
                             "(e.g. both daily files). Default: the config's data section, else the embedded "
                             "synthetic market.")(f)


def load_market(cfg, data, categories: str | None):
    """The market for a run: ``--data`` (one or more Parquet or CSV files, stacked), else ``data.path``
    from the config, else the embedded synthetic market described by ``data.synthetic``."""
    from index_engine.data.panel import MarketData

    paths = [data] if isinstance(data, str) else list(data or ())
    if not paths and cfg.data.path is not None:
        paths = [cfg.data.path]
    cats = categories or cfg.data.categories
    if not paths:
        if categories:
            raise click.UsageError("--categories needs --data (the synthetic market has its own categories)")
        s = cfg.data.synthetic
        return MarketData.synthetic(seed=s.seed, n_assets=s.n_assets, days=s.days, start=s.start,
                                    n_stablecoins=s.n_stablecoins)
    for path in paths:
        if Path(path).suffix.lower() not in (".csv", ".parquet", ".pq"):
            raise click.BadParameter(f"{clean(path)}: expected a .parquet or .csv file", param_hint="--data")
    return MarketData.from_files(paths, categories=cats, scores=tuple(cfg.universe.min_scores))


def load_config(path: str, overrides: dict | None = None):
    """``IndexConfig.from_yaml`` with optional dotted overrides (validated like the file)."""
    from index_engine.config import IndexConfig

    cfg = IndexConfig.from_yaml(path)
    return cfg.with_overrides(overrides) if overrides else cfg


def kernels_compiled() -> bool:
    """Whether numba has cached the replay kernel on this machine (else the first run compiles for a while).

    Looks where numba caches: ``NUMBA_CACHE_DIR``, the ``__pycache__`` beside the kernel, and numba's
    user-wide cache folder (used when the package folder is read-only)."""
    import importlib.util
    import os

    spec = importlib.util.find_spec("backtest.kernels.replay")
    places = []
    if os.environ.get("NUMBA_CACHE_DIR"):
        places.append(Path(os.environ["NUMBA_CACHE_DIR"]))
    if spec is not None and spec.origin:
        places.append(Path(spec.origin).parent / "__pycache__")
    places.append(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "numba")
    return any(p.is_dir() and next(p.rglob("replay.simulate-*.nbi"), None) is not None for p in places)


def announce_compilation() -> None:
    """Say so on stderr when this run will compile the kernels (about 20 s, once per machine)."""
    if not kernels_compiled():
        console(stderr=True).print(text("compiling the engine's numba kernels: the first run on this machine takes "
                                         "about 20-60 s more; later runs load them from the cache", "dim"))
