"""Metrics with the names, arguments and output keys of the `evaluate` modules, working offline too.

``load(name)`` returns an object with ``.compute(predictions=..., references=...)``. When the Hub answers it wraps
``evaluate.load(name)``; otherwise (``evaluate``'s wheel ships no metric scripts) it uses the local implementations
below, which give the same numbers as scikit-learn, seqeval, rouge_score and the official SQuAD scoring scripts.
"""

from __future__ import annotations

import collections
import re
import string
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from . import hub
from .errors import CourseError, problem

# ---------------------------------------------------------------- classification and regression (scikit-learn)


def _accuracy(predictions, references, normalize=True, sample_weight=None):
    from sklearn.metrics import accuracy_score

    return {"accuracy": float(accuracy_score(references, predictions, normalize=normalize, sample_weight=sample_weight))}


def _prf(kind: str) -> Callable[..., dict]:
    def compute(predictions, references, labels=None, pos_label=1, average="binary", sample_weight=None,
                zero_division="warn"):
        import sklearn.metrics as skm

        fn = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[kind]
        score = fn(references, predictions, labels=labels, pos_label=pos_label, average=average,
                   sample_weight=sample_weight, zero_division=zero_division)
        return {kind: float(score) if np.size(score) == 1 else score}

    return compute


def _mse(predictions, references, sample_weight=None, multioutput="uniform_average", squared=True):
    from sklearn.metrics import mean_squared_error, root_mean_squared_error

    fn = mean_squared_error if squared else root_mean_squared_error
    return {"mse": fn(references, predictions, sample_weight=sample_weight, multioutput=multioutput)}


def _mae(predictions, references, sample_weight=None, multioutput="uniform_average"):
    from sklearn.metrics import mean_absolute_error

    return {"mae": mean_absolute_error(references, predictions, sample_weight=sample_weight, multioutput=multioutput)}


def _pearsonr(predictions, references, return_pvalue=False):
    from scipy.stats import pearsonr

    r, p = pearsonr(references, predictions)
    return {"pearsonr": float(r), "p-value": float(p)} if return_pvalue else {"pearsonr": float(r)}


def _spearmanr(predictions, references, return_pvalue=False):
    from scipy.stats import spearmanr

    r, p = spearmanr(references, predictions)
    return {"spearmanr": float(r), "spearmanr_pvalue": float(p)} if return_pvalue else {"spearmanr": float(r)}


def _matthews(predictions, references, sample_weight=None):
    from sklearn.metrics import matthews_corrcoef

    return {"matthews_correlation": float(matthews_corrcoef(references, predictions, sample_weight=sample_weight))}


def _roc_auc(references, prediction_scores, average="macro", sample_weight=None, max_fpr=None, multi_class="raise",
             labels=None):
    from sklearn.metrics import roc_auc_score

    score = roc_auc_score(references, prediction_scores, average=average, sample_weight=sample_weight,
                          max_fpr=max_fpr, multi_class=multi_class, labels=labels)
    return {"roc_auc": float(score) if np.size(score) == 1 else score}


def _log_loss(predictions, references, labels=None, sample_weight=None):
    from sklearn.metrics import log_loss

    probs = np.asarray(predictions, dtype=float)
    if probs.ndim != 2:
        raise CourseError(problem("log_loss predictions", "one row of class probabilities per example (2-D)",
                                  f"an array of shape {probs.shape}",
                                  "pass softmax(logits, axis=-1), not the predicted class ids"))
    sums = probs.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-3) or (probs < 0).any():
        raise CourseError(problem("log_loss predictions", "probability rows (non-negative, each summing to 1)",
                                  f"rows summing to {sums.min():.3g}..{sums.max():.3g}",
                                  "apply a softmax to the logits first: scipy.special.softmax(logits, axis=-1)"))
    labels = list(range(probs.shape[1])) if labels is None else np.asarray(labels).tolist()
    known = set(labels)
    unknown = sorted({y for y in np.asarray(references).tolist() if y not in known}, key=str)
    if unknown:
        raise CourseError(problem("log_loss references",
                                  f"class ids {labels[0]}..{labels[-1]} (one per probability column)"
                                  if labels == list(range(len(labels))) else f"labels from {labels}",
                                  f"{len(unknown)} other value(s): {unknown[:5]}",
                                  "give one probability column per class (num_labels = number of classes), or "
                                  "pass labels=[...] listing every class"))
    return {"log_loss": float(log_loss(references, probs, labels=labels, sample_weight=sample_weight))}


