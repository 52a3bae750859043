"""The methodology sections: what the index holds at each trade date (they decide the plan).

Grouped by ``MethodologyConfig``; every key here is part of the plan cache key
(``IndexConfig.plan_key``) and of ``config_sha256``.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import field_validator, model_validator

from index_engine.config.base import Section, key
from index_engine.data.categories import CATEGORIES

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class UniverseConfig(Section):
    """Eligibility screens, evaluated at each trade's decision row *d*."""

    exclude_categories: list[str] = key(
        lambda: ["stablecoin", "wrapped", "pegged"], contract=True,
        allowed="subset of `stablecoin`, `wrapped`, `pegged`, `exchange_token`, `other`; may be `[]`",
        doc="Assets in these categories are never eligible. Also removed from the `total_market_cap_sma` signal.")
    min_history_days: int = key(
        0, ge=0, le=1_000_000, contract=True, allowed="0 … 1000000, calendar days",
        doc="Eligible only when at least this many days have passed from the asset's first priced observation "
            "to *d*. `0` = no screen.")
    min_volume_usd: float = key(
        0.0, ge=0, contract=True, allowed="≥ 0, USD",
        doc="Eligible only when the trailing mean 24 h volume is at least this. `0` = no screen.")
    volume_window: int = key(
        30, ge=1, le=100_000, allowed="1 … 100000, obs.",
        doc="Number of observations, ending at *d*, in the trailing volume mean. Used only when "
            "`min_volume_usd` > 0.")
    assets: Optional[list[str]] = key(
        None, contract=True, allowed="asset_ids",
        doc="Restrict the universe to these asset_ids. Also restricts the `total_market_cap_sma` signal. Ids not "
            "in the data are ignored and counted in warning `unknown_assets`. `null` = no restriction.")
    min_scores: dict[str, float] = key(
        dict, allowed="column names of the data file",
        doc="Eligible only when every named score at *d* is present and ≥ its minimum, e.g. `{rating: 50}`. A "
            "missing score excludes the asset, and the exclusion is counted in warning `missing_score`.")

    @field_validator("exclude_categories")
    @classmethod
    def _known_categories(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if c not in CATEGORIES]
        if bad:
            raise ValueError(f"unknown categories {bad}; expected a subset of {list(CATEGORIES)}")
        return v


class SelectionConfig(Section):
    """Top-N by market cap with an optional rank buffer."""

    top_n: int = key(100, ge=1, le=1_000_000, contract=True, allowed="1 … 1000000",
                     doc="Number of constituents: the top N eligible assets by market cap at *d*.")
    entry_rank: Optional[int] = key(None, ge=1, contract=True, allowed="≥ 1 and ≤ `top_n`",
                                    doc="A newcomer enters only at rank ≤ `entry_rank`. `null` = `top_n`.")
    exit_rank: Optional[int] = key(None, ge=1, contract=True, allowed="≥ 1 and ≥ `top_n`",
                                   doc="An incumbent stays while rank ≤ `exit_rank`. `null` = `top_n`.")

    @model_validator(mode="after")
    def _buffer_consistent(self) -> SelectionConfig:
        if self.entry_rank is not None and self.entry_rank > self.top_n:
            raise ValueError(f"entry_rank ({self.entry_rank}) must be <= top_n ({self.top_n})")
        if self.exit_rank is not None and self.exit_rank < self.top_n:
            raise ValueError(f"exit_rank ({self.exit_rank}) must be >= top_n ({self.top_n})")
        return self

    @property
    def entry(self) -> int:
        """The effective entry rank (``top_n`` when ``entry_rank`` is null)."""
        return self.entry_rank if self.entry_rank is not None else self.top_n

    @property
    def exit(self) -> int:
        """The effective exit rank (``top_n`` when ``exit_rank`` is null)."""
        return self.exit_rank if self.exit_rank is not None else self.top_n


