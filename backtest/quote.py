"""The pre-trade quote: what buying (or redeeming) the index costs, with the backtest's cost model.

Buy: ``amount`` USD is invested in the index's current holdings (weights drifted to ``as_of``),
paying every cost out of the amount with the same exact solve as a backtest trade
(``backtest.kernels.rebalance_legs``): the expected value is what the buyer holds afterwards.
Sell: the user's holdings (or an index position worth ``amount``, cash share included) are sold
into the stable sleeve; skipped or capped orders stay unsold and are not counted as proceeds.

Totals, all USD: platform_fee, exchange_fee, gas, estimated_slippage; max_slippage = the user's
tolerance × each order's notional; expected_value = amount − fees − gas − estimated slippage;
min_expected_value = amount − fees − gas − Σ max(estimated slippage, max slippage) over the orders, so
never above expected_value, also with a tolerance below the estimate (for a sell, amount = gross
proceeds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from backtest.costs import cost_spec, gas_per_order
from backtest.current import IndexState, index_state
from backtest.holdings_file import check_holdings, read_holdings
from backtest.kernels import Legs, leg_costs, rebalance_legs
from index_engine.codes import UNFILLED_REASONS
from index_engine.config import IndexConfig
from index_engine.data.panel import MarketData
from index_engine.errors import QuoteError

__all__ = ["MAX_USD", "Quote", "QuoteError", "RowCosts", "quote", "read_holdings", "row_costs"]

#: the largest amount, and the largest value of one holding, a quote accepts (USD): beyond it the
#: input is a typo, and costs would overflow
MAX_USD = 1e12


@dataclass(frozen=True)
class Quote:
    """A pre-trade quote at the close of ``as_of``; every amount is in USD.

    ``orders``: one dict per order (asset, side, quantity, reference price, notional and its
    costs). ``skipped``: orders not placed (below ``min_order_usd``) or cut (``max_participation``).
    ``expected_value`` is what the trade leaves after fees, gas and estimated slippage;
    ``min_expected_value`` the same with each order's slippage at the larger of its estimate and
    ``max_slippage_bps`` (so never above ``expected_value``).
    """

    side: str
    amount: float
    as_of: str
    orders: list[dict]
    skipped: list[dict]
    platform_fee: float
    exchange_fee: float
    gas: float
    estimated_slippage: float
    max_slippage: float
    expected_value: float
    min_expected_value: float
    max_slippage_bps: float
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready dict (``quote --json``); the skipped orders are under ``skipped_orders``."""
        return {
            "side": self.side, "amount": self.amount, "as_of": self.as_of,
            "orders": self.orders, "skipped_orders": self.skipped,
            "platform_fee": self.platform_fee, "exchange_fee": self.exchange_fee, "gas": self.gas,
            "estimated_slippage": self.estimated_slippage, "max_slippage": self.max_slippage,
            "max_slippage_bps": self.max_slippage_bps,
            "expected_value": self.expected_value, "min_expected_value": self.min_expected_value,
            "warnings": self.warnings,
        }

    def to_json(self) -> str:
        """``to_dict`` as indented JSON (non-finite numbers are an error)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)


class RowCosts(NamedTuple):
    """Cost parameters of every asset for orders at one close (a live quote: no decision lag)."""

    fee_rate: float
    platform_rate: float
    slippage_rate: np.ndarray  # (N,)
    impact: np.ndarray  # (N,)
    order_cap: np.ndarray  # (N,) USD
    gas: float  # USD per order
    min_order: float
    max_impact: float


def row_costs(cfg: IndexConfig, market: MarketData, row: int) -> RowCosts:
    """The backtest's cost model for orders at the close of ``row``, with the data known then."""
    spec = cost_spec(cfg)
    rate, impact, cap, _ = leg_costs(spec, market.price, market.volume, market.dates.astype(np.int64), row,
                                     np.arange(market.n_assets, dtype=np.int64))
    gas = float(gas_per_order(cfg, market, np.array([row]))[0])
    return RowCosts(spec.fee_rate, spec.platform_rate, rate, impact, cap, gas, spec.min_order, spec.max_impact)