# ---------------------------------------------------------------- entity-level NER (seqeval)


def _seqeval(predictions, references, suffix=False, scheme=None, mode=None, sample_weight=None, zero_division="warn"):
    from seqeval.metrics import accuracy_score, classification_report

    for i, (pred, ref) in enumerate(zip(predictions, references)):
        if len(pred) != len(ref):
            raise CourseError(problem(
                f"seqeval sentence {i}", "as many predicted tags as reference tags",
                f"{len(pred)} predicted and {len(ref)} reference tags",
                "drop the special tokens and sub-word pieces (label -100) from both before scoring"))
    if isinstance(scheme, str):
        import seqeval.scheme

        known = ["BILOU", "IOB1", "IOB2", "IOBES", "IOE1", "IOE2"]
        if scheme not in known:
            raise CourseError(problem("seqeval scheme", f"one of {known}", repr(scheme),
                                      "CoNLL-2003 and WNUT-17 use scheme='IOB2'"))
        scheme = getattr(seqeval.scheme, scheme)
    report = classification_report(y_true=references, y_pred=predictions, suffix=suffix, output_dict=True,
                                   scheme=scheme, mode=mode, sample_weight=sample_weight, zero_division=zero_division)
    report.pop("macro avg")
    report.pop("weighted avg")
    overall = report.pop("micro avg")
    scores: dict[str, Any] = {
        kind: {"precision": s["precision"], "recall": s["recall"], "f1": s["f1-score"], "number": s["support"]}
        for kind, s in report.items()
    }
    scores["overall_precision"] = overall["precision"]
    scores["overall_recall"] = overall["recall"]
    scores["overall_f1"] = overall["f1-score"]
    scores["overall_accuracy"] = accuracy_score(y_true=references, y_pred=predictions)
    return scores


