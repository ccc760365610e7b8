"""Extractive question answering (SQuAD-style): sliding-window features, and back from logits to answer texts.

A BERT reads at most ``max_length`` tokens, but a SQuAD context is often longer. So each (question, context)
pair becomes one or more *windows* (features): the question, then a slice of the context, with consecutive
slices overlapping by ``stride`` tokens so no answer is cut in two everywhere. Training labels are the token
positions of the answer's first and last token in each window, or 0 ([CLS]) when the answer is not inside that
window. Evaluation goes the other way: for every window, take the best start and end logits, keep only spans
inside the context, map them back to characters with the offsets, and keep the best span over all windows of
the question.

The functions follow the Hugging Face question-answering guide and ``run_qa.py`` (the reference recipe), with
the checks a student needs when something does not line up.
"""

from __future__ import annotations

import collections
import math
from typing import Any, Sequence

import numpy as np

from .errors import CourseError, problem, raise_if_any

CLS_INDEX = 0  # BERT puts [CLS] first: the "no answer in this window" position


def _columns(examples: Any) -> list[str]:
    if hasattr(examples, "column_names"):
        return list(examples.column_names)
    return list(examples.keys())


def _check_examples(examples: Any, tokenizer: Any, need_answers: bool) -> None:
    problems = []
    wanted = ["question", "context"] + (["answers"] if need_answers else [])
    missing = [c for c in wanted if c not in _columns(examples)]
    if missing:
        problems.append(problem(
            "QA examples", f"columns {wanted} (SQuAD layout)", f"columns {_columns(examples)}",
            "rename your columns to SQuAD's names, e.g. ds.rename_column('passage', 'context')"))
    if not getattr(tokenizer, "is_fast", False):
        problems.append(problem(
            "Tokenizer", "a fast (Rust) tokenizer, which returns offset_mapping", type(tokenizer).__name__,
            "load it with AutoTokenizer.from_pretrained(name) (use_fast=True is the default)"))
    raise_if_any(problems)


def _check_answers(examples: Any) -> None:
    """Every answer must sit in its context where ``answer_start`` says, or training labels point at nothing."""
    problems = []
    ids = examples["id"] if "id" in _columns(examples) else range(len(examples["answers"]))
    for qid, context, answers in zip(ids, examples["context"], examples["answers"]):
        given = answers if isinstance(answers, dict) else {}
        texts, starts = given.get("text"), given.get("answer_start")
        if not isinstance(texts, (list, tuple)) or not isinstance(starts, (list, tuple)) or len(texts) != len(starts):
            problems.append(problem(
                f"Answers of example {qid!r}", "{'text': [answer, ...], 'answer_start': [character, ...]} "
                "(two lists of the same length, SQuAD layout)", repr(answers)[:100],
                "wrap single answers in lists: {'text': [text], 'answer_start': [start]}"))
            continue
        for text, start in zip(texts, starts):
            inside = isinstance(start, (int, np.integer)) and 0 <= start <= len(context) - len(text)
            if not inside or context[start:start + len(text)] != text:
                found = (f"{context[start:start + len(text)]!r} at character {start}" if inside
                         else f"answer_start={start!r} outside the context's {len(context)} characters")
                problems.append(problem(
                    f"Answer {text!r} of example {qid!r}", "the answer text at answer_start in its context",
                    found, "recompute it from the context: answer_start = context.find(answer_text) (-1 means "
                    "the answer is not in the context at all)"))
    raise_if_any(problems[:5])  # the first five show the pattern; thousands of lines would hide it


def _check_window(examples: Any, tokenizer: Any, max_length: int, stride: int) -> None:
    """The context part of a window must be longer than the overlap, or the tokenizer cannot slide."""
    longest_question = max((len(ids) for ids in tokenizer(list(examples["question"]), add_special_tokens=False)
                            ["input_ids"]), default=0)
    room = max_length - longest_question - 3  # [CLS] question [SEP] context [SEP]
    if stride >= room:
        raise CourseError(problem(
            "Window settings", f"stride smaller than the context room of a window (max_length {max_length} minus "
            f"the longest question, {longest_question} tokens, minus 3 special tokens = {room})",
            f"stride={stride}", f"lower stride (e.g. {max(room // 4, 1)}) or raise max_length"))


