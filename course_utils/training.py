"""Small helpers around `transformers.Trainer`: log histories as tables and plots, probabilities, metrics, and
TrainingArguments keywords renamed for the installed transformers (`compatible_args`)."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from .errors import CourseError, problem

# TrainingArguments keywords the course writes with today's names -> (the transformers release that introduced the
# name, what earlier releases call it). Colab's image and Kaggle's can be several releases behind the newest.
RENAMED_ARGUMENTS = {
    "activation_checkpointing": ("5.23", "gradient_checkpointing"),
    "activation_checkpointing_kwargs": ("5.23", "gradient_checkpointing_kwargs"),
    "train_sampling_strategy": ("5.2", "group_by_length"),
}


def softmax(logits: Any) -> np.ndarray:
    """Row-wise softmax of a logits array (numerically stable)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


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
        elif value == "group_by_length":
            out[old] = True
        elif value != "random":  # "random" is the only sampling older releases have: their default
            import importlib.metadata

            raise CourseError(problem(
                f"train_sampling_strategy={value!r}", f"'random' or 'group_by_length' before transformers {since}",
                f"transformers {importlib.metadata.version('transformers')}, which only knows group_by_length=True",
                "use 'group_by_length' (or leave the argument out for random order) on this version"))
    return out
