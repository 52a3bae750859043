"""The replay's numba kernels: the self-financing solve, the replay loop and its book, the gross index level.

Typed boundary: inputs are NamedTuples (``ReplayMarket``, ``ReplayPlan``, ``CostSpec``, ``Legs``),
outputs NamedTuples (``SimulationResult``, ``Fills``) whose logs are structured record arrays
(``ORDER_DTYPE``, ``UNFILLED_DTYPE``, ``HOLDING_DTYPE``). ``backtest.engine`` validates the inputs once.

Note for developers: numba's ``cache=True`` tracks only the source file of the function it compiles;
after editing a kernel that another file's kernel calls, clear the caches
(``find . -name '*.nbi' -delete``). The test suite does this automatically (tests/conftest.py).
"""

from backtest.kernels.costs import CostSpec, LegCost, leg_cost, leg_costs
from backtest.kernels.level import BASE_LEVEL, index_level
from backtest.kernels.records import HOLDING_DTYPE, ORDER_DTYPE, UNFILLED_DTYPE
from backtest.kernels.replay import STABLE_DUST, ReplayMarket, ReplayPlan, SimulationResult, simulate
from backtest.kernels.solve import ORDER_DUST, Fills, Legs, rebalance_legs, solve_post_trade_value

__all__ = [
    "BASE_LEVEL", "HOLDING_DTYPE", "ORDER_DTYPE", "ORDER_DUST", "STABLE_DUST", "UNFILLED_DTYPE", "CostSpec", "Fills",
    "LegCost", "Legs", "ReplayMarket", "ReplayPlan", "SimulationResult", "index_level", "leg_cost", "leg_costs",
    "rebalance_legs", "simulate", "solve_post_trade_value",
]
