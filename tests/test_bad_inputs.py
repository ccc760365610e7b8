"""A catalogue of bad input a student (or an instructor) can give the course's public functions.

Every case must end in a ``CourseError`` (never a KeyError, a ValueError from a library, an IndexError or a deep
traceback) whose message has the course's three parts, each about this very case: what was *expected*, what was
*found*, and a *Fix:*. Where the function writes files, the case also checks that nothing was written, overwritten
or left half-written. A case that needs a fix in a module others are editing right now is marked
``xfail(strict=True)`` with the reason, so it turns into a failure (and gets its mark removed) once fixed.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import shutil
from pathlib import Path

import datasets
import nbformat
import pytest

from course_utils import (calibration, data, diagnose, metrics, models, ner, profiles, qa, results, sharing,
                          summarization, text, training)
from course_utils.errors import CourseError
from course_utils.instructor import grading, stamps, student

CPU = profiles.PROFILES["cpu"]
FEATURES = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})


@pytest.fixture(autouse=True)
def offline(hub_off, monkeypatch, tmp_path):
    """Hub off, no COURSE_DATA_DIR unless a case sets one, and a course cache of the test's own."""
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "course-cache"))


@pytest.fixture(scope="module")
def tokenizer():
    """The course's fast bert-base-uncased tokenizer, read offline (nothing is downloaded or built)."""
    from transformers import AutoTokenizer

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        models.hub.offline_reason.cache_clear()
        loaded = AutoTokenizer.from_pretrained(models.tokenizer_source())
    models.hub.offline_reason.cache_clear()
    return loaded


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its bytes, to compare before and after a failure."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def imdb_rows(texts, labels, features=FEATURES) -> datasets.Dataset:
    return datasets.Dataset.from_dict({"text": texts, "label": labels}).cast(features)


# ---------------------------------------------------------------- profiles and papermill parameters


def test_profile_name_with_a_typo():
    with pytest.raises(CourseError, match=r"^Profile: expected one of \['cpu', 'gpu', 'tiny'\] or 'auto', found "
                                          r"'gpuu'\. Fix: set the notebook's `profile` parameter .*tiny, cpu, gpu"):
        profiles.get_profile("gpuu")


def test_profile_override_with_an_unknown_field():
    with pytest.raises(CourseError, match=r"^Profile override: expected field names from \[.*'train_size'.*\], "
                                          r"found \['train_sise'\]\. Fix: check the spelling of the keyword"):
        profiles.get_profile("tiny", train_sise=500)


def test_profile_with_max_length_zero():
    with pytest.raises(CourseError, match=r"^Profile field max_length: expected a whole number of at least 1, "
                                          r"found 0\. Fix: pass max_length=128"):
        profiles.get_profile("tiny", max_length=0)


@pytest.mark.parametrize("field, value, message", [
    ("train_size", "500", r"Profile field train_size: expected None \(the whole split\) or a whole number >= 1, "
                          r"found '500'\. Fix: pass train_size=None or e\.g\. train_size=500"),
    ("epochs", "2", r"Profile field epochs: expected a number above 0, found '2'\. Fix: pass epochs=1"),
    ("learning_rate", "5e-5", r"Profile field learning_rate: expected a float between 0 and 1 \(e\.g\. 5e-5\), "
                              r"found '5e-5'\. Fix: pass learning_rate=5e-5"),
])
def test_papermill_parameter_given_as_text_to_the_profile(field, value, message):
    """papermill -p passes what the command line says; a quoted number arrives as a str."""
    with pytest.raises(CourseError, match=message):
        profiles.get_profile("tiny", **{field: value})


@pytest.mark.parametrize("n, found", [("500", r"str '500'"), (-4, r"int -4"), (2.5, r"float 2\.5")])
def test_balanced_sample_size_that_is_not_a_whole_number(n, found):
    ds = imdb_rows(["a", "b", "c", "d"], [0, 1, 0, 1])
    with pytest.raises(CourseError, match=rf"^Balanced sample size n: expected None \(all rows\) or a whole number "
                                          rf">= 1, found {found}\. Fix: pass a whole number without quotes"):
        data.balanced_sample(ds, n)


