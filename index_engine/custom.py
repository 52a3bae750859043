"""Run the custom rules of a ``Methodology`` inside the plan (``index_engine.plan.build_plan``).

Python rules are called once per decision with a ``RuleContext``; numba rules from the compiled loops
of ``index_engine.kernels.custom``. Every answer is checked, and an error names the rule, the date and
what was expected (``RuleError``); reading past the decision date raises ``LookAheadError``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from index_engine.context import RuleContext
from index_engine.data.panel import MarketData
from index_engine.errors import LookAheadError, RuleError
from index_engine.kernels import custom as loops
from index_engine.kernels.selection import PanelView, Screens, TradeSchedule, eligible_columns
from index_engine.methodology import Rule


def _call(rule: Rule, hook: str, ctx: RuleContext) -> Any:
    try:
        return rule.fn(ctx, **rule.params)
    except LookAheadError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure inside user code is reported with its rule and date
        raise RuleError(f"{hook} rule {rule.name!r} failed for the trade on {ctx.trade_date} (decision date "
                        f"{ctx.date}): {type(exc).__name__}: {exc}") from exc


def _compiled(rule: Rule, hook: str, run):
    try:
        return run(tuple(rule.params.values()))
    except Exception as exc:  # noqa: BLE001 - typing errors of numba, or an exception raised in the rule
        raise RuleError(f"{hook} rule {rule.name!r} (numba) cannot run: {type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}. Numba rules take (price, market_cap, "
                        f"volume{', selected' if hook == 'weighting' else ', eligible' if hook == 'selection' else ''}"
                        f"{', ' if rule.params else ''}{', '.join(rule.params)}): arrays through the decision "
                        "row (docs/python.md)") from exc


def _volume(market: MarketData) -> np.ndarray:
    return np.ascontiguousarray(market.volume, dtype=np.float64)


# ---- regime ----------------------------------------------------------------------------------------
def custom_share(rule: Rule, market: MarketData, lo: int, hi: int, top_n: int) -> np.ndarray:
    """(T,) risk share at each decision row lo..hi from the rule (1.0 elsewhere: never used)."""
    share = np.ones(market.n_dates)
    if hi < lo:
        return share
    if rule.compiled:
        status = np.zeros(3, np.int64)
        _compiled(rule, "regime", lambda args: loops.regime_loop(
            rule.fn, market.price, market.market_cap, _volume(market), lo, hi, args, share, status))
        if status[1] != loops.OK:
            d = int(status[0])
            raise RuleError(f"regime rule {rule.name!r} returned {share[d]!r} for the decision date "
                            f"{market.dates[d]}; expected a bool or a risk share between 0 and 1")
        return share
    for d in range(lo, hi + 1):
        ctx = RuleContext(market, d, d, -1, rule.name, rule.params, top_n)
        share[d] = _as_share(_call(rule, "regime", ctx), rule, ctx)
    return share


def _as_share(value: Any, rule: Rule, ctx: RuleContext) -> float:
    if isinstance(value, (bool, np.bool_)):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float, np.integer, np.floating)) and 0.0 <= float(value) <= 1.0:
        return float(value)
    raise RuleError(f"regime rule {rule.name!r} returned {value!r} ({type(value).__name__}) for the decision date "
                    f"{ctx.date}; expected a bool or a risk share between 0 and 1")


# ---- selection -------------------------------------------------------------------------------------
def eligible_csr(view: PanelView, screens: Screens, schedule: TradeSchedule) -> tuple[np.ndarray, np.ndarray]:
    """Eligible columns CSR of every invested trade (empty where the trade is not invested)."""
    r = schedule.trade_rows.shape[0]
    ptr = np.zeros(r + 1, np.int64)
    parts = []
    for k in range(r):
        d, t = int(schedule.decision_rows[k]), int(schedule.trade_rows[k])
        cols = eligible_columns(view, screens, k, d, t) if schedule.active[k] and d >= 0 else np.zeros(0, np.int64)
        parts.append(cols)
        ptr[k + 1] = ptr[k] + cols.size
    return ptr, (np.concatenate(parts) if parts else np.zeros(0, np.int64))


def custom_members(rule: Rule, market: MarketData, view: PanelView, screens: Screens, schedule: TradeSchedule,
                   top_n: int) -> tuple[np.ndarray, np.ndarray]:
    """Members CSR of every trade from the rule: a mask (members = mask ∩ eligible) or asset ids in
    rank order (the first ``top_n`` eligible ones)."""
    eptr, ecols = eligible_csr(view, screens, schedule)
    if rule.compiled:
        status = np.zeros(3, np.int64)
        ptr, cols = _compiled(rule, "selection", lambda args: loops.selection_loop(
            rule.fn, market.price, market.market_cap, _volume(market), eptr, ecols,
            schedule.decision_rows.astype(np.int64), args, status))
        if status[1] != loops.OK:
            k = int(status[0])
            raise RuleError(f"selection rule {rule.name!r} returned an array of length {status[2]} for the trade on "
                            f"{market.dates[schedule.trade_rows[k]]}; expected a boolean mask of length "
                            f"{market.n_assets} (one per asset column)")
        return ptr, cols
    r = schedule.trade_rows.shape[0]
    ptr = np.zeros(r + 1, np.int64)
    parts = []
    for k in range(r):
        eligible = np.zeros(market.n_assets, bool)
        eligible[ecols[eptr[k]: eptr[k + 1]]] = True
        members = np.zeros(0, np.int64)
        if eptr[k + 1] > eptr[k]:
            ctx = RuleContext(market, int(schedule.decision_rows[k]), int(schedule.trade_rows[k]), k, rule.name,
                              rule.params, top_n, eligible=eligible)
            members = _as_members(_call(rule, "selection", ctx), rule, ctx, market, eligible, top_n)
        parts.append(members)
        ptr[k + 1] = ptr[k] + members.size
    return ptr, (np.concatenate(parts) if parts else np.zeros(0, np.int64))


def _as_members(out: Any, rule: Rule, ctx: RuleContext, market: MarketData, eligible: np.ndarray,
                top_n: int) -> np.ndarray:
    where = f"selection rule {rule.name!r} for the trade on {ctx.trade_date}"
    arr = np.asarray(out) if not isinstance(out, np.ndarray) else out
    if arr.dtype == np.bool_:
        if arr.shape != (market.n_assets,):
            raise RuleError(f"{where} returned a boolean mask of shape {arr.shape}; expected ({market.n_assets},)")
        return np.flatnonzero(arr & eligible).astype(np.int64)
    if arr.ndim == 1 and (arr.size == 0 or arr.dtype.kind in "UO"):
        chosen: list[int] = []
        for a in arr.tolist():
            if not isinstance(a, str):
                raise RuleError(f"{where} returned {a!r} ({type(a).__name__}) among its ids; expected asset_id strings")
            try:
                col = market.asset_index(a)
            except KeyError:
                raise RuleError(f"{where} returned {a!r}, which is not an asset_id in the data") from None
            if eligible[col] and col not in chosen:
                chosen.append(col)
            if len(chosen) == top_n:
                break
        return np.array(sorted(chosen), np.int64)
    raise RuleError(f"{where} returned {type(out).__name__} of dtype {arr.dtype} and shape {arr.shape}; expected a "
                    f"boolean mask of shape ({market.n_assets},) or a list of asset_ids in rank order")


# ---- weighting -------------------------------------------------------------------------------------
def custom_raw_weights(rule: Rule, market: MarketData, ptr: np.ndarray, cols: np.ndarray,
                       schedule: TradeSchedule, top_n: int) -> np.ndarray:
    """(nnz,) raw weights of the members CSR from the rule (checked: (N,), finite, ≥ 0, zero outside
    the trade's selection)."""
    raw = np.zeros(cols.size)
    decision_rows = schedule.decision_rows.astype(np.int64)
    if rule.compiled:
        status = np.zeros(3, np.int64)
        _compiled(rule, "weighting", lambda args: loops.weighting_loop(
            rule.fn, market.price, market.market_cap, _volume(market), ptr, cols, decision_rows, args, raw, status))
        if status[1] != loops.OK:
            k, code, x = (int(v) for v in status)
            where = f"weighting rule {rule.name!r} for the trade on {market.dates[schedule.trade_rows[k]]}"
            if code == loops.BAD_LENGTH:
                raise RuleError(f"{where} returned an array of length {x}; expected one weight per asset column "
                                f"({market.n_assets})")
            raise RuleError(f"{where} returned an unusable weight for {market.asset_ids[x]!r}: "
                            + ("weights must be finite and >= 0" if code == loops.BAD_VALUE else
                               "it is not in the trade's selection (weights go to selected assets only)"))
        return raw
    for k in range(ptr.size - 1):
        a, b = int(ptr[k]), int(ptr[k + 1])
        if a == b:
            continue
        selected = np.zeros(market.n_assets, bool)
        selected[cols[a:b]] = True
        ctx = RuleContext(market, int(decision_rows[k]), int(schedule.trade_rows[k]), k, rule.name, rule.params,
                          top_n, selected=selected)
        w = _as_weights(_call(rule, "weighting", ctx), rule, ctx, market, selected)
        raw[a:b] = w[cols[a:b]]
    return raw


def _as_weights(out: Any, rule: Rule, ctx: RuleContext, market: MarketData, selected: np.ndarray) -> np.ndarray:
    where = f"weighting rule {rule.name!r} for the trade on {ctx.trade_date}"
    try:
        w = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError):
        raise RuleError(f"{where} returned {type(out).__name__}; expected a float array of shape "
                        f"({market.n_assets},)") from None
    if w.shape != (market.n_assets,):
        raise RuleError(f"{where} returned shape {w.shape}; expected ({market.n_assets},), one raw weight per asset")
    bad = np.flatnonzero(~(np.isfinite(w) & (w >= 0)))
    if bad.size:
        raise RuleError(f"{where} returned {w[bad[0]]!r} for {market.asset_ids[bad[0]]!r}; weights must be finite "
                        "and >= 0")
    outside = np.flatnonzero((w != 0) & ~selected)
    if outside.size:
        raise RuleError(f"{where} put weight on {market.asset_ids[outside[0]]!r}, which is not in the trade's "
                        "selection (ctx.selected); weights go to selected assets only")
    return w


def drop_zero_weights(ptr: np.ndarray, cols: np.ndarray, raw: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The members CSR without the members the rule gave no weight (they are not held)."""
    keep = raw > 0
    kept = np.concatenate([[0], np.cumsum(keep)]).astype(np.int64)
    return kept[ptr], cols[keep], raw[keep]
