import json
from pathlib import Path

import pytest

from course_utils import sharing
from course_utils.errors import CourseError

FAKE = "hf_FakeTokenForTests0123456789abcd"  # token-shaped, never valid


@pytest.fixture
def no_tokens(monkeypatch, tmp_path):
    """A clean environment: no token variables, no Colab/Kaggle, no saved login (huggingface_hub's token files are
    moved to an empty folder). Returns where a saved login would be written."""
    from huggingface_hub import constants

    for var in sharing.TOKEN_VARIABLES + ("KAGGLE_KERNEL_RUN_TYPE", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "stored_tokens"))
    return tmp_path / "token"


def card_info(**changes):
    info = sharing.CardInfo(
        model_name="bert-course-emotion", base_model="sentence-transformers/all-MiniLM-L6-v2",
        dataset_id="dair-ai/emotion", dataset_name="Emotion", eval_split="test",
        metrics={"accuracy": 0.81234, "f1": 0.7}, labels=["sadness", "joy"],
        hyperparameters={"learning_rate": 1e-4, "epochs": 3}, preprocessing="WordPiece, 128 tokens",
        intended_use="Course demo.", limitations="Short English texts only.", training_data="2,000 tweets")
    for key, value in changes.items():
        setattr(info, key, value)
    return info


def card_text(**changes) -> str:
    return str(sharing.build_card(card_info(**changes)))


# ------------------------------------------------------------------ tokens


def test_mask_and_redact_never_show_token_characters():
    assert sharing.mask_token(FAKE) == "hf_*** (34 characters)"
    assert sharing.mask_token("s3cret") == "*** (6 characters)"
    assert sharing.mask_token("") == "no token"
    assert sharing.redact(f"bad token {FAKE}!") == "bad token hf_***!"
    assert sharing.redact("key=s3cret", ("s3cret",)) == "key=***"


def test_fake_token_from_env_is_found_but_never_printed(no_tokens, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", FAKE)
    token = sharing.find_token()
    assert token.found and token.value == FAKE
    assert token.source == "the HF_TOKEN environment variable"
    plan = sharing.plan_sharing(token, hub_online=True, in_kaggle=False, whoami=role_is("read"))
    print(token, repr(token), plan, token.source)
    out = capsys.readouterr().out
    assert FAKE not in out and FAKE[3:] not in out
    assert "hf_*** (34 characters) from the HF_TOKEN environment variable" in out
    assert "value" not in repr(token)


def test_token_precedence_and_cached_login(no_tokens, monkeypatch):
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_second000000")
    monkeypatch.setenv("HF_TOKEN", FAKE)
    assert sharing.find_token().value == FAKE
    monkeypatch.delenv("HF_TOKEN")
    assert sharing.find_token().source == "the HUGGING_FACE_HUB_TOKEN environment variable"
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN")
    assert not sharing.find_token().found
    no_tokens.write_text("hf_saved00000000\n")  # what `hf auth login` leaves behind
    saved = sharing.find_token()
    assert (saved.value, saved.source) == ("hf_saved00000000", "a saved login (hf auth login / notebook_login)")
    assert not sharing.find_token(use_cached_login=False).found


def test_find_token_asks_huggingface_hub(no_tokens, monkeypatch):
    """The token comes from huggingface_hub.get_token (its rules, its Colab handling), then from Kaggle."""
    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_from_colab_secret")
    assert (sharing.find_token().value, sharing.find_token().source) == ("hf_from_colab_secret",
                                                                         "the Colab secret HF_TOKEN")
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    monkeypatch.setattr(sharing, "_kaggle_secret", lambda name: "hf_from_kaggle" if name == "HF_TOKEN" else None)
    assert sharing.find_token().source == "the Kaggle secret HF_TOKEN"


def test_cached_login_reads_huggingface_hub_token_file(monkeypatch, tmp_path):
    from huggingface_hub import constants

    path = tmp_path / "token"
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(path))
    assert sharing._cached_login_token() is None
    path.write_text(FAKE + "\n")
    assert sharing._cached_login_token() == FAKE


