"""The methodology sections: what the index holds at each trade date (they decide the plan).

Grouped by ``MethodologyConfig``; every key here is part of the plan cache key
(``IndexConfig.plan_key``) and of ``config_sha256``.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import field_validator, model_validator

from index_engine.config.base import Section, key
from index_engine.config.prices import PricesConfig
from index_engine.config.regime import RegimeConfig
from index_engine.data.categories import CATEGORIES

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class MarketCapConfig(Section):
    """The market cap the methodology ranks and weights by (a smoothed one acts as a turnover buffer)."""

    smoothing: Literal["none", "ewma", "sma"] = key(
        "none", contract=True, allowed="`none`, `ewma`, `sma`",
        doc="`ewma`: exponentially weighted per asset over observations (CCi30); `sma`: mean of the valid caps "
            "of the last `window` observations. Used for ranking and for `market_cap` / `sqrt_market_cap` weights; "
            "eligibility still needs a valid unsmoothed cap at *d*; the regime signal is unchanged.")
    halflife: Optional[float] = key(None, gt=0, le=100_000, contract=True, allowed="> 0, obs.; required for `ewma`",
                                    doc="EWMA half-life: α = 1 − 2^(−1/halflife).")
    window: Optional[int] = key(None, ge=1, le=100_000, contract=True, allowed="1 … 100000, obs.; required for `sma`",
                                doc="SMA length, including the decision row.")

    @model_validator(mode="after")
    def _parameters(self) -> MarketCapConfig:
        if self.smoothing == "ewma" and self.halflife is None:
            raise ValueError("market_cap.halflife is required with smoothing: ewma")
        if self.smoothing == "sma" and self.window is None:
            raise ValueError("market_cap.window is required with smoothing: sma")
        if self.halflife is not None and self.smoothing != "ewma":
            raise ValueError(f"market_cap.halflife is only used with smoothing: ewma (smoothing is {self.smoothing})")
        if self.window is not None and self.smoothing != "sma":
            raise ValueError(f"market_cap.window is only used with smoothing: sma (smoothing is {self.smoothing})")
        return self


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
    membership: Optional[str] = key(
        None, contract=True, allowed="path to a CSV or Parquet file: `date, asset_id[, weight]`",
        doc="Published member lists: each applies to trades on or after its date until the next; the first "
            "observation on or after a list's date is a reconstitution. Candidates are the eligible listed assets; a "
            "`weight` column replaces the scheme. Relative paths are resolved against the config file's folder.")

    @field_validator("exclude_categories")
    @classmethod
    def _known_categories(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if c not in CATEGORIES]
        if bad:
            raise ValueError(f"unknown categories {bad}; expected a subset of {list(CATEGORIES)}")
        return v


class SelectionConfig(Section):
    """Top-N by market cap (or a composite rank) with rank and time buffers."""

    top_n: int = key(100, ge=1, le=1_000_000, contract=True, allowed="1 … 1000000",
                     doc="Number of constituents: the top N eligible assets by market cap at *d*.")
    entry_rank: Optional[int] = key(None, ge=1, contract=True, allowed="≥ 1 and ≤ `top_n`",
                                    doc="A newcomer enters only at rank ≤ `entry_rank`. `null` = `top_n`.")
    exit_rank: Optional[int] = key(None, ge=1, contract=True, allowed="≥ 1 and ≥ `top_n`",
                                   doc="An incumbent stays while rank ≤ `exit_rank`. `null` = `top_n`.")
    rank_by: Literal["market_cap", "composite"] = key(
        "market_cap", contract=True, allowed="`market_cap`, `composite`",
        doc="`market_cap`: by (smoothed) market cap at *d*, descending. `composite`: by the weighted average of "
            "the ranks in `composite` (MVIS style).")
    composite: Optional[dict[Literal["market_cap", "volume"], float]] = key(
        None, contract=True, allowed="`{market_cap: w, volume: w}`, weights > 0; required for `composite`",
        doc="Weights of the average rank: each component's rank among eligible assets at *d* (market cap "
            "descending; volume = the trailing mean 24 h volume over `universe.volume_window`, descending); ties by "
            "asset_id.")
    qualify_reviews: int = key(
        1, ge=1, le=1000, contract=True, allowed="1 … 1000, reviews",
        doc="Time buffer: a newcomer enters only if it was eligible and ranked ≤ `entry_rank` at this many "
            "consecutive reviews (reconstitutions, the first investment, regime entries). Members are unaffected.")
    replace_dropped: bool = key(
        False, contract=True, allowed="`true`, `false`",
        doc="Between reconstitutions, a member that is not eligible at a reweight is replaced for good by the "
            "best-ranked eligible non-member (else it gets no weight and returns when eligible again).")

    @model_validator(mode="after")
    def _buffer_consistent(self) -> SelectionConfig:
        if self.entry_rank is not None and self.entry_rank > self.top_n:
            raise ValueError(f"entry_rank ({self.entry_rank}) must be <= top_n ({self.top_n})")
        if self.exit_rank is not None and self.exit_rank < self.top_n:
            raise ValueError(f"exit_rank ({self.exit_rank}) must be >= top_n ({self.top_n})")
        if self.rank_by == "composite" and not self.composite:
            raise ValueError("selection.composite (e.g. {market_cap: 0.5, volume: 0.5}) is required with "
                             "rank_by: composite")
        if self.composite is not None:
            if self.rank_by != "composite":
                raise ValueError("selection.composite is only used with rank_by: composite")
            bad = {k: v for k, v in self.composite.items() if not v > 0}
            if bad:
                raise ValueError(f"selection.composite weights must be > 0, got {bad}")
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
        doc="Cap per constituent; the excess is redistributed. If the caps sum to less than 1, weights "
            "proportional to the caps are used (equal weights for one cap) and warning `cap_infeasible` is recorded. "
            "`null` = no cap.")
    rank_caps: Optional[list[float]] = key(
        None, contract=True, allowed="list of fractions in (0, 1]",
        doc="Tiered caps (CoinDesk 20: `[0.30]` with `max_weight: 0.20`): the cap of the largest, 2nd, … member by "
            "raw weight; `max_weight` (or no cap) for the rest.")
    min_weight: Optional[float] = key(
        None, gt=0, lt=1, contract=True, allowed="> 0 and < 1; `top_n` × `min_weight` ≤ 1",
        doc="Floor for every constituent (BGCI 1 %). Caps and floors are one exact water-filling problem.")
    category_caps: Optional[dict[str, float]] = key(
        None, contract=True, allowed="categories → fractions in (0, 1]",
        doc="Cap on the summed weight of a category, e.g. `{exchange_token: 0.10}`: an over-cap category is scaled "
            "to its cap and the excess goes pro rata to the names outside it, until every bound holds.")
    fixed: Optional[dict[str, float]] = key(
        None, contract=True, allowed="asset_ids → fractions in (0, 1]; sum ≤ 1",
        doc="Fixed weights of named members, e.g. `{bitcoin: 0.40, ethereum: 0.25}` (MVIS Optimum); the other "
            "members share the rest by the scheme. A fixed asset that is not a member at a trade is not held, and the "
            "others share its weight (warning `fixed_not_selected`).")

    @model_validator(mode="after")
    def _bounds(self) -> WeightingConfig:
        if self.rank_caps is not None:
            bad = [c for c in self.rank_caps if not 0 < c <= 1]
            if bad or not self.rank_caps:
                raise ValueError(f"weighting.rank_caps must be a non-empty list of fractions in (0, 1], got "
                                 f"{self.rank_caps}")
        if self.min_weight is not None:
            caps = [c for c in [self.max_weight, *(self.rank_caps or [])] if c is not None]
            if caps and self.min_weight > min(caps):
                raise ValueError(f"weighting.min_weight ({self.min_weight}) is above a cap ({min(caps)})")
        if self.category_caps is not None:
            bad_keys = [c for c in self.category_caps if c not in CATEGORIES]
            if bad_keys:
                raise ValueError(f"weighting.category_caps: unknown categories {bad_keys}; expected some of "
                                 f"{list(CATEGORIES)}")
            out_of_range = {k: v for k, v in self.category_caps.items() if not 0 < v <= 1}
            if out_of_range:
                raise ValueError(f"weighting.category_caps values must be fractions in (0, 1], got {out_of_range}")
        if self.fixed is not None:
            out_of_range = {k: v for k, v in self.fixed.items() if not 0 < v <= 1}
            if out_of_range:
                raise ValueError(f"weighting.fixed weights must be fractions in (0, 1], got {out_of_range}")
            if sum(self.fixed.values()) > 1 + 1e-12:
                raise ValueError(f"weighting.fixed weights sum to {sum(self.fixed.values()):g} > 1")
        return self


Frequency = Literal["weekly", "monthly", "quarterly", "every_observation"]


class RebalanceConfig(Section):
    """The rebalance and reconstitution calendars and the decision lag."""

    frequency: Frequency = key(
        "weekly", contract=True, allowed="`weekly`, `monthly`, `quarterly`, `every_observation`",
        doc="Scheduled rebalance dates: each `weekday`, the 1st of each month, the 1st of January, April, July "
            "and October, or every row (each mapped to the first observation on or after it). While bearish, a "
            "scheduled date targets the stable sleeve: it places orders only to finish exits that "
            "`costs.min_order_usd` or `costs.max_participation` left unfilled.")
    reconstitution: Optional[Frequency] = key(
        None, contract=True, allowed="`null`, `weekly`, `monthly`, `quarterly`, `every_observation`",
        doc="When members are re-selected (ranking, buffers, lists). Trade dates are the union of both calendars; "
            "between reconstitutions the members are kept and only reweighted. `null` = every trade re-selects.")
    drift_band: float = key(
        0.0, ge=0, lt=1, contract=True, allowed="≥ 0 and < 1, fraction of NAV",
        doc="Skip a scheduled reweight-only trade (same members as the trade before) when every drifted weight "
            "is within this distance of its target (the stable sleeve included); never a reconstitution, the first "
            "investment or a regime switch. `0` = never skip.")
    weekday: Weekday = key("monday", contract=True, allowed="`monday` … `sunday` (lower case)",
                           doc="Day of the weekly rebalance. Ignored unless `frequency` is `weekly`.")
    decision_lag: int = key(
        1, ge=0, le=100_000, contract=True, allowed="0 … 100000, obs.",
        doc="A trade at row *t* uses data of row *d* = *t* − `decision_lag`. `0` = the same close. Applies to all "
            "decisions, including the regime.")


class StableConfig(Section):
    """The sleeve held outside the risk assets."""

    asset: str = key(
        "cash", contract=True, allowed="`cash`, or an asset_id in the data",
        doc="`cash` is a $1 sleeve that trades at no cost and places no orders. An asset_id (e.g. a stablecoin) is "
            "priced from the data (forward-filled), traded with costs, and excluded from the risk universe. It must "
            "have a price on or before the backtest start.")
    yield_apr: float = key(
        0.0, ge=0, le=1.0, contract=True, allowed="0 … 1, fraction per 365-day year",
        doc="The stable sleeve earns this yield (T-bills, stablecoin lending): between consecutive observations its "
            "units grow by (1 + yield_apr)^(calendar days / 365). Shown as `stable_yield` in nav.parquet and in the "
            "statistics; not a cost, never applied to the risk assets.")
    depeg_band: Optional[float] = key(
        0.02, gt=0, lt=1, allowed="> 0 and < 1, fraction of $1, or `null` (no check)",
        doc="When `asset` is priced, warn (`stable_depeg` in summary.json, with dates and prices) if one of its closes "
            "inside the backtest window is outside $1 ± this band. Only a warning: the sleeve is always valued at its "
            "price. Ignored for `cash`.")


class MethodologyConfig(Section):
    """Every section that decides what the index holds (the plan)."""

    market_cap: MarketCapConfig = MarketCapConfig()
    universe: UniverseConfig = UniverseConfig()
    selection: SelectionConfig = SelectionConfig()
    weighting: WeightingConfig = WeightingConfig()
    rebalance: RebalanceConfig = RebalanceConfig()
    regime: RegimeConfig = RegimeConfig()
    stable: StableConfig = StableConfig()
    prices: PricesConfig = PricesConfig()
