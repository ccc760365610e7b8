import numpy as np
import pytest

import course_utils as cu
from course_utils.errors import CourseError
from course_utils.ner import (IGNORE_INDEX, align_labels, align_predictions, bracketed, continuation_ids,
                              entity_metrics, entity_spans, extract_entities, highlight_html, label_maps,
                              make_compute_metrics, split_words, tag_words, tokenize_and_align_labels,
                              truncated_words, word_tags)

NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]  # CoNLL-2003's order
# WordPiece splits checked with the bert-base-uncased vocabulary (the course's tokenizer):
# "huggingface" -> hugging ##face, "Acme" -> ac ##me, "Corp." -> corp . , "Paris" -> paris
WORDS = ["Acme", "Corp.", "hired", "huggingface", "in", "Paris"]
TAGS = [3, 4, 0, 3, 0, 5]  # B-ORG I-ORG O B-ORG O B-LOC
X = IGNORE_INDEX


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(cu.models.tokenizer_source())


def test_the_wordpiece_splits_this_file_relies_on(tokenizer):
    enc = tokenizer(WORDS, is_split_into_words=True)
    assert tokenizer.convert_ids_to_tokens(enc["input_ids"]) == [
        "[CLS]", "ac", "##me", "corp", ".", "hired", "hugging", "##face", "in", "paris", "[SEP]"]
    assert enc.word_ids() == [None, 0, 0, 1, 1, 2, 3, 3, 4, 5, None]


def test_first_piece_labelled_others_ignored(tokenizer):
    enc = tokenize_and_align_labels({"tokens": [WORDS], "ner_tags": [TAGS]}, tokenizer)
    assert enc["labels"] == [[X, 3, X, 4, X, 0, 3, X, 0, 5, X]]


def test_label_all_tokens_turns_b_into_i_on_continuation_pieces(tokenizer):
    enc = tokenize_and_align_labels({"tokens": [WORDS], "ner_tags": [TAGS]}, tokenizer, label_all_tokens=True,
                                    label_names=NAMES)
    # ac(B-ORG) ##me(I-ORG), corp(I-ORG) .(I-ORG), hugging(B-ORG) ##face(I-ORG)
    assert enc["labels"] == [[X, 3, 4, 4, 4, 0, 3, 4, 0, 5, X]]


def test_continuation_ids_and_label_maps():
    assert continuation_ids(NAMES) == [0, 2, 2, 4, 4, 6, 6, 8, 8]
    assert continuation_ids(["O", "B-X"]) == [0, 1]  # no I-X: the piece keeps its tag
    id2label, label2id = label_maps(NAMES)
    assert id2label[5] == "B-LOC" and label2id["I-MISC"] == 8


def test_other_label_column_and_truncation(tokenizer):
    enc = tokenize_and_align_labels({"tokens": [WORDS], "tags": [TAGS]}, tokenizer, label_column="tags",
                                    max_length=6)
    assert enc["labels"] == [[X, 3, X, 4, X, X]]  # [CLS] ac ##me corp . [SEP]
    assert truncated_words(enc, [len(WORDS)]) == 4


def test_round_trip_back_to_words(tokenizer):
    enc = tokenize_and_align_labels({"tokens": [WORDS], "ner_tags": [TAGS]}, tokenizer)
    labels = np.array(enc["labels"])
    # a "perfect model": logits peak at the gold label on every piece (continuation pieces get an arbitrary 0)
    logits = np.eye(len(NAMES))[np.where(labels == X, 0, labels)]
    gold = [NAMES[t] for t in TAGS]
    assert word_tags(logits[0], enc.word_ids(0), NAMES) == gold
    assert word_tags(np.where(labels == X, 0, labels)[0], enc.word_ids(0), NAMES) == gold  # ids work too
    pred, true = align_predictions(logits, labels, NAMES)
    assert pred == true == [gold]


