import json

import nbformat
import numpy as np
import pytest
import transformers

import course_utils as cu
from nbrun import ROOT, check_common, execute, notebook_path

pytestmark = pytest.mark.notebook

TINY = ROOT / "course_utils" / "course_data" / "tiny"
MAX_LENGTH, BATCH = 64, 8  # the tiny profile's


def texts(folder: str) -> list[str]:
    return [json.loads(l)["text"] for l in (TINY / folder / "train.jsonl").read_text().splitlines() if l]


@pytest.fixture(scope="module")
def run():
    return execute("02")


@pytest.fixture(scope="module")
def imdb_lengths():
    """Token lengths of the tiny IMDb train slice, in the notebook's order (balanced_sample shuffles, seed 42)."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(cu.models.tiny_bert_path())
    train = cu.data.balanced_sample(cu.data.load_local(TINY / "imdb")["train"], None, seed=42)
    return np.array([len(ids) for ids in tokenizer(list(train["text"]))["input_ids"]])


def test_token_lengths_and_truncation(run, imdb_lengths):
    check_common(run, ["truncated_share", "mean_tokens", "pad_share_max_length", "pad_share_dynamic"])
    m = run.results["metrics"]
    assert m["max_length"] == MAX_LENGTH and m["n_reviews"] == len(imdb_lengths)
    assert m["mean_tokens"] == pytest.approx(imdb_lengths.mean())
    assert m["median_tokens"] == pytest.approx(np.median(imdb_lengths))
    assert m["truncated_share"] == pytest.approx(np.mean(imdb_lengths > MAX_LENGTH))
    assert m["share_over_512"] == pytest.approx(np.mean(imdb_lengths > 512))
    assert 1.1 < m["tokens_per_word"] < 1.6


def test_padding_costs(run, imdb_lengths):
    m = run.results["metrics"]
    kept = np.minimum(imdb_lengths, MAX_LENGTH)
    assert m["pad_share_max_length"] == pytest.approx(1 - kept.sum() / (len(kept) * MAX_LENGTH))
    for prefix in ("", "ag_news_"):
        assert 0 <= m[f"{prefix}pad_share_dynamic"] <= m[f"{prefix}pad_share_max_length"] < 1
    assert m["pad_share_grouped"] <= m["pad_share_dynamic"] + 1e-12
    first = kept[:BATCH]
    assert m["pad_tokens_batch_max_length"] == (MAX_LENGTH - first).sum()
    assert m["pad_tokens_batch_dynamic"] == (first.max() - first).sum()
    # AG News stories are short: dynamic padding must save pads there
    assert m["ag_news_pad_tokens_batch_dynamic"] < m["ag_news_pad_tokens_batch_max_length"]
    assert m["ag_news_pad_share_max_length"] > m["pad_share_max_length"]


def test_model_fields_and_mask(run):
    m, extra = run.results["metrics"], run.results["extra"]
    assert m["attention_mask_max_change"] < 1e-4
    assert extra["fields"] == ["input_ids", "token_type_ids", "attention_mask", "labels"]
    assert extra["splits"] == {"train": len(texts("imdb")), "test": 32}
    text = run.outputs_text()
    assert "input_ids       Tensor torch.int64 (4, 64)" in text
    assert "[CLS] cafe naive, covid - 19 and < br / > spaces! [SEP] [PAD] [PAD] [PAD] [PAD]" in text
    line = next(l for l in text.splitlines() if l.startswith("course-metrics:"))
    assert json.loads(line.split(":", 1)[1]) == pytest.approx(m)
    images = [o for c in run.notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2, "the token-length histogram and the padding chart must be shown"


def test_committed_notebook_shape():
    nb = nbformat.read(notebook_path("02"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "locked" in code[-1].metadata.get("tags", []) and "locked" in code[-2].metadata.get("tags", [])
    assert sum("NBVAL_CHECK_OUTPUT" in c.source for c in code) >= 4
