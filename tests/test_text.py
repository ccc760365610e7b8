"""course_utils.text: head+tail truncation and the share of texts a max_length cuts, with the real WordPiece."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from course_utils import models, text
from course_utils.errors import CourseError

WORDS = ("alpha bravo charlie delta echo golf hotel india kilo lima mike oscar papa quebec romeo sierra tango "
         "uniform victor whiskey yankee zulu").split()


@pytest.fixture(scope="module")
def tokenizer():
    """The bert-base-uncased WordPiece tokenizer (the offline MiniLM package ships the same vocabulary)."""
    return AutoTokenizer.from_pretrained(models.minilm_path())


@pytest.fixture(scope="module")
def long_text() -> str:
    return " ".join(f"{w} {i}" for i, w in enumerate(WORDS * 3))  # 66 words and 66 numbers


def test_long_text_keeps_head_and_tail(tokenizer, long_text):
    ids = tokenizer(long_text, add_special_tokens=False)["input_ids"]
    assert len(ids) > 100
    out = text.head_tail_encode(tokenizer, [long_text], max_length=32)
    encoded = out["input_ids"][0]
    assert len(encoded) == 32 and out["attention_mask"] == [[1] * 32]
    assert encoded[0] == tokenizer.cls_token_id == 101 and encoded[-1] == tokenizer.sep_token_id == 102
    # default head: a quarter of the 30 tokens left after [CLS] and [SEP]
    assert encoded[1:8] == ids[:7]
    assert encoded[8:-1] == ids[-23:]
    decoded = tokenizer.decode(encoded[1:-1])
    assert decoded.startswith("alpha 0 bravo 1") and decoded.endswith("yankee 64 zulu 65")


def test_head_tokens_choice(tokenizer, long_text):
    ids = tokenizer(long_text, add_special_tokens=False)["input_ids"]
    head_only = text.head_tail_encode(tokenizer, [long_text], max_length=20, head_tokens=18)["input_ids"][0]
    assert head_only == tokenizer(long_text, truncation=True, max_length=20)["input_ids"]  # plain truncation
    tail_only = text.head_tail_encode(tokenizer, [long_text], max_length=20, head_tokens=0)["input_ids"][0]
    assert tail_only == [101, *ids[-18:], 102]
    split = text.head_tail_encode(tokenizer, [long_text], max_length=20, head_tokens=5)["input_ids"][0]
    assert split == [101, *ids[:5], *ids[-13:], 102]


def test_short_texts_are_unchanged(tokenizer, long_text):
    texts = ["Tokenization is unbelievable, huggingface", "A short review.", "", long_text]
    out = text.head_tail_encode(tokenizer, texts[:3], max_length=64)
    plain = tokenizer(texts[:3])
    assert out["input_ids"] == plain["input_ids"]
    assert out["attention_mask"] == plain["attention_mask"]
    assert out["input_ids"][2] == [101, 102]
    assert text.head_tail_encode(tokenizer, [], max_length=16) == {"input_ids": [], "attention_mask": []}
    mixed = text.head_tail_encode(tokenizer, texts, max_length=16)
    assert [len(x) for x in mixed["input_ids"]] == [9, 6, 2, 16]


def test_text_exactly_at_the_limit_is_unchanged(tokenizer):
    one = "alpha bravo charlie delta echo golf"  # 6 tokens
    assert text.head_tail_encode(tokenizer, [one], max_length=8)["input_ids"] == [tokenizer(one)["input_ids"]]
    cut = text.head_tail_encode(tokenizer, [one], max_length=7, head_tokens=2)["input_ids"][0]
    assert tokenizer.decode(cut) == "[CLS] alpha bravo delta echo golf [SEP]"


def test_bad_lengths(tokenizer):
    with pytest.raises(CourseError, match=r"^head_tail_encode lengths: expected max_length >= 3 and 0 <= "
                                          r"head_tokens <= max_length - 2, found max_length=64, head_tokens=80\. "
                                          r"Fix: keep head_tokens below"):
        text.head_tail_encode(tokenizer, ["a b c"], max_length=64, head_tokens=80)
    with pytest.raises(CourseError, match=r"found max_length=2, head_tokens=None"):
        text.head_tail_encode(tokenizer, ["a b c"], max_length=2)


def test_tokenizer_without_cls_and_sep():
    class NoSpecials:
        cls_token_id = sep_token_id = None

    with pytest.raises(CourseError, match=r"^head_tail_encode: expected a BERT-style tokenizer with \[CLS\] and "
                                          r"\[SEP\] tokens, found NoSpecials without them\. Fix: use plain "
                                          r"truncation"):
        text.head_tail_encode(NoSpecials(), ["hi"], max_length=8)


def test_truncation_share(tokenizer, long_text):
    texts = ["alpha bravo", "alpha bravo charlie delta echo golf", long_text, "alpha"]  # 4, 8, >100, 3 tokens
    assert text.truncation_share(tokenizer, texts, max_length=8) == 0.25
    assert text.truncation_share(tokenizer, texts, max_length=7) == 0.5
    assert text.truncation_share(tokenizer, texts, max_length=3) == 0.75
    assert text.truncation_share(tokenizer, texts, max_length=512) == 0.0
    assert text.truncation_share(tokenizer, [], max_length=8) == 0.0
