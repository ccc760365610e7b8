"""Execute every course notebook with papermill (``make run``) and collect what they wrote.

    .venv/bin/python tools/run_course.py [--profile auto|tiny|cpu|gpu] notebooks/*.ipynb

Writes build/executed/NN_*.ipynb, build/html/NN_*.html, build/outputs/NN_*/ (each notebook's output_dir), and
build/results.json + build/results.md: one row per notebook with its headline metrics and wall time.
A notebook that fails is reported in the table and the run goes on; the exit code says whether any failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import papermill

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"


def run_one(notebook: Path, profile: str) -> dict:
    executed = BUILD / "executed" / notebook.name
    out_dir = BUILD / "outputs" / notebook.stem
    started = time.time()
    row = {"notebook": notebook.stem, "status": "ok"}
    try:
        papermill.execute_notebook(str(notebook), str(executed), cwd=str(notebook.parent), kernel_name="python3",
                                   parameters={"profile": profile, "output_dir": str(out_dir)}, progress_bar=False)
    except Exception as err:  # keep going: one broken notebook must not hide the others' results
        detail = f"{err.ename}: {err.evalue}" if hasattr(err, "ename") else f"{type(err).__name__}: {err}"
        row["status"] = f"failed: {' '.join(detail.split())[:200]}"  # PapermillExecutionError names the cell's error
    row["wall_s"] = round(time.time() - started, 1)
    if executed.exists():
        subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", "--output-dir", str(BUILD / "html"),
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="auto")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args()
    for folder in ("executed", "html", "outputs"):
        (BUILD / folder).mkdir(parents=True, exist_ok=True)
    rows = []
    for notebook in sorted(args.notebooks):
        print(f"running {notebook.name} ...", flush=True)
        rows.append(run_one(notebook, args.profile))
        print(f"  {rows[-1]['status']} in {rows[-1]['wall_s']} s", flush=True)
    (BUILD / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    (BUILD / "results.md").write_text(to_markdown(rows))
    print(to_markdown(rows))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
