"""course_utils.metrics against the reference libraries and the official SQuAD scoring rules, offline.

Every number is compared with scikit-learn, scipy, seqeval, rouge_score or a literal copy of the official SQuAD
scripts' logic; every key set with what the `evaluate` module of the same name returns.
"""

from __future__ import annotations

import collections
import math
import re
import string
import sys
import types
import warnings

import numpy as np
import pytest
import scipy.stats
import seqeval.metrics as sqm
import sklearn.metrics as skm
from rouge_score import rouge_scorer
from seqeval.metrics.sequence_labeling import precision_recall_fscore_support
from seqeval.scheme import IOB2

from course_utils import hub, metrics
from course_utils.errors import CourseError


pytestmark = pytest.mark.usefixtures("hub_off")  # no Hub: every metric must come from the local implementations


def compute(name: str, **kwargs) -> dict:
    return metrics.load(name).compute(**kwargs)


# Output keys of the evaluate modules (evaluate-metric/<name>/<name>.py, `_compute`'s return value).
EVALUATE_KEYS = {
    "accuracy": {"accuracy"},
    "precision": {"precision"},
    "recall": {"recall"},
    "f1": {"f1"},
    "mse": {"mse"},
    "mae": {"mae"},
    "pearsonr": {"pearsonr"},
    "spearmanr": {"spearmanr"},
    "matthews_correlation": {"matthews_correlation"},
    "roc_auc": {"roc_auc"},
    "log_loss": {"log_loss"},  # not an evaluate module: the course's own, named like the others
    "squad": {"exact_match", "f1"},
    "squad_v2": {"exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total", "NoAns_exact", "NoAns_f1",
                 "NoAns_total", "best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"},
    "rouge": {"rouge1", "rouge2", "rougeL", "rougeLsum"},
    "seqeval": {"PER", "LOC", "ORG", "overall_precision", "overall_recall", "overall_f1", "overall_accuracy"},
}

Y_TRUE = [0, 1, 1, 0, 1, 1, 0, 0, 1, 1]
Y_PRED = [0, 1, 0, 0, 1, 1, 1, 0, 0, 1]
M_TRUE = [0, 1, 2, 2, 1, 0, 2, 1, 0, 2, 2, 1]
M_PRED = [0, 2, 2, 1, 1, 0, 2, 0, 0, 2, 1, 1]
REG_TRUE = [3.0, -0.5, 2.0, 7.0, 4.2, 0.0]
REG_PRED = [2.5, 0.0, 2.0, 8.0, 3.9, 0.4]


# ---------------------------------------------------------------- classification and regression


def test_every_local_metric_has_its_evaluate_keys_pinned():
    assert set(metrics.LOCAL) == set(EVALUATE_KEYS)


def test_source_is_local_when_offline():
    metric = metrics.load("accuracy")
    assert metric.name == "accuracy"
    assert metric.source.startswith("course_utils (local")


def test_accuracy_matches_sklearn():
    assert compute("accuracy", predictions=Y_PRED, references=Y_TRUE) == {
        "accuracy": skm.accuracy_score(Y_TRUE, Y_PRED)} == {"accuracy": 0.7}
    assert compute("accuracy", predictions=Y_PRED, references=Y_TRUE, normalize=False) == {"accuracy": 7.0}
    weights = [1, 2, 1, 1, 1, 3, 1, 1, 1, 1]
    assert compute("accuracy", predictions=Y_PRED, references=Y_TRUE, sample_weight=weights)["accuracy"] == \
        skm.accuracy_score(Y_TRUE, Y_PRED, sample_weight=weights)


@pytest.mark.parametrize("name, fn", [("precision", skm.precision_score), ("recall", skm.recall_score),
                                      ("f1", skm.f1_score)])