def test_plan_sharing_cases(no_tokens):
    none, some = sharing.HubToken(None, "nowhere"), sharing.HubToken(FAKE, "test")
    assert sharing.plan_sharing(none, True, in_kaggle=False) == sharing.SharePlan(
        "dry_run", "push_to_hub", "no token was found (nowhere)")
    offline = sharing.plan_sharing(some, False, in_kaggle=True)
    assert (offline.mode, offline.method) == ("dry_run", "upload_folder")
    assert offline.reason == "a token was found (hf_*** (34 characters) from test) but the Hub cannot be reached"
    assert sharing.plan_sharing(some, True, want_push=False, in_kaggle=False).reason == "push=False was asked for"
    assert sharing.plan_sharing(some, True, in_kaggle=False, whoami=role_is("write")).mode == "push"
    assert sharing.plan_sharing(some, True, in_kaggle=False, whoami=role_is("fineGrained")).mode == "push"


def role_is(role):
    """A stand-in for huggingface_hub.whoami: the answer the Hub gives for a token of this role."""
    return lambda token: {"name": "student", "auth": {"type": "access_token", "accessToken": {"role": role}}}


def test_a_read_token_gets_the_dry_run_and_how_to_fix_it(capsys):
    plan = sharing.plan_sharing(sharing.HubToken(FAKE, "a Colab secret"), True, in_kaggle=False,
                                whoami=role_is("read"))
    assert plan.mode == "dry_run"
    assert plan.reason.startswith("Hub token: expected a token that may write")
    assert "found a read-only token (hf_*** (34 characters) from a Colab secret)" in plan.reason
    assert "https://huggingface.co/settings/tokens" in plan.reason and FAKE not in plan.reason


def test_whoami_failure_is_a_dry_run_without_the_token(capsys):
    def refuses(token):
        raise RuntimeError(f"401 Unauthorized for token {token}")

    plan = sharing.plan_sharing(sharing.HubToken(FAKE, "env"), True, in_kaggle=False, whoami=refuses)
    assert plan.mode == "dry_run" and "whoami failed" in plan.reason
    out = capsys.readouterr().out
    assert "401 Unauthorized for token hf_***" in out and FAKE not in out


def test_token_strings_in_finds_leaks(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 32}))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "notes.txt").write_text(f"token = {FAKE}")
    assert sharing.token_strings_in(tmp_path) == ["sub/notes.txt"]


# ------------------------------------------------------------------ the card


def test_token_pattern_matches_tokens_not_names():
    assert sharing.TOKEN_PATTERN.search(f"token={FAKE}").group() == FAKE
    for harmless in ("hf_transformers_version", "hf_hub_download", "hf_abcdefgh"):
        assert sharing.TOKEN_PATTERN.search(harmless) is None, harmless


@pytest.mark.parametrize("repo_id, valid, owned", [
    ("bert-base-uncased", True, False), ("you/bert-course-emotion", True, True), ("you/model.v2_final", True, True),
    ("you/a--b", False, False), ("you/model.git", False, False), ("datasets/you/x", False, False),
    (".hidden", False, False), ("me/my model", False, False), (None, False, False), (42, False, False),
])
def test_repo_ids_follow_huggingface_hub(repo_id, valid, owned):
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    assert sharing.is_repo_id(repo_id) is valid
    if isinstance(repo_id, str):
        try:
            validate_repo_id(repo_id)
            hub_says = True
        except HFValidationError:
            hub_says = False
        assert hub_says is valid
    if owned:
        sharing.check_repo_id(repo_id)
    else:
        with pytest.raises(CourseError, match=r"^Repository id: expected 'your-username/model-name'"):
            sharing.check_repo_id(repo_id)


def test_built_card_is_valid_and_round_trips(tmp_path):
    card = sharing.build_card(card_info(), repo_hint="me/bert-course-emotion")
    assert sharing.card_problems(str(card)) == []
    card.save(tmp_path / "README.md")
    meta = sharing.validate_card(tmp_path / "README.md")
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert meta["datasets"] == ["dair-ai/emotion"]
    results = meta["model-index"][0]["results"][0]
    assert meta["model-index"][0]["name"] == "bert-course-emotion"
    assert results["dataset"] == {"name": "Emotion", "type": "dair-ai/emotion", "split": "test"}
    assert results["metrics"] == [{"type": "accuracy", "value": 0.8123}, {"type": "f1", "value": 0.7}]
    text = (tmp_path / "README.md").read_text()
    assert "| learning_rate | 0.0001 |" in text and "| accuracy | 0.8123 |" in text
    assert 'pipeline("text-classification", model="me/bert-course-emotion")' in text


