"""Custom rules in Python (index_engine.Methodology, docs/python.md): hooks reproduce the built-in
stages exactly, numba rules agree with Python ones, look-ahead is refused, errors name the rule and
the date, sweeps run over a rule's parameters."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from numba import njit

from backtest import run_backtest
from backtest.sweep import run_sweep
from index_engine import IndexConfig, LookAheadError, MarketData, Methodology, RuleError, build_plan
from index_engine.testing import check_no_lookahead
from tests._helpers import ROOT


@pytest.fixture(scope="module")
def market():
    return MarketData.synthetic(seed=11, n_assets=80, days=500)


@pytest.fixture(scope="module")
def cfg():
    return IndexConfig.from_dict({"selection": {"top_n": 15}, "regime": {"window": 60},
                                  "benchmarks": {"no_regime": True}, "costs": {"fee_bps": 10}})


# ---- python rules ---------------------------------------------------------------------------------
def cap_weights(ctx):
    return np.where(ctx.selected, ctx.market_cap_at(ctx.d), 0.0)


def top_by_cap(ctx):
    cap = np.where(ctx.eligible, ctx.market_cap_at(ctx.d), -np.inf)
    order = np.argsort(-cap, kind="stable")  # ties by column, as the engine ranks
    return list(ctx.asset_ids[order[: ctx.top_n]])


def momentum_weights(ctx, lookback=30):
    r = ctx.price_at(ctx.d) / ctx.price_at(ctx.d - lookback) - 1
    return np.where(ctx.selected & (r > 0), ctx.market_cap_at(ctx.d), 0.0)


# ---- the same rules compiled with numba: arrays through the decision row, parameters after them -----
@njit
def cap_weights_nb(price, market_cap, volume, selected):
    return np.where(selected, market_cap[-1], 0.0)


@njit
def momentum_weights_nb(price, market_cap, volume, selected, lookback):
    d = price.shape[0] - 1
    out = np.zeros(price.shape[1])
    if d < lookback:  # the python rule's NaN return before the data: no weight
        return out
    for i in range(price.shape[1]):
        if selected[i] and price[d, i] / price[d - lookback, i] - 1 > 0:
            out[i] = market_cap[d, i]
    return out


@njit
def top_by_cap_nb(price, market_cap, volume, eligible, top_n):
    cap = np.where(eligible, market_cap[-1], -np.inf)
    order = np.argsort(-cap, kind="mergesort")
    mask = np.zeros(price.shape[1], np.bool_)
    for j in range(min(top_n, order.shape[0])):
        if eligible[order[j]]:
            mask[order[j]] = True
    return mask


def test_hooks_that_restate_the_builtin_stages_give_identical_runs(market, cfg):
    base = run_backtest(cfg, market)
    for m in (Methodology.from_config(cfg).with_weighting(cap_weights),
              Methodology.from_config(cfg).with_selection(top_by_cap),
              Methodology.from_config(cfg).with_selection(top_by_cap).with_weighting(cap_weights),
              Methodology.from_config(cfg).with_weighting(cap_weights_nb),
              Methodology.from_config(cfg).with_selection(top_by_cap_nb, top_n=15)):
        r = run_backtest(m, market)
        assert r.transactions_hash() == base.transactions_hash(), m
        assert r.stats["final_nav"] == base.stats["final_nav"]


def test_the_issue_example_weights_the_positive_momentum_members_by_cap(market, cfg):
    m = Methodology.from_config(cfg).with_weighting(momentum_weights, lookback=30)
    plan = build_plan(m, market)
    base = build_plan(cfg, market)
    checked = 0
    for k in range(plan.trade_rows.size):
        cols, w = plan.targets.row(k)
        if not w.size:
            continue
        d = plan.decision_rows[k]
        members = set(base.targets.row(k)[0].tolist())
        up = {i for i in members if d >= 30 and market.price[d, i] / market.price[d - 30, i] > 1}
        assert set(cols.tolist()) == up  # members without momentum are dropped, not held
        cap = market.market_cap[d, cols]
        np.testing.assert_allclose(w, cap / cap.sum() * plan.share_at[plan.trade_rows[k]], rtol=1e-12)
        checked += 1
    assert checked > 10


def test_numba_rules_agree_with_python_rules(market, cfg):
    py = run_backtest(Methodology.from_config(cfg).with_weighting(momentum_weights, lookback=30), market)
    nb = run_backtest(Methodology.from_config(cfg).with_weighting(momentum_weights_nb, lookback=30), market)
    assert nb.transactions_hash() == py.transactions_hash()
    assert nb.summary["rules"]["weighting"]["kind"] == "numba" and py.summary["rules"]["weighting"]["kind"] == "python"


def test_regime_rule_states_and_graduated_shares(market, cfg):
    dates = market.dates

    def out_in_march(ctx):  # bear through March 2019 (decision dates)
        return not (np.datetime64("2019-03-01") <= ctx.date <= np.datetime64("2019-03-31"))

    plan = build_plan(Methodology.from_config(cfg).with_regime(out_in_march), market)
    lag = cfg.rebalance.decision_lag
    bear_rows = np.flatnonzero((dates >= np.datetime64("2019-03-01")) & (dates <= np.datetime64("2019-03-31"))) + lag
    assert (plan.share_at[bear_rows] == 0).all() and plan.share_at[bear_rows[0] - 1] == 1
    kinds = dict(zip(plan.trade_rows.tolist(), plan.trade_kind.tolist()))
    assert kinds[bear_rows[0]] == 2 and kinds[bear_rows[-1] + 1] == 3  # regime_exit / regime_entry trades

    @njit
    def half_nb(price, market_cap, volume):
        return 0.5

    for rule in (lambda ctx: 0.5, half_nb):
        p = build_plan(Methodology.from_config(cfg).with_regime(rule), market)
        sums = p.targets.row_sums()
        np.testing.assert_allclose(sums[sums > 0], 0.5, rtol=1e-12)


def test_no_regime_benchmark_keeps_the_other_rules_and_summary_records_the_rules(market, cfg, tmp_path):
    m = Methodology.from_config(cfg).with_weighting(momentum_weights, lookback=30).with_regime(lambda ctx: True)
    r = run_backtest(m, market)
    plain = run_backtest(Methodology.from_config(cfg).with_weighting(momentum_weights, lookback=30)
                         .with_config(cfg.with_overrides({"regime": {"signal": "none"}})), market, benchmarks=False)
    bench = r.benchmarks.filter(r.benchmarks["benchmark"] == "no_regime")["nav"].to_numpy()
    np.testing.assert_array_equal(bench, plain.nav["nav"].to_numpy())
    rules = r.summary["rules"]
    assert rules["weighting"]["name"] == "momentum_weights" and rules["weighting"]["params"] == {"lookback": 30}
    assert rules["regime"]["kind"] == "python" and len(rules["weighting"]["source_sha256"]) == 64
    out = r.write(tmp_path / "run", report=False)
    assert json.loads((out / "summary.json").read_text())["rules"] == json.loads(json.dumps(rules))


# ---- look-ahead -------------------------------------------------------------------------------------
@pytest.mark.parametrize("peek", [
    lambda ctx: ctx.price_at(ctx.d + 1),
    lambda ctx: ctx.market_cap_at(ctx.t) if ctx.t > ctx.d else ctx.price_at(ctx.d + 1),
    lambda ctx: ctx.volume_at(ctx.d + 5),
])
def test_a_python_rule_reading_past_its_decision_date_is_refused(market, cfg, peek):
    def peeking(ctx):
        return np.where(ctx.selected, peek(ctx), 0.0)

    with pytest.raises(LookAheadError, match=r"rule 'peeking' read \w+ of \d{4}-\d\d-\d\d \(row \d+\) while deciding on"):
        run_backtest(Methodology.from_config(cfg).with_weighting(peeking), market)
    with pytest.raises(LookAheadError):
        run_backtest(Methodology.from_config(cfg).with_regime(lambda ctx: bool(peek(ctx)[0] > 0)), market)


def test_context_views_are_read_only_and_nan_before_the_data(market, cfg):
    seen = {}

    def probe(ctx):
        seen.setdefault("ctx", (ctx.price_at(-3), ctx.history("price", 5), ctx.selected, ctx.d))
        return np.where(ctx.selected, 1.0, 0.0)

    run_backtest(Methodology.from_config(cfg).with_weighting(probe), market, benchmarks=False)
    before, hist, selected, d = seen["ctx"]
    assert np.isnan(before).all() and hist.shape == (min(5, d + 1), market.n_assets)
    for arr in (before, hist, selected):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 1


def test_check_no_lookahead_works_on_custom_methodologies_and_catches_a_cheat(market, cfg):
    m = Methodology.from_config(cfg).with_weighting(momentum_weights_nb, lookback=30).with_regime(lambda ctx: True)
    for cut in (market.dates[120], market.dates[300]):
        assert check_no_lookahead(m, market, cut)

    def future_weights(ctx):  # a cheat that slips past the context's guard through a private attribute
        panel = ctx._market
        later = min(ctx.d + 2, panel.n_dates - 1)  # two rows after the decision: after the trade date too
        return np.where(ctx.selected, np.nan_to_num(panel.price[later]), 0.0)

    cheat = Methodology.from_config(cfg).with_weighting(future_weights)
    plan = build_plan(cheat, market)
    cut = market.dates[plan.trade_rows[plan.targets.row_sums() > 0][20]]  # a trade date: it decided on cut − 1
    with pytest.raises(AssertionError, match="differs"):
        check_no_lookahead(cheat, market, cut)


# ---- errors ------------------------------------------------------------------------------------------
def _raises(market, m, pattern):
    with pytest.raises(RuleError, match=pattern):
        run_backtest(m, market, benchmarks=False)


def test_errors_name_the_rule_the_date_and_what_was_expected(market, cfg):
    base = Methodology.from_config(cfg)
    date = r"\d{4}-\d\d-\d\d"

    def boom(ctx):
        raise ZeroDivisionError("oops")

    _raises(market, base.with_weighting(boom), f"weighting rule 'boom' failed for the trade on {date} "
                                              f"\\(decision date {date}\\): ZeroDivisionError: oops")
    _raises(market, base.with_weighting(lambda ctx: np.ones(3)), rf"returned shape \(3,\); expected \({market.n_assets},\)")
    _raises(market, base.with_weighting(lambda ctx: -np.ones(market.n_assets) * ctx.selected),
            "weights must be finite and >= 0")
    _raises(market, base.with_weighting(lambda ctx: np.ones(market.n_assets)), "is not in the trade's selection")
    _raises(market, base.with_selection(lambda ctx: ["no-such-coin"]), "'no-such-coin', which is not an asset_id")
    _raises(market, base.with_selection(lambda ctx: np.ones(4, bool)), r"boolean mask of shape \(4,\)")
    _raises(market, base.with_selection(lambda ctx: 3.5), "expected a boolean mask")
    _raises(market, base.with_regime(lambda ctx: 2.0), f"returned 2.0 .* decision date {date}; expected a bool or a "
                                                       "risk share between 0 and 1")

    @njit
    def wrong_length_nb(price, market_cap, volume, selected):
        return np.zeros(3)

    _raises(market, base.with_weighting(wrong_length_nb), f"for the trade on {date} returned an array of length 3")
    _raises(market, base.with_weighting(cap_weights_nb, extra=1), r"\(numba\) cannot run: .*Numba rules take \(price, "
                                                                   "market_cap, volume, selected, extra\\)")


def test_bad_hooks_and_rule_parameters_are_config_errors(cfg):
    from index_engine import ConfigError

    with pytest.raises(ConfigError, match="with_weighting: expected a function"):
        Methodology.from_config(cfg).with_weighting(3)
    m = Methodology.from_config(cfg).with_weighting(momentum_weights)
    with pytest.raises(ConfigError, match="rules.regime.x: this methodology has no regime rule"):
        m.with_params({"regime.x": 1})
    with pytest.raises(ConfigError, match="rules.<hook>.<parameter>"):
        m.with_params({"lookback": 1})


# ---- sweeps ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [1, 2])
def test_sweeps_run_over_a_rules_own_parameters(market, cfg, workers):
    m = Methodology.from_config(cfg).with_weighting(momentum_weights)
    frame = run_sweep(m, market, {"rules.weighting.lookback": [10, 60], "costs.fee_bps": [5, 20]},
                      workers=workers, progress=False)
    assert frame.height == 4 and frame["error"].is_null().all()
    for row in frame.iter_rows(named=True):
        one = m.with_params({"weighting.lookback": row["rules.weighting.lookback"]}).with_config(
            cfg.with_overrides({"costs.fee_bps": row["costs.fee_bps"]}))
        assert run_backtest(one, market, benchmarks=False).stats["sharpe"] == row["sharpe"]
    with pytest.raises(Exception, match="rule parameters need a Methodology"):
        run_sweep(cfg, market, {"rules.weighting.lookback": [10]}, workers=1, progress=False)


# ---- the documented example runs ---------------------------------------------------------------------
def test_docs_python_md_examples_run():
    text = (ROOT / "docs" / "python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "docs/python.md has runnable python blocks"
    namespace: dict = {}
    for block in blocks:
        if "# not run" in block:
            continue
        exec(compile(block, "docs/python.md", "exec"), namespace)  # noqa: S102 - our own documentation