def test_precision_recall_f1_match_sklearn(name, fn):
    binary = compute(name, predictions=Y_PRED, references=Y_TRUE)
    assert set(binary) == {name} and isinstance(binary[name], float)
    assert binary[name] == fn(Y_TRUE, Y_PRED)
    assert compute(name, predictions=Y_PRED, references=Y_TRUE, pos_label=0)[name] == \
        fn(Y_TRUE, Y_PRED, pos_label=0)
    for average in ("macro", "weighted", "micro"):
        got = compute(name, predictions=M_PRED, references=M_TRUE, average=average)[name]
        assert got == fn(M_TRUE, M_PRED, average=average), average
    assert compute(name, predictions=M_PRED, references=M_TRUE, average="macro", labels=[1, 2])[name] == \
        fn(M_TRUE, M_PRED, average="macro", labels=[1, 2])
    per_class = compute(name, predictions=M_PRED, references=M_TRUE, average=None)[name]
    np.testing.assert_array_equal(per_class, fn(M_TRUE, M_PRED, average=None))


def test_known_values_by_hand():
    # binary: tp=4, fp=1, fn=2 -> precision 4/5, recall 4/6
    assert compute("precision", predictions=Y_PRED, references=Y_TRUE)["precision"] == pytest.approx(0.8, abs=1e-15)
    assert compute("recall", predictions=Y_PRED, references=Y_TRUE)["recall"] == pytest.approx(4 / 6, abs=1e-15)
    assert compute("f1", predictions=Y_PRED, references=Y_TRUE)["f1"] == pytest.approx(8 / 11, abs=1e-15)


def test_mse_and_mae_match_sklearn():
    assert compute("mse", predictions=REG_PRED, references=REG_TRUE) == {
        "mse": skm.mean_squared_error(REG_TRUE, REG_PRED)}
    assert compute("mse", predictions=REG_PRED, references=REG_TRUE, squared=False) == {
        "mse": skm.root_mean_squared_error(REG_TRUE, REG_PRED)}
    assert compute("mse", predictions=REG_PRED, references=REG_TRUE, squared=False)["mse"] == pytest.approx(
        math.sqrt(sum((p - t) ** 2 for p, t in zip(REG_PRED, REG_TRUE)) / 6), abs=1e-12)
    assert compute("mae", predictions=REG_PRED, references=REG_TRUE) == {
        "mae": skm.mean_absolute_error(REG_TRUE, REG_PRED)}
    assert compute("mae", predictions=REG_PRED, references=REG_TRUE)["mae"] == pytest.approx(2.7 / 6, abs=1e-12)


def test_correlations_match_scipy():
    assert compute("pearsonr", predictions=REG_PRED, references=REG_TRUE) == {
        "pearsonr": float(scipy.stats.pearsonr(REG_TRUE, REG_PRED)[0])}
    with_p = compute("pearsonr", predictions=REG_PRED, references=REG_TRUE, return_pvalue=True)
    assert with_p == {"pearsonr": float(scipy.stats.pearsonr(REG_TRUE, REG_PRED)[0]),
                      "p-value": float(scipy.stats.pearsonr(REG_TRUE, REG_PRED)[1])}
    assert compute("spearmanr", predictions=REG_PRED, references=REG_TRUE) == {
        "spearmanr": float(scipy.stats.spearmanr(REG_TRUE, REG_PRED)[0])}
    with_p = compute("spearmanr", predictions=REG_PRED, references=REG_TRUE, return_pvalue=True)
    assert set(with_p) == {"spearmanr", "spearmanr_pvalue"}
    assert with_p["spearmanr_pvalue"] == float(scipy.stats.spearmanr(REG_TRUE, REG_PRED)[1])
    # a perfect monotone but non-linear relation: spearman 1, pearson below 1
    assert compute("spearmanr", predictions=[1, 4, 9, 16], references=[1, 2, 3, 4])["spearmanr"] == 1.0
    assert compute("pearsonr", predictions=[1, 4, 9, 16], references=[1, 2, 3, 4])["pearsonr"] < 0.99


def test_matthews_matches_sklearn():
    assert compute("matthews_correlation", predictions=M_PRED, references=M_TRUE) == {
        "matthews_correlation": float(skm.matthews_corrcoef(M_TRUE, M_PRED))}
    assert compute("matthews_correlation", predictions=Y_PRED, references=Y_TRUE)["matthews_correlation"] == \
        float(skm.matthews_corrcoef(Y_TRUE, Y_PRED))


