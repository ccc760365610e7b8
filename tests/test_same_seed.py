"""tools/same_seed.py: two runs of a notebook with the same seed must give the same metrics."""

import json

import pytest

import same_seed


def write(folder, name, metrics):
    (folder / name).mkdir(parents=True)
    (folder / name / "results.json").write_text(json.dumps({"notebook": name, "metrics": metrics}))


@pytest.fixture
def runs(tmp_path):
    first, second = tmp_path / "papermill", tmp_path / "nbval"
    base = {"accuracy": 0.5, "f1_macro": 1 / 3, "log_loss": 0.693154683295663, "train_runtime_s": 12.9}
    write(first, "06_finetune_imdb", base)
    return first, second, base


def test_identical_metrics_pass_and_the_clock_is_not_compared(runs, capsys):
    first, second, base = runs
    write(second, "06_finetune_imdb", {**base, "train_runtime_s": 30.2})  # a slower machine, the same numbers
    assert same_seed.compare(first, second, ["06_finetune_imdb"]) == []
    assert capsys.readouterr().out == ("06_finetune_imdb           identical: 3 metrics "
                                       "(clock, not compared: train_runtime_s)\n")


def test_a_planted_difference_fails_with_both_values(runs):
    first, second, base = runs
    write(second, "06_finetune_imdb", {**base, "log_loss": 0.693154683295664, "accuracy": 0.53125})
    assert same_seed.compare(first, second, ["06_finetune_imdb"]) == [
        "06_finetune_imdb: accuracy: 0.5 vs 0.53125 (difference +0.0312)",
        "06_finetune_imdb: log_loss: 0.693154683295663 vs 0.693154683295664 (difference +9.99e-16)",
    ]


def test_a_metric_in_one_run_only_and_a_missing_run_fail(runs):
    first, second, base = runs
    write(second, "06_finetune_imdb", {k: v for k, v in base.items() if k != "f1_macro"})
    failures = same_seed.compare(first, second, ["06_finetune_imdb", "07_debugging"])
    assert failures[0] == "06_finetune_imdb: f1_macro: only in the first run"
    assert failures[1].startswith("07_debugging: not run twice (missing ") and failures[1].count("results.json") == 2


def test_a_documented_tolerance_allows_that_much_and_no_more(runs, monkeypatch):
    first, second, base = runs
    monkeypatch.setitem(same_seed.TOLERANCE, "06_finetune_imdb", {"log_loss": (1e-9, "a planted example")})
    write(second, "06_finetune_imdb", {**base, "log_loss": base["log_loss"] + 5e-10})
    assert same_seed.compare(first, second, ["06_finetune_imdb"]) == []
    (second / "06_finetune_imdb" / "results.json").unlink()
    (second / "06_finetune_imdb").rmdir()
    write(second, "06_finetune_imdb", {**base, "log_loss": base["log_loss"] + 2e-9})
    assert len(same_seed.compare(first, second, ["06_finetune_imdb"])) == 1


def test_main_exits_1_listing_the_notebook(runs, capsys, monkeypatch):
    first, second, base = runs
    write(second, "06_finetune_imdb", {**base, "accuracy": 0.75})
    monkeypatch.setattr(same_seed, "notebooks", lambda: ["06_finetune_imdb"])
    assert same_seed.main([str(first), str(second)]) == 1
    assert "06_finetune_imdb: accuracy: 0.5 vs 0.75 (difference +0.25)" in capsys.readouterr().err


@pytest.mark.parametrize("key, clock", [
    ("train_runtime_s", True), ("train_seconds_main", True), ("speedup_efficient_vs_naive", True),
    ("train_samples_per_second", True), ("accuracy", False), ("f1_macro", False), ("n_trials", False),
    ("best_trial_objective", False), ("perplexity_after", False)])
def test_only_metrics_that_time_something_are_skipped(key, clock):
    assert same_seed.is_clock("06_finetune_imdb", key) is clock


def test_every_exception_names_a_notebook_and_says_why():
    names = set(same_seed.notebooks())
    assert {"00_setup", "06_finetune_imdb", "13_share_model"} <= names
    assert set(same_seed.CLOCK) <= names and set(same_seed.TOLERANCE) <= names
    for notebook, keys in same_seed.TOLERANCE.items():
        assert all(tol > 0 and why for tol, why in keys.values()), f"{notebook}: a tolerance and its reason"
