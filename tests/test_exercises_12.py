"""Notebook 12's exercises answered wrongly on purpose (issue 12): each check must stop its mistake and say why."""

import pytest

from nbrun import Plant, plant_tests

pytestmark = pytest.mark.notebook

STEP = "loss under autocast; scaler.scale(loss).backward()"
PLANTS = {
    "no clipping": Plant(STEP, [("    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)\n", "")],
                         "clip (torch.nn.utils.clip_grad_norm_) before the step"),
    "gradients never cleared": Plant(STEP, [("    optimizer.zero_grad()\n", "")], "end with optimizer.zero_grad()"),
    "float labels": Plant(
        'tokenizer.pad the ids and masks (return_tensors="pt")',
        [('torch.tensor([item["labels"] for item in items])',
          'torch.tensor([item["labels"] for item in items], dtype=torch.float)')], "make them a LongTensor"),
    "tags padded with 0": Plant(
        "a (batch, width) LongTensor of labels, padded on the right", [("[cu.ner.IGNORE_INDEX]", "[0]")],
        "padding is ignored"),
}

planted_run, test_a_planted_wrong_answer_is_stopped = plant_tests("12", PLANTS)
