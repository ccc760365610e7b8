"""course_utils.data: tiny slices, the offline local copy, the checks before training, balanced samples."""

from __future__ import annotations

import collections
import json
import shutil

import datasets
import pytest

from course_utils import data, profiles
from course_utils.errors import CourseError

TINY = profiles.PROFILES["tiny"]
CPU = profiles.PROFILES["cpu"]
FEATURES = datasets.Features({"text": datasets.Value("string"),
                              "label": datasets.ClassLabel(names=["neg", "pos"])})


@pytest.fixture(autouse=True)
def offline(hub_off, monkeypatch):
    """Hub off, no COURSE_DATA_DIR unless a test sets one."""
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)


def features_json(folder: str) -> datasets.Features:
    return datasets.Features.from_dict(json.loads((data.TINY_DATA_DIR / folder / "features.json").read_text()))


def jsonl_rows(folder: str) -> dict[str, int]:
    return {p.stem: len(p.read_text().splitlines()) for p in (data.TINY_DATA_DIR / folder).glob("*.jsonl")}


@pytest.mark.parametrize("name, n_labels", [("imdb", 2), ("stanfordnlp/imdb", 2), ("ag_news", 4)])
def test_tiny_profile_reads_the_committed_slices(name, n_labels, capsys):
    dsd, source = data.load_dataset(name, TINY)
    folder = data.spec_for(name).folder
    assert source == f"data/tiny/{folder} (tiny slice committed with the course)"
    assert {s: len(d) for s, d in dsd.items()} == jsonl_rows(folder)
    assert set(dsd) == {"train", "test"} and all(16 <= len(d) <= 100 for d in dsd.values())
    for split in dsd.values():
        assert split.features == features_json(folder)
        assert split.features["label"].num_classes == n_labels
    assert "data/tiny/" in capsys.readouterr().out


def test_tiny_slices_keep_the_hub_schema():
    dsd, _ = data.load_dataset("squad", TINY)
    assert dsd["validation"].features == features_json("squad")
    assert set(dsd["validation"].column_names) >= {"id", "context", "question", "answers"}


def write_local_copy(root, folder="imdb", rows=6):
    """A small COURSE_DATA_DIR laid out like shared/data, cut from data/tiny."""
    target = root / folder
    target.mkdir(parents=True)
    shutil.copy(data.TINY_DATA_DIR / folder / "features.json", target / "features.json")
    for split in ("train", "test"):
        lines = (data.TINY_DATA_DIR / folder / f"{split}.jsonl").read_text().splitlines()
        (target / f"{split}.jsonl").write_text("\n".join(lines[:rows]) + "\n")
    return target


def test_offline_non_tiny_profile_loads_course_data_dir(tmp_path, monkeypatch, capsys):
    target = write_local_copy(tmp_path)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    dsd, source = data.load_dataset("imdb", CPU)
    assert source == f"local copy {target} (Hub unreachable: HF_HUB_OFFLINE=1 is set)"
    assert {s: len(d) for s, d in dsd.items()} == {"train": 6, "test": 6}
    assert dsd["train"].features == features_json("imdb")
    first = json.loads((target / "train.jsonl").read_text().splitlines()[0])
    assert dsd["train"][0] == first
    assert f"local copy {target}" in capsys.readouterr().out


def test_offline_without_course_data_dir_says_how_to_fix():
    with pytest.raises(CourseError, match=r"Dataset stanfordnlp/imdb: expected the Hugging Face Hub or a local copy,"
                                          r" found no Hub \(HF_HUB_OFFLINE=1 is set\) and COURSE_DATA_DIR is not "
                                          r"set\. Fix: connect to the internet, or set COURSE_DATA_DIR .*"
                                          r"profile='tiny'"):
        data.load_dataset("imdb", CPU)


def test_offline_with_course_data_dir_lacking_the_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(CourseError, match=rf"found no Hub \(HF_HUB_OFFLINE=1 is set\) and no folder "
                                          rf"{tmp_path / 'ag_news'}\. Fix: "):
        data.load_dataset("ag_news", CPU)


def test_local_folder_without_features_or_splits(tmp_path):
    with pytest.raises(CourseError, match=r"expected <split>\.jsonl files and a features\.json, found no "
                                          r"features\.json\. Fix: point COURSE_DATA_DIR"):
        data.load_local(tmp_path)
    shutil.copy(data.TINY_DATA_DIR / "imdb" / "features.json", tmp_path / "features.json")
    with pytest.raises(CourseError, match=r"expected one <split>\.jsonl file per split .*found no \.jsonl file\. "
                                          r"Fix: copy the split files"):
        data.load_local(tmp_path)


