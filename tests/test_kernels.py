"""Unit tests of the numba kernels (capping, selection, rolling means, regime state machine)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index_engine.config import WeightingConfig
from index_engine.kernels import cap_weights, positive_row_sum, regime_states, rolling_mean, weights_for_members
from index_engine.kernels.capping import INFEASIBLE_CAP
from index_engine.weighting import weight_rules
from tests._helpers import select_rows


def closed_form_cap(raw: np.ndarray, cap: float) -> np.ndarray:
    """Single pass over names sorted by descending raw weight (methodology §3.3)."""
    m = raw / raw.sum()
    w = np.zeros_like(m)
    capped_remaining = 1.0
    order = np.argsort(-m, kind="stable")
    for pos, i in enumerate(order):
        market_remaining = m[order[pos:]].sum()  # summed, not subtracted: no cancellation error
        w[i] = min(cap, m[i] * capped_remaining / market_remaining)
        capped_remaining -= w[i]
    return w


def test_cap_weights_simple_case():
    w = cap_weights(np.array([60.0, 30.0, 10.0]), 0.5)
    np.testing.assert_allclose(w, [0.5, 0.375, 0.125], rtol=0, atol=1e-15)


def test_cap_weights_cascades_until_no_breach():
    # the first redistribution pushes the second name over the cap too
    w = cap_weights(np.array([70.0, 20.0, 5.0, 5.0]), 0.3)
    np.testing.assert_allclose(w, [0.3, 0.3, 0.2, 0.2], atol=1e-15)


@settings(max_examples=300, deadline=None)
@given(
    raw=st.lists(st.floats(1e-3, 1e9, allow_nan=False), min_size=1, max_size=60),
    cap=st.floats(0.01, 1.0),
)
def test_cap_weights_matches_closed_form_and_holds_cap(raw, cap):
    raw = np.array(raw)
    w = cap_weights(raw, cap)
    assert abs(w.sum() - 1.0) <= 1e-12
    assert (w >= 0).all()
    if raw.size * cap >= 1.0:
        assert (w <= cap * (1 + 1e-12)).all()
        np.testing.assert_allclose(w, closed_form_cap(raw, cap), rtol=1e-9, atol=1e-12)
        # uncapped names keep the proportions of their raw scores
        free = w < cap * (1 - 1e-9)
        if free.sum() >= 2:
            ratio = w[free] / raw[free]
            np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)
    else:
        np.testing.assert_allclose(w, 1.0 / raw.size, rtol=0, atol=1e-15)


def test_weights_for_trades_schemes_and_infeasible_flag():
    score = np.array([[400.0, 100.0, 0.0, 25.0]])
    ptr, cols = np.array([0, 3]), np.array([0, 1, 3])

    def weights(scheme, cap=None):
        w, flags = weights_for_members(ptr, cols, score, np.array([0]),
                                       weight_rules(WeightingConfig(scheme=scheme, max_weight=cap), 4))
        dense = np.zeros(4)
        dense[cols] = w
        return dense, flags

    mc, flags = weights("market_cap")
    np.testing.assert_allclose(mc, [400 / 525, 100 / 525, 0, 25 / 525])
    assert flags[0] == 0
    sq, _ = weights("sqrt_market_cap")
    np.testing.assert_allclose(sq, [20 / 35, 10 / 35, 0, 5 / 35])
    eq, _ = weights("equal")
    np.testing.assert_allclose(eq, [1 / 3, 1 / 3, 0, 1 / 3])
    capped, flags = weights("market_cap", 0.2)  # 3 × 0.2 < 1: infeasible
    assert flags[0] & INFEASIBLE_CAP
    np.testing.assert_allclose(capped, [1 / 3, 1 / 3, 0, 1 / 3])


def _select(score, eligible, top_n, entry, exit_, incumbents=None):
    score = np.atleast_2d(np.asarray(score, float))
    eligible = np.atleast_2d(np.asarray(eligible, bool))
    if incumbents is not None:  # a first invested trade that selects exactly the incumbents
        inc = np.asarray(incumbents, bool)
        if int(inc.sum()) != top_n:
            pytest.fail("helper expects as many incumbents as top_n")
        first = np.where(inc, 1e9 - np.arange(score.shape[1]), 1.0)
        out = select_rows(np.vstack([first, score]), np.vstack([np.ones_like(inc), eligible]), top_n=top_n,
                          entry=entry, exit_=exit_)
        assert (out[0] == inc).all()
        return out[1]
    return select_rows(score, eligible, top_n=top_n, entry=entry, exit_=exit_)[0]


def test_top_n_by_market_cap_with_ties_by_asset_order():
    score = [5.0, 9.0, 9.0, 1.0, 7.0]
    sel = _select(score, [True] * 5, 3, 3, 3)
    assert sel.tolist() == [False, True, True, False, True]
    sel = _select([5.0, 9.0, 9.0, 9.0], [True] * 4, 2, 2, 2)
    assert sel.tolist() == [False, True, True, False]  # tie between columns 1,2,3 → lowest columns


def test_ineligible_assets_are_never_selected_and_short_selection_fills():
    sel = _select([5.0, 9.0, 8.0, 7.0], [True, False, True, False], 3, 3, 3)
    assert sel.tolist() == [True, False, True, False]


def test_buffer_keeps_incumbents_down_to_exit_rank_and_blocks_weak_newcomers():
    # incumbents: columns 0, 1 (top_n = 2). New ranking: 2 > 3 > 0 > 1 (0 at rank 3, 1 at rank 4).
    score = [7.0, 6.0, 9.0, 8.0]
    sel = _select(score, [True] * 4, 2, 1, 3, incumbents=[True, True, False, False])
    # newcomer 2 (rank 1 <= entry 1) enters, newcomer 3 (rank 2 > entry 1) is blocked,
    # incumbent 0 (rank 3 <= exit 3) stays, incumbent 1 (rank 4 > exit 3) leaves
    assert sel.tolist() == [True, False, True, False]


def test_buffer_fills_by_rank_when_too_few_qualify():
    # both incumbents fall below exit_rank 2; only newcomer 2 passes entry_rank 1 → the slot is filled by rank
    sel = _select([7.0, 6.0, 9.0, 8.0], [True, True, True, True], 2, 1, 2, incumbents=[True, True, False, False])
    assert sel.tolist() == [False, False, True, True]


def test_buffer_trims_worst_ranked_when_too_many_qualify():
    # incumbents 0,1 at ranks 3,4 (exit 4 keeps them); newcomers 2,3 at ranks 1,2 (entry 2) → 4 > top_n 2
    sel = _select([7.0, 6.0, 9.0, 8.0], [True] * 4, 2, 2, 4, incumbents=[True, True, False, False])
    assert sel.tolist() == [False, False, True, True]


def test_inactive_row_selects_nothing_and_clears_incumbents():
    score = np.array([[3.0, 2.0, 1.0]] * 3)
    elig = np.ones((3, 3), bool)
    out = select_rows(score, elig, np.array([True, False, True]), top_n=1, entry=1, exit_=3)
    assert out[1].sum() == 0
    assert out[0].tolist() == [True, False, False] and out[2].tolist() == [True, False, False]


def test_rolling_mean_matches_numpy_and_is_nan_until_full():
    x = np.random.default_rng(1).normal(size=50)
    got = rolling_mean(x, 7)
    assert np.isnan(got[:6]).all()
    np.testing.assert_allclose(got[6:], np.convolve(x, np.ones(7) / 7, mode="valid"), rtol=1e-12)
    x[20] = np.nan
    got = rolling_mean(x, 7)
    assert np.isnan(got[20:27]).all() and np.isfinite(got[27])


def test_regime_state_machine_band_and_confirmation():
    sma = np.full(10, 100.0)
    signal = np.array([100, 98, 97, 101, 96, 95, 94, 99, 102, 103], float)
    # band 0: bear at the first close below the SMA
    assert regime_states(signal, sma, 0.0, 1).tolist() == [1, 0, 0, 1, 0, 0, 0, 0, 1, 1]
    # band 3%: bear only below 97, bull only above 103
    assert regime_states(signal, sma, 0.03, 1).tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    # confirm 2: two consecutive closes below
    assert regime_states(signal, sma, 0.0, 2).tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 1]


def test_regime_undefined_sma_counts_as_bull_and_resets_confirmation():
    sma = np.array([np.nan, np.nan, 100, 100, np.nan, 100, 100])
    signal = np.array([50, 50, 90, 90, 90, 90, 90], float)
    assert regime_states(signal, sma, 0.0, 2).tolist() == [1, 1, 1, 0, 0, 0, 0]
    assert regime_states(signal, sma, 0.0, 3).tolist() == [1, 1, 1, 1, 1, 1, 1]


@given(st.integers(1, 11), st.integers(1, 9), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_positive_row_sum_adds_each_row_in_column_order(t_count, n, seed):
    """Bit for bit the plain left-to-right sum of each row's finite positive values over the chosen
    columns, whatever T is modulo the kernel's four-row batches."""
    rng = np.random.default_rng(seed)
    x = rng.lognormal(0.0, 8.0, (t_count, n)) * rng.choice([1.0, -1.0], (t_count, n), p=[0.8, 0.2])
    x[rng.random((t_count, n)) < 0.2] = np.nan
    x[rng.random((t_count, n)) < 0.05] = np.inf
    columns = np.flatnonzero(rng.random(n) < 0.7)
    expected = np.zeros(t_count)
    for t in range(t_count):
        s = 0.0
        for i in columns:
            if 0.0 < x[t, i] < np.inf:
                s += x[t, i]
        expected[t] = s
    assert positive_row_sum(x, columns).tobytes() == expected.tobytes()