def test_word_tags_reads_first_piece_and_pads_truncated_words():
    # word 0 = pieces 1-2 (B-PER, then a wrong I-LOC ignored), word 1 = piece 3
    assert word_tags([0, 1, 6, 3, 0], [None, 0, 0, 1, None], NAMES, n_words=4) == ["B-PER", "B-ORG", "O", "O"]


def test_entity_metrics_exact_numbers():
    true = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"]]
    scores = entity_metrics(pred, true)
    # 3 gold entities, 3 predicted, 2 right: P = R = F1 = 2/3; 5 of 6 tags right
    assert scores["overall_precision"] == pytest.approx(2 / 3)
    assert scores["overall_recall"] == pytest.approx(2 / 3)
    assert scores["overall_f1"] == pytest.approx(2 / 3)
    assert scores["overall_accuracy"] == pytest.approx(5 / 6)
    assert scores["PER"]["f1"] == 1.0 and scores["LOC"]["f1"] == 0.0 and scores["ORG"]["f1"] == pytest.approx(2 / 3)


def test_compute_metrics_for_trainer():
    labels = np.array([[X, 1, 2, X, 0, 5, X]])
    ids = np.array([[0, 1, 2, 0, 0, 3, 0]])
    out = make_compute_metrics(NAMES)((ids, labels))
    assert out["f1"] == pytest.approx(0.5) and out["precision"] == pytest.approx(0.5)
    assert out["f1_PER"] == 1.0 and out["f1_LOC"] == 0.0 and out["accuracy"] == pytest.approx(3 / 4)  # 4 words, 3 right


def test_entity_spans_and_display():
    words = ["Acme", "Corp", "hired", "Ann", "Lee", "in", "Paris", "."]
    tags = ["B-ORG", "I-ORG", "O", "B-PER", "I-PER", "O", "I-LOC", "O"]  # a stray I- starts an entity
    assert entity_spans(words, tags) == [(0, 2, "ORG"), (3, 5, "PER"), (6, 7, "LOC")]
    assert extract_entities(words, tags) == [("Acme Corp", "ORG"), ("Ann Lee", "PER"), ("Paris", "LOC")]
    assert bracketed(words, tags) == "[Acme Corp]ORG hired [Ann Lee]PER in [Paris]LOC ."
    assert entity_spans(["A", "B"], ["B-PER", "B-PER"]) == [(0, 1, "PER"), (1, 2, "PER")]
    assert entity_spans(["A", "B"], ["B-PER", "I-ORG"]) == [(0, 1, "PER"), (1, 2, "ORG")]
    page = highlight_html(["AT&T", "sued"], ["B-ORG", "O"])
    assert "AT&amp;T <small" in page and page.count("<mark") == 1


def test_entity_spans_are_the_entities_seqeval_scores():
    """On CoNLL-2003's own tags, and on predictions spoilt the ways models spoil them, the spans shown are exactly
    the entities seqeval's metric counts: precision and recall rebuilt from the spans equal seqeval's."""
    rows = cu.data.load_local(cu.data.TINY_DATA_DIR / "conll2003")["validation"]
    gold = [[NAMES[t] for t in row["ner_tags"]] for row in rows]
    rng = np.random.default_rng(0)
    # a fifth of the tags replaced at random: stray I- tags, wrong types, entities cut or merged
    spoilt = [[str(rng.choice(NAMES)) if rng.random() < 0.2 else t for t in tags] for tags in gold]
    gold_spans = {(i, s) for i, tags in enumerate(gold) for s in entity_spans(tags, tags)}
    pred_spans = {(i, s) for i, tags in enumerate(spoilt) for s in entity_spans(tags, tags)}
    assert len(gold_spans) > 20, "the tiny slice should hold a few dozen entities"
    hits = len(gold_spans & pred_spans)
    scores = entity_metrics(spoilt, gold)
    assert scores["overall_precision"] == pytest.approx(hits / len(pred_spans))
    assert scores["overall_recall"] == pytest.approx(hits / len(gold_spans))
    for kind in ("PER", "ORG", "LOC", "MISC"):
        assert scores[kind]["number"] == sum(k == kind for _, (_, _, k) in gold_spans)


