"""Market data: the dense panel, loaders with validation, the asset taxonomy, a synthetic market."""

from index_engine.data.loaders import DataError, DataQualityWarning
from index_engine.data.panel import CATEGORIES, DataWarning, MarketData, panel_from_dense

__all__ = ["CATEGORIES", "DataError", "DataQualityWarning", "DataWarning", "MarketData", "panel_from_dense"]
