"""Time the grader on a folder of submissions (the bar: 50 submissions in under 10 s on 2 cores).

    .venv/bin/python tools/bench_grading.py [--source EXECUTED.ipynb] [--count 50]

The submissions are copies of one executed notebook (default: the tiny-profile run the tests leave in
build/test-runs/03_text_classification/, executed first if missing), every fifth one damaged in a different way,
so the timing covers good, failing and bad files. Reports the time of the whole command (`python -m
course_utils.instructor grade`, interpreter start included) and of grading alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT / "build" / "test-runs" / "03_text_classification" / "03_text_classification.ipynb"


def executed_source(path: Path) -> Path:
    """The executed notebook to copy, running notebook 03 in the tiny profile when there is none yet."""
    if not path.exists():
        sys.path.insert(0, str(ROOT / "tests"))
        from nbrun import execute

        execute("03")
    return path


def damaged(nb: dict, kind: int) -> dict | str:
    """A copy of ``nb`` spoiled in one of five ways (0: left as it is)."""
    nb = json.loads(json.dumps(nb))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    if kind == 1:
        code[3]["outputs"].append({"output_type": "error", "ename": "ValueError", "evalue": "x", "traceback": []})
    elif kind == 2:
        code[2]["execution_count"] = 10_000
    elif kind == 3:
        code[-1]["outputs"] = []
    elif kind == 4:
        return json.dumps(nb)[:5000]  # a broken download
    return nb


def make_submissions(source: Path, folder: Path, count: int) -> int:
    """Write ``count`` submissions into ``folder``; return their total size in bytes."""
    nb = json.loads(source.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        spoiled = damaged(nb, i % 5)
        text = spoiled if isinstance(spoiled, str) else json.dumps(spoiled, indent=1)
        (folder / f"student_{i:03d}_03.ipynb").write_text(text)
    return sum(p.stat().st_size for p in folder.iterdir())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="an executed course notebook")
    parser.add_argument("--count", type=int, default=50, help="how many submissions")
    args = parser.parse_args()
    source = executed_source(args.source)
    with tempfile.TemporaryDirectory() as tmp:
        subs, out = Path(tmp) / "submissions", Path(tmp) / "grades"
        size = make_submissions(source, subs, args.count)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "course_utils.instructor", "grade", str(subs), "--out", str(out)],
                              cwd=ROOT, capture_output=True, text=True)
        command_s = time.perf_counter() - started
        sys.path.insert(0, str(ROOT))
        from course_utils.instructor import grading

        started = time.perf_counter()
        graded = grading.grade_folder(subs, out)
        grading_s = time.perf_counter() - started
    print(done.stdout.splitlines()[0] if done.returncode == 0 else done.stdout + done.stderr)
    print(f"{args.count} submissions ({size / 2**20:.1f} MiB): whole command {command_s:.2f} s, "
          f"grading alone {grading_s:.2f} s ({len(graded)} graded); bar: 10 s")
    return 0 if done.returncode == 0 and command_s < 10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
