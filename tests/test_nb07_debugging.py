import pytest

from course_utils.diagnose import VERDICTS
from nbrun import check_common, execute

pytestmark = pytest.mark.notebook

CASES = {"overfitting": "overfitting", "underfitting": "underfitting", "diverging": "diverging",
         "preprocessing_bug": "underfitting", "tokenization_bug": "healthy"}


def test_debugging_lab_records_every_case_with_its_verdict():
    run = execute("07")
    short = ["overfit", "underfit", "diverge", "bug", "tokenization"]
    check_common(run, ["accuracy", "verdicts_matched", "cases", "speedup_efficient_vs_naive"]
                 + [f"{k}_{when}_accuracy" for k in short for when in ("before", "after")])
    m, extra = run.results["metrics"], run.results["extra"]
    cases = extra["cases"]
    assert set(cases) == set(CASES) and m["cases"] == 5
    for name, case in cases.items():
        assert case["expected_verdict"] == CASES[name]
        assert case["verdict"] in VERDICTS and case["verdict"] == case["before"]["verdict"]
        assert case["verdict_matches"] == (case["verdict"] == case["expected_verdict"])
        for when in ("before", "after"):
            assert 0.0 <= case[when]["accuracy"] <= 1.0
            assert case[when]["evidence"]["train_logs"] >= 1 and case[when]["suggestions"]
    assert m["verdicts_matched"] == sum(c["verdict_matches"] for c in cases.values())
    assert m["overfit_before_accuracy"] == cases["overfitting"]["before"]["accuracy"]
    assert m["bug_after_accuracy"] == cases["preprocessing_bug"]["after"]["accuracy"]
    # the simulated 8-example GPU: 32 -> 16 x 2 -> 8 x 4
    assert extra["oom_retry"] == {"start_batch": 32, "fitted_batch": 8, "fitted_accumulation": 4}
    speed = {row["setting"]: row for row in extra["speed"]}
    assert len(speed) == 5 and all(row["samples/s"] > 0 for row in speed.values())
    assert speed["naive: pad to 128, batch 16"]["mean padded length"] == 128
    assert speed["dynamic padding, batch 16"]["mean padded length"] < 64
    assert speed["dynamic, batch 4 x accumulation 4"]["examples per update"] == 16
    memory = extra["memory_estimates"]
    full = memory["batch 32 x 512, fp32"]["total GiB"]
    assert memory["batch 32 x 512, bf16 mixed precision"]["total GiB"] < full
    assert memory["batch 32 x 512, gradient checkpointing"]["activations GiB"] < memory["batch 32 x 512, fp32"]["activations GiB"] / 5
    text = run.outputs_text()
    assert "The verdicts below may not match" in text
    assert "Out of memory at per-device batch 32: retrying with batch 16 x 2" in text
    assert f"diagnose matched {int(m['verdicts_matched'])} of 5 planted failures" in text
    # the tokenization bug: inputs cut to 4 word pieces, shown decoded; its "after" is the sound recipe
    tok = cases["tokenization_bug"]
    assert tok["planted"] == "max_length=6 instead of 64: sentences cut to 4 word pieces"
    assert tok["after"]["accuracy"] == m["accuracy"] == m["tokenization_after_accuracy"]
    assert "model sees: " in text and "test sentences cut at max_length=6: " in text
    # diagnose's rules are shown as a table read from the module
    assert "underfit_drop" in text and "OVERFIT_MIN_ABS_RISE" in text
