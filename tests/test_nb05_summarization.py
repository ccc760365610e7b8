import json

import pytest

from nbrun import check_common, execute

pytestmark = pytest.mark.notebook

EXTRACTIVE = ["rougeL_lead3", "rouge1_extractive", "rouge2_extractive", "rougeL_extractive", "rougeL_lead_same_length"]


def test_summarization_notebook_reports_both_summarizers_and_the_lead():
    run = execute("05")
    check_common(run, ["rouge1", "rouge2", "rougeL", "rougeLsum", "lead_rouge1", "lead_rouge2", "lead_rougeL",
                       *EXTRACTIVE])
    m, extra = run.results["metrics"], run.results["extra"]
    for name, value in m.items():
        assert 0 <= value <= 1, f"{name} = {value} is not a ROUGE F-measure"
    assert m["rouge2"] <= m["rouge1"] and m["lead_rouge2"] <= m["lead_rouge1"]
    assert m["rouge2_extractive"] <= m["rouge1_extractive"]
    assert m["lead_rougeL"] > 0.2  # copying the first sentences of an extractive summary scores well
    assert m["rougeL_lead3"] == m["lead_rougeL"]  # the same lead-3, under the name the extractive bar uses
    assert m["rougeL_extractive"] > 0  # sentences of the article always share words with its summary
    assert m["rougeL"] < m["lead_rougeL"]  # the tiny seq2seq model is random: it cannot beat lead
    assert extra["model_kind"] == "tiny" and extra["model_beats_lead"] is False
    assert extra["test_size"] == 4 and extra["train_size"] == 24  # tiny slice of 40: 32/4/4 split
    assert extra["extractive_train_size"] == 24 and extra["extractive_train_sentences"] > 24 * 5
    assert 1 <= extra["extractive_k"] <= 10
    assert extra["extractive_beats_lead3"] == (m["rougeL_extractive"] >= m["rougeL_lead3"])
    rows = (run.output_dir / "summaries.csv").read_text()
    assert rows.startswith("reference,model,lead,extractive")
    assert (run.output_dir / "model" / "config.json").exists()
    text = run.outputs_text()
    shown = [line for line in text.splitlines() if line.startswith("course-metrics:")]
    assert json.loads(shown[0].split(":", 1)[1]) == m
    for checkpoint in ("preprocess matches the reference on 3 training articles",
                       "pad_labels matches DataCollatorForSeq2Seq on 4 training articles",
                       "compute_metrics gives ROUGE 1.0 when the generated summaries are the references"):
        assert checkpoint in text
    assert f"-> k = {extra['extractive_k']}" in text