def test_split_words_like_conll():
    assert split_words("The U.S. unit of Acme Corp. (the Buyer) pays $1,500.00 by 3/4/2024.") == [
        "The", "U.S.", "unit", "of", "Acme", "Corp.", "(", "the", "Buyer", ")", "pays", "$", "1,500.00", "by",
        "3/4/2024", "."]
    assert split_words("The Buyer's agent, O'Neil-Smith of AT&T, gave three months' notice.") == [
        "The", "Buyer", "'s", "agent", ",", "O'Neil-Smith", "of", "AT&T", ",", "gave", "three", "months", "'",
        "notice", "."]


def test_tag_words_with_a_tiny_model(tokenizer):
    import torch
    from transformers import BertConfig, BertForTokenClassification

    id2label, label2id = label_maps(NAMES)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
                        intermediate_size=8, num_labels=len(NAMES), id2label=id2label, label2id=label2id)
    torch.manual_seed(0)
    model = BertForTokenClassification(config)
    tags = tag_words(model, tokenizer, [WORDS, ["Paris"]], batch_size=1)
    assert [len(t) for t in tags] == [6, 1] and all(t in NAMES for row in tags for t in row)


# ------------------------------------------------------------------ errors a student can make


def test_error_tags_and_words_of_different_lengths(tokenizer):
    with pytest.raises(CourseError, match=r"one tag per word in every example.*example 0: 6 words and 5 tags"):
        tokenize_and_align_labels({"tokens": [WORDS], "ner_tags": [TAGS[:5]]}, tokenizer)
    with pytest.raises(CourseError, match=r"entity_spans: expected one tag per word.*2 words and 1 tags"):
        entity_spans(["Ann", "Lee"], ["B-PER"])
    with pytest.raises(CourseError, match=r"as many tag lists as word lists, found 1 word lists and 2 tag lists"):
        entity_metrics([["O"], ["O"]], [["O"]])
    with pytest.raises(CourseError, match=r"at least one tag per word the tokenizer saw \(2\), found 1 tags"):
        align_labels([None, 0, 1, None], [0])


def test_error_unknown_tag_ids(tokenizer):
    with pytest.raises(CourseError, match=r"Tag ids in align_labels: expected integers 0\.\.8.*found \[9\]"):
        tokenize_and_align_labels({"tokens": [["Ann"]], "ner_tags": [[9]]}, tokenizer, label_names=NAMES)
    with pytest.raises(CourseError, match=r"Tag ids in predictions: expected integers 0\.\.2.*found \[7\]"):
        align_predictions(np.array([[0, 7]]), np.array([[0, 1]]), ["O", "B-PER", "I-PER"])
    with pytest.raises(CourseError, match=r"Tag ids in word_tags: expected integers 0\.\.2.*found \[5\]"):
        word_tags([0, 5, 0], [None, 0, None], ["O", "B-PER", "I-PER"])
    with pytest.raises(CourseError, match=r"Tags: expected 'O' or IOB2 tags.*found \['PER'\]"):
        extract_entities(["Ann"], ["PER"])


def test_error_missing_inputs(tokenizer):
    with pytest.raises(CourseError, match=r"label_all_tokens=True: expected label_names.*found label_names=None"):
        align_labels([None, 0, None], [1], label_all_tokens=True)
    with pytest.raises(CourseError, match=r"Column 'ner_tags': expected a column named 'ner_tags'"):
        tokenize_and_align_labels({"tokens": [WORDS], "tags": [TAGS]}, tokenizer)
    with pytest.raises(CourseError, match=r"predictions and labels of the same shape, found \(1, 2\) and \(1, 3\)"):
        align_predictions(np.array([[0, 1]]), np.array([[0, 1, 0]]), NAMES)
    with pytest.raises(CourseError, match=r"one prediction per token, found 2 predictions for 3 tokens"):
        word_tags([0, 1], [None, 0, None], NAMES)
