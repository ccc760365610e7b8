"""Read a training run like a doctor: a verdict from the log history, the numbers behind it, and what to try.

``diagnose(trainer.state.log_history)`` answers one of ``VERDICTS``. The rules are simple on purpose, so a
student can check every one of them by hand against the evidence it prints:

- **diverging**: a loss that is NaN/inf, a training loss that ends more than 20% higher than it started, or that
  spikes far above its starting value (log every step, ``logging_steps=1``, to see the first loss untouched);
- **too few steps to tell**: fewer than ``min_points`` logged training losses (log more often, or train longer);
- **underfitting**: the training loss barely fell (less than ``underfit_drop`` of its first value);
- **overfitting**: the validation loss rose well above its best while the training loss kept falling;
- **healthy**: none of the above.

"Start" is the first logged training loss (before training has changed much); "end" is the mean of the last
quarter of the logged losses, which smooths the noise of single batches.

The module also holds a label sanity check (``cue_agreement``) and the memory arithmetic that notebook 07 teaches
(the out-of-memory fallback it then uses is ``course_utils.training.train_with_oom_fallback``).
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from .errors import CourseError, problem

VERDICTS = ("diverging", "too few steps to tell", "underfitting", "overfitting", "healthy")
# The overfitting rule also wants the validation loss 0.02 above its best in absolute terms: on a few dozen
# validation sentences a relative rise alone fires on noise.
OVERFIT_MIN_ABS_RISE = 0.02


@dataclass
class Diagnosis:
    """What ``diagnose`` found: one verdict, the numbers it rests on, and suggestions."""

    verdict: str  # one of VERDICTS
    evidence: dict[str, float | int | None]  # the numbers behind the verdict, by name
    reasons: list[str] = field(default_factory=list)  # the rule that fired, in words with the numbers
    suggestions: list[str] = field(default_factory=list)  # what to try next

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (for results.json)."""
        return asdict(self)

    def __str__(self) -> str:
        lines = [f"Verdict: {self.verdict}"]
        lines += [f"  because {r}" for r in self.reasons]
        lines += ["  evidence: " + ", ".join(f"{k}={_fmt(v)}" for k, v in self.evidence.items())]
        lines += [f"  try: {s}" for s in self.suggestions]
        return "\n".join(lines)


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _series(log_history: Sequence[dict], key: str) -> list[tuple[int, float]]:
    """(step, value) pairs of one logged quantity, in step order."""
    return sorted((int(r["step"]), float(r[key])) for r in log_history if key in r and "step" in r)


def _check_history(log_history: Any) -> None:
    if not isinstance(log_history, (list, tuple)) or not all(isinstance(r, dict) for r in log_history):
        raise CourseError(problem(
            "log_history", "a list of dicts such as trainer.state.log_history", type(log_history).__name__,
            "pass trainer.state.log_history (not the Trainer, nor train()'s output)",
        ))
    if log_history and not any("loss" in r or "eval_loss" in r for r in log_history):
        raise CourseError(problem(
            "log_history", "entries with 'loss' or 'eval_loss'", f"keys {sorted({k for r in log_history for k in r})}",
            "set logging_steps (and eval_strategy) in TrainingArguments so the Trainer logs losses",
        ))


def _window_mean(values: list[float], share: float = 0.25) -> float:
    """Mean of the last quarter of the values (at least one): smooths the noise of single logged losses."""
    k = max(1, round(len(values) * share))
    return sum(values[-k:]) / k


def _evidence(train: list[tuple[int, float]], evals: list[tuple[int, float]], metric: list[tuple[int, float]],
              grad: list[tuple[int, float]]) -> dict[str, float | int | None]:
    losses = [v for _, v in train]
    finite = [v for v in losses if math.isfinite(v)]
    ev: dict[str, float | int | None] = {"train_logs": len(losses), "eval_logs": len(evals),
                                         "last_step": max([s for s, _ in train + evals], default=0)}
    if finite:
        ev.update(train_loss_start=round(finite[0], 4), train_loss_end=round(_window_mean(finite), 4),
                  train_loss_max=round(max(finite), 4))
    if evals:
        best_step, best = min(evals, key=lambda sv: sv[1])
        ev.update(eval_loss_best=round(best, 4), eval_loss_best_step=best_step, eval_loss_last=round(evals[-1][1], 4))
    if metric:
        ev.update(metric_best=round(max(v for _, v in metric), 4), metric_last=round(metric[-1][1], 4))
    if grad:
        ev["grad_norm_max"] = round(max(v for _, v in grad), 4) if all(math.isfinite(v) for _, v in grad) else None
    return ev