def test_roc_auc_takes_prediction_scores():
    scores = [0.1, 0.9, 0.35, 0.2, 0.8, 0.7, 0.6, 0.3, 0.4, 0.95]
    assert compute("roc_auc", references=Y_TRUE, prediction_scores=scores) == {
        "roc_auc": skm.roc_auc_score(Y_TRUE, scores)}
    probs = np.array([[.6, .3, .1], [.2, .3, .5], [.1, .2, .7], [.3, .4, .3], [.2, .6, .2], [.7, .2, .1],
                      [.1, .1, .8], [.4, .4, .2], [.5, .25, .25], [.2, .2, .6], [.3, .3, .4], [.1, .8, .1]])
    got = compute("roc_auc", references=M_TRUE, prediction_scores=probs, multi_class="ovr")
    assert got == {"roc_auc": skm.roc_auc_score(M_TRUE, probs, multi_class="ovr")}


def test_log_loss_matches_sklearn_with_a_class_never_seen():
    probs = [[.7, .1, .2], [.1, .1, .8], [.5, .25, .25], [.2, .2, .6]]
    refs = [0, 2, 0, 2]  # class 1 never occurs: sklearn needs labels=, the course passes them
    got = compute("log_loss", predictions=probs, references=refs)
    assert got == {"log_loss": skm.log_loss(refs, probs, labels=[0, 1, 2])}
    assert got["log_loss"] == pytest.approx(-(math.log(.7) + math.log(.8) + math.log(.5) + math.log(.6)) / 4,
                                            abs=1e-12)
    two = compute("log_loss", predictions=[[.9, .1], [.2, .8], [.6, .4]], references=[0, 1, 1])
    assert two["log_loss"] == skm.log_loss([0, 1, 1], [[.9, .1], [.2, .8], [.6, .4]])


def test_log_loss_rejects_class_ids():
    with pytest.raises(CourseError, match=r"log_loss predictions: expected one row of class probabilities .*"
                                          r"found an array of shape \(3,\)\. Fix: pass softmax"):
        compute("log_loss", predictions=[0, 1, 1], references=[0, 1, 1])


def test_log_loss_rejects_logits():
    with pytest.raises(CourseError, match=r"expected probability rows .*found rows summing to .*Fix: apply a softmax"):
        compute("log_loss", predictions=[[2.0, -1.0], [0.5, 0.5]], references=[0, 1])


def test_log_loss_rejects_references_outside_the_columns():
    with pytest.raises(CourseError, match=r"log_loss references: expected class ids 0\.\.1 .*found .*\[3\]"
                                          r"\. Fix: "):
        compute("log_loss", predictions=[[.5, .5], [.2, .8]], references=[0, 3])


# ---------------------------------------------------------------- seqeval

NER_TRUE = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "O", "B-PER"]]
NER_PRED = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "I-ORG", "I-ORG", "O", "O"]]


def test_seqeval_matches_seqeval_and_hand_counts():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LOC is never predicted: seqeval warns about 0/0 precision
        got = compute("seqeval", predictions=NER_PRED, references=NER_TRUE)
        assert set(got) == EVALUATE_KEYS["seqeval"]
        assert got["overall_precision"] == sqm.precision_score(NER_TRUE, NER_PRED) == pytest.approx(2 / 3)
        assert got["overall_recall"] == sqm.recall_score(NER_TRUE, NER_PRED) == 0.5
        assert got["overall_f1"] == sqm.f1_score(NER_TRUE, NER_PRED) == pytest.approx(4 / 7, abs=1e-12)
        assert got["overall_accuracy"] == sqm.accuracy_score(NER_TRUE, NER_PRED) == pytest.approx(6 / 9)
        p, r, f, n = precision_recall_fscore_support(NER_TRUE, NER_PRED, average=None)
    for i, kind in enumerate(["LOC", "ORG", "PER"]):  # seqeval sorts the types
        assert got[kind] == {"precision": p[i], "recall": r[i], "f1": f[i], "number": n[i]}
    assert got["PER"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "number": 2}
    assert got["ORG"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "number": 1}
    assert got["LOC"]["number"] == 1 and got["LOC"]["f1"] == 0.0


