import math

import pytest

from course_utils.diagnose import (OVERFIT_MIN_ABS_RISE, VERDICTS, Diagnosis, cue_agreement, diagnose,
                                   estimate_training_memory, rules)
from course_utils.errors import CourseError


def history(train, evals=(), every=10, accuracy=None, grad=None):
    """A Trainer-like log history: a training loss every `every` steps, evaluations spread over the run."""
    log = [{"loss": v, "step": every * (i + 1), "epoch": i / 10} for i, v in enumerate(train)]
    if grad is not None:
        for row, g in zip(log, grad):
            row["grad_norm"] = g
    last = every * len(train)
    for j, v in enumerate(evals):
        step = round(last * (j + 1) / len(evals))
        row = {"eval_loss": v, "step": step, "epoch": j}
        if accuracy is not None:
            row["eval_accuracy"] = accuracy[j]
        log.append(row)
    log.append({"train_runtime": 1.0, "train_loss": 0.5, "step": last})  # the summary row train() adds
    return log


HEALTHY = history([0.70, 0.60, 0.50, 0.42, 0.38, 0.35, 0.33, 0.31], [0.45, 0.38, 0.36], accuracy=[0.78, 0.83, 0.85])


def test_healthy_run():
    d = diagnose(HEALTHY, n_classes=2)
    assert d.verdict == "healthy"
    assert d.evidence["train_loss_start"] == 0.7  # the first logged loss
    assert d.evidence["train_loss_max"] == 0.7
    assert d.evidence["train_loss_end"] == 0.32  # mean of the last quarter (2 of 8 logs)
    assert d.evidence["eval_loss_best"] == 0.36 and d.evidence["eval_loss_best_step"] == 80
    assert d.evidence["metric_best"] == 0.85 and d.evidence["metric_last"] == 0.85
    assert d.evidence["chance_loss"] == round(math.log(2), 4) and d.evidence["chance_metric"] == 0.5
    assert d.evidence["train_logs"] == 8 and d.evidence["eval_logs"] == 3 and d.evidence["last_step"] == 80


def test_overfitting_run():
    log = history([0.7, 0.5, 0.3, 0.15, 0.08, 0.04, 0.02, 0.01], [0.50, 0.45, 0.60, 0.80], accuracy=[.8, .82, .81, .8])
    d = diagnose(log, train_size=64)
    assert d.verdict == "overfitting"
    assert d.evidence["eval_loss_best"] == 0.45 and d.evidence["eval_loss_last"] == 0.8
    assert d.evidence["eval_loss_rise"] == pytest.approx(0.7778, abs=1e-4)
    assert "rose 77.8% above its best" in d.reasons[0]
    assert d.suggestions[0].startswith("more training data: only 64 examples")
    assert any("EarlyStoppingCallback" in s for s in d.suggestions)


def test_overfitting_borderline_small_rise_is_healthy():
    # validation loss 8% above its best: within the 10% tolerance, so noise rather than overfitting
    log = history([0.7, 0.5, 0.3, 0.2, 0.15, 0.1], [0.50, 0.40, 0.432])
    d = diagnose(log)
    assert d.verdict == "healthy"
    assert d.evidence["eval_loss_rise"] == 0.08
    assert diagnose(log, overfit_rise=0.05).verdict == "overfitting"


def test_overfitting_needs_three_evaluations():
    log = history([0.7, 0.5, 0.3, 0.2, 0.15, 0.1], [0.40, 0.90])
    assert diagnose(log).verdict == "healthy"


def test_underfitting_flat_loss():
    log = history([0.700, 0.698, 0.701, 0.695, 0.699, 0.694, 0.697, 0.693], [0.694, 0.693, 0.693],
                  accuracy=[0.5, 0.5, 0.51])
    d = diagnose(log, n_classes=2)
    assert d.verdict == "underfitting"
    assert d.evidence["train_loss_drop"] == pytest.approx(0.0071, abs=1e-4)
    assert "fell only 0.7%" in d.reasons[0]
    assert any("labels still match the texts" in s for s in d.suggestions)


