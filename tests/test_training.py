"""course_utils.training: softmax, the Trainer log history as a table and a plot, classification scores, renamed
TrainingArguments keywords, and the out-of-memory fallback."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.special
import sklearn.metrics as skm
import torch
from transformers import TrainingArguments

from course_utils import training
from course_utils.errors import CourseError

LOGITS = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 0.3], [-3.0, 4.0, 1.0], [1000.0, 1001.0, 999.0],
                   [0.0, 0.0, 0.0], [1.5, 1.4, -2.0]])
LABELS = [0, 2, 1, 1, 2, 1]

# What Trainer.state.log_history looks like in transformers 5: training logs, evaluation logs at the same
# steps, and one final summary row with train_* keys.
LOG_HISTORY = [
    {"loss": 0.70, "grad_norm": 1.5, "learning_rate": 4e-4, "epoch": 0.5, "step": 5},
    {"loss": 0.62, "grad_norm": 1.1, "learning_rate": 2e-4, "epoch": 1.0, "step": 10},
    {"eval_loss": 0.66, "eval_accuracy": 0.55, "eval_runtime": 0.2, "epoch": 1.0, "step": 10},
    {"loss": 0.50, "grad_norm": 0.9, "learning_rate": 1e-4, "epoch": 1.5, "step": 15},
    {"eval_loss": 0.58, "eval_accuracy": 0.70, "eval_runtime": 0.2, "epoch": 2.0, "step": 20},
    {"train_runtime": 3.1, "train_samples_per_second": 50.0, "train_loss": 0.6, "total_flos": 1.0, "epoch": 2.0,
     "step": 20},
]


pytestmark = pytest.mark.usefixtures("hub_off")


def test_softmax_matches_scipy():
    got = training.softmax(LOGITS)
    np.testing.assert_allclose(got, scipy.special.softmax(LOGITS, axis=-1), rtol=0, atol=1e-15)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    assert np.isfinite(got).all()  # 1000-ish logits do not overflow
    np.testing.assert_allclose(got[4], 1 / 3, rtol=0, atol=1e-16)
    assert got.dtype == np.float64 and got.shape == LOGITS.shape


def test_softmax_of_a_single_row_and_of_lists():
    np.testing.assert_allclose(training.softmax([1.0, 2.0]), scipy.special.softmax([1.0, 2.0]), atol=1e-15)
    assert training.softmax([[0.0, math.log(3.0)]])[0].tolist() == pytest.approx([0.25, 0.75], abs=1e-15)


def test_history_frame_merges_train_and_eval_rows_by_step():
    frame = training.history_frame(LOG_HISTORY)
    assert frame["step"].tolist() == [5, 10, 15, 20]
    assert "train_loss" not in frame.columns and "train_runtime" not in frame.columns
    row10 = frame.set_index("step").loc[10]
    assert (row10["loss"], row10["eval_loss"], row10["eval_accuracy"], row10["epoch"]) == (0.62, 0.66, 0.55, 1.0)
    assert math.isnan(frame.set_index("step").loc[5, "eval_loss"])
    assert math.isnan(frame.set_index("step").loc[20, "loss"])
    assert frame["eval_accuracy"].dropna().tolist() == [0.55, 0.70]
    assert frame["loss"].dropna().tolist() == [0.70, 0.62, 0.50]


def test_history_frame_of_an_empty_history():
    frame = training.history_frame([])
    assert len(frame) == 0 and list(frame.columns) == ["step", "epoch"]
    assert len(training.history_frame(LOG_HISTORY[-1:])) == 0  # only the final summary


def test_plot_history_draws_the_curves():
    import matplotlib

    matplotlib.use("Agg")
    ax = training.plot_history(LOG_HISTORY, title="tiny run")
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"training loss", "validation loss"}
    assert lines["training loss"].get_xdata().tolist() == [5, 10, 15]
    assert lines["validation loss"].get_ydata().tolist() == [0.66, 0.58]
    assert ax.get_title() == "tiny run" and ax.get_xlabel() == "training step"
    right = [a for a in ax.figure.axes if a is not ax][0]
    assert right.get_lines()[0].get_ydata().tolist() == [0.55, 0.70]
    assert right.get_ylabel() == "validation accuracy"
    import matplotlib.pyplot as plt

    plt.close("all")


def test_classification_scores_match_sklearn():
    scores = training.classification_scores(LOGITS, LABELS)
    preds = LOGITS.argmax(axis=1)
    probs = scipy.special.softmax(LOGITS, axis=-1)
    assert set(scores) == {"accuracy", "f1_macro", "f1_weighted", "log_loss"}
    assert scores["accuracy"] == skm.accuracy_score(LABELS, preds) == 4 / 6
    assert scores["f1_macro"] == skm.f1_score(LABELS, preds, average="macro")
    assert scores["f1_weighted"] == skm.f1_score(LABELS, preds, average="weighted")
    assert scores["log_loss"] == pytest.approx(skm.log_loss(LABELS, probs, labels=[0, 1, 2]), abs=1e-12)
    assert all(isinstance(v, float) for v in scores.values())


def test_classification_scores_when_a_class_is_absent():
    logits = np.array([[3.0, 0.0, 0.0], [0.0, 0.0, 3.0], [2.0, 1.0, 0.0]])
    scores = training.classification_scores(logits, [0, 2, 0])  # class 1 never in the labels
    probs = scipy.special.softmax(logits, axis=-1)
    assert scores["accuracy"] == 1.0
    assert scores["log_loss"] == pytest.approx(skm.log_loss([0, 2, 0], probs, labels=[0, 1, 2]), abs=1e-12)


# What TrainingArguments accepts before transformers 5.2 (group_by_length), 5.2-5.22 (train_sampling_strategy,
# gradient_checkpointing) and from 5.23 (activation_checkpointing; gradient_checkpointing a deprecated alias).
BEFORE_5_2 = {"output_dir", "learning_rate", "gradient_checkpointing", "gradient_checkpointing_kwargs", "group_by_length"}
BEFORE_5_23 = {"output_dir", "learning_rate", "gradient_checkpointing", "gradient_checkpointing_kwargs",
               "train_sampling_strategy"}
FROM_5_23 = BEFORE_5_23 | {"activation_checkpointing", "activation_checkpointing_kwargs"}


def test_compatible_args_renames_for_older_transformers():
    current = dict(output_dir="out", activation_checkpointing=True,
                   activation_checkpointing_kwargs={"use_reentrant": False}, train_sampling_strategy="group_by_length")
    assert training.compatible_args(BEFORE_5_2, **current) == {
        "output_dir": "out", "gradient_checkpointing": True, "gradient_checkpointing_kwargs": {"use_reentrant": False},
        "group_by_length": True}
    assert training.compatible_args(BEFORE_5_23, **current) == {
        "output_dir": "out", "gradient_checkpointing": True, "gradient_checkpointing_kwargs": {"use_reentrant": False},
        "train_sampling_strategy": "group_by_length"}
    assert training.compatible_args(FROM_5_23, **current) == current  # new names pass through, in order
    assert list(training.compatible_args(FROM_5_23, **current)) == list(current)


def test_compatible_args_random_sampling_is_the_old_default_and_other_strategies_are_explained():
    # said explicitly, so that dataclasses.replace can switch a grouped set-up back to random order
    assert training.compatible_args(BEFORE_5_2, train_sampling_strategy="random", learning_rate=0.1) == {
        "group_by_length": False, "learning_rate": 0.1}
    with pytest.raises(training.CourseError, match=r"train_sampling_strategy='sequential'.*group_by_length"):
        training.compatible_args(BEFORE_5_2, train_sampling_strategy="sequential")
    # unknown names and names with nothing to rename to are left for TrainingArguments to judge
    assert training.compatible_args({"output_dir"}, activation_checkpointing=True, warmup_ratio=0.1) == {
        "activation_checkpointing": True, "warmup_ratio": 0.1}


def test_compatible_args_fit_the_installed_transformers():
    import transformers

    names = training.argument_names()
    assert {"output_dir", "learning_rate", "eval_strategy"} <= names
    kwargs = training.compatible_args(activation_checkpointing=True, train_sampling_strategy="group_by_length")
    assert set(kwargs) <= names and len(kwargs) == 2
    args = transformers.TrainingArguments(output_dir="unused", report_to="none", **kwargs)
    assert args.gradient_checkpointing is True  # every version keeps this attribute (alias or the real field)
    grouped = getattr(args, "train_sampling_strategy", None) == "group_by_length" or getattr(args, "group_by_length")
    assert grouped


# ------------------------------------------------------------------ out of memory: halve the batch, same effective batch


class FakeTrainer:
    """Raises ``error`` whenever the per-device batch is above ``fits``; records every batch it was built with."""

    built: list[int] = []

    def __init__(self, args, fits=4, error=None):
        self.args, self.fits = args, fits
        self.error = error or torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        FakeTrainer.built.append(args.per_device_train_batch_size)

    def train(self):
        if self.args.per_device_train_batch_size > self.fits:
            raise self.error
        return "done"


@pytest.fixture
def built():
    FakeTrainer.built = []
    return FakeTrainer.built


def args(batch=32, accumulation=1):
    return TrainingArguments(output_dir="unused", per_device_train_batch_size=batch,
                             gradient_accumulation_steps=accumulation, report_to="none")


@pytest.mark.parametrize("err, expected", [
    (torch.OutOfMemoryError("CUDA out of memory."), True),
    (torch.OutOfMemoryError("x"), True),  # torch's own type, whatever the text
    (RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB"), True),
    (RuntimeError("CUDA error: out of memory"), True),
    (RuntimeError("MPS backend out of memory (MPS allocated: 9.00 GB)"), True),
    (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 bytes"), True),
    (MemoryError(), True),
    (RuntimeError("mat1 and mat2 shapes cannot be multiplied"), False),
    (ValueError("out of memory"), False),
])
def test_is_out_of_memory(err, expected):
    assert training.is_out_of_memory(err) is expected


def test_is_out_of_memory_agrees_with_accelerate_where_accelerate_answers():
    from accelerate.utils.memory import should_reduce_batch_size

    for err in (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                RuntimeError("cuDNN error: CUDNN_STATUS_NOT_SUPPORTED. This error may appear if you passed in a "
                             "non-contiguous input."), RuntimeError("a bug")):
        if should_reduce_batch_size(err):
            assert training.is_out_of_memory(err)


def test_halve_batch_keeps_the_effective_batch():
    smaller = training.halve_batch(args(32, 2))
    assert (smaller.per_device_train_batch_size, smaller.gradient_accumulation_steps) == (16, 4)
    assert training.effective_batch(smaller) == 64


def test_halve_batch_refuses_batch_one():
    with pytest.raises(CourseError, match=r"Out-of-memory fallback: expected a per-device batch size above 1 .* "
                                          r"found batch size 1"):
        training.halve_batch(args(1))


def test_fallback_halves_until_it_fits(built, capsys):
    trainer, used = training.train_with_oom_fallback(lambda a: FakeTrainer(a, fits=8), args(32))
    assert built == [32, 16, 8]
    assert (used.per_device_train_batch_size, used.gradient_accumulation_steps) == (8, 4)
    assert trainer.args is used
    out = capsys.readouterr().out.splitlines()
    assert out == ["Out of memory at per-device batch 32: retrying with batch 16 x 2 accumulation steps "
                   "(same effective batch 32).",
                   "Out of memory at per-device batch 16: retrying with batch 8 x 4 accumulation steps "
                   "(same effective batch 32)."]


def test_fallback_says_when_an_odd_batch_changes_the_effective_batch(built):
    messages = []
    _, used = training.train_with_oom_fallback(lambda a: FakeTrainer(a, fits=1), args(6), log=messages.append)
    assert built == [6, 3, 1]
    assert messages[-1].endswith("(effective batch 6 -> 4: an odd batch cannot be halved exactly).")


def test_fallback_frees_the_failed_trainer_before_the_next_try(built, monkeypatch):
    import weakref

    from accelerate.utils import memory

    cleared, alive = [], []
    clear = memory.clear_device_cache
    monkeypatch.setattr(memory, "clear_device_cache", lambda garbage_collection=False:
                        cleared.append(garbage_collection) or clear(garbage_collection))
    last = None

    def build(a):
        nonlocal last
        alive.append(last is not None and last() is not None)
        trainer = FakeTrainer(a, fits=8)
        last = weakref.ref(trainer)
        return trainer

    training.train_with_oom_fallback(build, args(32), log=lambda m: None)
    assert cleared == [True, True]
    assert alive == [False, False, False], "the model that ran out of memory must be gone before the next one"


def test_fallback_no_oom_trains_once(built):
    _, used = training.train_with_oom_fallback(lambda a: FakeTrainer(a, fits=64), args(32))
    assert built == [32]
    assert used.gradient_accumulation_steps == 1


def test_fallback_reraises_other_errors_unchanged(built):
    error = RuntimeError("mat1 and mat2 shapes cannot be multiplied")
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        training.train_with_oom_fallback(lambda a: FakeTrainer(a, fits=1, error=error), args(32))
    assert built == [32]


def test_fallback_stops_at_the_minimum_batch(built):
    with pytest.raises(CourseError, match=r"^Training: expected a run that fits in memory at a per-device batch of 8 "
                                          r"or more, found out of memory at per-device batch 8 \(x 4 accumulation "
                                          r"steps\)\. Fix: shorten max_length") as raised:
        training.train_with_oom_fallback(lambda a: FakeTrainer(a, fits=2), args(32), min_batch_size=8,
                                         log=lambda m: None)
    assert built == [32, 16, 8]
    assert isinstance(raised.value.__cause__, torch.OutOfMemoryError)


def test_fallback_checks_the_batch_settings_first(built):
    with pytest.raises(CourseError, match=r"^2 problems:\n- Batch settings: expected whole numbers, found "
                                          r"per_device_train_batch_size='8', min_batch_size=1\.5\. Fix: .*\n- Batch "
                                          r"settings: expected 1 or more, found gradient_accumulation_steps=0\."):
        training.train_with_oom_fallback(FakeTrainer, SimpleNamespace(per_device_train_batch_size="8",
                                                                      gradient_accumulation_steps=0),
                                         min_batch_size=1.5)
    with pytest.raises(CourseError, match=r"expected per_device_train_batch_size >= min_batch_size \(8\), found "
                                          r"per_device_train_batch_size=4"):
        training.train_with_oom_fallback(FakeTrainer, args(4), min_batch_size=8)
    assert built == []


# ------------------------------------------------------------------ notebook 12's training_step, tried on a probe
def _training_step(leave_out: str = ""):
    """Notebook 12's reference training_step on the CPU (no autocast), with one call left out."""
    import torch

    def step(model, batch, optimizer, scheduler, scaler):
        loss = model(**batch).loss
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        if leave_out != "clip":
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if leave_out != "step":
            scaler.step(optimizer)
        scaler.update()
        if leave_out != "schedule":
            scheduler.step()
        if leave_out != "zero_grad":
            optimizer.zero_grad()
        return None if leave_out == "return" else loss

    return step


