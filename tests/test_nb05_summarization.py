import json

import pytest

from nbrun import check_common, execute

pytestmark = pytest.mark.notebook


def test_summarization_notebook_reports_model_and_lead_rouge():
    run = execute("05")
    check_common(run, ["rouge1", "rouge2", "rougeL", "rougeLsum", "lead_rouge1", "lead_rouge2", "lead_rougeL"])
    m, extra = run.results["metrics"], run.results["extra"]
    for name, value in m.items():
        assert 0 <= value <= 1, f"{name} = {value} is not a ROUGE F-measure"
    assert m["rouge2"] <= m["rouge1"] and m["lead_rouge2"] <= m["lead_rouge1"]
    assert m["lead_rougeL"] > 0.2  # copying the first sentences of an extractive summary scores well
    assert m["rougeL"] < m["lead_rougeL"]  # the tiny model is random: it cannot beat lead
    assert extra["model_kind"] == "tiny" and extra["model_beats_lead"] is False
    assert extra["test_size"] == 4 and extra["train_size"] == 24  # tiny slice of 40: 32/4/4 split
    rows = (run.output_dir / "summaries.csv").read_text()
    assert rows.startswith("reference,model,lead")
    assert (run.output_dir / "model" / "config.json").exists()
    shown = [line for line in run.outputs_text().splitlines() if line.startswith("course-metrics:")]
    assert json.loads(shown[0].split(":", 1)[1]) == m
