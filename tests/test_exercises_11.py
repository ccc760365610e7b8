"""Notebook 11's exercises answered wrongly on purpose (issue 12): each check must stop its mistake and say why."""

import pytest

from nbrun import Plant, plant_tests

pytestmark = pytest.mark.notebook

MISTAKES = "a DataFrame of the wrong test predictions"
PLANTS = {
    "string columns kept": Plant(
        "Dataset.from_pandas(frame, preserve_index=False), then map", [(', remove_columns=["text", "label_text"]', "")],
        "still has ['label_text', 'text']"),
    "micro instead of macro F1": Plant(
        "argmax the logits; return accuracy, balanced_accuracy and f1_macro", [('average="macro"', 'average="micro"')],
        "f1_macro: expected 0.733"),
    "the learning rate on a linear scale": Plant(
        "learning_rate log-uniform 2e-5..5e-4", [(", log=True", "")], "log-uniform over 2e-5..5e-4"),
    "every prediction kept": Plant(
        MISTAKES, [("mistakes[test_pred != test_labels]", "mistakes")], "every wrong prediction and only those"),
    "least confident first": Plant(MISTAKES, [("ascending=False", "ascending=True")], "most confident first"),
}

planted_run, test_a_planted_wrong_answer_is_stopped = plant_tests("11", PLANTS)
