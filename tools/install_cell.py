"""The install cell every notebook opens with, in one place: `python tools/install_cell.py` writes it into all.

tests/test_committed_notebooks.py checks that every notebook holds exactly this cell (and its Markdown).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
MARKDOWN = """## Install (Colab and Kaggle)
Run this cell first. On Colab or Kaggle it installs the course package, which brings the few libraries those
images lack (evaluate, seqeval, rouge-score, optuna) and leaves their PyTorch, Transformers and Datasets alone;
pip's own output shows what it did. If it says **RESTART NEEDED**, restart the runtime and run the notebook from
the top. On your own machine `make lab` has installed everything, and this cell only checks.

*Instructors*: `COURSE_PACKAGE` is the one place that says where the course comes from (your fork, or a release
tag such as `git+https://github.com/<owner>/bert-course@v1.0`); students can also set it as an environment variable."""
CODE = '''import os
import sys

COURSE_PACKAGE = os.environ.get("COURSE_PACKAGE", "git+https://github.com/bert-course/bert-course@main")
if "google.colab" in sys.modules or "KAGGLE_KERNEL_RUN_TYPE" in os.environ:
    %pip install {COURSE_PACKAGE}
try:
    import course_utils as cu
except ImportError:
    raise ImportError(
        "The course package (course_utils): expected it installed, found it missing. Fix: on Colab or Kaggle, "
        f"read pip's error above: COURSE_PACKAGE={COURSE_PACKAGE!r} may not be published yet, so ask your "
        "instructor for the course's address (git+https://github.com/<owner>/<repo>@<tag>), set COURSE_PACKAGE "
        "to it and run this cell again. On your own machine run `make lab` (or `pip install -e .`) in the course "
        "folder."
    ) from None
cu.install.check(COURSE_PACKAGE)'''


def install_cells(nb: nbformat.NotebookNode) -> tuple[int, int]:
    """Indexes of the notebook's install Markdown and code cells (the first cells that mention installing)."""
    md = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("## Install"))
    return md, md + 1


def main() -> int:
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        md, code = install_cells(nb)
        nb.cells[md].source = MARKDOWN
        nb.cells[code].source = CODE
        nb.cells[code].outputs = []
        nb.cells[code].execution_count = None
        nbformat.write(nb, path)
        print(f"{path.name}: install cell written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
