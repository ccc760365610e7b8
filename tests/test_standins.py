"""Every notebook through the online branch (Hub stand-in) and through the gpu profile's dry run, on a CPU.

The stand-in (tests/hub_standin.py) replaces only the network: Hub-shaped tiny datasets and tiny models of the
requested architecture. What the notebooks and course_utils do with them is the real code.
"""

from __future__ import annotations

import pytest

import hub_standin
import standins

pytestmark = pytest.mark.standin


@pytest.mark.parametrize(("prefix", "mode"), [pytest.param(*run, id="-".join(run)) for run in standins.runs()])
def test_notebook_through_the_hub_standin(prefix, mode, tmp_path):
    run = standins.execute(prefix, mode, tmp_path)
    r = run.results
    assert r["profile"] == standins.MODES[mode], f"{run.name}: ran the {r['profile']} profile"
    assert "tiny" not in r["model_source"].split("(")[0], f"{run.name}: the tiny profile's model: {r['model_source']}"
    assert "Hub" in r["model_source"], f"{run.name}: the model did not come through the Hub: {r['model_source']}"
    assert "local copy" not in r["dataset_source"] and "data/tiny" not in r["dataset_source"], \
        f"{run.name}: the data did not come through the Hub: {r['dataset_source']}"
    text = run.outputs_text()
    assert "Traceback" not in text, f"{run.name}: a traceback was printed"


def test_standin_serves_the_hubs_shapes(tmp_path):
    """The stand-in itself: the shapes the manifest records, and a loading script's refusal."""
    import datasets

    load = hub_standin.fake_load_dataset(datasets.load_dataset)
    imdb = load("stanfordnlp/imdb")
    assert sorted(imdb) == ["test", "train", "unsupervised"]
    assert set(imdb["unsupervised"]["label"]) == {-1}
    with pytest.raises(RuntimeError, match="Dataset scripts are no longer supported, but found conll2003.py"):
        load("eriktks/conll2003")
    conll = load("eriktks/conll2003", revision="refs/convert/parquet", data_dir="conll2003")
    assert "B-MISC" in conll["train"].features["ner_tags"].feature.names
    wikiann = load("unimelb-nlp/wikiann", "en")
    assert "B-MISC" not in wikiann["train"].features["ner_tags"].feature.names
    bbc = load("gopalkalpande/bbc-news-summary")
    assert list(bbc) == ["train"] and bbc["train"].column_names == ["File_path", "Articles", "Summaries"]
    assert set(load("nyu-mll/glue", "stsb")["test"]["label"]) == {-1.0}
