"""Notebook 04's exercise checks catch wrong answers: each planted mistake makes its check cell fail with a message
that says where (which window or question) and what to look at.

One kernel runs the notebook in the tiny profile up to the last exercise's check; at each exercise every plant is
run (the planted exercise cell, then its check cell), and then the real solution, so the run goes on as usual.
"""

import copy
import re

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

import nbrun
from course_utils.instructor import student
from kernels import AsyncUnixSocketKernelManager
from nbrun import Plant, plant_tests

NOTEBOOK = nbrun.notebook_path("04")

CLAMP_SPAN = """    context = [i for i, s in enumerate(sequence_ids) if s == 1]
    start = max([i for i in context if offsets[i][0] <= start_char], default=context[0])
    end = min([i for i in context if offsets[i][1] >= end_char], default=context[-1])
    return start, end"""
CLAMP_WINDOW = """        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])
        context = [k for k, s in enumerate(enc.sequence_ids(i)) if s == 1]
        start = max([k for k in context if offsets[k][0] <= start_char], default=context[0])
        end = min([k for k in context if offsets[k][1] >= end_char], default=context[-1])"""


def swap(old, new):
    """A plant that replaces the text ``old`` (which must be in the solution) by ``new``."""
    def plant(source):
        assert source.count(old) == 1, f"the solution changed: {old!r} is no longer in it once"
        return source.replace(old, new)
    return plant


def region(new):
    """A plant that replaces the cell's second solution region (or its only one) by ``new``."""
    def plant(source):
        lines = source.splitlines()
        begins = [i for i, line in enumerate(lines) if line.strip().startswith(student.BEGIN)]
        ends = [i for i, line in enumerate(lines) if line.strip().startswith(student.END)]
        begin, end = begins[-1], ends[-1]
        return "\n".join(lines[:begin + 1] + new.splitlines() + lines[end:])
    return plant


# name -> (the exercise cell it goes into, how it is planted, what the check must say)
PLANTS = {
    "span: end token off by one": (
        "def char_span_to_tokens", swap("    return start, end\n", "    return start, end + 1\n"),
        r"window 2 of the long example: you found \(\d+, \d+\), expected \(\d+, \d+\)\. Look at the end: the first "
        r"context token that ends at or after end_char"),
    "span: never [CLS], clamps to the window": (
        "def char_span_to_tokens", region(CLAMP_SPAN),
        r"window 0 of the long example: you found \(\d+, \d+\), expected \(0, 0\)\. Look at windows whose context "
        r"misses part of the answer: they are labelled \(0, 0\), the \[CLS\] token"),
    "span: question tokens taken for context": (
        "def char_span_to_tokens", swap("if s == 1]", "if s is not None]"),
        r"window 3 of the long example: .*Look at the offsets of the context tokens only: sequence_ids == 1"),
    "features: stride overlap ignored": (
        "def prepare_train_features", swap("stride=stride", "stride=0"),
        r"your function cut 33 questions into \d+ windows, the reference into \d+\. Look at the tokenizer call: "
        r"truncate only the context, max_length, stride"),
    "features: end character off by one": (
        "def prepare_train_features", swap('end_char = start_char + len(answers["text"][0])',
                                           'end_char = start_char + len(answers["text"][0]) + 1'),
        r"window \d+ of question '\w+': you labelled \(\d+, \d+\), expected \(\d+, \d+\)\. Look at the end"),
    "features: windows without the answer not skipped": (
        "def prepare_train_features", region(CLAMP_WINDOW),
        r"window \d+ of question '\w+': you labelled \(\d+, \d+\), expected \(0, 0\)\. Look at windows whose "
        r"context misses part of the answer"),
    "postprocess: first window only": (
        "def postprocess", swap("for i in windows_of[example_id]:", "for i in windows_of[example_id][:1]:"),
        r"with max_answer_length=30, question '\w+' \([2-9] window\(s\)\): you answer .*Look at the windows: the "
        r"answer is the best span over all \d windows of the question, not of one"),
    "postprocess: max_answer_length ignored": (
        "def postprocess", swap("s <= e < s + max_answer_length and", "s <= e and"),
        r"with max_answer_length=\d+, question '\w+' .*Look at the length rule: spans of at most max_answer_length "
        r"tokens"),
    "postprocess: answers one token too long": (
        "def postprocess", swap("s <= e < s + max_answer_length and", "s <= e <= s + max_answer_length and"),
        r"with max_answer_length=\d+, question '\w+' .*Look at the length rule"),
}