def test_seqeval_strict_iob2_drops_entities_that_start_with_i():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        strict = compute("seqeval", predictions=NER_PRED, references=NER_TRUE, scheme="IOB2", mode="strict")
        assert strict["overall_f1"] == sqm.f1_score(NER_TRUE, NER_PRED, mode="strict", scheme=IOB2)
        assert strict["overall_precision"] == sqm.precision_score(NER_TRUE, NER_PRED, mode="strict", scheme=IOB2)
        assert strict["overall_recall"] == sqm.recall_score(NER_TRUE, NER_PRED, mode="strict", scheme=IOB2)
    # the predicted ORG that starts with I-ORG does not count in strict mode: 1 of 2 predicted entities right
    assert (strict["overall_precision"], strict["overall_recall"]) == (0.5, 0.25)
    assert strict["overall_f1"] == pytest.approx(1 / 3)
    assert strict["ORG"]["precision"] == 0.0


def test_seqeval_errors():
    with pytest.raises(CourseError, match=r"seqeval scheme: expected one of \['BILOU', 'IOB1', 'IOB2', 'IOBES', "
                                          r"'IOE1', 'IOE2'\], found 'BIO'\. Fix: "):
        compute("seqeval", predictions=NER_PRED, references=NER_TRUE, scheme="BIO", mode="strict")
    with pytest.raises(CourseError, match=r"seqeval sentence 1: expected as many predicted tags as reference tags, "
                                          r"found 4 predicted and 5 reference tags\. Fix: "):
        compute("seqeval", predictions=[NER_PRED[0], NER_PRED[1][:4]], references=NER_TRUE)


# ---------------------------------------------------------------- SQuAD v1.1, official rules written out literally


def official_normalize_answer(s):
    """evaluate-v1.1.py / evaluate-v2.0.py: lower text and remove punctuation, articles and extra whitespace."""
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def v1_f1_score(prediction, ground_truth):
    prediction_tokens = official_normalize_answer(prediction).split()
    ground_truth_tokens = official_normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def v1_exact_match_score(prediction, ground_truth):
    return official_normalize_answer(prediction) == official_normalize_answer(ground_truth)


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    return max(metric_fn(prediction, gt) for gt in ground_truths)


def official_v1(dataset, predictions):
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                ground_truths = [x["text"] for x in qa["answers"]]
                prediction = predictions[qa["id"]]
                exact_match += metric_max_over_ground_truths(v1_exact_match_score, prediction, ground_truths)
                f1 += metric_max_over_ground_truths(v1_f1_score, prediction, ground_truths)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


def as_official_dataset(references):
    """The HF references format -> the official JSON shape (one article, one paragraph)."""
    qas = [{"id": r["id"], "answers": [{"text": t} for t in r["answers"]["text"]]} for r in references]
    return [{"paragraphs": [{"qas": qas}]}]


SQUAD_REFS = [
    {"id": "q1", "answers": {"text": ["Denver Broncos", "The Denver Broncos"], "answer_start": [0, 0]}},
    {"id": "q2", "answers": {"text": ["Santa Clara, California"], "answer_start": [5]}},
    {"id": "q3", "answers": {"text": ["gold", "golden anniversary", "gold"], "answer_start": [1, 2, 3]}},
    {"id": "q4", "answers": {"text": ["1976"], "answer_start": [9]}},
    {"id": "q5", "answers": {"text": ["Levi's Stadium"], "answer_start": [0]}},
    {"id": "q6", "answers": {"text": ["the a an"], "answer_start": [0]}},
]
SQUAD_PREDS = [  # deliberately in another order than the references
    {"id": "q3", "prediction_text": "the golden era anniversary"},
    {"id": "q1", "prediction_text": "denver broncos!"},
    {"id": "q2", "prediction_text": "Santa Clara"},
    {"id": "q5", "prediction_text": ""},
    {"id": "q4", "prediction_text": "in 1977"},
    {"id": "q6", "prediction_text": "An"},
]


