import json

import pandas as pd
import pytest

from nbrun import check_common, execute

pytestmark = pytest.mark.notebook


def test_dataframe_optuna_notebook():
    run = execute("11")
    check_common(run, ["f1_macro", "best_trial_objective", "first_trial_objective", "balanced_accuracy"])
    m, extra = run.results["metrics"], run.results["extra"]
    assert 0 <= m["f1_macro"] <= 1 and 0 <= m["balanced_accuracy"] <= 1
    # The trial the notebook calls best scores highest, and the final model trains with its hyperparameters (the
    # effective batch survives an OOM fallback). A wrong trial, score or hyperparameter fails here.
    trials = pd.read_csv(extra["trials_csv"])
    best = trials.loc[trials["number"] == int(extra["best_trial"])].iloc[0]
    assert best["value"] == trials["value"].max() == pytest.approx(m["best_trial_objective"])
    hyper = extra["best_hyperparameters"]
    assert {k: best[f"params_{k}"] for k in hyper} == pytest.approx(hyper)
    assert extra["final_batch"] * extra["final_accumulation"] == hyper["per_device_train_batch_size"]
    assert extra["n_trials"] == 2
    assert list(trials["number"]) == [0, 1]
    assert trials.loc[0, "value"] == pytest.approx(m["first_trial_objective"])
    assert 2e-5 <= trials["params_learning_rate"].min() and trials["params_learning_rate"].max() <= 5e-4
    assert set(extra["best_hyperparameters"]) == {"learning_rate", "per_device_train_batch_size", "weight_decay"}
    beats = m["best_trial_objective"] > m["first_trial_objective"]
    assert extra["search_verdict"].startswith("The search paid off" if beats else "No trial beat the first one")
    assert extra["sizes"] == {"train": 36, "validation": 18, "test": 18}
    config = json.loads((run.output_dir / "model" / "config.json").read_text())
    assert list(config["id2label"].values()) == ["sadness", "joy", "love", "anger", "fear", "surprise"]
    text = run.outputs_text()
    assert "Out of memory at per-device batch 32: retrying with batch 16 x 2" in text  # the simulated OOM rehearsal
    assert "effective batch 32 (asked for 32)" in text
