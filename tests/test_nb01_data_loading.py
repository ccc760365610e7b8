import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from nbrun import ROOT, check_common, execute, notebook_path

pytestmark = pytest.mark.notebook

TINY = ROOT / "course_utils" / "course_data" / "tiny"


def rows(folder: str, split: str) -> list[dict]:
    return [json.loads(line) for line in (TINY / folder / f"{split}.jsonl").read_text().splitlines() if line]


@pytest.fixture(scope="module")
def run():
    return execute("01")


def test_results_describe_the_tiny_imdb_slice(run):
    check_common(run, ["n_train", "n_test", "share_positive_train", "share_positive_test", "mean_words",
                       "median_words", "share_html_breaks", "vocab_size"])
    m = run.results["metrics"]
    train, test = rows("imdb", "train"), rows("imdb", "test")
    assert m["n_train"] == len(train) and m["n_test"] == len(test)
    assert m["share_positive_train"] == pytest.approx(np.mean([r["label"] == 1 for r in train]))
    assert m["share_positive_test"] == pytest.approx(np.mean([r["label"] == 1 for r in test]))
    words = [len(r["text"].split()) for r in train]
    assert m["mean_words"] == pytest.approx(np.mean(words))
    assert m["median_words"] == pytest.approx(np.median(words))
    assert m["share_html_breaks"] == pytest.approx(np.mean(["<br />" in r["text"] for r in train]))
    assert m["vocab_size"] == 30522  # the bert-base-uncased WordPiece vocabulary
    assert run.results["dataset"] == "stanfordnlp/imdb"
    assert "tiny random BERT" in run.results["model_source"]


def test_second_dataset_is_ag_news(run):
    m, extra = run.results["metrics"], run.results["extra"]
    train = rows("ag_news", "train")
    assert m["ag_news_n_train"] == len(train) and m["ag_news_n_test"] == len(rows("ag_news", "test"))
    assert m["ag_news_num_labels"] == 4
    assert extra["second_label_names"] == ["World", "Sports", "Business", "Sci/Tech"]
    assert m["ag_news_mean_words"] == pytest.approx(np.mean([len(r["text"].split()) for r in train]))
    assert 0 < m["ag_news_min_class_share_train"] <= 0.25


def test_label_counts_add_up(run):
    extra, m = run.results["extra"], run.results["metrics"]
    assert extra["label_names"] == ["neg", "pos"]
    counts = extra["label_counts"]
    assert sum(counts["train"].values()) == m["n_train"] and sum(counts["test"].values()) == m["n_test"]
    assert counts["train"]["pos"] / m["n_train"] == pytest.approx(m["share_positive_train"])


def test_shows_metrics_plots_and_tokens(run):
    text = run.outputs_text()
    line = next(l for l in text.splitlines() if l.startswith("course-metrics:"))
    assert json.loads(line.split(":", 1)[1]) == pytest.approx(run.results["metrics"])
    assert "['[CLS]', 'this', 'movie', 'was', 'surprisingly', 'good', '!', '[SEP]']" in text
    images = [o for c in run.notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 3, "label balance, word lengths and AG News plots must be shown"


def test_offline_the_plain_hub_call_is_skipped_and_said_so(run):
    text = run.outputs_text()
    assert 'the call: datasets.load_dataset(\'stanfordnlp/imdb\')' in text
    assert "Skipping the Hub call: the Hub cannot be reached (HF_HUB_OFFLINE=1 is set). The next cell reads the " \
           "course's local copy instead." in text
    nb = nbformat.read(notebook_path("01"), as_version=4)
    assert any("hub_copy = load_dataset(spec.hub_id, spec.config" in c.source for c in nb.cells
               if c.cell_type == "code"), "the plain load_dataset call must be code, not only Markdown"


def test_committed_notebook_shape():
    nb = nbformat.read(notebook_path("01"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "locked" in code[-1].metadata.get("tags", []) and "locked" in code[-2].metadata.get("tags", [])
