"""The regime section: a library of trend signals, whipsaw controls and graduated exposure.

``SignalConfig`` is one signal with its own state machine (bands, confirmations, dwell);
``RegimeConfig`` is one signal or a ``composite`` of several, plus when the state is evaluated and
how it maps to exposure. The semantics (timing, ties, undefined values) are in docs/methodology.md,
*Regime*, and the measured designs in docs/regimes.md.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import model_validator

from index_engine.config.base import Section, key

SIGNALS = ("none", "total_market_cap_sma", "asset_price_sma", "sma_crossover", "ema_crossover", "breadth",
           "momentum", "drawdown")
#: signals that follow ``asset``'s close when it is set (else the total market cap)
FOLLOWS_ASSET = ("asset_price_sma", "sma_crossover", "ema_crossover", "momentum", "drawdown")
Signal = Literal["none", "total_market_cap_sma", "asset_price_sma", "sma_crossover", "ema_crossover", "breadth",
                 "momentum", "drawdown"]


RegimeSignal = Literal["none", "total_market_cap_sma", "asset_price_sma", "sma_crossover", "ema_crossover", "breadth",
                       "momentum", "drawdown", "composite"]


class BreadthConfig(Section):
    """The breadth signal's parameters."""

    top_n: int = key(100, ge=1, le=100_000, contract=True, allowed="1 … 100000",
                     doc="The assets counted: the top N by market cap at each observation (non-excluded universe).")
    window: int = key(50, ge=1, le=100_000, contract=True, allowed="1 … 100000, obs.",
                      doc="Each asset's own price SMA, including the observation.")
    threshold: float = key(0.5, gt=0, le=1, contract=True, allowed="> 0 and ≤ 1, a share",
                           doc="Bullish while the share of them priced above their SMA is at least this.")


class SignalConfig(Section):
    """One trend signal and its own state machine."""

    signal: Signal = key(
        "total_market_cap_sma", contract=True, allowed="`" + "`, `".join(SIGNALS) + "` (and `composite`)",
        doc="`total_market_cap_sma` / `asset_price_sma`: the total market cap (or `asset`'s close) vs its SMA; "
            "`sma_crossover` / `ema_crossover`: fast vs slow average; `breadth`: share of the top N above their own "
            "SMA; `momentum`: the series vs itself `momentum_window` observations earlier; `drawdown`: the series vs "
            "(1 − `drawdown_limit`) × its running peak; `none`: always bullish; `composite`: votes over `signals`.")
    window: int = key(200, ge=1, le=100_000, contract=True, allowed="1 … 100000, obs.",
                      doc="SMA length (the slow window of a crossover), including the current observation. Until it "
                          "fills, the state counts as bullish.")
    fast_window: Optional[int] = key(None, ge=1, le=100_000, contract=True, allowed="1 … 100000, obs.; < `window`",
                                     doc="Crossovers: the fast window (e.g. 50 against 200); bullish while fast > "
                                         "slow.")
    asset: Optional[str] = key(None, contract=True, allowed="an asset_id in the data",
                               doc="The series of price signals (its close, forward-filled); without it, crossovers, "
                                   "momentum and drawdown follow the total market cap. Required for "
                                   "`asset_price_sma`.")
    breadth: BreadthConfig = BreadthConfig()
    momentum_window: Optional[int] = key(None, ge=1, le=100_000, contract=True, allowed="1 … 100000, obs.",
                                         doc="Momentum: bullish while the series' return over this many observations "
                                             "is > 0. Required for `momentum`.")
    drawdown_limit: Optional[float] = key(None, gt=0, lt=1, contract=True, allowed="> 0 and < 1, a fraction",
                                          doc="Drawdown: bearish below (1 − limit) × the series' running peak. "
                                              "Required for `drawdown`.")
    band: float = key(0.0, ge=0, lt=1, contract=True, allowed="≥ 0 and < 1, fraction",
                      doc="Hysteresis: bearish below reference × (1 − band), bullish again above reference × (1 + "
                          "band).")
    entry_band: Optional[float] = key(None, ge=0, lt=1, contract=True, allowed="≥ 0 and < 1, fraction",
                                      doc="Asymmetric: replaces `band` for bear → bull.")
    exit_band: Optional[float] = key(None, ge=0, lt=1, contract=True, allowed="≥ 0 and < 1, fraction",
                                     doc="Asymmetric: replaces `band` for bull → bear.")
    confirm: int = key(1, ge=1, le=100_000, contract=True, allowed="1 … 100000, obs.",
                       doc="Consecutive observations beyond the band needed before the state switches.")
    entry_confirm: Optional[int] = key(None, ge=1, le=100_000, contract=True, allowed="1 … 100000, obs.",
                                       doc="Asymmetric: replaces `confirm` for bear → bull.")
    exit_confirm: Optional[int] = key(None, ge=1, le=100_000, contract=True, allowed="1 … 100000, obs.",
                                      doc="Asymmetric: replaces `confirm` for bull → bear.")
    min_dwell: int = key(0, ge=0, le=100_000, contract=True, allowed="0 … 100000, obs.",
                         doc="Observations a state must last before it may switch again; the confirmation count "
                             "keeps running meanwhile.")

    @model_validator(mode="after")
    def _needs(self) -> SignalConfig:
        s = self.signal
        if s == "asset_price_sma" and not self.asset:
            raise ValueError("regime.asset is required when regime.signal is 'asset_price_sma'")
        if s in ("sma_crossover", "ema_crossover"):
            if self.fast_window is None:
                raise ValueError(f"regime.fast_window is required with signal {s}")
            if self.fast_window >= self.window:
                raise ValueError(f"regime.fast_window ({self.fast_window}) must be below regime.window "
                                 f"({self.window}): the fast average is the shorter one")
        elif self.fast_window is not None:
            raise ValueError(f"regime.fast_window is only used by sma_crossover / ema_crossover (signal is {s})")
        if s == "momentum" and self.momentum_window is None:
            raise ValueError("regime.momentum_window is required with signal momentum")
        if s != "momentum" and self.momentum_window is not None:
            raise ValueError(f"regime.momentum_window is only used by signal momentum (signal is {s})")
        if s == "drawdown" and self.drawdown_limit is None:
            raise ValueError("regime.drawdown_limit is required with signal drawdown")
        if s != "drawdown" and self.drawdown_limit is not None:
            raise ValueError(f"regime.drawdown_limit is only used by signal drawdown (signal is {s})")
        return self

    @property
    def entry_band_value(self) -> float:
        """The band for bear → bull."""
        return self.band if self.entry_band is None else self.entry_band

    @property
    def exit_band_value(self) -> float:
        """The band for bull → bear."""
        return self.band if self.exit_band is None else self.exit_band

    @property
    def entry_confirm_value(self) -> int:
        """The confirmations for bear → bull."""
        return self.confirm if self.entry_confirm is None else self.entry_confirm

    @property
    def exit_confirm_value(self) -> int:
        """The confirmations for bull → bear."""
        return self.confirm if self.exit_confirm is None else self.exit_confirm