@pytest.mark.parametrize("changes, message", [
    ({"license": None}, r"Card metadata 'license': expected a value for 'license', found nothing"),
    ({"license": "free-for-all"}, r"expected a Hub license id such as 'apache-2.0' or 'mit', found 'free-for-all'"),
    ({"license": "other"}, r"Card metadata 'license: other': expected license_name and license_link"),
    ({"base_model": "my model (v2)"}, r"Card metadata 'base_model': expected Hub model ids .* found \['my model"),
    ({"limitations": f"Do not share {FAKE}"}, r"Card text: expected no access token"),
])
def test_card_problems_are_pinned(changes, message):
    with pytest.raises(CourseError, match=message):
        sharing.raise_if_any(sharing.card_problems(card_text(**changes)))


def test_model_index_needs_results():
    with pytest.raises(CourseError, match=r"CardInfo.metrics: expected at least one metric, e.g. \{'accuracy': 0.91\}"):
        sharing.build_card(card_info(metrics={}))
    head, body = card_text().split("\n---\n", 1)
    no_index = head.split("model-index:")[0].rstrip() + "\n---\n" + body
    assert sharing.card_problems(no_index) == [
        "Card metadata 'model-index': expected a value for 'model-index', found nothing. "
        "Fix: set model-index in ModelCardData (or in CardInfo)."]
    empty = card_text().split("  results:")[0] + "  results: []\n---\n" + body
    assert sharing.card_problems(empty) == [
        "Card model-index: expected at least one evaluation result, found none. "
        "Fix: pass the test-set metrics to CardInfo(metrics={...})."]


def test_non_numeric_metric_and_missing_section():
    text = card_text().replace("value: 0.8123", "value: high").replace("## Limitations", "## Caveats")
    problems = sharing.card_problems(text)
    assert len(problems) == 2
    assert problems[0] == ("Card model-index metric values: expected finite numbers, found accuracy='high'. "
                           "Fix: report the metric as a number, e.g. round(float(value), 4).")
    assert problems[1].startswith("Card sections: expected the sections") and "['## Limitations'] missing" in problems[1]


def test_unparseable_metadata_is_reported():
    broken_index = card_text().replace("  results:", "  outcomes:")
    (only,) = sharing.card_problems(broken_index)
    assert only.startswith("Card metadata: expected a YAML block that huggingface_hub.ModelCard parses, "
                           "found ValueError: Invalid `model_index`")
    (yaml_error,) = sharing.card_problems("---\nlicense: [mit\n---\n# x\n")
    assert "found ScannerError" in yaml_error or "found ParserError" in yaml_error


def test_validate_card_lists_every_problem_and_needs_a_file(tmp_path):
    path = tmp_path / "README.md"
    path.write_text(card_text(license=None, base_model=None))
    with pytest.raises(CourseError, match=r"^2 problems:\n- Card metadata 'license'.*\n- Card metadata 'base_model'"):
        sharing.validate_card(path)
    with pytest.raises(CourseError, match=r"Model card: expected a README.md file, found nothing at .*missing.md"):
        sharing.validate_card(tmp_path / "missing.md")


# ------------------------------------------------------------------ upload folder and push


class FakeSaver:
    """Stands in for a model or tokenizer: save_pretrained writes one file, push_to_hub records its call."""

    def __init__(self, filename, calls=None):
        self.filename, self.calls = filename, calls if calls is not None else []

    def save_pretrained(self, folder):
        Path(folder, self.filename).write_text("{}")

    def push_to_hub(self, repo_id, **kwargs):
        self.calls.append((self.filename, repo_id, kwargs))


def test_write_upload_folder_writes_exactly_the_upload(tmp_path):
    folder = tmp_path / "upload"
    card = sharing.build_card(card_info())
    files = sharing.write_upload_folder(folder, FakeSaver("config.json"), FakeSaver("tokenizer.json"), card)
    assert files == ["README.md", "config.json", "tokenizer.json"]
    (folder / "stale.bin").write_text("old")
    assert "stale.bin" not in sharing.write_upload_folder(folder, FakeSaver("config.json"), FakeSaver("vocab.txt"),
                                                           card)
    other = tmp_path / "homework"
    other.mkdir()
    (other / "essay.txt").write_text("keep me")
    with pytest.raises(CourseError, match=r"Upload folder .*homework: expected a new or earlier upload folder"):
        sharing.write_upload_folder(other, FakeSaver("config.json"), FakeSaver("vocab.txt"), card)
    assert (other / "essay.txt").read_text() == "keep me"


class FakeApi:
    def __init__(self, fail_with=None):
        self.calls, self.fail_with = [], fail_with

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, **kwargs):
        if self.fail_with:
            raise RuntimeError(self.fail_with)
        self.calls.append(("upload_folder", kwargs["repo_id"], kwargs["folder_path"]))


