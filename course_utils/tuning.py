"""Hyper-parameter tuning helpers: survive an out-of-memory error by trading batch size for accumulation steps.

The classic advice "reduce the batch size to 8 if you run out of memory" changes the effective batch size, and with it
the learning rate you just tuned. ``train_with_oom_fallback`` halves ``per_device_train_batch_size`` and doubles
``gradient_accumulation_steps`` instead, so each optimizer step still sees the same number of examples.
"""

from __future__ import annotations

import dataclasses
import gc
import numbers
from typing import Any, Callable

from .errors import CourseError, problem

OOM_MARKERS = ("out of memory", "cuda error: out of memory", "mps backend out of memory")


def is_out_of_memory(err: BaseException) -> bool:
    """True for a GPU (or CPU allocator) out-of-memory error, whatever the PyTorch version calls it.

    >>> is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    True
    >>> is_out_of_memory(ValueError("shapes do not match"))
    False
    """
    try:
        import torch

        if isinstance(err, getattr(torch, "OutOfMemoryError", ())):
            return True
    except ImportError:  # pragma: no cover - torch is a course dependency
        pass
    return isinstance(err, (RuntimeError, MemoryError)) and (
        isinstance(err, MemoryError) or any(m in str(err).lower() for m in OOM_MARKERS))


def halve_batch(args: Any) -> Any:
    """A copy of TrainingArguments with half the per-device batch and twice the accumulation steps.

    The effective batch (batch x accumulation) stays the same, so tuned learning rates stay valid.
    """
    batch = args.per_device_train_batch_size
    if not isinstance(batch, numbers.Integral) or isinstance(batch, bool):
        raise CourseError(problem(
            "per_device_train_batch_size", "a whole number", f"{type(batch).__name__} {batch!r}",
            "pass a number without quotes: TrainingArguments(..., per_device_train_batch_size=16)",
        ))
    if batch <= 1:
        raise CourseError(problem(
            "Out-of-memory fallback", "a per-device batch size above 1 to halve", f"batch size {batch}",
            "shorten max_length, use a smaller model, enable gradient_checkpointing=True or mixed precision",
        ))
    return dataclasses.replace(args, per_device_train_batch_size=batch // 2,
                               gradient_accumulation_steps=args.gradient_accumulation_steps * 2)


def _free_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


def train_with_oom_fallback(build_trainer: Callable[[Any], Any], args: Any, max_halvings: int = 3,
                            log: Callable[[str], None] = print) -> tuple[Any, Any]:
    """Build a Trainer from ``args`` and train it; on out-of-memory, halve the batch and try again.

    ``build_trainer(args)`` must return a fresh Trainer (a fresh model too, so a half-finished run leaves nothing
    behind). Returns ``(trainer, args_used)``. Errors other than out-of-memory are raised unchanged.
    """
    if not isinstance(max_halvings, numbers.Integral) or isinstance(max_halvings, bool) or max_halvings < 0:
        raise CourseError(problem("max_halvings", "0 or more", repr(max_halvings),
                                  "pass max_halvings=3"))
    for attempt in range(max_halvings + 1):
        trainer = build_trainer(args)
        try:
            trainer.train()
            return trainer, args
        except Exception as err:  # noqa: BLE001 - only out-of-memory is handled; the rest is re-raised
            if not is_out_of_memory(err):
                raise
            del trainer
            _free_memory()
            if attempt == max_halvings:
                raise CourseError(problem(
                    "Training", f"a run that fits in memory within {max_halvings} halvings of the batch",
                    f"out of memory at per-device batch {args.per_device_train_batch_size}",
                    "shorten max_length, use a smaller model, or enable gradient_checkpointing=True",
                )) from err
            smaller = halve_batch(args)
            log(f"Out of memory at per-device batch {args.per_device_train_batch_size}: retrying with batch "
                f"{smaller.per_device_train_batch_size} x {smaller.gradient_accumulation_steps} accumulation steps "
                f"(same effective batch {effective_batch(smaller)}).")
            args = smaller
    raise AssertionError("unreachable")  # pragma: no cover


def effective_batch(args: Any) -> int:
    """Examples per optimizer step on one device: per-device batch x gradient accumulation steps."""
    return args.per_device_train_batch_size * args.gradient_accumulation_steps
