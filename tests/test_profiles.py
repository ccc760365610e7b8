"""course_utils.profiles: which profile runs, and why; pick() and overrides."""

from __future__ import annotations

import dataclasses
import warnings

import pytest

from course_utils import profiles
from course_utils.errors import CourseError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No COURSE_PROFILE, no CI, no GPU unless a test says otherwise."""
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)


def gpu(monkeypatch, present: bool = True) -> None:
    monkeypatch.setattr("torch.cuda.is_available", lambda: present)


def test_no_hint_gives_cpu():
    assert profiles.choose() == ("cpu", "no GPU was found")
    assert profiles.choose("auto") == ("cpu", "no GPU was found")
    assert profiles.choose("") == ("cpu", "no GPU was found")


def test_cuda_gives_gpu(monkeypatch):
    gpu(monkeypatch)
    assert profiles.choose() == ("gpu", "a CUDA GPU was found")


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE"])
def test_ci_beats_cuda(monkeypatch, value):
    gpu(monkeypatch)
    monkeypatch.setenv("CI", value)
    assert profiles.choose() == ("tiny", "CI is set, so the fast tiny profile runs")


def test_ci_false_is_ignored(monkeypatch):
    monkeypatch.setenv("CI", "false")
    assert profiles.choose()[0] == "cpu"


def test_course_profile_beats_ci(monkeypatch):
    gpu(monkeypatch)
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("COURSE_PROFILE", " CPU ")
    assert profiles.choose() == ("cpu", "set by the COURSE_PROFILE environment variable")
    monkeypatch.setenv("COURSE_PROFILE", "auto")  # auto defers to the next rule
    assert profiles.choose()[0] == "tiny"


def test_explicit_beats_everything(monkeypatch):
    gpu(monkeypatch)
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    assert profiles.choose("GPU") == ("gpu", "asked for by the notebook's `profile` parameter")
    assert profiles.choose("tiny")[0] == "tiny"


def test_get_profile_prints_the_choice_and_its_meaning(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "tiny")
    profile = profiles.get_profile()
    assert profile == profiles.PROFILES["tiny"]
    out = capsys.readouterr().out
    assert out.startswith("Profile: tiny (set by the COURSE_PROFILE environment variable). tiny profile: ")
    assert "meaningless by design" in out


@pytest.mark.parametrize("requested, env", [("large", None), ("auto", "colab")])
def test_unknown_profile(monkeypatch, requested, env):
    if env:
        monkeypatch.setenv("COURSE_PROFILE", env)
    name = env or requested
    with pytest.raises(CourseError, match=rf"^Profile: expected one of \['cpu', 'gpu', 'tiny'\] or 'auto', found "
                                          rf"'{name}'\. Fix: set the notebook's `profile` parameter \(or "
                                          rf"COURSE_PROFILE\) to tiny, cpu, gpu or auto\.$"):
        profiles.get_profile(requested)


def test_pick():
    assert profiles.PROFILES["tiny"].pick(tiny=32, cpu=1000, gpu=None) == 32
    assert profiles.PROFILES["cpu"].pick(tiny=32, cpu=1000, gpu=None) == 1000
    assert profiles.PROFILES["gpu"].pick(tiny=32, cpu=1000, gpu=None) is None


def test_with_overrides_ignores_none():
    cpu = profiles.PROFILES["cpu"]
    changed = cpu.with_overrides(train_size=500, epochs=None, max_length=None, learning_rate=2e-5)
    assert (changed.train_size, changed.learning_rate) == (500, 2e-5)
    assert dataclasses.replace(changed, train_size=1000, learning_rate=1e-4) == cpu
    assert cpu.train_size == 1000  # the original is untouched (frozen)
    assert cpu.with_overrides() == cpu


def test_get_profile_applies_overrides(capsys):
    profile = profiles.get_profile("tiny", batch_size=2, test_size=None)
    assert (profile.name, profile.batch_size, profile.test_size) == ("tiny", 2, None)
    assert profile.max_length == profiles.PROFILES["tiny"].max_length


def test_unknown_override():
    with pytest.raises(CourseError, match=r"^Profile override: expected field names from \['name', 'model_id', "
                                          r".*\], found \['train_sizes'\]\. Fix: check the spelling"):
        profiles.PROFILES["cpu"].with_overrides(train_sizes=500)


def test_profiles_are_consistent():
    assert set(profiles.PROFILES) == {"tiny", "cpu", "gpu"}
    for name, p in profiles.PROFILES.items():
        assert p.name == name and p.meaning.startswith(f"{name} profile:")
    assert profiles.PROFILES["tiny"].model_id == profiles.TINY_MODEL and profiles.PROFILES["tiny"].tiny_data
    assert profiles.PROFILES["cpu"].model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert profiles.PROFILES["gpu"].model_id == "bert-base-uncased"


GPUS = {"T4": ((7, 5), "fp16"), "P100": ((6, 0), "fp16"), "L4": ((8, 9), "bf16"), "A100": ((8, 0), "bf16"),
        "H100": ((9, 0), "bf16")}


@pytest.mark.parametrize("name", sorted(GPUS))
def test_precision_follows_compute_capability(monkeypatch, name):
    capability, expected = GPUS[name]
    gpu(monkeypatch)
    monkeypatch.setattr("torch.cuda.get_device_capability", lambda device=None: capability)
    monkeypatch.setattr("torch.cuda.is_bf16_supported", lambda *a, **k: True)  # what a T4 really answers
    assert profiles.gpu_precision() == expected
    assert profiles.precision_kwargs(profiles.PROFILES["gpu"]) == {expected: True}
    assert profiles.precision_kwargs(profiles.PROFILES["cpu"]) == {}  # cpu profile: full precision, GPU or not
    assert profiles.precision_kwargs(profiles.PROFILES["tiny"]) == {}


def test_no_gpu_means_full_precision():
    assert profiles.gpu_precision() is None  # this machine has no CUDA
    assert profiles.precision_kwargs(profiles.PROFILES["gpu"]) == {}


def test_fp16_unsafe_models_train_in_fp32_on_a_t4(monkeypatch, capsys):
    gpu(monkeypatch)
    monkeypatch.setattr("torch.cuda.get_device_capability", lambda device=None: (7, 5))
    assert profiles.precision_kwargs(profiles.PROFILES["gpu"], fp16_safe=False) == {}
    assert "overflows in fp16" in capsys.readouterr().out
    monkeypatch.setattr("torch.cuda.get_device_capability", lambda device=None: (8, 0))
    assert profiles.precision_kwargs(profiles.PROFILES["gpu"], fp16_safe=False) == {"bf16": True}

def test_get_profile_silences_the_pin_memory_warning_without_a_gpu(monkeypatch):
    message = "'pin_memory' argument is set as true but no accelerator is found, then device pinned memory won't be used."
    monkeypatch.setattr(profiles, "_has_cuda", lambda: False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        profiles.get_profile("tiny")
        warnings.warn(message, UserWarning)
        warnings.warn("another warning", UserWarning)
    assert [str(w.message) for w in caught] == ["another warning"]


@pytest.mark.parametrize("field, value, expected", [
    ("max_length", 0, "a whole number of at least 1"), ("batch_size", 2.5, "a whole number of at least 1"),
    ("train_size", -5, "None (the whole split) or a whole number >= 1"), ("epochs", 0, "a number above 0"),
    ("learning_rate", 3, "a float between 0 and 1 (e.g. 5e-5)"), ("max_length", 1024, "at most 512 tokens (what a "
    "BERT can embed)"), ("name", "large", "one of ['tiny', 'cpu', 'gpu']"), ("model_id", "", "a Hub model id or a "
    "folder, e.g. 'bert-base-uncased'"), ("tiny_data", "yes", "True or False"),
    ("attention_dropout", 1.5, "None (the checkpoint's own) or a number in [0, 1)"),
])
def test_profile_fields_are_checked_when_built(field, value, expected):
    import re

    with pytest.raises(CourseError, match=re.escape(f"Profile field {field}: expected {expected}, found {value!r}")):
        profiles.PROFILES["cpu"].with_overrides(**{field: value})


def test_every_problem_of_a_profile_is_reported_at_once():
    with pytest.raises(CourseError) as raised:
        profiles.PROFILES["cpu"].with_overrides(max_length=0, batch_size="16", epochs=-1, learning_rate=5, test_size=0)
    message = str(raised.value)
    assert message.startswith("5 problems:\n")
    for field in ("max_length", "batch_size", "test_size", "epochs", "learning_rate"):
        assert f"- Profile field {field}: expected " in message and ". Fix: " in message


def test_every_module_is_reachable_as_an_attribute():
    import pathlib

    import course_utils as cu

    names = {p.stem for p in pathlib.Path(cu.__file__).parent.glob("*.py") if p.stem != "__init__"}
    for name in sorted(names):
        assert getattr(cu, name).__name__ == f"course_utils.{name}"


def test_dry_run_skips_learning_checks_only(monkeypatch):
    monkeypatch.setenv("COURSE_DRY_RUN", "1")
    p = profiles.get_profile("gpu")
    assert p.dry_run and not p.expects_learning and p.name == "gpu" and p.batch_size == 32
    monkeypatch.delenv("COURSE_DRY_RUN")
    assert profiles.get_profile("cpu").expects_learning and not profiles.get_profile("tiny").expects_learning