def quote(
    cfg: IndexConfig,
    market: MarketData,
    amount: float | None,
    side: str = "buy",
    max_slippage_bps: float = 100.0,
    holdings: dict[str, float] | None = None,
    as_of=None,
) -> Quote:
    """Quote buying ``amount`` USD of the index, or selling ``holdings`` (or a position worth
    ``amount``) — orders at the close of ``as_of`` (default: the last date of the data)."""
    if side not in ("buy", "sell"):
        raise QuoteError(f"--side must be 'buy' or 'sell', got {side!r}")
    if amount is not None and not (np.isfinite(amount) and 0 < amount <= MAX_USD):
        raise QuoteError(f"--amount must be a positive number of USD up to {MAX_USD:g}, got {amount}")
    if not (0 <= max_slippage_bps < 10_000):
        raise QuoteError(f"--max-slippage-bps must be in [0, 10000), got {max_slippage_bps}")
    if side == "buy" and amount is None:
        raise QuoteError("--amount is required for a buy")
    if side == "buy" and holdings is not None:
        raise QuoteError("--holdings is for --side sell; a buy invests --amount in the index")
    if side == "sell" and amount is None and holdings is None:
        raise QuoteError("a sell needs --amount (an index position worth that much) or --holdings FILE")
    if holdings is not None:
        holdings = check_holdings(holdings)
    state = index_state(cfg, market, as_of)
    row = int(np.searchsorted(market.dates, np.datetime64(state.as_of, "D"), side="right")) - 1
    # a live quote prices at the close of as_of with the data known then (no decision lag: it is now)
    costs = row_costs(cfg, market, row)
    if side == "buy":
        assert amount is not None  # checked above
        legs = _buy_legs(state, market, amount, costs)
    else:
        legs = _sell_legs(state, market, amount, holdings, costs)
    return _assemble(side, state, market, legs, costs, max_slippage_bps)


def _cols_prices(state: IndexState, market: MarketData) -> tuple[list[int], np.ndarray, np.ndarray, float]:
    """Risk-asset columns of the current book, their prices and weights; the cash weight."""
    cols, prices, weights, cash = [], [], [], 0.0
    for r in state.holdings.iter_rows(named=True):
        if r["asset_id"] == "cash":
            cash += r["weight"]
            continue
        cols.append(market.asset_index(r["asset_id"]))
        prices.append(r["price"])
        weights.append(r["weight"])
    return cols, np.array(prices, float), np.array(weights, float), cash


def _buy_legs(state: IndexState, market: MarketData, amount: float, costs) -> dict:
    cols, prices, w, w_cash = _cols_prices(state, market)
    if not cols:
        raise QuoteError(f"the index holds only the stable sleeve on {state.as_of} (regime {state.regime}): "
                         "nothing to buy")
    total = w.sum() + w_cash
    w, w_cash = w / total, w_cash / total
    base = costs.fee_rate + costs.platform_rate
    lin = base + costs.slippage_rate[cols]
    fills = rebalance_legs(Legs(
        h=np.zeros(len(cols)), w=np.ascontiguousarray(w, dtype=np.float64), lin=lin, impact=costs.impact[cols],
        cap=costs.order_cap[cols], h_s=float(amount), w_s=float(w_cash), lin_s=0.0, impact_s=0.0, gas=costs.gas,
        gas_s=0.0, max_impact=costs.max_impact, min_order=costs.min_order, nav_pre=float(amount),
    ))
    x, post, frozen, requested, ok = fills.x, fills.post, fills.frozen, fills.requested, fills.ok
    if not ok or x <= 0:
        raise QuoteError(f"the costs of buying ${amount:,.2f} exceed the amount (gas {costs.gas:,.2f} per order)")
    return {"cols": cols, "prices": prices, "notional": post, "frozen": frozen, "requested": requested,
            "amount": amount, "base": amount}


def _sell_legs(state: IndexState, market: MarketData, amount, holdings, costs) -> dict:
    """Orders to redeem into the stable sleeve; ``base`` = filled proceeds + cash already held."""
    if holdings is None:  # an index position worth `amount`, in the index's current weights
        cols, prices, w, w_cash = _cols_prices(state, market)
        total_w = w.sum() + w_cash
        notional = amount * w / total_w
        cash = amount * w_cash / total_w
    else:
        source = getattr(holdings, "source", "--holdings")
        known = set(market.asset_ids.tolist())
        unknown = sorted(a for a in holdings if a != "cash" and a not in known)
        if unknown:
            raise QuoteError(f"{source}: {len(unknown)} asset_id(s) not in the data ({market.source}): "
                             f"{', '.join(repr(a) for a in unknown[:10])}{' …' if len(unknown) > 10 else ''}")
        cols = [market.asset_index(a) for a in holdings if a != "cash"]
        row = int(np.searchsorted(market.dates, np.datetime64(state.as_of, "D"), side="right")) - 1
        prices = np.array([_last_close(market, c, row) for c in cols])
        value = np.array([holdings[market.asset_ids[c]] for c in cols]) * prices
        for a, v in [*zip(market.asset_ids[cols].tolist(), value.tolist()), ("cash", holdings.get("cash", 0.0))]:
            if not v <= MAX_USD:
                raise QuoteError(f"{source}: the holding of {a!r} is worth {v:,.6g} USD at {state.as_of}, more than "
                                 f"{MAX_USD:g}; check its quantity")
        total = value.sum() + holdings.get("cash", 0.0)
        if total <= 0:
            raise QuoteError(f"{source}: nothing to sell (total value 0)")
        fraction = 1.0 if amount is None else min(1.0, amount / total)
        notional = value * fraction
        cash = holdings.get("cash", 0.0) * fraction
    cap = costs.order_cap[np.asarray(cols, dtype=np.int64)]
    keep = notional >= costs.min_order
    frozen = np.where(~keep & (notional > 0), 0, np.where(notional > cap, 1, -1)).astype(np.int8)
    requested = np.where(frozen >= 0, notional, 0.0)
    filled = np.where(keep, np.minimum(notional, cap), 0.0)
    return {"cols": cols, "prices": prices, "notional": filled, "frozen": frozen, "requested": requested,
            "amount": float(notional.sum() + cash), "base": float(filled.sum() + cash)}


