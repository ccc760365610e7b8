"""Data-parallel training from a notebook: the batch arithmetic, and the checks to run before launching processes.

Several processes (one per GPU) each hold a copy of the model, take their own slice of every batch, and average
their gradients before each optimizer step. What a notebook must get right is small and easy to get wrong:

- the global batch, the examples behind one optimizer step, is ``per_device x processes x accumulation``
  (``plan_batches`` splits a global batch you chose into the other two numbers);
- ``accelerate.notebook_launcher`` *forks* the notebook's process, and a CUDA context does not survive a fork, so
  nothing may touch the GPU before the launch (``check_launch`` says so before the launch fails).

Only the standard library at import time: torch and accelerate are looked up in ``sys.modules``, never imported.
"""

from __future__ import annotations

import numbers
import socket
import sys
from typing import NamedTuple

from .errors import CourseError, problem, raise_if_any

RESTART = ("restart the kernel (Colab: Runtime > Restart session; Kaggle: Run > Restart & clear cell outputs), then "
           "run the cells from the top, leaving out any cell that uses the GPU: all GPU work belongs inside the "
           "training function")


class BatchPlan(NamedTuple):
    """How each process covers its share of a global batch."""

    per_device: int  # examples one process puts through the model in one forward pass
    accumulation: int  # forward/backward passes a process adds up before the optimizer steps


def _whole(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def plan_batches(global_batch: int, processes: int, per_device_max: int) -> BatchPlan:
    """Split ``global_batch`` into ``per_device x processes x accumulation`` with the fewest accumulation steps.

    ``per_device_max`` is the largest batch one device holds in memory. Each process takes
    ``global_batch / processes`` examples per optimizer step, in as few forward passes as fit.

    >>> plan_batches(32, processes=2, per_device_max=16)
    BatchPlan(per_device=16, accumulation=1)
    >>> plan_batches(32, processes=1, per_device_max=16)
    BatchPlan(per_device=16, accumulation=2)
    >>> plan_batches(24, processes=2, per_device_max=5)  # 12 per process: 4 x 3 (5 does not divide 12)
    BatchPlan(per_device=4, accumulation=3)
    """
    given = {"global_batch": global_batch, "processes": processes, "per_device_max": per_device_max}
    bad = [f"{name}={value!r}" for name, value in given.items() if not _whole(value)]
    if bad:
        raise CourseError(problem("Batch plan", "whole numbers of at least 1", ", ".join(bad),
                                  "pass numbers without quotes, e.g. plan_batches(32, processes=2, per_device_max=16)"))
    if global_batch % processes:
        lower, upper = global_batch // processes * processes, (global_batch // processes + 1) * processes
        nearest = f"{lower} or {upper}" if lower else f"{upper}"
        raise CourseError(problem(
            f"Global batch {global_batch} over {processes} processes",
            "a global batch that is a multiple of the number of processes (every process takes an equal share)",
            f"{global_batch} = {global_batch // processes} x {processes} + {global_batch % processes}",
            f"choose a global batch of {nearest}"))
    share = global_batch // processes
    accumulation = next(a for a in range(1, share + 1) if share % a == 0 and share // a <= per_device_max)
    return BatchPlan(per_device=share // accumulation, accumulation=accumulation)


def cuda_initialised_before_launch() -> bool:
    """True when this process has already set up CUDA, so processes forked from it cannot use the GPU.

    Anything that runs on or asks the GPU sets it up: ``.to("cuda")``, ``.cuda()``, a tensor made on the GPU,
    ``torch.cuda.get_device_capability()`` or ``torch.cuda.memory_allocated()``. Counting the GPUs with
    ``torch.cuda.device_count()`` does not. Looks torch up without importing it.
    """
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


def accelerator_created_before_launch() -> bool:
    """True when an ``Accelerator`` (or accelerate's shared state) already exists in this process."""
    state = sys.modules.get("accelerate.state")
    return bool(state is not None and (state.AcceleratorState._shared_state or state.PartialState._shared_state))


def launch_problems(num_processes: int, gpus: int | None = None) -> list[str]:
    """Every reason ``notebook_launcher(..., num_processes=num_processes)`` would fail here (empty: ready).

    ``gpus`` is the number of visible GPUs (``torch.cuda.device_count()``, which does not set up CUDA); None skips
    that check. One process needs none of the checks: the launcher then calls the function in this process.
    """
    if not _whole(num_processes):
        return [problem("num_processes", "a whole number of at least 1", repr(num_processes),
                        "pass num_processes=2 for two GPUs (or 1)")]
    if num_processes == 1:
        return []
    found = []
    if cuda_initialised_before_launch():
        found.append(problem(
            f"Launching {num_processes} processes", "a notebook that has not used the GPU yet (the launcher forks "
            "this process, and a CUDA context cannot be copied into a fork)",
            "CUDA already initialised: an earlier cell ran something on the GPU (.to('cuda'), .cuda(), "
            "torch.cuda.get_device_capability(), a model or pipeline on device 0, ...)", RESTART))
    if accelerator_created_before_launch():
        found.append(problem(
            f"Launching {num_processes} processes", "no Accelerator outside the training function",
            "accelerate's state already set up in the notebook (an Accelerator() was created in a cell, or a "
            "one-process run was launched in this kernel)", RESTART))
    if gpus and num_processes > gpus:
        found.append(problem(f"Launching {num_processes} processes", f"at most one process per GPU ({gpus} visible)",
                             f"num_processes={num_processes}", f"pass num_processes={gpus}"))
    return found


def check_launch(num_processes: int, gpus: int | None = None) -> None:
    """Raise one CourseError listing every problem ``launch_problems`` finds; print a ready line when none."""
    raise_if_any(launch_problems(num_processes, gpus))
    where = f"{gpus} visible GPU(s)" if gpus else "the CPU"
    print(f"Ready to launch {num_processes} process(es) on {where}: CUDA not initialised in this notebook, "
          "no Accelerator created outside the training function.")


def free_port() -> str:
    """A TCP port nobody listens on now, for the processes to meet at (two launches at once need two ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])
