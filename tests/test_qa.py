"""course_utils.qa: sliding windows with answer positions, and postprocessing logits back to answer texts."""

import numpy as np
import pytest
import transformers

from course_utils import data, models, qa
from course_utils.errors import CourseError


@pytest.fixture(scope="module")
def tokenizer():
    return transformers.AutoTokenizer.from_pretrained(models.tokenizer_source())


@pytest.fixture(scope="module")
def squad():
    return data.load_local(data.TINY_DATA_DIR / "squad")


@pytest.mark.parametrize("max_length,stride", [(128, 32), (96, 24), (384, 128)])
def test_every_training_window_recovers_its_answer_exactly(tokenizer, squad, max_length, stride):
    train = squad["train"]
    batch = train[:]
    features = qa.prepare_train_features(batch, tokenizer, max_length=max_length, stride=stride)
    # the same call with offsets, to read characters back from token positions
    enc = tokenizer([q.lstrip() for q in batch["question"]], batch["context"], truncation="only_second",
                    max_length=max_length, stride=stride, return_overflowing_tokens=True,
                    return_offsets_mapping=True, padding="max_length")
    assert features["input_ids"] == enc["input_ids"]
    by_id = {ex["id"]: ex for ex in train}
    found = set()
    for i, (start, end) in enumerate(zip(features["start_positions"], features["end_positions"])):
        example = by_id[features["example_id"][i]]
        answer, answer_start = example["answers"]["text"][0], example["answers"]["answer_start"][0]
        offsets, sequence_ids = enc["offset_mapping"][i], enc.sequence_ids(i)
        if start == 0:
            assert end == 0
            covered = [o for o, s in zip(offsets, sequence_ids) if s == 1]
            assert covered[0][0] > answer_start or covered[-1][1] < answer_start + len(answer)
            continue
        assert sequence_ids[start] == 1 and sequence_ids[end] == 1 and start <= end
        assert example["context"][offsets[start][0]:offsets[end][1]] == answer
        found.add(example["id"])
    assert found == set(by_id), "every question has at least one window holding its whole answer"
    assert max(len(x) for x in features["input_ids"]) == max_length


def test_long_context_is_split_into_overlapping_windows(tokenizer, squad):
    long = max(squad["train"], key=lambda ex: len(ex["context"]))
    rows = qa.window_table(long, tokenizer, max_length=128, stride=32)
    assert len(rows) == 4
    assert [r["start_position"] > 0 for r in rows] == [False, False, True, False]
    assert rows[2]["answer_tokens"] == long["answers"]["text"][0].lower() == "the life of pablo"


def test_answer_token_span_outside_window_points_at_cls():
    offsets = [(0, 0), (0, 3), (0, 0), (0, 5), (6, 11), (12, 16), (0, 0)]
    sequence_ids = [None, 0, None, 1, 1, 1, None]
    assert qa.answer_token_span(offsets, sequence_ids, 0, 5) == (3, 3)
    assert qa.answer_token_span(offsets, sequence_ids, 12, 16) == (5, 5)
    assert qa.answer_token_span(offsets, sequence_ids, 12, 20) == (0, 0)


def test_eval_features_keep_ids_and_hide_non_context_offsets(tokenizer, squad):
    batch = squad["validation"][:4]
    features = qa.prepare_eval_features(batch, tokenizer, max_length=128, stride=32)
    assert set(features["example_id"]) == set(batch["id"])
    for i, offsets in enumerate(features["offset_mapping"]):
        context = batch["context"][batch["id"].index(features["example_id"][i])]
        assert offsets[0] is None and offsets[-1] is None  # [CLS] and the last [SEP] or padding
        kept = [o for o in offsets if o is not None]
        assert kept and all(0 <= s <= e <= len(context) for s, e in kept)


