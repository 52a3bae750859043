"""What a custom Python rule sees: ``RuleContext``, read-only views of the panel through the decision row.

A rule runs for one decision (row *d*, and for selection and weighting the trade row *t* = d + lag).
Every accessor returns read-only numpy views; asking for a row after *d* raises ``LookAheadError``
naming the rule, the row and the decision date, and a row before the data (negative) is all NaN. The
only look at row *t* is ``tradable``: which assets have a valid close to trade at.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from index_engine.data.panel import MarketData
from index_engine.errors import LookAheadError

_FIELDS = ("price", "market_cap", "volume")


def _read_only(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


class RuleContext:
    """One decision of a rule.

    d / t / k: decision row, trade row (the regime's context has t = d) and trade index (−1 for the
    regime). date / trade_date: their dates (numpy datetime64[D], UTC days). params: the rule's
    keyword parameters. Masks (N,) bool, read-only: ``eligible`` — passes the universe screens for
    this trade (valid price and market cap at *d*, a close at *t*, categories, history, volume,
    scores, lists); ``selected`` — the members chosen for this trade (weighting rules); ``tradable``
    — a valid close at *t*. ``top_n`` is ``selection.top_n``.
    """

    __slots__ = ("_market", "d", "t", "k", "rule", "params", "top_n", "eligible", "selected", "tradable")

    def __init__(self, market: MarketData, d: int, t: int, k: int, rule: str, params: dict, top_n: int,
                 eligible: Optional[np.ndarray] = None, selected: Optional[np.ndarray] = None) -> None:
        self._market = market
        self.d, self.t, self.k, self.rule, self.params, self.top_n = d, t, k, rule, params, top_n
        n = market.n_assets
        none = np.zeros(n, bool)
        self.eligible = _read_only(none if eligible is None else eligible)
        self.selected = _read_only(none if selected is None else selected)
        self.tradable = _read_only(np.isfinite(market.price[t]) & (market.price[t] > 0))

    # ---- the panel's fixed facts ---------------------------------------------------------------
    @property
    def n_assets(self) -> int:
        """N, the number of asset columns."""
        return self._market.n_assets

    @property
    def asset_ids(self) -> np.ndarray:
        """(N,) asset ids, sorted (the column order of every array)."""
        return _read_only(self._market.asset_ids)

    @property
    def categories(self) -> np.ndarray:
        """(N,) category of each asset (``stablecoin``, ``wrapped``, ``pegged``, ``exchange_token``, ``other``)."""
        return _read_only(self._market.categories)

    @property
    def date(self) -> np.datetime64:
        """The decision date (row d)."""
        return self._market.dates[self.d]

    @property
    def trade_date(self) -> np.datetime64:
        """The trade date (row t)."""
        return self._market.dates[self.t]

    @property
    def dates(self) -> np.ndarray:
        """(d + 1,) the observation dates through the decision date."""
        return _read_only(self._market.dates[: self.d + 1])

    # ---- data through d ------------------------------------------------------------------------
    def _check(self, row: int, what: str) -> int:
        row = int(row)
        if row > self.d:
            day = self._market.dates[row] if row < self._market.n_dates else f"row {row}"
            raise LookAheadError(
                f"rule {self.rule!r} read {what} of {day} (row {row}) while deciding on {self.date} (row {self.d}); "
                "a rule sees data through its decision date only")
        return row

    def _row(self, field: str, row: int) -> np.ndarray:
        row = self._check(row, field)
        if row < 0:
            return _read_only(np.full(self._market.n_assets, np.nan))
        return _read_only(getattr(self._market, field)[row])

    def price_at(self, row: int) -> np.ndarray:
        """(N,) closes (USD) at ``row`` ≤ d; NaN where unknown (and before the data)."""
        return self._row("price", row)

    def market_cap_at(self, row: int) -> np.ndarray:
        """(N,) market caps (USD) at ``row`` ≤ d; NaN where unknown."""
        return self._row("market_cap", row)

    def volume_at(self, row: int) -> np.ndarray:
        """(N,) 24 h volumes (USD) at ``row`` ≤ d; NaN where unknown."""
        return self._row("volume", row)

    def score_at(self, name: str, row: int) -> np.ndarray:
        """(N,) a score column of the data (``MarketData.scores``) at ``row`` ≤ d."""
        row = self._check(row, f"score {name!r}")
        if name not in self._market.scores:
            raise KeyError(f"score {name!r} is not loaded (loaded: {', '.join(self._market.scores) or 'none'})")
        if row < 0:
            return _read_only(np.full(self._market.n_assets, np.nan))
        return _read_only(self._market.scores[name][row])

    def history(self, field: str = "price", n: Optional[int] = None) -> np.ndarray:
        """(rows, N) ``field`` (``price``, ``market_cap`` or ``volume``) over the last ``n`` observations
        through d (all of them when ``n`` is None; fewer at the start of the data)."""
        if field not in _FIELDS:
            raise ValueError(f"history field {field!r}: expected one of {', '.join(_FIELDS)}")
        start = 0 if n is None else max(0, self.d + 1 - int(n))
        return _read_only(getattr(self._market, field)[start: self.d + 1])

    def __repr__(self) -> str:
        return (f"RuleContext(rule={self.rule!r}, decision {self.date} (row {self.d}), trade {self.trade_date} "
                f"(row {self.t}), {self.n_assets} assets)")
