import csv
import json
from pathlib import Path

import pytest

from nbrun import check_common, execute

pytestmark = pytest.mark.notebook

METRICS = ["imdb_accuracy", "imdb_majority_accuracy", "trainer_imdb_accuracy", "ner_entity_f1", "ner_all_o_f1",
           "qa_f1", "qa_exact_match", "qa_empty_f1"]


@pytest.fixture(scope="module")
def run():
    return execute("12")


def test_results_hold_three_tasks_and_baselines(run):
    check_common(run, METRICS)
    m = run.results["metrics"]
    for name in ("imdb_accuracy", "trainer_imdb_accuracy", "ner_entity_f1"):
        assert 0 <= m[name] <= 1, f"{name} = {m[name]}"
    assert 0 <= m["qa_exact_match"] <= m["qa_f1"] <= 100
    # the tiny IMDb slices are balanced, so always answering the majority class scores exactly one half
    assert m["imdb_majority_accuracy"] == 0.5
    assert m["ner_all_o_f1"] == 0.0 and m["qa_empty_f1"] == 0.0
    sizes = run.results["extra"]["sizes"]
    assert (sizes["imdb_train"], sizes["imdb_eval"], sizes["ner_train"], sizes["ner_eval"]) == (48, 32, 48, 24)
    assert (sizes["qa_train_questions"], sizes["qa_eval_questions"]) == (40, 24)
    assert sizes["qa_train_windows"] > 40, "long contexts must give several windows at max_length 128"


def test_offline_ner_says_it_uses_conll(run):
    assert run.results["extra"]["ner_dataset"] == "eriktks/conll2003"
    assert "Using CoNLL-2003 instead of WikiAnn" in run.outputs_text()


def test_loop_schedule_warms_up_and_decays(run):
    rows = list(csv.DictReader((run.output_dir / "training_log.csv").open()))
    peak = run.results["extra"]["learning_rate"]
    for task in ("sentiment", "ner", "qa"):
        steps = [r for r in rows if r["task"] == task and r["lr"]]
        lrs = [float(r["lr"]) for r in steps]
        assert max(lrs) == pytest.approx(peak) and lrs[-1] == pytest.approx(0.0, abs=1e-12), task
        evals = [r for r in rows if r["task"] == task and not r["lr"]]
        assert len(evals) == run.results["extra"]["epochs"], f"{task}: one evaluation per epoch"


def test_three_models_saved_with_tokenizer_and_heads(run):
    dirs = run.results["extra"]["model_dirs"]
    expected = {"sentiment": "BertForSequenceClassification", "ner": "BertForTokenClassification",
                "qa": "BertForQuestionAnswering"}
    for task, architecture in expected.items():
        folder = Path(dirs[task])
        assert (folder / "tokenizer.json").exists() and (folder / "model.safetensors").exists()
        config = json.loads((folder / "config.json").read_text())
        assert config["architectures"] == [architecture]
    ner_config = json.loads((Path(dirs["ner"]) / "config.json").read_text())
    assert ner_config["id2label"]["1"] == "B-PER" and len(ner_config["id2label"]) == 9


def test_inference_and_metrics_shown(run):
    text = run.outputs_text()
    lines = text.splitlines()
    for task in ("sentiment", "ner", "qa"):
        assert sum(l.startswith(f"{task}: ") for l in lines) == 2, f"two new examples predicted for {task}"
    line = next(l for l in text.splitlines() if l.startswith("course-metrics:"))
    assert json.loads(line.split(":", 1)[1]) == pytest.approx(run.results["metrics"])
    images = [o for c in run.notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2, "loss curves and the baseline comparison must be plotted"
