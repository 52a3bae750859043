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

from index_engine.codes import BULL, KIND_INITIAL, KIND_REGIME_ENTRY, KIND_REGIME_EXIT, KIND_SCHEDULED
from index_engine.config import IndexConfig
from index_engine.data.panel import DataWarning, MarketData
from index_engine.errors import PlanError
from index_engine.kernels.capping import INFEASIBLE_CAP
from index_engine.kernels.selection import TradeSchedule
from index_engine.kernels.sparse import Targets
from index_engine.regime import RegimeSeries, compute_regime, regime_signal
from index_engine.schedule import rebalance_mask
from index_engine.selection import panel_view, select
from index_engine.universe import screens
from index_engine.weighting import weigh


class PlanCache:
    """Work shared by many configs over one market — regime series, schedules, whole plans —
    computed once and reused (parameter sweeps). Keys are hashable descriptions of the inputs."""

    def __init__(self) -> None:
        self._memo: dict = {}

    def get(self, key, compute):
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
        trade_kind: (R,) ``codes.KIND_*``: initial investment, scheduled, regime exit/entry.
        targets: target weights of the risk assets per trade (sparse CSR, ``kernels.sparse.Targets``);
            the stable sleeve gets 1 − the row sum.
        reselected: (R,) True where the trade re-selected its members (a reconstitution).
        n_assets: N, the panel's number of asset columns.
        stable_col: column of the stable asset, or −1 for the ``cash`` sleeve.
        regime: the regime series over the whole panel (state through each observation).
        regime_at: (T,) state in effect for a trade at each observation (lag applied).
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
    n_assets: int
    stable_col: int
    regime: RegimeSeries
    regime_at: np.ndarray
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
    if cfg.stable.asset == "cash":
        return -1
    try:
        return market.asset_index(cfg.stable.asset)
    except KeyError:
        raise PlanError(f"stable.asset: {cfg.stable.asset!r} is not an asset_id in the data ({market.source})") from None


def trade_schedule(
    regime_at: np.ndarray, scheduled: np.ndarray, first: int, last: int
) -> tuple[np.ndarray, np.ndarray]:
    """Trade rows and kinds inside [first, last].

    Invest at ``first`` when bullish there; afterwards trade on every regime switch (bull→bear:
    regime_exit, bear→bull: regime_entry) and on scheduled dates (while bearish their target is the
    stable sleeve). ``first`` must
    be a row with decision data (see ``build_plan``).
    """
    if first > last:
        return np.zeros(0, np.int64), np.zeros(0, np.int8)
    rows = np.arange(first, last + 1)
    state = regime_at[first : last + 1]
    prev = np.empty_like(state)
    prev[0] = state[0]
    prev[1:] = state[:-1]
    kind = np.full(rows.size, -1, np.int8)
    # scheduled dates trade in both regimes: while bearish the target is the stable sleeve, so they
    # only complete exits left unfilled by costs.min_order_usd / max_participation (else no order)
    kind[scheduled[first : last + 1]] = KIND_SCHEDULED
    kind[(state != prev) & (state == BULL)] = KIND_REGIME_ENTRY
    kind[(state != prev) & (state != BULL)] = KIND_REGIME_EXIT
    if state[0] == BULL:
        kind[0] = KIND_INITIAL
    keep = kind >= 0
    return rows[keep], kind[keep]