def diagnose(log_history: Sequence[dict], *, metric: str = "eval_accuracy", n_classes: int | None = None,
             min_points: int = 3, underfit_drop: float = 0.10, overfit_rise: float = 0.10,
             diverge_rise: float = 0.20, spike_factor: float = 2.0, train_size: int | None = None) -> Diagnosis:
    """Diagnose a run from ``trainer.state.log_history``.

    ``n_classes`` (optional) adds chance-level numbers to the evidence; ``train_size`` (optional) tailors the
    advice. The thresholds are relative: ``underfit_drop=0.10`` means "the training loss fell by less than 10%",
    ``overfit_rise=0.10`` "the validation loss ended more than 10% above its best", ``diverge_rise=0.20`` "the
    training loss ended more than 20% above its start" (one batch's loss is noisy, hence the margin),
    ``spike_factor=2.0`` "a training loss more than twice its starting value".
    """
    _check_history(log_history)
    if train_size is not None and (not isinstance(train_size, numbers.Integral) or isinstance(train_size, bool)):
        raise CourseError(problem("diagnose train_size", "None or the number of training examples",
                                  f"{type(train_size).__name__} {train_size!r}",
                                  "pass a number without quotes, e.g. train_size=len(train_ds)"))
    train, evals = _series(log_history, "loss"), _series(log_history, "eval_loss")
    ev = _evidence(train, evals, _series(log_history, metric), _series(log_history, "grad_norm"))
    if n_classes:
        ev.update(chance_loss=round(math.log(n_classes), 4), chance_metric=round(1 / n_classes, 4))
    for rule in (_nonfinite, _too_few, _rising, _underfit, _overfit):
        found = rule(train, evals, ev, min_points=min_points, underfit_drop=underfit_drop,
                     overfit_rise=overfit_rise, diverge_rise=diverge_rise, spike_factor=spike_factor)
        if found:
            return Diagnosis(found[0], ev, [found[1]], _suggest(found[0], train_size))
    note = "no rule fired: the training loss fell and the validation loss did not rise past its best"
    if not evals:
        note += " (no evaluation was logged, so overfitting cannot be ruled out)"
    return Diagnosis("healthy", ev, [note], _suggest("healthy", train_size))


def rules() -> list[dict[str, Any]]:
    """``diagnose``'s rules in the order it tries them, with the default thresholds it applies (one row per test).

    The thresholds come from ``diagnose``'s signature and this module's constants, so the table cannot drift from
    the code. The first rule that fires gives the verdict; none firing means "healthy".
    """
    import inspect

    d = {name: p.default for name, p in inspect.signature(diagnose).parameters.items()
         if p.default is not inspect.Parameter.empty}
    rows = [
        ("diverging", "a logged loss or gradient norm is NaN or inf", "-", None),
        ("too few steps to tell", "fewer than min_points training losses were logged", "min_points",
         d["min_points"]),
        ("diverging", "train_loss_end > train_loss_start x (1 + diverge_rise)", "diverge_rise", d["diverge_rise"]),
        ("diverging", "train_loss_max > train_loss_start x spike_factor", "spike_factor", d["spike_factor"]),
        ("underfitting", "(train_loss_start - train_loss_end) / train_loss_start < underfit_drop", "underfit_drop",
         d["underfit_drop"]),
        ("overfitting", "eval_loss_last > eval_loss_best x (1 + overfit_rise), 3+ evaluations, the best not the "
         "last, training loss still falling", "overfit_rise", d["overfit_rise"]),
        ("overfitting", "... and also eval_loss_last - eval_loss_best > OVERFIT_MIN_ABS_RISE",
         "OVERFIT_MIN_ABS_RISE", OVERFIT_MIN_ABS_RISE),
        ("healthy", "no rule above fired", "-", None),
    ]
    return [{"order": i, "verdict": verdict, "fires when": test, "threshold": name, "default": value}
            for i, (verdict, test, name, value) in enumerate(rows, start=1)]