class RegimeConfig(SignalConfig):
    """The bull/bear switch into the stable sleeve: one signal, or a composite of several."""

    signal: RegimeSignal = SignalConfig.model_fields["signal"]  # type: ignore[assignment]
    signals: Optional[list[SignalConfig]] = key(
        None, contract=True, allowed="a list of regime sections (without `composite`, `signals`, `combine`, "
                                     "`evaluate`, `exposure`)",
        doc="Composite: each listed signal runs its own state machine with its own band / confirm / dwell keys.")
    combine: Literal["all", "any", "majority"] = key(
        "all", contract=True, allowed="`all`, `any`, `majority`",
        doc="Composite, binary exposure: bullish when all / any / more than half of the signals are bullish.")
    evaluate: Literal["every_observation", "rebalance"] = key(
        "every_observation", contract=True, allowed="`every_observation`, `rebalance`",
        doc="`rebalance`: the state machine still runs every observation, but the state in effect for trades is "
            "sampled only on scheduled rebalance dates (at that trade's decision row) and held until the next one.")
    exposure: Literal["binary", "graduated"] = key(
        "binary", contract=True, allowed="`binary`, `graduated`",
        doc="`graduated` (composite): with k of m signals bullish the risk share is k / m (weights scaled by it, "
            "the rest in the stable sleeve). `binary`: all or nothing, by `combine`.")

    @model_validator(mode="after")
    def _composite(self) -> RegimeConfig:
        if self.signal == "composite":
            if not self.signals:
                raise ValueError("regime.signals (a non-empty list of signal sections) is required with signal "
                                 "composite")
            own = {k: getattr(self, k) for k in ("band", "entry_band", "exit_band", "confirm", "entry_confirm",
                                                  "exit_confirm", "min_dwell")}
            defaults = {k: SignalConfig.model_fields[k].default for k in own}
            changed = [k for k, v in own.items() if v != defaults[k]]
            if changed:
                raise ValueError(f"regime.{', regime.'.join(changed)}: a composite has no state machine of its own; "
                                 "set these inside each entry of regime.signals")
        elif self.signals is not None:
            raise ValueError("regime.signals is only used with signal composite")
        if self.exposure == "graduated" and self.signal != "composite":
            raise ValueError("regime.exposure: graduated needs signal composite (the risk share is the share of "
                             "bullish signals)")
        return self

    def parts(self) -> list[SignalConfig]:
        """The signals that run state machines: the listed ones of a composite, else this one."""
        if self.signal == "composite":
            return list(self.signals or [])
        return [SignalConfig(**{k: getattr(self, k) for k in SignalConfig.model_fields})]

    def part_names(self) -> list[str]:
        """The nav labels of ``parts()`` (``signal_<name>``, ``vote_<name>``): the signal type, suffixed
        ``_2``, ``_3`` … when a composite lists the type again."""
        seen: dict[str, int] = {}
        names = []
        for part in self.parts():
            seen[part.signal] = seen.get(part.signal, 0) + 1
            names.append(part.signal if seen[part.signal] == 1 else f"{part.signal}_{seen[part.signal]}")
        return names