def test_push_with_upload_folder_and_push_to_hub(tmp_path):
    token = sharing.HubToken(FAKE, "test")
    api = FakeApi()
    url = sharing.push(tmp_path, "me/bert-course-emotion", token, "upload_folder", api=api)
    assert url == "https://huggingface.co/me/bert-course-emotion"
    assert api.calls == [("create_repo", "me/bert-course-emotion", {"private": True, "exist_ok": True}),
                         ("upload_folder", "me/bert-course-emotion", str(tmp_path))]
    calls = []
    sharing.push(tmp_path, "me/m", token, "push_to_hub", model=FakeSaver("model", calls),
                 tokenizer=FakeSaver("tok", calls), card=FakeSaver("card", calls), private=False)
    assert [(c[0], c[1]) for c in calls] == [("model", "me/m"), ("tok", "me/m"), ("card", "me/m")]
    assert calls[0][2] == {"token": FAKE, "private": False}


def test_push_errors_are_pinned_and_masked(tmp_path, capsys):
    token = sharing.HubToken(FAKE, "test")
    with pytest.raises(CourseError, match=r"Repository id: expected 'your-username/model-name'.*found 'just-a-name'"):
        sharing.push(tmp_path, "just-a-name", token, "upload_folder", api=FakeApi())
    with pytest.raises(CourseError, match=r"Hub token: expected a token with write access, found no token \(none\)"):
        sharing.push(tmp_path, "me/m", sharing.HubToken(None, "none"), "upload_folder", api=FakeApi())
    with pytest.raises(CourseError, match=r"Upload method: expected 'push_to_hub' or 'upload_folder', found 'git'"):
        sharing.push(tmp_path, "me/m", token, "git")
    with pytest.raises(CourseError) as info:
        sharing.push(tmp_path, "me/m", token, "upload_folder", api=FakeApi(f"401 Unauthorized for {FAKE}"))
    assert str(info.value) == ("Upload to me/m: expected a successful upload, found RuntimeError: 401 Unauthorized "
                               "for hf_***. Fix: check that the token has write access and the repository name is "
                               "yours.")
    assert FAKE not in capsys.readouterr().out


# ------------------------------------------------------------------ the notebook's card check


def student_card(**changes):
    """A card built the way notebook 13's exercise builds it: ModelCardData with EvalResults, by hand."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    fields = dict(license="apache-2.0", base_model="sentence-transformers/all-MiniLM-L6-v2",
                  datasets=["dair-ai/emotion"], metrics={"accuracy": 0.8123, "f1": 0.7})
    fields.update(changes)
    metrics = fields.pop("metrics")
    results = [EvalResult(task_type="text-classification", dataset_type="dair-ai/emotion", dataset_name="Emotion",
                          dataset_split="test", metric_type=name, metric_value=value) for name, value in metrics.items()]
    return ModelCard.from_template(ModelCardData(model_name="bert-course-emotion", eval_results=results, **fields))


def test_card_differences_accepts_a_card_that_tells_the_truth():
    reference = sharing.build_card(card_info())  # metrics 0.81234 -> 0.8123 on the card
    assert sharing.card_differences(student_card(), reference) == []
    assert sharing.card_differences(student_card(base_model=["sentence-transformers/all-MiniLM-L6-v2"]),
                                    reference) == []


@pytest.mark.parametrize("changes, message", [
    ({"license": None}, "Your card's license: expected a Hub license id such as 'apache-2.0', found no license. "
                        "Fix: pass license=model_license to ModelCardData"),
    ({"license": "free"}, "Your card's license: expected a Hub license id such as 'apache-2.0', found 'free'."),
    ({"base_model": None}, "Your card's base_model: expected 'sentence-transformers/all-MiniLM-L6-v2', found None. "
                           "Fix: pass base_model=base_model, the checkpoint you fine-tuned, to ModelCardData."),
    ({"datasets": ["imdb"]}, "Your card's datasets: expected ['dair-ai/emotion'], found ['imdb']."),
    ({"metrics": {"accuracy": 81.23, "f1": 0.7}}, "Your card's evaluation results: expected this run's test "
                                                  "metrics: accuracy=0.8123, found accuracy=81.23."),
    ({"metrics": {"accuracy": 0.8123}}, "Your card's evaluation results: expected this run's test metrics: "
                                        "f1=0.7, found f1=None."),
])
def test_card_differences_name_the_planted_mistake(changes, message):
    (only,) = sharing.card_differences(student_card(**changes), sharing.build_card(card_info()))
    assert only.startswith(message)