def _hand_built():
    examples = {"id": ["q1", "q2"], "context": ["Paris is the capital of France.", "It rained in Leeds."]}
    # q1 has two windows; q2 one. Offsets None = outside the context.
    features = {
        "example_id": ["q1", "q1", "q2"],
        "offset_mapping": [
            [None, None, (0, 5), (6, 8), (9, 12), None],
            [None, None, (13, 20), (21, 23), (24, 30), None],
            [None, None, (0, 2), (3, 9), (13, 18), None],
        ],
    }
    start = np.full((3, 6), -5.0)
    end = np.full((3, 6), -5.0)
    start[0, 2], end[0, 2] = 2.0, 2.5  # "Paris": 4.5 in window 0
    start[1, 4], end[1, 4] = 3.0, 3.0  # "France": 6.0 in window 1, the best over both windows
    start[1, 1], end[1, 1] = 9.0, 9.0  # the question is never an answer, however high its logits
    end[1, 2] = 8.0  # an end before the start is never a span
    start[2, 4], end[2, 4] = 1.0, 1.0  # "Leeds"
    start[2, 0], end[2, 0] = 4.0, 4.0  # [CLS] beats every span of q2: null score 8.0 > 2.0
    return examples, features, start, end


def test_postprocess_picks_best_span_over_all_windows():
    examples, features, start, end = _hand_built()
    predictions = qa.postprocess_predictions(examples, features, start, end, n_best=3)
    assert predictions == [{"id": "q1", "prediction_text": "France"}, {"id": "q2", "prediction_text": "Leeds"}]


def test_postprocess_respects_max_answer_length():
    examples, features, start, end = _hand_built()
    start[1, 2], end[1, 2] = 4.0, -5.0  # "capital of France" (3 tokens) now scores 4 + 3 = 7 > "France" 6
    assert qa.postprocess_predictions(examples, features, start, end)[0]["prediction_text"] == "capital of France"
    short = qa.postprocess_predictions(examples, features, start, end, max_answer_length=2)
    assert short[0]["prediction_text"] == "France"


def test_postprocess_with_null_scores_no_answer():
    examples, features, start, end = _hand_built()
    predictions = qa.postprocess_predictions(examples, features, start, end, with_null=True)
    q1, q2 = predictions
    # q1: null = min over windows of [CLS] start+end = -10, best span 6: p = sigmoid(-16)
    assert q1["prediction_text"] == "France"
    assert q1["no_answer_probability"] == pytest.approx(1 / (1 + np.exp(16)))
    assert q2 == {"id": "q2", "prediction_text": "", "no_answer_probability": pytest.approx(1 / (1 + np.exp(-6)))}
    lenient = qa.postprocess_predictions(examples, features, start, end, with_null=True, null_threshold=6.5)
    assert lenient[1]["prediction_text"] == "Leeds"


def test_postprocess_scores_with_squad_metric(squad):
    from course_utils import metrics

    val = squad["validation"]
    gold = [{"id": ex["id"], "prediction_text": ex["answers"]["text"][0]} for ex in val]
    scores = metrics.load("squad", prefer_local=True).compute(predictions=gold, references=qa.references(val))
    assert scores == {"exact_match": 100.0, "f1": 100.0}


def test_errors_are_explained(tokenizer, squad):
    with pytest.raises(CourseError, match=r"columns \['question', 'context', 'answers'\]"):
        qa.prepare_train_features({"question": ["Who?"], "passage": ["Me."]}, tokenizer)
    with pytest.raises(CourseError, match="a fast \\(Rust\\) tokenizer"):
        qa.prepare_eval_features(squad["validation"][:2], object())
    with pytest.raises(CourseError, match="stride=120.*lower stride"):
        qa.prepare_train_features(squad["train"][:2], tokenizer, max_length=128, stride=120)
    examples, features, start, end = _hand_built()
    with pytest.raises(CourseError, match="start_logits: expected one row per evaluation feature \\(3\\)"):
        qa.postprocess_predictions(examples, features, start[:2], end)
    with pytest.raises(CourseError, match="example_id and offset_mapping"):
        qa.postprocess_predictions(examples, {"input_ids": [[0]] * 3}, start, end)


def test_answer_questions_returns_context_spans(tokenizer):
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(models.tiny_bert_path())
    context = "The Eiffel Tower was built for the 1889 World's Fair in Paris. " * 12  # several windows
    answers = qa.answer_questions(model, tokenizer, ["When was it built?", "Where?"], [context, context],
                                  max_length=64, stride=16, max_answer_length=5)
    assert len(answers) == 2
    assert all(a and a in context and len(tokenizer.tokenize(a)) <= 5 for a in answers)
    with pytest.raises(CourseError, match="one context per question, found 2 questions and 1 contexts"):
        qa.answer_questions(model, tokenizer, ["a?", "b?"], [context])
