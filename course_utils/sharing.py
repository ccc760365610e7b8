"""Share a fine-tuned model: find a Hub token without ever showing it, write a model card, push or dry-run.

A token is a password. Nothing here prints, returns in a repr, or writes a token: ``HubToken`` hides its value,
``mask_token`` and ``redact`` turn any token-like string into ``hf_***``, and ``token_strings_in`` scans files
before anything leaves the machine. Without a token (or without the Hub) the notebook does a *dry run*: it writes
exactly the folder that would be uploaded and validates the card's metadata locally.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CourseError, problem, raise_if_any

TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")  # environment variables huggingface_hub reads
SECRET_NAME = "HF_TOKEN"  # the secret's name in Colab (key icon) and Kaggle (Add-ons > Secrets)
# What a Hugging Face user access token looks like ("hf_" and 34 letters and digits). The course's one pattern:
# the grader's integrity check uses it too. 30+ characters, so that names such as hf_transformers_version are no token.
TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{30,}")
SAVED_LOGIN = "a saved login (hf auth login / notebook_login)"
# A few of the license ids the Hub accepts (https://huggingface.co/docs/hub/repositories-licenses)
LICENSES = {"apache-2.0", "mit", "bsd-3-clause", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "cc-by-nc-sa-4.0",
            "cc0-1.0", "gpl-3.0", "lgpl-3.0", "openrail", "llama3", "gemma", "other", "unknown"}
REQUIRED_METADATA = ("license", "language", "base_model", "datasets", "pipeline_tag", "model-index")
REQUIRED_SECTIONS = ("## Intended uses", "## Limitations", "## Training procedure", "## Evaluation results")

# --------------------------------------------------------------------------------------------- tokens


def mask_token(token: str | None) -> str:
    """What may be shown of a token: its prefix and length, never its characters.

    >>> mask_token("hf_abcdefghijklmnopqrstuvwxyz01234567")
    'hf_*** (37 characters)'
    >>> mask_token(None)
    'no token'
    """
    if not token:
        return "no token"
    prefix = "hf_" if token.startswith("hf_") else ""
    return f"{prefix}*** ({len(token)} characters)"


def redact(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """``text`` with every given secret and every token-like ``hf_...`` string masked (for error messages).

    >>> redact("401 for token hf_abcdefghijklmnopqrstuvwxyz01234567")
    '401 for token hf_***'
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "hf_***" if secret.startswith("hf_") else "***")
    return TOKEN_PATTERN.sub("hf_***", text)


@dataclass(frozen=True)
class HubToken:
    """A Hub token and where it came from; its repr and str show only the mask."""

    value: str | None = field(repr=False)  # the secret itself: pass it to the Hub, never print it
    source: str  # where it was found, e.g. "the HF_TOKEN environment variable"

    @property
    def found(self) -> bool:
        """True when a token was found."""
        return bool(self.value)

    def __str__(self) -> str:
        return f"{mask_token(self.value)} from {self.source}" if self.found else f"no token ({self.source})"


def _kaggle_secret(name: str) -> str | None:
    if not os.environ.get("KAGGLE_KERNEL_RUN_TYPE"):
        return None
    try:
        from kaggle_secrets import UserSecretsClient

        return UserSecretsClient().get_secret(name)
    except Exception:  # secret missing or not attached to this notebook
        return None


def _cached_login_token() -> str | None:
    """The token saved by ``hf auth login`` or ``notebook_login`` (huggingface_hub's token file), if any."""
    from huggingface_hub import constants

    path = Path(constants.HF_TOKEN_PATH)
    return path.read_text().strip() or None if path.is_file() else None


def _where_from(value: str) -> str:
    """Where ``huggingface_hub.get_token`` found ``value``: one of the places it looks, in words."""
    for variable in TOKEN_VARIABLES:
        if os.environ.get(variable, "").strip() == value:
            return f"the {variable} environment variable"
    if value == _cached_login_token():
        return SAVED_LOGIN
    return f"the Colab secret {SECRET_NAME}"


