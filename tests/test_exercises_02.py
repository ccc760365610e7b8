"""Notebook 02's exercises answered wrongly on purpose (issue 12): each check must stop its mistake and say why."""

import pytest

from nbrun import Plant, plant_tests

pytestmark = pytest.mark.notebook

PLANTS = {
    "a count instead of a share": Plant(
        "the share of `lengths` above P.max_length", [("np.mean(lengths", "np.sum(lengths")],
        "truncated_share should count the reviews with more than max_length tokens"),
    "no truncation": Plant(
        'tokenize batch["text"] with padding="max_length"', [("truncation=True", "truncation=False")],
        "every review should become exactly"),
    "real tokens counted as pads": Plant(
        "return the number of 0s in padded_batch", [("== 0", "== 1")], "a pad is a 0 in the attention mask"),
    "numpy instead of torch": Plant(
        'rename the "label" column to "labels"', [('set_format("torch"', 'set_format("numpy"')],
        "expected a 'labels' column in torch format", keep=("tokenized",)),
}

planted_run, test_a_planted_wrong_answer_is_stopped = plant_tests("02", PLANTS)
