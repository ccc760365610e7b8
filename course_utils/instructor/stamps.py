"""Stamps: each reference notebook's metadata names the notebook and fingerprints its locked cells.

    python -m course_utils.instructor stamp [notebooks/NN_x.ipynb ...] [--check]

The stamp is ``metadata["course"] = {"course": "bert-course", "notebook": "NN_name", "locked_fingerprint": sha256}``.
The grader identifies a submission by it (not by its file name) and tells an edited locked cell by the fingerprint.
Stamp again after editing a locked cell; a notebook whose stamp is current is not rewritten.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..errors import problem, raise_if_any
from .student import LOCKED_TAG, cell_source, cell_tags

COURSE = "bert-course"


def normalized(source: str) -> str:
    """A cell source with trailing spaces and surrounding blank lines removed (editors add and drop those)."""
    return "\n".join(line.rstrip() for line in source.strip("\n").splitlines()).strip("\n")


def locked_sources(nb: dict[str, Any]) -> list[str]:
    """The normalized sources of the cells tagged ``locked``, in order."""
    return [normalized(cell_source(c)) for c in nb.get("cells", []) if LOCKED_TAG in cell_tags(c)]


def locked_fingerprint(nb: dict[str, Any]) -> str:
    """sha256 of the locked cells' normalized sources: changes when a locked cell is edited, removed or untagged."""
    return hashlib.sha256("\n\x1e\n".join(locked_sources(nb)).encode()).hexdigest()


def course_stamp(nb: dict[str, Any], notebook: str) -> dict[str, str]:
    """The stamp that belongs in ``nb.metadata["course"]`` for course notebook ``notebook``."""
    return {"course": COURSE, "notebook": notebook, "locked_fingerprint": locked_fingerprint(nb)}


def stamp_file(path: Path, check: bool = False) -> bool:
    """Stamp the notebook at ``path`` (with ``check``, only compare); return True when its stamp was out of date."""
    import nbformat  # only here: importing this module stays free

    nb = nbformat.read(path, as_version=4)
    wanted = course_stamp(nb, path.stem)
    current = dict(nb.metadata.get("course", {}))
    stale = {k: current.get(k) for k in wanted} != wanted
    if stale and not check:
        nb.metadata["course"] = {**current, **wanted}  # keeps what else is there (a student version's exercises)
        nbformat.write(nb, path)
    return stale


def stamp_files(paths: list[Path], check: bool = False) -> list[Path]:
    """Stamp every notebook in ``paths`` (with ``check``, only compare); return those whose stamp was out of date.

    Missing files are reported together, before any notebook is touched.
    """
    raise_if_any([problem(f"Notebook {path}", "an existing .ipynb file", "no such file",
                          "check the path, e.g. notebooks/03_text_classification.ipynb")
                  for path in paths if not path.is_file()])
    return [path for path in paths if stamp_file(path, check)]
