"""Profiles: one notebook, three sizes (tiny for CI, cpu for a laptop, gpu for Colab/Kaggle)."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, replace
from typing import Any

from .errors import CourseError, problem, raise_if_any

TINY_MODEL = "tiny-random-bert"  # not a Hub id: models.resolve_model builds it locally from a seed
NAMES = ("tiny", "cpu", "gpu")  # the profiles every notebook knows (Profile.pick takes one value for each)
MAX_POSITIONS = 512  # BERT-family encoders embed at most 512 positions; a longer max_length fails deep in the model


@dataclass(frozen=True)
class Profile:
    """Everything that changes between a CI run, a laptop run and a GPU run."""

    name: str  # "tiny", "cpu" or "gpu"
    model_id: str  # Hub id of the encoder the notebooks fine-tune
    max_length: int  # tokens per example for classification
    batch_size: int  # per-device training batch size
    eval_batch_size: int  # per-device evaluation batch size
    epochs: float  # training epochs for the main runs
    learning_rate: float  # peak learning rate for the main runs
    train_size: int | None  # training examples per classification run (None: the whole split)
    eval_size: int | None  # validation examples (None: the whole split)
    test_size: int | None  # held-out test examples (None: the whole split)
    tiny_data: bool  # read the committed slices in data/tiny instead of the full datasets
    meaning: str  # one sentence a notebook prints so nobody over-reads the numbers
    dry_run: bool = False  # COURSE_DRY_RUN=1: CI runs this profile's logic with tiny stand-in models and data
    # Attention dropout for fine-tuning (None: the checkpoint's own, 0.1 for BERTs). On a CPU, PyTorch's fused
    # attention kernel cannot apply dropout, so any value above 0 sends every training step down the slow path.
    # A notebook opts in with from_pretrained(..., **choice.config_kwargs) (models.resolve_model): 04, 07 and 11 do;
    # the others keep 0.1 because a headline number fell without it (README, "Profiles").
    attention_dropout: float | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.name not in NAMES:
            problems.append(problem("Profile field name", f"one of {list(NAMES)}", repr(self.name),
                                    "start from a course profile: PROFILES['cpu'].with_overrides(...)"))
        if not isinstance(self.model_id, str) or not self.model_id.strip():
            problems.append(problem("Profile field model_id", "a Hub model id or a folder, e.g. 'bert-base-uncased'",
                                    repr(self.model_id), "pass model_id='bert-base-uncased'"))
        for field_name in ("max_length", "batch_size", "eval_batch_size"):
            value = getattr(self, field_name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(problem(f"Profile field {field_name}", "a whole number of at least 1", repr(value),
                                        f"pass {field_name}=128 (or another positive whole number)"))
        if isinstance(self.max_length, int) and self.max_length > MAX_POSITIONS:
            problems.append(problem("Profile field max_length", f"at most {MAX_POSITIONS} tokens (what a BERT can "
                                    "embed)", repr(self.max_length), "pass max_length=512 or less; read longer "
                                    "texts in windows (stride) or keep their head and tail"))
        for field_name in ("train_size", "eval_size", "test_size"):
            value = getattr(self, field_name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                problems.append(problem(f"Profile field {field_name}", "None (the whole split) or a whole number >= 1",
                                        repr(value), f"pass {field_name}=None or e.g. {field_name}=500"))
        if not isinstance(self.epochs, (int, float)) or isinstance(self.epochs, bool) or self.epochs <= 0:
            problems.append(problem("Profile field epochs", "a number above 0", repr(self.epochs), "pass epochs=1"))
        if not isinstance(self.learning_rate, float) or not 0 < self.learning_rate < 1:
            problems.append(problem("Profile field learning_rate", "a float between 0 and 1 (e.g. 5e-5)",
                                    repr(self.learning_rate), "pass learning_rate=5e-5"))
        if self.attention_dropout is not None and (not isinstance(self.attention_dropout, (int, float))
                                                   or isinstance(self.attention_dropout, bool)
                                                   or not 0 <= self.attention_dropout < 1):
            problems.append(problem("Profile field attention_dropout", "None (the checkpoint's own) or a number in "
                                    "[0, 1)", repr(self.attention_dropout), "pass attention_dropout=0.0 or None"))
        for field_name in ("tiny_data", "dry_run"):
            if not isinstance(getattr(self, field_name), bool):
                problems.append(problem(f"Profile field {field_name}", "True or False", repr(getattr(self, field_name)),
                                        f"pass {field_name}=True or {field_name}=False, without quotes"))
        raise_if_any(problems)

    @property
    def expects_learning(self) -> bool:
        """True when the model should really learn, so checkpoints on its scores apply (not tiny, not a dry run)."""
        return self.name != "tiny" and not self.dry_run

    def pick(self, *, tiny: Any, cpu: Any, gpu: Any) -> Any:
        """Return the value for this profile: ``P.pick(tiny=32, cpu=1000, gpu=None)``."""
        return {"tiny": tiny, "cpu": cpu, "gpu": gpu}[self.name]

    def with_overrides(self, **changes: Any) -> "Profile":
        """A copy with some fields changed, e.g. from papermill parameters; ``None`` values are ignored."""
        unknown = sorted(set(changes) - set(self.__dataclass_fields__))
        if unknown:
            raise CourseError(problem("Profile override", f"field names from {list(self.__dataclass_fields__)}",
                                      f"{unknown}", "check the spelling of the keyword (e.g. train_size=500)"))
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


PROFILES: dict[str, Profile] = {
    "tiny": Profile(
        name="tiny", model_id=TINY_MODEL, max_length=64, batch_size=8, eval_batch_size=16, epochs=1,
        learning_rate=5e-4, train_size=None, eval_size=None, test_size=None, tiny_data=True,
        meaning="tiny profile: a randomly initialised 2-layer BERT on a few dozen examples. It checks that the "
        "code runs; its numbers are meaningless by design.",
    ),
    "cpu": Profile(
        name="cpu", model_id="sentence-transformers/all-MiniLM-L6-v2", max_length=128, batch_size=16,
        eval_batch_size=64, epochs=1, learning_rate=1e-4, train_size=1000, eval_size=200, test_size=1000,
        tiny_data=False, attention_dropout=0.0,
        meaning="cpu profile: a real pretrained 6-layer BERT (all-MiniLM-L6-v2) on data subsets. The model really "
        "learns, but a full bert-base run on all the data (gpu profile) scores higher.",
    ),
    "gpu": Profile(
        name="gpu", model_id="bert-base-uncased", max_length=256, batch_size=32, eval_batch_size=128, epochs=2,
        learning_rate=3e-5, train_size=None, eval_size=None, test_size=None, tiny_data=False,
        meaning="gpu profile: bert-base-uncased on the full data with mixed precision, the setting the course "
        "documents describe.",
    ),
}


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def choose(requested: str = "auto") -> tuple[str, str]:
    """Pick a profile name and say why.

    An explicit ``requested`` name wins, then the ``COURSE_PROFILE`` variable, then ``CI`` (tiny), then a CUDA
    GPU (gpu), else cpu.
    """
    requested = (requested or "auto").strip().lower()
    if requested != "auto":
        return requested, "asked for by the notebook's `profile` parameter"
    env = os.environ.get("COURSE_PROFILE", "").strip().lower()
    if env and env != "auto":
        return env, "set by the COURSE_PROFILE environment variable"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        return "tiny", "CI is set, so the fast tiny profile runs"
    if _has_cuda():
        return "gpu", "a CUDA GPU was found"
    return "cpu", "no GPU was found"


def get_profile(requested: str = "auto", **overrides: Any) -> Profile:
    """Return the chosen profile, with any non-None ``overrides`` (e.g. ``train_size=500``) applied.

    Prints which profile and why. Without a GPU it also silences torch's "pin_memory ... no accelerator" warning,
    which every Trainer data loader would otherwise repeat.
    """
    name, why = choose(requested)
    if name not in PROFILES:
        raise CourseError(problem(
            "Profile", f"one of {sorted(PROFILES)} or 'auto'", repr(name),
            "set the notebook's `profile` parameter (or COURSE_PROFILE) to tiny, cpu, gpu or auto",
        ))
    profile = PROFILES[name].with_overrides(**overrides)
    if os.environ.get("COURSE_DRY_RUN", "").strip().lower() in {"1", "true", "yes"}:
        profile = replace(profile, dry_run=True)
        print(f"COURSE_DRY_RUN is set: the {name} profile's logic runs with whatever models and data the Hub (or its "
              "stand-in) serves; checks on learned scores are skipped.")
    if not _has_cuda():
        # Trainer asks for pinned memory by default, and torch warns once per data loader when there is no GPU.
        warnings.filterwarnings("ignore", message=".*'pin_memory' argument is set as true but no accelerator.*")
    print(f"Profile: {profile.name} ({why}). {profile.meaning}")
    return profile


BF16_FROM_CAPABILITY = (8, 0)  # native bf16 from Ampere (A100, L4, H100); a T4 (7.5) only emulates it


def gpu_precision(capability: tuple[int, int] | None = None) -> str | None:
    """The mixed precision to train in: "bf16" from compute capability 8.0, "fp16" below it, None without a GPU.

    Decided by capability, not by ``torch.cuda.is_bf16_supported()``: that returns True on a T4 because it counts
    emulation, and emulated bf16 trains at about fp32 speed.

    >>> gpu_precision((7, 5)), gpu_precision((8, 0)), gpu_precision((8, 9))
    ('fp16', 'bf16', 'bf16')
    """
    if capability is None:
        if not _has_cuda():
            return None
        import torch

        capability = tuple(torch.cuda.get_device_capability(0))
    return "bf16" if tuple(capability) >= BF16_FROM_CAPABILITY else "fp16"


def precision_kwargs(profile: Profile, fp16_safe: bool = True) -> dict[str, bool]:
    """TrainingArguments flags for mixed precision: bf16 from capability 8.0, fp16 below, none on a CPU.

    ``fp16_safe=False`` for models known to overflow in fp16 (t5): they train in fp32 on a T4, and a line says why.
    """
    if profile.name != "gpu":
        return {}
    precision = gpu_precision()
    if precision == "fp16" and not fp16_safe:
        print("Precision: fp32. This model overflows in fp16 (NaN losses; t5 is the known case) and this GPU has no "
              "native bf16 (compute capability below 8.0), so it trains in full precision: slower, but correct.")
        return {}
    return {precision: True} if precision else {}
