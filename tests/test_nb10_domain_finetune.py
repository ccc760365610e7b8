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
DATA = ROOT / "course_utils" / "course_data"
CSV = DATA / "support_tickets.csv"


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


def test_committed_raw_exports_and_domains_are_what_the_generator_writes(tmp_path, monkeypatch):
    gen = load_generator()
    for name in ("OUT", "RAW_OUT", "DOMAINS_OUT", "CLINIC_OUT"):
        monkeypatch.setattr(gen, name, tmp_path / getattr(gen, name).name)
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    gen.main()
    for name in ("support_tickets.csv", "support_inbox.jsonl", "clinic_inbox.jsonl", "domains.json"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), \
            f"run tools/make_support_tickets.py and commit {name}"


def test_raw_export_assembles_into_the_table():
    """The labelled raw messages, each renamed with its tool's fields, are the CSV's rows in the CSV's order."""
    domains = json.loads((DATA / "domains.json").read_text())
    records = [json.loads(line) for line in (DATA / "support_inbox.jsonl").read_text().splitlines()]
    fields = domains["support_tickets"]["raw_fields"]
    assert {r["tool"] for r in records} == set(fields) and len(records) >= 200
    assert all(set(r) == {"tool", *fields[r["tool"]]} for r in records), "each tool writes its own field names"
    rows = [{column: r[field] for field, column in fields[r["tool"]].items()} for r in records]
    table = pd.DataFrame([r for r in rows if r["label"]])[list(pd.read_csv(CSV, nrows=0).columns)]
    pd.testing.assert_frame_equal(table, pd.read_csv(CSV, dtype=str, keep_default_na=False))
    assert sum(not r["label"] for r in rows) == domains["support_tickets"]["reference"]["unlabelled"] == 12
    clinic = [json.loads(line) for line in (DATA / "clinic_inbox.jsonl").read_text().splitlines()]
    assert len(clinic) >= 200 and {r["tool"] for r in clinic} == set(domains["clinic_messages"]["raw_fields"])


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
    assert steps["grammar rules"]["fixed"] >= 20
    # the labelling pass: the reference decides all 30 queued rows (18 in review_queue.csv, 12 unlabelled)
    assert extra["domain"] == "support_tickets" and extra["entries_collected"] == 559 and extra["unlabelled"] == 12
    assert extra["decisions_made"] == {"keep": 6, "relabel": 18, "drop": 6}
    assert steps["labelling pass"]["removed"] == -24 and steps["labelling pass"]["fixed"] == 18
    decisions = pd.read_csv(run.output_dir / "decisions.csv", keep_default_na=False)
    assert len(decisions) == extra["review_queue_rows"] + extra["unlabelled"]
    assert set(decisions["decision"]) == {"keep", "relabel", "drop"} and (decisions["why"] != "").all()
    assert set(decisions.loc[decisions["decision"] == "relabel", "new_label"]) <= {
        "technical issue", "billing", "account", "general inquiry"}
    assert "no label in the export" in set(decisions["reason"])
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
    analysis = [c for c in run.notebook.cells if "analysis" in c.metadata.get("tags", [])]
    assert len(analysis) == 1 and analysis[0].cell_type == "markdown" and "[write here:" in analysis[0].source


def test_domain_finetune_notebook_on_the_second_domain():
    """`domain = "clinic_messages"`: the same notebook, end to end, on the course's second domain."""
    run = execute("10", domain="clinic_messages")
    check_common(run, ["f1_macro", "accuracy", "baseline_f1_macro"])
    extra = run.results["extra"]
    assert extra["domain"] == "clinic_messages" and extra["entries_collected"] >= 200 and extra["rows_clean"] >= 200
    steps = {s["step"].split(" (")[0]: s for s in extra["cleaning_log"]}
    assert steps["exact duplicates"]["removed"] == 10 and steps["junk rows"]["removed"] == 7
    config = json.loads((run.output_dir / "message-triage" / "config.json").read_text())
    assert config["id2label"] == {"0": "routine", "1": "admin", "2": "urgent"}
    assert "Riverside Clinic" in run.results["dataset"]
    assert "Riverside Clinic" in (run.output_dir / "report.md").read_text()
    decisions = pd.read_csv(run.output_dir / "decisions.csv", keep_default_na=False)
    assert len(decisions) >= 6 and set(decisions["why"]) == {"not reviewed"}  # no decisions for this domain yet
