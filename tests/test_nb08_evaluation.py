import json

import pandas as pd
import pytest

from nbrun import check_common, execute, notebook_path, run_notebook

pytestmark = pytest.mark.notebook

METRICS = ["accuracy", "f1_macro", "f1_weighted", "log_loss", "ece", "mse", "pearson", "exact_match", "f1_qa",
           "train_accuracy", "accuracy_refined", "f1_macro_refined", "log_loss_refined", "int8_speedup",
           "int8_accuracy_drop_points"]


def check_retrain(m, extra, output_dir):
    """Section 8: one change from the gap's evidence, before/after on the same test set, decided on validation."""
    retrain = extra["retrain"]
    gap = retrain["train_accuracy"] - retrain["validation_accuracy_before"]
    assert retrain["gap"] == pytest.approx(gap) and retrain["train_accuracy"] == m["train_accuracy"]
    assert retrain["refinement"] == ("lower_lr" if gap > 0.05 else "smaller_batch")
    recipe = extra["recipe"]
    assert retrain["change"] == ({"learning_rate": recipe["learning_rate"] / 2} if retrain["refinement"] == "lower_lr"
                                 else {"per_device_train_batch_size": max(1, recipe["batch_size"] // 2)})
    before, after = retrain["table"]
    assert before["variant"] == "original" and after["variant"] == f"refined ({retrain['refinement']})"
    assert before["accuracy"] == m["accuracy"] and after["accuracy"] == m["accuracy_refined"]
    assert after["f1_macro"] == m["f1_macro_refined"] and after["log_loss"] == m["log_loss_refined"]
    assert retrain["adopted"] == (retrain["validation_accuracy_after"] > retrain["validation_accuracy_before"])
    saved = pd.read_csv(output_dir / "retrain.csv")
    assert saved["variant"].tolist() == ["original", after["variant"]]
    assert saved["accuracy"].tolist() == pytest.approx([m["accuracy"], m["accuracy_refined"]])
    assert f"Retraining with {retrain['refinement']}" in extra["summary"]


def test_evaluation_notebook_scores_every_task():
    run = execute("08")
    check_common(run, METRICS)
    m, extra = run.results["metrics"], run.results["extra"]
    for name in ("accuracy", "f1_macro", "f1_weighted", "ece", "ece_calibrated"):
        assert 0.0 <= m[name] <= 1.0, f"{name} = {m[name]}"
    assert m["log_loss"] > 0 and m["mse"] >= 0 and -1 <= m["pearson"] <= 1
    assert 0 <= m["exact_match"] <= m["f1_qa"] <= 100  # EM never exceeds F1
    assert m["accuracy_ci_low"] <= m["accuracy"] <= m["accuracy_ci_high"]
    assert m["temperature"] > 0
    assert m["int8_speedup"] > 0 and -100 <= m["int8_accuracy_drop_points"] <= 100  # int8 served the same reviews
    # temperature scaling is fitted to lower log loss and never changes a prediction
    table = {row["variant"].split(" (")[0]: row for row in extra["refinement"]}
    assert set(table) == {"as trained", "temperature scaling", f"threshold P(pos) > {extra['threshold']:.2f}"}
    assert table["temperature scaling"]["accuracy"] == table["as trained"]["accuracy"] == m["accuracy"]
    assert extra["sizes"] == {"train": 32, "validation": 16, "test": 32, "sts_train": 40, "sts_test": 20,
                              "qa_test": 24}
    # the deliverables the notebook promises, each written and not empty (an empty list would check nothing)
    assert extra["files"] == ["confusion_matrix.png", "reliability.png", "refinement.csv", "retrain.csv",
                              "retrain.png"]
    for name in extra["files"]:
        path = run.output_dir / name
        assert path.is_file() and path.stat().st_size > 0, f"{name} was not written"
    saved = pd.read_csv(run.output_dir / "refinement.csv")
    assert saved["variant"].tolist() == [row["variant"] for row in extra["refinement"]]
    assert f"{m['accuracy']:.3f}" in extra["summary"]
    shown = [line for line in run.outputs_text().splitlines() if line.startswith("course-metrics:")]
    assert json.loads(shown[0].split(":", 1)[1]) == m
    # no notebook 06 next to this run's output_dir: a quick model, and the printed reason
    assert extra["model_dir"] is None and extra["sentiment_model"].startswith("trained here with notebook 06's recipe")
    assert "No saved model from notebook 06: notebook 06 has not run next to this output_dir" in run.outputs_text()
    check_retrain(m, extra, run.output_dir)


def test_project_1_evaluates_and_refines_the_model_notebook_06_saved(tmp_path):
    """06 then 08 with their default output_dir layout (siblings): 08 finds 06's model and rebuilds 06's split."""
    outputs = tmp_path / "outputs"
    for prefix, name in (("06", "06_finetune_imdb"), ("08", "08_evaluation")):
        run_notebook(notebook_path(prefix), tmp_path, {"profile": "tiny", "output_dir": str(outputs / name)})
    ran06 = json.loads((outputs / "06_finetune_imdb" / "results.json").read_text())
    ran08 = json.loads((outputs / "08_evaluation" / "results.json").read_text())
    m, extra, hyper = ran08["metrics"], ran08["extra"], ran06["extra"]["hyperparameters"]
    assert extra["model_dir"] == str(outputs / "06_finetune_imdb" / "model")
    assert extra["sentiment_model"] == f"notebook 06's model, loaded from {extra['model_dir']}"
    assert {k: extra["recipe"][k] for k in ("seed", "learning_rate", "batch_size", "max_length", "validation_reviews")} \
        == {k: hyper[k] for k in ("seed", "learning_rate", "batch_size", "max_length", "validation_reviews")}
    assert extra["sizes"]["train"] == hyper["train_reviews"] and extra["sizes"]["validation"] == hyper["validation_reviews"]
    # the same model on the same reviews: 06's numbers come back exactly
    assert m["train_accuracy"] == ran06["metrics"]["train_accuracy"]
    assert extra["retrain"]["validation_accuracy_before"] == ran06["extra"]["best_eval_accuracy"]
    check_retrain(m, extra, outputs / "08_evaluation")