def _encode(examples: Any, tokenizer: Any, max_length: int, stride: int, padding: bool | str) -> Any:
    # SQuAD questions sometimes start with spaces; they would waste window room
    questions = [q.lstrip() for q in examples["question"]]
    return tokenizer(
        questions, list(examples["context"]), truncation="only_second", max_length=max_length, stride=stride,
        return_overflowing_tokens=True, return_offsets_mapping=True, padding=padding)


def answer_token_span(offsets: Sequence[tuple[int, int]], sequence_ids: Sequence[int | None], start_char: int,
                      end_char: int) -> tuple[int, int]:
    """Token positions (start, end) of the character span [start_char, end_char) in one window.

    Returns ``(0, 0)`` ([CLS]) when the span is not wholly inside this window's context.

    >>> offsets = [(0, 0), (0, 3), (0, 0), (0, 5), (6, 11), (12, 16), (0, 0)]
    >>> answer_token_span(offsets, [None, 0, None, 1, 1, 1, None], 6, 16)
    (4, 5)
    """
    context = [i for i, s in enumerate(sequence_ids) if s == 1]
    if not context:
        raise CourseError(problem(
            "answer_token_span", "the sequence ids of a question+context window (1 marks context tokens)",
            f"no token with sequence id 1 in {list(sequence_ids)[:12]}",
            "tokenize question and context as a pair, tokenizer(question, context), and pass enc.sequence_ids(i)"))
    first, last = context[0], context[-1]
    if offsets[first][0] > start_char or offsets[last][1] < end_char:
        return CLS_INDEX, CLS_INDEX
    start = first
    while start <= last and offsets[start][0] <= start_char:
        start += 1
    end = last
    while end >= first and offsets[end][1] >= end_char:
        end -= 1
    return start - 1, end + 1


def prepare_train_features(examples: Any, tokenizer: Any, max_length: int = 384, stride: int = 128,
                           padding: bool | str = "max_length") -> dict[str, list]:
    """Tokenize a batch of SQuAD examples into overlapping windows labelled with answer token positions.

    Use with ``ds.map(..., batched=True, remove_columns=ds.column_names)``: one example may give several rows.
    Each row has ``input_ids``, ``attention_mask`` (and ``token_type_ids``), ``start_positions`` and
    ``end_positions`` (both 0 when the answer is not in that window) and ``example_id`` (the id of the question
    the window came from, for inspection; Trainer ignores it since the model takes no such argument). ``padding=False`` leaves
    padding to ``DataCollatorWithPadding`` (faster on a CPU); the default pads every window to ``max_length``
    so ``default_data_collator`` works.
    """
    _check_examples(examples, tokenizer, need_answers=True)
    _check_answers(examples)
    _check_window(examples, tokenizer, max_length, stride)
    enc = _encode(examples, tokenizer, max_length, stride, padding)
    sample_map = enc.pop("overflow_to_sample_mapping")
    offsets_all = enc.pop("offset_mapping")
    starts, ends, ids = [], [], []
    for i, offsets in enumerate(offsets_all):
        sample = sample_map[i]
        answers = examples["answers"][sample]
        ids.append(examples["id"][sample] if "id" in _columns(examples) else str(sample))
        if len(answers["answer_start"]) == 0:  # SQuAD v2 question without an answer: point at [CLS]
            starts.append(CLS_INDEX)
            ends.append(CLS_INDEX)
            continue
        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])
        start, end = answer_token_span(offsets, enc.sequence_ids(i), start_char, end_char)
        starts.append(start)
        ends.append(end)
    enc["start_positions"] = starts
    enc["end_positions"] = ends
    enc["example_id"] = ids
    return enc.data if hasattr(enc, "data") else dict(enc)


