"""Small helpers around `transformers.Trainer`: log histories as tables and plots, probabilities, metrics,
TrainingArguments keywords renamed for the installed transformers (`compatible_args`), and training that survives
an out-of-memory error without changing the effective batch (`train_with_oom_fallback`)."""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .errors import CourseError, problem, raise_if_any

# TrainingArguments keywords the course writes with today's names -> (the transformers release that introduced the
# name, what earlier releases call it). Colab's image and Kaggle's can be several releases behind the newest.
RENAMED_ARGUMENTS = {
    "activation_checkpointing": ("5.23", "gradient_checkpointing"),
    "activation_checkpointing_kwargs": ("5.23", "gradient_checkpointing_kwargs"),
    "train_sampling_strategy": ("5.2", "group_by_length"),
}


def softmax(logits: Any) -> np.ndarray:
    """Probabilities from logits: ``scipy.special.softmax`` over the last axis, in float64.

    A name for what notebooks do after ``trainer.predict``; float64 because half-precision logits from a GPU run
    would otherwise give rows that sum to 1 only roughly (and calibration checks that they do).

    >>> softmax([[0.0, 0.0]]).tolist()
    [[0.5, 0.5]]
    """
    from scipy.special import softmax as scipy_softmax

    return scipy_softmax(np.asarray(logits, dtype=np.float64), axis=-1)


def history_frame(log_history: Sequence[dict]):
    """Trainer's ``state.log_history`` as a DataFrame, one row per logged step (training and evaluation merged)."""
    import pandas as pd

    rows = [r for r in log_history if "step" in r and not any(k.startswith("train_") for k in r)]
    if not rows:
        return pd.DataFrame(columns=["step", "epoch"])
    frame = pd.DataFrame(rows)
    return frame.groupby("step", as_index=False).first()


def plot_history(log_history: Sequence[dict], metric: str | None = "eval_accuracy", title: str | None = None,
                 ax=None):
    """Plot training loss, validation loss and (on a second axis) a validation metric against the step."""
    import matplotlib.pyplot as plt

    frame = history_frame(log_history)
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    for column, style, label in (("loss", "-", "training loss"), ("eval_loss", "o-", "validation loss")):
        if column in frame:
            part = frame.dropna(subset=[column])
            ax.plot(part["step"], part[column], style, label=label)
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    if metric and metric in frame:
        part = frame.dropna(subset=[metric])
        right = ax.twinx()
        right.plot(part["step"], part[metric], "s--", color="tab:green", label=metric.replace("_", " "))
        right.set_ylabel(metric.replace("eval_", "validation "))
        right.legend(loc="upper right")
    ax.legend(loc="upper left")
    ax.set_title(title or "Training curves")
    return ax


def classification_scores(logits: Any, labels: Sequence[int]) -> dict[str, float]:
    """Accuracy, macro and weighted F1 and log loss from logits, via course_utils.metrics."""
    from . import metrics

    probs = softmax(logits)
    preds = probs.argmax(axis=-1)
    return {
        "accuracy": metrics.load("accuracy").compute(predictions=preds, references=labels)["accuracy"],
        "f1_macro": metrics.load("f1").compute(predictions=preds, references=labels, average="macro")["f1"],
        "f1_weighted": metrics.load("f1").compute(predictions=preds, references=labels, average="weighted")["f1"],
        "log_loss": metrics.load("log_loss").compute(predictions=probs, references=labels)["log_loss"],
    }


def argument_names() -> set[str]:
    """Every keyword ``transformers.TrainingArguments`` accepts in the installed transformers."""
    import dataclasses

    import transformers

    return {f.name for f in dataclasses.fields(transformers.TrainingArguments) if f.init}


