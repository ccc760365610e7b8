"""nbval on the committed notebooks: the second tiny-profile run of each, which the same-seed check compares with
the first (papermill, tests/test_nb*.py).

    .venv/bin/python tools/nbval_notebooks.py [--record DIR] [--notebooks GLOB] [pytest options, e.g. -n 2]

Every course notebook is copied alone into a temporary folder and run there by nbval with its default parameters,
in the tiny profile, offline, every cache in that folder (what tests/conftest.py gives a test session).
`--nbval-lax`: every cell must run, and cells marked ``# NBVAL_CHECK_OUTPUT`` must reproduce their committed
outputs. A notebook writes results.json to its default output_dir (outputs/NN_name, beside the copy); --record
copies each to DIR/NN_name/results.json. Exits with pytest's status.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from nbrun import KERNEL_ENV, environment, hermetic_env  # noqa: E402 (the one definition of a hermetic run)

PYTEST_WITH_TESTS = f"import sys, pytest; sys.path.insert(0, {str(ROOT / 'tests')!r}); sys.exit(pytest.main())"


def xdist_workers(pytest_args: list[str]) -> int:
    """The ``-n N`` / ``--numprocesses=N`` of pytest's arguments (1 without one, the core count for ``auto``).

    >>> xdist_workers(["-n", "2", "--dist", "loadfile"]), xdist_workers(["--numprocesses=3"]), xdist_workers([])
    (2, 3, 1)
    """
    for i, arg in enumerate(pytest_args):
        if arg in ("-n", "--numprocesses") and i + 1 < len(pytest_args):
            value = pytest_args[i + 1]
        elif arg.startswith(("-n=", "--numprocesses=")):
            value = arg.split("=", 1)[1]
        else:
            continue
        return int(value) if value.isdigit() else (os.cpu_count() or 1)
    return 1


def run(pytest_args: list[str], record: Path | None, pattern: str = "[0-9][0-9]_*.ipynb") -> int:
    """Run nbval on copies of the notebooks matching ``pattern``; record their results.json; pytest's status."""
    sources = sorted((ROOT / "notebooks").glob(pattern))
    with tempfile.TemporaryDirectory(prefix="bert-course-nbval-") as tmp:
        folder = Path(tmp)
        copies = [str(shutil.copy2(p, folder / p.name)) for p in sources]
        # -c: the repository's pytest settings, although the notebooks sit outside it (no conftest.py applies);
        # --rootdir: test ids named by the notebook ("01_data_loading.ipynb::Cell 3"), which xdist groups by
        with environment(**{**hermetic_env(folder / "env", xdist_workers(pytest_args)), **KERNEL_ENV}):
            # tests/ on the path (xdist hands it to its workers) for -p kernels: nbval's kernels over Unix sockets
            code = subprocess.call([sys.executable, "-c", PYTEST_WITH_TESTS, "-c", str(ROOT / "pyproject.toml"),
                                    "--rootdir", str(folder), "-p", "no:cacheprovider", "-p", "kernels",
                                    "--nbval-lax", "--nbval-current-env",
                                    *pytest_args, *copies], cwd=folder)
        if record is not None:
            for source in sources:
                results = folder / "outputs" / source.stem / "results.json"
                if results.is_file():
                    (record / source.stem).mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(results, record / source.stem / "results.json")
    return code


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=Path, help="copy each notebook's results.json to RECORD/NN_name/")
    parser.add_argument("--notebooks", default="[0-9][0-9]_*.ipynb", help="a glob under notebooks/ (default: all)")
    args, rest = parser.parse_known_args()
    sys.exit(run(rest, args.record, args.notebooks))
