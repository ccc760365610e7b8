"""Tokenization helpers that several notebooks share."""

from __future__ import annotations

import numbers
from typing import Any, Sequence

from .errors import CourseError, problem


def _check_args(texts: Any, max_length: Any, where: str) -> None:
    """Texts must be a list of strings (one string is not a batch) and max_length a whole number."""
    if isinstance(texts, str) or not hasattr(texts, "__len__"):
        raise CourseError(problem(f"{where} texts", "a list of texts (e.g. batch['text'])",
                                  f"{type(texts).__name__} {texts!r}"[:80],
                                  "wrap a single text in a list: [text]"))
    if not isinstance(max_length, numbers.Integral) or isinstance(max_length, bool):
        raise CourseError(problem(f"{where} max_length", "a whole number of tokens, e.g. 128",
                                  f"{type(max_length).__name__} {max_length!r}",
                                  "pass a number without quotes (max_length=128, or P.max_length)"))


def head_tail_encode(tokenizer: Any, texts: Sequence[str], max_length: int, head_tokens: int | None = None) -> dict:
    """Tokenize keeping the first ``head_tokens`` and the last tokens of each text, dropping the middle.

    Long reviews often state their verdict at the end; plain truncation would cut it (Sun et al. 2019, "How to
    Fine-Tune BERT for Text Classification", found head+tail beats head-only). Default: a quarter head.
    """
    _check_args(texts, max_length, "head_tail_encode")
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    if cls is None or sep is None:
        raise CourseError(problem("head_tail_encode", "a BERT-style tokenizer with [CLS] and [SEP] tokens",
                                  f"{type(tokenizer).__name__} without them",
                                  "use plain truncation: tokenizer(texts, truncation=True, max_length=...)"))
    budget = max_length - 2  # room for [CLS] and [SEP]
    head = budget // 4 if head_tokens is None else head_tokens
    if budget < 1 or not 0 <= head <= budget:
        raise CourseError(problem("head_tail_encode lengths", "max_length >= 3 and 0 <= head_tokens <= max_length - 2",
                                  f"max_length={max_length}, head_tokens={head_tokens}",
                                  "keep head_tokens below max_length - 2 (or leave it None for a quarter)"))
    ids = tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"] if len(texts) else []
    kept = [x if len(x) <= budget else x[:head] + x[len(x) - (budget - head):] for x in ids]
    encoded = [[cls, *x, sep] for x in kept]
    return {"input_ids": encoded, "attention_mask": [[1] * len(x) for x in encoded]}


def truncation_share(tokenizer: Any, texts: Sequence[str], max_length: int) -> float:
    """The share of texts longer than ``max_length`` tokens (special tokens included), i.e. cut by truncation."""
    _check_args(texts, max_length, "truncation_share")
    if not len(texts):  # a fast tokenizer fails on an empty batch
        return 0.0
    lengths = [len(x) for x in tokenizer(list(texts), truncation=False)["input_ids"]]
    return sum(n > max_length for n in lengths) / max(len(lengths), 1)
