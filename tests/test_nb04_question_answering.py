import json
import re

import pytest

from nbrun import check_common, execute

pytestmark = pytest.mark.notebook


def images(cell):
    return sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def test_question_answering_notebook_scores_and_analyses_errors():
    run = execute("04")
    check_common(run, ["exact_match", "f1", "v2_best_f1", "v2_f1_threshold_0", "v2_best_threshold"])
    m, extra = run.results["metrics"], run.results["extra"]
    assert 0 <= m["exact_match"] <= m["f1"] <= 100
    assert 0 <= m["v2_f1_threshold_0"] <= m["v2_best_f1"] <= 100  # the sweep includes threshold 0
    assert extra["eval_questions"] == 24 and extra["train_questions"] == 40  # the whole tiny slices
    assert extra["train_windows"] > extra["train_questions"]  # long contexts gave several windows
    assert extra["eval_windows"] >= extra["eval_questions"]
    errors = (run.output_dir / "errors.csv").read_text().splitlines()
    assert errors[0].startswith("id,question,prediction,gold,f1")
    assert len(errors) - 1 <= extra["eval_questions"]
    assert (run.output_dir / "model" / "config.json").exists()
    text = run.outputs_text()
    assert "char_span_to_tokens agrees with course_utils.qa on every window" in text
    # the student's own prepare_train_features and postprocess, checked against course_utils.qa, then used
    checked = re.search(r"prepare_train_features agrees with course_utils.qa on all (\d+) windows of (\d+) training "
                        r"questions \((\d+) extra windows from long contexts\)", text)
    assert checked and int(checked[2]) == 33 and int(checked[3]) > 0, "the check covers 32 questions + the long one"
    assert f"postprocess agrees with course_utils.qa on all {extra['eval_questions']} questions " \
           f"({extra['eval_windows']} windows)" in text
    drawn = [c for c in run.notebook.cells if c.cell_type == "code" and "token number in the context" in c.source]
    assert len(drawn) == 1 and images(drawn[0]) == 1, "the picture of the windows over the long context is drawn"
    assert sum(images(c) for c in run.notebook.cells) >= 4  # the rubric asks for 4 plots
    assert "every one of the 40 questions has its answer in at least one window" in text
    shown = [line for line in text.splitlines() if line.startswith("course-metrics:")]
    assert json.loads(shown[0].split(":", 1)[1]) == {k: m[k] for k in ("exact_match", "f1")}
