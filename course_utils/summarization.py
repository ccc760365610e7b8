"""Summarization helpers: lead baselines, a seeded three-way split, decoding, ROUGE, end-of-sequence checks, and
the pieces of an extractive summarizer (sentences, sentence labels, top-k selection).

Which encoder-decoder to fine-tune (t5-small online, a warm-started BERT2BERT offline, a tiny random one in the
tiny profile) is model resolution, so it lives beside the encoders' in ``course_utils.models``
(``resolve_seq2seq``, ``load_seq2seq``).
"""

from __future__ import annotations

import re
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


# ---------------------------------------------------------------- extractive summaries (sentence selection)


def headline(article: str) -> str:
    """The article's headline line, or "" when its first line is already body text (see :func:`body`)."""
    head = article.strip().partition("\n")[0].strip()
    return "" if body(article) == article else head


def sentences(article: str) -> list[str]:
    """The sentences of the article body in order (headline removed), split as ROUGE-Lsum splits them.

    >>> sentences("Rain in Leeds\\n\\nIt rained. Roads flooded.\\n\\nSchools shut.")
    ['It rained.', 'Roads flooded.', 'Schools shut.']
    """
    from .metrics import sentences_per_line

    return [s.strip() for line in body(article).split("\n") for s in sentences_per_line(line).split("\n")
            if s.strip()]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def sentence_labels(article_sentences: Sequence[str], summary: str, min_overlap: float = 0.5) -> list[int]:
    """1 for each sentence whose word pairs mostly (``min_overlap``) appear in the summary, else 0.

    BBC summaries copy article sentences, sometimes glued together or lightly edited, so an exact match misses
    some; the share of a sentence's word pairs (bigrams) found in the summary does not. Unigrams would not do:
    common words ("the", "said") appear in every summary.

    >>> sentence_labels(["It rained all day.", "Shops stayed open late."], "It rained all day in Leeds.")
    [1, 0]
    """
    if not 0 < min_overlap <= 1:
        raise CourseError(problem("sentence_labels min_overlap", "a share above 0 and at most 1",
                                  repr(min_overlap), "pass min_overlap=0.5 (half of a sentence's word pairs)"))
    summary_words = _words(summary)
    summary_pairs = set(zip(summary_words, summary_words[1:]))
    labels = []
    for sentence in article_sentences:
        w = _words(sentence)
        units, known = (list(zip(w, w[1:])), summary_pairs) if len(w) > 1 else (w, set(summary_words))
        labels.append(int(bool(units) and sum(u in known for u in units) / len(units) >= min_overlap))
    return labels


def top_sentences(article_sentences: Sequence[str], scores: Sequence[float], k: int) -> str:
    """The ``k`` best-scored sentences, in article order (a summary reads in the article's order), one per line.

    >>> top_sentences(["A.", "B.", "C.", "D."], [0.1, 0.9, 0.2, 0.8], 2)
    'B.\\nD.'
    """
    if len(article_sentences) != len(scores):
        raise CourseError(problem("top_sentences scores", "one score per sentence",
                                  f"{len(scores)} scores for {len(article_sentences)} sentences",
                                  "score every sentence of the article, in order"))
    if k < 1:
        raise CourseError(problem("top_sentences k", "at least 1 sentence", str(k), "pass k=3"))
    best = np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:k]
    return "\n".join(article_sentences[i] for i in sorted(best))


# ---------------------------------------------------------------- checkpoints for the notebook's exercises


def _ids(rows: Any) -> list[list[int]]:
    return [[int(t) for t in row] for row in rows]


