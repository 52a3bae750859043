"""vectorbt on the benchmark workload. Runs INSIDE the peers' virtual environment (see compare.py).

The timed work (``run_once``): the target weights with numpy/pandas (``workload.target_plan``:
regime, eligibility, top-100 ranking, cap weighting, trade dates), the forward-filled close, and
``Portfolio.from_orders(size=targets, size_type="targetpercent", cash_sharing=True, group_by=True,
call_seq="auto", fees=fee)`` with its ``value()`` series (the NAV).

Tuning (documented in docs/performance.md): the obvious way to say "no order" on the rows between
rebalances is ``size=NaN``, but with ``call_seq="auto"`` vectorbt then insertion-sorts N NaN order
values on every row, which is O(N²) per row (12-16 s instead of ~5 s at N = 2,000). So rows that do
not trade get ``size=0`` with ``size_type=Amount`` (a no-op order whose value is 0), and closes
before an asset's first price are back-filled (never traded or valued: its position is 0 there)
so that no order value is NaN. ``--engine numba`` (default) or ``rust`` (vectorbt-rust).

    python peer_vectorbt.py --panel DIR --variant full --fee-bps 10 --repeat 3 --out r.json \
        [--nav-dir DIR] [--engine numba|rust|numba-nan-rows]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

T_START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import workload  # noqa: E402

vbt = None
pd = None


def import_engine():
    global vbt, pd
    import pandas
    import vectorbt

    vbt, pd = vectorbt, pandas


def prepare(panel):
    index = pd.DatetimeIndex(panel.dates.astype("datetime64[D]"))
    return panel, index


def make_run_once(engine="numba", nan_rows=False, prune=False):
    def run_once(inputs, variant, fee_bps):
        from vectorbt.portfolio.enums import SizeType

        panel, index = inputs
        rows, w = workload.target_plan(panel.dates, panel.price, panel.market_cap, panel.include, variant)
        price = panel.price
        if prune:  # simulate only the columns that are ever held
            cols = workload.held_columns(w)
            price, w = price[:, cols], w[:, cols]
        close = pd.DataFrame(price, index=index).ffill()  # valuation and exits at the last close
        if nan_rows:  # the untuned form: NaN = no order (O(N²) call-sequence sort on every row)
            size = np.full(price.shape, np.nan)
            size[rows] = np.where(np.isnan(close.to_numpy()[rows]), np.nan, w)
            size_type = SizeType.TargetPercent
        else:
            close = close.bfill().fillna(1.0)  # before the first price: position 0, never traded
            size = np.zeros(price.shape)
            size[rows] = w
            size_type = np.full((price.shape[0], 1), SizeType.Amount, np.int64)
            size_type[rows] = SizeType.TargetPercent
        pf = vbt.Portfolio.from_orders(
            close=close, size=size, size_type=size_type, cash_sharing=True, group_by=True,
            call_seq="auto", fees=fee_bps / 1e4, init_cash=workload.INITIAL_NAV, freq="1D", engine=engine,
        )
        return pf.value().to_numpy()

    return run_once


def main() -> None:
    args = workload.worker_args()
    opts = set(filter(None, args.opts.split(",")))
    run_once = make_run_once("rust" if "rust" in opts else "numba", "nan-rows" in opts, "prune" in opts)
    workload.run_worker(args, T_START, import_engine, prepare, run_once)


if __name__ == "__main__":
    main()
