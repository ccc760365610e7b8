"""Small helpers around `transformers.Trainer`: log histories as tables and plots, probabilities, metrics."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


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
