"""Analysis of finished runs: relative statistics against benchmarks and other runs, the drawdown
table, rolling statistics, the return distribution and contributions to return.

Library functions over numpy arrays and polars frames (dicts or polars frames out), with the
conventions of ``backtest.stats`` (UTC days, 365-day years, risk-free rate 0, ``None`` for an
undefined value). Each key and column is defined in docs/outputs.md ("Analysis").
"""

from backtest.analysis.contributions import contributions
from backtest.analysis.distribution import DISTRIBUTION_KEYS, return_distribution
from backtest.analysis.drawdowns import DRAWDOWN_COLUMNS, drawdown_table
from backtest.analysis.relative import RELATIVE_KEYS, relative_between, relative_stats
from backtest.analysis.rolling import ROLLING_COLUMNS, rolling_stats

__all__ = ["DISTRIBUTION_KEYS", "DRAWDOWN_COLUMNS", "RELATIVE_KEYS", "ROLLING_COLUMNS", "contributions",
           "drawdown_table", "relative_between", "relative_stats", "return_distribution", "rolling_stats"]
