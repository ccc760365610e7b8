"""Notebook 13's exercises answered wrongly on purpose: each check must stop its mistake and say why.

The card tests swap the reference solution of the `card_data` exercise for a plausible mistake, run the notebook in
the tiny profile (Hub off) and assert that the checkpoint fails with its friendly message, not a later cell. The
best-checkpoint and limitations exercises are planted in one run (nbrun.run_plants). The publish exercise runs only
with a write token, so its cell is executed on its own against a Hub kept in a dict.
"""

import contextlib
import io
import re
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import nbformat
import papermill
import pytest

import course_utils as cu
from nbrun import Plant, notebook_path, plant_tests, run_notebook, solution_of

pytestmark = pytest.mark.notebook

TASK = "build card_data"  # the start of the exercise's task line
BEGIN = re.compile(r"^[ \t]*### BEGIN SOLUTION: (?P<task>.*)$", re.M)


def reference_solution(nb) -> tuple[int, str]:
    """The index of the cell holding the card exercise, and its solution's code."""
    for index, cell in enumerate(nb.cells):
        match = BEGIN.search(cell.source)
        if cell.cell_type == "code" and match and match["task"].startswith(TASK):
            return index, cell.source[match.end():cell.source.index("### END SOLUTION")]
    raise AssertionError(f"no exercise starting {TASK!r} in notebook 13")


def run_with(tmp_path, old: str, new: str):
    """Run notebook 13 with ``old`` replaced by ``new`` inside the card exercise; return the papermill error."""
    nb = nbformat.read(notebook_path("13"), as_version=4)
    index, solution = reference_solution(nb)
    assert old in solution, f"the reference solution no longer holds {old!r}"
    nb.cells[index].source = nb.cells[index].source.replace(solution, solution.replace(old, new))
    planted = tmp_path / "13_share_model.ipynb"
    nbformat.write(nb, planted)
    (tmp_path / "run").mkdir()
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        run_notebook(planted, tmp_path / "run", {"profile": "tiny", "output_dir": str(tmp_path / "outputs")})
    return failure.value


def test_a_card_without_license_fails_the_check(tmp_path):
    error = run_with(tmp_path, "license=model_license, ", "")
    assert error.ename == "AssertionError"
    assert error.evalue.startswith("Your model card does not match this run yet:\n- Your card's license: expected "
                                   "a Hub license id such as 'apache-2.0', found no license. Fix: pass "
                                   "license=model_license to ModelCardData")
    assert "evaluation results" not in error.evalue  # only the planted mistake is reported


def test_metrics_that_do_not_match_the_run_fail_the_check(tmp_path):
    # a classic: the metrics reported in percent, not as the fractions the run computed
    error = run_with(tmp_path, "metric_value=value)", "metric_value=round(value * 100, 2))")
    assert error.ename == "AssertionError"
    assert "- Your card's evaluation results: expected this run's test metrics: accuracy=" in error.evalue
    assert "license" not in error.evalue


# ---------------------------- the metrics, best-checkpoint and limitations exercises, planted (nbrun.run_plants)
MORE_PLANTS = {
    "micro F1 reported as macro": Plant(
        'argmax the logits, return {"accuracy"', [('average="macro"', 'average="micro"')],
        "f1_macro: expected 0.733"),
    "the best checkpoint chosen by accuracy": Plant(
        "evaluate and save every epoch, keep the best checkpoint by macro F1",
        [('metric_for_best_model="f1_macro"', 'metric_for_best_model="accuracy"')],
        "the kept checkpoint must be the best epoch", through="per_epoch = history.dropna("),
    "the strongest class named as the weakest": Plant(
        "name the weakest class with its F1", [("is '{weakest}' \"\n    f\"(F1 {per_class_f1[weakest]:.2f})",
                                                "is '{max(per_class_f1, key=per_class_f1.get)}' \"\n    f\"(F1 high)")],
        "in the limitations"),
}
planted_run, test_another_planted_wrong_answer_is_stopped = plant_tests("13", MORE_PLANTS)


