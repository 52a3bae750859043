"""The replay: simulation with exact costs, holdings, transactions, statistics, reports, CLI."""

from backtest.engine import BacktestError, run_backtest
from backtest.result import BacktestResult

__all__ = ["BacktestError", "BacktestResult", "run_backtest"]
