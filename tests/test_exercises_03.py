"""Notebook 03's main exercise (issue 12): the student writes the TrainingArguments + Trainer set-up, and the check
cell after it must catch the mistakes older tutorials teach, each with its own message.

One kernel runs notebook 03 (tiny profile, Hub off) up to the exercise, then each planted answer followed by the
check cell, then the reference answer and the check once more. Planted cells are tagged ``raises-exception`` so the
run goes on after them; the test reads each check's error back from the executed notebook.
"""

import nbformat
import pytest

from nbrun import Plant, error_of, notebook_path, plant_tests, planted, run_after_setup

pytestmark = pytest.mark.notebook

CHECK = "Your TrainingArguments/Trainer set-up needs a change"

# name -> (what to replace in the reference answer, by what; the messages the check must give)
PLANTS = {
    "tokenizer= (removed in v5)": ([("processing_class=tokenizer", "tokenizer=tokenizer")],
                                   ["`tokenizer=` was removed in Transformers v5: write `processing_class=` instead"]),
    "evaluation_strategy= (removed in v5)": ([('eval_strategy="steps"', 'evaluation_strategy="steps"')],
                                             ["`evaluation_strategy=` was removed in Transformers v5: "
                                              "write `eval_strategy=` instead"]),
    "save per epoch, evaluate per steps, best at the end": (
        [('save_strategy="steps"', 'save_strategy="epoch"')],
        ["load_best_model_at_end needs save_strategy equal to eval_strategy: save when you evaluate"]),
    "no evaluations with load_best_model_at_end": (
        [('eval_strategy="steps"', 'eval_strategy="no"'), ('save_strategy="steps"', 'save_strategy="no"')],
        ["eval_strategy is 'no': the validation set is never scored, so there is no best checkpoint"]),
    "save per epoch, evaluate per steps": (
        [('save_strategy="steps"', 'save_strategy="epoch"'),
         ("    load_best_model_at_end=True,\n", "    load_best_model_at_end=False,\n")],
        ["save_strategy 'epoch' differs from eval_strategy 'steps': save when you evaluate",
         "load_best_model_at_end is off"]),
    "no tokenizer, no metric, the wrong learning rate": (
        [("    processing_class=tokenizer,  # v5's name for the removed tokenizer=\n", ""),
         ('    metric_for_best_model="accuracy",\n', ""), ("learning_rate=P.learning_rate", "learning_rate=1e-3"),
         ("output_dir=checkpoints", 'output_dir=output_dir')],
        ["the Trainer has no tokenizer: pass processing_class=tokenizer",
         "metric_for_best_model is 'loss': choose by validation 'accuracy'",
         "learning_rate is 0.001, the profile says 0.0005", "output_dir is ",  # all at once, in one message
         "so a re-run can resume"]),
}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Notebook 03 up to its exercise, then every plant + check, then the reference answer + check, executed."""
    folder = tmp_path_factory.mktemp("exercise03")
    nb = nbformat.read(notebook_path("03"), as_version=4)
    exercise = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "build args = " in c.source)
    check = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and CHECK in c.source)
    assert exercise < check, "the check must come after the exercise"
    cells = []
    for changes, _ in PLANTS.values():
        cells += [planted(nb.cells[exercise], changes),
                  nbformat.v4.new_code_cell(nb.cells[check].source, metadata={"tags": ["raises-exception"]})]
    return run_after_setup("03", exercise, cells + [nb.cells[exercise], nb.cells[check]], folder)


@pytest.mark.parametrize("number, name", list(enumerate(PLANTS)), ids=list(PLANTS))
def test_check_rejects_a_planted_wrong_answer_with_its_message(executed, number, name):
    answer, check = executed[2 * number], executed[2 * number + 1]
    found = error_of(check)
    assert found is not None, f"{name}: the check accepted a wrong answer"
    ename, message = found
    assert ename == "AssertionError" and message.startswith(CHECK), message
    for expected in PLANTS[name][1]:
        assert expected in message, f"{name}: {expected!r} not in the check's message:\n{message}"
    if "removed in v5" in name:  # the answer itself failed: Transformers refused the old keyword
        assert error_of(answer)[0] == "TypeError" and "unexpected keyword argument" in error_of(answer)[1]
    elif "best at the end" in name:  # Transformers refused the combination; the check says why in plain words
        assert error_of(answer)[0] == "ValueError" and "strategy to match" in error_of(answer)[1]
    else:
        assert error_of(answer) is None, f"{name}: the planted answer should build, and the check catch it"


def test_check_accepts_the_reference_answer(executed):
    answer, check = executed[-2], executed[-1]
    assert error_of(answer) is None and error_of(check) is None, error_of(check)
    printed = "".join(o.get("text", "") for o in check.outputs)
    assert printed.startswith("Set-up OK: evaluate and save every ") and "best checkpoint by accuracy" in printed


# ------------------------------------------------ the encoding and metrics exercises, planted in one run (nbrun.run_plants)
METRICS_PROBE_SAYS = "f1_macro: expected 0.733"
MORE_PLANTS = {
    "the head only": Plant(
        'return the head+tail encoding of batch["text"]',
        [("cu.text.head_tail_encode(tokenizer, batch[\"text\"], max_length=P.max_length)",
          "tokenizer(batch[\"text\"], truncation=True, max_length=P.max_length)")],
        "the first review is not its head+tail encoding"),
    "binary F1 reported as macro": Plant(
        "turn logits into class ids (argmax) and return", [(', average="macro")', ")")], METRICS_PROBE_SAYS),
}
planted_run, test_another_planted_wrong_answer_is_stopped = plant_tests("03", MORE_PLANTS)
