"""``report.html``: one self-contained, offline file that shows a finished run.

``render_report`` turns the frames of a run into the page; ``backtest.io.render_run_dir`` (re)writes
the page of a verified run folder (the ``index-engine report RUN_DIR`` command). The page embeds
plotly.js (from the ``plotly`` package), the report's own CSS/JS (``assets/``) and the run's data
(``build_payload`` → ``model.ReportPayload``, as JSON); it loads nothing from the network.

Modules: ``payload``/``model`` (the embedded data), ``header``/``tables``/``describe`` (the values
the templates show), ``render`` (Jinja2 templates in ``templates/``). What each section shows and
how it is computed: ``docs/report.md``.
"""

from backtest.report.model import ReportPayload
from backtest.report.payload import DUST_WEIGHT, build_payload
from backtest.report.render import render_report

__all__ = ["DUST_WEIGHT", "ReportPayload", "build_payload", "render_report"]