def test_max_length_given_as_text_to_head_tail_encode(tokenizer):
    with pytest.raises(CourseError, match=r"^head_tail_encode max_length: expected a whole number of tokens, "
                                          r"e\.g\. 128, found str '128'\. Fix: pass a number without quotes"):
        text.head_tail_encode(tokenizer, ["a long review"], "128")


def test_train_size_given_as_text_to_diagnose():
    history = [{"loss": 1.0 - i / 10, "step": i} for i in range(1, 6)]
    with pytest.raises(CourseError, match=r"^diagnose train_size: expected None or the number of training examples, "
                                          r"found str '500'\. Fix: pass a number without quotes"):
        diagnose.diagnose(history, train_size="500")


def test_batch_size_given_as_text_to_the_oom_retry():
    with pytest.raises(CourseError, match=r"^Batch settings: expected whole numbers, found per_device_train_batch_size="
                                          r"'32'\. Fix: pass numbers without quotes, e\.g\. per_device_train_batch_size=32"):
        training.train_with_oom_fallback(lambda args: None, Args("32"))


@dataclasses.dataclass
class Args:
    """The two TrainingArguments fields the OOM fallback reads."""

    per_device_train_batch_size: object = 8
    gradient_accumulation_steps: int = 1


def test_batch_size_given_as_text_to_the_oom_fallback():
    with pytest.raises(CourseError, match=r"^per_device_train_batch_size: expected a whole number, found str '8'\. "
                                          r"Fix: pass a number without quotes"):
        training.halve_batch(Args("8"))
    with pytest.raises(CourseError, match=r"^Batch settings: expected whole numbers, found min_batch_size='1'\. Fix: "):
        training.train_with_oom_fallback(lambda args: None, Args(), min_batch_size="1")


# ---------------------------------------------------------------- datasets: names and COURSE_DATA_DIR


def test_unknown_dataset_name():
    with pytest.raises(CourseError, match=r"^Dataset 'imbd': expected one of the course datasets \[.*'imdb'.*\] "
                                          r"\(or their Hub ids\), found 'imbd'\. Fix: check the spelling"):
        data.spec_for("imbd")


def test_course_data_dir_that_does_not_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "kaggle-input"))
    with pytest.raises(CourseError, match=r"^Dataset stanfordnlp/imdb: expected the Hugging Face Hub or a local "
                                          r"copy, found no Hub \(HF_HUB_OFFLINE=1 is set\) and COURSE_DATA_DIR="
                                          r"'.*kaggle-input', a folder that does not exist\. Fix: .*set "
                                          r"COURSE_DATA_DIR to a folder laid out like shared/data"):
        data.load_dataset("imdb", CPU)
    assert not (tmp_path / "kaggle-input").exists()


def local_copy(root: Path) -> Path:
    """COURSE_DATA_DIR/imdb with two good rows and the real features.json."""
    folder = root / "imdb"
    folder.mkdir(parents=True)
    shutil.copy(data.TINY_DATA_DIR / "imdb" / "features.json", folder / "features.json")
    (folder / "train.jsonl").write_text('{"text": "fine", "label": 1}\n{"text": "dull", "label": 0}\n')
    return folder


def test_course_data_dir_without_features_json(tmp_path, monkeypatch):
    (local_copy(tmp_path) / "features.json").unlink()
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(CourseError, match=r"^Local dataset folder .*imdb: expected <split>\.jsonl files and a "
                                          r"features\.json, found no features\.json\. Fix: point COURSE_DATA_DIR"):
        data.load_dataset("imdb", CPU)


def test_course_data_dir_with_features_json_that_is_not_json(tmp_path, monkeypatch):
    (local_copy(tmp_path) / "features.json").write_text('{"text": {"dtype": "string",')
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(CourseError, match=r"^.*imdb/features\.json: expected JSON \(the dataset's columns and label "
                                          r"names\), found text that is not JSON \(line 1, column \d+: .*\)\. Fix: "
                                          r"copy features\.json again"):
        data.load_dataset("imdb", CPU)