def compatible_args(accepted: Iterable[str] | None = None, **kwargs: Any) -> dict[str, Any]:
    """TrainingArguments keywords written with today's names, renamed for the installed transformers.

    The course teaches the newest names; older releases (Colab's and Kaggle's images lag behind) know the same options
    under their old names: ``activation_checkpointing`` was ``gradient_checkpointing`` before transformers 5.23, and
    ``train_sampling_strategy="group_by_length"`` was ``group_by_length=True`` before 5.2. Keywords the installed
    version accepts pass through unchanged, so on a new transformers this returns ``kwargs`` as given.
    ``accepted`` is the set of keywords to target (default: the installed transformers', `argument_names()`).

    >>> compatible_args({"gradient_checkpointing", "group_by_length"}, activation_checkpointing=True,
    ...                 train_sampling_strategy="group_by_length", learning_rate=1e-4)
    {'gradient_checkpointing': True, 'group_by_length': True, 'learning_rate': 0.0001}
    >>> compatible_args({"activation_checkpointing"}, activation_checkpointing=True)
    {'activation_checkpointing': True}
    >>> compatible_args({"group_by_length"}, train_sampling_strategy="random")  # the old default, said explicitly
    {'group_by_length': False}
    """
    accepted = set(argument_names() if accepted is None else accepted)
    out: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name in accepted or name not in RENAMED_ARGUMENTS or RENAMED_ARGUMENTS[name][1] not in accepted:
            out[name] = value  # current name known (or nothing to rename to): TrainingArguments judges it
            continue
        since, old = RENAMED_ARGUMENTS[name]
        if name != "train_sampling_strategy":
            out[old] = value
        elif value in ("group_by_length", "random"):  # "random" is the old default: group_by_length=False
            out[old] = value == "group_by_length"
        else:
            import importlib.metadata

            raise CourseError(problem(
                f"train_sampling_strategy={value!r}", f"'random' or 'group_by_length' before transformers {since}",
                f"transformers {importlib.metadata.version('transformers')}, which only knows group_by_length=True",
                "use 'group_by_length' (or leave the argument out for random order) on this version"))
    return out


# Four hand-made examples for checking a student's compute_metrics: 3 of 4 right, the miss in class 1, so the
# per-class F1 are 0.8 and 0.667 (macro 0.733) while micro F1 and accuracy are 0.75.
PROBE_LOGITS = np.array([[2.0, 0.1], [0.3, 1.0], [1.5, 0.2], [0.9, 0.1]])
PROBE_LABELS = np.array([0, 1, 1, 0])
PROBE_SCORES = {"accuracy": 0.75, "balanced_accuracy": 0.75, "f1_macro": (0.8 + 2 / 3) / 2}


def compute_metrics_problems(compute_metrics: Callable, expects: Sequence[str] = ("accuracy",)) -> list[str]:
    """Call a student's ``compute_metrics`` on the four probe examples; what it gets wrong, in plain words.

    ``expects``: the keys it must return (from ``PROBE_SCORES``). An empty list: every one is right.
    """
    from transformers import EvalPrediction

    try:
        got = compute_metrics(EvalPrediction(predictions=PROBE_LOGITS, label_ids=PROBE_LABELS))
    except NotImplementedError:  # an exercise stub not written yet: its own message says what to write
        raise
    except Exception as err:  # the student's code: any other error is reported, not raised
        return [f"compute_metrics failed on 4 examples ({type(err).__name__}: {err})"]
    if not isinstance(got, dict):
        return [f"compute_metrics returned a {type(got).__name__}: return a dict such as {{'accuracy': 0.75}}"]
    return [f"{name}: expected {PROBE_SCORES[name]:.3f} on 4 examples with 3 right (per-class F1 0.8 and 0.667), "
            f"got {got.get(name)!r}" for name in expects
            if not (isinstance(got.get(name), numbers.Real) and np.isclose(got[name], PROBE_SCORES[name]))]


def training_step_problems(step: Callable, max_grad_norm: float) -> list[str]:
    """Try notebook 12's ``training_step(model, batch, optimizer, scheduler, scaler)`` once on a two-weight probe.

    The probe's loss ``sum((w - x)**2)`` at ``w = 0``, ``x = (100, 0)`` has a gradient of norm 200, far above any
    ``max_grad_norm``; plain SGD at learning rate 1 then moves the weights by exactly the clipped gradient. Returns
    what the step left out, in plain words (an empty list: it clips, steps, advances the schedule, clears the
    gradients and returns the loss).
    """
    import types

    import torch

    class Probe(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(2))

        def forward(self, x: Any) -> Any:
            return types.SimpleNamespace(loss=((self.weight - x) ** 2).sum())

    model = Probe()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    scaler = torch.amp.GradScaler("cpu", enabled=False)  # a no-op scaler: the probe checks the order of the calls
    loss = step(model, {"x": torch.tensor([100.0, 0.0])}, optimizer, scheduler, scaler)
    problems, moved = [], float(model.weight.detach().norm())
    if moved == 0:
        problems.append("the weights did not change: call scaler.step(optimizer), which calls optimizer.step()")
    elif moved > max_grad_norm * 1.001:
        problems.append(f"one step moved the weights by {moved:.1f} with max_grad_norm {max_grad_norm}: unscale "
                        "(scaler.unscale_(optimizer)) and clip (torch.nn.utils.clip_grad_norm_) before the step")
    if scheduler.last_epoch != 1:
        problems.append("the learning-rate schedule did not move: call scheduler.step() once per update")
    if model.weight.grad is not None and bool(model.weight.grad.any()):
        problems.append("gradients are left over and would add to the next batch's: end with optimizer.zero_grad()")
    if not (isinstance(loss, torch.Tensor) and loss.numel() == 1):
        problems.append(f"training_step returned {type(loss).__name__}: return the batch's loss (a tensor)")
    return problems

