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
    assert m["best_trial_objective"] >= m["first_trial_objective"]
    assert extra["n_trials"] == 2
    trials = pd.read_csv(extra["trials_csv"])
    assert list(trials["number"]) == [0, 1]
    assert trials["value"].max() == pytest.approx(m["best_trial_objective"])
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
