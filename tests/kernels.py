"""Kernels that talk to their test over Unix sockets instead of TCP ports.

jupyter_client picks five free TCP ports, closes them, and hands their numbers to the kernel it starts; on a machine
where two test workers start kernels and open connections at once, another process can take one of those ports in
between, and the kernel dies with "Address already in use" (CI, 2026-12-01: stand-in run 13-online, "Kernel didn't
respond in 60 seconds"). Over Unix sockets (ZeroMQ's ``ipc`` transport) each kernel gets files with a name of its
own: nothing to race for. Only the transport changes; the kernel and the notebook are the same.
"""

from __future__ import annotations

import os
import tempfile
import uuid

import nbval.kernel
from jupyter_client.connect import ConnectionFileMixin
from jupyter_client.manager import AsyncKernelManager, KernelManager
from traitlets import default

UNIX = os.name == "posix"


class _UnixSockets(ConnectionFileMixin):
    """``transport="ipc"`` with socket files under the temporary folder, named by a fresh uuid (not the cwd's)."""

    @default("transport")
    def _unix_transport(self) -> str:
        return "ipc" if UNIX else "tcp"

    @default("ip")
    def _unix_socket_prefix(self) -> str:
        if self.transport != "ipc":
            return super()._ip_default()
        # short: a Unix socket's path must stay under 108 bytes
        return os.path.join(tempfile.gettempdir(), f"kernel-{uuid.uuid4().hex[:16]}")


class AsyncUnixSocketKernelManager(_UnixSockets, AsyncKernelManager):
    """For papermill: ``papermill.execute_notebook(..., kernel_manager_class=AsyncUnixSocketKernelManager)``."""


class UnixSocketKernelManager(_UnixSockets, KernelManager):
    """For nbval, which starts its kernels with ``nbval.kernel.KernelManager``."""


def pytest_configure(config) -> None:
    """As a pytest plugin (``-p kernels``): nbval's kernels over Unix sockets too."""
    nbval.kernel.KernelManager = UnixSocketKernelManager