def _nonfinite(train, evals, ev, **_) -> tuple[str, str] | None:
    bad = [s for s, v in train + evals if not math.isfinite(v)]
    if bad or ev.get("grad_norm_max", 0.0) is None:
        where = f"at step {bad[0]}" if bad else "in the gradient norm"
        return "diverging", f"a loss or gradient became NaN/inf ({where})"
    return None


def _too_few(train, evals, ev, *, min_points, **_) -> tuple[str, str] | None:
    if len(train) < min_points:
        return ("too few steps to tell", f"only {len(train)} training loss(es) were logged (need {min_points}); "
                f"the run has {ev['last_step']} step(s)")
    return None


def _rising(train, evals, ev, *, diverge_rise, spike_factor, **_) -> tuple[str, str] | None:
    start, end, peak = ev["train_loss_start"], ev["train_loss_end"], ev["train_loss_max"]
    if end > start * (1 + diverge_rise):
        return "diverging", f"the training loss rose from {start:.4g} to {end:.4g}"
    if peak > start * spike_factor:
        return "diverging", f"the training loss spiked to {peak:.4g}, over {spike_factor:g}x its start {start:.4g}"
    return None


def _underfit(train, evals, ev, *, underfit_drop, **_) -> tuple[str, str] | None:
    start, end = ev["train_loss_start"], ev["train_loss_end"]
    drop = (start - end) / start if start > 0 else 0.0
    ev["train_loss_drop"] = round(drop, 4)
    if drop < underfit_drop:
        return "underfitting", f"the training loss fell only {drop:.1%} ({start:.4g} -> {end:.4g}), less than {underfit_drop:.0%}"
    return None


def _overfit(train, evals, ev, *, overfit_rise, **_) -> tuple[str, str] | None:
    if len(evals) < 3:
        return None
    best, last, best_step = ev["eval_loss_best"], ev["eval_loss_last"], ev["eval_loss_best_step"]
    rise = (last - best) / best if best > 0 else 0.0
    ev["eval_loss_rise"] = round(rise, 4)
    at_best = [v for s, v in train if s <= best_step]
    still_falling = not at_best or ev["train_loss_end"] < at_best[-1]
    if best_step < evals[-1][0] and rise > overfit_rise and last - best > OVERFIT_MIN_ABS_RISE and still_falling:
        return "overfitting", (f"the validation loss rose {rise:.1%} above its best ({best:.4g} at step {best_step} "
                               f"-> {last:.4g}) while the training loss kept falling (to {ev['train_loss_end']:.4g})")
    return None


def _suggest(verdict: str, train_size: int | None) -> list[str]:
    tips = {
        "diverging": ["lower the learning rate 10x (1e-4 to 2e-5 is usual for BERT-size encoders)",
                      "keep warm-up (warmup_steps=0.1) and gradient clipping (max_grad_norm=1.0)",
                      "with fp16, check for overflow: try bf16 or fp32"],
        "too few steps to tell": ["log more often (smaller logging_steps) or train for more steps",
                                  "evaluate at least 3 times (eval_strategy='steps' with a smaller eval_steps)"],
        "underfitting": ["raise the learning rate (BERT: 2e-5 to 1e-4) or train more epochs",
                         "unfreeze the encoder if it is frozen",
                         "if the loss stays at chance level with a sound learning rate, check the data: do the "
                         "labels still match the texts? decode a few inputs and print their labels"],
        "overfitting": ["early stopping (load_best_model_at_end=True + EarlyStoppingCallback)",
                        "regularise: weight_decay=0.01-0.1, more dropout (hidden_dropout_prob)",
                        "fewer epochs or a lower learning rate"],
        "healthy": ["nothing urgent: compare with a baseline, then tune one thing at a time"],
    }[verdict]
    if verdict == "overfitting" and train_size is not None and train_size < 1000:
        tips = [f"more training data: only {train_size} examples (or augment them)"] + tips
    return tips


