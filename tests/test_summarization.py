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


# ---------------------------------------------------------------- extractive pieces


def test_sentences_and_headline_follow_body():
    assert summarization.headline(ARTICLE) == "Rain closes schools in Leeds"
    assert summarization.headline("It rained.\nThen it stopped.") == ""
    assert summarization.sentences(ARTICLE) == [
        "Heavy rain closed 40 schools in Leeds on Monday.",
        "Mr. Smith, the head of one, said pupils would return on Wednesday.", "Roads were flooded.",
        "The Met Office expects more rain."]
    assert summarization.sentences(ARTICLE)[:2] == summarization.lead_sentences(ARTICLE, 2).split("\n")


def test_sentence_labels_count_word_pairs_in_the_summary(bbc):
    summary = "Heavy rain closed 40 schools in Leeds on Monday.Roads were flooded badly."  # glued, one word added
    sentences = summarization.sentences(ARTICLE)
    assert summarization.sentence_labels(sentences, summary) == [1, 0, 1, 0]
    assert summarization.sentence_labels(["Rain.", "Snow."], "rain all day") == [1, 0]  # one word: the word
    assert summarization.sentence_labels(["", "..."], summary) == [0, 0]
    # half of the pairs: "in Leeds", "Leeds on" of 4 pairs in "we met in Leeds on"
    assert summarization.sentence_labels(["We met in Leeds on"], summary, min_overlap=0.5) == [1]
    assert summarization.sentence_labels(["We met in Leeds on"], summary, min_overlap=0.6) == [0]
    with pytest.raises(CourseError, match="sentence_labels min_overlap: expected a share above 0 and at most 1"):
        summarization.sentence_labels(sentences, summary, min_overlap=50)
    # on real BBC articles the summaries keep a good share of sentences, never none and never all
    shares = [sum(labels) / len(labels) for labels in (
        summarization.sentence_labels(summarization.sentences(x["article"]), x["summary"]) for x in bbc)]
    assert 0.2 < sum(shares) / len(shares) < 0.7


def test_top_sentences_keeps_article_order():
    sentences = ["A.", "B.", "C.", "D."]
    assert summarization.top_sentences(sentences, [0.1, 0.9, 0.2, 0.8], 2) == "B.\nD."
    assert summarization.top_sentences(sentences, [0.5] * 4, 2) == "A.\nB."  # ties: the earlier sentence
    assert summarization.top_sentences(sentences, [0.1, 0.9, 0.2, 0.8], 9) == "A.\nB.\nC.\nD."
    with pytest.raises(CourseError, match="top_sentences scores: expected one score per sentence, found 3 scores"):
        summarization.top_sentences(sentences, [1, 2, 3], 2)
    with pytest.raises(CourseError, match="top_sentences k: expected at least 1 sentence, found 0"):
        summarization.top_sentences(sentences, [1, 2, 3, 4], 0)


# ---------------------------------------------------------------- exercise checkpoints


def reference_preprocess(tokenizer, batch, source_len, target_len):
    features = tokenizer(batch["article"], max_length=source_len, truncation=True)
    features["labels"] = tokenizer(text_target=batch["summary"], max_length=target_len, truncation=True)["input_ids"]
    return features


def test_preprocess_problems_names_each_mistake(tiny, bbc):
    _, _, tokenizer = tiny
    batch = bbc[:3]
    check = lambda features: summarization.preprocess_problems(features, tokenizer, batch, "", 128, 32)  # noqa: E731
    assert check(reference_preprocess(tokenizer, batch, 128, 32)) == []
    one_call = tokenizer(batch["article"], text_target=batch["summary"], max_length=128, truncation=True)
    assert check(one_call) == ["labels are cut at max_source_length=128, the article's length: the summaries need "
                               "their own limit, max_target_length=32"]
    no_labels = tokenizer(batch["article"], max_length=128, truncation=True)
    assert check(no_labels) == ["no 'labels': the summaries' token ids belong under features['labels']"]
    padded = reference_preprocess(tokenizer, batch, 128, 32)
    padded["labels"] = tokenizer(text_target=batch["summary"], max_length=32, truncation=True,
                                 padding="max_length")["input_ids"]
    padded["labels"][0] = padded["labels"][0][:-3] + [0, 0, 0]  # the first summary shorter than 32: padding shows
    assert check(padded)[0].startswith("labels are padded already")
    sliced = reference_preprocess(tokenizer, batch, 128, 64)
    sliced["labels"] = [row[:32] for row in sliced["labels"]]
    assert check(sliced)[0].startswith("labels differ from the summaries tokenized as targets at max_target_length=32")
    prefixed = reference_preprocess(tokenizer, {"article": ["summarize: " + a for a in batch["article"]],
                                                "summary": batch["summary"]}, 128, 32)
    assert check(prefixed) == ["input_ids differ from the articles (with the prefix '') tokenized at "
                               "max_source_length=128"]
    assert "expected preprocess to return the tokenizer's output" in check(None)[0]


def test_label_padding_problems():
    expected = [[5, 6, 102], [7, 102, -100]]
    assert summarization.label_padding_problems([[5, 6, 102], [7, 102, -100]], expected, 0) == []
    assert "the padding is the pad id (0)" in summarization.label_padding_problems([[5, 6, 102], [7, 102, 0]],
                                                                                   expected, 0)[0]
    assert "expected an array of shape (2, 3)" in summarization.label_padding_problems([[5, 6, 102]], expected, 0)[0]
    assert summarization.label_padding_problems([[5, 6, 102], [-100, 7, 102]], expected, 0) == [
        "3 of 6 positions differ from the collator's labels: keep each example's ids as they are, in order, and "
        "fill only the end with -100"]


def test_compute_metrics_problems(tiny):
    _, _, tokenizer = tiny
    labels = [[101, 4542, 1999, 102], [101, 4542, 102, -100]]

    def good(eval_pred):
        generated, gold = eval_pred
        gold = [[t if t != -100 else 0 for t in row] for row in gold]
        return summarization.rouge(tokenizer.batch_decode(generated, skip_special_tokens=True),
                                   tokenizer.batch_decode(gold, skip_special_tokens=True))

    def keeps_minus_100(eval_pred):
        generated, gold = eval_pred
        return summarization.rouge(tokenizer.batch_decode(generated), tokenizer.batch_decode(gold))

    assert summarization.compute_metrics_problems(good, labels, tokenizer.pad_token_id) == []
    assert "failed on labels padded with -100" in summarization.compute_metrics_problems(
        keeps_minus_100, labels, tokenizer.pad_token_id)[0]
    assert "expected a dict of ROUGE scores with 'rougeL'" in summarization.compute_metrics_problems(
        lambda p: 0.5, labels, tokenizer.pad_token_id)[0]
    assert "ROUGE-L should be 1.0" in summarization.compute_metrics_problems(
        lambda p: {"rougeL": 0.25}, labels, tokenizer.pad_token_id)[0]
