"""The stored notebooks: valid nbformat 4.5 (every cell has an id, as Jupyter and nbval expect), stored without
outputs, and importing only aslib's public modules."""
import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_valid_stored_without_outputs_and_uses_the_public_api(path):
    stored = json.loads(path.read_text())["cells"]
    assert [i for i, cell in enumerate(stored) if "id" not in cell] == [], "cells lack an id"
    assert len({cell["id"] for cell in stored}) == len(stored), "cell ids must be unique"
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code), "store notebooks without outputs"
    private = [line for cell in code for line in cell.source.splitlines() if re.search(r"\baslib\.(\w+\.)*_\w", line)]
    assert private == []


def test_every_notebook_is_found():
    assert [p.name[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(1, 8)]
    assert all(json.loads(p.read_text())["nbformat_minor"] >= 5 for p in NOTEBOOKS)