# ---------------------------------------------------------------- out of memory: halve the batch, same effective batch


# What Transformers' own errors say when a set-up uses a name v5 removed or mismatched strategies -> plain advice
_RENAMED = [("evaluation_strategy", "eval_strategy"), ("tokenizer", "processing_class"), ("warmup_ratio", "warmup_steps")]
SETUP_HINTS = {f"'{old}'": f"`{old}=` was removed in Transformers v5: write `{new}=` instead" for old, new in _RENAMED}
SETUP_HINTS["strategy to match"] = ("load_best_model_at_end needs save_strategy equal to eval_strategy: save when you "
                                    "evaluate")
SETUP_HINTS["round multiple"] = "save_steps must be a multiple of eval_steps: save when you evaluate"


def _strategy(value: Any) -> str:
    return getattr(value, "value", value)  # an IntervalStrategy enum -> "no", "steps" or "epoch"


def trainer_setup_problems(trainer: Any, *, learning_rate: float, batch_size: int, epochs: float, output_dir: str,
                           error: BaseException | None = None) -> list[str]:
    """Everything in a ``Trainer`` set-up that does not match notebook 03's task, each in plain words.

    ``trainer`` is None when the student's cell stopped on ``error`` (IPython keeps it in ``sys.last_value``); the
    error is then explained: a name Transformers v5 removed, or strategies that do not match.

    >>> trainer_setup_problems(None, learning_rate=5e-5, batch_size=8, epochs=1, output_dir="c",
    ...                        error=TypeError("__init__() got an unexpected keyword argument 'tokenizer'"))
    ['`tokenizer=` was removed in Transformers v5: write `processing_class=` instead']
    """
    from pathlib import Path

    if trainer is None:
        text = str(error or "see the error above")
        return [hint for fragment, hint in SETUP_HINTS.items() if fragment in text] or [
            f"your set-up cell stopped with an error ({text}): fix it first"]
    args, problems = trainer.args, []
    ev, sv = _strategy(args.eval_strategy), _strategy(args.save_strategy)
    if ev not in ("steps", "epoch"):
        problems.append(f"eval_strategy is {ev!r}: the validation set is never scored, so there is no best "
                        "checkpoint to load at the end; evaluate every eval_steps steps ('steps') or every 'epoch'")
    if sv != ev:
        problems.append(f"save_strategy {sv!r} differs from eval_strategy {ev!r}: save when you evaluate")
    if not args.load_best_model_at_end:
        problems.append("load_best_model_at_end is off: you would test the last checkpoint, not the best one")
    if args.metric_for_best_model not in ("accuracy", "eval_accuracy"):
        problems.append(f"metric_for_best_model is {args.metric_for_best_model!r}: choose by validation 'accuracy'")
    for name, wanted in [("learning_rate", learning_rate), ("per_device_train_batch_size", batch_size),
                         ("num_train_epochs", epochs)]:
        if getattr(args, name) != wanted:
            problems.append(f"{name} is {getattr(args, name)}, the profile says {wanted}")
    if trainer.processing_class is None:
        problems.append("the Trainer has no tokenizer: pass processing_class=tokenizer (v5's tokenizer=)")
    if Path(args.output_dir) != Path(output_dir):
        problems.append(f"output_dir is {args.output_dir!r}: use `checkpoints`, so a re-run can resume")
    if trainer.eval_dataset is None or trainer.compute_metrics is None:
        problems.append("the Trainer needs eval_dataset and compute_metrics to score the validation set")
    return problems


def is_out_of_memory(err: BaseException) -> bool:
    """True for an out-of-memory error on a GPU (CUDA, MPS, XPU) or in the CPU allocator.

    accelerate's ``should_reduce_batch_size`` knows the allocators' messages; on top of it this accepts torch's own
    ``OutOfMemoryError`` whatever its text, Python's ``MemoryError``, and any ``RuntimeError`` that says "out of
    memory" (accelerate 1.3, the course's floor, misses MPS's message and CUDA's kernel-side "CUDA error: out of
    memory").

    >>> is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    True
    >>> is_out_of_memory(ValueError("shapes do not match"))
    False
    """
    import torch
    from accelerate.utils.memory import should_reduce_batch_size

    oom_type = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)  # torch.OutOfMemoryError: torch 2.5+
    if isinstance(err, (oom_type, MemoryError)) or should_reduce_batch_size(err):
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


def effective_batch(args: Any) -> int:
    """Examples per optimizer step on one device: per-device batch x gradient accumulation steps."""
    return args.per_device_train_batch_size * args.gradient_accumulation_steps


