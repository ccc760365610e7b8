"""Execute every course notebook with papermill (``make run``) and collect what they wrote.

    .venv/bin/python tools/run_course.py [--profile auto|tiny|cpu|gpu] notebooks/*.ipynb

Writes build/executed/NN_*.ipynb, build/html/NN_*.html, build/outputs/NN_*/ (each notebook's output_dir), and
build/results.json + build/results.md: one row per notebook with its headline metrics and wall time.
A notebook that fails is reported in the table and the run goes on; the exit code says whether any failed.

Progress: one line per code cell (its section heading, its first line, the time spent so far) and, per notebook,
what is left of the course. Plain lines, no progress bars, so a CI log reads as well as a terminal. Expected times
come from the previous run (build/run-timings.json, kept per profile, written after every notebook), else from
build/results.json, else from the **Runtime** line of the notebook's header, else they are unknown.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, TextIO

import nbformat
import papermill
from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
SLOW_CELL_S = 5.0  # a cell that took longer gets a second line with its time: that is where the minutes go


def resolve_profile(requested: str) -> str:
    """The profile the notebooks will run ('auto' resolved the way they resolve it), for picking expected times."""
    sys.path.insert(0, str(ROOT))
    from course_utils.profiles import choose
    return choose(requested)[0]


def fmt_duration(seconds: float | None) -> str:
    """'42 s', '3.5 min', '1 h 05 min' or '?' for an unknown duration."""
    if seconds is None:
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


# ---------------------------------------------------------------------------------------------- expected times
RUNTIME_LINE = re.compile(r"\*\*Runtime\*\*(.*)", re.IGNORECASE)


def header_estimate(notebook: Path, profile: str) -> float | None:
    """Seconds the notebook's header says ``profile`` takes ("cpu ≈ 3 min", "tiny 11-21 s"), or None.

    A range counts as its upper end: an estimate of what is left should not promise too little.
    """
    try:
        cells = nbformat.read(str(notebook), as_version=4).cells
    except Exception:  # an unreadable notebook fails later, with papermill's message
        return None
    header = "\n".join(c.source for c in cells[:3] if c.cell_type == "markdown")
    found = RUNTIME_LINE.search(header)
    if not found:
        return None
    text = " ".join(header[found.start():].split()[:60])  # the Runtime paragraph may wrap onto the next lines
    value = re.search(rf"\b{profile}\b[^0-9·]{{0,12}}?(\d+(?:\.\d+)?)(?:\s*-\s*(\d+(?:\.\d+)?))?\s*(s|min)\b", text)
    if not value:
        return None
    number = float(value.group(2) or value.group(1))
    return number * (60 if value.group(3) == "min" else 1)


def previous_times(profile: str, build: Path = BUILD) -> dict[str, float]:
    """Wall seconds per notebook from earlier runs of ``profile``: run-timings.json, then results.json."""
    times: dict[str, float] = {}
    results = build / "results.json"
    if results.exists():
        try:
            for row in json.loads(results.read_text()):
                if row.get("status") == "ok" and row.get("profile") == profile:
                    times[row["notebook"]] = float(row["wall_s"])
        except (ValueError, KeyError, TypeError):
            pass  # a damaged record only costs the estimate
    record = build / "run-timings.json"
    if record.exists():
        try:
            times.update(json.loads(record.read_text()).get(profile, {}))
        except (ValueError, AttributeError):
            pass
    return times


def record_time(profile: str, notebook: str, wall_s: float, build: Path = BUILD) -> None:
    """Remember a successful notebook's wall time for the next run's estimates (kept per profile)."""
    record = build / "run-timings.json"
    try:
        data = json.loads(record.read_text()) if record.exists() else {}
    except ValueError:
        data = {}
    data.setdefault(profile, {})[notebook] = round(wall_s, 1)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def expected_times(notebooks: list[Path], profile: str, build: Path = BUILD) -> dict[str, tuple[float | None, str]]:
    """(seconds or None, where the figure comes from) per notebook stem."""
    previous = previous_times(profile, build)
    expected = {}
    for nb in notebooks:
        if nb.stem in previous:
            expected[nb.stem] = (previous[nb.stem], "previous run")
        else:
            guess = header_estimate(nb, profile)
            expected[nb.stem] = (guess, "header") if guess is not None else (None, "unknown")
    return expected


def left_text(seconds: float, unknown: int) -> str:
    """'≈ 12.5 min left' with a note of notebooks whose time is unknown."""
    text = f"≈ {fmt_duration(seconds)} left"
    return text + (f" (+ {unknown} notebook{'s' if unknown > 1 else ''} of unknown time)" if unknown else "")


# ---------------------------------------------------------------------------------------------- cell progress
def cell_label(heading: str, source: str, width: int = 90) -> str:
    """'§ heading · first code line', cut to ``width`` characters: enough to find the cell in the notebook."""
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    code = [line for line in lines if not line.startswith(("#", "%"))]  # skip "# NBVAL_..." and magics
    first = (code or lines or ["(empty)"])[0]
    label = f"§ {heading} · {first}" if heading else first
    return label if len(label) <= width else label[:width - 1] + "…"


class CellProgress:
    """Writes one line as each code cell starts and, for slow cells, one as it ends."""

    def __init__(self, expected_s: float | None, out: TextIO = sys.stdout, clock: Callable[[], float] = time.monotonic):
        self.expected_s, self.out, self.clock = expected_s, out, clock
        self.started = clock()
        self.cell_started = self.started
        self.heading = ""
        self.total = 0

    def elapsed(self) -> str:
        spent = self.clock() - self.started
        return fmt_duration(spent) + (f" of ≈ {fmt_duration(self.expected_s)}" if self.expected_s else "")

    def start(self, nb, cell, index: int) -> None:
        if cell.cell_type == "markdown":
            titles = [ln.lstrip("#").strip() for ln in cell.source.splitlines() if ln.startswith("#")]
            self.heading = titles[-1] if titles else self.heading
            return
        if cell.cell_type != "code":
            return
        codes = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        self.cell_started = self.clock()
        position = codes.index(index) + 1 if index in codes else "?"
        self.out.write(f"  [{position:>2}/{len(codes)}] {self.elapsed():<18} {cell_label(self.heading, cell.source)}\n")
        self.out.flush()

    def complete(self, cell) -> None:
        if cell.cell_type != "code":
            return
        took = self.clock() - self.cell_started
        if took >= SLOW_CELL_S:
            self.out.write(f"          ... that cell took {fmt_duration(took)}\n")
            self.out.flush()


def progress_engine(progress: CellProgress) -> str:
    """Register a papermill engine that reports to ``progress``; return its name for execute_notebook(engine_name=)."""

    class Manager(NotebookExecutionManager):
        def cell_start(self, cell, cell_index=None, **kwargs):
            progress.start(self.nb, cell, cell_index)
            return super().cell_start(cell, cell_index, **kwargs)

        def cell_complete(self, cell, cell_index=None, **kwargs):
            progress.complete(cell)
            return super().cell_complete(cell, cell_index, **kwargs)

    class Engine(NBClientEngine):
        @classmethod
        def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=False, log_output=False,
                             autosave_cell_every=30, **kwargs):
            # Engine.execute_notebook with our manager: papermill has no hook for per-cell callbacks
            nb_man = Manager(nb, output_path=output_path, progress_bar=False, log_output=log_output,
                             autosave_cell_every=autosave_cell_every)
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            finally:
                nb_man.notebook_complete()
            return nb_man.nb

    papermill_engines.register("course-progress", Engine)
    return "course-progress"


# ---------------------------------------------------------------------------------------------- the run
def run_one(notebook: Path, profile: str, build: Path = BUILD, expected_s: float | None = None,
            out: TextIO = sys.stdout) -> dict:
    executed = build / "executed" / notebook.name
    out_dir = build / "outputs" / notebook.stem
    started = time.time()
    row = {"notebook": notebook.stem, "status": "ok"}
    (out_dir / "results.json").unlink(missing_ok=True)  # a failed run must not report an earlier run's metrics
    engine = progress_engine(CellProgress(expected_s, out))
    try:
        papermill.execute_notebook(str(notebook), str(executed), cwd=str(notebook.parent), kernel_name="python3",
                                   parameters={"profile": profile, "output_dir": str(out_dir)}, progress_bar=False,
                                   engine_name=engine)
    except Exception as err:  # keep going: one broken notebook must not hide the others' results
        detail = f"{err.ename}: {err.evalue}" if hasattr(err, "ename") else f"{type(err).__name__}: {err}"
        row["status"] = f"failed: {' '.join(detail.split())[:200]}"  # PapermillExecutionError names the cell's error
    row["wall_s"] = round(time.time() - started, 1)
    if executed.exists():
        subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", "--output-dir", str(build / "html"),
                        str(executed)], check=False, capture_output=True)
    results_file = out_dir / "results.json"
    if results_file.exists():
        results = json.loads(results_file.read_text())
        row.update(profile=results["profile"], model=results["model"], metrics=results["metrics"])
    return row


def to_markdown(rows: list[dict]) -> str:
    lines = ["| notebook | status | profile | wall (s) | headline metrics |", "|---|---|---|---|---|"]
    for r in rows:
        metrics = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in r.get("metrics", {}).items())
        lines.append(f"| {r['notebook']} | {r['status']} | {r.get('profile', '?')} | {r['wall_s']} | {metrics} |")
    return "\n".join(lines) + "\n"


def run_course(notebooks: list[Path], profile: str, build: Path = BUILD, out: TextIO = sys.stdout) -> list[dict]:
    """Run ``notebooks`` in order, printing progress; write results.json/.md in ``build``; return the rows."""
    for folder in ("executed", "html", "outputs"):
        (build / folder).mkdir(parents=True, exist_ok=True)
    notebooks = sorted(notebooks)
    resolved = resolve_profile(profile)
    expected = expected_times(notebooks, resolved, build)
    course_started = time.monotonic()
    rows = []
    for i, notebook in enumerate(notebooks):
        seconds, source = expected[notebook.stem]
        later = [expected[nb.stem][0] for nb in notebooks[i:]]
        left = left_text(sum(s for s in later if s is not None), sum(s is None for s in later))
        guess = f"expected {fmt_duration(seconds)} ({source})" if seconds is not None else "time unknown"
        out.write(f"running {notebook.name} ({i + 1}/{len(notebooks)}, {resolved} profile): {guess}; "
                  f"course {left}\n")
        out.flush()
        rows.append(run_one(notebook, profile, build, seconds, out))
        row = rows[-1]
        if row["status"] == "ok":
            record_time(resolved, notebook.stem, row["wall_s"], build)
        out.write(f"  {row['status']} in {row['wall_s']} s (course so far "
                  f"{fmt_duration(time.monotonic() - course_started)})\n")
        out.flush()
    (build / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    (build / "results.md").write_text(to_markdown(rows))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="auto")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args()
    rows = run_course(args.notebooks, args.profile)
    print(to_markdown(rows))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