def test_squad_matches_the_official_v1_script():
    got = compute("squad", predictions=SQUAD_PREDS, references=SQUAD_REFS)
    assert set(got) == EVALUATE_KEYS["squad"]
    expected = official_v1(as_official_dataset(SQUAD_REFS), {p["id"]: p["prediction_text"] for p in SQUAD_PREDS})
    assert got["exact_match"] == pytest.approx(expected["exact_match"], abs=1e-12)
    assert got["f1"] == pytest.approx(expected["f1"], abs=1e-12)
    # by hand: exact q1 and q6 (both normalise to ""); f1 q1 1, q2 0.8, q3 0.8 ("golden anniversary"); q6 0
    # because v1.1 scores an empty prediction 0 even against an empty gold answer
    assert got["exact_match"] == pytest.approx(100 * 2 / 6)
    assert got["f1"] == pytest.approx(100 * 2.6 / 6)


def test_squad_ids_must_match():
    with pytest.raises(CourseError, match=r"QA prediction ids: expected one prediction per reference id, found "
                                          r"1 reference id\(s\) without a prediction \(e\.g\. \['q6'\]\) and 1 "
                                          r"prediction id\(s\) without a reference \(e\.g\. \['x9'\]\)\. Fix: "):
        compute("squad", predictions=SQUAD_PREDS[:5] + [{"id": "x9", "prediction_text": "An"}],
                references=SQUAD_REFS)


# ---------------------------------------------------------------- SQuAD v2.0, official rules written out literally


def v2_compute_exact(a_gold, a_pred):
    return int(official_normalize_answer(a_gold) == official_normalize_answer(a_pred))


def v2_get_tokens(s):
    if not s:
        return []
    return official_normalize_answer(s).split()


def v2_compute_f1(a_gold, a_pred):
    gold_toks = v2_get_tokens(a_gold)
    pred_toks = v2_get_tokens(a_pred)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def v2_make_qid_to_has_ans(dataset):
    qid_to_has_ans = {}
    for article in dataset:
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                qid_to_has_ans[qa["id"]] = bool(qa["answers"])
    return qid_to_has_ans


def v2_get_raw_scores(dataset, preds):
    exact_scores = {}
    f1_scores = {}
    for article in dataset:
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                qid = qa["id"]
                gold_answers = [a["text"] for a in qa["answers"] if official_normalize_answer(a["text"])]
                if not gold_answers:
                    gold_answers = [""]
                a_pred = preds[qid]
                exact_scores[qid] = max(v2_compute_exact(a, a_pred) for a in gold_answers)
                f1_scores[qid] = max(v2_compute_f1(a, a_pred) for a in gold_answers)
    return exact_scores, f1_scores


def v2_apply_no_ans_threshold(scores, na_probs, qid_to_has_ans, na_prob_thresh):
    new_scores = {}
    for qid, s in scores.items():
        pred_na = na_probs[qid] > na_prob_thresh
        if pred_na:
            new_scores[qid] = float(not qid_to_has_ans[qid])
        else:
            new_scores[qid] = s
    return new_scores


def v2_make_eval_dict(exact_scores, f1_scores, qid_list=None):
    if not qid_list:
        total = len(exact_scores)
        return collections.OrderedDict([
            ("exact", 100.0 * sum(exact_scores.values()) / total),
            ("f1", 100.0 * sum(f1_scores.values()) / total),
            ("total", total),
        ])
    total = len(qid_list)
    return collections.OrderedDict([
        ("exact", 100.0 * sum(exact_scores[k] for k in qid_list) / total),
        ("f1", 100.0 * sum(f1_scores[k] for k in qid_list) / total),
        ("total", total),
    ])


def v2_merge_eval(main_eval, new_eval, prefix):
    for k in new_eval:
        main_eval[f"{prefix}_{k}"] = new_eval[k]


def v2_find_best_thresh(preds, scores, na_probs, qid_to_has_ans):
    num_no_ans = sum(1 for k in qid_to_has_ans if not qid_to_has_ans[k])
    cur_score = num_no_ans
    best_score = cur_score
    best_thresh = 0.0
    qid_list = sorted(na_probs, key=lambda k: na_probs[k])
    for qid in qid_list:
        if qid not in scores:
            continue
        if qid_to_has_ans[qid]:
            diff = scores[qid]
        else:
            diff = -1 if preds[qid] else 0
        cur_score += diff
        if cur_score > best_score:
            best_score = cur_score
            best_thresh = na_probs[qid]
    return 100.0 * best_score / len(scores), best_thresh


