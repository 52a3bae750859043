"""Market data: the dense panel, loaders with validation, the asset taxonomy, a synthetic market."""

from index_engine.data.categories import CATEGORIES
from index_engine.data.panel import DataWarning, MarketData, panel_from_dense
from index_engine.errors import DataError, DataQualityWarning

__all__ = ["CATEGORIES", "DataError", "DataQualityWarning", "DataWarning", "MarketData", "panel_from_dense"]
