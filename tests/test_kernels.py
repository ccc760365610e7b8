"""The test kernels talk over Unix sockets (tests/kernels.py): no TCP port for another process to take first."""

import ast
import os
import tempfile
from pathlib import Path

import nbformat
import papermill
import pytest

from kernels import AsyncUnixSocketKernelManager, UnixSocketKernelManager

pytestmark = pytest.mark.skipif(os.name != "posix", reason="Unix sockets")


@pytest.mark.parametrize("manager", [AsyncUnixSocketKernelManager, UnixSocketKernelManager])
def test_sockets_are_files_of_their_own_under_the_temporary_folder(manager):
    first, second = manager(kernel_name="python3"), manager(kernel_name="python3")
    assert (first.transport, second.transport) == ("ipc", "ipc")
    assert os.path.dirname(first.ip) == tempfile.gettempdir() and first.ip != second.ip
    assert len(f"{first.ip}-65535") < 100, "a Unix socket's path must stay under 108 bytes"


def test_a_notebook_runs_over_unix_sockets(tmp_path):
    """The kernel papermill starts reports the transport it was given; its socket files are gone afterwards."""
    probe = "from ipykernel.kernelapp import IPKernelApp\napp = IPKernelApp.instance()\nprint(app.transport, app.ip)"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "probe.ipynb")
    papermill.execute_notebook(str(tmp_path / "probe.ipynb"), str(tmp_path / "ran.ipynb"), cwd=str(tmp_path),
                               kernel_name="python3", progress_bar=False,
                               kernel_manager_class=AsyncUnixSocketKernelManager)
    transport, prefix = nbformat.read(tmp_path / "ran.ipynb", as_version=4).cells[0].outputs[0]["text"].split()
    assert transport == "ipc" and os.path.isabs(prefix)
    assert not [name for name in os.listdir(tempfile.gettempdir()) if name.startswith(os.path.basename(prefix))]


def test_every_kernel_a_test_starts_uses_unix_sockets():
    """A papermill or nbclient run written without the manager class would bring the TCP race back."""
    missing = []
    for path in sorted(Path(__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                if name in {"execute_notebook", "NotebookClient"} and \
                        not any(k.arg == "kernel_manager_class" for k in node.keywords):
                    missing.append(f"{path.name}:{node.lineno}")
    assert not missing, f"pass kernel_manager_class=AsyncUnixSocketKernelManager at {missing}"
