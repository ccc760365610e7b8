"""Execute a course notebook with papermill in the tiny profile, offline, and hand back what it wrote.

Each run happens in a temporary folder (``WORK_DIR``, set per test session by conftest.py). What later steps need
is recorded under ``record_dir()`` (``COURSE_TEST_RECORD``, default build/test-runs/): per notebook the executed
.ipynb and its results.json (for runs with the notebook's default parameters), and one line per run in
timings.jsonl: the benchmark record of wall times, which no test asserts on.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import papermill

from kernels import AsyncUnixSocketKernelManager

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
RUN_DIR = ROOT / "build" / "test-runs"  # the default record_dir()
WORK_DIR: Path | None = None  # where runs happen; None: a temporary folder of this process's own
_own_work_dir: tempfile.TemporaryDirectory | None = None

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
# What a notebook kernel runs with, on top of the hermetic environment. TQDM_DISABLE: no progress bars, stable
# outputs (students see widgets). No MPLBACKEND: the kernel's inline backend puts plots in the outputs.
KERNEL_ENV = {**OFFLINE, "COURSE_PROFILE": "tiny", "TOKENIZERS_PARALLELISM": "false", "TQDM_DISABLE": "1",
              "MPLBACKEND": None}


def kernel_threads(workers: int | None = None) -> str:
    """Threads per process when ``workers`` processes share the machine (default: pytest-xdist's worker count).

    Measured on 2 cores with two workers: each kernel at torch's default (2 threads, so 4 spinning threads on 2
    cores) took 312 s for notebook 07's gpu dry run; with 1 thread each, 13 s.
    """
    workers = workers or int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    return str(max(1, (os.cpu_count() or 1) // max(1, workers)))


def hermetic_env(folder: Path, workers: int | None = None) -> dict[str, str | None]:
    """The environment of a hermetic test session: Hub off, every cache in ``folder``, nothing of the developer's.

    None removes a variable. A variable that points one cache elsewhere (HF_DATASETS_CACHE ...) is removed so that
    it follows HF_HOME. ``workers``: processes running at once (default: pytest-xdist's), for the thread count.
    """
    folder = Path(folder)
    return {
        **OFFLINE,
        "OMP_NUM_THREADS": kernel_threads(workers),  # no more threads than cores, over all workers
        "COURSE_CACHE_DIR": str(folder / "course-cache"),  # the tiny models the course builds
        "HF_HOME": str(folder / "hf-home"),  # Hub, datasets and evaluate caches, and a saved Hub login
        "XDG_CACHE_HOME": str(folder / "xdg-cache"),  # torch, pip and other tools that honour XDG
        "MPLCONFIGDIR": str(folder / "matplotlib"),  # matplotlib's font cache
        "IPYTHONDIR": str(folder / "ipython"),  # the kernels' IPython profile
        "JUPYTER_RUNTIME_DIR": str(folder / "jupyter-runtime"),  # kernel connection files
        **dict.fromkeys(("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE", "TRANSFORMERS_CACHE",
                         "HF_EVALUATE_CACHE", "HF_MODULES_CACHE", "HF_TOKEN_PATH",
                         "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",  # a developer's token must not reach a test
                         "COURSE_PROFILE", "COURSE_DRY_RUN")),  # tests choose their profile themselves
    }


def apply_env(changes: dict[str, str | None]) -> None:
    """Set each variable to its value, or remove it where the value is None."""
    for key, value in changes.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@contextlib.contextmanager
def environment(**changes: str | None):
    """Set (or, with None, remove) environment variables for the kernel about to start; restore them after."""
    saved = {k: os.environ.get(k) for k in changes}
    try:
        apply_env(changes)
        yield
    finally:
        apply_env(saved)


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


def notebook_path(prefix: str) -> Path:
    """The notebook whose file name starts with ``prefix`` (e.g. "03")."""
    matches = sorted(NOTEBOOK_DIR.glob(f"{prefix}_*.ipynb"))
    assert len(matches) == 1, f"expected one notebook named {prefix}_*.ipynb, found {matches}"
    return matches[0]


def work_dir() -> Path:
    """The folder runs happen in: the session's (WORK_DIR), else one this process removes when it exits."""
    global _own_work_dir
    if WORK_DIR is not None:
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        return WORK_DIR
    if _own_work_dir is None:
        _own_work_dir = tempfile.TemporaryDirectory(prefix="bert-course-nbrun-")
    return Path(_own_work_dir.name)


def record_dir() -> Path:
    """Where runs are recorded for later steps (``COURSE_TEST_RECORD``, default build/test-runs/)."""
    return Path(os.environ.get("COURSE_TEST_RECORD") or RUN_DIR)


def run_notebook(source: Path, out_dir: Path, parameters: dict, env: dict[str, str | None] | None = None) -> None:
    """Execute ``source`` into ``out_dir`` with papermill, cwd notebooks/; the kernel gets KERNEL_ENV and ``env``.

    The process's environment is the same afterwards, also when a cell fails.
    """
    with environment(**{**KERNEL_ENV, **(env or {})}):
        papermill.execute_notebook(str(source), str(out_dir / source.name), cwd=str(NOTEBOOK_DIR),
                                   kernel_name="python3", parameters=parameters, progress_bar=False,
                                   kernel_manager_class=AsyncUnixSocketKernelManager)


def execute(prefix: str, env: dict[str, str | None] | None = None, **parameters) -> Executed:
    """Run notebook ``prefix`` in the tiny profile with the Hub switched off; fail with the cell's error.

    ``env``: more environment variables for the kernel (None removes one); ``parameters``: papermill parameters.
    """
    source = notebook_path(prefix)
    out_dir = Path(tempfile.mkdtemp(prefix=f"{source.stem}-", dir=work_dir()))
    started = time.time()
    run_notebook(source, out_dir, {"profile": "tiny", "output_dir": str(out_dir / "outputs"), **parameters}, env)
    wall = time.time() - started
    run = Executed(source.stem, nbformat.read(out_dir / source.name, as_version=4),
                   json.loads((out_dir / "outputs" / "results.json").read_text()), out_dir / "outputs", wall)
    record(run, out_dir / source.name, parameters)
    return run


def record(run: Executed, executed_path: Path, parameters: dict) -> None:
    """Keep the wall time, and for a run with default parameters the executed notebook and results.json."""
    folder = record_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "timings.jsonl").open("a") as f:
        f.write(json.dumps({"notebook": run.name, "wall_s": round(run.wall_s, 1), "parameters": parameters}) + "\n")
    if parameters:  # not the run the same-seed check compares
        return
    (folder / run.name).mkdir(exist_ok=True)
    shutil.copyfile(executed_path, folder / run.name / executed_path.name)
    shutil.copyfile(run.output_dir / "results.json", folder / run.name / "results.json")


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


SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def solution_of(source: str) -> str:
    """The lines between an exercise cell's BEGIN/END SOLUTION markers."""
    begin, end = SOLUTION_MARKERS
    start, stop = source.index(begin), source.index(end)
    return source[source.index("\n", start) + 1:stop]


def raising(source: str):
    """A code cell allowed to raise (its error is what the next check cell reads)."""
    import nbformat

    return nbformat.v4.new_code_cell(source, metadata={"tags": ["raises-exception"]})


def planted(cell, changes):
    """``cell`` with a wrong answer planted: each (old, new) replaced inside its solution."""
    solution = solution_of(cell.source)
    wrong = solution
    for old, new in changes:
        assert old in wrong, f"the reference answer no longer holds {old!r}: update the plant"
        wrong = wrong.replace(old, new)
    assert wrong != solution
    return raising(cell.source.replace(solution, wrong))


def error_of(cell) -> tuple[str, str] | None:
    """(error name, message without colour codes) of an executed cell that raised, else None."""
    import re

    errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
    return (errors[0].ename, re.sub(r"\x1b\[[0-9;]*m", "", errors[0].evalue)) if errors else None


def run_after_setup(prefix: str, before: int, cells: list, folder: Path) -> list:
    """Run notebook ``prefix``'s code cells before cell ``before`` (tiny profile, Hub off, outputs in ``folder``),
    then ``cells`` in the same kernel; return ``cells`` executed (planted answers, their checks, the reference)."""
    import nbclient

    nb = nbformat.read(notebook_path(prefix), as_version=4)
    setup = [c for c in nb.cells[:before] if c.cell_type == "code"]
    params = next(c for c in setup if "parameters" in c.metadata.get("tags", []))
    params.source += f'\nprofile = "tiny"\noutput_dir = {str(folder / "outputs")!r}\n'
    run = nbformat.v4.new_notebook(cells=setup + list(cells), metadata=nb.metadata)
    with environment(**KERNEL_ENV):
        nbclient.NotebookClient(run, kernel_name="python3", timeout=600,
                                resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
                                kernel_manager_class=AsyncUnixSocketKernelManager).execute()
    nbformat.write(run, folder / "planted.ipynb")  # for a human reading a failure
    return run.cells[len(setup):]


