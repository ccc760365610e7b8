"""The deliverables every notebook writes: ``results.json``, shown in the notebook too so it travels with it.

Also every line a notebook prints for the grader (``course_utils.instructor.grading``) to read back: each format is
defined here once, next to the function that parses it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import platform
import re
import time
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

from .errors import CourseError, problem

REQUIRED_KEYS = ("notebook", "profile", "model", "model_source", "dataset", "dataset_source", "metrics",
                 "runtime_s", "versions")
VERSIONED = ("torch", "transformers", "datasets", "evaluate", "accelerate", "scikit-learn", "course-utils")

# ---------------------------------------------------------------- what the grader reads back from the outputs
RESULTS_HEADER = "Wrote {path}:"  # write_results prints this line, then the JSON it wrote
_RESULTS_HEADER = re.compile(r"Wrote (?P<path>[^\n]*results\.json):\n")
METRICS_MARKER = "course-metrics:"  # show_metrics' last line: the marker, then the metrics as one line of JSON
PROFILE_LINE = "Profile: {name} ({why}). {meaning}"  # how cu.profiles.get_profile announces the profile
_PROFILE_LINE = re.compile(r"^Profile: (?P<name>\w+) \(", re.M)
# an exercise stub in a student version raises NotImplementedError("Exercise: <task>. Replace this line ...")
EXERCISE_PREFIX = "Exercise: "
EXERCISE_SUFFIX = ". Replace this line with your code."
MEASURED_FILE = "measured.json"  # course_data/measured.json: what the course measured per notebook and profile


def versions() -> dict[str, str]:
    """Python and library versions, for the record."""
    found = {"python": platform.python_version()}
    for package in VERSIONED:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def _number(name: str, value: Any) -> float | None:
    if hasattr(value, "item"):  # numpy / torch scalars
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CourseError(problem(f"Metric {name!r}", "a number", f"{type(value).__name__} {value!r}",
                                  "put only numbers in `metrics`; put other findings under `extra`"))
    return None if math.isnan(value) or math.isinf(value) else float(value)  # JSON has no NaN


def _disk_fix(err: OSError) -> str:
    if err.errno == errno.ENOSPC:
        return ("free some disk space (old checkpoint-* folders under outputs/ are the usual culprits: delete them, "
                "or set save_total_limit=1), then re-run this cell")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "choose a folder you may write to, e.g. output_dir = 'outputs/<notebook>' under your home folder"
    return "check that output_dir is a folder path (not a file) you may write to, then re-run this cell"


def write_atomically(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so ``path`` is never half-written.

    A full disk or a folder that cannot be written becomes a CourseError; the earlier file, if any, stays whole
    and no temporary file is left behind.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text)
        os.replace(temporary, path)  # atomic on one file system: readers see the old file or the new one
    except OSError as err:
        with contextlib.suppress(OSError):  # nothing to remove when the folder itself could not be made
            temporary.unlink(missing_ok=True)
        raise CourseError(problem(f"Writing {path}", "a folder with room to write the file",
                                  f"{type(err).__name__}: {err.strerror or err}", _disk_fix(err))) from None


def write_results(output_dir: str | Path, *, notebook: str, profile: str, model: str, model_source: str,
                  dataset: str, dataset_source: str, metrics: dict[str, Any], started: float,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``<output_dir>/results.json``, print it, and return it.

    ``metrics`` is a flat name -> number map measured on held-out data; ``started`` is ``time.time()`` at the
    notebook's first cell; ``extra`` holds anything else worth keeping (tables, file paths, notes).
    """
    results = {
        "notebook": notebook, "profile": profile, "model": model, "model_source": model_source,
        "dataset": dataset, "dataset_source": dataset_source,
        "metrics": {name: _number(name, value) for name, value in metrics.items()},
        "runtime_s": round(time.time() - started, 1), "versions": versions(),
    }
    if extra:
        results["extra"] = extra
    out = Path(output_dir)
    text = json.dumps(results, indent=2, default=str)
    write_atomically(out / "results.json", text + "\n")
    print(RESULTS_HEADER.format(path=out / "results.json"))
    print(text)
    for line in what_you_should_see(notebook, profile, results["metrics"]):
        print(line)
    return results


def measured_runs(path: str | Path | None = None) -> dict[str, Any]:
    """The course's own measured runs (``course_data/measured.json``, written by ``tools/measured.py``), or {}.

    Shape: ``{profile: {"machine": ..., "date": ..., "notebooks": {notebook: {"wall_s": s, "metrics": {...}}}}}``.
    """
    if path is None:
        import importlib.resources
        path = Path(str(importlib.resources.files("course_utils") / "course_data" / MEASURED_FILE))
    try:
        runs = json.loads(Path(path).read_text())["profiles"]
    except (OSError, ValueError, KeyError, TypeError):  # not shipped or unreadable: the line is a courtesy
        return {}
    return runs if isinstance(runs, dict) else {}


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"  # counts (25,000 reviews, 5 cases) read as counts
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def duration(seconds: float) -> str:
    """A wall time as the course writes it, rounded to the second: '8 s', '1 min 53 s'.

    >>> duration(4.5), duration(112.8), duration(179.6)
    ('5 s', '1 min 53 s', '3 min 0 s')
    """
    whole = int(seconds + 0.5)
    return f"{whole} s" if whole < 60 else f"{whole // 60} min {whole % 60} s"


def runtime_phrase(measured: dict[str, Any], run_date: str | None = None) -> str:
    """How a notebook's header quotes its measured cpu-profile run: 'cpu profile 2 min 29 s (measured 2026-12-01)'.

    ``measured`` is the notebook's entry in measured.json; ``run_date`` dates an entry recorded without its own.
    """
    return f"cpu profile {duration(float(measured['wall_s']))} (measured {measured.get('date') or run_date})"