# ---------------------------------------------------------------- the data: do the labels match the texts?


def cue_agreement(texts: Sequence[str], labels: Sequence[int], cues: dict[int, Sequence[str]]) -> dict[int, dict]:
    """For each label, how often texts that contain one of its cue words really carry that label.

    A label statistic that catches labels shuffled against their texts or a flipped label map: with sound data
    most "great/wonderful" sentences are positive; after a shuffle the share falls to the label's base rate
    (about 0.5 in a balanced binary task), after a flip far below it.

    >>> cue_agreement(["a great film", "great fun", "dull"], [1, 0, 0], {1: ["great"]})
    {1: {'texts_with_cue': 2, 'share_with_label': 0.5, 'base_rate': 0.3333}}
    """
    if len(texts) != len(labels):
        raise CourseError(problem("texts and labels", "one label per text", f"{len(texts)} texts and "
                                  f"{len(labels)} labels", "pass the text and label columns of the same dataset"))
    words = [set(re.findall(r"[a-z']+", t.lower())) for t in texts]
    report = {}
    for label, cue_words in cues.items():
        hits = [y for w, y in zip(words, labels) if w & {c.lower() for c in cue_words}]
        report[label] = {"texts_with_cue": len(hits),
                         "share_with_label": round(sum(y == label for y in hits) / len(hits), 4) if hits else None,
                         "base_rate": round(sum(y == label for y in labels) / max(len(labels), 1), 4)}
    return report


# ---------------------------------------------------------------- memory: estimate before you train

BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


@dataclass(frozen=True)
class MemoryEstimate:
    """Training memory of a BERT-style encoder, in GiB, by what holds it."""

    weights: float  # the model's parameters (fp32 master copy)
    gradients: float  # one gradient per parameter
    optimizer: float  # AdamW keeps two fp32 moments per parameter
    activations: float  # what the forward pass keeps for the backward pass

    @property
    def total(self) -> float:
        """Everything together, in GiB."""
        return self.weights + self.gradients + self.optimizer + self.activations


def estimate_training_memory(n_params: int, *, layers: int, hidden: int, heads: int, batch_size: int,
                             seq_len: int, precision: str = "fp32", gradient_checkpointing: bool = False) -> MemoryEstimate:
    """Rough training memory of a transformer encoder with AdamW (Korthikanti et al. 2022's activation count).

    Per layer the forward pass keeps about ``s*b*h*(34 + 5*a*s/h)`` bytes at 16-bit precision (twice that in
    fp32); gradient checkpointing keeps only each layer's input (``2*s*b*h`` bytes at 16 bits) plus one layer
    recomputed at a time. Weights, gradients and AdamW's two moments stay fp32 (mixed precision saves
    activations, not optimizer state).

    >>> round(estimate_training_memory(110_000_000, layers=12, hidden=768, heads=12, batch_size=32, seq_len=128).total, 2)
    4.73
    """
    if precision not in BYTES:
        raise CourseError(problem("precision", f"one of {sorted(BYTES)}", repr(precision),
                                  "use 'fp32' on CPU, 'bf16' or 'fp16' on a GPU"))
    bad = {k: v for k, v in dict(n_params=n_params, layers=layers, hidden=hidden, heads=heads,
                                 batch_size=batch_size, seq_len=seq_len).items() if not (isinstance(v, int) and v > 0)}
    if bad:
        raise CourseError(problem("Model and batch sizes", "positive integers", str(bad),
                                  "read them from model.config (num_hidden_layers, hidden_size, num_attention_heads)"))
    gib = 2**30
    scale = BYTES[precision] / 2  # the formula counts 16-bit activations
    per_layer = seq_len * batch_size * hidden * (34 + 5 * heads * seq_len / hidden) * scale
    kept = (layers * 2 * seq_len * batch_size * hidden * scale + per_layer) if gradient_checkpointing else layers * per_layer
    return MemoryEstimate(weights=4 * n_params / gib, gradients=4 * n_params / gib, optimizer=8 * n_params / gib,
                          activations=kept / gib)
