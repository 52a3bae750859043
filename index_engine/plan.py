"""The methodology end to end: what the index should hold at each trade date, point in time.

``build_plan(cfg, market)`` runs the stages universe → selection → weighting with the regime on
top and hands the backtest an ``IndexPlan``: the trade dates, why each one trades, and the target
weights. Nothing here knows about money, costs or holdings.

Timing: a trade at observation t executes at the close of t; every decision for it (regime,
eligibility, ranking, weights) uses data observed at the close of d = t − decision_lag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index_engine.codes import KIND_INITIAL, KIND_REGIME_ENTRY, KIND_REGIME_EXIT, KIND_REGIME_SCALE, KIND_SCHEDULED
from index_engine.config import IndexConfig
from index_engine.custom import custom_members, custom_raw_weights, custom_share, drop_zero_weights
from index_engine.data.membership import load_membership
from index_engine.data.panel import DataWarning, MarketData
from index_engine.diagnostics import (
    degenerate_warnings,
    membership_warnings,
    selection_warnings,
    stale_decision_warning,
    weighting_warnings,
)
from index_engine.errors import PlanError
from index_engine.kernels.capping import capped_weights
from index_engine.kernels.selection import TradeSchedule
from index_engine.kernels.sparse import Targets
from index_engine.market_cap import ranking_cap
from index_engine.methodology import Methodology, Rule, split
from index_engine.regime import RegimeSeries, compute_regime, follow_series, series_key, share_in_effect, signal_series
from index_engine.schedule import calendar_mask, rebalance_mask
from index_engine.selection import panel_view, select, selection_rules
from index_engine.universe import screens
from index_engine.weighting import weigh, weight_rules


class PlanCache:
    """Work shared by many configs over one market — regime series, schedules, whole plans —
    computed once and reused (parameter sweeps). Keys are hashable descriptions of the inputs."""

    def __init__(self) -> None:
        self._memo: dict = {}

    def get(self, key, compute):
        """The value cached under ``key``, computed by ``compute()`` the first time."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


@dataclass(frozen=True)
class IndexPlan:
    """Trade dates and target weights of an index over a backtest window.

    Attributes:
        first_row, last_row: the backtest window as inclusive observation rows of the panel.
        decision_lag: observations between a trade and the data its decisions use.
        trade_rows: (R,) observation rows of the trade dates, increasing.
        decision_rows: (R,) rows whose data each trade uses (trade_rows − decision_lag; −1 = none).
        trade_kind: (R,) ``codes.KIND_*``: initial investment, scheduled, regime exit/entry/scale.
        targets: target weights of the risk assets per trade (sparse CSR, ``kernels.sparse.Targets``),
            scaled by the risk share; the stable sleeve gets 1 − the row sum.
        reselected: (R,) True where the trade re-selected its members (a reconstitution).
        skippable: (R,) True where a drift band may skip the trade (a scheduled reweight-only date).
        drift_band: ``rebalance.drift_band`` (0: never skip).
        n_assets: N, the panel's number of asset columns.
        stable_col: column of the stable asset, or −1 for the ``cash`` sleeve.
        regime: the regime series over the whole panel (state through each observation).
        regime_at: (T,) state in effect for a trade at each observation (1 bull where the risk share
            is > 0; decision lag and ``evaluate`` sampling applied).
        share_at: (T,) risk share in effect for a trade at each observation (1.0 / 0.0 binary; k / m
            graduated).
        warnings: methodology warnings (infeasible caps, short selections).

    """

    first_row: int
    last_row: int
    decision_lag: int
    trade_rows: np.ndarray
    decision_rows: np.ndarray
    trade_kind: np.ndarray
    targets: Targets
    reselected: np.ndarray
    skippable: np.ndarray
    drift_band: float
    n_assets: int
    stable_col: int
    regime: RegimeSeries
    regime_at: np.ndarray
    share_at: np.ndarray
    warnings: tuple[DataWarning, ...]

    @property
    def weights(self) -> np.ndarray:
        """(R, N) dense target weights — a convenience that allocates R × N floats."""
        return self.targets.to_dense(self.n_assets)


def backtest_window(cfg: IndexConfig, market: MarketData) -> tuple[int, int]:
    """Inclusive observation rows of the backtest window; raises PlanError when it is empty."""
    if market.n_dates == 0:
        raise PlanError(f"the market data ({market.source}) has no observations")
    first = 0 if cfg.backtest.start is None else market.date_index(np.datetime64(cfg.backtest.start, "D"))
    if cfg.backtest.end is None:
        last = market.n_dates - 1
    else:
        last = int(np.searchsorted(market.dates, np.datetime64(cfg.backtest.end, "D"), side="right")) - 1
    if first > last or first >= market.n_dates:
        raise PlanError(
            f"backtest window start={cfg.backtest.start} end={cfg.backtest.end} holds no observation of "
            f"the data ({market.dates[0]} .. {market.dates[-1]})"
        )
    return first, last


