"""bt on the benchmark workload. Runs INSIDE the peers' virtual environment (see compare.py).

The timed work (``run_once``): the target weights with numpy/pandas (``workload.target_plan``), the
forward-filled close, and a ``bt.Backtest`` of ``Strategy([WeighTarget(weights), Rebalance()])``
where ``weights`` holds one row per trade date (so WeighTarget fires exactly on the trade dates and
Rebalance closes every position not in the row), fractional positions, commission
``|quantity| × price × fee``. The NAV is the strategy's value series (bt's ``prices`` are rebased
to 100; the ffn statistics of ``bt.run`` are not computed, which only helps bt).

Option (``--opts prune``): simulate only the columns that some trade holds (chosen inside the timed
work), so bt tracks ~240 securities instead of N.

    python peer_bt.py --panel DIR --variant full --fee-bps 10 --repeat 3 --out r.json [--nav-dir DIR] \
        [--opts prune]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

T_START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import workload  # noqa: E402

bt = None
pd = None


def import_engine():
    global bt, pd
    import bt as bt_
    import pandas

    bt, pd = bt_, pandas


def prepare(panel):
    index = pd.DatetimeIndex(panel.dates.astype("datetime64[D]"))
    return panel, index, list(panel.asset_ids)


def make_run_once(prune=False):
    def run_once(inputs, variant, fee_bps):
        return _run(inputs, variant, fee_bps, prune)

    return run_once


def _run(inputs, variant, fee_bps, prune):
    panel, index, columns = inputs
    rows, w = workload.target_plan(panel.dates, panel.price, panel.market_cap, panel.include, variant)
    price = panel.price
    if prune:  # simulate only the columns that are ever held
        cols = workload.held_columns(w)
        price, w, columns = price[:, cols], w[:, cols], [columns[i] for i in cols]
    close = pd.DataFrame(price, index=index, columns=columns).ffill()
    weights = pd.DataFrame(np.where(w > 0, w, np.nan), index=index[rows], columns=columns)
    fee = fee_bps / 1e4
    strategy = bt.Strategy("index", [bt.algos.WeighTarget(weights), bt.algos.Rebalance()])
    test = bt.Backtest(
        strategy, close, initial_capital=workload.INITIAL_NAV, integer_positions=False, progress_bar=False,
        commissions=(lambda q, p: abs(q) * p * fee),
    )
    test.run()
    values = test.strategy.values
    return values.reindex(index).to_numpy()  # drop bt's dummy first row


def main() -> None:
    args = workload.worker_args()
    opts = set(filter(None, args.opts.split(",")))
    workload.run_worker(args, T_START, import_engine, prepare, make_run_once("prune" in opts))


if __name__ == "__main__":
    main()