def find_token(use_cached_login: bool = True) -> HubToken:
    """Find a Hub token where ``huggingface_hub.get_token`` looks, then in the Kaggle secret (which it does not read).

    huggingface_hub reads the environment (HF_TOKEN, then HUGGING_FACE_HUB_TOKEN), the Colab secret and the saved
    login, in the order its version prefers. Returns a ``HubToken`` whose value may be None; printing it shows only
    where it came from.
    ``use_cached_login=False`` ignores a saved login (e.g. a teacher's own, on a shared machine).
    """
    from huggingface_hub import get_token

    if value := get_token():
        source = _where_from(value)
        if use_cached_login or source != SAVED_LOGIN:
            return HubToken(value, source)
    if value := _kaggle_secret(SECRET_NAME):
        return HubToken(value, f"the Kaggle secret {SECRET_NAME}")
    return HubToken(None, f"none of {', '.join(TOKEN_VARIABLES)}, a Colab or Kaggle secret, or a saved login")


def token_strings_in(folder: str | Path) -> list[str]:
    """Files under ``folder`` that contain a token-like ``hf_...`` string (their relative paths)."""
    root = Path(folder)
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if TOKEN_PATTERN.search(path.read_bytes().decode("utf-8", errors="ignore")):
            hits.append(str(path.relative_to(root)))
    return hits


# --------------------------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class SharePlan:
    """What the notebook will do with the model, and why."""

    mode: str  # "push" (really upload) or "dry_run" (write the upload folder only)
    method: str  # "push_to_hub" (model/tokenizer/card methods) or "upload_folder" (one HfApi call; Kaggle)
    reason: str  # one sentence for the student


def plan_sharing(token: HubToken, hub_online: bool, want_push: bool = True, in_kaggle: bool | None = None,
                 whoami: Any = None) -> SharePlan:
    """Decide between a real push and a dry run, and between ``push_to_hub`` and ``upload_folder``.

    A real push needs a token the Hub says may write; a read token (students add one against rate limits) gets the
    validated dry run and a message that says how to get a write token.
    """
    in_kaggle = bool(os.environ.get("KAGGLE_KERNEL_RUN_TYPE")) if in_kaggle is None else in_kaggle
    method = "upload_folder" if in_kaggle else "push_to_hub"
    if not want_push:
        return SharePlan("dry_run", method, "push=False was asked for")
    if not token.found:
        return SharePlan("dry_run", method, f"no token was found ({token.source})")
    if not hub_online:
        return SharePlan("dry_run", method, f"a token was found ({token}) but the Hub cannot be reached")
    role = token_role(token, whoami=whoami)
    if role == "read":
        return SharePlan("dry_run", method, problem(
            "Hub token", "a token that may write (role 'write', or fine-grained with write access)",
            f"a read-only token ({token})", "create a write token at https://huggingface.co/settings/tokens, store it "
            "as the HF_TOKEN secret (Colab: Secrets panel; Kaggle: Add-ons > Secrets) and re-run; until then this "
            "is the validated dry run"))
    if role is None:
        return SharePlan("dry_run", method, f"a token was found ({token}) but the Hub did not say what it may do "
                         "(whoami failed): dry run; re-run the cell to try again")
    return SharePlan("push", method, f"a token was found ({token}, role {role}) and the Hub answers")


def token_role(token: HubToken, whoami: Any = None) -> str | None:
    """The token's role as the Hub reports it ("read", "write", "fineGrained"), or None when it cannot be asked.

    ``whoami`` is ``huggingface_hub.whoami`` (a stand-in in tests). Errors come back without the token in them.
    """
    if whoami is None:
        from huggingface_hub import whoami
    try:
        info = whoami(token=token.value)
    except Exception as err:  # an invalid token, or the network: say so without the token
        print(redact(f"whoami failed: {type(err).__name__}: {err}", (token.value,)))
        return None
    return ((info or {}).get("auth") or {}).get("accessToken", {}).get("role")


# --------------------------------------------------------------------------------------------- the card


@dataclass
class CardInfo:
    """Everything a model card says, gathered from the run."""

    model_name: str  # the repository name, e.g. "bert-course-emotion"
    base_model: str  # Hub id of the checkpoint that was fine-tuned
    dataset_id: str  # Hub id of the training data, e.g. "dair-ai/emotion"
    dataset_name: str  # a pretty name, e.g. "Emotion"
    eval_split: str  # the split the reported metrics come from
    metrics: dict[str, float]  # metric id -> value on ``eval_split``
    labels: list[str]  # class names in id order
    hyperparameters: dict[str, Any]  # learning rate, epochs, batch size, ...
    preprocessing: str  # how the text was turned into model inputs
    intended_use: str  # who should use it for what
    limitations: str  # what it gets wrong, what it must not be used for
    license: str = "apache-2.0"  # a Hub license id
    language: str = "en"  # ISO 639-1 code
    pipeline_tag: str = "text-classification"  # Hub task id
    training_data: str = ""  # sizes and source of the data actually used
    notes: str = ""  # anything else worth knowing (e.g. a substituted base model)
    code_link: str = ""  # where the training code lives (a notebook or repository URL)
    tags: list[str] = field(default_factory=lambda: ["bert-course", "generated_from_trainer"])


CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

A fine-tuned version of [{{ base_model }}](https://huggingface.co/{{ base_model }}) for
{{ pipeline_tag }} on [{{ dataset_name }}](https://huggingface.co/datasets/{{ dataset_id }}).
Labels: {{ labels | join(", ") }}.

{{ notes }}

## Intended uses

{{ intended_use }}

## Limitations

{{ limitations }}

## Training and evaluation data

{{ training_data }}

## Training procedure

### Preprocessing

{{ preprocessing }}

### Training hyperparameters

| hyper-parameter | value |
|---|---|
{% for name, value in hyperparameters.items() -%}
| {{ name }} | {{ value }} |
{% endfor %}
## Evaluation results

On the `{{ eval_split }}` split of {{ dataset_name }}:

| metric | value |
|---|---|
{% for name, value in metric_values.items() -%}
| {{ name }} | {{ "%.4f" | format(value) }} |
{% endfor %}
## How to use

```python
from transformers import pipeline

classifier = pipeline("{{ pipeline_tag }}", model="{{ repo_hint }}")
classifier("I can't believe how well this turned out!")
```

{% if code_link %}Training code: {{ code_link }}
{% endif %}
## License

{{ license }}
"""


def build_card(info: CardInfo, repo_hint: str | None = None) -> Any:
    """A ``huggingface_hub.ModelCard`` whose metadata holds the evaluation results as ``model-index``.

    Notebook 13 has students write the same card by hand (``ModelCardData``, ``EvalResult``, ``from_template``)
    and compares theirs with this one (``card_differences``).
    """
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    if not info.metrics:
        raise CourseError(problem("CardInfo.metrics", "at least one metric, e.g. {'accuracy': 0.91}", "{}",
                                  "pass the evaluation results of the best checkpoint on held-out data"))
    results = [EvalResult(task_type=info.pipeline_tag, dataset_type=info.dataset_id, dataset_name=info.dataset_name,
                          dataset_split=info.eval_split, metric_type=name, metric_value=round(float(value), 4))
               for name, value in info.metrics.items()]
    data = ModelCardData(base_model=info.base_model, datasets=[info.dataset_id], language=info.language,
                         license=info.license, library_name="transformers", pipeline_tag=info.pipeline_tag,
                         tags=info.tags, metrics=list(info.metrics), model_name=info.model_name, eval_results=results)
    return ModelCard.from_template(
        data, template_str=CARD_TEMPLATE, model_name=info.model_name, base_model=info.base_model,
        dataset_id=info.dataset_id, dataset_name=info.dataset_name, labels=info.labels, notes=info.notes,
        intended_use=info.intended_use, limitations=info.limitations, training_data=info.training_data,
        preprocessing=info.preprocessing, hyperparameters=info.hyperparameters, eval_split=info.eval_split,
        metric_values=info.metrics, repo_hint=repo_hint or info.model_name, code_link=info.code_link,
        license=info.license, pipeline_tag=info.pipeline_tag)


def _as_list(value: Any) -> list:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def card_differences(card: Any, reference: Any, tolerance: float = 1e-4) -> list[str]:
    """Where a student's ``ModelCard`` disagrees with the reference card of the same run; empty when it agrees.

    Compares what a reader of the Hub page relies on: a known license, the base model, the datasets and every
    evaluation result (name and value, within ``tolerance``). Each entry says what was expected, what was found
    and how to fix it.
    """
    mine, ref = card.data, reference.data
    problems = []
    if mine.license not in LICENSES:
        problems.append(problem("Your card's license", f"a Hub license id such as {ref.license!r}",
                                repr(mine.license) if mine.license else "no license",
                                "pass license=model_license to ModelCardData: without one, nobody may reuse the model"))
    for key, fix in (("base_model", "base_model=base_model, the checkpoint you fine-tuned"),
                     ("datasets", "datasets=[dataset_id], the data you trained on")):
        if _as_list(getattr(mine, key)) != _as_list(getattr(ref, key)):
            problems.append(problem(f"Your card's {key}", repr(getattr(ref, key)), repr(getattr(mine, key)),
                                    f"pass {fix}, to ModelCardData"))
    expected = {r.metric_type: r.metric_value for r in ref.eval_results or []}
    found = {r.metric_type: r.metric_value for r in mine.eval_results or []}
    wrong = [name for name, value in expected.items() if not (
        isinstance(found.get(name), (int, float)) and abs(found[name] - value) <= tolerance)]
    if wrong:
        problems.append(problem("Your card's evaluation results", "this run's test metrics: " + ", ".join(
            f"{name}={expected[name]}" for name in wrong), ", ".join(f"{name}={found.get(name)}" for name in wrong),
            "give ModelCardData eval_results=[EvalResult(..., dataset_split='test', metric_type=name, "
            "metric_value=value) for name, value in test_results.items()]"))
    return problems


def _metadata_problems(meta: dict[str, Any]) -> list[str]:
    problems = [problem(f"Card metadata {key!r}", f"a value for {key!r}", "nothing",
                        f"set {key} in ModelCardData (or in CardInfo)") for key in REQUIRED_METADATA if not meta.get(key)]
    license_id = meta.get("license")
    if license_id and license_id not in LICENSES:
        problems.append(problem("Card metadata 'license'", "a Hub license id such as 'apache-2.0' or 'mit'",
                                repr(license_id), "use an id from https://huggingface.co/docs/hub/repositories-licenses,"
                                " or 'other' with license_name and license_link"))
    if license_id == "other" and not (meta.get("license_name") and meta.get("license_link")):
        problems.append(problem("Card metadata 'license: other'", "license_name and license_link",
                                "one of them missing", "name your license and link to its text"))
    bases = meta.get("base_model") or []
    bad = [b for b in ([bases] if isinstance(bases, str) else bases) if not is_repo_id(b)]
    if bad:
        problems.append(problem("Card metadata 'base_model'", "Hub model ids like 'bert-base-uncased' or "
                                "'owner/name'", repr(bad), "write the id of the checkpoint you fine-tuned"))
    return problems


def _eval_problems(results: list[Any]) -> list[str]:
    bad = [f"{r.metric_type}={r.metric_value!r}" for r in results
           if isinstance(r.metric_value, bool) or not isinstance(r.metric_value, (int, float))
           or not math.isfinite(r.metric_value)]
    if not bad:
        return []
    return [problem("Card model-index metric values", "finite numbers", ", ".join(bad),
                    "report the metric as a number, e.g. round(float(value), 4)")]


def card_problems(text: str) -> list[str]:
    """Every problem in a model card's text (metadata, model-index, sections, leaked tokens); empty when valid."""
    from huggingface_hub import ModelCard

    try:
        card = ModelCard(text)
    except Exception as err:  # yaml.YAMLError or ValueError (e.g. a model-index that cannot be parsed)
        first_line = (str(err).splitlines() or [type(err).__name__])[0]
        return [problem("Card metadata", "a YAML block that huggingface_hub.ModelCard parses",
                        f"{type(err).__name__}: {first_line}", "build the card with build_card, or fix the YAML")]
    meta = card.data.to_dict()
    problems = _metadata_problems(meta)
    if meta.get("model-index") and not card.data.eval_results:
        problems.append(problem("Card model-index", "at least one evaluation result", "none",
                                "pass the test-set metrics to CardInfo(metrics={...})"))
    problems += _eval_problems(card.data.eval_results or [])
    missing = [s for s in REQUIRED_SECTIONS if s not in card.text]
    if missing:
        problems.append(problem("Card sections", f"the sections {list(REQUIRED_SECTIONS)}", f"{missing} missing",
                                "add them: the Hub shows the card as the model's home page"))
    if TOKEN_PATTERN.search(text):
        problems.append(problem("Card text", "no access token", "a string that looks like an hf_ token",
                                "remove it now and revoke that token at https://huggingface.co/settings/tokens"))
    return problems


def validate_card(path: str | Path) -> dict[str, Any]:
    """Load a README.md with ``ModelCard.load``, check it, and return its metadata; raise one CourseError if bad."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(problem("Model card", "a README.md file", f"nothing at {path}",
                                  "write the card first: card.save(folder / 'README.md')"))
    text = path.read_text(encoding="utf-8")
    raise_if_any(card_problems(text))
    from huggingface_hub import ModelCard

    return ModelCard.load(path).data.to_dict()


# --------------------------------------------------------------------------------------------- upload folder


def write_upload_folder(folder: str | Path, model: Any, tokenizer: Any, card: Any) -> list[str]:
    """Write exactly what would be uploaded (weights, config, tokenizer, README.md) into a fresh ``folder``.

    A folder left by an earlier run is replaced, but only if it looks like one (it holds a README.md or
    config.json), so a mistyped path never deletes anything else. Returns the relative file names.
    """
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        if not ((folder / "README.md").exists() or (folder / "config.json").exists()):
            raise CourseError(problem(f"Upload folder {folder}", "a new or earlier upload folder",
                                      "a non-empty folder without README.md or config.json",
                                      "choose another folder, e.g. output_dir / 'upload'"))
    # Build beside it and swap at the end, so a failed save (a full disk) leaves the last good folder whole.
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        model.save_pretrained(building)
        tokenizer.save_pretrained(building)
        card.save(building / "README.md")
    except OSError as err:
        shutil.rmtree(building, ignore_errors=True)
        raise CourseError(problem(f"Writing the upload folder {folder}", "room to save the model, tokenizer and card",
                                  f"{type(err).__name__}: {err}",
                                  "free some disk space (delete old checkpoints under output_dir) and re-run; the "
                                  "earlier upload folder was left as it was")) from None
    if folder.exists():
        shutil.rmtree(folder)
    building.rename(folder)
    return [str(p.relative_to(folder)) for p in sorted(folder.rglob("*")) if p.is_file()]


def is_repo_id(value: Any) -> bool:
    """True when the Hub accepts ``value`` as a repository id ("name" or "owner/name"), by huggingface_hub's rules.

    >>> is_repo_id("bert-base-uncased"), is_repo_id("you/bert-course-emotion"), is_repo_id("me/my model")
    (True, True, False)
    """
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if not isinstance(value, str):  # newer huggingface_hub lets None through (a repo id is optional in its API)
        return False
    try:
        validate_repo_id(value)
    except HFValidationError:
        return False
    return True


def check_repo_id(repo_id: str) -> None:
    """Raise a CourseError unless ``repo_id`` is "owner/name" and valid on the Hub."""
    if not (is_repo_id(repo_id) and repo_id.count("/") == 1):
        raise CourseError(problem("Repository id", "'your-username/model-name' (letters, digits, - _ .)",
                                  repr(repo_id), "set hub_username, or pass repo_id='you/bert-course-emotion'"))


def push(folder: str | Path, repo_id: str, token: HubToken, method: str, *, model: Any = None, tokenizer: Any = None,
         card: Any = None, private: bool = True, api: Any = None) -> str:
    """Upload for real and return the repository URL; any error message comes back with the token masked.

    Notebook 13 writes these calls itself (its push exercise); this is the same upload for scripts and tests.

    ``method="upload_folder"``: one ``HfApi.upload_folder`` call with the dry-run folder (Kaggle's way).
    ``method="push_to_hub"``: ``model.push_to_hub``, ``tokenizer.push_to_hub`` and ``card.push_to_hub``.
    """
    check_repo_id(repo_id)
    if not token.found:
        raise CourseError(problem("Hub token", "a token with write access", str(token),
                                  "set HF_TOKEN, add a Colab/Kaggle secret named HF_TOKEN, or run notebook_login()"))
    try:
        if method == "upload_folder":
            from huggingface_hub import HfApi

            api = api or HfApi(token=token.value)
            api.create_repo(repo_id, private=private, exist_ok=True)
            api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message="Upload from bert-course")
        elif method == "push_to_hub":
            model.push_to_hub(repo_id, token=token.value, private=private)
            tokenizer.push_to_hub(repo_id, token=token.value)
            card.push_to_hub(repo_id, token=token.value)
        else:
            raise CourseError(problem("Upload method", "'push_to_hub' or 'upload_folder'", repr(method),
                                      "use the method plan_sharing chose"))
    except CourseError:
        raise
    except Exception as err:  # never let a token ride out on an exception message
        raise CourseError(problem(f"Upload to {repo_id}", "a successful upload",
                                  redact(f"{type(err).__name__}: {err}", (token.value,)),
                                  "check that the token has write access and the repository name is yours")) from None
    return f"https://huggingface.co/{repo_id}"
