"""Notebook 14's exercises answered wrongly on purpose (issue 12): each check must stop its mistake and say why.

The last two plants run inside the launched processes (two CPU processes in the tiny profile); their errors come
back through the launcher, with the check's message in the root cause.
"""

import pytest

from nbrun import Plant, plant_tests

pytestmark = pytest.mark.notebook

LAUNCH = "cu.parallel.check_launch(num_processes, gpus)"
PLANTS = {
    "the sqrt rule scales linearly": Plant(
        'factor = 1 for "same"', [('"sqrt": (new_batch / tuned_batch) ** 0.5', '"sqrt": new_batch / tuned_batch')],
        "check the factors"),
    "scores not gathered": Plant(
        "gather (per_review, hit) from every process", [("per_review, hit = accelerator.gather_for_metrics((per_review, "
                                                         "hit))", "pass")],
        "gather_for_metrics should count every test review once", through=LAUNCH),
    "the optimizer never steps": Plant(
        "model(**batch).loss, accelerator.backward(loss), optimizer step",
        [("                optimizer.step()  # a no-op until the last accumulation pass\n", "")],
        "the optimizer never stepped", through=LAUNCH),
}

planted_run, test_a_planted_wrong_answer_is_stopped = plant_tests("14", PLANTS)