def test_course_data_dir_with_features_json_that_describes_no_features(tmp_path, monkeypatch):
    (local_copy(tmp_path) / "features.json").write_text('{"text": {"dtype": "strng", "_type": "Value"}}')
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(CourseError, match=r"^.*imdb/features\.json: expected a column name -> feature object, as "
                                          r"ds\.features\.to_dict\(\) writes it, found ValueError: .*strng.*\. Fix: "
                                          r"copy features\.json again"):
        data.load_dataset("imdb", CPU)


def test_course_data_dir_with_a_jsonl_line_that_is_not_json(tmp_path, monkeypatch):
    folder = local_copy(tmp_path)
    with open(folder / "train.jsonl", "a") as f:
        f.write('{"text": "cut off in the mid\n')
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(CourseError, match=r"^Line 3 of .*imdb/train\.jsonl: expected one JSON object per line "
                                          r"\(JSON Lines\), found '\{\"text\": \"cut off in the mid' \(.*\)\. "
                                          r"Fix: repair or delete that line"):
        data.load_dataset("imdb", CPU)


def test_course_data_dir_with_a_row_of_other_columns(tmp_path, monkeypatch):
    folder = local_copy(tmp_path)
    with open(folder / "train.jsonl", "a") as f:
        f.write('{"review": "great", "label": 1}\n')
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(CourseError, match=r"^Line 3 of .*train\.jsonl: expected a JSON object with the columns of "
                                          r"features\.json \['label', 'text'\], found columns \['label', 'review'\]\. "
                                          r"Fix: give every line the same columns"):
        data.load_dataset("imdb", CPU)


# ---------------------------------------------------------------- datasets: checks before training


def test_labels_out_of_range():
    with pytest.raises(CourseError, match=r"^Labels in 'label': expected integers 0\.\.1 \(\['neg', 'pos'\]\), found "
                                          r"2 other value\(s\), e\.g\. \[-1, 2\]\. Fix: map labels with the "
                                          r"label2id dict"):
        data.check_classification(imdb_rows(["a", "b", "c"], [0, 2, -1]))


def test_label_names_where_class_ids_belong():
    ds = datasets.Dataset.from_dict({"text": ["great", "dull"], "label": ["pos", "neg"]})
    with pytest.raises(CourseError, match=r"^Labels in 'label': expected integer class ids \(0, 1, \.\.\.\), found "
                                          r"label names such as \['neg', 'pos'\]\. Fix: .*class_encode_column"):
        data.check_classification(ds)


def test_empty_texts():
    with pytest.raises(CourseError, match=r"^Texts in 'text': expected non-empty strings, found 2 empty or missing "
                                          r"text\(s\), rows \[1, 2\]\. Fix: drop them: ds\.filter"):
        data.check_classification(imdb_rows(["fine", "", "   "], [1, 0, 1]))


def test_missing_column():
    ds = imdb_rows(["fine"], [1]).rename_column("text", "review")
    with pytest.raises(CourseError, match=r"^Column 'text': expected a column named 'text', found columns "
                                          r"\['review', 'label'\]\. Fix: rename your column"):
        data.check_classification(ds)


def test_check_classification_given_the_whole_dataset_dict():
    dsd = datasets.DatasetDict(train=imdb_rows(["fine"], [1]))
    with pytest.raises(CourseError, match=r"^check_classification: expected one split \(a datasets\.Dataset\), "
                                          r"found DatasetDict\. Fix: check each split: for name, split in "
                                          r"dsd\.items\(\)"):
        data.check_classification(dsd)


def test_balanced_sample_of_an_empty_dataset():
    empty = imdb_rows(["fine", "dull"], [1, 0]).filter(lambda ex: ex["text"] == "nothing matches")
    with pytest.raises(CourseError, match=r"^Balanced sample: expected a dataset with rows to sample from, found "
                                          r"0 rows\. Fix: check the step before"):
        data.balanced_sample(empty, 10)


def test_balanced_sample_smaller_than_the_number_of_labels():
    ds = imdb_rows(["a", "b", "c", "d"], [0, 1, 0, 1])
    with pytest.raises(CourseError, match=r"^Balanced sample of 1: expected at least one row per label "
                                          r"\(2 labels\), found n=1\. Fix: ask for n >= 2"):
        data.balanced_sample(ds, 1)


# ---------------------------------------------------------------- metrics


