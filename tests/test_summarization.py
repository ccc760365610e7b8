"""course_utils.summarization: splits, lead baselines, decoding, ROUGE and end-of-sequence checks."""

import pytest

from course_utils import data, models, profiles, summarization
from course_utils.errors import CourseError

ARTICLE = ("Rain closes schools in Leeds\n\nHeavy rain closed 40 schools in Leeds on Monday. Mr. Smith, the head of "
           "one, said pupils would return on Wednesday. Roads were flooded.\n\nThe Met Office expects more rain.")


@pytest.fixture(scope="module")
def bbc():
    return data.load_local(data.TINY_DATA_DIR / "bbc_news_summary")["train"]


@pytest.fixture(scope="module")
def tiny():
    choice = models.resolve_seq2seq("t5-small", profiles.PROFILES["tiny"])
    return choice, *models.load_seq2seq(choice)


def test_three_way_split_is_seeded_disjoint_and_sized(bbc):
    first = summarization.three_way_split(bbc, validation_size=5, test_size=7, seed=1)
    again = summarization.three_way_split(bbc, validation_size=5, test_size=7, seed=1)
    assert {k: len(v) for k, v in first.items()} == {"train": 28, "validation": 5, "test": 7}
    assert list(first["test"]["id"]) == list(again["test"]["id"])
    ids = [set(first[s]["id"]) for s in ("train", "validation", "test")]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert set().union(*ids) == set(bbc["id"])
    other = summarization.three_way_split(bbc, validation_size=5, test_size=7, seed=2)
    assert list(other["test"]["id"]) != list(first["test"]["id"])
    with pytest.raises(CourseError, match=r"validation_size \+ test_size below the 40 examples, found 20 \+ 20"):
        summarization.three_way_split(bbc, 20, 20)


def test_body_drops_only_a_headline():
    assert summarization.body(ARTICLE).startswith("Heavy rain closed 40 schools")
    assert summarization.body("It rained.\nThen it stopped.") == "It rained.\nThen it stopped."
    assert summarization.body("No newline here") == "No newline here"


def test_lead_baselines():
    assert summarization.lead_sentences(ARTICLE, 2) == (
        "Heavy rain closed 40 schools in Leeds on Monday.\n"
        "Mr. Smith, the head of one, said pupils would return on Wednesday.")
    assert summarization.lead_sentences(ARTICLE, 10).split("\n")[-1] == "The Met Office expects more rain."
    assert summarization.lead_words(ARTICLE, 4) == "Heavy rain closed 40"
    with pytest.raises(CourseError, match="lead_sentences n: expected at least 1 sentence, found 0"):
        summarization.lead_sentences(ARTICLE, 0)
    with pytest.raises(CourseError, match="lead_words n: expected at least 1 word, found -2"):
        summarization.lead_words(ARTICLE, -2)


def test_rouge_matches_rouge_score():
    from rouge_score import rouge_scorer

    pred, ref = "Heavy rain closed schools in Leeds.", "Rain closed 40 schools in Leeds on Monday."
    scores = summarization.rouge([pred], [ref])
    direct = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True).score(ref, pred)
    for key in ("rouge1", "rouge2", "rougeL"):
        assert scores[key] == pytest.approx(direct[key].fmeasure)
    assert summarization.rouge([ref], [ref])["rougeLsum"] == pytest.approx(1.0)


def test_decode_turns_minus_100_into_padding(tiny):
    _, _, tokenizer = tiny
    ids = tokenizer(["hello world", "rain"])["input_ids"]
    labels = [ids[0], ids[1] + [-100] * (len(ids[0]) - len(ids[1]))]
    assert summarization.decode(labels, tokenizer) == ["hello world", "rain"]


def test_labels_missing_eos_finds_sliced_targets(tiny):
    _, model, tokenizer = tiny
    eos = summarization.eos_token_id(model)
    assert eos == tokenizer.sep_token_id
    long = "Rain closed schools in Leeds on Monday and roads were flooded across the county for days."
    kept = tokenizer(text_target=[long, "Rain."], max_length=8, truncation=True)["input_ids"]
    assert max(len(x) for x in kept) == 8
    assert summarization.labels_missing_eos(kept, eos) == []  # the tokenizer truncates and keeps [SEP] last
    sliced = [x[:8] for x in tokenizer(text_target=[long, "Rain."])["input_ids"]]
    assert summarization.labels_missing_eos(sliced, eos) == [0]  # slicing cuts the end-of-sequence token off
    padded = [kept[1] + [-100, -100], kept[0]]
    assert summarization.labels_missing_eos(padded, eos) == []
    assert summarization.labels_missing_eos([[], [-100]], eos) == [0, 1]


def test_eos_token_id_reads_the_generation_config():
    class Config:
        eos_token_id = None

    class Model:
        config = Config()
        generation_config = Config()

    model = Model()
    model.generation_config = type("G", (), {"eos_token_id": [1, 7]})()
    assert summarization.eos_token_id(model) == 1
    with pytest.raises(CourseError, match="end-of-sequence id: expected an eos_token_id"):
        summarization.eos_token_id(Model())
