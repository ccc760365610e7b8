"""Run a notebook through the Hub stand-in (tests/hub_standin.py): the online branch, or the gpu profile's dry run."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import papermill

from kernels import AsyncUnixSocketKernelManager
from nbrun import NOTEBOOK_DIR, Executed, environment, notebook_path

TESTS = Path(__file__).resolve().parent
# mode -> the profile the notebook runs: "online" takes the cpu profile's logic with the Hub "reachable";
# "gpu" is the gpu profile's dry run (its sizes, epochs, strategies, batch sizes) on tiny Hub-shaped data and models.
MODES = {"online": "cpu", "gpu": "gpu"}
STARTUP = """import sys
sys.path.insert(0, {tests!r})
import hub_standin
hub_standin.install()
"""


def execute(prefix: str, mode: str, workdir: Path) -> Executed:
    """Execute notebook ``prefix`` with the stand-in installed in its kernel; everything it writes goes in workdir."""
    source = notebook_path(prefix)
    ipython_dir = workdir / "ipython"
    (ipython_dir / "profile_default" / "startup").mkdir(parents=True, exist_ok=True)
    (ipython_dir / "profile_default" / "startup" / "00-hub-standin.py").write_text(STARTUP.format(tests=str(TESTS)))
    out_dir = workdir / "outputs"
    started = time.time()
    with environment(IPYTHONDIR=str(ipython_dir), STANDIN_CACHE=str(TESTS.parent / "build" / "standin-cache"),
                     COURSE_CACHE_DIR=str(workdir / "course-cache"), HF_HOME=str(workdir / "hf-home"),
                     HF_HUB_OFFLINE=None, TRANSFORMERS_OFFLINE=None, HF_DATASETS_OFFLINE=None, COURSE_PROFILE=None,
                     COURSE_DATA_DIR=None, CI=None, TQDM_DISABLE="1", TOKENIZERS_PARALLELISM="false", COURSE_DRY_RUN="1", MPLBACKEND=None):
        papermill.execute_notebook(
            str(source), str(workdir / source.name), cwd=str(workdir), kernel_name="python3", progress_bar=False,
            kernel_manager_class=AsyncUnixSocketKernelManager,
            parameters={"profile": MODES[mode], "output_dir": str(out_dir)},
        )
    results = json.loads((out_dir / "results.json").read_text())
    return Executed(source.stem, nbformat.read(workdir / source.name, as_version=4), results, out_dir,
                    time.time() - started)


# The runs that take longest go first, so two pytest-xdist workers finish together instead of one waiting on the
# other's last long run (measured: 10, 07, 11 and 05 train or generate the most in the gpu dry run).
LONGEST_FIRST = ["10-gpu", "07-gpu", "11-gpu", "07-online", "10-online", "05-gpu", "08-gpu", "05-online"]


def notebook_prefixes() -> list[str]:
    return [p.name[:2] for p in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))]


def runs() -> list[tuple[str, str]]:
    """Every (notebook prefix, mode), the longest first."""
    every = [(prefix, mode) for prefix in notebook_prefixes() for mode in sorted(MODES)]
    return sorted(every, key=lambda run: (LONGEST_FIRST + ["-".join(run)]).index("-".join(run)))
