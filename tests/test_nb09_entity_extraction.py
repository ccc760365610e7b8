import json

import pytest

from nbrun import ROOT, check_common, execute

pytestmark = pytest.mark.notebook


def test_contracts_file_is_well_formed():
    from course_utils.ner import split_words

    rows = [json.loads(line) for line in (ROOT / "course_utils" / "course_data" / "contracts.jsonl").read_text().splitlines()]
    assert 6 <= len(rows) <= 10 and len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        words = " ".join(split_words(r["text"]))
        for e in r["entities"]:
            assert e["type"] in {"PER", "ORG", "LOC", "MISC", "DATE"}
            assert " ".join(split_words(e["text"])) in words, f"{r['id']}: {e['text']!r} is not in the text"


def test_entity_extraction_notebook():
    run = execute("09")
    check_common(run, ["entity_f1", "entity_f1_main", "entity_f1_variant", "contract_f1"])
    m, extra = run.results["metrics"], run.results["extra"]
    assert all(0 <= m[k] <= 1 for k in ("entity_f1", "entity_precision", "entity_recall", "contract_f1"))
    assert m["entity_f1"] == max(m["entity_f1_main"], m["entity_f1_variant"])  # the better variant is kept
    assert len(extra["comparison"]) == 2
    layers = sorted(row["layers"] for row in extra["comparison"])
    assert layers == [1, 2], f"tiny: the variant keeps 1 of the 2 layers, found {layers}"
    assert extra["augmented_sentences"] == 12 and extra["train_sentences"] == 48  # augment_share 0.25 of 48
    assert extra["eval_sentences"] == 12 and extra["dev_sentences"] == 12
    model_dir = run.output_dir / "model"
    config = json.loads((model_dir / "config.json").read_text())
    assert config["id2label"]["1"] == "B-PER" and (model_dir / "tokenizer.json").exists()
    assert len(extra["contracts_tagged"]) == 10
    assert "[3 March 2025]DATE" in extra["contracts_tagged"]["clause-01"]  # the date rule
    assert (run.output_dir / "contracts.csv").read_text().count("clause-") == 10
    assert "Using CoNLL-2003 as the stand-in for WikiAnn" in run.outputs_text()
    assert f"{m['entity_f1_main']:.3f}" in extra["summary"]