def what_you_should_see(notebook: str, profile: str, metrics: dict[str, Any],
                        runs: dict[str, Any] | None = None) -> list[str]:
    """Lines comparing ``metrics`` with what the course measured for this notebook (generated, never typed).

    The same profile's measurement when there is one; otherwise the cpu profile's, said as such. Nothing when the
    course has no measurement of this notebook.

    >>> runs = {"cpu": {"machine": "2 CPU cores", "date": "2026-12-01",
    ...                 "notebooks": {"03_x": {"wall_s": 111, "metrics": {"accuracy": 0.836}}}}}
    >>> what_you_should_see("03_x", "cpu", {"accuracy": 0.84, "loss": 0.3}, runs)[1]
    '  accuracy: yours 0.840, measured 0.836'
    >>> what_you_should_see("03_x", "tiny", {"accuracy": 0.5}, runs)[0].startswith("What you should see: the tiny")
    True
    """
    runs = measured_runs() if runs is None else runs
    same = runs.get(profile, {}).get("notebooks", {}).get(notebook)
    shown = profile if same else "cpu"
    run = runs.get(shown, {})
    measured = run.get("notebooks", {}).get(notebook)
    if not measured or not measured.get("metrics"):
        return []
    when = measured.get("date") or run.get("date", "date unknown")  # a notebook re-measured alone has its own
    where = f"measured by the course on {run.get('machine', 'its CI machine')}, {when}"
    took = f", {duration(float(measured['wall_s']))} for the whole notebook" if measured.get("wall_s") else ""
    if same:
        lines = [f"What you should see ({profile} profile, {where}{took}); another seed, machine or library version "
                 "moves these a little:"]
    else:
        lines = [f"What you should see: the {profile} profile's numbers are not the lesson"
                 + (" (it checks that the code runs)" if profile == "tiny" else " (the course has not measured it)")
                 + f"; the cpu profile, {where}{took}, gave:"]
    for name, value in measured["metrics"].items():
        yours = metrics.get(name)
        mine = f"yours {_fmt(yours)}, " if same and yours is not None else ""
        lines.append(f"  {name}: {mine}measured {_fmt(value)}")
    return lines


def read_results(path: str | Path) -> dict[str, Any]:
    """Read a results.json and check it has every required key."""
    if not Path(path).is_file():
        raise CourseError(problem(f"{path}", "a results.json file", "no such file",
                                  "run the notebook to the end first: its last cell writes results.json"))
    try:
        results = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CourseError(problem(f"{path}", "a results.json written by write_results (JSON)",
                                  f"text that is not JSON ({err})"[:200],
                                  "re-run the notebook's last cell, which writes it again")) from None
    if not isinstance(results, dict):
        raise CourseError(problem(f"{path}", "a JSON object with the keys of a results.json",
                                  f"a JSON {type(results).__name__}",
                                  "write it with course_utils.results.write_results"))
    missing = [k for k in REQUIRED_KEYS if k not in results]
    if missing:
        raise CourseError(problem(f"{path}", f"the keys {list(REQUIRED_KEYS)}", f"{missing} missing",
                                  "write it with course_utils.results.write_results"))
    return results


def show_metrics(metrics: dict[str, Any], title: str = "Metrics") -> None:
    """Print metrics as a small table plus one machine-readable line (``course-metrics: {...}``).

    The grader compares that line with results.json, so a hand-edited result is caught.
    """
    clean = {k: _number(k, v) for k, v in metrics.items()}  # check every value before printing anything
    print(title)
    for name, value in metrics.items():
        print(f"  {name:>20}: {value:.4f}" if isinstance(value, float) else f"  {name:>20}: {value}")
    print(METRICS_MARKER, json.dumps(clean))


# ---------------------------------------------------------------- reading those lines back (the grader does)


def printed_results(text: str) -> list[dict[str, Any]]:
    """Every results JSON that ``write_results`` printed in ``text`` (a cell's stdout), in order.

    >>> printed_results('Wrote out/results.json:\\n{"notebook": "03_x"}\\nmore output')
    [{'notebook': '03_x'}]
    """
    found = []
    for match in _RESULTS_HEADER.finditer(text):
        try:
            results, _ = json.JSONDecoder().raw_decode(text, match.end())
        except json.JSONDecodeError:
            continue  # cut off or edited by hand: no results block
        if isinstance(results, dict):
            found.append(results)
    return found


def printed_metrics(text: str) -> list[dict[str, Any]]:
    """Every metrics map that ``show_metrics`` printed in ``text``, in order.

    >>> printed_metrics('Metrics\\n  accuracy: 0.5000\\ncourse-metrics: {"accuracy": 0.5}')
    [{'accuracy': 0.5}]
    """
    found = []
    for line in text.splitlines():
        if line.startswith(METRICS_MARKER):
            try:
                metrics = json.loads(line[len(METRICS_MARKER):])
            except json.JSONDecodeError:
                continue
            if isinstance(metrics, dict):
                found.append(metrics)
    return found


def printed_profiles(text: str) -> list[str]:
    """The profile names ``cu.profiles.get_profile`` announced in ``text``, in order.

    >>> printed_profiles(PROFILE_LINE.format(name="cpu", why="no GPU was found", meaning="cpu profile: ..."))
    ['cpu']
    """
    return _PROFILE_LINE.findall(text)


def todo(task: str) -> NoReturn:
    """Stand in for a student's code where only an expression fits (inside a call's arguments): raise at once.

    A student version of a notebook calls it as ``**cu.results.todo("<what to write>")``; the grader reads the task
    back from that call.
    """
    raise NotImplementedError(f"{EXERCISE_PREFIX}{task}{EXERCISE_SUFFIX}")
