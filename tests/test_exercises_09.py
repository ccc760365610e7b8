"""Notebook 09's label-alignment exercise (issue 12): the student writes ``align_labels``, a locked check compares it
with ``cu.ner.align_labels`` on real training sentences. Here the check's own cells run on planted answers, right
and wrong, so a check that cannot fail, or fails without saying where and why, is caught without running the
whole notebook."""

import nbformat
import pytest

import course_utils as cu
from course_utils.instructor import student
from nbrun import NOTEBOOK_DIR, Plant, plant_tests

NOTEBOOK = NOTEBOOK_DIR / "09_entity_extraction.ipynb"
MAX_LENGTH = 64  # the tiny profile's, as in the notebook


def cells():
    return [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]


def solution_cell():
    found = [c for c in cells() if c.source.startswith("def align_labels(")]
    assert len(found) == 1, "09 must hold one cell defining align_labels, the exercise"
    return found[0]


def check_cells():
    """The locked cells after the exercise: the comparison helper and the loop over training sentences."""
    code = cells()
    first = code.index(next(c for c in code if c.source.startswith("def align_labels(")))
    after = [c for c in code[first + 1:first + 3] if "locked" in c.metadata.get("tags", [])]
    assert len(after) == 2 and "cu.ner.align_labels" in after[1].source, "the two locked check cells follow"
    return [c.source for c in after]


@pytest.fixture(scope="module")
def namespace():
    from transformers import AutoTokenizer

    raw, _ = cu.data.load_dataset("conll2003", cu.profiles.get_profile("tiny"))
    return {"cu": cu, "raw": raw, "max_length": MAX_LENGTH,
            "tokenizer": AutoTokenizer.from_pretrained(cu.models.tokenizer_source()),
            "label_names": raw["train"].features["ner_tags"].feature.names}


def run_check(namespace, align_source, capsys=None):
    ns = dict(namespace)
    exec(align_source, ns)
    for source in check_cells():
        exec(source, ns)
    return ns


def test_the_reference_solution_passes_and_the_check_covers_split_words(namespace, capsys):
    ns = run_check(namespace, solution_cell().source)
    assert ns["multi_piece"] >= 50, "the check's sentences must hold many words cut into several pieces"
    out = capsys.readouterr().out
    assert f"matches the reference on {len(namespace['raw']['train'][:64]['tokens'])} sentences" in out


def test_the_stub_raises_the_exercise_and_its_hint_gives_nothing_away(namespace):
    stub, tasks = student.stub_source(solution_cell().source)
    assert len(tasks) == 1
    for answer in ("-100", "IGNORE_INDEX", "None", "previous", "first piece", "word_labels["):
        assert answer not in tasks[0], f"the stub's hint gives away {answer!r}: {tasks[0]}"
    assert "word_labels[word]" not in stub and "previous" not in stub
    with pytest.raises(NotImplementedError, match=r"^Exercise: return a list with one label per entry of word_ids"):
        run_check(namespace, stub)


def test_the_student_version_starts_with_this_exercise(tmp_path):
    student.write_student_versions([NOTEBOOK], tmp_path)
    version = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    assert version.metadata["course"]["exercises"][0].startswith("return a list with one label per entry")
    stub = next(c for c in version.cells if c.metadata.get("course_exercises"))
    assert stub.source.startswith("def align_labels(") and "raise NotImplementedError" in stub.source


EVERY_PIECE = """
def align_labels(word_ids, word_labels):
    return [-100 if word is None else word_labels[word] for word in word_ids]
"""
B_TO_I_ON_LATER_PIECES = """
def align_labels(word_ids, word_labels):
    return cu.ner.align_labels(word_ids, word_labels, True, label_names)
"""
SPECIAL_TOKENS_TAGGED = """
def align_labels(word_ids, word_labels):
    labels, previous = [], None
    for word in word_ids:
        labels.append(0 if word is None else word_labels[word] if word != previous else -100)
        previous = word
    return labels
"""
WORD_BEFORE = """
def align_labels(word_ids, word_labels):
    labels, previous = [], None
    for word in word_ids:
        labels.append(-100 if word is None or word == previous else word_labels[word - 1])
        previous = word
    return labels
"""
TOKEN_SHIFT = """
def align_labels(word_ids, word_labels):
    right = cu.ner.align_labels(word_ids, word_labels)
    return right[1:] + [-100]  # [CLS] forgotten: every label one token early
"""
ONE_PER_WORD = """
def align_labels(word_ids, word_labels):
    return list(word_labels)
"""
NOTHING = """
def align_labels(word_ids, word_labels):
    labels = [-100] * len(word_ids)
"""


@pytest.mark.parametrize("planted, message", [
    (EVERY_PIECE, r"Training sentence 0 \(Witnesses had reported .*\), token 15: expected -100, found 0\. Look at the "
                  r"rule: '##age' is a later piece of the word 'underage': only a word's first piece gets its tag"),
    (B_TO_I_ON_LATER_PIECES, r"Training sentence 0 .*, token 15: expected -100, found 0\. .*'##age' is a later "
                             r"piece of the word 'underage'"),  # label_all_tokens=True: right, but not this rule
    (SPECIAL_TOKENS_TAGGED, r"Training sentence 0 .*, token 0: expected -100, found 0\. Look at the rule: \[CLS\] is "
                            r"a special token \(word id None\), and special tokens get -100"),
    (WORD_BEFORE, r"Training sentence 0 .*: expected 3, found 0\. Look at the rule: 'il' is the first piece of the "
                  r"word 'Iltalehti', so it gets the word's tag"),
    (TOKEN_SHIFT, r"Training sentence 0 .*, token 0: expected -100, found 0\. .*\[CLS\] is a special token"),
    (ONE_PER_WORD, r"Training sentence 0 .*, expected a list with one label per token \(35\), found 29 labels"),
    (NOTHING, r"Training sentence 0 .*, expected a list with one label per token \(35\), found a NoneType"),
], ids=["labels-on-every-piece", "b-to-i-on-later-pieces", "no-minus-100-on-special-tokens",
        "off-by-one-word", "off-by-one-token", "one-label-per-word", "returns-nothing"])
def test_wrong_answers_fail_the_check_with_where_and_why(namespace, planted, message):
    with pytest.raises(AssertionError, match=r"^align_labels is not right yet\. " + message):
        run_check(namespace, planted)


# ------------------------------------------- augmentation, timing and date rules, planted in one run (nbrun.run_plants)
MORE_PLANTS = {
    "the words after the last entity dropped": Plant(
        "walk the sentence; copy O words, replace each entity span", [("    new_words += words[position:]\n", "")],
        "augmentation must keep one tag per word", through="with_entities = [i for i, tags in enumerate(train_raw"),
    "the start time returned as the seconds": Plant(
        "train from `resume`, timing it with time.time()", [("time.time() - t0, data", "t0, data")],
        "train_variant should return (trainer, seconds spent training, eval set)",
        through="main_trainer, main_seconds, main_eval = train_variant("),
    "two-digit years": Plant("tag every (1-2 digit day, month name, 4-digit year)", [(r'"\d{4}"', r'"\d{2}"')],
                             "day Month year"),
}
planted_run, test_another_planted_wrong_answer_is_stopped = plant_tests("09", MORE_PLANTS)