def test_metric_inputs_of_different_lengths():
    with pytest.raises(CourseError, match=r"^accuracy inputs: expected as many predictions as references, found 2 "
                                          r"predictions and 3 references\. Fix: compute predictions for exactly"):
        metrics.load("accuracy").compute(predictions=[0, 1], references=[0, 1, 1])


@pytest.mark.parametrize("name, predictions, references, bad", [
    ("accuracy", ["1", "0"], [1, 0], r"predictions: .*found 2 value\(s\) that are not numbers, e\.g\. \['1', '0'\]"),
    ("f1", [1, 0], ["pos", "neg"], r"references: .*found 2 value\(s\) that are not numbers, e\.g\. \['pos', 'neg'\]"),
    ("mse", ["0.5", 1.0], [0.4, 1.2], r"predictions: .*found 2 value\(s\) that are not numbers, e\.g\. "
                                      r"\['0\.5', '1\.0'\]"),
])
def test_metric_given_strings_where_numbers_belong(name, predictions, references, bad):
    with pytest.raises(CourseError, match=rf"^{name} {bad}\. Fix: convert label names to ids with label2id"):
        metrics.load(name).compute(predictions=predictions, references=references)
    with pytest.raises(CourseError, match=r"expected numbers \(class ids such as 0 and 1, or scores\)"):
        metrics.load(name).compute(predictions=predictions, references=references)


def test_f1_of_three_classes_with_the_binary_default():
    with pytest.raises(CourseError, match=r"^f1 average: expected average='macro', 'micro' or 'weighted' for more "
                                          r"than two classes, found average='binary' \(the default\) with 3 classes "
                                          r"\[0, 1, 2\]\. Fix: pass average='macro'"):
        metrics.load("f1").compute(predictions=[0, 1, 2], references=[0, 2, 2])


def test_metric_called_with_positional_arguments():
    with pytest.raises(CourseError, match=r"^accuracy\.compute arguments: expected keyword arguments "
                                          r"predictions=\.\.\. and references=\.\.\., found 2 positional argument\(s\)"
                                          r"\. Fix: write metric\.compute\(predictions=preds, references=labels\)"):
        metrics.load("accuracy").compute([0, 1], [0, 1])


def test_correlation_of_one_example():
    with pytest.raises(CourseError, match=r"^pearsonr inputs: expected at least 2 examples \(a correlation needs two "
                                          r"points\), found 1 example\. Fix: score more examples"):
        metrics.load("pearsonr").compute(predictions=[3.2], references=[4.0])


def test_seqeval_given_tag_ids_instead_of_names():
    with pytest.raises(CourseError, match=r"^seqeval predictions, sentence 0: expected a list of tag names such as "
                                          r"\['B-PER', 'I-PER', 'O'\], found \[1, 2, 0\]\. Fix: turn ids into names"):
        metrics.load("seqeval").compute(predictions=[[1, 2, 0]], references=[["B-PER", "I-PER", "O"]])


def test_squad_given_answer_texts_instead_of_prediction_dicts():
    gold = [{"id": "q1", "answers": {"text": ["Paris"], "answer_start": [0]}}]
    with pytest.raises(CourseError, match=r"^squad predictions\[0\]: expected a dict with the keys \['id', "
                                          r"'prediction_text'\], found str 'Paris'\. Fix: build them with "
                                          r"cu\.qa\.postprocess_predictions"):
        metrics.load("squad").compute(predictions=["Paris"], references=gold)
    with pytest.raises(CourseError, match=r"^squad references\[0\]: expected a dict with the keys \['id', "
                                          r"'answers'\], found keys \['id', 'text'\]"):
        metrics.load("squad").compute(predictions=[{"id": "q1", "prediction_text": "Paris"}],
                                      references=[{"id": "q1", "text": "Paris"}])


def test_rouge_given_token_ids():
    with pytest.raises(CourseError, match=r"^rouge predictions\[0\]: expected a text \(str\), found list "
                                          r"\[101, 7592, 102\]\. Fix: decode token ids to text first"):
        metrics.load("rouge").compute(predictions=[[101, 7592, 102]], references=["hello"])


