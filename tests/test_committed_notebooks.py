"""Rules every committed notebook keeps: a parameters cell papermill reads whole, balanced exercise markers, and
outputs kept only where nbval checks them."""

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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercise_markers_balanced_and_outputs_only_where_nbval_checks(path):
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    exercises = sum(c.source.count("### BEGIN SOLUTION:") for c in code)
    assert path.stem == "00_setup" or 2 <= exercises <= 5, f"{path.name}: {exercises} exercises, expected 2-5"
    for c in code:
        assert c.source.count("### BEGIN SOLUTION:") == c.source.count("### END SOLUTION"), \
            f"{path.name}: unbalanced solution markers in {c.source[:60]!r}"
        assert bool(c.outputs) == ("NBVAL_CHECK_OUTPUT" in c.source), \
            f"{path.name}: only NBVAL_CHECK_OUTPUT cells keep outputs (run tools/refresh_outputs.py): {c.source[:60]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_opens_with_the_same_install_cell(path):
    import install_cell  # tools/install_cell.py: the one source of the cell

    nb = nbformat.read(path, as_version=4)
    md, code = install_cell.install_cells(nb)
    assert nb.cells[md].source == install_cell.MARKDOWN, f"{path.name}: run tools/install_cell.py"
    assert nb.cells[code].source == install_cell.CODE, f"{path.name}: run tools/install_cell.py"
    assert md <= 2, f"{path.name}: the install cell must come first (it is cell {code})"
    assert "%pip install {COURSE_PACKAGE}" in install_cell.CODE and " -q" not in install_cell.CODE


def test_install_cell_explains_a_missing_course(tmp_path):
    """Run the cell's code in a Python without course_utils: the ImportError says what to do."""
    import subprocess
    import sys

    import install_cell

    code = install_cell.CODE.replace("    %pip install {COURSE_PACKAGE}", "    pass")
    # -S: no site-packages, so this Python has no course_utils, as on a fresh Colab runtime before the install
    run = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"COURSE_PACKAGE": "git+https://example.invalid/fork@v9"})
    assert run.returncode == 1
    assert "expected it installed, found it missing" in run.stderr
    assert "git+https://example.invalid/fork@v9" in run.stderr and "make lab" in run.stderr
