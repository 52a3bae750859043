"""Golden runs: whole backtests pinned by their statistics and a hash of the transactions log.

A change in any of these numbers is a change in behaviour: explain it in the commit and update the
pins in tests/_helpers.py deliberately (print them with ``python -m tests.test_golden``).
"""

from __future__ import annotations

import pytest

from tests._helpers import REAL_DAILY, SYNTHETIC_FLAGSHIP, real_daily_run, synthetic_run


def _check(market, result, pins):
    assert market.content_hash() == pins["data_sha256"], "the input data changed: re-pin deliberately"
    for key, want in pins.items():
        if key in ("data_sha256", "transactions_sha256"):
            continue
        got = result.stats[key]
        if isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-9), key
        else:
            assert got == want, key
    assert result.transactions_hash() == pins["transactions_sha256"]


def test_flagship_on_real_daily_data(real_data_dir):
    _check(*real_daily_run(), REAL_DAILY)


def test_flagship_on_the_embedded_synthetic_market():
    market, result = synthetic_run()
    _check(market, result, SYNTHETIC_FLAGSHIP)
    # the demo must show the regime at work: at least one bear phase and a switch each way
    assert (result.nav["regime"] == "bear").any()
    assert {s["to"] for s in result.summary["regime_switches"]} == {"bear", "bull"}


if __name__ == "__main__":  # print fresh pins
    for run, pins in ((synthetic_run, SYNTHETIC_FLAGSHIP), (real_daily_run, REAL_DAILY)):
        m, r = run()
        print({"data_sha256": m.content_hash(), **{k: r.stats[k] for k in pins if k in r.stats},
               "transactions_sha256": r.transactions_hash()})