def prepare_eval_features(examples: Any, tokenizer: Any, max_length: int = 384, stride: int = 128,
                          padding: bool | str = "max_length") -> dict[str, list]:
    """Tokenize a batch of examples into windows for prediction, keeping what postprocessing needs.

    Each row keeps ``example_id`` (the SQuAD id of its question) and ``offset_mapping`` with ``None`` for every
    token outside the context (question, special tokens, padding), so no predicted span can land there. Drop
    these two columns before the model sees the rows (``features.remove_columns(["example_id",
    "offset_mapping"])``).
    """
    _check_examples(examples, tokenizer, need_answers=False)
    _check_window(examples, tokenizer, max_length, stride)
    enc = _encode(examples, tokenizer, max_length, stride, padding)
    sample_map = enc.pop("overflow_to_sample_mapping")
    enc["example_id"] = [examples["id"][s] for s in sample_map]
    enc["offset_mapping"] = [
        [tuple(o) if s == 1 else None for o, s in zip(offsets, enc.sequence_ids(i))]
        for i, offsets in enumerate(enc["offset_mapping"])
    ]
    return enc.data if hasattr(enc, "data") else dict(enc)


def _check_logits(features: Any, start_logits: Any, end_logits: Any) -> None:
    problems = []
    missing = [c for c in ("example_id", "offset_mapping") if c not in _columns(features)]
    if missing:
        problems.append(problem(
            "Evaluation features", "the columns example_id and offset_mapping", f"{missing} missing",
            "build them with prepare_eval_features, and drop the two columns only from the copy the model reads"))
    n = len(features["example_id"]) if not missing else None
    for name, logits in (("start_logits", start_logits), ("end_logits", end_logits)):
        if n is not None and len(logits) != n:
            problems.append(problem(
                name, f"one row per evaluation feature ({n})", f"{len(logits)} rows",
                "predict on exactly the features you pass (trainer.predict(features_for_model))"))
    raise_if_any(problems)


def best_spans(start_logits: np.ndarray, end_logits: np.ndarray, offsets: Sequence, n_best: int = 20,
               max_answer_length: int = 30) -> list[tuple[float, int, int]]:
    """Candidate spans of one window, best first: ``(score, start_char, end_char)``, score = start + end logit.

    Only spans inside the context (offsets not None), with end >= start and at most ``max_answer_length``
    tokens; the candidates come from the ``n_best`` highest start and end logits.

    >>> best_spans(np.array([0, 1, 5, 0.]), np.array([0, 0, 1, 4.]), [None, (0, 3), (4, 7), (8, 12)], n_best=2)
    [(9.0, 4, 12), (6.0, 4, 7), (5.0, 0, 12), (2.0, 0, 7)]
    """
    start_idx = np.argsort(start_logits)[::-1][:n_best]
    end_idx = np.argsort(end_logits)[::-1][:n_best]
    spans = []
    for s in start_idx:
        for e in end_idx:
            if s >= len(offsets) or e >= len(offsets) or offsets[s] is None or offsets[e] is None:
                continue
            if e < s or e - s + 1 > max_answer_length:
                continue
            spans.append((float(start_logits[s] + end_logits[e]), int(offsets[s][0]), int(offsets[e][1])))
    return sorted(spans, key=lambda span: -span[0])


