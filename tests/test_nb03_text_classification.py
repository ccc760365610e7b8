import json
from pathlib import Path

import pytest

from nbrun import check_common, execute

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def run():
    return execute("03")


def test_results_hold_test_metrics(run):
    check_common(run, ["accuracy", "f1_macro", "log_loss"])
    m = run.results["metrics"]
    assert 0 <= m["accuracy"] <= 1 and 0 <= m["f1_macro"] <= 1
    assert m["log_loss"] > 0
    extra = run.results["extra"]
    assert extra["test_size"] == 32 and extra["train_size"] == 32 and extra["validation_size"] == 16
    # the set-up the exercise's check accepted: evaluate and save together, best by accuracy, v5's processing_class
    assert extra["setup"] == {"eval_strategy": "steps", "save_strategy": "steps", "metric_for_best_model": "accuracy",
                              "load_best_model_at_end": True, "processing_class": "BertTokenizer"}


def test_printed_metrics_match_results(run):
    line = next(l for l in run.outputs_text().splitlines() if l.startswith("course-metrics:"))
    printed = json.loads(line.split(":", 1)[1])
    assert printed == pytest.approx(run.results["metrics"])


def test_model_and_log_saved(run):
    model_dir = Path(run.results["extra"]["model_dir"])
    assert (model_dir / "config.json").exists() and (model_dir / "tokenizer.json").exists()
    config = json.loads((model_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "neg", "1": "pos"}
    log = (run.output_dir / "training_log.csv").read_text().splitlines()
    assert "eval_accuracy" in log[0] and len(log) > 2


def test_curves_plotted(run):
    images = [o for c in run.notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the training curves must be shown"
