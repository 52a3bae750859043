"""The replay sections: how the plan is traded (costs) and over which window, from which value.

Grouped by ``ReplayConfig``. Costs and ``initial_nav`` do not change the plan, so configs that differ
only there share one plan in a sweep; ``backtest.start``/``end`` do (they are in ``plan_key``).
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import model_validator

from index_engine.config.base import Date, Section, key


class SlippageConfig(Section):
    """Per-order slippage. ``fixed_bps``: ``bps`` of the traded notional. ``sqrt_impact``: rate =
    spread_bps/2 + min(k·σ_i·sqrt(Q_i / ADV_i), max_impact_bps), σ_i the trailing daily volatility of log
    returns over ``vol_window`` observations and ADV_i the trailing mean 24 h volume over ``adv_window``
    observations, both at the decision date; assets without them pay ``fallback_bps`` (flagged)."""

    model: Literal["fixed_bps", "sqrt_impact"] = key(
        "fixed_bps", allowed="`fixed_bps`, `sqrt_impact`",
        doc="`fixed_bps`: `bps` of the notional. `sqrt_impact`: rate = `spread_bps`/2 + `k`·σ·√(Q / ADV).")
    bps: float = key(0.0, ge=0, lt=10_000, allowed="≥ 0 and < 10000", doc="Rate of `fixed_bps`.")
    k: float = key(0.7, ge=0, allowed="≥ 0", doc="Impact coefficient of `sqrt_impact`.")
    spread_bps: float = key(0.0, ge=0, lt=10_000, allowed="≥ 0 and < 10000",
                            doc="Full bid-ask spread of `sqrt_impact`; half is paid on every order.")
    vol_window: int = key(30, ge=2, le=100_000, allowed="2 … 100000, obs.",
                          doc="σ: the daily volatility of log returns over the observations *d* − `vol_window` + 1 "
                              "… *d*, each return scaled to one day by the square root of its calendar gap.")
    adv_window: int = key(30, ge=1, le=100_000, allowed="1 … 100000, obs.",
                          doc="ADV: the mean 24 h volume over *d* − `adv_window` + 1 … *d*. Also used by "
                              "`max_participation`, with either model.")
    fallback_bps: float = key(100.0, ge=0, lt=10_000, allowed="≥ 0 and < 10000",
                              doc="`sqrt_impact` rate for an asset without σ or ADV at *d*. Warning "
                                  "`cost_fallback`.")
    max_impact_bps: float = key(2500.0, gt=0, lt=10_000, allowed="> 0 and < 10000",
                                doc="Cap on the `sqrt_impact` rate k·σ·√(Q/ADV), because the square-root law does "
                                    "not hold for huge orders.")


class CostsConfig(Section):
    """Costs charged per order at the trade-date close (see docs/costs.md)."""

    fee_bps: float = key(10.0, ge=0, lt=10_000, contract=True, allowed="≥ 0 and < 10000, bps of notional",
                         doc="Exchange fee. 10 bps = 0.1 %.")
    slippage_bps: float = key(0.0, ge=0, lt=10_000, contract=True, allowed="≥ 0 and < 10000, bps of notional",
                              doc="Shorthand for `slippage: {model: fixed_bps, bps: …}`. A non-zero value cannot be "
                                  "combined with `slippage`.")
    gas_usd: float = key(0.0, ge=0, le=1e12, contract=True, allowed="0 … 1e12, USD per order",
                         doc="Flat cost per order. The `cash` sleeve places no orders, so it pays none.")
    platform_fee_bps: float = key(0.0, ge=0, lt=10_000, allowed="≥ 0 and < 10000, bps of notional",
                                  doc="Platform fee, logged apart from the exchange fee (`platform_fee` columns).")
    slippage: Optional[SlippageConfig] = key(None, allowed="keys below",
                                             doc="The slippage model. `null` = `fixed_bps` at `slippage_bps`.")
    gas_units: Optional[float] = key(None, gt=0, allowed="> 0",
                                     doc="Gas per order, priced in `gas_asset`. Set it together with "
                                         "`gas_price_gwei`.")
    gas_price_gwei: Optional[float] = key(None, gt=0, allowed="> 0",
                                          doc="Gas price. Per order: `gas_units` × `gas_price_gwei` × 1e-9 × the close "
                                              "of `gas_asset` on or before the trade date (USD), added to `gas_usd`.")
    gas_asset: str = key("ethereum", allowed="an asset_id in the data",
                         doc="Native asset that prices the gas. Used only with `gas_units`.")
    min_order_usd: float = key(0.0, ge=0, allowed="≥ 0, USD",
                               doc="A risk-asset order below this notional is skipped. Its position stays as it was, "
                                   "and the order is reported in `unfilled.parquet`.")
    max_participation: Optional[float] = key(
        None, gt=0, le=1, allowed="> 0 and ≤ 1, fraction of ADV",
        doc="Caps each risk-asset order at this share of ADV. The rest is not traded and is reported in "
            "`unfilled.parquet`. `null` = no cap. An asset with no volume in the window is not capped.")

    @model_validator(mode="after")
    def _consistent(self) -> CostsConfig:
        if self.slippage is not None and self.slippage_bps:
            raise ValueError("give either costs.slippage_bps or costs.slippage, not both")
        if (self.gas_units is None) != (self.gas_price_gwei is None):
            raise ValueError("costs.gas_units and costs.gas_price_gwei go together")
        linear = self.fee_bps + self.platform_fee_bps + self.slippage_model.bps
        if self.slippage_model.model == "sqrt_impact":
            sm = self.slippage_model
            linear = self.fee_bps + self.platform_fee_bps + max(sm.spread_bps / 2 + sm.max_impact_bps, sm.fallback_bps)
        if linear >= 10_000:
            raise ValueError("fee_bps + platform_fee_bps + slippage must be below 10000 (100%)")
        return self

    @property
    def slippage_model(self) -> SlippageConfig:
        """The effective slippage model (``slippage_bps`` is ``fixed_bps`` shorthand)."""
        return self.slippage if self.slippage is not None else SlippageConfig(bps=self.slippage_bps)


class BacktestConfig(Section):
    """The replay window and the starting value."""

    start: Optional[Date] = key(None, contract=True, allowed="`YYYY-MM-DD`; ≤ `end`",
                                doc="The window starts at the first observation on or after this date. `null` = "
                                    "the first date of the data.")
    end: Optional[Date] = key(None, contract=True, allowed="`YYYY-MM-DD`; ≥ `start`",
                              doc="The window ends at the last observation on or before this date. `null` = the "
                                  "last date of the data.")
    initial_nav: float = key(1_000_000.0, gt=0, le=1e15, contract=True, allowed="> 0 and ≤ 1e15, USD",
                             doc="Starting value. It is placed in the stable sleeve at no cost, then invested at "
                                 "the first bullish trade date.")

    @model_validator(mode="after")
    def _ordered(self) -> BacktestConfig:
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"backtest.end ({self.end}) is before backtest.start ({self.start})")
        return self


class ReplayConfig(Section):
    """How the plan is replayed: costs and the backtest window."""

    costs: CostsConfig = CostsConfig()
    backtest: BacktestConfig = BacktestConfig()