def _whole(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_batch_settings(args: Any, min_batch_size: int) -> None:
    given = {"per_device_train_batch_size": args.per_device_train_batch_size,
             "gradient_accumulation_steps": args.gradient_accumulation_steps, "min_batch_size": min_batch_size}
    not_whole = {k: v for k, v in given.items() if not _whole(v)}
    problems = [problem("Batch settings", "whole numbers", ", ".join(f"{k}={v!r}" for k, v in not_whole.items()),
                        "pass numbers without quotes, e.g. per_device_train_batch_size=32")] if not_whole else []
    small = {k: v for k, v in given.items() if k not in not_whole and v < 1}
    if small:
        problems.append(problem("Batch settings", "1 or more", ", ".join(f"{k}={v}" for k, v in small.items()),
                                "start from the batch you would like, e.g. per_device_train_batch_size=32 with "
                                "gradient_accumulation_steps=1"))
    elif not not_whole and given["per_device_train_batch_size"] < min_batch_size:
        problems.append(problem("Batch settings", f"per_device_train_batch_size >= min_batch_size ({min_batch_size})",
                                f"per_device_train_batch_size={given['per_device_train_batch_size']}",
                                "start from the batch you would like, e.g. 32, or lower min_batch_size"))
    raise_if_any(problems)


def halve_batch(args: Any) -> Any:
    """A copy of TrainingArguments with half the per-device batch and twice the gradient accumulation steps.

    The effective batch (batch x accumulation) stays the same when the batch is even, so a tuned learning rate
    stays valid.
    """
    batch = args.per_device_train_batch_size
    if not _whole(batch):
        raise CourseError(problem(
            "per_device_train_batch_size", "a whole number", f"{type(batch).__name__} {batch!r}",
            "pass a number without quotes: TrainingArguments(..., per_device_train_batch_size=16)"))
    if batch <= 1:
        raise CourseError(problem(
            "Out-of-memory fallback", "a per-device batch size above 1 to halve", f"batch size {batch}",
            "shorten max_length, use a smaller model, turn on activation checkpointing or mixed precision"))
    return dataclasses.replace(args, per_device_train_batch_size=batch // 2,
                               gradient_accumulation_steps=args.gradient_accumulation_steps * 2)


def _retry_message(args: Any, smaller: Any) -> str:
    before, after = effective_batch(args), effective_batch(smaller)
    same = f"same effective batch {after}" if after == before else \
        f"effective batch {before} -> {after}: an odd batch cannot be halved exactly"
    return (f"Out of memory at per-device batch {args.per_device_train_batch_size}: retrying with batch "
            f"{smaller.per_device_train_batch_size} x {smaller.gradient_accumulation_steps} accumulation steps "
            f"({same}).")


def train_with_oom_fallback(build_trainer: Callable[[Any], Any], args: Any, min_batch_size: int = 1,
                            log: Callable[[str], None] = print) -> tuple[Any, Any]:
    """Build a Trainer from ``args`` and train it; on out-of-memory, halve the batch, double accumulation, retry.

    ``build_trainer(args)`` must return a fresh Trainer with a fresh model, so a failed try leaves nothing behind.
    Returns ``(trainer, args_used)``. Errors other than out-of-memory are raised unchanged; out of memory at a
    per-device batch that cannot be halved without going below ``min_batch_size`` ends in a CourseError.

    Unlike ``TrainingArguments(auto_find_batch_size=True)`` (accelerate's ``find_executable_batch_size``), which
    shrinks the batch alone, this keeps the examples per optimizer step and with them the tuned learning rate.
    """
    from accelerate.utils.memory import clear_device_cache

    _check_batch_settings(args, min_batch_size)
    while True:
        trainer = build_trainer(args)
        try:
            trainer.train()
            return trainer, args
        except Exception as err:  # noqa: BLE001 - only out-of-memory is handled; the rest is re-raised
            if not is_out_of_memory(err):
                raise
            if args.per_device_train_batch_size // 2 < min_batch_size:
                raise CourseError(problem(
                    "Training", f"a run that fits in memory at a per-device batch of {min_batch_size} or more",
                    f"out of memory at per-device batch {args.per_device_train_batch_size} "
                    f"(x {args.gradient_accumulation_steps} accumulation steps)",
                    "shorten max_length, use a smaller model, turn on activation checkpointing or mixed precision",
                )) from err
            smaller = halve_batch(args)
        # Freed here, after the except block: until it ends, the error's traceback still holds the failed model.
        del trainer
        clear_device_cache(garbage_collection=True)
        log(_retry_message(args, smaller))
        args = smaller
