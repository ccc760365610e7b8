"""Notebook 05's exercise checkpoints: a wrong answer planted in each new exercise makes its checkpoint fail with
the message that tells the student what to fix (the reference solutions pass: test_nb05_summarization.py)."""

import re

import nbformat
import papermill
import pytest

from course_utils.instructor import student
from nbrun import NOTEBOOK_DIR, Plant, plant_tests, run_notebook, work_dir

pytestmark = pytest.mark.notebook

NOTEBOOK = NOTEBOOK_DIR / "05_summarization.ipynb"

# exercise (the `def` line of its cell) -> (a wrong body for its solution region, what the checkpoint must say)
WRONG = {
    "targets at the input length": (
        "def preprocess(batch):",
        "return tokenizer([prefix + a for a in batch['article']], text_target=batch['summary'],\n"
        "                 max_length=max_source_length, truncation=True)",
        r"preprocess is not there yet:\n- labels are cut at max_source_length=128, the article's length"),
    "no labels": (
        "def preprocess(batch):",
        "return tokenizer([prefix + a for a in batch['article']], max_length=max_source_length, truncation=True)",
        r"preprocess is not there yet:\n- no 'labels'"),
    "labels padded with the pad id": (
        "def pad_labels(label_lists):",
        "longest = max(len(x) for x in label_lists)\n"
        "return np.array([list(x) + [tokenizer.pad_token_id] * (longest - len(x)) for x in label_lists])",
        r"pad_labels is not there yet:\n- the padding is the pad id \(0\), a real token .* pad labels with -100"),
    "-100 decoded as it is": (
        "def compute_metrics(eval_pred):",
        "predictions = tokenizer.batch_decode(generated, skip_special_tokens=True)\n"
        "scores = rouge_scores(predictions, tokenizer.batch_decode(labels, skip_special_tokens=True))",
        r"compute_metrics is not there yet:\n- compute_metrics failed on labels padded with -100 .*replace it by "
        r"the pad id before decoding"),
}


def planted(nb, header: str, wrong: str):
    """The notebook with the solution region of the cell starting with ``header`` replaced, cut after that cell."""
    index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.startswith(header))
    lines = nb.cells[index].source.splitlines()
    begin = next(i for i, line in enumerate(lines) if line.strip().startswith(student.BEGIN))
    end = next(i for i, line in enumerate(lines) if line.strip().startswith(student.END))
    indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
    lines[begin:end + 1] = [indent + line for line in wrong.splitlines()]
    nb.cells[index].source = "\n".join(lines)
    nb.cells = nb.cells[: index + 1]  # the checkpoint is in the same cell; nothing after it is needed
    return nb


@pytest.mark.parametrize("name", list(WRONG))
def test_a_wrong_answer_fails_its_checkpoint_with_its_message(name):
    header, wrong, message = WRONG[name]
    folder = work_dir() / f"05-wrong-{re.sub(r'[^a-z0-9]+', '-', name)}"
    (folder / "planted").mkdir(parents=True, exist_ok=True)
    source = folder / "planted" / NOTEBOOK.name
    nbformat.write(planted(nbformat.read(NOTEBOOK, as_version=4), header, wrong), source)
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        run_notebook(source, folder, {"profile": "tiny", "output_dir": str(folder / "outputs")})
    assert failure.value.ename == "AssertionError", failure.value.evalue
    assert re.search(message, failure.value.evalue, re.S), failure.value.evalue


def test_every_new_exercise_has_a_planted_wrong_answer():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    headers = {header for header, _, _ in WRONG.values()}
    for header in headers:
        cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(header))
        assert student.BEGIN in cell.source and "problems" in cell.source, f"{header}: no solution or checkpoint"


# ----------------------------------------------------- the lead baseline's exercise, planted (nbrun.run_plants)
MORE_PLANTS = {
    "the headline counted as lead words": Plant(
        "return the first n words of cu.summarization.body(article)",
        [("cu.summarization.body(article).split()", "article.split()")], "headline removed"),
}
planted_run, test_another_planted_wrong_answer_is_stopped = plant_tests("05", MORE_PLANTS)
