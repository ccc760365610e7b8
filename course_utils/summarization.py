"""Summarization helpers: lead baselines, a seeded three-way split, decoding, ROUGE and end-of-sequence checks.

Which encoder-decoder to fine-tune (t5-small online, a warm-started BERT2BERT offline, a tiny random one in the
tiny profile) is model resolution, so it lives beside the encoders' in ``course_utils.models``
(``resolve_seq2seq``, ``load_seq2seq``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .errors import CourseError, problem

IGNORE_INDEX = -100  # label positions the loss skips (padding)


def three_way_split(ds: Any, validation_size: int, test_size: int, seed: int = 42) -> Any:
    """Split one ``datasets.Dataset`` into a seeded ``DatasetDict`` of train, validation and test."""
    import datasets

    for name, value in (("validation_size", validation_size), ("test_size", test_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise CourseError(problem(f"three_way_split {name}", "a whole number of examples, at least 1",
                                      repr(value), f"pass {name}=20 (a number, not text)"))
    if validation_size + test_size >= len(ds):
        raise CourseError(problem(
            "three_way_split sizes", f"validation_size + test_size below the {len(ds)} examples",
            f"{validation_size} + {test_size}", "ask for smaller validation/test sets"))
    held = ds.train_test_split(test_size=validation_size + test_size, seed=seed)
    parts = held["test"].train_test_split(test_size=test_size, seed=seed)
    return datasets.DatasetDict(train=held["train"], validation=parts["train"], test=parts["test"])


def body(article: str) -> str:
    """The article without its first line when that line is a headline (BBC articles start with one)."""
    head, sep, rest = article.strip().partition("\n")
    return rest.strip() if sep and rest.strip() and not head.rstrip().endswith((".", "!", "?", '"')) else article


def lead_sentences(article: str, n: int = 3) -> str:
    """The lead baseline: the first ``n`` sentences of the article body, one per line.

    >>> lead_sentences("Rain in Leeds\\n\\nIt rained. Roads flooded. Schools shut. Shops stayed open.", 2)
    'It rained.\\nRoads flooded.'
    """
    from .metrics import sentences_per_line

    if n < 1:
        raise CourseError(problem("lead_sentences n", "at least 1 sentence", str(n), "pass n=3 (the usual lead-3)"))
    sentences = [s for line in body(article).split("\n") for s in sentences_per_line(line).split("\n") if s.strip()]
    return "\n".join(sentences[:n])


def lead_words(article: str, n: int) -> str:
    """The first ``n`` words of the article body: a lead baseline with a fixed length budget.

    >>> lead_words("Rain in Leeds\\n\\nIt rained all day in Leeds.", 3)
    'It rained all'
    """
    if n < 1:
        raise CourseError(problem("lead_words n", "at least 1 word", str(n), "pass the summary length in words"))
    return " ".join(body(article).split()[:n])


def decode(token_ids: Any, tokenizer: Any) -> list[str]:
    """Decode generated ids or labels into stripped texts; label positions of -100 become padding first."""
    ids = np.asarray(token_ids)
    ids = np.where(ids == IGNORE_INDEX, tokenizer.pad_token_id, ids)
    return [t.strip() for t in tokenizer.batch_decode(ids, skip_special_tokens=True)]


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """ROUGE-1/2/L/Lsum F-measures (0-1) via course_utils.metrics, with one sentence per line for ROUGE-Lsum."""
    from . import metrics

    per_line = metrics.sentences_per_line
    return metrics.load("rouge").compute(predictions=[per_line(p) for p in predictions],
                                         references=[per_line(r) for r in references], use_stemmer=True)


def eos_token_id(model: Any) -> int:
    """The id at which ``model.generate`` stops: its generation config's ``eos_token_id`` (the first, if a list).

    T5 stops at ``</s>``, a BERT-based encoder-decoder at ``[SEP]`` (`models.set_special_ids`).
    """
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if eos is None:
        eos = getattr(model.config, "eos_token_id", None)
    if isinstance(eos, (list, tuple)):
        eos = eos[0] if eos else None
    if eos is None:
        raise CourseError(problem("the model's end-of-sequence id", "an eos_token_id in its generation config",
                                  "none", "set model.generation_config.eos_token_id to the tokenizer's EOS or [SEP] id"))
    return int(eos)


def labels_missing_eos(labels: Sequence[Sequence[int]], eos_id: int) -> list[int]:
    """Positions of the label sequences that do not end with ``eos_id`` (-100 padding at the end ignored).

    A model learns to stop only from targets that end with the end-of-sequence token. Truncating a summary with the
    tokenizer (``max_length=``, ``truncation=True``) keeps that token; slicing token ids afterwards cuts it off.

    >>> labels_missing_eos([[5, 6, 1], [5, 6, 7], [5, 1, -100]], eos_id=1)
    [1]
    """
    missing = []
    for i, seq in enumerate(labels):
        kept = [int(t) for t in seq if int(t) != IGNORE_INDEX]
        if not kept or kept[-1] != eos_id:
            missing.append(i)
    return missing