def test_metric_name_with_a_typo():
    with pytest.raises(CourseError, match=r"^Metric 'acuracy': expected one of \[.*'accuracy'.*\], found 'acuracy'\. "
                                          r"Fix: check the spelling"):
        metrics.load("acuracy")


# ---------------------------------------------------------------- question answering


def squad_batch(answers, context="Ann met Bob in Paris.") -> dict:
    return {"id": ["q1"], "question": ["Where did they meet?"], "context": [context], "answers": [answers]}


def test_qa_answer_outside_its_context(tokenizer):
    batch = squad_batch({"text": ["Paris"], "answer_start": [40]})
    with pytest.raises(CourseError, match=r"^Answer 'Paris' of example 'q1': expected the answer text at "
                                          r"answer_start in its context, found answer_start=40 outside the "
                                          r"context's 21 characters\. Fix: recompute it from the context: "
                                          r"answer_start = context\.find\(answer_text\)"):
        qa.prepare_train_features(batch, tokenizer, max_length=32, stride=8)


def test_qa_answer_start_that_points_at_other_text(tokenizer):
    batch = squad_batch({"text": ["Paris"], "answer_start": [0]})
    with pytest.raises(CourseError, match=r"^Answer 'Paris' of example 'q1': expected the answer text at "
                                          r"answer_start in its context, found 'Ann m' at character 0\. Fix: "
                                          r"recompute it"):
        qa.prepare_train_features(batch, tokenizer, max_length=32, stride=8)


def test_qa_answers_not_in_squad_layout(tokenizer):
    batch = squad_batch({"text": "Paris", "answer_start": 15})
    with pytest.raises(CourseError, match=r"^Answers of example 'q1': expected \{'text': \[answer, \.\.\.\], "
                                          r"'answer_start': \[character, \.\.\.\]\} .*found \{'text': 'Paris', "
                                          r"'answer_start': 15\}\. Fix: wrap single answers in lists"):
        qa.prepare_train_features(batch, tokenizer, max_length=32, stride=8)


def test_qa_examples_with_other_column_names(tokenizer):
    batch = {"id": ["q1"], "question": ["Where?"], "passage": ["Paris."]}
    with pytest.raises(CourseError, match=r"^QA examples: expected columns \['question', 'context'\] \(SQuAD "
                                          r"layout\), found columns \['id', 'question', 'passage'\]\. Fix: rename"):
        qa.prepare_eval_features(batch, tokenizer, max_length=32, stride=8)


def test_answer_token_span_of_a_window_without_context():
    with pytest.raises(CourseError, match=r"^answer_token_span: expected the sequence ids of a question\+context "
                                          r"window .*found no token with sequence id 1 in \[None, 0, None\]\. Fix: "
                                          r"tokenize question and context as a pair"):
        qa.answer_token_span([(0, 0), (0, 3), (0, 0)], [None, 0, None], 0, 2)


# ---------------------------------------------------------------- named entities


def test_ner_words_and_tags_of_different_lengths(tokenizer):
    batch = {"tokens": [["Ann", "lives", "in", "Leeds"]], "ner_tags": [[1, 0, 0]]}
    with pytest.raises(CourseError, match=r"^tokenize_and_align_labels: expected one tag per word in every "
                                          r"example, found 1 example\(s\) where the counts differ, e\.g\. example 0: "
                                          r"4 words and 3 tags\. Fix: check that words and tags come from the same"):
        ner.tokenize_and_align_labels(batch, tokenizer)


@pytest.mark.parametrize("tag", ["PER", "E-LOC", "b-per"])
def test_ner_unknown_tag(tag):
    with pytest.raises(CourseError, match=rf"^Tags: expected 'O' or IOB2 tags like 'B-PER' and 'I-PER', found "
                                          rf"\['{tag}'\]\. Fix: convert ids to names first"):
        ner.entity_spans(["Ann", "smiled"], [tag, "O"])


def test_ner_tag_id_outside_the_label_names():
    with pytest.raises(CourseError, match=r"^Tag ids in align_labels: expected integers 0\.\.2 \(one per label "
                                          r"name\), found \[7\]\. Fix: use the dataset's own label names"):
        ner.align_labels([None, 0, None], [7], label_names=["O", "B-PER", "I-PER"])


