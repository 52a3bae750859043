"""Property-testing helpers: Hypothesis strategies for markets and configs, and invariant checkers.

Test your own rules against the engine (see ``docs/testing.md``)::

    @settings(deadline=None)
    @given(market_and_config())
    def test_my_rules(market_config):
        market, cfg = market_config
        check_result_invariants(run_backtest(cfg, market), market)

Markets are drawn from a numpy seed plus structural parameters (sizes, calendar, probabilities of
listings, deaths, gaps...), so Hypothesis still shrinks a failure to a small example.
"""

from __future__ import annotations

import importlib
from typing import Any

from index_engine.extras import missing_extra

try:
    import hypothesis  # noqa: F401
except ImportError as exc:  # the strategies need Hypothesis: pip install 'index-engine[testing]'
    raise missing_extra("testing", "index_engine.testing", exc.name) from exc

from index_engine.testing.strategies import (
    CALENDARS,
    index_configs,
    market_and_config,
    markets,
    regime_sections,
    signal_sections,
)

#: checkers that run or read replays live in ``backtest.testing`` (the methodology package never
#: imports the replay); they are loaded from there on first use under their documented names.
_REPLAY_CHECKS = ("check_result_invariants", "check_no_lookahead")

__all__ = ["CALENDARS", "check_no_lookahead", "check_result_invariants", "index_configs",
           "market_and_config", "markets", "regime_sections", "signal_sections"]


def __getattr__(name: str) -> Any:
    if name in _REPLAY_CHECKS:
        return getattr(importlib.import_module("backtest.testing"), name)
    raise AttributeError(f"module 'index_engine.testing' has no attribute {name!r}")