def stable_column(cfg: IndexConfig, market: MarketData) -> int:
    """Column of ``stable.asset`` in the panel, or −1 for the ``cash`` sleeve."""
    if cfg.stable.asset == "cash":
        return -1
    try:
        return market.asset_index(cfg.stable.asset)
    except KeyError:
        raise PlanError(f"stable.asset: {cfg.stable.asset!r} is not an asset_id in the data "
                        f"({market.source})") from None


def trade_schedule(
    share_at: np.ndarray, scheduled: np.ndarray, first: int, last: int
) -> tuple[np.ndarray, np.ndarray]:
    """Trade rows and kinds inside [first, last] from the risk share in effect at each row.

    Invest at ``first`` when the share is > 0 there; afterwards trade on every change of the share
    (to 0: regime_exit; from 0: regime_entry; between two positive shares: regime_scale) and on
    scheduled dates (while the share is 0 their target is the stable sleeve, so they only complete
    exits left unfilled by costs.min_order_usd / max_participation). ``first`` must be a row with
    decision data (see ``build_plan``).
    """
    if first > last:
        return np.zeros(0, np.int64), np.zeros(0, np.int8)
    rows = np.arange(first, last + 1)
    share = share_at[first : last + 1]
    prev = np.empty_like(share)
    prev[0] = share[0]
    prev[1:] = share[:-1]
    kind = np.full(rows.size, -1, np.int8)
    changed = share != prev
    kind[scheduled[first : last + 1]] = KIND_SCHEDULED
    kind[changed & (prev > 0) & (share > 0)] = KIND_REGIME_SCALE
    kind[changed & (prev <= 0)] = KIND_REGIME_ENTRY
    kind[changed & (share <= 0)] = KIND_REGIME_EXIT
    if share[0] > 0:
        kind[0] = KIND_INITIAL
    keep = kind >= 0
    return rows[keep], kind[keep]


def build_plan(spec: IndexConfig | Methodology, market: MarketData, cache: PlanCache | None = None) -> IndexPlan:
    """The methodology's trade dates and target weights for ``spec`` over ``market``.

    ``spec`` is an ``IndexConfig`` or a ``Methodology`` (a config with custom Python rules, see
    ``index_engine.methodology``). ``cache`` (optional) shares the regime series, calendars, smoothed
    caps and membership lists between calls (sweeps over one market).
    """
    cfg, custom = split(spec)
    cache = cache or PlanCache()
    first, last = backtest_window(cfg, market)
    stable_col = stable_column(cfg, market)
    lag = cfg.rebalance.decision_lag
    path = cfg.universe.membership
    membership = cache.get(("membership", path), lambda: load_membership(path, market)) if path else None

    # trade dates: the rebalance calendar, the reconstitution calendar and the list dates (+ switches)
    rb = cfg.rebalance
    scheduled = cache.get(("schedule", rb.frequency, rb.weekday), lambda: rebalance_mask(market.dates, rb))
    recon = np.zeros(market.n_dates, bool)
    if rb.reconstitution is not None:
        recon |= cache.get(("schedule", rb.reconstitution, rb.weekday),
                           lambda: calendar_mask(market.dates, rb.reconstitution, rb.weekday))
    if membership is not None:
        rows = np.searchsorted(market.dates, membership.dates, side="left")
        recon[rows[rows < market.n_dates]] = True
    # before row `lag` no data has been observed to decide on: the window starts in the stable sleeve
    start = max(first, lag)
    regime, share_at = _regime(cfg, market, cache, scheduled | recon, start, last,
                               custom.regime if custom is not None else None)
    trade_rows, kind = trade_schedule(share_at, scheduled | recon, start, last)
    decision_rows = trade_rows - lag
    active = share_at[trade_rows] > 0
    starts = (kind == KIND_INITIAL) | (kind == KIND_REGIME_ENTRY)
    if rb.reconstitution is None and membership is None:
        reselect = review = np.ones(trade_rows.size, bool)  # every trade re-selects
    else:
        review = recon[trade_rows] | starts | (rb.reconstitution is None)
        reselect = review.copy()
    schedule = TradeSchedule(trade_rows=trade_rows.astype(np.int64), decision_rows=decision_rows.astype(np.int64),
                             active=active, reselect=reselect, review=review)

    list_of_trade = membership.list_of_rows(market.dates[trade_rows]) if membership is not None else None
    score = cache.get(("ranking_cap", cfg.market_cap.model_dump_json()), lambda: ranking_cap(market, cfg.market_cap))
    view = panel_view(market, score)
    scr = screens(market, cfg.universe, schedule.decision_rows, stable_col, list_of_trade,
                  None if membership is None else membership.members)
    top_n = cfg.selection.top_n
    if custom is not None and custom.selection is not None:
        ptr, cols = custom_members(custom.selection, market, view, scr, schedule, top_n)
        missing_scores = 0
    else:
        ptr, cols, missing_scores = select(view, scr, selection_rules(cfg.selection, market), schedule)
    rules = weight_rules(cfg.weighting, market, None if membership is None else membership.weights, list_of_trade)
    if custom is not None and custom.weighting is not None:
        raw = custom_raw_weights(custom.weighting, market, ptr, cols, schedule, top_n)
        ptr, cols, raw = drop_zero_weights(ptr, cols, raw)  # a member without weight is not held
        weight, flags = capped_weights(ptr, cols, raw, rules)
        targets = Targets(ptr, cols, weight)
    else:
        targets, flags = weigh(ptr, cols, score, schedule.decision_rows, rules)
    targets = _scaled(targets, share_at[trade_rows])
    skippable = _drift_candidates(cfg, kind, reselect, recon[trade_rows], ptr, cols)

    warnings = [*weighting_warnings(cfg, market, trade_rows, flags),
                *selection_warnings(cfg, market, trade_rows, active, np.diff(ptr), missing_scores)]
    if membership is not None and list_of_trade is not None:
        warnings += membership_warnings(membership, market, trade_rows, list_of_trade)
    stale = stale_decision_warning(market, trade_rows, decision_rows)
    if stale is not None:
        warnings.append(stale)
    warnings += degenerate_warnings(cfg, market, regime, first, last)
    return IndexPlan(first, last, lag, trade_rows, decision_rows, kind, targets, reselect & active, skippable,
                     float(rb.drift_band), market.n_assets, stable_col, regime, (share_at > 0).astype(np.int8),
                     share_at, tuple(warnings))