def exercise_index(cells, marker):
    found = [i for i, c in enumerate(cells) if c.cell_type == "code" and re.search(rf"^{marker}\(", c.source, re.M)]
    assert len(found) == 1, f"expected one exercise cell defining {marker[4:]}, found cells {found}"
    return found[0]


def check_index(cells, exercise):
    """The cell that checks an exercise: the first after it that says the student's code agrees with cu.qa."""
    return next(i for i in range(exercise + 1, len(cells)) if "agrees with course_utils.qa" in cells[i].source)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """For each plant: the check cell's error (ename, evalue), or None when the check passed."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = nb.cells
    parameters = next(c for c in cells if "parameters" in c.metadata.get("tags", []))
    parameters.source += f'\nprofile = "tiny"\noutput_dir = "{tmp_path_factory.mktemp("planted") / "outputs"}"'
    exercises = {marker: exercise_index(cells, marker) for marker, _, _ in PLANTS.values()}
    checks = {index: check_index(cells, index) for index in exercises.values()}
    found = {}
    client = NotebookClient(nb, kernel_name="python3", timeout=600, kernel_manager_class=AsyncUnixSocketKernelManager,
                            resources={"metadata": {"path": str(nbrun.NOTEBOOK_DIR)}})
    with nbrun.environment(**nbrun.KERNEL_ENV), client.setup_kernel():
        for index, cell in enumerate(cells[:max(checks.values()) + 1]):
            for name, (marker, plant, _) in PLANTS.items():
                if exercises[marker] != index:
                    continue
                planted = copy.deepcopy(cell)
                planted.source = plant(cell.source)
                try:
                    client.execute_cell(planted, index)
                    for after in range(index + 1, checks[index] + 1):
                        client.execute_cell(copy.deepcopy(cells[after]), after)
                    found[name] = None
                except CellExecutionError as error:
                    found[name] = (error.ename, error.evalue)
            client.execute_cell(cell, index)  # the solution: the run goes on, and each check passes with it
    return found


@pytest.mark.notebook
@pytest.mark.parametrize("name", list(PLANTS))
def test_check_cell_catches_the_planted_mistake_with_a_friendly_message(outcomes, name):
    outcome = outcomes[name]
    assert outcome is not None, f"{name}: the check cell passed a wrong answer"
    ename, evalue = outcome
    assert ename == "AssertionError", f"{name}: the check failed with {ename}: {evalue}, not its own message"
    assert re.search(PLANTS[name][2], evalue), f"{name}: unexpected message {evalue!r}"


def test_each_exercise_has_a_locked_check_right_after_it_and_a_stub_that_gives_nothing_away():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    answers = ("only_second", "overflowing", "return_offsets", "stride=", "argsort", "answer_start", "len(",
               "offsets[", "sequence_ids", "char_span_to_tokens(", "max(", "+ 1")
    for marker in dict.fromkeys(marker for marker, _, _ in PLANTS.values()):
        index = exercise_index(nb.cells, marker)
        between = nb.cells[index + 1:check_index(nb.cells, index) + 1]
        assert len(between) <= 2 and all("locked" in c.metadata.get("tags", []) for c in between), \
            f"the check right after {marker!r} must be tagged 'locked'"
        check = "\n".join(c.source for c in between)
        assert "cu.qa." in check and "Look at" in check, f"the check after {marker!r} compares with cu.qa and explains"
        _, tasks = student.stub_source(nb.cells[index].source)
        assert tasks, f"{marker!r} holds no exercise"
        for task in tasks:
            assert not [a for a in answers if a in task], f"the hint {task!r} gives part of the answer away"


# ------------------------------------------ the arguments and analysis exercises, planted in one run (nbrun.run_plants)
WORDS = "group per_question by first_word"
SCORED = 'per_question["f1"] = np.arange(len(per_question), dtype=float) % 7  # tiny\'s random model scores ~0'
MORE_PLANTS = {
    "checkpoints in output_dir": Plant(
        "build `args` (transformers.TrainingArguments) as described above",
        [("output_dir=checkpoints", "output_dir=output_dir")], "args do not match the settings above: output_dir="),
    "sorted from lowest to highest": Plant(WORDS, [("sort_values(ascending=False)", "sort_values(ascending=True)")],
                                           "from highest to lowest", setup=SCORED),
    "a sum instead of the mean": Plant(WORDS, [('["f1"].mean()', '["f1"].sum()')], "the mean F1 of the questions",
                                       setup=SCORED),
}
planted_run, test_another_planted_wrong_answer_is_stopped = plant_tests("04", MORE_PLANTS)