def build_plan(cfg: IndexConfig, market: MarketData, cache: PlanCache | None = None) -> IndexPlan:
    """The methodology's trade dates and target weights for ``cfg`` over ``market``.

    ``cache`` (optional) shares the regime series and the rebalance calendar between calls.
    """
    cache = cache or PlanCache()
    first, last = backtest_window(cfg, market)
    stable_col = stable_column(cfg, market)
    lag = cfg.rebalance.decision_lag
    if cfg.regime.signal == "total_market_cap_sma":
        signal_key = ("total_market_cap", tuple(cfg.universe.exclude_categories), tuple(cfg.universe.assets or ()))
    else:
        signal_key = (cfg.regime.signal, cfg.regime.asset)
    signal = cache.get(("signal", signal_key), lambda: regime_signal(market, cfg.regime, cfg.universe))
    regime = cache.get(("regime", signal_key, cfg.regime.model_dump_json()),
                       lambda: compute_regime(market, cfg.regime, cfg.universe, signal))
    regime_at = np.full(market.n_dates, BULL, np.int8)  # undefined before any data → bullish
    if lag < market.n_dates:
        regime_at[lag:] = regime.state[: market.n_dates - lag]

    # before row `lag` no data has been observed to decide on: the window starts in the stable sleeve
    invest_from = max(first, lag)
    scheduled = cache.get(("schedule", cfg.rebalance.frequency, cfg.rebalance.weekday),
                          lambda: rebalance_mask(market.dates, cfg.rebalance))
    trade_rows, kind = trade_schedule(regime_at, scheduled, invest_from, last)
    decision_rows = trade_rows - lag
    active = regime_at[trade_rows] == BULL
    every = np.ones(trade_rows.size, bool)
    schedule = TradeSchedule(trade_rows=trade_rows.astype(np.int64), decision_rows=decision_rows.astype(np.int64),
                             active=active, reselect=every, review=every)

    view = cache.get(("panel_view",), lambda: panel_view(market))
    ptr, cols, missing_scores = select(view, screens(market, cfg.universe, schedule.decision_rows, stable_col),
                                       cfg.selection, schedule)
    targets, flags = weigh(ptr, cols, market.market_cap, schedule.decision_rows, cfg.weighting)

    n_sel = np.diff(ptr)
    infeasible = (flags & INFEASIBLE_CAP) != 0
    warnings = []
    if infeasible.any():
        warnings.append(DataWarning(
            "cap_infeasible", int(infeasible.sum()),
            f"weighting.max_weight={cfg.weighting.max_weight} is infeasible (n × max_weight < 1) at "
            f"{int(infeasible.sum())} trades: equal weights used there",
            [str(market.dates[r]) for r in trade_rows[infeasible][:10]],
        ))
    short = active & (n_sel < cfg.selection.top_n)
    if short.any():
        warnings.append(DataWarning(
            "selection_short", int(short.sum()),
            f"fewer than top_n={cfg.selection.top_n} eligible assets at {int(short.sum())} trades "
            f"(min {int(n_sel[short].min())})",
            [f"{market.dates[r]}: {c}" for r, c in zip(trade_rows[short][:10], n_sel[short][:10])],
        ))
    empty = active & (n_sel == 0)
    if empty.any():
        warnings.append(DataWarning(
            "selection_empty", int(empty.sum()),
            f"no eligible asset at {int(empty.sum())} bullish trades: the stable sleeve is held there",
            [str(market.dates[r]) for r in trade_rows[empty][:10]],
        ))
    if missing_scores:
        warnings.append(DataWarning(
            "missing_score", int(missing_scores),
            f"{missing_scores} (asset, trade) pairs were excluded because a universe.min_scores score was missing",
        ))
    if cfg.universe.assets is not None:
        unknown = sorted(set(cfg.universe.assets) - set(market.asset_ids.tolist()))
        if unknown:
            warnings.append(DataWarning(
                "unknown_assets", len(unknown),
                f"universe.assets names {len(unknown)} asset_ids that are not in the data: they are ignored",
                unknown[:10],
            ))
    gap_warning = _stale_decision_warning(market, trade_rows, decision_rows)
    if gap_warning is not None:
        warnings.append(gap_warning)
    return IndexPlan(first, last, lag, trade_rows, decision_rows, kind, targets, every, market.n_assets,
                     stable_col, regime, regime_at, tuple(warnings))


def _stale_decision_warning(market: MarketData, trade_rows: np.ndarray, decision_rows: np.ndarray) -> DataWarning | None:
    """Trades whose decision data is much older than the calendar's usual spacing (e.g. a data hole)."""
    if trade_rows.size == 0 or market.n_dates < 2:
        return None
    days = market.dates.astype(np.int64)
    spacing = float(np.median(np.diff(days)))
    have = decision_rows >= 0
    age = days[trade_rows[have]] - days[decision_rows[have]]
    lag = np.maximum(trade_rows[have] - decision_rows[have], 1)
    stale = age > 3 * spacing * lag
    if not stale.any():
        return None
    rows = trade_rows[have][stale]
    return DataWarning(
        "stale_decision", int(stale.sum()),
        f"{int(stale.sum())} trades decide on data more than 3× the usual spacing ({spacing:g} days) older "
        f"than the trade date (max {int(age.max())} days): a hole in the data; consider backtest.start after it",
        [f"{market.dates[r]} decides on {market.dates[d]}" for r, d in zip(rows[:10], decision_rows[have][stale][:10])],
    )
