"""Tokenization helpers that several notebooks share."""

from __future__ import annotations

from typing import Any, Sequence


def head_tail_encode(tokenizer: Any, texts: Sequence[str], max_length: int, head_tokens: int | None = None) -> dict:
    """Tokenize keeping the first ``head_tokens`` and the last tokens of each text, dropping the middle.

    Long reviews often state their verdict at the end; plain truncation would cut it (Sun et al. 2019, "How to
    Fine-Tune BERT for Text Classification", found head+tail beats head-only). Default: a quarter head.
    """
    budget = max_length - tokenizer.num_special_tokens_to_add()
    head = budget // 4 if head_tokens is None else head_tokens
    ids = tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
    kept = [x if len(x) <= budget else x[:head] + x[len(x) - (budget - head):] for x in ids]
    encoded = [tokenizer.build_inputs_with_special_tokens(x) for x in kept]
    return {"input_ids": encoded, "attention_mask": [[1] * len(x) for x in encoded]}


def truncation_share(tokenizer: Any, texts: Sequence[str], max_length: int) -> float:
    """The share of texts longer than ``max_length`` tokens (special tokens included), i.e. cut by truncation."""
    lengths = [len(x) for x in tokenizer(list(texts), truncation=False)["input_ids"]]
    return sum(n > max_length for n in lengths) / max(len(lengths), 1)
