"""Notebook 01's exercises answered wrongly on purpose (issue 12): each check must stop its mistake and say why."""

import pytest

from nbrun import Plant, plant_tests

pytestmark = pytest.mark.notebook

PLANTS = {
    "the label id instead of its name": Plant(
        'turn example["label"] into its name', [('name = label_feature.int2str(example["label"])',
                                                 'name = example["label"]')], "it should be the label's name"),
    "splits as columns": Plant(
        "count the examples of each label per split", [("index=label_feature.names).T", "index=label_feature.names)")],
        "counts needs one row per split"),
    "characters instead of words": Plant(
        "count the words of each text in `texts`", [("len(t.split())", "len(t)")], "not its characters"),
    "a config instead of a tokenizer": Plant(
        "load the tokenizer of choice.name_or_path", [("AutoTokenizer", "AutoConfig")],
        "load it with transformers.AutoTokenizer.from_pretrained"),
}

planted_run, test_a_planted_wrong_answer_is_stopped = plant_tests("01", PLANTS)
