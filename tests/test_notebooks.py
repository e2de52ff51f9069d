"""Every notebook in notebooks/ runs top to bottom, and is committed without outputs.

The execution tests start a Jupyter kernel (ipykernel's ``python3``, which runs the
interpreter of the test session) in a temporary working directory, execute every cell
in order with nbclient, and fail with the failing cell's number, source and traceback.
They are marked ``slow`` (about 10-20 s per notebook); CI runs them.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 600  # per cell: a guard against a hung kernel, not a timing target
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _ids(path: Path) -> str:
    return path.name


def test_the_notebooks_are_found():
    names = [p.name for p in NOTEBOOKS]
    assert len(NOTEBOOKS) >= 3, f"expected at least 3 notebooks in {NOTEBOOK_DIR}, found {names}"
    for expected in ("01_quickstart_cdnow.ipynb", "02_article_formulas.ipynb",
                     "03_choosing_a_model.ipynb", "04_sales_funnel.ipynb"):
        assert expected in names


def _failed_cell(nb) -> str:
    """Number, source and traceback of the first cell with an error output."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                traceback = _ANSI.sub("", "\n".join(output.get("traceback", [])))
                return (f"cell {index} failed:\n--- source ---\n{cell.source}\n"
                        f"--- {output.get('ename')}: {output.get('evalue')} ---\n{traceback}")
    return ""


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_runs_top_to_bottom(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        startup_timeout=120,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{path.name}: {_failed_cell(nb) or exc}", pytrace=False)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells and all(c.execution_count is not None for c in code_cells), (
        f"{path.name}: not every code cell ran")
    # A notebook writes only to temporary directories: nothing is left where it runs
    # (a user runs it from notebooks/, inside the repository).
    assert list(tmp_path.iterdir()) == [], (
        f"{path.name} left files in its working directory: {sorted(tmp_path.iterdir())}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_is_committed_stripped(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", (
        f"{path.name}: the kernelspec must be 'python3' (the one CI runs)")
    dirty = [
        index for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and (cell.get("outputs") or cell.get("execution_count") is not None
             or "execution" in cell.get("metadata", {}))
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} have outputs or execution counts; strip them "
        "(e.g. `jupyter nbconvert --clear-output --inplace` or nbstripout) before committing")