def postprocess_predictions(examples: Any, features: Any, start_logits: Any, end_logits: Any, n_best: int = 20,
                            max_answer_length: int = 30, with_null: bool = False,
                            null_threshold: float = 0.0) -> list[dict[str, Any]]:
    """Turn window logits into one answer per example: the best span over all of the example's windows.

    Returns ``[{"id", "prediction_text"}]`` in the order of ``examples``, ready for
    ``course_utils.metrics.load("squad")``. With ``with_null=True`` (SQuAD v2) each prediction also has
    ``no_answer_probability`` = sigmoid(null score - best span score), where the null score is the smallest
    [CLS] start+end logit over the windows, and the text is "" when null score - best span score >
    ``null_threshold``.
    """
    from scipy.special import expit  # the sigmoid, without overflow for large gaps

    _check_logits(features, start_logits, end_logits)
    start_logits, end_logits = np.asarray(start_logits), np.asarray(end_logits)
    windows = collections.defaultdict(list)
    for i, example_id in enumerate(features["example_id"]):
        windows[example_id].append(i)
    offsets_all = list(features["offset_mapping"])  # one read, not one per window (a Dataset column is lazy)
    predictions = []
    for example_id, context in zip(examples["id"], examples["context"]):
        candidates, null_score = [], math.inf
        for i in windows.get(example_id, []):
            candidates += best_spans(start_logits[i], end_logits[i], offsets_all[i], n_best, max_answer_length)
            null_score = min(null_score, float(start_logits[i][CLS_INDEX] + end_logits[i][CLS_INDEX]))
        best = max(candidates, key=lambda span: span[0], default=None)
        text = context[best[1]:best[2]] if best is not None else ""
        prediction = {"id": example_id, "prediction_text": text}
        if with_null:
            diff = null_score - best[0] if best is not None else math.inf
            prediction["no_answer_probability"] = float(expit(diff))
            if diff > null_threshold:
                prediction["prediction_text"] = ""
        predictions.append(prediction)
    return predictions


def references(examples: Any) -> list[dict[str, Any]]:
    """The gold answers in the form the squad/squad_v2 metrics take: ``[{"id", "answers"}]``."""
    return [{"id": i, "answers": a} for i, a in zip(examples["id"], examples["answers"])]


def window_table(example: dict, tokenizer: Any, max_length: int = 384, stride: int = 128) -> list[dict[str, Any]]:
    """One row per window of one SQuAD example: which context characters it covers and where the answer is.

    For teaching and debugging: ``pd.DataFrame(window_table(ds[0], tokenizer, 128, 32))``.
    """
    batch = {k: [v] for k, v in example.items()}
    enc = _encode(batch, tokenizer, max_length, stride, padding=False)
    train = prepare_train_features(batch, tokenizer, max_length, stride, padding=False)
    rows = []
    for i, offsets in enumerate(enc["offset_mapping"]):
        context = [o for o, s in zip(offsets, enc.sequence_ids(i)) if s == 1]
        start, end = train["start_positions"][i], train["end_positions"][i]
        found = tokenizer.decode(enc["input_ids"][i][start:end + 1]) if start != CLS_INDEX else "[CLS] (not here)"
        rows.append({"window": i, "tokens": len(enc["input_ids"][i]), "context_chars": f"{context[0][0]}-"
                     f"{context[-1][1]}", "start_position": start, "end_position": end, "answer_tokens": found})
    return rows


def answer_questions(model: Any, tokenizer: Any, questions: Sequence[str], contexts: Sequence[str],
                     max_length: int = 384, stride: int = 128, max_answer_length: int = 30) -> list[str]:
    """Answer new questions with a trained QA model (Transformers v5 removed the "question-answering" pipeline).

    The same steps as evaluation: windows, logits, best span over all windows of each question.
    """
    import torch

    if len(questions) != len(contexts):
        raise CourseError(problem("answer_questions", "one context per question",
                                  f"{len(questions)} questions and {len(contexts)} contexts",
                                  "pass lists of equal length (repeat a context for several questions)"))
    examples = {"id": [str(i) for i in range(len(questions))], "question": list(questions), "context": list(contexts)}
    features = prepare_eval_features(examples, tokenizer, max_length, stride, padding=True)
    inputs = {k: torch.tensor(features[k]) for k in ("input_ids", "attention_mask", "token_type_ids") if k in features}
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        out = model(**{k: v.to(device) for k, v in inputs.items()})
    predictions = postprocess_predictions(examples, features, out.start_logits.float().cpu().numpy(),
                                          out.end_logits.float().cpu().numpy(), max_answer_length=max_answer_length)
    return [p["prediction_text"] for p in predictions]
