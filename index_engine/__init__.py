"""index-engine: rules-based crypto index methodology, point in time.

The stages (universe → selection → weighting, with a regime on top) turn a ``MarketData`` panel
and an ``IndexConfig`` into an ``IndexPlan``; the ``backtest`` package replays it.
"""

__version__ = "0.1.0"

from index_engine.config import ConfigError, IndexConfig  # noqa: E402
from index_engine.data.panel import MarketData  # noqa: E402
from index_engine.plan import IndexPlan, PlanError, build_plan  # noqa: E402

__all__ = ["ConfigError", "IndexConfig", "IndexPlan", "MarketData", "PlanError", "build_plan", "__version__"]