# ---------------------------------------------------------------- extractive QA (official SQuAD v1.1 / v2.0 rules)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, drop punctuation and the articles a/an/the, squeeze whitespace.

    >>> normalize_answer("The  Eiffel Tower!")
    'eiffel tower'
    """
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _token_f1(prediction: str, gold: str) -> float:
    pred_tokens, gold_tokens = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:  # SQuAD v2 rule: both empty is a match, one empty is not
        return float(pred_tokens == gold_tokens)
    common = sum((collections.Counter(pred_tokens) & collections.Counter(gold_tokens)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred_tokens), common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _by_id(predictions, references, key: str) -> tuple[dict, dict]:
    preds = {p["id"]: p for p in predictions}
    refs = {r["id"]: r for r in references}
    missing, extra = sorted(set(refs) - set(preds)), sorted(set(preds) - set(refs))
    if missing or extra:
        raise CourseError(problem(
            "QA prediction ids", "one prediction per reference id",
            f"{len(missing)} reference id(s) without a prediction (e.g. {missing[:3]}) and "
            f"{len(extra)} prediction id(s) without a reference (e.g. {extra[:3]})",
            f"build predictions as [{{'id': ex['id'], '{key}': text}} for each example]",
        ))
    return preds, refs


def _squad(predictions, references):
    preds, refs = _by_id(predictions, references, "prediction_text")
    em = f1 = 0.0
    for qid, ref in refs.items():
        golds, pred = ref["answers"]["text"], preds[qid]["prediction_text"]
        em += max(float(normalize_answer(pred) == normalize_answer(g)) for g in golds)
        # SQuAD v1.1's F1 scores an empty prediction 0 even against an empty gold answer
        f1 += max(_token_f1(pred, g) if normalize_answer(pred) or normalize_answer(g) else 0.0 for g in golds)
    return {"exact_match": 100.0 * em / len(refs), "f1": 100.0 * f1 / len(refs)}


def _best_threshold(preds, scores, na_probs, has_ans) -> tuple[float, float]:
    best = current = sum(1 for k in has_ans if not has_ans[k])
    best_thresh = 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        current += scores[qid] if has_ans[qid] else (-1 if preds[qid] else 0)
        if current > best:
            best, best_thresh = current, na_probs[qid]
    return 100.0 * best / len(scores), best_thresh


def _squad_v2(predictions, references, no_answer_threshold=1.0):
    preds, refs = _by_id(predictions, references, "prediction_text")
    lacking = [q for q, p in preds.items() if "no_answer_probability" not in p]
    if lacking:
        raise CourseError(problem(
            "squad_v2 predictions", "a 'no_answer_probability' in every prediction",
            f"{len(lacking)} prediction(s) without one (e.g. {lacking[0]!r})",
            "add 'no_answer_probability': p to each prediction (0.0 when your model always answers)"))
    texts = {q: p["prediction_text"] for q, p in preds.items()}
    na_probs = {q: p["no_answer_probability"] for q, p in preds.items()}
    has_ans, exact_raw, f1_raw = {}, {}, {}
    for qid, ref in refs.items():
        golds = [a for a in ref["answers"]["text"] if normalize_answer(a)] or [""]
        has_ans[qid] = bool(ref["answers"]["text"])  # official rule: any gold answer, even one like "the"
        exact_raw[qid] = max(float(normalize_answer(texts[qid]) == normalize_answer(g)) for g in golds)
        f1_raw[qid] = max(_token_f1(texts[qid], g) for g in golds)

    def thresholded(raw):
        return {q: float(not has_ans[q]) if na_probs[q] > no_answer_threshold else s for q, s in raw.items()}

    def summary(exact, f1, qids, prefix=""):
        return {f"{prefix}exact": 100.0 * sum(exact[q] for q in qids) / len(qids),
                f"{prefix}f1": 100.0 * sum(f1[q] for q in qids) / len(qids), f"{prefix}total": len(qids)}

    exact, f1 = thresholded(exact_raw), thresholded(f1_raw)
    out = summary(exact, f1, list(refs))
    for prefix, wanted in (("HasAns_", True), ("NoAns_", False)):
        qids = [q for q in refs if has_ans[q] == wanted]
        if qids:
            out.update(summary(exact, f1, qids, prefix))
    out["best_exact"], out["best_exact_thresh"] = _best_threshold(texts, exact_raw, na_probs, has_ans)
    out["best_f1"], out["best_f1_thresh"] = _best_threshold(texts, f1_raw, na_probs, has_ans)
    return out


# ---------------------------------------------------------------- summarization (rouge_score)


ABBREVIATIONS = ("mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "inc", "ltd", "co", "corp",
                 "e.g", "i.e", "u.s", "u.k", "no", "gov", "gen", "sen", "rep", "jan", "feb", "aug", "sept", "oct",
                 "nov", "dec", "a.m", "p.m", "ph.d", "approx", "fig", "vol", "dept")


def sentences_per_line(text: str) -> str:
    """Put each sentence on its own line, as ROUGE-Lsum expects; uses nltk's Punkt rules that ship in its wheel
    (no ``nltk.download``).

    >>> sentences_per_line("It rained. We stayed in.")
    'It rained.\\nWe stayed in.'
    """
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    params = PunktParameters()
    params.abbrev_types = set(ABBREVIATIONS)  # untrained Punkt would end a sentence at "Mr."
    return "\n".join(PunktSentenceTokenizer(params).tokenize(text.strip()))


@dataclass
class _CallableTokenizer:
    """Wraps a function ``text -> tokens`` into the object with a ``tokenize`` method rouge_score expects."""

    fn: Callable[[str], list]

    def tokenize(self, text: str) -> list:
        return self.fn(text)


def _rouge(predictions, references, rouge_types=None, use_aggregator=True, use_stemmer=False, tokenizer=None):
    from rouge_score import rouge_scorer

    rouge_types = rouge_types or ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    if tokenizer is not None and not hasattr(tokenizer, "tokenize"):  # evaluate accepts a plain callable
        tokenizer = _CallableTokenizer(tokenizer)
    scorer = rouge_scorer.RougeScorer(rouge_types=rouge_types, use_stemmer=use_stemmer, tokenizer=tokenizer)
    per_example = [
        scorer.score_multi(ref, pred) if isinstance(ref, list) else scorer.score(ref, pred)
        for ref, pred in zip(references, predictions)
    ]
    lists = {t: [s[t].fmeasure for s in per_example] for t in rouge_types}
    # The mean F-measure over examples (evaluate's bootstrap median is a noisy estimate of the same number).
    return {t: float(np.mean(v)) for t, v in lists.items()} if use_aggregator else lists


# ---------------------------------------------------------------- the public interface

LOCAL: dict[str, Callable[..., dict]] = {
    "accuracy": _accuracy, "precision": _prf("precision"), "recall": _prf("recall"), "f1": _prf("f1"),
    "mse": _mse, "mae": _mae, "pearsonr": _pearsonr, "spearmanr": _spearmanr,
    "matthews_correlation": _matthews, "roc_auc": _roc_auc, "log_loss": _log_loss, "seqeval": _seqeval,
    "squad": _squad, "squad_v2": _squad_v2, "rouge": _rouge,
}
NOT_ON_HUB = {"log_loss"}  # no evaluate module: always local


NUMERIC = {"accuracy", "precision", "recall", "f1", "mse", "mae", "pearsonr", "spearmanr", "matthews_correlation",
           "roc_auc", "log_loss"}  # metrics whose inputs are numbers (class ids, scores), as evaluate's features say
MIN_EXAMPLES = {"pearsonr": 2, "spearmanr": 2}  # a correlation needs two points


def _check_inputs(name: str, predictions: Sequence, references: Sequence, given_as: str = "predictions") -> None:
    for what, value in ((given_as, predictions), ("references", references)):
        if value is None or not hasattr(value, "__len__"):
            raise CourseError(problem(f"{name} {what}", "a list or array", type(value).__name__,
                                      f"pass {what}=[...] as a keyword argument"))
    if len(predictions) != len(references):
        raise CourseError(problem(
            f"{name} inputs", "as many predictions as references", f"{len(predictions)} predictions and "
            f"{len(references)} references", "compute predictions for exactly the examples you score "
            "(e.g. the same split, not a subset)"))
    if len(references) == 0:
        raise CourseError(problem(f"{name} inputs", "at least one example", "empty lists",
                                  "check that the evaluation split is not empty"))
    if len(references) < MIN_EXAMPLES.get(name, 1):
        raise CourseError(problem(f"{name} inputs", f"at least {MIN_EXAMPLES[name]} examples (a correlation needs "
                                  "two points)", f"{len(references)} example", "score more examples at once"))
    if name in NUMERIC:
        for what, value in ((given_as, predictions), ("references", references)):
            _check_numbers(name, what, value)
    elif name == "seqeval":
        _check_tag_names(predictions, references)
    elif name.startswith("squad"):
        _check_squad_rows(predictions, references)
    elif name == "rouge":
        _check_texts(predictions, references)


def _check_numbers(name: str, what: str, values: Any) -> None:
    """Class ids and scores must be numbers: "1" or "pos" is a label name, not a class id."""
    try:
        array = np.asarray(values)
    except ValueError:  # ragged rows: let the metric itself judge the shape
        return
    if array.dtype.kind in "biuf":
        return
    bad = [v for v in array.ravel().tolist() if isinstance(v, (str, bytes)) or not isinstance(v, (int, float))]
    if bad:
        raise CourseError(problem(
            f"{name} {what}", "numbers (class ids such as 0 and 1, or scores)",
            f"{len(bad)} value(s) that are not numbers, e.g. {bad[:3]}",
            "convert label names to ids with label2id (e.g. [label2id[y] for y in names]), or text to numbers "
            "with int(...) / float(...)"))


def _check_tag_names(predictions: Sequence, references: Sequence) -> None:
    """seqeval scores tag names ("B-PER"), one list per sentence; ids must be turned into names first."""
    for what, sentences in (("predictions", predictions), ("references", references)):
        for i, tags in enumerate(sentences):
            if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
                raise CourseError(problem(
                    f"seqeval {what}, sentence {i}", "a list of tag names such as ['B-PER', 'I-PER', 'O']",
                    repr(tags)[:80], "turn ids into names first: [label_names[i] for i in ids], one list per "
                    "sentence"))


def _check_squad_rows(predictions: Sequence, references: Sequence) -> None:
    """squad/squad_v2 take dicts: predictions with id and prediction_text, references with id and answers."""
    for what, rows, keys in (("predictions", predictions, ("id", "prediction_text")),
                             ("references", references, ("id", "answers"))):
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or any(k not in row for k in keys):
                raise CourseError(problem(
                    f"squad {what}[{i}]", f"a dict with the keys {list(keys)}",
                    f"keys {sorted(row)}" if isinstance(row, dict) else f"{type(row).__name__} {row!r}"[:80],
                    "build them with cu.qa.postprocess_predictions(...) and cu.qa.references(examples)"))


def _check_texts(predictions: Sequence, references: Sequence) -> None:
    """rouge compares texts: one string per prediction, a string (or a list of strings) per reference."""
    for what, rows in (("predictions", predictions), ("references", references)):
        for i, row in enumerate(rows):
            texts = row if what == "references" and isinstance(row, list) else [row]
            if not all(isinstance(t, str) for t in texts):
                raise CourseError(problem(
                    f"rouge {what}[{i}]", "a text (str)", f"{type(row).__name__} {row!r}"[:80],
                    "decode token ids to text first: tokenizer.batch_decode(ids, skip_special_tokens=True)"))


def _check_average(name: str, predictions: Sequence, references: Sequence, kwargs: dict) -> None:
    """precision/recall/f1 default to average='binary', which only fits two classes."""
    if name not in {"precision", "recall", "f1"} or kwargs.get("average", "binary") != "binary":
        return
    classes = sorted({*np.asarray(predictions).ravel().tolist(), *np.asarray(references).ravel().tolist()})
    if len(classes) > 2:
        raise CourseError(problem(
            f"{name} average", "average='macro', 'micro' or 'weighted' for more than two classes",
            f"average='binary' (the default) with {len(classes)} classes {classes[:6]}",
            "pass average='macro' (each class counts the same): compute(..., average='macro')"))


@dataclass
class Metric:
    """A metric with evaluate's ``compute`` interface; ``source`` says which implementation runs."""

    name: str
    source: str
    _compute: Callable[..., dict]

    def compute(self, *args: Any, predictions: Sequence | None = None, references: Sequence | None = None,
                **kwargs: Any) -> dict:
        """Score ``predictions`` against ``references``; extra keyword arguments are the evaluate module's."""
        if args:  # evaluate's compute takes keywords only; say so instead of a TypeError
            raise CourseError(problem(
                f"{self.name}.compute arguments", "keyword arguments predictions=... and references=...",
                f"{len(args)} positional argument(s)", "write metric.compute(predictions=preds, references=labels)"))
        scores = kwargs.pop("prediction_scores", None) if self.name == "roc_auc" else None
        given = scores if scores is not None else predictions
        _check_inputs(self.name, given, references, "prediction_scores" if self.name == "roc_auc" else "predictions")
        _check_average(self.name, given, references, kwargs)
        if self.name == "roc_auc":
            return self._compute(references=references, prediction_scores=given, **kwargs)
        return self._compute(predictions=predictions, references=references, **kwargs)


def load(name: str, prefer_local: bool = False) -> Metric:
    """Load a metric by its evaluate name (``accuracy``, ``f1``, ``squad``, ``rouge``, ...) or ``log_loss``."""
    if name not in LOCAL:
        raise CourseError(problem(f"Metric {name!r}", f"one of {sorted(LOCAL)}", repr(name),
                                  "check the spelling (evaluate's names, e.g. 'f1' with average='macro')"))
    if not prefer_local and name not in NOT_ON_HUB and hub.is_online():
        try:
            import evaluate

            module = evaluate.load(name)
            return Metric(name, "evaluate (Hugging Face Hub)", lambda **kw: module.compute(**kw))
        except Exception as err:  # a Hub hiccup must not stop a lesson: fall back, and say so
            print(f"evaluate.load({name!r}) failed ({type(err).__name__}); using the local implementation")
    return Metric(name, "course_utils (local, same numbers as the reference library)", LOCAL[name])
