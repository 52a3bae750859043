"""Methodology warnings: what a plan could not do as configured, counted and dated, never silent.

Each function returns ``DataWarning`` objects for the run summary (``summary.json`` → ``warnings``).
"""

from __future__ import annotations

import numpy as np

from index_engine.config import IndexConfig
from index_engine.data.panel import DataWarning, MarketData
from index_engine.kernels.capping import (
    FIXED_MISSING,
    FIXED_RESCALED,
    INFEASIBLE_CAP,
    INFEASIBLE_CATEGORY,
    INFEASIBLE_FLOOR,
)
from index_engine.kernels.rolling import trailing_median
from index_engine.regime import RegimeSeries


def _dates(market: MarketData, rows: np.ndarray, limit: int = 10) -> list[str]:
    return [str(market.dates[r]) for r in rows[:limit]]


def weighting_warnings(cfg: IndexConfig, market: MarketData, trade_rows: np.ndarray, flags: np.ndarray) -> list:
    """Infeasible caps, floors or category caps, and fixed-weight assets that were not members."""
    w = cfg.weighting
    out = []
    for bit, kind, text in (
        (INFEASIBLE_CAP, "cap_infeasible",
         f"the caps (weighting.max_weight={w.max_weight}, rank_caps={w.rank_caps}) sum to less than the weight to "
         "place: weights proportional to the caps are used there (equal weights for one cap)"),
        (INFEASIBLE_FLOOR, "floor_infeasible",
         f"weighting.min_weight={w.min_weight} floors sum to more than the weight to place: weights proportional "
         "to the floors are used there"),
        (INFEASIBLE_CATEGORY, "category_cap_infeasible",
         f"weighting.category_caps={w.category_caps} cannot all hold (every member is in a capped category): the "
         "category caps are ignored there"),
        (FIXED_MISSING, "fixed_not_selected",
         f"a weighting.fixed asset ({', '.join(sorted(w.fixed or {}))}) was not a member: the other members share "
         "its weight there"),
        (FIXED_RESCALED, "fixed_rescaled",
         "only weighting.fixed assets were members and their weights sum below 1: they were scaled up to sum to 1 "
         "there (nothing else could take the rest)"),
    ):
        hit = (flags & bit) != 0
        if hit.any():
            out.append(DataWarning(kind, int(hit.sum()), f"{int(hit.sum())} trades: {text}",
                                   _dates(market, trade_rows[hit])))
    return out


def selection_warnings(cfg: IndexConfig, market: MarketData, trade_rows: np.ndarray, active: np.ndarray,
                       n_sel: np.ndarray, missing_scores: int) -> list:
    """Short or empty selections, scores missing, ids of ``universe.assets`` not in the data."""
    out = []
    short = active & (n_sel < cfg.selection.top_n)
    if short.any():
        out.append(DataWarning(
            "selection_short", int(short.sum()),
            f"fewer than top_n={cfg.selection.top_n} eligible assets at {int(short.sum())} trades "
            f"(min {int(n_sel[short].min())})",
            [f"{market.dates[r]}: {c}" for r, c in zip(trade_rows[short][:10], n_sel[short][:10])],
        ))
    empty = active & (n_sel == 0)
    if empty.any():
        out.append(DataWarning(
            "selection_empty", int(empty.sum()),
            f"no eligible asset at {int(empty.sum())} bullish trades: the stable sleeve is held there",
            _dates(market, trade_rows[empty]),
        ))
    if missing_scores:
        out.append(DataWarning(
            "missing_score", int(missing_scores),
            f"{missing_scores} (asset, trade) pairs were excluded because a universe.min_scores score was missing",
        ))
    for key, ids in (("universe.assets", cfg.universe.assets), ("weighting.fixed", list(cfg.weighting.fixed or {}))):
        unknown = sorted(set(ids or ()) - set(market.asset_ids.tolist()))
        if unknown:
            out.append(DataWarning(
                "unknown_assets", len(unknown),
                f"{key} names {len(unknown)} asset_ids that are not in the data: they are ignored", unknown[:10],
            ))
    return out


def membership_warnings(membership, market: MarketData, trade_rows: np.ndarray, list_of_trade: np.ndarray) -> list:
    """Listed ids absent from the data; trades before the first list (they hold no risk assets)."""
    out = []
    if membership.unknown:
        out.append(DataWarning(
            "membership_unknown_ids", len(membership.unknown),
            f"{membership.source} lists {len(membership.unknown)} asset_ids that are not in the market data: they "
            "cannot be held", membership.unknown[:10],
        ))
    before = list_of_trade < 0
    if before.any():
        out.append(DataWarning(
            "membership_before_first_list", int(before.sum()),
            f"{int(before.sum())} trades come before the first membership list ({membership.dates[0]}): no asset "
            "is eligible there", _dates(market, trade_rows[before]),
        ))
    return out


