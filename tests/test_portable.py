"""Portability: the same seed gives the same bits on every CPU, and no CPU-dependent float reaches a pin.

numpy's float64 ``exp``/``log`` take an AVX-512 SIMD path that differs in the last bit from the
scalar path of other CPUs (and libm differs between FMA and non-FMA builds). The synthetic market
and the kernels therefore use ``index_engine.kernels.portable``; these tests keep it that way:

* the portable functions are accurate (≤ 1 ulp) and compile to plain IEEE operations (the numba
  build equals the pure-Python one bit for bit: no fused multiply-add);
* every transcendental numpy/math function is perturbed by one ulp — what another CPU may do — and
  the pinned hashes must not move;
* a static scan forbids libm/SIMD transcendental calls in the modules whose floats reach pins;
* on an AVX-512 machine the golden tests run again with numpy's SIMD features switched off.
"""

from __future__ import annotations

import ast
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index_engine.data.portable_random import normal, student_t, uniform
from index_engine.kernels import portable

ROOT = Path(__file__).resolve().parents[1]


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    ok = np.isfinite(want) & (want != 0)
    return np.abs(got[ok] - want[ok]) / np.spacing(np.abs(want[ok]))


def test_exp_and_log_are_within_one_ulp():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-745.0, 709.7, 200_000), rng.normal(0, 1, 100_000), rng.normal(0, 1e-9, 1000),
                        [0.0, -0.0, 1e-300, -708.4, -720.0, 709.0]])
    with np.errstate(all="ignore"):
        assert _ulps(portable.exp_array(x), np.exp(x)).max() <= 1.0
        y = np.concatenate([10.0 ** rng.uniform(-320, 308, 200_000), rng.uniform(0.5, 2.0, 100_000), [1.0, 2.0, 5e-324]])
        assert _ulps(portable.log_array(y), np.log(y)).max() <= 1.0
    assert portable.log(1.0) == 0.0 and portable.exp(0.0) == 1.0
    assert portable.exp(800.0) == math.inf and portable.exp(-800.0) == 0.0
    assert math.isnan(portable.log(-1.0)) and portable.log(0.0) == -math.inf and math.isnan(portable.exp(math.nan))


def test_numba_build_equals_plain_python_bit_for_bit():
    """The compiled functions use no fused multiply-add or other CPU-specific rounding."""
    rng = np.random.default_rng(1)
    for x in np.concatenate([rng.uniform(-745.0, 709.7, 3000), rng.normal(0, 2, 3000)]).tolist():
        assert portable.exp(x) == portable.exp.py_func(x)
    for x in np.concatenate([10.0 ** rng.uniform(-300, 300, 3000), rng.uniform(0.6, 1.5, 3000)]).tolist():
        assert portable.log(x) == portable.log.py_func(x)


def test_portable_draws_have_the_right_distribution():
    rng = np.random.default_rng(2)
    z = normal(rng, 400_000)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    assert abs(np.mean(np.abs(z) > 1.959964) - 0.05) < 0.003
    t = student_t(rng, 3, 400_000)  # P(|t3| > 3.182446) = 0.05
    assert abs(np.mean(np.abs(t) > 3.182446) - 0.05) < 0.003
    u = uniform(rng, 2.0, 5.0, 100_000)
    assert u.min() >= 2.0 and u.max() < 5.0 and abs(u.mean() - 3.5) < 0.02
    assert normal(np.random.default_rng(3), (7, 5)).shape == (7, 5)


# ---- no CPU-dependent float reaches a pinned hash ----------------------------------------------------
_TRANSCENDENTAL = ("exp", "expm1", "exp2", "log", "log1p", "log2", "log10", "power", "float_power", "sin", "cos",
                   "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh", "cbrt")


@pytest.fixture
def another_cpu(monkeypatch):
    """Every numpy and math transcendental returns a result one ulp away, as a different CPU may."""
    for name in _TRANSCENDENTAL:
        for module in (np, math):
            original = getattr(module, name, None)
            if original is None:
                continue

            def shifted(*args, _f=original, _numpy=module is np, **kwargs):
                out = _f(*args, **kwargs)
                return np.nextafter(out, np.inf) if _numpy else math.nextafter(out, math.inf)

            monkeypatch.setattr(module, name, shifted)


def test_last_bit_differences_in_libm_or_simd_do_not_move_the_pins(another_cpu):
    from tests._helpers import SYNTHETIC_FLAGSHIP, synthetic_run

    market, result = synthetic_run()
    assert market.content_hash() == SYNTHETIC_FLAGSHIP["data_sha256"]
    assert result.transactions_hash() == SYNTHETIC_FLAGSHIP["transactions_sha256"]


#: ``numpy.random.Generator`` methods that transform uniforms with libm (use ``portable_random``).
_LIBM_DRAWS = ("standard_normal", "normal", "standard_t", "uniform", "lognormal", "exponential", "standard_exponential",
               "gamma", "standard_gamma", "beta", "chisquare", "choice", "poisson", "binomial", "pareto", "weibull")

#: Modules whose floats reach a pinned hash (data, plans, replay records) and where any
#: exponential, logarithm, power or trigonometric function must come from ``kernels.portable``.
PINNED_PATH = ("index_engine/data/synthetic.py", "index_engine/data/portable_random.py", "index_engine/kernels",
               "index_engine/plan.py", "index_engine/universe.py", "index_engine/selection.py",
               "index_engine/weighting.py", "index_engine/regime.py", "backtest/kernels.py", "backtest/costs.py",
               "backtest/engine.py", "backtest/index_level.py")


def _forbidden_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in _TRANSCENDENTAL and isinstance(node.value, ast.Name) \
                and node.value.id in ("np", "numpy", "math"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
        if isinstance(node, ast.Attribute) and node.attr in _LIBM_DRAWS and not (
                isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy")):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: Generator.{node.attr} (libm inside numpy)")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = node.right
            if not (isinstance(exponent, ast.Constant) and isinstance(exponent.value, int)):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: ** with a non-integer exponent")
    return found


def test_no_libm_or_simd_transcendentals_on_the_pinned_path():
    files = []
    for entry in PINNED_PATH:
        p = ROOT / entry
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p] if p.exists() else []
    assert files
    bad = [hit for f in files if f.name != "portable.py" for hit in _forbidden_calls(f)]
    assert not bad, "use index_engine.kernels.portable instead (CPU-independent):\n" + "\n".join(bad)


def _avx512() -> str:
    try:
        feats = np._core._multiarray_umath.__cpu_features__
    except AttributeError:  # pragma: no cover - older numpy
        return ""
    return " ".join(k for k in ("AVX512F", "AVX512_SKX", "AVX512_ICL", "AVX512_SPR", "X86_V4") if feats.get(k))


@pytest.mark.skipif(not _avx512(), reason="this CPU has no AVX-512: numpy takes the scalar exp/log path already")
def test_golden_runs_pass_with_numpy_simd_switched_off():
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": _avx512()}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_golden.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
