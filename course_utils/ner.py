"""Token classification (NER) building blocks: word tags <-> sub-token labels, entity metrics, entity spans.

A WordPiece tokenizer splits words into pieces ("huggingface" -> "hugging", "##face"), but datasets such as
CoNLL-2003 tag whole words. Training needs one label per piece; evaluation and display need one tag per word.
The functions here do both directions and score at the entity level with seqeval (CoNLL's official rule: an
entity counts only when its type and its exact word span are both right).
"""

from __future__ import annotations

import html
import re
from typing import Any, Sequence

import numpy as np

from .errors import CourseError, problem, raise_if_any

IGNORE_INDEX = -100  # PyTorch's cross-entropy skips positions labelled -100 (special tokens, continuation pieces)


def label_maps(label_names: Sequence[str]) -> tuple[dict[int, str], dict[str, int]]:
    """``(id2label, label2id)`` for a model config, from the dataset's ordered tag names.

    >>> label_maps(["O", "B-PER", "I-PER"])[0]
    {0: 'O', 1: 'B-PER', 2: 'I-PER'}
    """
    repeated = [] if isinstance(label_names, str) else sorted({n for n in label_names
                                                               if list(label_names).count(n) > 1})
    if isinstance(label_names, str) or repeated:
        found = f"the text {label_names!r}" if isinstance(label_names, str) else f"{repeated} more than once"
        raise CourseError(problem("Label names", "a list of distinct tag names, in the dataset's order", found,
                                  "use the dataset's own list: ds.features['ner_tags'].feature.names"))
    return dict(enumerate(label_names)), {name: i for i, name in enumerate(label_names)}


def continuation_ids(label_names: Sequence[str]) -> list[int]:
    """For each label id, the id a continuation piece of that word gets: B-X -> I-X, every other tag itself.

    >>> continuation_ids(["O", "B-PER", "I-PER"])
    [0, 2, 2]
    """
    label2id = label_maps(label_names)[1]
    return [label2id.get("I-" + name[2:], i) if name.startswith("B-") else i for i, name in enumerate(label_names)]


def _check_tag_ids(tags: Sequence[int], n_labels: int | None, where: str) -> None:
    names = [t for t in tags if not isinstance(t, (int, np.integer)) or isinstance(t, bool)]
    if names:
        raise CourseError(problem(
            f"Tags in {where}", "tag ids (integers, e.g. ds.features['ner_tags'])", f"{names[:3]}",
            "map tag names to ids first: [label2id[tag] for tag in tags] (label2id from cu.ner.label_maps)"))
    if n_labels is None:
        return
    bad = sorted({int(t) for t in tags if not 0 <= int(t) < n_labels})
    if bad:
        raise CourseError(problem(
            f"Tag ids in {where}", f"integers 0..{n_labels - 1} (one per label name)", f"{bad[:5]}",
            "use the dataset's own label names (ds.features['ner_tags'].feature.names), or map the tags first"))


def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int], label_all_tokens: bool = False,
                 label_names: Sequence[str] | None = None) -> list[int]:
    """Sub-token labels for one sequence from its word-level tag ids.

    ``word_ids`` is ``encoding.word_ids(i)`` (None for [CLS]/[SEP]/padding). The first piece of a word gets the
    word's tag; later pieces get -100 (ignored by the loss), or with ``label_all_tokens=True`` the word's tag
    with B-X turned into I-X (that needs ``label_names``). Notebook 09 has students write the first-piece rule
    themselves; its check compares their function with this one.

    >>> align_labels([None, 0, 0, 1, None], [1, 0])
    [-100, 1, -100, 0, -100]
    >>> align_labels([None, 0, 0, 1, None], [1, 0], True, ["O", "B-PER", "I-PER"])
    [-100, 1, 2, 0, -100]
    """
    if label_all_tokens and label_names is None:
        raise CourseError(problem(
            "label_all_tokens=True", "label_names, to turn B- into I- on continuation pieces", "label_names=None",
            "pass label_names=ds.features['ner_tags'].feature.names"))
    _check_tag_ids(word_labels, None if label_names is None else len(label_names), "align_labels")
    n_words = max((w for w in word_ids if w is not None), default=-1) + 1
    if n_words > len(word_labels):
        raise CourseError(problem(
            "Word tags", f"at least one tag per word the tokenizer saw ({n_words})", f"{len(word_labels)} tags",
            "give one tag per word: len(ner_tags) == len(tokens) for every example"))
    following = continuation_ids(label_names) if label_names is not None else None
    labels, previous = [], None
    for word in word_ids:
        if word is None:
            labels.append(IGNORE_INDEX)
        elif word != previous:
            labels.append(int(word_labels[word]))
        else:
            labels.append(following[int(word_labels[word])] if label_all_tokens else IGNORE_INDEX)
        previous = word
    return labels