def _regime(cfg: IndexConfig, market: MarketData, cache: PlanCache, scheduled: np.ndarray, start: int, last: int,
            rule: Rule | None = None) -> tuple[RegimeSeries, np.ndarray]:
    """The regime series and (T,) the risk share in effect for a trade at each row: the share at the
    decision row, sampled at ``start`` and the ``scheduled`` rows only when ``evaluate: rebalance``.
    A custom regime ``rule`` replaces ``regime.signal`` (its shares at the window's decision rows)."""
    g, u = cfg.regime, cfg.universe
    lag = cfg.rebalance.decision_lag
    sample = None
    if g.evaluate == "rebalance":
        sample = scheduled.copy()
        sample[min(start, market.n_dates - 1)] = True
    if rule is not None:
        lo, hi = max(0, start - lag), last - lag
        share = cache.get(("custom_regime", rule.key(), lo, hi),
                          lambda: custom_share(rule, market, lo, hi, cfg.selection.top_n))
        nan = np.full(market.n_dates, np.nan)
        return (RegimeSeries((), share, (share > 0).astype(np.int8), nan, nan, nan, nan),
                share_in_effect(share, lag, sample))

    def part(sig, name):
        key = series_key(sig, u)
        series = None if sig.signal == "breadth" else cache.get(("series", key),
                                                                 lambda: follow_series(market, sig, u))
        return cache.get(("signal", key, sig.model_dump_json(), name),
                         lambda: signal_series(market, sig, u, name, series))

    regime = cache.get(("regime", g.model_dump_json(), tuple(u.exclude_categories), tuple(u.assets or ())),
                       lambda: compute_regime(market, g, u, None if g.signal == "none" else
                                              [part(p, n) for p, n in zip(g.parts(), g.part_names())]))
    return regime, share_in_effect(regime.share, lag, sample)


def _scaled(targets: Targets, share: np.ndarray) -> Targets:
    """Targets with each trade's weights multiplied by its risk share (unchanged where it is 1)."""
    if np.all(share == 1.0):
        return targets
    factor = np.repeat(share, np.diff(targets.ptr))
    return Targets(targets.ptr, targets.col, targets.weight * factor)


def _drift_candidates(cfg: IndexConfig, kind: np.ndarray, reselect: np.ndarray, calendar_recon: np.ndarray,
                      ptr: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(R,) trades a drift band may skip: scheduled, not a calendar reconstitution (nor a list date), and
    with the same members as the trade before (so nothing enters or leaves)."""
    out = np.zeros(kind.size, bool)
    if cfg.rebalance.drift_band <= 0:
        return out
    for k in range(1, kind.size):
        if kind[k] != KIND_SCHEDULED or calendar_recon[k]:
            continue
        if cfg.rebalance.reconstitution is not None and reselect[k]:
            continue
        a, b = cols[ptr[k - 1]: ptr[k]], cols[ptr[k]: ptr[k + 1]]
        out[k] = a.size > 0 and np.array_equal(a, b)
    return out
