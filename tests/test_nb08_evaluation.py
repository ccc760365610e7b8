import json

import pandas as pd
import pytest

from nbrun import check_common, execute

pytestmark = pytest.mark.notebook

METRICS = ["accuracy", "f1_macro", "f1_weighted", "log_loss", "ece", "mse", "pearson", "exact_match", "f1_qa"]


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
    # temperature scaling is fitted to lower log loss and never changes a prediction
    table = {row["variant"].split(" (")[0]: row for row in extra["refinement"]}
    assert set(table) == {"as trained", "temperature scaling", f"threshold P(pos) > {extra['threshold']:.2f}"}
    assert table["temperature scaling"]["accuracy"] == table["as trained"]["accuracy"] == m["accuracy"]
    assert extra["sizes"] == {"train": 32, "validation": 16, "test": 32, "sts_train": 40, "sts_test": 20,
                              "qa_test": 24}
    # the deliverables the notebook promises, each written and not empty (an empty list would check nothing)
    assert extra["files"] == ["confusion_matrix.png", "reliability.png", "refinement.csv"]
    for name in extra["files"]:
        path = run.output_dir / name
        assert path.is_file() and path.stat().st_size > 0, f"{name} was not written"
    saved = pd.read_csv(run.output_dir / "refinement.csv")
    assert saved["variant"].tolist() == [row["variant"] for row in extra["refinement"]]
    assert f"{m['accuracy']:.3f}" in extra["summary"]
    shown = [line for line in run.outputs_text().splitlines() if line.startswith("course-metrics:")]
    assert json.loads(shown[0].split(":", 1)[1]) == m
