import json

import pytest

from nbrun import check_common, execute

pytestmark = pytest.mark.notebook


def test_finetune_imdb_notebook_trains_saves_and_logs():
    run = execute("06")
    check_common(run, ["accuracy", "f1_macro", "log_loss", "train_runtime_s", "train_accuracy"])
    m, extra = run.results["metrics"], run.results["extra"]
    assert 0.0 <= m["accuracy"] <= 1.0 and 0.0 <= m["f1_macro"] <= 1.0 and m["log_loss"] > 0
    assert m["test_reviews"] == 32  # the whole tiny test slice
    hyper = extra["hyperparameters"]
    assert hyper["train_reviews"] == 32 and hyper["warmup_steps"] == 0.1 and hyper["weight_decay"] == 0.01
    model_dir = run.output_dir / "model"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "training_log.csv", "training_log.jsonl",
                 "training_curves.png"):
        assert (model_dir / name).is_file(), f"{name} was not saved next to the model"
    config = json.loads((model_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "neg", "1": "pos"}
    records = [json.loads(line) for line in (model_dir / "training_log.jsonl").read_text().splitlines()]
    evals = [r for r in records if r.get("eval_validation_accuracy") is not None]
    assert len(evals) >= 2, "the log should hold several evaluations"
    assert all(0.0 <= r["eval_validation_accuracy"] <= 1.0 for r in evals)
    assert extra["best_eval_accuracy"] == max(r["eval_validation_accuracy"] for r in evals)
    # training accuracy on a fixed sample of training reviews, at every evaluation (the overfitting curve)
    assert all(0.0 <= r["eval_train_accuracy"] <= 1.0 and r["eval_train_loss"] > 0 for r in evals)
    assert hyper["train_eval_reviews"] == hyper["validation_reviews"] == 16 and hyper["seed"] == 42
    best = next(r for r in evals if r["eval_validation_accuracy"] == extra["best_eval_accuracy"])
    assert m["train_accuracy"] == best["eval_train_accuracy"], "train_accuracy is the kept checkpoint's"
    assert extra["final_train_accuracy"] == evals[-1]["eval_train_accuracy"]
    assert extra["final_validation_accuracy"] == evals[-1]["eval_validation_accuracy"]
    assert extra["overfit_gap"] == pytest.approx(extra["final_train_accuracy"] - extra["final_validation_accuracy"])
    assert not (run.output_dir / "checkpoints").exists(), "checkpoints should be removed after saving"
    text = run.outputs_text()
    assert "course-metrics:" in text and "id2label: {0: 'neg', 1: 'pos'}" in text
    analysis = "".join(o.get("data", {}).get("text/markdown", "") for c in run.notebook.cells
                       for o in c.get("outputs", []))
    assert f"labels **{m['accuracy']:.1%}**" in analysis  # the analysis quotes the run's own numbers
    assert f"best of\n{extra['best_eval_accuracy']:.1%}" in analysis
    assert f"scores {m['train_accuracy']:.1%}" in analysis and "overfitting" in analysis
    curves = [o for c in run.notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(curves) >= 2, "the length histogram and the training/validation curves must be shown"


def test_watching_trainer_scores_the_training_sample_without_moving_the_random_state(tmp_path):
    """06's WatchingTrainer: watching the training curve must not change the model training produces."""
    import datasets
    import nbformat
    import torch
    import transformers

    from course_utils.models import tiny_bert_path
    from nbrun import notebook_path

    cells = nbformat.read(notebook_path("06"), as_version=4).cells
    namespace = {"transformers": transformers}
    exec(next(c.source for c in cells if "class WatchingTrainer" in c.source), namespace)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(tiny_bert_path(), num_labels=2)
    reviews = datasets.Dataset.from_dict({"input_ids": [[101, 2307, 3185, 102]] * 4, "label": [0, 1, 0, 1]})
    args = transformers.TrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=2, report_to="none",
                                          use_cpu=True)

    def state_after(trainer_class, eval_sets):
        trainer = trainer_class(model=model, args=args, eval_dataset=eval_sets)  # seeds torch from args.seed
        trainer.evaluate()
        return torch.get_rng_state()

    validation_only = state_after(transformers.Trainer, {"validation": reviews})
    assert not torch.equal(state_after(transformers.Trainer, {"validation": reviews, "train": reviews}),
                           validation_only), "a plain Trainer's extra evaluation should move the random state"
    assert torch.equal(state_after(namespace["WatchingTrainer"], {"validation": reviews, "train": reviews}),
                       validation_only), "WatchingTrainer's training-sample evaluation moved the random state"
