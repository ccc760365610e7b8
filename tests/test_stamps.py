"""Every notebook carries a current stamp (its name and its locked cells' fingerprint) for the grader, written by
``python -m course_utils.instructor stamp`` (``make stamp``)."""

import re
import subprocess
import sys

import nbformat
import pytest

from course_utils.instructor import stamps, student
from nbrun import NOTEBOOK_DIR, ROOT

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
COMMAND = [sys.executable, "-m", "course_utils.instructor", "stamp"]
FIX = "run: make stamp"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stamp_is_current(path):
    nb = nbformat.read(path, as_version=4)
    stamp = nb.metadata.get("course", {})
    assert stamp.get("notebook") == path.stem and stamp.get("course") == stamps.COURSE, \
        f"{path.name} has no course stamp: {FIX}"
    assert stamp.get("locked_fingerprint") == stamps.locked_fingerprint(nb), \
        f"{path.name}: its locked cells changed since it was stamped: {FIX}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_deliverables_and_evaluation_cells_are_locked(path):
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert "write_results(" in cells[-1].source and student.LOCKED_TAG in cells[-1].metadata.get("tags", []), \
        f"{path.name}: the last code cell must write the results and be tagged 'locked'"
    unlocked = [c.source.splitlines()[0] for c in cells
                if "show_metrics(" in c.source and student.LOCKED_TAG not in c.metadata.get("tags", [])]
    assert not unlocked, f"{path.name}: evaluation cells calling show_metrics must be tagged 'locked': {unlocked}"


def code(source, tags=()):
    return nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)})


def test_fingerprint_ignores_whitespace_but_not_edits_or_untagging():
    nb = nbformat.v4.new_notebook(cells=[code("a = 1\nb = 2", ["locked"]), code("free = 3")])
    base = stamps.locked_fingerprint(nb)
    nb.cells[0].source = "\na = 1   \nb = 2\n\n"
    nb.cells[1].source = "free = 4"
    assert stamps.locked_fingerprint(nb) == base
    nb.cells[0].source = "a = 1\nb = 3"
    assert stamps.locked_fingerprint(nb) != base
    nb.cells[0].source, nb.cells[0].metadata["tags"] = "a = 1\nb = 2", []
    assert stamps.locked_fingerprint(nb) != base
    assert stamps.locked_fingerprint(nbformat.v4.new_notebook()) == \
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # sha256 of nothing


def stamp(*args):
    return subprocess.run([*COMMAND, *map(str, args)], capture_output=True, text=True, cwd=ROOT)


def test_command_stamps_once_then_leaves_the_file_alone(tmp_path):
    path = tmp_path / "42_demo.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[code("write_results()", ["locked"])]), path)
    check = stamp("--check", path)
    assert check.returncode == 1 and f"{path}: stamp out of date" in check.stdout and FIX.split(": ")[1] in check.stdout
    assert stamp(path).stdout == f"{path}: stamp updated\n"
    stamped = path.read_bytes()
    assert nbformat.read(path, as_version=4).metadata["course"] == {
        "course": "bert-course", "notebook": "42_demo",
        "locked_fingerprint": stamps.locked_fingerprint(nbformat.read(path, as_version=4))}
    again = stamp(path)
    assert again.stdout == "" and path.read_bytes() == stamped
    assert stamp("--check", path).returncode == 0


def test_command_names_every_missing_notebook_and_stamps_none(tmp_path):
    path = tmp_path / "42_demo.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[code("write_results()", ["locked"])]), path)
    before = path.read_bytes()
    missing = stamp(path, tmp_path / "43_gone.ipynb", tmp_path / "44_gone.ipynb")
    assert missing.returncode == 2 and missing.stdout == ""
    assert re.match(r"2 problems:\n- Notebook .*43_gone\.ipynb: expected an existing \.ipynb file, found no such "
                    r"file\. Fix: .*\n- Notebook .*44_gone\.ipynb", missing.stderr)
    assert path.read_bytes() == before
