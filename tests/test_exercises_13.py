"""Notebook 13's card exercise, answered wrongly on purpose: the check cell after it must stop the run and say why.

Each test swaps the reference solution of the `card_data` exercise for a plausible mistake, runs the notebook in
the tiny profile (Hub off) and asserts that the checkpoint fails with its friendly message, not a later cell.
"""

import re

import nbformat
import papermill
import pytest

from nbrun import Plant, notebook_path, plant_tests, run_notebook

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


# --------------------------------------- the best-checkpoint and limitations exercises, planted (nbrun.run_plants)
MORE_PLANTS = {
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
