"""Execute notebooks in the tiny profile and keep only the outputs nbval checks (cells marked NBVAL_CHECK_OUTPUT).

    .venv/bin/python tools/refresh_outputs.py notebooks/02_tokenization.ipynb [...]

Every other output is cleared, so the committed notebooks stay small and show students no tiny-profile numbers.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
import papermill


def refresh(path: Path) -> None:
    os.environ.update({"COURSE_PROFILE": "tiny", "HF_HUB_OFFLINE": "1"})
    os.environ.pop("MPLBACKEND", None)
    with tempfile.TemporaryDirectory() as tmp:
        executed_path = Path(tmp) / path.name
        papermill.execute_notebook(str(path), str(executed_path), cwd=str(path.parent), kernel_name="python3",
                                   parameters={"profile": "tiny", "output_dir": str(Path(tmp) / "outputs")},
                                   progress_bar=False)
        executed = nbformat.read(executed_path, as_version=4)
    original = nbformat.read(path, as_version=4)
    # papermill may add an injected-parameters cell: match the original cells by their id
    by_id = {c.get("id"): c for c in executed.cells}
    for cell in original.cells:
        if cell.cell_type != "code":
            continue
        keep = "NBVAL_CHECK_OUTPUT" in cell.source and cell.get("id") in by_id
        cell.outputs = [o for o in by_id[cell.id].outputs if o.output_type != "display_data"] if keep else []
        cell.execution_count = by_id[cell.id].execution_count if keep else None
    nbformat.write(original, path)
    print(f"refreshed {path}")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        refresh(Path(arg))
