"""The index methodology as a validated config (the public contract: see ``docs/config.md``).

Every section is a pydantic model with ``extra="forbid"``: a misspelt key is an error naming it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from index_engine.data.categories import CATEGORIES
from index_engine.errors import ConfigError

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UniverseConfig(_Section):
    """Eligibility screens, evaluated at the decision date."""

    exclude_categories: list[str] = Field(default_factory=lambda: ["stablecoin", "wrapped", "pegged"])
    min_history_days: int = Field(0, ge=0, description="days since the asset's first priced observation")
    min_volume_usd: float = Field(0.0, ge=0, description="trailing mean 24 h volume, USD")
    volume_window: int = Field(30, ge=1, description="observations in the trailing volume mean")
    assets: Optional[list[str]] = Field(None, description="restrict the universe to these asset_ids")
    min_scores: dict[str, float] = Field(
        default_factory=dict,
        description="{score column: minimum}: exclude assets whose score at the decision date is below it or missing",
    )

    @field_validator("exclude_categories")
    @classmethod
    def _known_categories(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if c not in CATEGORIES]
        if bad:
            raise ValueError(f"unknown categories {bad}; expected a subset of {list(CATEGORIES)}")
        return v


class SelectionConfig(_Section):
    """Top-N by market cap with an optional rank buffer."""

    top_n: int = Field(100, ge=1)
    entry_rank: Optional[int] = Field(None, ge=1, description="newcomers enter only at rank <= entry_rank")
    exit_rank: Optional[int] = Field(None, ge=1, description="incumbents stay while rank <= exit_rank")

    @model_validator(mode="after")
    def _buffer_consistent(self) -> "SelectionConfig":
        if self.entry_rank is not None and self.entry_rank > self.top_n:
            raise ValueError(f"entry_rank ({self.entry_rank}) must be <= top_n ({self.top_n})")
        if self.exit_rank is not None and self.exit_rank < self.top_n:
            raise ValueError(f"exit_rank ({self.exit_rank}) must be >= top_n ({self.top_n})")
        return self

    @property
    def entry(self) -> int:
        return self.entry_rank if self.entry_rank is not None else self.top_n

    @property
    def exit(self) -> int:
        return self.exit_rank if self.exit_rank is not None else self.top_n


class WeightingConfig(_Section):
    scheme: Literal["market_cap", "sqrt_market_cap", "equal"] = "market_cap"
    max_weight: Optional[float] = Field(None, gt=0, le=1, description="cap per constituent, fraction of the risk sleeve")


class RebalanceConfig(_Section):
    frequency: Literal["weekly", "monthly", "every_observation"] = "weekly"
    weekday: Weekday = "monday"
    decision_lag: int = Field(1, ge=0, description="observations between the data used and the trade")


class RegimeConfig(_Section):
    signal: Literal["none", "total_market_cap_sma", "asset_price_sma"] = "total_market_cap_sma"
    window: int = Field(200, ge=1, description="SMA length in observations")
    band: float = Field(0.0, ge=0, lt=1, description="hysteresis band around the SMA, fraction")
    confirm: int = Field(1, ge=1, description="consecutive observations beyond the band before a switch")
    asset: Optional[str] = Field(None, description="asset_id for signal asset_price_sma")

    @model_validator(mode="after")
    def _asset_needed(self) -> "RegimeConfig":
        if self.signal == "asset_price_sma" and not self.asset:
            raise ValueError("regime.asset is required when regime.signal is 'asset_price_sma'")
        return self


class StableConfig(_Section):
    asset: str = Field("cash", description="'cash' (a $1 sleeve) or an asset_id from the data, priced")


class SlippageConfig(_Section):
    """Per-order slippage. ``fixed_bps``: ``bps`` of the traded notional. ``sqrt_impact``: rate =
    spread_bps/2 + min(k·σ_i·sqrt(Q_i / ADV_i), max_impact_bps), σ_i the trailing daily volatility of log returns over
    ``vol_window`` observations and ADV_i the trailing mean 24 h volume over ``adv_window``
    observations, both at the decision date; assets without them pay ``fallback_bps`` (flagged)."""

    model: Literal["fixed_bps", "sqrt_impact"] = "fixed_bps"
    bps: float = Field(0.0, ge=0, lt=10_000)
    k: float = Field(0.7, ge=0, description="impact coefficient Y of the square-root law")
    spread_bps: float = Field(0.0, ge=0, lt=10_000, description="full bid-ask spread; half is paid")
    vol_window: int = Field(30, ge=2)
    adv_window: int = Field(30, ge=1)
    fallback_bps: float = Field(100.0, ge=0, lt=10_000, description="rate for assets without volume or volatility")
    max_impact_bps: float = Field(
        2500.0, gt=0, lt=10_000,
        description="cap on the impact rate k·σ·sqrt(Q/ADV): the square-root law does not hold for huge orders",
    )


class CostsConfig(_Section):
    fee_bps: float = Field(10.0, ge=0, lt=10_000, description="exchange fee, bps of traded notional")
    slippage_bps: float = Field(0.0, ge=0, lt=10_000, description="fixed slippage, bps (shorthand for slippage.bps)")
    gas_usd: float = Field(0.0, ge=0, description="fixed cost per order, USD")
    platform_fee_bps: float = Field(0.0, ge=0, lt=10_000, description="platform fee, bps of traded notional")
    slippage: Optional[SlippageConfig] = None
    gas_units: Optional[float] = Field(None, gt=0, description="gas per order; with gas_price_gwei priced in gas_asset")
    gas_price_gwei: Optional[float] = Field(None, gt=0)
    gas_asset: str = Field("ethereum", description="asset_id whose close prices gas (units × gwei × 1e-9)")
    min_order_usd: float = Field(0.0, ge=0, description="orders below this notional are skipped and reported")
    max_participation: Optional[float] = Field(None, gt=0, le=1, description="cap an order at this share of ADV")

    @model_validator(mode="after")
    def _consistent(self) -> "CostsConfig":
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


class BacktestConfig(_Section):
    start: Optional[date] = None
    end: Optional[date] = None
    initial_nav: float = Field(1_000_000.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> "BacktestConfig":
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"backtest.end ({self.end}) is before backtest.start ({self.start})")
        return self


class BenchmarksConfig(_Section):
    """Comparison series run by the same engine (see ``backtest.benchmarks``)."""

    assets: list[str] = Field(default_factory=list, description="buy-and-hold of each asset_id, e.g. bitcoin")
    no_regime: bool = Field(False, description="the same index without the regime switch (always invested)")
    equal_weight: bool = Field(False, description="equal-weight top-N of the same universe, always invested")

    @property
    def enabled(self) -> bool:
        return bool(self.assets) or self.no_regime or self.equal_weight


class SyntheticConfig(_Section):
    """Parameters of the embedded synthetic market (``index_engine.data.synthetic``)."""

    seed: int = 7
    n_assets: int = Field(800, ge=5, le=20_000)
    days: int = Field(2190, ge=30)
    start: date = date(2019, 1, 1)
    n_stablecoins: int = Field(4, ge=0)


class DataConfig(_Section):
    """Where the market comes from when the CLI gets no ``--data``: a file, else the synthetic market.

    Relative paths are resolved against the config file's folder.
    """

    path: Optional[str] = None
    categories: Optional[str] = None
    synthetic: SyntheticConfig = SyntheticConfig()


class IndexConfig(_Section):
    """A complete index methodology plus the replay settings."""

    name: str = "index"
    description: str = ""
    universe: UniverseConfig = UniverseConfig()
    selection: SelectionConfig = SelectionConfig()
    weighting: WeightingConfig = WeightingConfig()
    rebalance: RebalanceConfig = RebalanceConfig()
    regime: RegimeConfig = RegimeConfig()
    stable: StableConfig = StableConfig()
    costs: CostsConfig = CostsConfig()
    backtest: BacktestConfig = BacktestConfig()
    benchmarks: BenchmarksConfig = BenchmarksConfig()
    data: DataConfig = DataConfig()

    @classmethod
    def from_yaml(cls, path: str | Path) -> "IndexConfig":
        """Read and validate a YAML config; errors name the file and the offending key."""
        path = Path(path)
        raw = read_yaml(path, "config file")
        cfg = cls.from_dict(raw or {}, source=str(path))
        return cfg.model_copy(update={"data": _resolve_paths(cfg.data, path.parent)})

    @classmethod
    def from_dict(cls, raw: dict, source: str = "<dict>") -> "IndexConfig":
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: expected a mapping of sections at the top level, got {type(raw).__name__}")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(_format_validation_error(source, exc)) from None

    def resolved(self) -> dict:
        """The full config with every default filled in, JSON-compatible."""
        return self.model_dump(mode="json")

    def config_hash(self) -> str:
        """sha256 of the resolved methodology (``data`` and ``benchmarks`` excluded: not the index)."""
        body = {k: v for k, v in self.resolved().items() if k not in ("data", "benchmarks")}
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def with_overrides(self, overrides: dict[str, object]) -> "IndexConfig":
        """A copy with dotted-path overrides applied, e.g. ``{"regime.window": 100}``; validated."""
        raw = self.resolved()
        for dotted, value in overrides.items():
            node = raw
            parts = dotted.split(".")
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    raise ConfigError(f"override {dotted!r}: {part!r} is not a config section")
                node = node[part]
            node[parts[-1]] = value
        return IndexConfig.from_dict(raw, source="overrides")


def read_yaml(path: Path, what: str = "file"):
    """Parsed YAML of ``path``; ConfigError naming the file when it is missing or not YAML."""
    try:
        return yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def _resolve_paths(data: DataConfig, base: Path) -> DataConfig:
    upd = {}
    for key in ("path", "categories"):
        val = getattr(data, key)
        if val and not Path(val).is_absolute():
            upd[key] = str((base / val).resolve())
    return data.model_copy(update=upd) if upd else data


def _format_validation_error(source: str, exc: ValidationError) -> str:
    lines = [f"{source}: invalid config"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<top level>"
        if err["type"] == "extra_forbidden":
            lines.append(f"  - {key}: unknown key (check the spelling; see docs/config.md)")
        else:
            got = err.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"  - {key}: {err['msg']}{shown}")
    return "\n".join(lines)
