"""The replay: simulation with exact costs, holdings, transactions, statistics, reports, CLI.

Public names are loaded on first use (PEP 562), so ``import backtest.cli`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "run_backtest": "backtest.engine",
    "BacktestResult": "backtest.result",
    "BacktestError": "index_engine.errors",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover - for type checkers; at run time __getattr__ serves these names
    from backtest.engine import run_backtest  # noqa: F401
    from backtest.result import BacktestResult  # noqa: F401
    from index_engine.errors import BacktestError  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'backtest' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