def official_v2(references, predictions, no_answer_threshold=1.0):
    """evaluate-v2.0.py's main(), fed the way evaluate's squad_v2 module feeds it."""
    dataset = as_official_dataset(references)
    na_probs = {p["id"]: p["no_answer_probability"] for p in predictions}
    preds = {p["id"]: p["prediction_text"] for p in predictions}
    qid_to_has_ans = v2_make_qid_to_has_ans(dataset)
    has_ans_qids = [k for k, v in qid_to_has_ans.items() if v]
    no_ans_qids = [k for k, v in qid_to_has_ans.items() if not v]
    exact_raw, f1_raw = v2_get_raw_scores(dataset, preds)
    exact_thresh = v2_apply_no_ans_threshold(exact_raw, na_probs, qid_to_has_ans, no_answer_threshold)
    f1_thresh = v2_apply_no_ans_threshold(f1_raw, na_probs, qid_to_has_ans, no_answer_threshold)
    out_eval = v2_make_eval_dict(exact_thresh, f1_thresh)
    if has_ans_qids:
        v2_merge_eval(out_eval, v2_make_eval_dict(exact_thresh, f1_thresh, qid_list=has_ans_qids), "HasAns")
    if no_ans_qids:
        v2_merge_eval(out_eval, v2_make_eval_dict(exact_thresh, f1_thresh, qid_list=no_ans_qids), "NoAns")
    out_eval["best_exact"], out_eval["best_exact_thresh"] = v2_find_best_thresh(preds, exact_raw, na_probs,
                                                                                qid_to_has_ans)
    out_eval["best_f1"], out_eval["best_f1_thresh"] = v2_find_best_thresh(preds, f1_raw, na_probs, qid_to_has_ans)
    return dict(out_eval)


V2_REFS = [
    {"id": "a1", "answers": {"text": ["Normandy", "in Normandy"], "answer_start": [3, 0]}},
    {"id": "a2", "answers": {"text": ["10th and 11th centuries"], "answer_start": [7]}},
    {"id": "a3", "answers": {"text": ["Rollo"], "answer_start": [1]}},
    {"id": "a4", "answers": {"text": ["the"], "answer_start": [0]}},  # answerable, but normalises to ""
    {"id": "n1", "answers": {"text": [], "answer_start": []}},
    {"id": "n2", "answers": {"text": [], "answer_start": []}},
    {"id": "n3", "answers": {"text": [], "answer_start": []}},
]
V2_PREDS = [
    {"id": "n1", "prediction_text": "", "no_answer_probability": 0.9},
    {"id": "a1", "prediction_text": "Normandy", "no_answer_probability": 0.1},
    {"id": "a2", "prediction_text": "the 10th century", "no_answer_probability": 0.6},
    {"id": "n2", "prediction_text": "France", "no_answer_probability": 0.7},
    {"id": "a3", "prediction_text": "King Charles", "no_answer_probability": 0.3},
    {"id": "n3", "prediction_text": "Frankia", "no_answer_probability": 0.2},
    {"id": "a4", "prediction_text": "", "no_answer_probability": 0.4},
]


@pytest.mark.parametrize("threshold", [1.0, 0.5, 0.25, 0.0])
def test_squad_v2_matches_the_official_v2_script(threshold):
    got = compute("squad_v2", predictions=V2_PREDS, references=V2_REFS, no_answer_threshold=threshold)
    expected = official_v2(V2_REFS, V2_PREDS, threshold)
    assert list(got) == list(expected)  # same keys, in the official order
    assert set(got) == EVALUATE_KEYS["squad_v2"]
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
    assert (got["total"], got["HasAns_total"], got["NoAns_total"]) == (7, 4, 3)


