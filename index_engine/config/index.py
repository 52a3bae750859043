"""``IndexConfig``: one YAML file = one index methodology plus its replay and run settings.

The YAML keeps one flat level of sections (the public contract, see docs/config.md). In Python the
sections fall into three groups, each a model of its own:

* ``cfg.methodology`` (``MethodologyConfig``): what the index holds — decides the plan;
* ``cfg.replay`` (``ReplayConfig``): costs and the backtest window/initial value;
* ``cfg.run`` (``RunSettings``): name, description, benchmarks and where the CLI finds data.

Every section belongs to exactly one group (checked when this module is imported), so the hashes
derived from the groups cannot silently miss a new key: ``config_hash`` covers methodology and
replay; ``plan_key`` covers methodology and the backtest window (what a plan depends on).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError, model_validator

from index_engine.config.base import Section, key
from index_engine.config.methodology import (
    MarketCapConfig,
    MethodologyConfig,
    RebalanceConfig,
    RegimeConfig,
    SelectionConfig,
    StableConfig,
    UniverseConfig,
    WeightingConfig,
)
from index_engine.config.prices import PricesConfig
from index_engine.config.replay import BacktestConfig, CostsConfig, ReplayConfig
from index_engine.config.run import BenchmarksConfig, DataConfig, RunSettings
from index_engine.config.yaml_io import format_validation_error, read_yaml, show_value
from index_engine.errors import ConfigError


class IndexConfig(Section):
    """A complete index methodology plus the replay and run settings (flat, as in the YAML file)."""

    name: str = RunSettings.model_fields["name"]  # type: ignore[assignment]
    description: str = RunSettings.model_fields["description"]  # type: ignore[assignment]
    market_cap: MarketCapConfig = MarketCapConfig()
    universe: UniverseConfig = UniverseConfig()
    selection: SelectionConfig = SelectionConfig()
    weighting: WeightingConfig = WeightingConfig()
    rebalance: RebalanceConfig = RebalanceConfig()
    regime: RegimeConfig = RegimeConfig()
    stable: StableConfig = StableConfig()
    prices: PricesConfig = PricesConfig()
    costs: CostsConfig = CostsConfig()
    backtest: BacktestConfig = BacktestConfig()
    benchmarks: BenchmarksConfig = BenchmarksConfig()
    data: DataConfig = DataConfig()

    @model_validator(mode="after")
    def _cross_sections(self) -> IndexConfig:
        w, top_n = self.weighting, self.selection.top_n
        if w.min_weight is not None and w.min_weight * top_n > 1 + 1e-12:
            raise ValueError(f"weighting.min_weight ({w.min_weight}) × selection.top_n ({top_n}) > 1: the floors "
                             "cannot all hold")
        return self

    # ---- the three groups ---------------------------------------------------------------------
    @property
    def methodology(self) -> MethodologyConfig:
        """The sections that decide the plan."""
        return MethodologyConfig(**{k: getattr(self, k) for k in MethodologyConfig.model_fields})

    @property
    def replay(self) -> ReplayConfig:
        """Costs and the backtest window / initial value."""
        return ReplayConfig(**{k: getattr(self, k) for k in ReplayConfig.model_fields})

    @property
    def run(self) -> RunSettings:
        """Name, description, benchmarks, data."""
        return RunSettings(**{k: getattr(self, k) for k in RunSettings.model_fields})

    # ---- construction ---------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path) -> IndexConfig:
        """Read and validate a YAML config; errors name the file and the offending key."""
        path = Path(path)
        raw = read_yaml(path, "config file")
        cfg = cls.from_dict({} if raw is None else raw, source=str(path))
        return cfg.with_paths_from(path.parent, source=str(path))

    def with_paths_from(self, folder: str | Path, source: str | None = None) -> IndexConfig:
        """A copy whose relative file paths (``data.path``, ``data.categories``, ``universe.membership``)
        are resolved against ``folder`` (a config file's folder), as ``from_yaml`` does.

        A relative path must stay inside ``folder`` once ``..`` and symlinks are resolved: one that
        leaves it is a ``ConfigError`` naming the key (and ``source``). Absolute paths are kept as
        they are (an explicit choice)."""
        base = Path(folder).resolve()
        data = self.data.model_copy(update={
            name: _confined(getattr(self.data, name), base, f"data.{name}", source) for name in ("path", "categories")
        })
        universe = self.universe.model_copy(update={
            "membership": _confined(self.universe.membership, base, "universe.membership", source)})
        return self.model_copy(update={"data": data, "universe": universe})

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<dict>") -> IndexConfig:
        """Validate a mapping of sections; ``source`` names it in error messages."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: expected a mapping of sections at the top level, got {type(raw).__name__}")
        bad = [k for k in raw if not isinstance(k, str)]
        if bad:
            raise ConfigError(f"{source}: section names must be text, got {show_value(bad[0])}")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(source, exc)) from None
        except RecursionError:
            raise ConfigError(f"{source}: nested too deeply to be a config") from None

    def with_overrides(self, overrides: dict[str, object]) -> IndexConfig:
        """A copy with dotted-path overrides applied, e.g. ``{"regime.window": 100}``; validated."""
        raw = self.resolved()
        for dotted, value in overrides.items():
            node = raw
            parts = str(dotted).split(".")
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    raise ConfigError(f"override {dotted!r}: {part!r} is not a config section")
                node = node[part]
            node[parts[-1]] = value
        return IndexConfig.from_dict(raw, source="overrides")

    # ---- serialisation and identity -------------------------------------------------------------
    def resolved(self) -> dict:
        """The full config with every default filled in, JSON-compatible."""
        return self.model_dump(mode="json")

    def config_hash(self) -> str:
        """sha256 of the resolved methodology and replay sections (not name, description, benchmarks
        or data): two configs with the same hash define the same index replayed the same way."""
        return _sha256({**self.methodology.model_dump(mode="json"), **self.replay.model_dump(mode="json")})

    def plan_key(self) -> str:
        """sha256 of everything the plan depends on: the methodology and the backtest window."""
        window = {"start": str(self.backtest.start), "end": str(self.backtest.end)}
        return _sha256({**self.methodology.model_dump(mode="json"), "window": window})


def _sha256(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _confined(value: str | None, base: Path, key: str, source: str | None) -> str | None:
    """``value`` resolved against the config's folder ``base`` (already resolved); a relative path that
    leaves ``base`` through ``..`` or a symlink is a ``ConfigError``."""
    if not value or Path(value).is_absolute():
        return value
    resolved = (base / value).resolve()
    if not resolved.is_relative_to(base):
        where = f"{source}: " if source else ""
        raise ConfigError(f"{where}{key}: the relative path {show_value(value)} resolves to {resolved}, outside the "
                          f"config file's folder {base}; a relative path must stay inside it (write an absolute path "
                          "to use a file elsewhere)")
    return str(resolved)


def _check_groups() -> None:
    groups = [set(g.model_fields) for g in (MethodologyConfig, ReplayConfig, RunSettings)]
    union = set().union(*groups)
    assert sum(len(g) for g in groups) == len(union), "a section belongs to two config groups"
    assert union == set(IndexConfig.model_fields), (
        f"config sections without a group: {set(IndexConfig.model_fields) ^ union}")


_check_groups()
__all__ = ["IndexConfig", "key"]
