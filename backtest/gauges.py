"""Every regime signal against its threshold at one row of nav.parquet — what ``index-engine holdings``
prints and the report's regime card draws.

A signal's *threshold* is the level whose crossing switches its own state machine: the exit level
(``signal_<name>_lower``) while its vote is bull, the entry level (``signal_<name>_upper``) while bear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from index_engine.config import IndexConfig, SignalConfig
from index_engine.config.regime import FOLLOWS_ASSET


@dataclass(frozen=True)
class SignalGauge:
    """One signal at one row. ``value`` / ``threshold`` are in ``unit`` ("USD" or "share");
    ``distance`` = value / threshold − 1 (None where undefined); ``vote`` bull / bear (its own
    state machine); ``turns`` "bear below" / "bull above"; ``what`` names the series and
    ``against`` the reference in words."""

    name: str
    vote: str
    value: Optional[float]
    threshold: Optional[float]
    distance: Optional[float]
    turns: str
    what: str
    against: str
    unit: str

    def to_dict(self) -> dict:
        """JSON-ready (non-finite numbers as None)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _num(v) -> Optional[float]:
    return None if v is None or not math.isfinite(float(v)) else float(v)


def series_text(sig: SignalConfig) -> str:
    """What a signal follows in words: "Total market cap", "bitcoin price" or "Breadth"."""
    if sig.signal == "breadth":
        return "Breadth"
    if sig.signal in FOLLOWS_ASSET and sig.asset:
        return f"{sig.asset} price"
    return "Total market cap"


def reference_text(sig: SignalConfig) -> str:
    """The reference in words, with the bands: "200-obs. SMA × (1 − 0.02)", "its 200-obs. EMA"…"""
    s = sig.signal
    if s in ("sma_crossover", "ema_crossover"):
        avg = "SMA" if s == "sma_crossover" else "EMA"
        text = f"{sig.fast_window}-obs. {avg} vs {sig.window}-obs. {avg}"
    elif s == "breadth":
        b = sig.breadth
        text = f"share of the top {b.top_n} above their {b.window}-obs. SMA, threshold {b.threshold:g}"
    elif s == "momentum":
        text = f"its value {sig.momentum_window} obs. earlier"
    elif s == "drawdown":
        text = f"{1 - float(sig.drawdown_limit or 0):.0%} of its running peak"
    else:
        text = f"{sig.window}-obs. SMA"
    bands = [f"exit band {sig.exit_band_value:g}"] * bool(sig.exit_band_value) + \
            [f"entry band {sig.entry_band_value:g}"] * bool(sig.entry_band_value)
    return text + (f" ({', '.join(bands)})" if bands else "")


def signal_gauges(cfg: IndexConfig, row: dict) -> list[SignalGauge]:
    """The gauges of every signal of ``cfg.regime`` at one nav row (a dict); [] for ``none``. Rows of
    run folders written before per-signal columns existed fall back to ``signal`` / ``signal_sma``."""
    g = cfg.regime
    if g.signal == "none":
        return []
    out = []
    for part, name in zip(g.parts(), g.part_names()):
        if f"signal_{name}" in row:
            vote = "bull" if row.get(f"vote_{name}", 1) == 1 else "bear"
            value, lower, upper = row[f"signal_{name}"], row[f"signal_{name}_lower"], row[f"signal_{name}_upper"]
        else:  # an older nav.parquet: one symmetric signal
            vote = "bear" if row.get("regime") == "bear" else "bull"
            value, sma = row.get("signal"), _num(row.get("signal_sma"))
            lower = upper = None if sma is None else sma
            if sma is not None:
                lower, upper = sma * (1 - part.exit_band_value), sma * (1 + part.entry_band_value)
        value, threshold = _num(value), _num(lower if vote == "bull" else upper)
        distance = None if value is None or threshold is None or threshold <= 0 else value / threshold - 1.0
        out.append(SignalGauge(name, vote, value, threshold, distance,
                               "bear below" if vote == "bull" else "bull above", series_text(part),
                               reference_text(part), "share" if part.signal == "breadth" else "USD"))
    return out