def _check_lengths(words: Sequence[Sequence], tags: Sequence[Sequence], what: str) -> None:
    if len(words) != len(tags):
        raise CourseError(problem(
            what, "as many tag lists as word lists", f"{len(words)} word lists and {len(tags)} tag lists",
            "pass the same examples' tokens and tags"))
    bad = [i for i, (w, t) in enumerate(zip(words, tags)) if len(w) != len(t)]
    if bad:
        i = bad[0]
        raise CourseError(problem(
            what, "one tag per word in every example",
            f"{len(bad)} example(s) where the counts differ, e.g. example {i}: {len(words[i])} words and "
            f"{len(tags[i])} tags", "check that words and tags come from the same rows and were not re-split"))


def tokenize_and_align_labels(examples: dict[str, list], tokenizer: Any, label_column: str = "ner_tags",
                              max_length: int = 128, label_all_tokens: bool = False,
                              label_names: Sequence[str] | None = None, tokens_column: str = "tokens") -> dict:
    """Batched ``Dataset.map`` function: tokenize pre-split words and attach sub-token ``labels``.

    ``ds.map(tokenize_and_align_labels, batched=True, fn_kwargs={"tokenizer": tok})``. Words past
    ``max_length`` tokens are cut (their tags are lost for training; count them with ``truncated_words``).
    """
    problems = [problem(f"Column {c!r}", f"a column named {c!r}", f"columns {sorted(examples)}",
                        f"pass {name}= the name of your column")
                for c, name in ((tokens_column, "tokens_column"), (label_column, "label_column")) if c not in examples]
    raise_if_any(problems)
    words, tags = examples[tokens_column], examples[label_column]
    _check_lengths(words, tags, "tokenize_and_align_labels")
    encoded = tokenizer(list(words), is_split_into_words=True, truncation=True, max_length=max_length)
    encoded["labels"] = [align_labels(encoded.word_ids(i), t, label_all_tokens, label_names)
                         for i, t in enumerate(tags)]
    return encoded


def truncated_words(encoded: Any, n_words: Sequence[int]) -> int:
    """How many words fell off the end of a batch of encodings (``n_words``: words per example)."""
    seen = [max((w for w in encoded.word_ids(i) if w is not None), default=-1) + 1 for i in range(len(n_words))]
    return int(sum(n - s for n, s in zip(n_words, seen)))


def _pred_ids(predictions: Any) -> np.ndarray:
    """Class ids from logits (last axis = labels) or from ids already."""
    arr = np.asarray(predictions)
    return arr.argmax(axis=-1) if arr.dtype.kind == "f" else arr.astype(int)


def _names(ids: Sequence[int], label_names: Sequence[str], where: str) -> list[str]:
    _check_tag_ids(ids, len(label_names), where)
    return [label_names[int(i)] for i in ids]


def word_tags(predictions: Any, word_ids: Sequence[int | None], label_names: Sequence[str],
              n_words: int | None = None) -> list[str]:
    """Word-level tag names for one sequence, read from each word's first sub-token.

    ``predictions``: logits ``(tokens, labels)`` or predicted ids ``(tokens,)``. Words cut by truncation get "O"
    when ``n_words`` says how many words the text had.

    >>> word_tags([0, 1, 2, 0, 0], [None, 0, 0, 1, None], ["O", "B-PER", "I-PER"])
    ['B-PER', 'O']
    """
    ids = _pred_ids(predictions)
    if len(ids) < len(word_ids):
        raise CourseError(problem("word_tags inputs", "one prediction per token", f"{len(ids)} predictions for "
                                  f"{len(word_ids)} tokens", "pass the predictions of this very sequence"))
    first: dict[int, int] = {}
    for position, word in enumerate(word_ids):
        if word is not None and word not in first:
            first[word] = int(ids[position])
    total = max(first, default=-1) + 1 if n_words is None else n_words
    _check_tag_ids(list(first.values()), len(label_names), "word_tags")
    return [label_names[first[w]] if w in first else "O" for w in range(total)]


