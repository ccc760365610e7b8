"""Stamp each course notebook's metadata with its name and the fingerprint of its locked cells.

    .venv/bin/python tools/stamp_notebooks.py [notebooks/NN_x.ipynb ...]   # default: every notebooks/NN_*.ipynb
    .venv/bin/python tools/stamp_notebooks.py --check                      # exit 1 if a stamp is out of date

Sets ``metadata["course"] = {"course": "bert-course", "notebook": "NN_name", "locked_fingerprint": sha256}``.
The grader identifies a submission by this stamp (not by its file name) and tells an edited locked cell by the
fingerprint. Idempotent: a notebook whose stamp is current is not rewritten. Run it after editing a locked cell.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils.grading import course_stamp  # noqa: E402


def stamp(path: Path, check: bool = False) -> bool:
    """Stamp one notebook (or only compare, with ``check``); return True when the stamp was out of date."""
    nb = nbformat.read(path, as_version=4)
    wanted = course_stamp(nb, path.stem)
    current = dict(nb.metadata.get("course", {}))
    stale = {k: current.get(k) for k in wanted} != wanted
    if stale and not check:
        nb.metadata["course"] = {**current, **wanted}
        nbformat.write(nb, path)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="only report stale stamps (exit 1 if any)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    stale = [p for p in paths if stamp(p, args.check)]
    for path in stale:
        print(f"{path}: stamp {'out of date' if args.check else 'updated'}")
    if args.check and stale:
        print("Run: .venv/bin/python tools/stamp_notebooks.py")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
