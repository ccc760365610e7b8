"""Execute a course notebook with papermill in the tiny profile, offline, and hand back what it wrote."""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import papermill

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
RUN_DIR = ROOT / "build" / "test-runs"


@dataclass
class Executed:
    """One tiny-profile execution: the executed notebook, its results.json and its output folder."""

    name: str
    notebook: nbformat.NotebookNode
    results: dict
    output_dir: Path
    wall_s: float

    def outputs_text(self) -> str:
        """Every text output of every cell, joined (for asserting on what a student sees)."""
        parts = []
        for cell in self.notebook.cells:
            for out in cell.get("outputs", []):
                parts.append(out.get("text", "") or out.get("data", {}).get("text/plain", ""))
        return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


@contextlib.contextmanager
def environment(**changes: str | None):
    """Set (or, with None, remove) environment variables for the kernel about to start; restore them after."""
    saved = {k: os.environ.get(k) for k in changes}
    try:
        for key, value in changes.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def notebook_path(prefix: str) -> Path:
    """The notebook whose file name starts with ``prefix`` (e.g. "03")."""
    matches = sorted(NOTEBOOK_DIR.glob(f"{prefix}_*.ipynb"))
    assert len(matches) == 1, f"expected one notebook named {prefix}_*.ipynb, found {matches}"
    return matches[0]


def execute(prefix: str, **parameters) -> Executed:
    """Run notebook ``prefix`` in the tiny profile with the Hub switched off; fail with the cell's error."""
    source = notebook_path(prefix)
    out_dir = RUN_DIR / source.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    # The kernel inherits these; they are restored afterwards, so no later test in this worker sees them.
    # TQDM_DISABLE: no progress bars, stable outputs (students see widgets). No MPLBACKEND: the kernel's inline
    # backend puts plots in the outputs.
    with environment(HF_HUB_OFFLINE="1", COURSE_PROFILE="tiny", TOKENIZERS_PARALLELISM="false", TQDM_DISABLE="1",
                     MPLBACKEND=None):
        papermill.execute_notebook(
            str(source), str(out_dir / source.name), cwd=str(NOTEBOOK_DIR), kernel_name="python3",
            parameters={"profile": "tiny", "output_dir": str(out_dir / "outputs"), **parameters}, progress_bar=False,
        )
    wall = time.time() - started
    timings = RUN_DIR / "timings.jsonl"
    with timings.open("a") as f:
        f.write(json.dumps({"notebook": source.stem, "wall_s": round(wall, 1)}) + "\n")
    results = json.loads((out_dir / "outputs" / "results.json").read_text())
    return Executed(source.stem, nbformat.read(out_dir / source.name, as_version=4), results, out_dir / "outputs", wall)


def check_common(run: Executed, metric_names: list[str]) -> None:
    """What every notebook's results.json must hold, and that the last cell shows it."""
    r = run.results
    for key in ("notebook", "profile", "model", "model_source", "dataset", "dataset_source", "metrics",
                "runtime_s", "versions"):
        assert key in r, f"{run.name}: results.json lacks {key!r}"
    assert r["notebook"] == run.name
    assert r["profile"] == "tiny"
    for name in metric_names:
        assert name in r["metrics"], f"{run.name}: metric {name!r} missing from {sorted(r['metrics'])}"
        assert isinstance(r["metrics"][name], (int, float)), f"{run.name}: {name} is {r['metrics'][name]!r}"
    last_code = [c for c in run.notebook.cells if c.cell_type == "code"][-1]
    shown = "".join(o.get("text", "") for o in last_code.get("outputs", []))
    assert json.dumps(r["metrics"], indent=2)[:40] in shown or '"metrics"' in shown, \
        f"{run.name}: the last cell does not show results.json"