def test_squad_v2_by_hand():
    got = compute("squad_v2", predictions=V2_PREDS, references=V2_REFS)  # threshold 1.0: the text decides
    # exact: a1, a4 ("the" and "" both normalise to ""), n1 -> 3 of 7; HasAns 2 of 4 (a4 counts as answerable,
    # as in the official script); NoAns 1 of 3
    assert got["exact"] == pytest.approx(300 / 7)
    assert (got["HasAns_exact"], got["NoAns_exact"]) == (50.0, pytest.approx(100 / 3))
    # f1: a1 1, a2 "10th century" vs "10th and 11th centuries" 1/3, a4 1, n1 1
    assert got["f1"] == pytest.approx(100 * (10 / 3) / 7)
    # best thresholds: walk the no-answer probabilities upwards, answering each question below the threshold
    assert (got["best_exact"], got["best_exact_thresh"]) == (pytest.approx(400 / 7), 0.1)
    assert (got["best_f1"], got["best_f1_thresh"]) == (pytest.approx(100 * 13 / 21), 0.6)


def test_squad_v2_only_answerable_has_no_noans_keys():
    got = compute("squad_v2", predictions=V2_PREDS[1:3], references=V2_REFS[:2])
    assert "NoAns_total" not in got and got["HasAns_total"] == 2
    assert got == pytest.approx(official_v2(V2_REFS[:2], V2_PREDS[1:3]))


def test_squad_v2_needs_no_answer_probability():
    preds = [{"id": "a1", "prediction_text": "Normandy"}]
    with pytest.raises(CourseError, match=r"squad_v2 predictions: expected a 'no_answer_probability' .*found "
                                          r"1 prediction\(s\) without one \(e\.g\. 'a1'\)\. Fix: "):
        compute("squad_v2", predictions=preds, references=V2_REFS[:1])


# ---------------------------------------------------------------- ROUGE


PREDS = ["the cat sat on the mat. it purred.", "police arrested two men on friday", "a quick brown fox"]
REFS = ["the cat was sitting on the mat. it was purring loudly.", "two men were arrested by police on friday",
        "the quick brown fox jumps"]


def test_rouge_matches_rouge_score_mean_fmeasure():
    got = compute("rouge", predictions=PREDS, references=REFS)
    assert set(got) == EVALUATE_KEYS["rouge"]
    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    scorer = rouge_scorer.RougeScorer(types)
    per = [scorer.score(r, p) for r, p in zip(REFS, PREDS)]
    for t in types:
        assert got[t] == pytest.approx(sum(s[t].fmeasure for s in per) / len(per), abs=1e-12), t
    listed = compute("rouge", predictions=PREDS, references=REFS, use_aggregator=False, rouge_types=["rouge1"])
    assert listed == {"rouge1": [s["rouge1"].fmeasure for s in per]}


def test_rouge_multi_reference_stemmer_and_tokenizer():
    refs = [[r, "an unrelated sentence"] for r in REFS]
    got = compute("rouge", predictions=PREDS, references=refs, rouge_types=["rouge1", "rougeL"], use_stemmer=True)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)
    per = [scorer.score_multi(r, p) for r, p in zip(refs, PREDS)]
    assert got["rouge1"] == pytest.approx(np.mean([s["rouge1"].fmeasure for s in per]), abs=1e-12)
    assert got["rougeL"] == pytest.approx(np.mean([s["rougeL"].fmeasure for s in per]), abs=1e-12)
    # evaluate accepts a plain callable as tokenizer (it wraps it for rouge_score)
    by_chars = compute("rouge", predictions=["abc"], references=["abd"], rouge_types=["rouge1"], tokenizer=list)
    assert by_chars == {"rouge1": pytest.approx(2 / 3)}


def test_sentences_per_line_keeps_abbreviations():
    text = "Mr. Smith met Dr. Jones at 5 p.m. on Monday. They discussed the U.S. economy, e.g. jobs. It went well!"
    assert metrics.sentences_per_line(text).split("\n") == [
        "Mr. Smith met Dr. Jones at 5 p.m. on Monday.", "They discussed the U.S. economy, e.g. jobs.",
        "It went well!"]
    assert metrics.sentences_per_line("  One line only  ") == "One line only"


