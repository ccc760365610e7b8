"""Instructor tooling: student versions of the notebooks, grading of executed submissions, notebook stamps.

    python -m course_utils.instructor {student,grade,stamp} --help

Nothing a student's notebook runs lives here, and nothing here imports torch or transformers: grading a folder of
submissions takes seconds on any laptop. Submodules load on first use (``cu.instructor.grading``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "notebooks"  # the reference notebooks of a course checkout

_SUBMODULES = {"grading", "stamps", "student"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'course_utils.instructor' has no attribute {name!r}")
