"""``python -m backtest.cli`` is ``index-engine``."""

from backtest.cli import entrypoint

entrypoint()
