"""Notebook 07's exercises answered wrongly on purpose (issue 12): each check must stop its mistake and say why."""

import pytest

from nbrun import Plant, plant_tests

pytestmark = pytest.mark.notebook

SORT = "sort (text, label) pairs together by text length"
SORTED_PAIRS = "pairs = sorted(zip(texts, labels), key=lambda pair: len(pair[0]))"
PLANTS = {
    "the fix without dropout": Plant(
        "retrain on small_enc with weight decay 0.1", [("dropout=0.2, ", "")], "the fix should train with"),
    "texts sorted without their labels": Plant(
        SORT, [(SORTED_PAIRS, "pairs = list(zip(sorted(texts, key=len), labels))")], "some texts lost their own label"),
    "pairs kept but not sorted": Plant(SORT, [(SORTED_PAIRS, "pairs = list(zip(texts, labels))")],
                                       "sort the pairs by text length"),
    "a Trainer without the pretend GPU": Plant(
        "return a Trainer with these arguments, a fresh model and the PretendSmallGPU",
        [("callbacks=[PretendSmallGPU()]", "callbacks=[]")], "more than the pretend GPU fits",
        through="oom_args = transformers.TrainingArguments("),
}

planted_run, test_a_planted_wrong_answer_is_stopped = plant_tests("07", PLANTS)
