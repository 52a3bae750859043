"""examples/compare_methodologies.ipynb runs top to bottom in a Jupyter kernel of this interpreter, on the
real daily data when it is there and on the synthetic market without it; any cell error fails the test."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests._helpers import DATA_ENV

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "compare_methodologies.ipynb"


def _execute(monkeypatch, data_dir: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook without outputs"
    nb.cells.append(nbformat.v4.new_code_cell("import sys, backtest\nprint(sys.executable)\nprint(backtest.__file__)"))
    monkeypatch.setenv(DATA_ENV, str(data_dir))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel imports this checkout, not another editable install
    # kernel "python3" is ipykernel's spec, whose "python" jupyter_client replaces with sys.executable
    client = NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError naming the cell if any cell fails
    kernel_python, package = _stdout(nb.cells[-1]).split()
    assert Path(kernel_python).resolve() == Path(sys.executable).resolve()
    assert Path(package).resolve().is_relative_to(ROOT)
    return nb


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def _check(nb, note: bool) -> None:
    text = "\n".join(_stdout(c) for c in nb.cells if c.cell_type == "code")
    assert ("uses the embedded SYNTHETIC market" in text) is note
    assert "flagship (SMA 200)" in text and "<BacktestResult Global 100, golden cross regime:" in text
    assert "sharpe" in text and "max_drawdown" in text  # the side-by-side table
    figures = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figures) == 3


@pytest.mark.slow  # ~15 s: a kernel, the daily file, two replays and three figures
def test_notebook_on_the_real_daily_data(monkeypatch, real_data_dir):
    _check(_execute(monkeypatch, real_data_dir), note=False)


@pytest.mark.slow  # ~20 s: a kernel, two replays of the synthetic market and three figures
def test_notebook_without_the_data_says_it_uses_the_synthetic_market(monkeypatch, tmp_path):
    _check(_execute(monkeypatch, tmp_path), note=True)