def test_underfitting_borderline():
    # the loss fell 9.1% (0.66 -> 0.60): underfitting at the 10% bar, healthy at 5%
    log = history([0.66, 0.66, 0.64, 0.62, 0.61, 0.60, 0.60, 0.60])
    assert diagnose(log).verdict == "underfitting"
    assert diagnose(log, underfit_drop=0.05).verdict == "healthy"


def test_diverging_rising_loss():
    d = diagnose(history([0.7, 0.9, 1.5, 2.4, 3.0, 3.3, 3.5, 3.6]))
    assert d.verdict == "diverging"
    assert d.reasons[0] == "the training loss rose from 0.7 to 3.55"
    assert d.suggestions[0].startswith("lower the learning rate 10x")


def test_rise_borderline():
    # ends 15% above its start (0.70 -> 0.805): within the 20% margin, so not called diverging
    log = history([0.70, 0.72, 0.75, 0.78, 0.80, 0.79, 0.80, 0.81])
    d = diagnose(log)
    assert d.verdict == "underfitting" and d.evidence["train_loss_end"] == 0.805
    assert diagnose(log, diverge_rise=0.10).verdict == "diverging"


def test_diverging_spike_then_chance_level():
    # typical of a far too high learning rate: a spike, then the model predicts one class (loss ~ ln 2)
    log = history([0.70, 4.80, 1.20, 0.75, 0.70, 0.71, 0.69, 0.70], grad=[3, 90, 20, 5, 4, 4, 3, 3])
    d = diagnose(log)
    assert d.verdict == "diverging"
    assert "spiked to 4.8" in d.reasons[0]
    assert d.evidence["grad_norm_max"] == 90


def test_spike_borderline_below_factor_is_not_diverging():
    log = history([0.70, 0.70, 1.30, 0.50, 0.40, 0.30, 0.25, 0.20])  # peak 1.86x the start (0.70)
    assert diagnose(log).verdict == "healthy"
    assert diagnose(log, spike_factor=1.5).verdict == "diverging"


def test_nan_loss_is_diverging_even_early():
    d = diagnose(history([0.7, float("nan")]))
    assert d.verdict == "diverging"
    assert "NaN/inf (at step 20)" in d.reasons[0]
    assert diagnose(history([0.7, 0.6, 0.5, 0.4], grad=[1, 2, float("inf"), 1])).verdict == "diverging"


def test_too_few_steps():
    d = diagnose(history([0.7, 0.6]))
    assert d.verdict == "too few steps to tell"
    assert "only 2 training loss(es)" in d.reasons[0]
    assert diagnose([]).verdict == "too few steps to tell"
    assert diagnose(history([0.7, 0.6]), min_points=2).verdict == "healthy"


def test_every_verdict_is_known_and_serialisable():
    d = diagnose(HEALTHY)
    assert isinstance(d, Diagnosis) and d.verdict in VERDICTS
    assert set(d.as_dict()) == {"verdict", "evidence", "reasons", "suggestions"}
    assert str(d).startswith("Verdict: healthy\n  because no rule fired")


def test_bad_inputs_are_explained():
    with pytest.raises(CourseError, match=r"log_history: expected a list of dicts .* found Trainer\. Fix: pass "
                                          r"trainer\.state\.log_history"):
        class Trainer:
            pass
        diagnose(Trainer())
    with pytest.raises(CourseError, match=r"expected entries with 'loss' or 'eval_loss', found keys \['step', "
                                          r"'train_runtime'\]\. Fix: set logging_steps"):
        diagnose([{"train_runtime": 3.0, "step": 5}])