def test_tiny_profile_without_a_slice(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "TINY_DATA_DIR", tmp_path)
    with pytest.raises(CourseError, match=r"Tiny slice of stanfordnlp/imdb: expected a folder data/tiny/imdb, found "
                                          r"none .*Fix: cut one with tools/make_tiny_data\.py"):
        data.load_dataset("imdb", TINY)


def test_unknown_dataset_name():
    with pytest.raises(CourseError, match=r"Dataset 'imbd': expected one of the course datasets \['aeslc', "
                                          r".*'imdb'.*\] \(or their Hub ids\), found 'imbd'\. Fix: check the "
                                          r"spelling"):
        data.load_dataset("imbd", TINY)
    assert data.spec_for("nyu-mll/glue").folder == "stsb"
    assert data.spec_for("stsb").config == "stsb"


# ---------------------------------------------------------------- check_classification


def dataset(texts, labels, features=FEATURES, text_column="text", label_column="label"):
    return datasets.Dataset.from_dict({text_column: texts, label_column: labels},
                                      features=datasets.Features({text_column: features["text"],
                                                                  label_column: features["label"]}))


def test_check_classification_passes_clean_data():
    assert data.check_classification(dataset(["good", "bad"], [1, 0])) is None
    assert data.check_classification(dataset(["good"], [1], text_column="review", label_column="y"),
                                     text_column="review", label_column="y") is None
    dsd, _ = data.load_dataset("imdb", TINY)
    data.check_classification(dsd["train"])


def test_missing_text_column():
    ds = dataset(["good", "bad"], [1, 0], text_column="review")
    with pytest.raises(CourseError, match=r"^Column 'text': expected a column named 'text', found columns "
                                          r"\['review', 'label'\]\. Fix: rename your column "
                                          r"\(ds\.rename_column\(old, 'text'\)\)"):
        data.check_classification(ds)


def test_missing_label_column():
    ds = dataset(["good", "bad"], [1, 0], label_column="sentiment")
    with pytest.raises(CourseError, match=r"^Column 'label': expected a column named 'label', found columns "
                                          r"\['text', 'sentiment'\]\. Fix: "):
        data.check_classification(ds)


def test_labels_outside_the_label_set():
    ds = datasets.Dataset.from_dict({"text": ["a", "b", "c", "d"], "label": [0, 7, -1, 7]}).cast(FEATURES)
    with pytest.raises(CourseError, match=r"^Labels in 'label': expected integers 0\.\.1 \(\['neg', 'pos'\]\), "
                                          r"found 2 other value\(s\), e\.g\. \[-1, 7\]\. Fix: map labels with "
                                          r"the label2id dict"):
        data.check_classification(ds)


def test_missing_labels():
    with pytest.raises(CourseError, match=r"^Labels in 'label': expected a label in every row, found 1 missing, "
                                          r"rows \[1\]\. Fix: drop those rows"):
        data.check_classification(dataset(["a", "b"], [0, None]))


def test_empty_texts():
    with pytest.raises(CourseError, match=r"^Texts in 'text': expected non-empty strings, found 3 empty or missing "
                                          r"text\(s\), rows \[1, 2, 3\]\. Fix: drop them: ds\.filter"):
        data.check_classification(dataset(["ok", "", "  \n", None], [0, 1, 0, 1]))


def test_all_problems_reported_at_once():
    ds = datasets.Dataset.from_dict({"text": ["fine", "", "x"], "label": [0, 1, 5]}).cast(FEATURES)
    with pytest.raises(CourseError) as err:
        data.check_classification(ds)
    message = str(err.value)
    assert message.startswith("2 problems:\n- Labels in 'label': expected integers 0..1")
    assert "\n- Texts in 'text': expected non-empty strings, found 1 empty or missing text(s), rows [1]" in message
    assert "Fix: drop them: ds.filter(lambda ex: bool(ex['text'] and ex['text'].strip()))" in message

    wrong_text = datasets.Dataset.from_dict({"body": ["fine", "x"], "label": [0, 5]}).cast(
        datasets.Features({"body": datasets.Value("string"), "label": FEATURES["label"]}))
    with pytest.raises(CourseError, match=r"^2 problems:\n- Column 'text': .*\n- Labels in 'label': .*\[5\]"):
        data.check_classification(wrong_text)
    both = dataset(["a"], [0], text_column="review", label_column="y")
    with pytest.raises(CourseError, match=r"^2 problems:\n- Column 'text': .*\n- Column 'label': "):
        data.check_classification(both)


def test_empty_text_fix_names_the_column():
    ds = dataset(["ok", ""], [0, 1], text_column="review")
    with pytest.raises(CourseError, match=r"Texts in 'review'.*ex\['review'\]\.strip\(\)"):
        data.check_classification(ds, text_column="review")


