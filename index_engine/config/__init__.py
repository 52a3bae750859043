"""The index methodology as a validated config (the public contract: see ``docs/config.md``).

Every section is a strict pydantic model with ``extra="forbid"``: a misspelt key or a value of the
wrong type is an error naming it. ``IndexConfig`` is the whole file; its sections are grouped into
``MethodologyConfig`` (what the index holds), ``ReplayConfig`` (costs, window) and ``RunSettings``.
"""

from index_engine.config.index import IndexConfig
from index_engine.config.methodology import (
    WEEKDAYS,
    MarketCapConfig,
    MethodologyConfig,
    RebalanceConfig,
    RegimeConfig,
    SelectionConfig,
    StableConfig,
    UniverseConfig,
    WeightingConfig,
)
from index_engine.config.prices import PricesConfig
from index_engine.config.regime import BreadthConfig, SignalConfig
from index_engine.config.replay import BacktestConfig, CostsConfig, ReplayConfig, SlippageConfig
from index_engine.config.run import BenchmarksConfig, DataConfig, RunSettings, SyntheticConfig
from index_engine.config.yaml_io import read_yaml
from index_engine.errors import ConfigError

__all__ = [
    "WEEKDAYS", "BacktestConfig", "BenchmarksConfig", "BreadthConfig", "ConfigError", "CostsConfig", "DataConfig",
    "IndexConfig", "MarketCapConfig", "MethodologyConfig", "PricesConfig", "RebalanceConfig", "RegimeConfig",
    "ReplayConfig", "RunSettings", "SelectionConfig", "SignalConfig", "SlippageConfig", "StableConfig",
    "SyntheticConfig", "UniverseConfig", "WeightingConfig", "read_yaml",
]
