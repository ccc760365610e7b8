import json
from pathlib import Path

import pytest

from nbrun import check_common, execute

pytestmark = pytest.mark.notebook

FAKE = "hf_FakeTokenForNotebookTest0123456789"  # token-shaped, never valid


@pytest.fixture(scope="module")
def run():
    # A token in the environment must be found, masked, and (Hub off) lead to a dry run, never to a leak.
    return execute("13", env={"HF_TOKEN": FAKE})


def test_results_hold_accuracy_and_card_path(run):
    check_common(run, ["accuracy", "f1_macro", "best_validation_f1_macro"])
    m, extra = run.results["metrics"], run.results["extra"]
    assert 0 <= m["accuracy"] <= 1 and 0 <= m["f1_macro"] <= 1
    assert extra["model_card"].endswith("upload/README.md") and Path(extra["model_card"]).is_file()
    assert extra["test_size"] == 18 and extra["train_size"] == 36 and extra["epochs"] == 2
    assert 1 <= extra["best_epoch"] <= 2


def test_dry_run_writes_exactly_the_upload_folder(run):
    extra = run.results["extra"]
    assert extra["share_mode"] == "dry_run" and extra["repo_id"] is None
    assert "the Hub cannot be reached" in extra["share_reason"]
    upload = run.output_dir / "upload"
    on_disk = sorted(str(p.relative_to(upload)) for p in upload.rglob("*") if p.is_file())
    assert on_disk == extra["upload_files"]
    assert {"README.md", "config.json", "model.safetensors", "tokenizer.json"} <= set(on_disk)
    config = json.loads((upload / "config.json").read_text())
    assert config["id2label"]["0"] == "sadness" and len(config["id2label"]) == 6


def test_card_parses_with_valid_metadata(run):
    from huggingface_hub import ModelCard

    from course_utils import sharing

    card = ModelCard.load(run.results["extra"]["model_card"])
    assert sharing.card_problems(str(card)) == []
    meta = card.data.to_dict()
    assert meta["license"] == "apache-2.0" and meta["datasets"] == ["dair-ai/emotion"]
    assert meta["base_model"] == "tiny-random-bert"
    values = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert values["accuracy"] == pytest.approx(run.results["metrics"]["accuracy"], abs=1e-4)


def test_token_never_reaches_outputs_or_files(run):
    text = run.outputs_text()
    assert "token: hf_*** (37 characters) from the HF_TOKEN environment variable" in text
    executed = (run.output_dir.parent / f"{run.name}.ipynb").read_text()
    assert FAKE not in executed and FAKE[3:] not in executed
    from course_utils import sharing

    assert sharing.TOKEN_PATTERN.search(executed) is None, "no token-like hf_ string may appear"
    for path in run.output_dir.rglob("*"):
        if path.is_file():
            assert FAKE.encode() not in path.read_bytes(), f"the token leaked into {path}"


def test_printed_metrics_match_results(run):
    line = next(l for l in run.outputs_text().splitlines() if l.startswith("course-metrics:"))
    printed = json.loads(line.split(":", 1)[1])
    assert printed == pytest.approx({k: run.results["metrics"][k] for k in ("accuracy", "f1_macro")})


def test_card_and_push_are_visible_code_and_the_card_check_passes(run):
    import nbformat

    from nbrun import notebook_path

    text = run.outputs_text()
    assert "Card check passed: license apache-2.0, base_model tiny-random-bert, datasets ['dair-ai/emotion'], " \
           "2 test metrics, all equal to this run's" in text
    code = "\n".join(c.source for c in nbformat.read(notebook_path("13"), as_version=4).cells if c.cell_type == "code")
    for visible in ("ModelCardData(", "EvalResult(", "ModelCard.from_template(", "trainer.model.push_to_hub(",
                    "tokenizer.push_to_hub(", "card.push_to_hub(", "api.upload_folder(", "api.create_repo("):
        assert visible in code, f"{visible} must be written in the notebook, not hidden in course_utils"
    assert "cu.sharing.push(" not in code and "cu.sharing.build_card(info" not in code
