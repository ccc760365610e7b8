"""Shared helpers for the bert-course notebooks.

Importing the package does nothing but define names: no downloads, no logging set-up, no environment changes.
Submodules load on first use, so ``import course_utils as cu; cu.metrics.load("accuracy")`` works and
``python -m course_utils.instructor`` (student versions, grading, stamps: ``cu.instructor``) stays fast: it never
imports torch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "budget", "calibration", "checkpoints", "data", "diagnose", "errors", "hub", "install", "instructor", "metrics",
    "models", "ner", "parallel", "pictures", "profiles", "qa", "results", "sharing", "summarization", "text", "training",
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'course_utils' has no attribute {name!r}")
