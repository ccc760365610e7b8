"""tests/nbrun.py and conftest.py: a hermetic session, and notebook runs that leave their worker's environment as
they found it (so no result depends on which tests ran before in the same worker)."""

import json
import os
import tempfile
from pathlib import Path

import nbformat
import papermill
import pytest

import nbrun
from nbrun import environment, run_notebook


def test_session_is_offline_with_every_cache_in_its_own_temporary_folder():
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        assert os.environ[var] == "1", var
    home, tmp = Path.home().resolve(), Path(tempfile.gettempdir()).resolve()
    for var in ("COURSE_CACHE_DIR", "HF_HOME", "XDG_CACHE_HOME", "MPLCONFIGDIR", "IPYTHONDIR"):
        path = Path(os.environ[var]).resolve()
        assert tmp in path.parents and home not in path.parents, f"{var}={path}"
    assert nbrun.WORK_DIR is not None and Path(os.environ["HF_HOME"]).parent == nbrun.WORK_DIR.parent
    assert "HF_TOKEN" not in os.environ and "COURSE_PROFILE" not in os.environ


def test_environment_sets_removes_and_restores_even_after_an_error(monkeypatch):
    monkeypatch.setenv("NBRUN_KEPT", "before")
    monkeypatch.delenv("NBRUN_NEW", raising=False)
    before = dict(os.environ)
    with pytest.raises(RuntimeError, match="a failing cell"):
        with environment(NBRUN_KEPT=None, NBRUN_NEW="set", HF_HUB_OFFLINE="0"):
            assert "NBRUN_KEPT" not in os.environ and os.environ["NBRUN_NEW"] == "set"
            raise RuntimeError("a failing cell")
    assert dict(os.environ) == before


def notebook(tmp_path: Path, *cells: str) -> Path:
    """A two-parameter notebook (like the course's) followed by ``cells``."""
    params = nbformat.v4.new_code_cell('output_dir = "outputs"  # where seen.json goes')
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[params] + [nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    return path


SHOW_ENV = """import json, os
os.makedirs(output_dir, exist_ok=True)
names = ["HF_HUB_OFFLINE", "COURSE_PROFILE", "COURSE_CACHE_DIR", "HF_HOME", "MPLBACKEND", "HF_TOKEN"]
json.dump({k: os.environ.get(k) for k in names}, open(os.path.join(output_dir, "seen.json"), "w"))"""


def test_a_notebook_run_changes_only_its_kernel_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "agg")  # a developer's setting: the kernel must not inherit it
    before = dict(os.environ)
    run_notebook(notebook(tmp_path, SHOW_ENV), tmp_path, {"output_dir": str(tmp_path / "out")},
                 env={"HF_TOKEN": "hf_NotARealToken"})
    assert dict(os.environ) == before
    seen = json.loads((tmp_path / "out" / "seen.json").read_text())
    assert seen == {"HF_HUB_OFFLINE": "1", "COURSE_PROFILE": "tiny", "COURSE_CACHE_DIR": before["COURSE_CACHE_DIR"],
                    "HF_HOME": before["HF_HOME"], "HF_TOKEN": "hf_NotARealToken",
                    "MPLBACKEND": "module://matplotlib_inline.backend_inline"}  # ipykernel's own: plots inline


def test_a_failing_notebook_leaves_the_environment_as_it_was(tmp_path):
    before = dict(os.environ)
    with pytest.raises(papermill.PapermillExecutionError, match="planted failure"):
        run_notebook(notebook(tmp_path, "raise ValueError('planted failure')"), tmp_path, {}, env={"NBRUN_X": "1"})
    assert dict(os.environ) == before


def test_kernel_threads_share_the_cores_among_the_workers(monkeypatch):
    monkeypatch.setattr(nbrun.os, "cpu_count", lambda: 2)
    assert [nbrun.kernel_threads(w) for w in (1, 2, 3)] == ["2", "1", "1"]  # never 0, never more than the cores
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    assert nbrun.kernel_threads() == "1" and nbrun.hermetic_env(Path("/tmp/x"))["OMP_NUM_THREADS"] == "1"