# ---------------------------------------------------------------- balanced_sample


def test_balanced_sample_counts_per_label():
    dsd, _ = data.load_dataset("ag_news", TINY)
    sample = data.balanced_sample(dsd["train"], 20)
    assert len(sample) == 20
    assert collections.Counter(sample["label"]) == {0: 5, 1: 5, 2: 5, 3: 5}
    assert sample["text"] == data.balanced_sample(dsd["train"], 20)["text"]  # seeded
    assert sample["text"] != data.balanced_sample(dsd["train"], 20, seed=1)["text"]
    uneven = data.balanced_sample(dsd["train"], 10)  # 10 // 4 = 2 per label
    assert collections.Counter(uneven["label"]) == {0: 2, 1: 2, 2: 2, 3: 2}


def test_balanced_sample_all_rows_when_n_is_none_or_large():
    ds = dataset([f"t{i}" for i in range(6)], [0, 0, 0, 0, 1, 1])
    assert sorted(data.balanced_sample(ds, None)["text"]) == sorted(ds["text"])
    assert len(data.balanced_sample(ds, 6)) == 6


def test_balanced_sample_errors():
    ds = dataset([f"t{i}" for i in range(10)], [0] * 8 + [1] * 2)
    assert collections.Counter(data.balanced_sample(ds, 5)["label"]) == {0: 2, 1: 2}
    with pytest.raises(CourseError, match=r"^Balanced sample of 6: expected 3 rows of label 1, found only 2\. Fix: "
                                          r"ask for fewer rows"):
        data.balanced_sample(ds, 6)
    with pytest.raises(CourseError, match=r"^Balanced sample of 1: expected at least one row per label \(2 labels\), "
                                          r"found n=1\. Fix: ask for n >= 2"):
        data.balanced_sample(ds, 1)
    with pytest.raises(CourseError, match=r"^Column 'label': expected a column named 'label', found columns "
                                          r"\['text', 'y'\]\. Fix: pass label_column="):
        data.balanced_sample(dataset(["a", "b"], [0, 1], label_column="y"), 2)


# --- the Hub's shapes, normalised to the course's (the stand-in builds them from hub_datasets.json) ---

@pytest.mark.parametrize("name", ["imdb", "sst2", "stsb", "bbc_news_summary", "conll2003", "squad"])
def test_hub_shape_normalises_to_the_local_shape(name):
    import hub_standin

    spec = data.spec_for(name)
    entry = data.hub_manifest()[spec.folder]
    hub_form = hub_standin.hub_shaped(spec.folder, entry)
    local = data.normalise(data.load_local(data.TINY_DATA_DIR / spec.folder), spec)
    online = data.normalise(hub_form, spec)
    assert sorted(online) == sorted(local), f"{name}: splits {sorted(online)} online vs {sorted(local)} offline"
    for split in online:
        assert online[split].features == local[split].features, f"{name}/{split}: features differ"
        labels = online[split]["label"] if "label" in online[split].column_names else []
        assert -1 not in labels, f"{name}/{split}: an unlabelled split survived"


def test_bbc_csv_columns_become_the_course_columns():
    import hub_standin

    spec = data.spec_for("bbc_news_summary")
    online = data.normalise(hub_standin.hub_shaped(spec.folder, data.hub_manifest()[spec.folder]), spec)["train"]
    assert online.column_names == ["id", "category", "article", "summary"]
    assert online.features["category"].names == data.BBC_CATEGORIES
    assert len(set(online["id"])) == len(online)


def test_unexpected_hub_columns_are_reported():
    spec = data.spec_for("bbc_news_summary")
    odd = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"Text": ["a"], "Summary": ["b"]})})
    with pytest.raises(CourseError, match=r"Dataset gopalkalpande/bbc-news-summary: expected the columns .*found "
                                          r"columns \['Text', 'Summary'\].*COURSE_DATA_DIR"):
        data.normalise(odd, spec)


def test_script_repositories_read_the_parquet_conversion():
    for name in ("conll2003", "wnut_17"):
        spec = data.spec_for(name)
        assert spec.revision == data.PARQUET_REVISION
        assert "revision='refs/convert/parquet'" in spec.load_call()
    assert data.spec_for("stsb").load_call() == "datasets.load_dataset('nyu-mll/glue', 'stsb')"


def test_course_files_ship_in_the_package():
    assert data.course_file("support_tickets.csv").stat().st_size > 10_000
    assert (data.course_file("tiny") / "imdb" / "features.json").exists()
    with pytest.raises(CourseError, match=r"Course file 'nope.csv': expected a file shipped inside the course package"):
        data.course_file("nope.csv")