class WeightingConfig(Section):
    """Raw weights from a scheme, then an exact cap."""

    scheme: Literal["market_cap", "sqrt_market_cap", "equal"] = key(
        "market_cap", contract=True, allowed="`market_cap`, `sqrt_market_cap`, `equal`",
        doc="Raw weight of each constituent: market cap at *d*, its square root, or 1.")
    max_weight: Optional[float] = key(
        None, gt=0, le=1, contract=True, allowed="> 0 and ≤ 1, fraction of the risk sleeve",
        doc="Cap per constituent; the excess is redistributed. If *n* × `max_weight` < 1, equal weights are used "
            "and warning `cap_infeasible` is recorded. `null` = no cap.")


class RebalanceConfig(Section):
    """The rebalance calendar and the decision lag."""

    frequency: Literal["weekly", "monthly", "every_observation"] = key(
        "weekly", contract=True, allowed="`weekly`, `monthly`, `every_observation`",
        doc="Scheduled rebalance dates: each `weekday`, the 1st of each month, or every row. While bearish, a "
            "scheduled date targets the stable sleeve: it places orders only to finish exits that "
            "`costs.min_order_usd` or `costs.max_participation` left unfilled.")
    weekday: Weekday = key("monday", contract=True, allowed="`monday` … `sunday` (lower case)",
                           doc="Day of the weekly rebalance. Ignored unless `frequency` is `weekly`.")
    decision_lag: int = key(
        1, ge=0, le=100_000, contract=True, allowed="0 … 100000, obs.",
        doc="A trade at row *t* uses data of row *d* = *t* − `decision_lag`. `0` = the same close. Applies to all "
            "decisions, including the regime.")


class RegimeConfig(Section):
    """The bull/bear switch into the stable sleeve."""

    signal: Literal["none", "total_market_cap_sma", "asset_price_sma"] = key(
        "total_market_cap_sma", contract=True, allowed="`none`, `total_market_cap_sma`, `asset_price_sma`",
        doc="Trend signal. `total_market_cap_sma`: total market cap of the non-excluded universe vs its SMA. "
            "`asset_price_sma`: close of `regime.asset` vs its SMA. `none`: always bullish.")
    window: int = key(200, ge=1, le=100_000, contract=True, allowed="1 … 100000, obs.",
                      doc="SMA length, including the current observation. Until it fills, the state counts as "
                          "bullish.")
    band: float = key(0.0, ge=0, lt=1, contract=True, allowed="≥ 0 and < 1, fraction",
                      doc="Hysteresis: bearish below SMA × (1 − band), bullish again above SMA × (1 + band).")
    confirm: int = key(1, ge=1, le=100_000, contract=True, allowed="1 … 100000, obs.",
                       doc="Consecutive observations beyond the band needed before the state switches.")
    asset: Optional[str] = key(None, contract=True, allowed="an asset_id in the data",
                               doc="The asset for `asset_price_sma`. Required for that signal; ignored otherwise.")

    @model_validator(mode="after")
    def _asset_needed(self) -> RegimeConfig:
        if self.signal == "asset_price_sma" and not self.asset:
            raise ValueError("regime.asset is required when regime.signal is 'asset_price_sma'")
        return self


class StableConfig(Section):
    """The sleeve held outside the risk assets."""

    asset: str = key(
        "cash", contract=True, allowed="`cash`, or an asset_id in the data",
        doc="`cash` is a $1 sleeve that trades at no cost and places no orders. An asset_id (e.g. a stablecoin) is "
            "priced from the data (forward-filled), traded with costs, and excluded from the risk universe. It must "
            "have a price on or before the backtest start.")


class MethodologyConfig(Section):
    """Every section that decides what the index holds (the plan)."""

    universe: UniverseConfig = UniverseConfig()
    selection: SelectionConfig = SelectionConfig()
    weighting: WeightingConfig = WeightingConfig()
    rebalance: RebalanceConfig = RebalanceConfig()
    regime: RegimeConfig = RegimeConfig()
    stable: StableConfig = StableConfig()