# ---------------------------------------------------------------- input errors


@pytest.mark.parametrize("name", ["accuracy", "f1", "mse", "pearsonr", "matthews_correlation", "rouge", "squad"])
def test_mismatched_lengths(name):
    with pytest.raises(CourseError, match=rf"{name} inputs: expected as many predictions as references, found 2 "
                                          rf"predictions and 3 references\. Fix: compute predictions for exactly"):
        compute(name, predictions=[0, 1], references=[0, 1, 1])


def test_roc_auc_mismatched_lengths_name_prediction_scores():
    with pytest.raises(CourseError, match=r"roc_auc inputs: expected as many predictions as references, found 2 "):
        compute("roc_auc", prediction_scores=[0.2, 0.7], references=[0, 1, 1])


def test_empty_inputs():
    with pytest.raises(CourseError, match=r"accuracy inputs: expected at least one example, found empty lists\. "
                                          r"Fix: check that the evaluation split is not empty"):
        compute("accuracy", predictions=[], references=[])


def test_missing_predictions():
    with pytest.raises(CourseError, match=r"f1 predictions: expected a list or array, found NoneType\. Fix: pass "
                                          r"predictions=\[\.\.\.\]"):
        compute("f1", references=[0, 1])


def test_unknown_metric_name():
    with pytest.raises(CourseError, match=r"Metric 'f1_score': expected one of \['accuracy', .*'squad_v2'\], found "
                                          r"'f1_score'\. Fix: check the spelling"):
        metrics.load("f1_score")


def test_roc_auc_without_scores_names_prediction_scores():
    with pytest.raises(CourseError, match=r"^roc_auc prediction_scores: expected a list or array, found NoneType\. "
                                          r"Fix: pass prediction_scores=\[\.\.\.\]"):
        compute("roc_auc", references=[0, 1])


# ---------------------------------------------------------------- Hub path (evaluate faked: no network, no import cost)


class FakeEvaluate(types.ModuleType):
    def __init__(self, fail: bool):
        super().__init__("evaluate")
        self.fail, self.loaded = fail, []

    def load(self, name):
        self.loaded.append(name)
        if self.fail:
            raise ConnectionError("Hub hiccup")
        return types.SimpleNamespace(compute=lambda **kw: {"from": "evaluate", **kw})


def test_online_wraps_evaluate_load(monkeypatch):
    fake = FakeEvaluate(fail=False)
    monkeypatch.setitem(sys.modules, "evaluate", fake)
    monkeypatch.setattr(hub, "is_online", lambda: True)
    metric = metrics.load("f1")
    assert metric.source == "evaluate (Hugging Face Hub)"
    assert metric.compute(predictions=[1], references=[1], average="macro") == {
        "from": "evaluate", "predictions": [1], "references": [1], "average": "macro"}
    assert metrics.load("log_loss").source.startswith("course_utils (local")  # no evaluate module exists
    assert metrics.load("f1", prefer_local=True).source.startswith("course_utils (local")
    assert fake.loaded == ["f1"]


def test_online_falls_back_when_evaluate_load_fails(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "evaluate", FakeEvaluate(fail=True))
    monkeypatch.setattr(hub, "is_online", lambda: True)
    metric = metrics.load("accuracy")
    assert capsys.readouterr().out == ("evaluate.load('accuracy') failed (ConnectionError); using the local "
                                       "implementation\n")
    assert metric.source.startswith("course_utils (local")
    assert metric.compute(predictions=[0, 1], references=[1, 1]) == {"accuracy": 0.5}


def test_log_loss_with_explicit_labels():
    probs = [[.7, .3], [.4, .6], [.5, .5]]
    assert compute("log_loss", predictions=probs, references=[3, 7, 7], labels=np.array([3, 7]))["log_loss"] == \
        skm.log_loss([3, 7, 7], probs, labels=[3, 7])
    with pytest.raises(CourseError, match=r"^log_loss references: expected labels from \[3, 7\], found 1 other "
                                          r"value\(s\): \[5\]\. Fix: "):
        compute("log_loss", predictions=probs, references=[3, 5, 7], labels=[3, 7])
