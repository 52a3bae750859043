"""The published-index vocabulary, one rule at a time on tiny hand-made panels with hand-computed answers:
smoothed market caps, quarterly calendars, reconstitution vs reweight, membership lists, composite ranks,
time buffers, tiered caps, floors, category caps, fixed weights and the drift band."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from backtest import run_backtest
from index_engine import ConfigError, IndexConfig, PlanError, build_plan
from index_engine.errors import DataError
from index_engine.market_cap import ewma_alpha, ranking_cap
from tests._helpers import make_market


def cfg(**sections) -> IndexConfig:
    base = {"regime": {"signal": "none"}, "rebalance": {"frequency": "every_observation", "decision_lag": 0},
            "selection": {"top_n": 1}, "universe": {"exclude_categories": []}}
    for k, v in sections.items():
        base[k] = {**base.get(k, {}), **v}
    return IndexConfig.from_dict(base)


def members(plan) -> list[set[int]]:
    return [set(plan.targets.row(k)[0].tolist()) for k in range(plan.trade_rows.size)]


# ---- smoothed market cap ------------------------------------------------------------------------------
def test_ewma_and_sma_by_hand():
    cap = np.array([[100.0], [np.nan], [200.0], [50.0]])
    market = make_market(np.ones((4, 1)), cap)
    ewma = ranking_cap(market, IndexConfig.from_dict({"market_cap": {"smoothing": "ewma", "halflife": 1}}).market_cap)
    assert ewma_alpha(1.0) == 0.5
    assert ewma[:, 0].tolist() == [100.0, 100.0, 150.0, 100.0]  # seeded, carried over the gap, then halved
    sma = ranking_cap(market, IndexConfig.from_dict({"market_cap": {"smoothing": "sma", "window": 2}}).market_cap)
    assert sma[:, 0].tolist() == [100.0, 100.0, 200.0, 125.0]  # the valid caps among the last 2 observations


def test_smoothed_cap_ranks_and_weighs_but_eligibility_needs_todays_cap():
    # a01 spikes above a00 for one day: raw cap ranks it first that day, the 3-day SMA (25/3) does not
    cap = np.array([[10.0, 5.0], [10.0, 5.0], [10.0, 15.0], [10.0, 5.0]])
    market = make_market(np.ones((4, 2)), cap)
    raw = build_plan(cfg(), market)
    smooth = build_plan(cfg(market_cap={"smoothing": "sma", "window": 3}), market)
    assert [min(m) for m in members(raw)] == [0, 0, 1, 0]
    assert [min(m) for m in members(smooth)] == [0, 0, 0, 0]
    # weights use the smoothed caps too: two members, SMA-weighted
    two = build_plan(cfg(selection={"top_n": 2}, market_cap={"smoothing": "sma", "window": 3}), market)
    _, w = two.targets.row(2)
    np.testing.assert_allclose(w, [10 / (10 + 25 / 3), (25 / 3) / (10 + 25 / 3)], rtol=1e-14)
    # a valid smoothed cap does not make an asset without today's cap eligible
    cap2 = cap.copy()
    cap2[3, 0] = np.nan
    plan = build_plan(cfg(market_cap={"smoothing": "ewma", "halflife": 5}), make_market(np.ones((4, 2)), cap2))
    assert members(plan)[3] == {1}


# ---- calendars -----------------------------------------------------------------------------------------
def test_quarterly_rebalances_on_the_first_observation_of_each_quarter():
    market = make_market(np.ones((200, 1)), start="2023-12-20")
    plan = build_plan(cfg(rebalance={"frequency": "quarterly"}), market)
    days = [str(market.dates[r]) for r in plan.trade_rows]
    assert days == ["2023-12-20", "2024-01-01", "2024-04-01", "2024-07-01"]  # the first investment, then quarters


def test_reconstitution_keeps_members_between_reviews_and_reweights_them():
    # a02 overtakes a00 on day 10; monthly reconstitution (1 Feb), daily reweighting
    t = 40
    cap = np.tile([3.0, 2.0, 1.0], (t, 1))
    cap[10:, 2] = 5.0
    market = make_market(np.ones((t, 3)), cap, start="2024-01-20")
    plan = build_plan(cfg(selection={"top_n": 2}, rebalance={"reconstitution": "monthly"}), market)
    feb = int(np.searchsorted(market.dates, np.datetime64("2024-02-01")))
    m = members(plan)
    assert all(x == {0, 1} for x in m[:feb]) and all(x == {0, 2} for x in m[feb:])
    assert plan.reselected.tolist() == [k in (0, feb) for k in range(t)]
    # reweights between reconstitutions follow the caps of the day (a02 is larger but not a member yet)
    _, w = plan.targets.row(11)
    np.testing.assert_allclose(w, [0.6, 0.4], rtol=1e-14)


def test_an_ineligible_member_skips_reweights_and_returns_or_is_replaced():
    t = 12
    price = np.ones((t, 3))
    price[3:6, 0] = np.nan  # a00 has no close on days 3..5
    cap = np.tile([3.0, 2.0, 1.0], (t, 1))
    market = make_market(price, cap, start="2024-01-01")
    base = dict(selection={"top_n": 2}, rebalance={"reconstitution": "quarterly"})
    m = members(build_plan(cfg(**base), market))
    assert m[2] == {0, 1} and m[3] == m[5] == {1} and m[6] == {0, 1}  # gets no weight, returns when eligible
    m = members(build_plan(cfg(**{**base, "selection": {"top_n": 2, "replace_dropped": True}}), market))
    assert m[3] == {1, 2} and m[6] == {1, 2} and m[11] == {1, 2}  # replaced for good until the next review


# ---- membership lists ----------------------------------------------------------------------------------
def _lists(tmp_path, rows, name="lists.csv"):
    path = tmp_path / name
    pl.DataFrame(rows).write_csv(path)
    return str(path)


def test_membership_lists_apply_from_their_date_and_their_weights_are_used(tmp_path):
    market = make_market(np.ones((10, 4)), np.tile([4.0, 3.0, 2.0, 1.0], (10, 1)))
    path = _lists(tmp_path, {"date": ["2024-01-03", "2024-01-03", "2024-01-07", "2024-01-07", "2024-01-07"],
                             "asset_id": ["a02", "a03", "a00", "a03", "zzz"], "weight": [1.0, 3.0, 2.0, 2.0, 1.0]})
    c = cfg(selection={"top_n": 3}, rebalance={"frequency": "weekly"}, universe={"membership": path})
    plan = build_plan(c, market)
    days = [str(market.dates[r]) for r in plan.trade_rows]
    assert days == ["2024-01-01", "2024-01-03", "2024-01-07", "2024-01-08"]  # list dates are trade dates
    m = members(plan)
    assert m == [set(), {2, 3}, {0, 3}, {0, 3}]  # nothing before the first list
    np.testing.assert_allclose(plan.targets.row(1)[1], [0.25, 0.75])  # the published weights, renormalised
    kinds = {w.kind: w for w in plan.warnings}
    assert kinds["membership_unknown_ids"].examples == ["zzz"] and kinds["membership_before_first_list"].count == 1


@pytest.mark.parametrize("rows, message", [
    ({"date": ["2024-01-01", "2024-01-01"], "asset_id": ["a00", "a00"]}, "duplicate (date, asset_id)"),
    ({"date": ["2024-13-01"], "asset_id": ["a00"]}, "unparseable dates"),
    ({"date": ["2024-01-01"], "asset_id": ["a00"], "weight": [-1.0]}, "negative values"),
    ({"date": ["2024-01-01"], "asset_id": ["a00"], "weight": [0.0]}, "weight 0"),
    ({"day": ["2024-01-01"], "asset_id": ["a00"]}, "missing column(s) date"),
])
def test_bad_membership_files_name_the_file_and_row(tmp_path, rows, message):
    path = _lists(tmp_path, rows)
    with pytest.raises(DataError) as exc:
        build_plan(cfg(universe={"membership": path}), make_market(np.ones((3, 1))))
    assert message in str(exc.value) and path in str(exc.value)


def test_membership_path_is_relative_to_the_config_file(tmp_path):
    _lists(tmp_path, {"date": ["2024-01-01"], "asset_id": ["a00"]}, "members.csv")
    (tmp_path / "index.yaml").write_text("universe: {membership: members.csv}\n")
    assert IndexConfig.from_yaml(tmp_path / "index.yaml").universe.membership == str(tmp_path / "members.csv")


# ---- composite rank and time buffer --------------------------------------------------------------------
def test_composite_rank_averages_cap_and_volume_ranks_ties_by_asset_id():
    cap = np.tile([40.0, 30.0, 20.0, 10.0], (3, 1))
    vol = np.tile([1.0, 2.0, 40.0, 30.0], (3, 1))
    market = make_market(np.ones((3, 4)), cap, volume=vol)
    # cap ranks 1,2,3,4; volume ranks 4,3,1,2 → averages 2.5, 2.5, 2, 3 → a02 first, then a00 (tie with a01)
    plan = build_plan(cfg(selection={"top_n": 2, "rank_by": "composite", "composite": {"market_cap": 1, "volume": 1}},
                          universe={"exclude_categories": [], "volume_window": 1}), market)
    assert members(plan)[0] == {0, 2}
    with pytest.raises(PlanError, match="no volume_24h_usd"):
        build_plan(cfg(selection={"rank_by": "composite", "composite": {"volume": 1}}), make_market(np.ones((3, 2))))


def test_a_newcomer_must_qualify_at_k_consecutive_reviews():
    t = 6
    cap = np.tile([3.0, 2.0, 1.0], (t, 1))
    cap[1:, 2] = 2.5  # a02 overtakes a01 from day 1
    market = make_market(np.ones((t, 3)), cap)
    m = members(build_plan(cfg(selection={"top_n": 2, "qualify_reviews": 3}), market))
    assert m[1] == m[2] == {0, 1} and m[3] == {0, 2}  # qualifies on days 1, 2, 3 → enters on day 3
    cap[2, 2] = 1.0  # a gap in the streak restarts it
    m = members(build_plan(cfg(selection={"top_n": 2, "qualify_reviews": 3}), make_market(np.ones((t, 3)), cap)))
    assert m[3] == m[4] == {0, 1} and m[5] == {0, 2}


# ---- caps, floors, category caps, fixed weights --------------------------------------------------------
def weights_of(c, cap_row, categories=None, ids=None):
    n = len(cap_row)
    market = make_market(np.ones((1, n)), np.array([cap_row], float), ids=ids, categories=categories)
    plan = build_plan(c, market)
    cols, w = plan.targets.row(0)
    out = np.zeros(n)
    out[cols] = w
    return out, plan


def test_tiered_caps_coindesk_style():
    w, _ = weights_of(cfg(selection={"top_n": 5}, weighting={"rank_caps": [0.3], "max_weight": 0.2}),
                      [60.0, 20.0, 10.0, 6.0, 4.0])
    np.testing.assert_allclose(w, [0.3, 0.2, 0.2, 0.18, 0.12], rtol=1e-14)
    assert abs(w.sum() - 1) < 1e-12


def test_floor_and_cap_are_one_water_filling_problem():
    w, _ = weights_of(cfg(selection={"top_n": 4}, weighting={"max_weight": 0.5, "min_weight": 0.1}),
                      [1000.0, 30.0, 2.0, 1.0])
    # a00 capped at 0.5, a02/a03 floored at 0.1, a01 takes the rest (its raw weight would be far less)
    np.testing.assert_allclose(w, [0.5, 0.3, 0.1, 0.1], rtol=1e-14)


def test_category_cap_redistributes_pro_rata_outside_the_category():
    cats = {"a00": "exchange_token", "a01": "exchange_token"}
    w, _ = weights_of(cfg(selection={"top_n": 4}, weighting={"category_caps": {"exchange_token": 0.2}}),
                      [40.0, 20.0, 30.0, 10.0], categories=cats)
    np.testing.assert_allclose(w[:2], [0.2 * 2 / 3, 0.2 / 3], rtol=1e-14)
    np.testing.assert_allclose(w[2:], [0.8 * 0.75, 0.8 * 0.25], rtol=1e-14)
    only, plan = weights_of(cfg(selection={"top_n": 2}, weighting={"category_caps": {"exchange_token": 0.2}}),
                            [40.0, 20.0, 1.0, 1.0], categories=cats)
    np.testing.assert_allclose(only, [2 / 3, 1 / 3, 0, 0])  # nothing outside the category: cap ignored, warned
    assert [w.kind for w in plan.warnings] == ["category_cap_infeasible", "single_observation"]  # a one-row market


def test_fixed_weights_first_the_rest_by_scheme():
    w, _ = weights_of(cfg(selection={"top_n": 4}, weighting={"fixed": {"a00": 0.4, "a01": 0.25}}),
                      [100.0, 50.0, 30.0, 40.0])
    np.testing.assert_allclose(w, [0.4, 0.25, 0.35 * 3 / 7, 0.35 * 4 / 7], rtol=1e-14)
    w, plan = weights_of(cfg(selection={"top_n": 2}, weighting={"fixed": {"a03": 0.5}}), [100.0, 50.0, 30.0, 40.0])
    np.testing.assert_allclose(w, [2 / 3, 1 / 3, 0, 0])  # a03 not selected: the others share the whole weight
    assert [w.kind for w in plan.warnings] == ["fixed_not_selected", "single_observation"]  # a one-row market


def test_contradictory_weighting_keys_are_config_errors():
    with pytest.raises(ConfigError, match="min_weight .* × selection.top_n"):
        cfg(selection={"top_n": 20}, weighting={"min_weight": 0.06})
    with pytest.raises(ConfigError, match="rank_caps"):
        cfg(weighting={"rank_caps": [1.2]})
    with pytest.raises(ConfigError, match="min_weight .* is above a cap"):
        cfg(weighting={"min_weight": 0.3, "max_weight": 0.2})
    with pytest.raises(ConfigError, match="halflife is required"):
        cfg(market_cap={"smoothing": "ewma"})


# ---- drift band ----------------------------------------------------------------------------------------
def test_drift_band_skips_small_reweights_but_never_reconstitutions_or_switches():
    t = 30
    price = np.ones((t, 2))
    price[:, 0] = 1.0 + 0.001 * np.arange(t)  # a00 drifts up slowly
    market = make_market(price, price * [[100.0, 100.0]])
    c = cfg(selection={"top_n": 2}, weighting={"scheme": "equal"},
            rebalance={"frequency": "every_observation", "reconstitution": "weekly", "drift_band": 0.002})
    r = run_backtest(c, market, benchmarks=False)
    skipped = r.nav["rebalance_skipped"].to_list()
    mondays = {str(d) for d in market.dates if np.datetime64(d, "D").astype(object).weekday() == 0}
    assert r.stats["n_rebalances_skipped"] == sum(skipped) > 0
    for day, s in zip(r.nav["date"].cast(pl.Utf8).to_list(), skipped):
        assert not (s and day in mondays)  # reconstitutions always trade
    trade_days = set(r.holdings["date"].cast(pl.Utf8).to_list())
    assert not any(s and d in trade_days for d, s in zip(r.nav["date"].cast(pl.Utf8).to_list(), skipped))
    # every skip happened with all drifted weights within the band
    none = run_backtest(c.with_overrides({"rebalance.drift_band": 0.0}), market, benchmarks=False)
    assert none.stats["n_rebalances_skipped"] == 0 and none.stats["n_transactions"] > r.stats["n_transactions"]


# ---- the ready configs ---------------------------------------------------------------------------------
FAMILIES = ("global100", "cci30", "coindesk20", "bitwise10", "bgci", "mvis_da10")


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_config_runs_on_the_synthetic_market(name):
    from tests._helpers import ROOT

    c = IndexConfig.from_yaml(ROOT / "configs" / f"{name}.yaml")
    from index_engine import MarketData

    market = MarketData.synthetic(seed=5, n_assets=120, days=500)
    r = run_backtest(c, market, benchmarks=False)
    assert r.stats["final_nav"] > 0 and r.stats["n_transactions"] > 0
    assert "# " in (ROOT / "configs" / f"{name}.yaml").read_text().splitlines()[0]  # cites its methodology


@pytest.mark.real_data
def test_family_rules_hold_on_real_data(real_data_dir):
    import warnings

    from index_engine import MarketData
    from tests._helpers import ROOT

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        market = MarketData.from_parquet(real_data_dir / "cmc_daily_2013_2018.parquet",
                                         categories=real_data_dir / "asset_categories.csv")
    load = lambda n: IndexConfig.from_yaml(ROOT / "configs" / f"{n}.yaml").with_overrides(  # noqa: E731
        {"backtest.start": "2015-01-01"})
    cci = build_plan(load("cci30"), market)
    quarters = {str(market.dates[r])[:7] for r, re in zip(cci.trade_rows, cci.reselected) if re}
    assert quarters <= {f"{y}-{m:02d}" for y in (2015, 2016, 2017, 2018) for m in (1, 4, 7, 10)}
    m = members(cci)
    for k in range(1, len(m)):  # members only change at reconstitutions (or lose weight while ineligible)
        if not cci.reselected[k]:
            assert m[k] <= m[k - 1] | m[max(j for j in range(k) if cci.reselected[j])]
    cd = build_plan(load("coindesk20"), market)
    for k in range(cd.trade_rows.size):
        cols, w = cd.targets.row(k)
        if cols.size >= 5:  # feasible: 0.30 + 0.20 × (n − 1) ≥ 1
            assert np.sort(w)[-1] <= 0.30 + 1e-12 and np.sort(w)[-2] <= 0.20 + 1e-12
    bgci = build_plan(load("bgci"), market)
    full = [k for k in range(bgci.trade_rows.size) if bgci.targets.row(k)[0].size >= 3]
    assert all(bgci.targets.row(k)[1].min() >= 0.01 - 1e-12 for k in full)
