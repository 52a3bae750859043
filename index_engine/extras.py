"""Optional extras: which ``pip install 'index-engine[...]'`` each feature needs, checked on use.

``pip install index-engine`` is the engine alone (numpy, numba, polars, pydantic, PyYAML, click,
rich): methodology, replay, statistics, Parquet outputs and the CLI. A feature that needs more says
so with ``MissingExtraError`` (an ``ImportError``) naming the extra, never with a bare
``ModuleNotFoundError`` from deep inside. The table is documented in docs/cli.md ("Installing").
"""

from __future__ import annotations

import importlib

from index_engine.errors import MissingExtraError

#: extra → the modules it provides (the extras of pyproject.toml, except ``all`` and ``dev``)
EXTRAS: dict[str, tuple[str, ...]] = {
    "report": ("jinja2", "markupsafe", "plotly"),  # report.html: run, report
    "sweep": ("distributed",),  # sweep --scheduler (a Dask cluster)
    "fetch": ("httpx", "httpcore"),  # data fetch (CoinGecko)
    "testing": ("hypothesis",),  # index_engine.testing strategies
    "pandas": ("pandas", "pyarrow"),  # .to_pandas() on the output frames (polars calls them)
    "export": ("xlsxwriter",),  # spreadsheet export
}


def missing_extra(extra: str, feature: str, module: str | None = None) -> MissingExtraError:
    """The error to raise when ``feature`` (e.g. "report.html") cannot import ``module`` of ``extra``."""
    what = f"the {module!r} package" if module else f"the {extra!r} extra"
    return MissingExtraError(f"{feature} needs {what}, which is not installed: "
                             f"pip install 'index-engine[{extra}]'")


def require_extra(extra: str, feature: str) -> None:
    """Import every module of ``extra`` (cheap once imported); ``MissingExtraError`` naming the
    first that is missing, the feature and the extra."""
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise missing_extra(extra, feature, module) from exc


def has_extra(extra: str) -> bool:
    """Whether every module of ``extra`` imports."""
    try:
        require_extra(extra, extra)
    except MissingExtraError:
        return False
    return True