def stale_decision_warning(market: MarketData, trade_rows: np.ndarray, decision_rows: np.ndarray):
    """Trades whose decision data is much older than the calendar's usual spacing (e.g. a data hole)."""
    if trade_rows.size == 0 or market.n_dates < 2:
        return None
    days = market.dates.astype(np.int64)
    have = decision_rows >= 0
    # the usual spacing is the median of the calendar's last SPACING_WINDOW gaps up to each trade row:
    # later data never changes whether an earlier trade is flagged
    spacing = trailing_median_gap(days)
    d = decision_rows[have]
    usual = spacing[trade_rows[have]]
    age = days[trade_rows[have]] - days[d]
    lag = np.maximum(trade_rows[have] - d, 1)
    stale = age > 3 * usual * lag
    if not stale.any():
        return None
    rows = trade_rows[have][stale]
    return DataWarning(
        "stale_decision", int(stale.sum()),
        f"{int(stale.sum())} trades decide on data more than 3× the usual spacing of the calendar before them "
        f"(median {float(np.median(usual[stale])):g} days) older than the trade date (max {int(age.max())} days): a "
        "hole in the data; consider backtest.start after it",
        [f"{market.dates[r]} decides on {market.dates[d]}" for r, d in zip(rows[:10], decision_rows[have][stale][:10])],
    )


SPACING_WINDOW = 30


def trailing_median_gap(days: np.ndarray, window: int = SPACING_WINDOW) -> np.ndarray:
    """(T,) median of the last ``window`` gaps (days) between consecutive observations up to each row
    (row 0: 1 day)."""
    out = np.ones(days.shape[0])
    if days.shape[0] > 1:
        out[1:] = trailing_median(np.diff(days).astype(float), window)
    return out


# ---- degenerate settings: they run, but cannot do what they say inside this backtest window ----------
#: the key that sets how many observations a signal needs before it is defined (drawdown: none)
_WINDOW_KEY = {"total_market_cap_sma": "window", "asset_price_sma": "window", "sma_crossover": "window",
               "ema_crossover": "window", "breadth": "breadth.window", "momentum": "momentum_window"}


def degenerate_warnings(cfg: IndexConfig, market: MarketData, regime: RegimeSeries, first: int, last: int) -> list:
    """Settings that run silently but are degenerate over the backtest window [first, last] (rows):
    a single observation (``single_observation``); a ``decision_lag`` that leaves no decision data
    inside it (``no_decision_data``: the index never invests); a regime signal never defined at its
    decision rows (``regime_never_defined``: its window is longer than the data, so it counts as
    bullish throughout); confirmations or a dwell longer than the window (``regime_longer_than_window``:
    at most one such switch can happen inside it)."""
    out = []
    lag = cfg.rebalance.decision_lag
    span = f"{market.dates[first]} .. {market.dates[last]}"
    if first == last:
        out.append(DataWarning(
            "single_observation", 1,
            f"the backtest window holds a single observation ({market.dates[first]}): there is no return, so "
            "volatility, Sharpe and drawdown are undefined (null)", [str(market.dates[first])]))
    if lag > last:
        out.append(DataWarning(
            "no_decision_data", 1,
            f"rebalance.decision_lag={lag}: a trade decides on data {lag} observations earlier, but the backtest "
            f"window ({span}) ends at observation {last + 1} of the data: no trade has decision data, the index "
            "never invests and holds the stable sleeve throughout", [f"decision_lag={lag}, window {span}"]))
        return out
    d0, d1 = max(first, lag) - lag, last - lag  # the decision rows of the window's trades
    n = d1 - d0 + 1
    g = cfg.regime
    prefix = ["regime."] if g.signal != "composite" else [f"regime.signals[{i}]." for i in range(len(g.parts()))]
    never, long = [], []
    for sig, series, pre in zip(g.parts(), regime.signals, prefix):
        defined = np.isfinite(series.value[d0 : d1 + 1]) & np.isfinite(series.reference[d0 : d1 + 1])
        if not defined.any():
            key = _WINDOW_KEY.get(sig.signal)
            size = "" if key is None else f"{pre}{key}={_get(sig, key)}, "
            never.append(f"{pre}signal={sig.signal} ({size}{market.n_dates} observations in the data)")
        for key, value, set_ in (("confirm", sig.confirm, sig.entry_confirm is None or sig.exit_confirm is None),
                                 ("entry_confirm", sig.entry_confirm, True), ("exit_confirm", sig.exit_confirm, True),
                                 ("min_dwell", sig.min_dwell, True)):
            if set_ and value is not None and value > n:
                long.append(f"{pre}{key}={value}")
    if never:
        out.append(DataWarning(
            "regime_never_defined", len(never),
            f"{len(never)} regime signal(s) are never defined at the decision rows of the backtest window ({span}, "
            f"{n} observations): their window needs more observations than the data has by then (or the series they "
            "follow has no data there), so they count as bullish throughout and never move the index to the "
            "stable sleeve", never))
    if long:
        out.append(DataWarning(
            "regime_longer_than_window", len(long),
            f"{', '.join(long)}: longer than the backtest window ({span}, {n} decision observations); a switch "
            "needs more consecutive confirming observations (or, for min_dwell, a longer stay in the state) than "
            "the window has, so at most one such switch can happen inside it", long))
    return out


def _get(sig, dotted: str):
    for part in dotted.split("."):
        sig = getattr(sig, part)
    return sig
