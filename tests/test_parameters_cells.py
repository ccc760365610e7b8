"""Every notebook's parameters cell is one papermill can read whole: each line a `name = value  # comment`."""

import nbformat
import pytest
from papermill.translators import PythonTranslator

from nbrun import NOTEBOOK_DIR

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter(path):
    cells = [c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: expected one cell tagged 'parameters', found {len(cells)}"
    lines = [line for line in cells[0].source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    names = [p.name for p in PythonTranslator.inspect(cells[0])]
    assert len(names) == len(lines), f"{path.name}: papermill reads {names} from {lines}"
    assert {"profile", "output_dir", "seed"} <= set(names), f"{path.name}: profile, output_dir and seed are required"
    assert all(p.help for p in PythonTranslator.inspect(cells[0])), f"{path.name}: every parameter needs a comment"