def _last_close(market: MarketData, col: int, row: int) -> float:
    px = float(market.last_close(col)[row])
    if not np.isfinite(px):
        raise QuoteError(f"{market.asset_ids[col]} has no price on or before the quote date")
    return px


def _assemble(side: str, state: IndexState, market: MarketData, legs: dict, costs, max_slippage_bps: float) -> Quote:
    orders, skipped = [], []
    tot = dict(platform=0.0, fee=0.0, gas=0.0, slip=0.0, max_slip=0.0)
    tolerance = max_slippage_bps / 1e4
    worst = 0.0  # Σ max(estimated slippage, tolerance × notional): never below the estimate
    warnings = []
    # the tickers as observed at the close of as_of (a later ticker change is not known yet)
    row = int(np.searchsorted(market.dates, np.datetime64(state.as_of, "D"), side="right")) - 1
    cols = np.asarray(legs["cols"], dtype=np.int64)
    symbols = market.symbols_at(np.full(cols.shape, row), cols).to_list()
    for j, col in enumerate(legs["cols"]):
        q = float(legs["notional"][j])
        if legs["frozen"][j] >= 0:
            skipped.append({"asset_id": str(market.asset_ids[col]), "requested_notional": float(legs["requested"][j]),
                            "filled_notional": q, "reason": UNFILLED_REASONS[legs["frozen"][j]]})
        if q <= 0:
            continue
        slip = float(costs.slippage_rate[col] * q + min(costs.impact[col] * q ** 0.5, costs.max_impact) * q)
        max_slip = tolerance * q
        worst += max(slip, max_slip)  # an order within the tolerance costs at most that; one beyond it reverts
        order = {
            "asset_id": str(market.asset_ids[col]), "symbol": symbols[j], "side": side,
            "quantity": q / legs["prices"][j], "reference_price": float(legs["prices"][j]), "notional": q,
            "exchange_fee": costs.fee_rate * q, "platform_fee": costs.platform_rate * q,
            "estimated_slippage": slip, "max_slippage": max_slip, "gas": float(costs.gas),
            "slippage_exceeds_tolerance": bool(slip > max_slip),
        }
        orders.append(order)
        tot["platform"] += order["platform_fee"]
        tot["fee"] += order["exchange_fee"]
        tot["gas"] += order["gas"]
        tot["slip"] += slip
        tot["max_slip"] += max_slip
    if not orders and (side == "buy" or legs["base"] <= 0):
        raise QuoteError(
            f"every order is below costs.min_order_usd={costs.min_order:g}: the amount is too small for "
            f"{len(legs['cols'])} constituents"
        )
    if any(o["slippage_exceeds_tolerance"] for o in orders):
        warnings.append("estimated slippage exceeds the tolerance on some orders: they would revert")
    if skipped:
        warnings.append(f"{len(skipped)} orders skipped or cut (see skipped_orders): "
                        "their value stays unsold / in cash")
    fixed = tot["platform"] + tot["fee"] + tot["gas"]
    base = legs["base"]  # buy: the amount paid in; sell: filled proceeds plus cash already held
    return Quote(
        side=side, amount=legs["amount"], as_of=str(state.as_of), orders=orders, skipped=skipped,
        platform_fee=tot["platform"], exchange_fee=tot["fee"], gas=tot["gas"],
        estimated_slippage=tot["slip"], max_slippage=tot["max_slip"],
        expected_value=base - fixed - tot["slip"], min_expected_value=base - fixed - worst,
        max_slippage_bps=max_slippage_bps, warnings=warnings,
    )
