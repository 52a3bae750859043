"""Every error index-engine raises on purpose, under one base class (a leaf module: imports nothing).

Catch ``IndexEngineError`` to handle any of them; the CLI turns each into one clear line and exit
code 2. Each keeps its historical builtin base (``ValueError`` or ``RuntimeError``), so code that
caught those still works. Messages name the file, column, row or config key and what was expected.
"""

from __future__ import annotations


class IndexEngineError(Exception):
    """Base of every error the engine raises deliberately; the message is meant for the user."""


class ConfigError(IndexEngineError, ValueError):
    """A config file or value is invalid; the message names the key and what was expected."""


class DataError(IndexEngineError, ValueError):
    """Invalid input data; the message names the source, the column and example rows."""


class PlanError(IndexEngineError, ValueError):
    """The config cannot be applied to this market (names the key and the problem), e.g. a score
    column that ``universe.min_scores`` names is not in the data."""


class RuleError(PlanError):
    """A custom Python rule (``index_engine.Methodology``) failed or returned something unusable; the
    message names the rule, the trade (or decision) date and what was expected."""


class LookAheadError(RuleError):
    """A custom rule read data after its decision date; the message names the rule, the row it asked
    for and the decision date."""


class CostModelError(IndexEngineError, ValueError):
    """The cost settings cannot be applied to this market (names the key)."""


class BacktestError(IndexEngineError, RuntimeError):
    """The replay cannot continue (e.g. fixed costs exceed the portfolio value)."""


class QuoteError(IndexEngineError, ValueError):
    """The quote request is impossible (the message says why and which input)."""


class CoinGeckoError(IndexEngineError, RuntimeError):
    """A CoinGecko request failed for good, or a response did not have the documented shape."""


class ClusterError(IndexEngineError, RuntimeError):
    """``sweep --scheduler``: the Dask scheduler cannot be reached in time, or the address is not one
    (names the address, the timeout and the cause)."""


class RunFolderError(IndexEngineError, ValueError):
    """A run folder is missing, damaged, foreign or locked (names the folder and the problem)."""


class MissingExtraError(IndexEngineError, ImportError):
    """A feature needs an optional extra that is not installed; the message names the feature, the
    missing package and the ``pip install 'index-engine[extra]'`` that brings it."""


class DataQualityWarning(UserWarning):
    """Python warning category for suspicious-but-accepted input (see ``MarketData.warnings``)."""