def preprocess_problems(features: Any, tokenizer: Any, batch: dict, prefix: str, max_source_length: int,
                        max_target_length: int) -> list[str]:
    """What differs between a student's seq2seq features for ``batch`` and the reference (empty when nothing).

    The reference tokenizes ``prefix + article`` at ``max_source_length`` and the summaries as ``text_target`` at
    ``max_target_length``, both truncated by the tokenizer and left unpadded (the collator pads).
    """
    inputs = tokenizer([prefix + a for a in batch["article"]], max_length=max_source_length, truncation=True)
    targets = tokenizer(text_target=batch["summary"], max_length=max_target_length, truncation=True)["input_ids"]
    problems = []
    if not hasattr(features, "keys") or "input_ids" not in features:
        return [f"expected preprocess to return the tokenizer's output (input_ids, attention_mask, labels), found "
                f"{type(features).__name__}: return the dictionary the tokenizer gives, with 'labels' added"]
    if _ids(features["input_ids"]) != _ids(inputs["input_ids"]):
        problems.append(f"input_ids differ from the articles (with the prefix {prefix!r}) tokenized at "
                        f"max_source_length={max_source_length}")
    if "labels" not in features:
        problems.append("no 'labels': the summaries' token ids belong under features['labels']")
        return problems
    labels = _ids(features["labels"])
    at_source = tokenizer(text_target=batch["summary"], max_length=max_source_length, truncation=True)["input_ids"]
    if any(IGNORE_INDEX in row or tokenizer.pad_token_id in row for row in labels):
        problems.append("labels are padded already: leave padding to DataCollatorForSeq2Seq, which pads them per "
                        "batch with -100")
    elif labels == _ids(at_source) and at_source != targets:
        problems.append(f"labels are cut at max_source_length={max_source_length}, the article's length: the "
                        f"summaries need their own limit, max_target_length={max_target_length}")
    elif labels != _ids(targets):
        longest = max(len(row) for row in labels)
        problems.append(f"labels differ from the summaries tokenized as targets at max_target_length="
                        f"{max_target_length} (yours are up to {longest} tokens): tokenize batch['summary'], "
                        "truncated by the tokenizer, not sliced")
    return problems


def label_padding_problems(padded: Any, expected: Any, pad_token_id: int) -> list[str]:
    """What differs between a student's padded labels and ``DataCollatorForSeq2Seq``'s (empty when nothing)."""
    padded, expected = np.asarray(padded), np.asarray(expected)
    if padded.shape != expected.shape:
        return [f"expected an array of shape {expected.shape} (one row per example, as long as the longest), "
                f"found shape {padded.shape}"]
    padding = expected == IGNORE_INDEX
    if padding.any() and (padded[padding] == pad_token_id).all():
        return [f"the padding is the pad id ({pad_token_id}), a real token the loss would learn to write: pad "
                f"labels with {IGNORE_INDEX}, the value the loss ignores"]
    if not np.array_equal(padded, expected):
        wrong = int((padded != expected).sum())
        return [f"{wrong} of {expected.size} positions differ from the collator's labels: keep each example's ids "
                f"as they are, in order, and fill only the end with {IGNORE_INDEX}"]
    return []


def compute_metrics_problems(compute_metrics: Any, labels: Any, pad_token_id: int) -> list[str]:
    """Call a student's seq2seq ``compute_metrics`` with the labels as the "generated" ids: ROUGE must be 1."""
    labels = np.asarray(labels)
    generated = np.where(labels == IGNORE_INDEX, pad_token_id, labels)
    try:
        scores = compute_metrics((generated, labels))
    except (OverflowError, TypeError, ValueError, IndexError) as err:
        return [f"compute_metrics failed on labels padded with {IGNORE_INDEX} ({type(err).__name__}: "
                f"{str(err)[:80]}): {IGNORE_INDEX} is no token id, so replace it by the pad id before decoding"]
    if not isinstance(scores, dict) or "rougeL" not in scores:
        return [f"expected a dict of ROUGE scores with 'rougeL', found {type(scores).__name__} "
                f"{str(scores)[:80]}: return the scores ROUGE computed"]
    if abs(float(scores["rougeL"]) - 1.0) > 1e-6:
        return [f"ROUGE-L should be 1.0 when the generated summaries are the references, found "
                f"{float(scores['rougeL']):.3f}: decode both sides the same way (skip special tokens)"]
    return []