def align_predictions(predictions: Any, label_ids: Any, label_names: Sequence[str]) -> tuple[list[list[str]],
                                                                                             list[list[str]]]:
    """Batched (Trainer's ``EvalPrediction``): keep positions whose label is not -100, return tag names.

    Returns ``(predicted_tags, true_tags)``, one list of word tags per sequence (first-piece labelling assumed).
    """
    ids, labels = _pred_ids(predictions), np.asarray(label_ids)
    if ids.shape != labels.shape:
        raise CourseError(problem("align_predictions inputs", "predictions and labels of the same shape",
                                  f"{ids.shape} and {labels.shape}", "pass logits (batch, tokens, labels) or ids "
                                  "(batch, tokens) with the matching label_ids"))
    keep = labels != IGNORE_INDEX
    pred = [_names(p[k], label_names, "predictions") for p, k in zip(ids, keep)]
    true = [_names(t[k], label_names, "labels") for t, k in zip(labels, keep)]
    return pred, true


def entity_metrics(predicted_tags: Sequence[Sequence[str]], true_tags: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Entity-level precision/recall/F1 (overall and per type) through ``course_utils.metrics.load("seqeval")``."""
    from . import metrics

    _check_lengths(true_tags, predicted_tags, "entity_metrics")
    return metrics.load("seqeval").compute(predictions=[list(p) for p in predicted_tags],
                                           references=[list(t) for t in true_tags], zero_division=0)


def make_compute_metrics(label_names: Sequence[str]):
    """A ``compute_metrics`` for Trainer: overall precision, recall, F1 and accuracy, plus F1 per entity type."""

    def compute_metrics(eval_pred) -> dict[str, float]:
        predictions, label_ids = eval_pred
        scores = entity_metrics(*align_predictions(predictions, label_ids, label_names))
        out = {k[len("overall_"):]: float(v) for k, v in scores.items() if k.startswith("overall_")}
        out.update({f"f1_{kind}": float(s["f1"]) for kind, s in scores.items() if isinstance(s, dict)})
        return out

    return compute_metrics


def _check_tags(words: Sequence[str], tags: Sequence[str]) -> None:
    _check_lengths([words], [tags], "entity_spans")
    bad = sorted({t for t in tags if t != "O" and not re.match(r"^[BI]-.+", t)})
    if bad:
        raise CourseError(problem("Tags", "'O' or IOB2 tags like 'B-PER' and 'I-PER'", f"{bad[:5]}",
                                  "convert ids to names first: [label_names[i] for i in ids]"))


def entity_spans(words: Sequence[str], tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Entity spans ``(start, end, type)`` as word positions, end exclusive, from IOB2 tags.

    The entities seqeval scores (``seqeval.metrics.sequence_labeling.get_entities``), so what a notebook shows is
    what the metric counted: an I-X that follows O or another type starts a new entity, as in CoNLL's conlleval.

    >>> entity_spans(["Acme", "Corp", "hired", "Ann"], ["B-ORG", "I-ORG", "O", "I-PER"])
    [(0, 2, 'ORG'), (3, 4, 'PER')]
    """
    from seqeval.metrics.sequence_labeling import get_entities

    _check_tags(words, tags)
    return [(start, last + 1, kind) for kind, start, last in get_entities(list(tags))]


def extract_entities(words: Sequence[str], tags: Sequence[str]) -> list[tuple[str, str]]:
    """The entities as ``(text, type)`` pairs, for display.

    >>> extract_entities(["Acme", "Corp", "hired", "Ann"], ["B-ORG", "I-ORG", "O", "B-PER"])
    [('Acme Corp', 'ORG'), ('Ann', 'PER')]
    """
    return [(" ".join(words[s:e]), kind) for s, e, kind in entity_spans(words, tags)]


def bracketed(words: Sequence[str], tags: Sequence[str]) -> str:
    """The text with each entity in brackets and its type after it.

    >>> bracketed(["Acme", "Corp", "hired", "Ann", "."], ["B-ORG", "I-ORG", "O", "B-PER", "O"])
    '[Acme Corp]ORG hired [Ann]PER .'
    """
    out, spans = list(words), entity_spans(words, tags)
    for start, end, kind in reversed(spans):
        out[start:end] = [f"[{' '.join(words[start:end])}]{kind}"]
    return " ".join(out)


ENTITY_COLOURS = {"PER": "#ffd6a5", "ORG": "#a0c4ff", "LOC": "#caffbf", "MISC": "#e0c3fc"}


def highlight_html(words: Sequence[str], tags: Sequence[str]) -> str:
    """HTML with each entity on a coloured background and its type in small capitals (``IPython.display.HTML``)."""
    out, spans = [html.escape(w) for w in words], entity_spans(words, tags)
    for start, end, kind in reversed(spans):
        colour = ENTITY_COLOURS.get(kind, "#eeeeee")
        text = html.escape(" ".join(words[start:end]))
        out[start:end] = [f'<mark style="background:{colour};padding:1px 3px;border-radius:3px">{text} '
                          f'<small style="font-variant:small-caps">{html.escape(kind)}</small></mark>']
    return '<p style="line-height:2">' + " ".join(out) + "</p>"


ABBREVIATIONS = ("Ltd", "Inc", "Co", "Corp", "Mr", "Mrs", "Ms", "Dr", "St", "No", "Jan", "Feb", "Aug", "Sept",
                 "Oct", "Nov", "Dec", "Art", "Sec", "para")
WORD_PATTERN = re.compile(
    r"(?:[A-Za-z]\.){2,}"  # initialisms such as U.S. or U.K. stay one word, as in CoNLL-2003
    + "|" + "|".join(rf"\b{a}\." for a in ABBREVIATIONS)  # Ltd. and Corp. keep their full stop
    + r"|\d+(?:[.,:/]\d+)+"  # numbers and dates such as 1,500.00 or 12/03/2024
    + r"|'s\b"  # the possessive 's is a word of its own in CoNLL ("Buyer 's")
    + r"|\w+(?:[-&]\w+|'(?!s\b)\w+)*"  # words, hyphenated names, O'Neil, AT&T
    + r"|[^\w\s]")  # any other character on its own


def split_words(text: str) -> list[str]:
    """Split raw text into CoNLL-like words: punctuation and 's apart; "U.S.", "Ltd.", "O'Neil", "1,500" whole.

    >>> split_words("Acme Ltd. (the Supplier), of Leeds, paid 1,500.00 on 3/4/2024.")
    ['Acme', 'Ltd.', '(', 'the', 'Supplier', ')', ',', 'of', 'Leeds', ',', 'paid', '1,500.00', 'on', '3/4/2024', '.']
    """
    if not isinstance(text, str):
        raise CourseError(problem("split_words", "one text (str)", type(text).__name__,
                                  "split each text on its own: [split_words(t) for t in texts]"))
    return WORD_PATTERN.findall(text)


def tag_words(model: Any, tokenizer: Any, word_lists: Sequence[Sequence[str]], max_length: int = 128,
              batch_size: int = 16) -> list[list[str]]:
    """Predict one tag per word for pre-split texts with a token-classification model (its config's id2label)."""
    import torch

    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    device = next(model.parameters()).device
    model.eval()
    tags: list[list[str]] = []
    for start in range(0, len(word_lists), batch_size):
        batch = [list(w) for w in word_lists[start:start + batch_size]]
        enc = tokenizer(batch, is_split_into_words=True, truncation=True, max_length=max_length, padding=True,
                        return_tensors="pt")
        with torch.no_grad():
            logits = model(**{k: v.to(device) for k, v in enc.items()}).logits.float().cpu().numpy()
        tags += [word_tags(logits[i], enc.word_ids(i), names, n_words=len(w)) for i, w in enumerate(batch)]
    return tags
