"""Notebook 08's bootstrap exercise, answered wrongly on purpose: the checks in its cell must stop each mistake.

One kernel runs notebook 08 (tiny profile, Hub off) up to the exercise, then each planted answer (tagged
``raises-exception`` so the run goes on), then the reference answer; the test reads each cell's error back.
"""

import nbformat
import pytest

from nbrun import Plant, error_of, notebook_path, plant_tests, planted, run_after_setup

pytestmark = pytest.mark.notebook

TASK = "def bootstrap_ci("
HINT = "draw the test indices WITH replacement (rng.integers), a fresh draw for every resample"

PLANTS = {  # name -> (what to replace in the reference answer, by what)
    "without replacement": [("idx = rng.integers(0, len(y_true), len(y_true))", "idx = rng.permutation(len(y_true))")],
    "one draw for every resample": [
        ("    values = []\n", "    values = []\n    idx = rng.integers(0, len(y_true), len(y_true))\n"),
        ("        idx = rng.integers(0, len(y_true), len(y_true))\n", "")],
}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exercise08")
    nb = nbformat.read(notebook_path("08"), as_version=4)
    exercise = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.startswith(TASK))
    cells = [planted(nb.cells[exercise], changes) for changes in PLANTS.values()] + [nb.cells[exercise]]
    return run_after_setup("08", exercise, cells, folder)


@pytest.mark.parametrize("number, name", list(enumerate(PLANTS)), ids=list(PLANTS))
def test_a_planted_wrong_bootstrap_is_stopped_with_its_hint(executed, number, name):
    found = error_of(executed[number])
    assert found is not None, f"{name}: the check accepted a wrong answer"
    assert found[0] == "AssertionError" and HINT in found[1], found


def test_the_reference_bootstrap_passes_its_checks(executed):
    assert error_of(executed[-1]) is None, error_of(executed[-1])
    printed = "".join(o.get("text", "") for o in executed[-1].outputs)
    assert "95% CI [" in printed and "normal approximation ±" in printed


# ------------------------------------------------------------- the F1 exercise, planted (nbrun.run_plants)
MORE_PLANTS = {
    "binary F1 under both names": Plant(
        'add out[f"f1_{average}"]', [("references=labels, average=average)", "references=labels)")],
        "scikit-learn gives"),
}
planted_run, test_another_planted_wrong_answer_is_stopped = plant_tests("08", MORE_PLANTS)
