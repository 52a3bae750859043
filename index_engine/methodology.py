"""``Methodology``: an ``IndexConfig`` plus your own rules in Python (docs/python.md).

    m = Methodology.from_config(cfg).with_weighting(momentum_weights, lookback=90)
    result = run_backtest(m, market)

Three hooks replace one stage each; everything else (universe screens, calendars, caps and floors,
the replay, costs) stays the engine's:

* ``with_selection(fn)`` — the members of each trade: a boolean mask (N,) or asset ids in rank order
  (the first ``selection.top_n`` eligible ones are taken). Replaces the top-N ranking and its buffers.
* ``with_weighting(fn)`` — raw weights (N,) ≥ 0 on the selected assets; the engine's exact caps,
  floors, category caps, fixed weights and normalisation still apply.
* ``with_regime(fn)`` — the state (bool) or risk share in [0, 1] at each decision row; the decision
  lag and ``regime.evaluate`` still apply. Replaces ``regime.signal``.

A plain function takes a ``RuleContext`` (``index_engine.context``) and the rule's keyword parameters.
A numba ``@njit`` function is called from a compiled loop instead, with arrays through the decision
row (see ``index_engine.custom``). Parameters can be swept: grid keys ``rules.<hook>.<param>``.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from index_engine.config import IndexConfig
from index_engine.errors import ConfigError

HOOKS = ("selection", "weighting", "regime")


def is_njit(fn: Any) -> bool:
    """Whether ``fn`` is a numba-compiled function (called from compiled loops)."""
    try:
        from numba.core.registry import CPUDispatcher
    except ImportError:  # pragma: no cover - numba is a dependency
        return False
    return isinstance(fn, CPUDispatcher)


@dataclass(frozen=True)
class Rule:
    """One custom rule: the function, its keyword parameters and its name (for errors and summaries)."""

    fn: Callable[..., Any]
    params: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The function's name (``__name__``; numba functions keep the Python name)."""
        return str(getattr(self.fn, "__name__", None) or getattr(getattr(self.fn, "py_func", None), "__name__", "rule"))

    @property
    def compiled(self) -> bool:
        """True for a numba ``@njit`` function."""
        return is_njit(self.fn)

    def key(self) -> tuple:
        """A hashable identity of the function and its parameters (plan caches, sweeps)."""
        return (id(self.fn), tuple(sorted((k, repr(v)) for k, v in self.params.items())))

    def describe(self) -> dict:
        """JSON-ready: name, module, numba or python, parameters, sha256 of the source when available."""
        py = getattr(self.fn, "py_func", self.fn)
        try:
            digest: Optional[str] = hashlib.sha256(inspect.getsource(py).encode()).hexdigest()
        except (OSError, TypeError):
            digest = None
        return {"name": self.name, "module": getattr(py, "__module__", None),
                "kind": "numba" if self.compiled else "python",
                "params": {k: v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)
                           for k, v in self.params.items()},
                "source_sha256": digest}


@dataclass(frozen=True)
class Methodology:
    """An ``IndexConfig`` with optional custom selection, weighting and regime rules."""

    config: IndexConfig
    selection: Optional[Rule] = None
    weighting: Optional[Rule] = None
    regime: Optional[Rule] = None

    @classmethod
    def from_config(cls, config: IndexConfig) -> Methodology:
        """The config's own methodology, ready for ``with_*`` hooks."""
        if not isinstance(config, IndexConfig):
            raise ConfigError(f"Methodology.from_config: expected an IndexConfig, got {type(config).__name__}")
        return cls(config)

    def _with(self, hook: str, fn: Callable[..., Any], params: dict) -> Methodology:
        if not callable(fn):
            raise ConfigError(f"with_{hook}: expected a function, got {type(fn).__name__}")
        return self._hooks({hook: Rule(fn, dict(params))})

    def _hooks(self, hooks: dict[str, Optional[Rule]]) -> Methodology:
        rules = {h: getattr(self, h) for h in HOOKS} | hooks
        return Methodology(self.config, selection=rules["selection"], weighting=rules["weighting"],
                           regime=rules["regime"])

    def with_selection(self, fn: Callable[..., Any], **params: Any) -> Methodology:
        """A copy whose members come from ``fn`` (mask or ranked ids); ``params`` are passed to it."""
        return self._with("selection", fn, params)

    def with_weighting(self, fn: Callable[..., Any], **params: Any) -> Methodology:
        """A copy whose raw weights come from ``fn``; the config's caps and floors still apply."""
        return self._with("weighting", fn, params)

    def with_regime(self, fn: Callable[..., Any], **params: Any) -> Methodology:
        """A copy whose regime state / risk share comes from ``fn`` (at every decision row)."""
        return self._with("regime", fn, params)

    def with_config(self, config: IndexConfig) -> Methodology:
        """The same rules over another config."""
        return replace(self, config=config)

    def without(self, *hooks: str) -> Methodology:
        """A copy without the named hooks (e.g. the ``no_regime`` benchmark drops ``regime``)."""
        return self._hooks({h: None for h in hooks})

    def with_params(self, overrides: dict[str, Any]) -> Methodology:
        """A copy with rule parameters replaced: keys ``<hook>.<param>`` (the ``rules.`` prefix of a
        sweep grid removed); ``ConfigError`` names an unknown hook or a hook without a rule."""
        out = self
        for dotted, value in overrides.items():
            hook, _, name = str(dotted).partition(".")
            if hook not in HOOKS or not name:
                raise ConfigError(f"rules.{dotted}: expected rules.<hook>.<parameter> with hook one of "
                                  f"{', '.join(HOOKS)}")
            rule = getattr(out, hook)
            if rule is None:
                raise ConfigError(f"rules.{dotted}: this methodology has no {hook} rule")
            out = out._hooks({hook: Rule(rule.fn, {**rule.params, name: value})})
        return out

    @property
    def rules(self) -> dict[str, Rule]:
        """The custom rules by hook."""
        return {h: r for h in HOOKS if (r := getattr(self, h)) is not None}

    def key(self) -> tuple:
        """Hashable identity of the rules (with the config's ``plan_key`` it identifies a plan)."""
        return tuple((h, r.key()) for h, r in self.rules.items())

    def describe(self) -> dict:
        """``{hook: Rule.describe()}`` — written to summary.json as ``rules``."""
        return {h: r.describe() for h, r in self.rules.items()}

    def __repr__(self) -> str:
        parts = [f"{h}={r.name}({', '.join(f'{k}={v!r}' for k, v in r.params.items())})" for h, r in self.rules.items()]
        return f"Methodology({self.config.name!r}{', ' if parts else ''}{', '.join(parts)})"


def split(spec: IndexConfig | Methodology) -> tuple[IndexConfig, Optional[Methodology]]:
    """``(config, methodology or None)`` of what a caller passed (a config, or a methodology)."""
    if isinstance(spec, Methodology):
        return spec.config, (spec if spec.rules else None)
    if isinstance(spec, IndexConfig):
        return spec, None
    raise ConfigError(f"expected an IndexConfig or a Methodology, got {type(spec).__name__}")