@dataclass
class Plant:
    """One wrong answer to plant in an exercise, and what its check must say.

    ``exercise``: text that finds the exercise cell; ``changes``: (old, new) replacements inside its solution;
    ``says``: a fragment of the check's message; ``through``: text that finds the last cell the check needs (when
    the check runs after the exercise cell); ``keep``: kernel names the plant rebinds, restored after it;
    ``setup``: code run first (and left in effect), e.g. data the tiny profile's random model cannot produce.
    """

    exercise: str
    changes: list[tuple[str, str]]
    says: str
    through: str | None = None
    keep: tuple[str, ...] = ()
    setup: str = ""


def run_plants(prefix: str, plants: dict[str, Plant], folder: Path) -> dict[str, tuple[str, str] | None]:
    """Run notebook ``prefix`` (tiny profile, Hub off) up to its last planted check, each plant just before its
    exercise's reference answer; return the first error each plant's cells raised (None: nothing stopped it).

    The reference answers and every other cell must run cleanly: nbclient raises otherwise.
    """
    import nbclient

    nb = nbformat.read(notebook_path(prefix), as_version=4)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]

    def find(text: str) -> int:
        found = [i for i in code if text in nb.cells[i].source]
        assert len(found) == 1, f"notebook {prefix}: expected one code cell holding {text!r}, found {len(found)}"
        return found[0]

    spans = {name: (find(p.exercise), find(p.through or p.exercise)) for name, p in plants.items()}
    cells, where = [], {}
    for i in code:
        if i > max(end for _, end in spans.values()):
            break
        for name, plant in plants.items():
            start, end = spans[name]
            if start != i:
                continue
            if plant.setup:
                cells.append(nbformat.v4.new_code_cell(plant.setup))
            first = len(cells)
            if plant.keep:
                cells.append(nbformat.v4.new_code_cell(f"_kept = ({', '.join(plant.keep)},)"))
            cells.append(planted(nb.cells[i], plant.changes))
            cells += [raising(nb.cells[j].source) for j in code if i < j <= end]
            where[name] = (first, len(cells))
            if plant.keep:
                cells.append(nbformat.v4.new_code_cell(f"{', '.join(plant.keep)}, = _kept"))
        cells.append(nb.cells[i])
    params = next(c for c in cells if "parameters" in c.metadata.get("tags", []))
    params.source += f'\nprofile = "tiny"\noutput_dir = {str(folder / "outputs")!r}\n'
    run = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
    try:
        with environment(**KERNEL_ENV):
            nbclient.NotebookClient(run, kernel_name="python3", timeout=600,
                                    resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
                                    kernel_manager_class=AsyncUnixSocketKernelManager).execute()
    finally:
        nbformat.write(run, folder / "planted.ipynb")  # for a human reading a failure
    return {name: next(filter(None, map(error_of, run.cells[a:b])), None) for name, (a, b) in where.items()}


def plant_tests(prefix: str, plants: dict[str, Plant]):
    """A module fixture running ``run_plants`` once, and a test per plant: its check stopped it, saying why.

    In a test module: ``planted_run, test_a_planted_wrong_answer_is_stopped = plant_tests("01", PLANTS)``.
    """
    import pytest

    @pytest.fixture(scope="module")
    def planted_run(tmp_path_factory):
        return run_plants(prefix, plants, tmp_path_factory.mktemp(f"planted{prefix}"))

    @pytest.mark.parametrize("name", list(plants))
    def test(planted_run, name):
        found = planted_run[name]
        assert found is not None, f"notebook {prefix}, {name}: the check accepted a wrong answer"
        assert plants[name].says in found[1], f"notebook {prefix}, {name}: stopped by {found}"

    return planted_run, test
