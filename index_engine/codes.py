"""Integer codes shared by the methodology, the numba kernels and the outputs — defined once here.

A leaf module (imports nothing). Plain ``int`` constants, so numba freezes them into compiled
kernels; each ``*_NAMES`` tuple maps a code to the label written in the output files.
"""

from __future__ import annotations

# ---- the cash stable sleeve ------------------------------------------------------------------------
CASH_ID = "cash"  # its asset_id in holdings, transactions and quotes: reserved, no asset of the data may use it

# ---- regime state of one signal (IndexPlan.regime) -------------------------------------------------
BEAR = 0
BULL = 1
PARTIAL = 2  # the label of a risk share strictly between 0 and 1 (graduated exposure); never a state
REGIME_NAMES = ("bear", "bull", "partial")

# ---- why a trade date trades (IndexPlan.trade_kind; summary n_trades_by_kind) ----------------------
KIND_INITIAL = 0  # the first investment of the window
KIND_SCHEDULED = 1  # a date of the rebalance/reconstitution calendar
KIND_REGIME_EXIT = 2  # risk share falls to 0 (bull → bear)
KIND_REGIME_ENTRY = 3  # risk share rises from 0 (bear → bull)
KIND_REGIME_SCALE = 4  # graduated exposure: the risk share changes between two positive values
KIND_NAMES = ("initial", "scheduled", "regime_exit", "regime_entry", "regime_scale")

# ---- why an order happened (transactions.parquet, column reason) -----------------------------------
REASON_ENTRY = 0
REASON_EXIT = 1
REASON_REWEIGHT = 2
REASON_REGIME_EXIT = 3
REASON_REGIME_ENTRY = 4
REASON_DELISTED = 5
REASON_REGIME_SCALE = 6
REASON_NAMES = ("entry", "exit", "reweight", "regime_exit", "regime_entry", "delisted", "regime_scale")

# ---- why an order was not (fully) filled (unfilled.parquet, column reason) -------------------------
FREEZE_NONE = -1
FREEZE_DUST = -2  # a resize that is float residue (backtest.kernels.solve.ORDER_DUST): not traded, not reported
FREEZE_MIN_ORDER = 0
FREEZE_PARTICIPATION = 1
FREEZE_UNFUNDED = 2
FREEZE_STALE = 3  # a held asset without a close at the trade date, within prices.max_stale_days
UNFILLED_REASONS = ("min_order", "max_participation", "unfunded", "stale_price")

# ---- outcome of the replay kernel ------------------------------------------------------------------
STATUS_OK = 0
STATUS_NAV_EXHAUSTED = 1  # the costs of a rebalance exceed the portfolio value
STATUS_NO_CONVERGENCE = 2  # the self-financing solve did not converge (a bug: please report)