# ------------------------------------------ the publish exercise, against a Hub that keeps files in a dict (no kernel)
PUBLISH = "push model, tokenizer and card with push_to_hub"
UPLOAD = ["README.md", "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
SECRET = "hf_notARealToken123456"


def publish(tmp_path, monkeypatch, method: str, changes=()):
    """Run the publish cell of notebook 13 (with ``changes`` planted in its solution) against a Hub held in a dict.

    Returns (the plan after the cell, what it printed, the files each repository holds)."""
    nb = nbformat.read(notebook_path("13"), as_version=4)
    source = next(c.source for c in nb.cells if c.cell_type == "code" and PUBLISH in c.source)
    solution = wrong = solution_of(source)
    for old, new in changes:
        assert old in wrong, f"the reference answer no longer holds {old!r}"
        wrong = wrong.replace(old, new)
    hub: dict[str, set[str]] = {}

    class Api:  # the HfApi calls the cell makes
        def __init__(self, token=None):
            assert token == SECRET

        def whoami(self):
            return {"name": "student"}

        def create_repo(self, repo_id, private=False, exist_ok=False):
            hub.setdefault(repo_id, {".gitattributes"})

        def upload_folder(self, folder_path, repo_id, commit_message=None):
            if repo_id not in hub:
                raise RuntimeError(f"404 Client Error: Repository Not Found for {repo_id}")
            hub[repo_id] |= {p.name for p in Path(folder_path).iterdir()}

        def list_repo_files(self, repo_id):
            return sorted(hub.get(repo_id, ()))

    def pushes(*names):
        def push_to_hub(repo_id, token=None, private=False):
            assert token == SECRET
            hub.setdefault(repo_id, {".gitattributes"}).update(names)
        return SimpleNamespace(push_to_hub=push_to_hub)

    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    upload_dir = tmp_path / "outputs" / "upload"
    upload_dir.mkdir(parents=True)
    for name in UPLOAD:
        (upload_dir / name).write_text("x")
    namespace = dict(
        cu=cu, plan=cu.sharing.SharePlan("push", method, "a write token"), token=SimpleNamespace(value=SECRET),
        hub_username=None, repo_name="bert-course-emotion", private=True, output_dir=str(tmp_path / "outputs"),
        upload_dir=str(upload_dir), files=UPLOAD, repo_hint="student/bert-course-emotion",
        trainer=SimpleNamespace(model=pushes("config.json", "model.safetensors")),
        tokenizer=pushes("tokenizer.json", "tokenizer_config.json"), card=pushes("README.md"))
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(source.replace(solution, wrong), namespace)
    return namespace["plan"], printed.getvalue(), hub


@pytest.mark.parametrize("method", ["push_to_hub", "upload_folder"])
def test_the_reference_publish_uploads_every_file_of_the_folder(tmp_path, monkeypatch, method):
    plan, printed, hub = publish(tmp_path, monkeypatch, method)
    assert plan.mode == "push" and printed.startswith("published: https://huggingface.co/student/bert-course-emotion")
    assert hub["student/bert-course-emotion"] >= set(UPLOAD)


@pytest.mark.parametrize("method, changes, says", [
    ("push_to_hub", [("            card.push_to_hub(repo_id, token=token.value)\n", "")],
     "the repository lacks ['README.md'] of the upload folder"),
    ("upload_folder", [("folder_path=upload_dir", "folder_path=output_dir")],
     "the repository lacks ['README.md', 'config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']"),
], ids=["the card never pushed", "the output folder uploaded instead of the upload folder"])
def test_a_planted_incomplete_upload_is_caught_and_recorded_as_a_dry_run(tmp_path, monkeypatch, method, changes, says):
    plan, printed, _ = publish(tmp_path, monkeypatch, method, changes)
    assert plan.mode == "dry_run" and says in plan.reason, plan
    assert printed.startswith("Dry run (the upload failed (AssertionError: ") and SECRET not in printed
