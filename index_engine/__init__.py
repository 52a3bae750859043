"""index-engine: rules-based crypto index methodology, point in time.

The stages (universe → selection → weighting, with a regime on top) turn a ``MarketData`` panel
and an ``IndexConfig`` into an ``IndexPlan``; the ``backtest`` package replays it. Public names are
loaded on first use (PEP 562), so importing a leaf module (``index_engine.errors``) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ConfigError": "index_engine.errors",
    "PlanError": "index_engine.errors",
    "IndexEngineError": "index_engine.errors",
    "IndexConfig": "index_engine.config",
    "MarketData": "index_engine.data.panel",
    "IndexPlan": "index_engine.plan",
    "build_plan": "index_engine.plan",
    "Methodology": "index_engine.methodology",
    "RuleContext": "index_engine.context",
    "RuleError": "index_engine.errors",
    "LookAheadError": "index_engine.errors",
}
__all__ = sorted([*_EXPORTS, "__version__"])

if TYPE_CHECKING:  # pragma: no cover - for type checkers; at run time __getattr__ serves these names
    from index_engine.config import IndexConfig  # noqa: F401
    from index_engine.context import RuleContext  # noqa: F401
    from index_engine.data.panel import MarketData  # noqa: F401
    from index_engine.errors import ConfigError, IndexEngineError, LookAheadError, PlanError, RuleError  # noqa: F401
    from index_engine.methodology import Methodology  # noqa: F401
    from index_engine.plan import IndexPlan, build_plan  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'index_engine' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
