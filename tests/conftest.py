"""Every test session is hermetic: the Hub is off, and every cache and every notebook run lives in a temporary
folder of the session's own (nothing is read from or written to ~/.cache). A test that needs another setting
says so with monkeypatch or nbrun.environment(); the session's values come back after it."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

# tests import their helpers (nbrun) by module name
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))  # install_cell

import nbrun  # noqa: E402 (needs the path above)

_session: dict = {}


def pytest_configure(config):
    # Here, not in a fixture: huggingface_hub reads HF_HOME when it is imported, and test modules import it while
    # they are collected, before any fixture runs. Each xdist worker is a session of its own, with its own folder.
    folder = Path(tempfile.mkdtemp(prefix="bert-course-tests-"))
    # the processes that run tests at once: xdist's workers (told to each worker; -n N in the controller)
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT") or getattr(config.option, "numprocesses", None) or 1
    changes = nbrun.hermetic_env(folder, int(workers) if str(workers).isdigit() else os.cpu_count())
    _session.update(folder=folder, saved={k: os.environ.get(k) for k in changes})
    nbrun.apply_env(changes)
    nbrun.WORK_DIR = folder / "runs"


def pytest_unconfigure(config):
    if not _session:
        return
    nbrun.apply_env(_session["saved"])
    nbrun.WORK_DIR = None
    shutil.rmtree(_session["folder"], ignore_errors=True)
    _session.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """huggingface_hub reads HF_HUB_OFFLINE once, when imported (here: offline, at collection). Let the value a test
    sets with monkeypatch count for its HTTP session too (tests/test_hub.py's mirror on loopback)."""
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is None:
        return (yield)
    saved = constants.HF_HUB_OFFLINE
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    constants.HF_HUB_OFFLINE = value.strip().upper() in {"1", "ON", "YES", "TRUE"}  # huggingface_hub's own reading
    try:
        return (yield)
    finally:
        constants.HF_HUB_OFFLINE = saved


@pytest.fixture
def hub_off(monkeypatch):
    """The Hub switched off (HF_HUB_OFFLINE=1), with the cached reachability answer cleared before and after."""
    from course_utils import hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.offline_reason.cache_clear()
    yield
    hub.offline_reason.cache_clear()
