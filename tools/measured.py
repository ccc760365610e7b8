"""Record what a `make run` measured, for the notebooks' "What you should see" lines (never typed by hand).

    .venv/bin/python tools/measured.py [build/results.json]

Reads the results table `make run` wrote (one row per notebook: profile, wall time, metrics), keeps each
notebook's headline metrics (the ones its rubric lists) and merges them into
course_utils/course_data/measured.json under the run's profile, with the machine and the date. Only notebooks that
ran `ok` are recorded, each with the date it ran; a notebook that did not run keeps its earlier measurement. Then
writes each notebook's measured cpu time into the Runtime line of its header (`runtime_phrase`), so no notebook
quotes a time by hand.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import sys
from pathlib import Path

import nbformat

from course_utils.results import runtime_phrase

ROOT = Path(__file__).resolve().parents[1]
MEASURED = ROOT / "course_utils" / "course_data" / "measured.json"
RUBRICS = ROOT / "course_utils" / "instructor" / "rubrics"
NOTEBOOKS = ROOT / "notebooks"
RUNTIME = re.compile(r"cpu profile (?:\d+ min )?\d+ s \(measured [0-9-]+\)")  # what runtime_phrase writes


def machine() -> str:
    """'2 CPU cores (AMD EPYC 7B13), Linux' from /proc/cpuinfo where there is one."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPU cores ({model}), {platform.system()}"


def headline(notebook: str, metrics: dict) -> dict:
    """The metrics the notebook's rubric names, in the rubric's order (all of them when it names none)."""
    rubric = RUBRICS / f"{notebook}.json"
    names = list(json.loads(rubric.read_text()).get("metrics", {})) if rubric.exists() else []
    chosen = {n: metrics[n] for n in names if n in metrics} or dict(metrics)
    return {n: round(v, 4) if isinstance(v, float) else v for n, v in chosen.items()}


def merge(rows: list[dict], measured: dict, when: str, where: str) -> dict:
    """``measured`` with every ok row of ``rows`` recorded under its profile."""
    profiles = measured.setdefault("profiles", {})
    for row in rows:
        if row.get("status") != "ok" or not row.get("metrics"):
            continue
        run = profiles.setdefault(row["profile"], {"notebooks": {}})
        for earlier in run["notebooks"].values():  # keep the date of what this run does not replace
            earlier.setdefault("date", run.get("date"))
        run["machine"], run["date"] = where, when
        run["notebooks"][row["notebook"]] = {"wall_s": row.get("wall_s"), "date": when,
                                             "metrics": headline(row["notebook"], row["metrics"])}
    return measured


def sync_headers(measured: dict, folder: Path = NOTEBOOKS) -> list[str]:
    """Write each notebook's measured cpu runtime into the Runtime line of its first cell; return those changed."""
    cpu = measured.get("profiles", {}).get("cpu", {})
    changed = []
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        entry = cpu.get("notebooks", {}).get(path.stem)
        nb = nbformat.read(path, as_version=4)
        header = nb.cells[0]
        if not entry or not RUNTIME.search(header.source):
            continue
        text = RUNTIME.sub(runtime_phrase(entry, cpu.get("date")), header.source, count=1)
        if text != header.source:
            header.source = text
            nbformat.write(nb, path)
            changed.append(path.stem)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", default=str(ROOT / "build" / "results.json"))
    args = parser.parse_args(argv)
    rows = json.loads(Path(args.results).read_text())
    measured = json.loads(MEASURED.read_text()) if MEASURED.exists() else {
        "about": "Written by tools/measured.py from `make run`'s results table; read by "
                 "course_utils.results.what_you_should_see. Do not edit by hand."}
    merge(rows, measured, datetime.date.today().isoformat(), machine())
    MEASURED.write_text(json.dumps(measured, indent=1) + "\n")
    ok = [r["notebook"] for r in rows if r.get("status") == "ok"]
    print(f"recorded {len(ok)} notebooks in {MEASURED.relative_to(ROOT)}: {', '.join(ok)}")
    changed = sync_headers(measured)
    print(f"Runtime lines rewritten in {len(changed)} notebooks" + (f": {', '.join(changed)}" if changed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
