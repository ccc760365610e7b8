"""Notebook 06's exercises answered wrongly on purpose (issue 12): each check must stop its mistake and say why."""

import pytest

from nbrun import Plant, plant_tests

pytestmark = pytest.mark.notebook

ENCODE = 'head+tail encode batch["text"]'
PLANTS = {
    "labels forgotten": Plant(ENCODE, [('    encoded["labels"] = batch["label"]\n', "")],
                              "encode must add the labels as 'labels'"),
    "the head only": Plant(
        ENCODE, [('cu.text.head_tail_encode(tokenizer, batch["text"], P.max_length)',
                  'tokenizer(batch["text"], truncation=True, max_length=P.max_length)')],
        "the first review is not encoded as head+tail"),
    "labels compared with themselves": Plant(
        'return {"accuracy": ...} from eval_pred', [("np.argmax(eval_pred.predictions, axis=-1)", "eval_pred.label_ids")],
        "accuracy: expected 0.750"),
    "the model saved without its tokenizer": Plant(
        "save the model and tokenizer to model_dir", [("trainer.save_model(model_dir)",
                                                      "trainer.model.save_pretrained(model_dir)")],
        "lacks ['tokenizer_config.json']"),
}

planted_run, test_a_planted_wrong_answer_is_stopped = plant_tests("06", PLANTS)