def test_the_reference_training_step_has_no_problems():
    assert training.training_step_problems(_training_step(), max_grad_norm=1.0) == []


@pytest.mark.parametrize("leave_out, says", [
    ("clip", "one step moved the weights by 200.0 with max_grad_norm 1.0"),
    ("step", "the weights did not change: call scaler.step(optimizer)"),
    ("schedule", "call scheduler.step() once per update"),
    ("zero_grad", "end with optimizer.zero_grad()"),
    ("return", "training_step returned NoneType"),
])
def test_a_training_step_missing_a_call_is_told_which(leave_out, says):
    problems = training.training_step_problems(_training_step(leave_out), max_grad_norm=1.0)
    assert len(problems) == 1 and says in problems[0], problems


# ------------------------------------------------------- the compute_metrics probe of notebooks 03, 06, 11 and 13
def _metrics(average="macro", as_dict=True):
    def compute_metrics(eval_pred):
        logits, labels = eval_pred
        predictions = np.argmax(logits, axis=-1)
        scores = {"accuracy": skm.accuracy_score(labels, predictions),
                  "balanced_accuracy": skm.balanced_accuracy_score(labels, predictions),
                  "f1_macro": skm.f1_score(labels, predictions, average=average)}
        return scores if as_dict else scores["accuracy"]
    return compute_metrics


def test_the_probe_scores_are_what_scikit_learn_computes():
    assert training.compute_metrics_problems(_metrics(), expects=list(training.PROBE_SCORES)) == []


@pytest.mark.parametrize("metrics, says", [
    (_metrics(average="micro"), "f1_macro: expected 0.733 on 4 examples with 3 right (per-class F1 0.8 and 0.667), got "
                                "0.75"),
    (_metrics(average="binary"), "f1_macro: expected 0.733"),
    (_metrics(as_dict=False), "compute_metrics returned a float: return a dict"),
    (lambda eval_pred: {"accuracy": eval_pred.missing}, "compute_metrics failed on 4 examples (AttributeError"),
])
def test_a_wrong_compute_metrics_is_told_what_is_wrong(metrics, says):
    problems = training.compute_metrics_problems(metrics, expects=("accuracy", "f1_macro"))
    assert len(problems) == 1 and problems[0].startswith(says), problems


def test_an_unwritten_stub_keeps_its_own_message():
    def stub(eval_pred):
        raise NotImplementedError("Exercise: return accuracy. Replace this line with your code.")
    with pytest.raises(NotImplementedError, match="Exercise: return accuracy"):
        training.compute_metrics_problems(stub)