def test_ner_tag_names_where_tag_ids_belong(tokenizer):
    batch = {"tokens": [["Ann", "smiled"]], "ner_tags": [["B-PER", "O"]]}
    with pytest.raises(CourseError, match=r"^Tags in align_labels: expected tag ids \(integers, .*\), found "
                                          r"\['B-PER', 'O'\]\. Fix: map tag names to ids first"):
        ner.tokenize_and_align_labels(batch, tokenizer)


def test_ner_label_names_with_a_repeat():
    with pytest.raises(CourseError, match=r"^Label names: expected a list of distinct tag names, in the dataset's "
                                          r"order, found \['B-PER'\] more than once\. Fix: use the dataset's own list"):
        ner.label_maps(["O", "B-PER", "B-PER", "I-PER"])


def test_ner_entity_metrics_of_different_lengths():
    with pytest.raises(CourseError, match=r"^entity_metrics: expected one tag per word in every example, found 1 "
                                          r"example\(s\) where the counts differ, e\.g\. example 0: 2 words and 3 "
                                          r"tags\. Fix:"):
        ner.entity_metrics([["B-PER", "O", "O"]], [["B-PER", "O"]])


# ---------------------------------------------------------------- saved models


def saved_model(folder: Path, config: str | None = '{"model_type": "bert"}', weights: bytes | None = b"weights"):
    folder.mkdir(parents=True)
    if config is not None:
        (folder / "config.json").write_text(config)
    if weights is not None:
        (folder / "model.safetensors").write_bytes(weights)
    (folder / "tokenizer_config.json").write_text("{}")
    return folder


def test_saved_model_whose_config_is_not_json(tmp_path, capsys):
    folder = saved_model(tmp_path / "outputs" / "model", config='{"model_type": "bert", "hidden')
    before = snapshot(tmp_path)
    with pytest.raises(CourseError, match=r"^.*outputs/model/config\.json: expected the model's configuration as "
                                          r"JSON, found text that is not JSON \(.*\)\. Fix: the save was "
                                          r"interrupted: save the model again"):
        models.resolve_model(str(folder), CPU)
    assert snapshot(tmp_path) == before
    assert "all-MiniLM" not in capsys.readouterr().out  # no silent stand-in for the student's own model


def test_saved_model_without_weights(tmp_path):
    folder = saved_model(tmp_path / "model", weights=None)
    with pytest.raises(CourseError, match=r"^Model folder .*model: expected weights \(model\.safetensors or "
                                          r"pytorch_model\.bin\), found the files \['config\.json', "
                                          r"'tokenizer_config\.json'\]\. Fix: save the model itself, not only the "
                                          r"tokenizer"):
        models.check_model_folder(folder)


def test_saved_model_with_empty_weights_and_no_config(tmp_path):
    folder = saved_model(tmp_path / "model", config=None, weights=b"")
    with pytest.raises(CourseError, match=r"^2 problems:\n- Model folder .*: expected a config\.json, found the files "
                                          r".*\n- Model folder .*: expected weights with content, found empty "
                                          r"\['model\.safetensors'\]\. Fix: the copy or the save stopped early"):
        models.check_model_folder(folder)


def test_saved_model_path_that_does_not_exist(tmp_path):
    with pytest.raises(CourseError, match=r"^Model folder .*outputs/03/model: expected a folder written by "
                                          r"model\.save_pretrained\(folder\), found no such folder\. Fix: check the "
                                          r"path, or run the cell that saves the model first"):
        models.resolve_model(str(tmp_path / "outputs" / "03" / "model"), CPU)


def test_saved_model_found_through_a_good_folder_is_no_substitution(tmp_path):
    """The counterpart of the cases above: a sound folder is used as it is, never swapped for another model."""
    folder = saved_model(tmp_path / "model")
    choice = models.resolve_model(str(folder), CPU)
    assert (choice.name_or_path, choice.source, choice.substituted) == (str(folder), "local folder (a saved model)",
                                                                       False)


# ---------------------------------------------------------------- results.json


def write(out: Path, **changes):
    kwargs = dict(notebook="03_text_classification", profile="tiny", model="m", model_source="s", dataset="d",
                  dataset_source="s", metrics={"accuracy": 0.5}, started=0.0)
    return results.write_results(out, **{**kwargs, **changes})


