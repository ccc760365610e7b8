"""Print the notebooks that hold cells marked ``# NBVAL_CHECK_OUTPUT`` (the ones nbval checks)."""

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
marked = [
    str(p.relative_to(ROOT)) for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if any("NBVAL_CHECK_OUTPUT" in c.source for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code")
]
print(" ".join(marked))
