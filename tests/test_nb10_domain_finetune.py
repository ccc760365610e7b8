import csv
import importlib.util
import io
import json
import math
import random

import pandas as pd
import pytest

from nbrun import ROOT, check_common, execute

pytestmark = pytest.mark.notebook
CSV = ROOT / "course_utils" / "course_data" / "support_tickets.csv"


def load_generator():
    spec = importlib.util.spec_from_file_location("make_support_tickets", ROOT / "tools" / "make_support_tickets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_csv_is_what_the_generator_writes():
    gen = load_generator()
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=gen.FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(gen.build(random.Random(gen.SEED)))
    with CSV.open(encoding="utf-8", newline="") as f:
        assert out.getvalue() == f.read(), "run tools/make_support_tickets.py and commit the CSV"


def test_dataset_is_messy_on_purpose():
    raw = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    assert len(raw) >= 300
    assert raw.duplicated().sum() >= 10, "exact duplicates"
    assert raw["label"].nunique() > 4, "inconsistent label spellings"
    assert set(raw["label"].str.strip().str.lower()) == {"technical issue", "billing", "account", "general inquiry"}
    counts = raw["label"].str.strip().str.lower().value_counts()
    assert counts.max() / counts.min() >= 2.5, "class imbalance"
    assert (raw["text"].str.strip().str.len() < 5).sum() >= 3, "junk rows"
    assert raw["text"].str.contains(r"\bteh\b|\bacount\b|\brecieve\b").sum() >= 5, "typos"


def test_domain_finetune_notebook():
    run = execute("10")
    check_common(run, ["f1_macro", "accuracy", "perplexity_before", "perplexity_after", "baseline_f1_macro"])
    m, extra = run.results["metrics"], run.results["extra"]
    assert 0 <= m["f1_macro"] <= 1 and 0 <= m["accuracy"] <= 1
    # the baseline does not depend on the profile: the cleaned data is hard, but learnable
    assert 0.8 <= m["baseline_f1_macro"] < 1.0
    for name in ("perplexity_before", "perplexity_after", "perplexity_control"):
        assert 1 < m[name] < 2 * 30522 and math.isfinite(m[name]), (name, m[name])
    steps = {s["step"].split(" (")[0]: s for s in extra["cleaning_log"]}
    assert steps["exact duplicates"]["removed"] == 24
    assert steps["junk rows"]["removed"] == 16
    assert steps["near duplicates"]["removed"] >= 26
    assert steps["typos"]["fixed"] >= 20
    assert 1 <= steps["suspicious labels sent to review"]["removed"] <= 15
    assert extra["rows_raw"] == 547 and extra["rows_clean"] == extra["rows_raw"] - sum(s["removed"] for s in steps.values())
    sizes = extra["splits"]
    assert sizes["train"] + sizes["validation"] + sizes["test"] == extra["rows_clean"]
    assert sizes["train_balanced"] % 4 == 0 and sizes["train_balanced"] > sizes["train"]
    review = pd.read_csv(run.output_dir / "review_queue.csv")
    assert len(review) == extra["review_queue_rows"] >= 6
    assert set(review["reason"]) == {"near duplicates with conflicting labels", "baseline disagrees (out-of-fold)"}
    report = (run.output_dir / "report.md").read_text()
    for heading in ("## Dataset insights", "## Training process", "## Results", "## Application and impact",
                    "## One improvement for next time"):
        assert heading in report
    assert f"{m['f1_macro']:.3f}" in report and f"{m['baseline_f1_macro']:.3f}" in report
    config = json.loads((run.output_dir / "ticket-router" / "config.json").read_text())
    assert config["id2label"] == {"0": "technical issue", "1": "billing", "2": "account", "3": "general inquiry"}
    assert "course-metrics:" in run.outputs_text()
