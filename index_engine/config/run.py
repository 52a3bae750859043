"""Run settings: what a run compares against and where the CLI finds its market. Not the index:
left out of ``config_sha256`` and of the plan key."""

from __future__ import annotations

import datetime as dt
from typing import Optional

from pydantic import model_validator

from index_engine.config.base import Date, Section, key

#: ``n_assets × days`` of the synthetic market: 10 M cells take about 1 GB while generating
MAX_SYNTHETIC_CELLS = 10_000_000


class BenchmarksConfig(Section):
    """Comparison series run by the same engine (see ``backtest.benchmarks``)."""

    assets: list[str] = key(
        list, contract=True, allowed="asset_ids in the data",
        doc="One buy-and-hold benchmark per asset, named by its asset_id: universe = that asset only (no category "
            "exclusion, no other screens), `top_n` 1, no regime.")
    no_regime: bool = key(False, contract=True, allowed="`true`, `false`",
                          doc="Benchmark `no_regime`: the same index with `regime.signal: none` (always invested).")
    equal_weight: bool = key(False, contract=True, allowed="`true`, `false`",
                             doc="Benchmark `equal_weight`: the same index with `weighting.scheme: equal` (and no "
                                 "`max_weight` cap), always invested.")

    @property
    def enabled(self) -> bool:
        """True when any benchmark is requested."""
        return bool(self.assets) or self.no_regime or self.equal_weight


class SyntheticConfig(Section):
    """Parameters of the embedded synthetic market (``index_engine.data.synthetic``)."""

    seed: int = key(7, ge=0, le=2**63 - 1, contract=True, allowed="≥ 0",
                    doc="Seed of the embedded synthetic market (`index_engine/data/synthetic.py`).")
    n_assets: int = key(800, ge=5, le=20_000, contract=True, allowed="5 … 20000; `n_assets` × `days` ≤ 10,000,000",
                        doc="Number of asset columns.")
    days: int = key(2190, ge=30, le=36_500, contract=True, allowed="30 … 36500, days; `n_assets` × `days` ≤ "
                                                                   "10,000,000",
                    doc="Length of the daily calendar.")
    start: Date = key(dt.date(2019, 1, 1), contract=True, allowed="`YYYY-MM-DD`", doc="First UTC day.")
    n_stablecoins: int = key(4, ge=0, le=1_000, contract=True, allowed="0 … 1000",
                             doc="Number of stablecoins. The generator caps it at `n_assets` − 4.")

    @model_validator(mode="after")
    def _size(self) -> SyntheticConfig:
        cells = self.n_assets * self.days
        if cells > MAX_SYNTHETIC_CELLS:
            raise ValueError(f"n_assets × days = {self.n_assets} × {self.days} = {cells:,} cells, more "
                             f"than {MAX_SYNTHETIC_CELLS:,} (about 1 GB while generating); lower one of them")
        return self


class DataConfig(Section):
    """Where the market comes from when the CLI gets no ``--data``: a file, else the synthetic market.

    Relative paths are resolved against the config file's folder.
    """

    path: Optional[str] = key(None, allowed="path to a `.parquet`, `.pq` or `.csv` long table ([data.md](data.md))",
                              doc="Market file for the CLI when there is no `--data`. `null` = the synthetic market.")
    categories: Optional[str] = key(None, allowed="path to a categories CSV",
                                    doc="Categories for the market file. The CLI also uses it with `--data` when "
                                        "`--categories` is not given. Ignored for the synthetic market.")
    synthetic: SyntheticConfig = SyntheticConfig()


class RunSettings(Section):
    """Labels and run settings that are not part of the index."""

    name: str = key("index", contract=True, allowed="any",
                    doc="Name of the index. Shown in the CLI table, `summary.json` (`index`) and the report.")
    description: str = key("", contract=True, allowed="any", doc="Free text. Stored in `summary.json` under `config`.")
    benchmarks: BenchmarksConfig = BenchmarksConfig()
    data: DataConfig = DataConfig()