def test_full_disk_when_saving_results(tmp_path, monkeypatch):
    out = tmp_path / "outputs"
    write(out, metrics={"accuracy": 0.81})  # an earlier run's results
    before = snapshot(out)
    real_write_text = Path.write_text

    def disk_fills_up(self, text, *args, **kwargs):
        real_write_text(self, text[: len(text) // 2], *args, **kwargs)  # half of it reaches the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_fills_up)
    with pytest.raises(CourseError, match=r"^Writing .*outputs/results\.json: expected a folder with room to write "
                                          r"the file, found OSError: No space left on device\. Fix: free some disk "
                                          r"space \(old checkpoint-\* folders"):
        write(out, metrics={"accuracy": 0.93})
    assert snapshot(out) == before  # the old results.json whole, no half-written or temporary file left
    assert json.loads((out / "results.json").read_text())["metrics"] == {"accuracy": 0.81}


def test_results_metric_that_is_not_a_number(tmp_path):
    with pytest.raises(CourseError, match=r"^Metric 'accuracy': expected a number, found str '0\.9'\. Fix: put only "
                                          r"numbers in `metrics`; put other findings under `extra`"):
        write(tmp_path / "outputs", metrics={"loss": 0.3, "accuracy": "0.9"})
    assert not (tmp_path / "outputs").exists()


def test_results_output_dir_that_is_a_file(tmp_path):
    (tmp_path / "outputs").write_text("my notes")
    with pytest.raises(CourseError, match=r"^Writing .*outputs/results\.json: expected a folder with room to write "
                                          r"the file, found FileExistsError: .*\. Fix: check that output_dir is a "
                                          r"folder path \(not a file\)"):
        write(tmp_path / "outputs")
    assert (tmp_path / "outputs").read_text() == "my notes"


def test_reading_a_results_json_that_is_not_json(tmp_path):
    (tmp_path / "results.json").write_text('{"notebook": "03", "metrics": {"accuracy": 0.8')
    with pytest.raises(CourseError, match=r"^.*results\.json: expected a results\.json written by write_results "
                                          r"\(JSON\), found text that is not JSON \(.*\)\. Fix: re-run the "
                                          r"notebook's last cell"):
        results.read_results(tmp_path / "results.json")


# ---------------------------------------------------------------- calibration and text


def test_calibration_labels_outside_the_classes():
    with pytest.raises(CourseError, match=r"^Calibration labels: expected class ids 0\.\.1 \(one per probability "
                                          r"column\), found \[2\]\. Fix: pass the integer labels"):
        calibration.fit_temperature([[2.0, -1.0], [0.5, 0.1]], [0, 2])


def test_calibration_given_logits_instead_of_probabilities():
    with pytest.raises(CourseError, match=r"^Calibration inputs: expected probability rows \(non-negative, each "
                                          r"summing to 1\), found rows summing to 1\.\.1\.5, smallest value -1\. Fix: "
                                          r"apply a softmax to the logits first"):
        calibration.expected_calibration_error([[2.0, -1.0], [1.0, 0.5]], [0, 1])


def test_one_text_where_a_list_of_texts_belongs(tokenizer):
    with pytest.raises(CourseError, match=r"^truncation_share texts: expected a list of texts \(e\.g\. "
                                          r"batch\['text'\]\), found str 'one long review'\. Fix: wrap a single text "
                                          r"in a list"):
        text.truncation_share(tokenizer, "one long review", 128)


# ---------------------------------------------------------------- student versions, grading, sharing


def reference_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("### BEGIN SOLUTION: add one\nx = 1 + 1\n### END SOLUTION")]
    nbformat.write(nb, path)
    return path


def test_student_versions_of_a_missing_and_a_broken_notebook_write_nothing(tmp_path):
    good = reference_notebook(tmp_path / "03_good.ipynb")
    (tmp_path / "04_broken.ipynb").write_text('{"cells": [')
    out = tmp_path / "student"
    with pytest.raises(CourseError, match=r"^2 problems:\n- Notebook .*05_missing\.ipynb: expected an existing "
                                          r"\.ipynb file, found no such file\. Fix: check the path.*\n- Notebook "
                                          r".*04_broken\.ipynb: expected a Jupyter notebook \(\.ipynb, JSON\), found "
                                          r"NotJSONError: .*\. Fix: restore it"):
        student.write_student_versions([good, tmp_path / "05_missing.ipynb", tmp_path / "04_broken.ipynb"], out)
    assert not out.exists()  # not even the good notebook's version: fix and re-run gives one consistent set


def demo_submission() -> dict:
    """A one-cell notebook stamped as course notebook 99_demo."""
    nb = {"cells": [{"cell_type": "code", "execution_count": 1, "metadata": {}, "source": "x = 1", "outputs": []}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    nb["metadata"]["course"] = stamps.course_stamp(nb, "99_demo")
    return nb


@pytest.mark.parametrize("rubric, message", [
    ({"plot": 2}, r"99_demo\.json: key 'plot': expected one of \[.*'plots'.*\], found 'plot'\. Fix: remove or "
                  r"rename it"),
    ({"thresholds": [{"metric": "accuracy", "min": "0.8"}]}, r"99_demo\.json: thresholds\[0\]: expected .*found "
                                                             r"\{\"metric\": \"accuracy\", \"min\": \"0\.8\"\}\. "
                                                             r"Fix: fix that entry"),
])
def test_rubric_with_a_typo_stops_before_anything_is_graded(tmp_path, rubric, message):
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "99_demo.json").write_text(json.dumps(rubric))
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "alice.ipynb").write_text(json.dumps(demo_submission()))
    with pytest.raises(CourseError, match=message):
        grading.grade_folder(tmp_path / "subs", tmp_path / "grades", tmp_path / "rubrics", reference_dir=None)
    assert not (tmp_path / "grades").exists()


def test_submissions_folder_that_does_not_exist(tmp_path):
    with pytest.raises(CourseError, match=r"^Submissions folder: expected a folder of \.ipynb files, found "
                                          r".*nowhere \(not a folder\)\. Fix: pass the folder where you collected"):
        grading.grade_folder(tmp_path / "nowhere", tmp_path / "grades")
    assert not (tmp_path / "grades").exists()


@pytest.mark.parametrize("repo_id", ["bert-course-emotion", "/bert-course-emotion", "me/", "me/my model"])
def test_repo_id_without_an_owner_or_with_bad_characters(repo_id):
    with pytest.raises(CourseError, match=rf"^Repository id: expected 'your-username/model-name' \(letters, digits, "
                                          rf"- _ \.\), found '{repo_id}'\. Fix: set hub_username"):
        sharing.check_repo_id(repo_id)


class FullDiskModel:
    """A model whose save_pretrained fills the disk half-way through its weights."""

    def save_pretrained(self, folder):
        (Path(folder) / "model.safetensors").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")


def test_full_disk_when_writing_the_upload_folder(tmp_path):
    upload = tmp_path / "upload"
    upload.mkdir()
    (upload / "README.md").write_text("the card of the last good dry run")
    (upload / "config.json").write_text('{"model_type": "bert"}')
    before = snapshot(tmp_path)
    with pytest.raises(CourseError, match=r"expected .*found .*No space left on device.*Fix: free some disk space"):
        sharing.write_upload_folder(upload, FullDiskModel(), tokenizer=None, card=None)
    assert snapshot(tmp_path) == before


def test_split_sizes_given_as_text_to_three_way_split():
    ds = datasets.Dataset.from_dict({"article": [f"a{i}" for i in range(20)], "summary": ["s"] * 20})
    with pytest.raises(CourseError, match=r"validation_size.*expected .*whole number.*found .*'5'.*Fix: "):
        summarization.three_way_split(ds, "5", 5)


def test_corrupt_summarization_model_folder(tmp_path):
    folder = saved_model(tmp_path / "summarizer", config='{"model_type": "t5", "d_model"')
    choice = models.Seq2SeqChoice(str(folder), str(folder), "seq2seq", "local folder")
    with pytest.raises(CourseError, match=r"config\.json: expected .*JSON, found text that is not JSON.*Fix: "):
        models.load_seq2seq(choice)
