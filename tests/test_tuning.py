import pytest
import torch
from transformers import TrainingArguments

from course_utils import tuning
from course_utils.errors import CourseError


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


@pytest.fixture(autouse=True)
def _reset():
    FakeTrainer.built = []


def args(batch=32, accumulation=1):
    return TrainingArguments(output_dir="unused", per_device_train_batch_size=batch,
                             gradient_accumulation_steps=accumulation, report_to="none")


@pytest.mark.parametrize("err, expected", [
    (torch.OutOfMemoryError("CUDA out of memory."), True),
    (RuntimeError("CUDA error: out of memory"), True),
    (RuntimeError("MPS backend out of memory (MPS allocated: 9.00 GB)"), True),
    (MemoryError(), True),
    (RuntimeError("mat1 and mat2 shapes cannot be multiplied"), False),
    (ValueError("out of memory"), False),
])
def test_is_out_of_memory(err, expected):
    assert tuning.is_out_of_memory(err) is expected


def test_halve_batch_keeps_the_effective_batch():
    smaller = tuning.halve_batch(args(32, 2))
    assert (smaller.per_device_train_batch_size, smaller.gradient_accumulation_steps) == (16, 4)
    assert tuning.effective_batch(smaller) == 64


def test_halve_batch_refuses_batch_one():
    with pytest.raises(CourseError, match=r"Out-of-memory fallback: expected a per-device batch size above 1 .* "
                                          r"found batch size 1"):
        tuning.halve_batch(args(1))


def test_fallback_halves_until_it_fits(capsys):
    trainer, used = tuning.train_with_oom_fallback(lambda a: FakeTrainer(a, fits=8), args(32))
    assert FakeTrainer.built == [32, 16, 8]
    assert (used.per_device_train_batch_size, used.gradient_accumulation_steps) == (8, 4)
    assert trainer.args is used
    out = capsys.readouterr().out
    assert "Out of memory at per-device batch 32: retrying with batch 16 x 2 accumulation steps" in out
    assert "(same effective batch 32)" in out


def test_fallback_with_string_runtime_error():
    error = RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB")
    _, used = tuning.train_with_oom_fallback(lambda a: FakeTrainer(a, fits=16, error=error), args(32), log=lambda m: None)
    assert used.per_device_train_batch_size == 16


def test_fallback_no_oom_trains_once():
    _, used = tuning.train_with_oom_fallback(lambda a: FakeTrainer(a, fits=64), args(32))
    assert FakeTrainer.built == [32]
    assert used.gradient_accumulation_steps == 1


def test_fallback_reraises_other_errors_unchanged():
    error = RuntimeError("mat1 and mat2 shapes cannot be multiplied")
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        tuning.train_with_oom_fallback(lambda a: FakeTrainer(a, fits=1, error=error), args(32))
    assert FakeTrainer.built == [32]


def test_fallback_gives_up_after_max_halvings():
    with pytest.raises(CourseError, match=r"Training: expected a run that fits in memory within 2 halvings of the "
                                          r"batch, found out of memory at per-device batch 8"):
        tuning.train_with_oom_fallback(lambda a: FakeTrainer(a, fits=2), args(32), max_halvings=2, log=lambda m: None)
    assert FakeTrainer.built == [32, 16, 8]


def test_fallback_rejects_negative_halvings():
    with pytest.raises(CourseError, match=r"max_halvings: expected 0 or more, found -1"):
        tuning.train_with_oom_fallback(FakeTrainer, args(32), max_halvings=-1)