def test_memory_estimate_numbers():
    m = estimate_training_memory(110_000_000, layers=12, hidden=768, heads=12, batch_size=32, seq_len=128)
    assert m.weights == pytest.approx(110e6 * 4 / 2**30)
    assert m.optimizer == pytest.approx(2 * m.weights)
    assert m.activations == pytest.approx(3.09375)  # 12 layers x 128*32*768*(34+10)*2 bytes
    half = estimate_training_memory(110_000_000, layers=12, hidden=768, heads=12, batch_size=32, seq_len=128,
                                    precision="bf16")
    assert half.activations == pytest.approx(m.activations / 2)
    ckpt = estimate_training_memory(110_000_000, layers=12, hidden=768, heads=12, batch_size=32, seq_len=128,
                                    gradient_checkpointing=True)
    assert ckpt.activations == pytest.approx((12 * 2 * 128 * 32 * 768 * 2 + 128 * 32 * 768 * 44 * 2) / 2**30)
    assert ckpt.total < m.total


def test_memory_estimate_errors():
    with pytest.raises(CourseError, match=r"precision: expected one of \['bf16', 'fp16', 'fp32'\], found 'int8'"):
        estimate_training_memory(10, layers=1, hidden=8, heads=2, batch_size=1, seq_len=8, precision="int8")
    with pytest.raises(CourseError, match=r"expected positive integers, found \{'batch_size': 0\}"):
        estimate_training_memory(10, layers=1, hidden=8, heads=2, batch_size=0, seq_len=8)


def test_cue_agreement_sound_shuffled_and_flipped():
    texts = ["a great film", "great acting, I loved it", "dull and slow", "I loved the dull parts", "awful", "fine"]
    cues = {1: ["great", "loved"], 0: ["dull", "awful"]}
    sound = cue_agreement(texts, [1, 1, 0, 1, 0, 1], cues)
    assert sound == {1: {"texts_with_cue": 3, "share_with_label": 1.0, "base_rate": 0.6667},
                     0: {"texts_with_cue": 3, "share_with_label": 0.6667, "base_rate": 0.3333}}
    flipped = cue_agreement(texts, [0, 0, 1, 0, 1, 0], cues)
    assert flipped[1]["share_with_label"] == 0.0 and flipped[0]["share_with_label"] == 0.3333
    assert cue_agreement(["nothing here"], [1], {1: ["great"]})[1]["share_with_label"] is None


def test_cue_agreement_length_mismatch():
    with pytest.raises(CourseError, match=r"expected one label per text, found 2 texts and 1 labels"):
        cue_agreement(["a", "b"], [1], {1: ["a"]})


def test_rules_table_is_the_code_s_thresholds_in_its_order():
    table = rules()
    assert [r["order"] for r in table] == list(range(1, len(table) + 1))
    assert [r["verdict"] for r in table] == ["diverging", "too few steps to tell", "diverging", "diverging",
                                             "underfitting", "overfitting", "overfitting", "healthy"]
    defaults = {r["threshold"]: r["default"] for r in table if r["threshold"] != "-"}
    assert defaults == {"min_points": 3, "diverge_rise": 0.2, "spike_factor": 2.0, "underfit_drop": 0.1,
                        "overfit_rise": 0.1, "OVERFIT_MIN_ABS_RISE": OVERFIT_MIN_ABS_RISE}
    assert set(r["verdict"] for r in table) == set(VERDICTS)


def test_rules_table_thresholds_decide_by_hand_as_diagnose_does():
    """Applying the table's underfit and rise thresholds by hand to the evidence gives diagnose's verdict."""
    defaults = {r["threshold"]: r["default"] for r in rules()}
    for losses in ([0.66, 0.66, 0.64, 0.62, 0.61, 0.60, 0.60, 0.60], [0.7, 0.6, 0.5, 0.42, 0.38, 0.35, 0.33, 0.31]):
        ev = diagnose(history(losses)).evidence
        start, end = ev["train_loss_start"], ev["train_loss_end"]
        by_hand = "underfitting" if (start - end) / start < defaults["underfit_drop"] else "healthy"
        assert by_hand == diagnose(history(losses)).verdict
    # a rise of 0.015 clears 10% of a small best loss but not the absolute floor: healthy
    small = history([0.7, 0.5, 0.3, 0.2, 0.15, 0.1], [0.12, 0.10, 0.115])
    assert diagnose(small).evidence["eval_loss_rise"] > defaults["overfit_rise"]
    assert diagnose(small).verdict == "healthy"
