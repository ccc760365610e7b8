"""Benchmark the course on this machine (``make bench``): a measurement, not a test; nothing here passes or fails.

    .venv/bin/python tools/bench.py [--quick] [--out build/bench]

Writes build/bench/report.md, report.json and PNG plots: the machine, the naive and the course training recipe on
IMDb side by side (throughput, fraction of the fp32 peak, time to accuracy), fp32 against dynamic int8 inference,
CPU levers (threads, OMP_WAIT_POLICY, torch.compile), every notebook's measured time and the T4 estimates.
The full run took 12.4 minutes on a quiet 2-core machine (its deadline keeps it under 20); --quick is a 1-2 minute
smoke run of every piece.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
NAIVE_MAX_LENGTH, NAIVE_BATCH = 512, 8  # the seed documents' recipe: pad everything to 512 tokens, batch 8
LEARNING_RATE, WARMUP_STEPS = 1e-4, 10  # the cpu profile's rate, for both recipes; constant after the warm-up
TARGET_ACCURACY = 0.80


@dataclass
class Config:
    """How big each measurement is; ``full()`` and ``quick()`` are the two sizes make bench runs."""

    mode: str  # "full" or "quick", recorded in the report
    profile: str = "cpu"  # model and data: "cpu" (all-MiniLM-L6-v2, IMDb) or "tiny" (tests: random 2-layer BERT)
    train_pool: int = 2000  # training reviews the recipes draw from (more than either can read in its budget)
    val_n: int = 200  # validation reviews for the accuracy curve
    test_n: int = 192  # held-out reviews for fp32 / int8 inference
    budget_s: float = 150.0  # training seconds (evaluation excluded) the course recipe gets
    naive_budget_s: float = 450.0  # the naive recipe's: 150 s is 20-30 of its steps, too few to leave chance
    eval_points: tuple = (0.0625, 0.125, 0.25, 0.5, 1.0)  # when to evaluate the course recipe (fractions of its budget)
    naive_eval_points: tuple = (0.25, 0.5, 0.75, 1.0)  # the naive recipe's (at 512 tokens an evaluation costs more)
    probe_n: int = 2048  # side of the square fp32 matrices of the matmul probe
    lever_steps: int = 2  # timed training steps per CPU-lever setting (after one warm-up step)
    lever_timeout_s: int = 240  # one lever subprocess (torch.compile compiles in it)
    deadline_s: float = 1140.0  # the levers give way (shorter timeouts, then skipped) so the run ends by then
    compile: bool = True  # try torch.compile among the levers
    out: Path = field(default_factory=lambda: BUILD / "bench")  # where the report goes
    records: Path = BUILD  # where make run and the tests left their timing records (the course section)

    @classmethod
    def full(cls, **changes) -> "Config":
        return cls(mode="full", **changes)

    @classmethod
    def quick(cls, **changes) -> "Config":
        return cls(**{"mode": "quick", "train_pool": 96, "val_n": 32, "test_n": 32, "budget_s": 12.0,
                      "naive_budget_s": 12.0,
                      "eval_points": (0.5, 1.0), "naive_eval_points": (1.0,), "probe_n": 1024, "lever_steps": 1,
                      "lever_timeout_s": 120, "deadline_s": 150.0, "compile": False, **changes})


# ---------------------------------------------------------------------------------------------- the machine
def machine_info() -> dict:
    """CPU model, cores, torch threads, library versions and the load when the run starts."""
    import datasets
    import torch
    import transformers
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or cpu
    return {"cpu_model": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "datasets": datasets.__version__,
            "platform": platform.platform(), "load_average_start": list(os.getloadavg())}


def matmul_probe(n: int, repeats: int = 5) -> dict:
    """Best fp32 GFLOP/s of an n x n matmul: the ceiling the training FLOP rate is compared with."""
    import torch
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)  # warm-up: thread pool start, first allocation
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        torch.matmul(a, b)
        times.append(time.perf_counter() - started)
    work = 2 * n ** 3
    return {"n": n, "gflops_best": work / min(times) / 1e9, "gflops_median": work / statistics.median(times) / 1e9}


# ---------------------------------------------------------------------------------------------- data and model
def load_data(cfg: Config) -> dict:
    """Training pool, validation and test reviews (texts and labels) from the course's IMDb, offline."""
    import course_utils as cu
    P = cu.profiles.get_profile(cfg.profile)
    dataset, source = cu.data.load_dataset("imdb", P)
    pool = cu.data.balanced_sample(dataset["train"], min(cfg.train_pool, len(dataset["train"])), seed=0)
    held = cu.data.balanced_sample(dataset["test"], min(cfg.val_n + cfg.test_n, len(dataset["test"])), seed=0)
    test_n = max(2, len(held) * cfg.test_n // (cfg.val_n + cfg.test_n))  # the asked-for sizes, or their ratio
    split = held.train_test_split(test_size=test_n, stratify_by_column="label", seed=0)
    parts = {"train": pool, "val": split["train"], "test": split["test"]}
    data = {name: (list(ds["text"]), list(ds["label"])) for name, ds in parts.items()}
    data["source"] = source
    choice = cu.models.resolve_model(P.model_id, P)
    data["model_path"], data["model_id"] = choice.name_or_path, P.model_id
    data["course_max_length"], data["course_batch"] = P.max_length, P.batch_size
    return data


def model_shape(model) -> dict:
    """Parameters that do matmul work (all but the embedding tables), layers and hidden size, for FLOP counts."""
    total = sum(p.numel() for p in model.parameters())
    embeddings = sum(p.numel() for n, p in model.named_parameters() if "embeddings" in n)
    c = model.config
    return {"parameters": total, "matmul_parameters": total - embeddings, "layers": c.num_hidden_layers,
            "hidden": c.hidden_size}


def flops(shape: dict, lengths: list[int], padded_to: int | None, training: bool) -> float:
    """FLOPs of one batch: 2 x matmul parameters x tokens forward, plus attention's two s x s products per layer
    (4 x s^2 x hidden forward). Training triples the forward (backward is twice it). ``padded_to``: every sequence
    is that long (padding does the work too); None: count only each sequence's own tokens."""
    seqs = [padded_to or n for n in lengths]
    forward = sum(2 * shape["matmul_parameters"] * s + 4 * shape["layers"] * shape["hidden"] * s * s for s in seqs)
    return forward * (3 if training else 1)


# ---------------------------------------------------------------------------------------------- the recipes
class Recipe:
    """One training recipe: its encoding, its batches, its model and optimizer, and its clock."""

    def __init__(self, name: str, encoded: list[list[int]], labels: list[int], batch_size: int, group: bool,
                 pad_to: int | None, model_path: str, tokenizer, seed: int = 0):
        import torch
        import transformers
        self.name, self.encoded, self.labels, self.batch_size = name, encoded, labels, batch_size
        self.group, self.pad_to, self.tokenizer = group, pad_to, tokenizer
        self.collator = transformers.DataCollatorWithPadding(tokenizer)
        self.rng = random.Random(seed)
        transformers.set_seed(seed)  # both recipes start from the same classifier head
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            transformers.logging.set_verbosity_error()
            self.model = transformers.AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=2)
        self.shape = model_shape(self.model)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: min(1.0, (s + 1) / WARMUP_STEPS))
        self.batches: list[list[int]] = []
        self.train_s = self.step_s = self.optimizer_s = 0.0
        self.steps = self.samples = self.tokens = self.useful_tokens = 0
        self.flops = self.useful_flops = 0.0
        self.curve: list[dict] = []

    def next_batch(self) -> list[int]:
        """Indices of the next batch; a new shuffled epoch when one runs out (grouped by length if asked)."""
        if not self.batches:
            order = list(range(len(self.encoded)))
            self.rng.shuffle(order)
            if self.group:  # transformers' LengthGroupedSampler: sort within mega-batches of 50, keep randomness
                mega = self.batch_size * 50
                order = [i for k in range(0, len(order), mega)
                         for i in sorted(order[k:k + mega], key=lambda i: -len(self.encoded[i]))]
            self.batches = [order[k:k + self.batch_size] for k in range(0, len(order), self.batch_size)]
            if self.group:
                self.rng.shuffle(self.batches)
        return self.batches.pop()

    def step(self) -> None:
        """One timed training step; collation counts as training time (it is part of the recipe)."""
        started = time.perf_counter()
        idx = self.next_batch()
        features = [{"input_ids": self.encoded[i], "attention_mask": [1] * len(self.encoded[i])} for i in idx]
        batch = self.collator(features) if self.pad_to is None else \
            self.collator.tokenizer.pad(features, padding="max_length", max_length=self.pad_to, return_tensors="pt")
        import torch
        batch["labels"] = torch.tensor([self.labels[i] for i in idx])
        self.model.train()
        self.model(**batch).loss.backward()
        mid = time.perf_counter()
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad()
        ended = time.perf_counter()
        lengths = [len(self.encoded[i]) for i in idx]
        self.train_s += ended - started
        self.optimizer_s += ended - mid
        self.steps += 1
        self.samples += len(idx)
        self.tokens += batch["input_ids"].numel()
        self.useful_tokens += sum(lengths)
        self.flops += flops(self.shape, lengths, batch["input_ids"].shape[1], training=True)
        self.useful_flops += flops(self.shape, lengths, None, training=True)

    def summary(self, peak_gflops: float) -> dict:
        s = max(self.train_s, 1e-9)
        return {"recipe": self.name, "batch_size": self.batch_size, "length_grouping": self.group,
                "padding": f"max_length {self.pad_to}" if self.pad_to else "dynamic (DataCollatorWithPadding)",
                "train_seconds": self.train_s, "steps": self.steps, "samples": self.samples,
                "samples_per_s": self.samples / s, "tokens_per_s": self.tokens / s,
                "useful_tokens_per_s": self.useful_tokens / s,
                "pad_share": 1 - self.useful_tokens / max(self.tokens, 1),
                "gflops": self.flops / s / 1e9, "useful_gflops": self.useful_flops / s / 1e9,
                "peak_fraction": self.flops / s / 1e9 / peak_gflops,
                "useful_peak_fraction": self.useful_flops / s / 1e9 / peak_gflops,
                "optimizer_share": self.optimizer_s / s, "curve": self.curve,
                "final_accuracy": self.curve[-1]["accuracy"] if self.curve else None}


def evaluate(model, encoded: list[list[int]], labels: list[int], tokenizer, batch_size: int = 64) -> dict:
    """Accuracy and throughput, batches sorted by length with dynamic padding (the fast way to evaluate)."""
    import torch
    import transformers
    collator = transformers.DataCollatorWithPadding(tokenizer)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    correct, started = 0, time.perf_counter()
    model.eval()
    with torch.inference_mode():
        for k in range(0, len(order), batch_size):
            idx = order[k:k + batch_size]
            batch = collator([{"input_ids": encoded[i], "attention_mask": [1] * len(encoded[i])} for i in idx])
            predicted = model(**batch).logits.argmax(-1)
            correct += int((predicted == torch.tensor([labels[i] for i in idx])).sum())
    seconds = time.perf_counter() - started
    tokens = sum(len(x) for x in encoded)
    return {"accuracy": correct / max(len(encoded), 1), "seconds": seconds, "samples_per_s": len(encoded) / seconds,
            "tokens_per_s": tokens / seconds}


def encodings(data: dict, tokenizer) -> dict:
    """Each recipe's token ids for every split: naive = head truncation to 512, course = head+tail to 128."""
    import course_utils as cu
    naive_len = min(NAIVE_MAX_LENGTH, tokenizer.model_max_length)
    out = {}
    for split in ("train", "val", "test"):
        texts = data[split][0]
        out[("naive", split)] = tokenizer(texts, truncation=True, max_length=naive_len)["input_ids"]
        out[("course", split)] = cu.text.head_tail_encode(tokenizer, texts, data["course_max_length"])["input_ids"]
    return out


def train_side_by_side(cfg: Config, data: dict, tokenizer, enc: dict, peak_gflops: float, log=print) -> dict:
    """Both recipes trained in alternating steps (so a change in the machine's load hits both alike) until each
    has spent its budget training (``cfg.budget_s``, the naive one ``cfg.naive_budget_s``); each is evaluated on
    the validation set before its first step and at its eval points."""
    naive_len = min(NAIVE_MAX_LENGTH, tokenizer.model_max_length)
    labels = data["train"][1]
    recipes = [Recipe("naive", enc[("naive", "train")], labels, NAIVE_BATCH, False, naive_len, data["model_path"],
                      tokenizer),
               Recipe("course", enc[("course", "train")], labels, data["course_batch"], True, None,
                      data["model_path"], tokenizer)]
    budget = {"naive": cfg.naive_budget_s, "course": cfg.budget_s}
    points = {"naive": cfg.naive_eval_points, "course": cfg.eval_points}
    pending = {r.name: [p * budget[r.name] for p in points[r.name]] for r in recipes}

    def record(r: Recipe) -> None:
        result = evaluate(r.model, enc[(r.name, "val")], data["val"][1], tokenizer)
        r.curve.append({"train_seconds": r.train_s, "samples": r.samples, "accuracy": result["accuracy"]})
        log(f"  {r.name:<6} {r.train_s:6.0f} s trained, {r.samples:5d} reviews: validation accuracy "
            f"{result['accuracy']:.3f}")

    for r in recipes:  # the untrained start: the accuracy that needs no training at all
        record(r)
    while True:
        active = [r for r in recipes if r.train_s < budget[r.name]]
        if not active:
            break
        r = min(active, key=lambda r: r.train_s)
        r.step()
        if pending[r.name] and r.train_s >= pending[r.name][0] or r.train_s >= budget[r.name]:
            while pending[r.name] and r.train_s >= pending[r.name][0]:
                pending[r.name].pop(0)
            record(r)
    return {"recipes": {r.name: r.summary(peak_gflops) for r in recipes}, "models": {r.name: r.model for r in recipes},
            "shape": recipes[0].shape}


def time_to(curve: list[dict], accuracy: float) -> float | None:
    """Training seconds at the first evaluation that reached ``accuracy`` (None: never, within the budget)."""
    return next((p["train_seconds"] for p in curve if p["accuracy"] >= accuracy - 1e-9), None)


def learned(curve: list[dict], n: int) -> bool:
    """Whether the final accuracy beats the untrained start (the curve's first point) by more than two standard
    errors of an accuracy near 50% on ``n`` reviews: below that, "reaching it" says nothing about a recipe."""
    return len(curve) > 1 and curve[-1]["accuracy"] - curve[0]["accuracy"] > 2 * (0.25 / max(n, 1)) ** 0.5


def bars(recipes: dict, val_n: int) -> dict:
    """The issue's bars: course >= 3x naive samples/s, and the naive final accuracy in <= 1/3 of naive's time
    (measured only when the naive recipe learned something: see ``learned``)."""
    naive, course = recipes["naive"], recipes["course"]
    speedup = course["samples_per_s"] / naive["samples_per_s"]
    target = naive["final_accuracy"]
    naive_time = time_to(naive["curve"], target)
    course_time = time_to(course["curve"], target)
    naive_learned = learned(naive["curve"], val_n)
    return {"speedup_samples_per_s": speedup, "speedup_met": speedup >= 3,
            "naive_start_accuracy": naive["curve"][0]["accuracy"] if naive["curve"] else None,
            "naive_learned": naive_learned,
            "naive_final_accuracy": target, "naive_seconds_to_it": naive_time, "course_seconds_to_it": course_time,
            "time_ratio": course_time / naive_time if course_time is not None and naive_time else None,
            "time_met": bool(naive_learned and course_time is not None and naive_time
                             and course_time <= naive_time / 3),
            "seconds_to_80": {n: time_to(r["curve"], TARGET_ACCURACY) for n, r in recipes.items()}}


# ---------------------------------------------------------------------------------------------- inference
def inference(model, enc: list[list[int]], labels: list[int], tokenizer) -> dict:
    """The trained course model on held-out reviews in fp32 and with dynamic int8 nn.Linear layers."""
    import torch
    fp32 = evaluate(model, enc, labels, tokenizer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization says it is deprecated; it still works in this torch
        quantized = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
        int8 = evaluate(quantized, enc, labels, tokenizer)
    drop = (fp32["accuracy"] - int8["accuracy"]) * 100
    return {"fp32": fp32, "int8": int8, "speedup": int8["samples_per_s"] / fp32["samples_per_s"],
            "accuracy_drop_points": drop, "int8_kept": drop <= 1.0, "reviews": len(enc)}


# ---------------------------------------------------------------------------------------------- CPU levers
LEVERS = [("1 thread", {"threads": 1}, {}), ("2 threads", {"threads": 2}, {}),
          ("2 threads, OMP_WAIT_POLICY=PASSIVE", {"threads": 2}, {"OMP_WAIT_POLICY": "PASSIVE"}),
          ("2 threads, OMP_WAIT_POLICY=ACTIVE", {"threads": 2}, {"OMP_WAIT_POLICY": "ACTIVE"}),
          ("2 threads, torch.compile", {"threads": 2, "compile": True}, {}),
          ("2 threads, attention dropout 0 (the cpu profile's)", {"threads": 2, "attention_dropout": 0.0}, {})]


def lever_worker(spec: dict) -> dict:
    """In a subprocess: training steps and inference batches of the course's shape under one setting."""
    import torch
    import transformers
    torch.set_num_threads(spec["threads"])
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    # attention dropout above 0 keeps PyTorch's CPU attention off its fused kernel (see Profile.attention_dropout)
    dropout = {"attention_probs_dropout_prob": spec["attention_dropout"]} if "attention_dropout" in spec else {}
    model = transformers.AutoModelForSequenceClassification.from_pretrained(spec["model_path"], num_labels=2, **dropout)
    ids = torch.randint(1000, 20000, (spec["batch"], spec["length"]))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.randint(0, 2, (spec["batch"],))}
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    result = {"threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
              "attention_dropout": model.config.attention_probs_dropout_prob}
    if spec.get("compile"):
        model = torch.compile(model)

    def train_step():
        model.train()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    started = time.perf_counter()
    train_step()  # warm-up; with torch.compile this is where the compiling happens
    result["first_step_s"] = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(spec["steps"]):
        train_step()
    result["train_samples_per_s"] = spec["steps"] * spec["batch"] / (time.perf_counter() - started)
    model.eval()
    with torch.inference_mode():
        model(input_ids=ids, attention_mask=batch["attention_mask"])
        started = time.perf_counter()
        for _ in range(spec["steps"]):
            model(input_ids=ids, attention_mask=batch["attention_mask"])
    result["infer_samples_per_s"] = spec["steps"] * spec["batch"] / (time.perf_counter() - started)
    return result


def cpu_levers(cfg: Config, data: dict, seconds_left=lambda: 1e9, log=print) -> list[dict]:
    """Each setting in a fresh process: OpenMP reads OMP_WAIT_POLICY once, when it starts."""
    rows = []
    for name, spec, env in LEVERS:
        timeout = int(min(cfg.lever_timeout_s, seconds_left() - 20))
        timeout = timeout if rows else max(timeout, 60)  # one setting always runs: --quick must smoke every piece
        if spec.get("compile") and not cfg.compile or timeout < 20:
            why = f"not measured in the {cfg.mode} run" if timeout >= 20 else "skipped: the run's time limit"
            rows.append({"setting": name, "status": why})
            continue
        spec = {**spec, "model_path": data["model_path"], "batch": data["course_batch"],
                "length": data["course_max_length"], "steps": cfg.lever_steps}
        started = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, __file__, "--lever-worker", json.dumps(spec)], capture_output=True,
                                  text=True, timeout=timeout, env={**os.environ, **env})
            lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
            row = {"setting": name, "status": "ok", **json.loads(lines[-1])} if done.returncode == 0 and lines else \
                {"setting": name, "status": f"failed: {' '.join(done.stderr.split()[-30:])[:300]}"}
        except subprocess.TimeoutExpired:
            row = {"setting": name, "status": f"timed out after {timeout} s"}
        row["process_seconds"] = time.perf_counter() - started
        log(f"  {name}: {row.get('train_samples_per_s', 0):.2f} train / {row.get('infer_samples_per_s', 0):.2f} "
            f"inference reviews/s ({row['status'][:60]})")
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------- the course
def course_times(build: Path = BUILD) -> dict:
    """Per notebook: median tiny-profile wall time of the test runs, and the cpu-profile time and headline metric
    of ``make run`` (build/results.json), where those records exist."""
    tiny: dict[str, list[float]] = {}
    sources = [p for p in (build / "test-runs" / "timings.jsonl", build / "test-core" / "papermill" / "timings.jsonl")
               if p.exists()]
    for path in sources:
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if not row.get("parameters"):  # the notebook's default parameters only; other runs differ in size
                tiny.setdefault(row["notebook"], []).append(float(row["wall_s"]))
    cpu = {}
    results = build / "results.json"
    if results.exists():
        try:
            cpu = {r["notebook"]: r for r in json.loads(results.read_text())}
        except ValueError:
            pass
    names = sorted(set(tiny) | set(cpu) | {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")})
    rows = []
    for name in names:
        r = cpu.get(name, {})
        metric = next(iter(r.get("metrics", {}).items()), None)
        rows.append({"notebook": name, "tiny_median_s": statistics.median(tiny[name]) if name in tiny else None,
                     "tiny_runs": len(tiny.get(name, [])),
                     "cpu_s": r.get("wall_s") if r.get("profile") == "cpu" and r.get("status") == "ok" else None,
                     "cpu_status": r.get("status", "not measured"),
                     "cpu_headline": f"{metric[0]} {metric[1]:.4g}" if metric and isinstance(metric[1], float)
                     else (f"{metric[0]} {metric[1]}" if metric else None)})
    shown = [p.relative_to(build.parent) if p.is_relative_to(build.parent) else p
             for p in sources + ([results] if results.exists() else [])]
    return {"sources": [str(p) for p in shown], "rows": rows}


def gpu_estimates() -> list[dict]:
    """The T4 estimate each notebook's header quotes from course_utils.budget (estimates, not measurements)."""
    import nbformat
    rows = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = nbformat.read(str(path), as_version=4).cells
        header = " ".join(" ".join(c.source for c in cells[:2] if c.cell_type == "markdown").split())
        runtime = re.search(r"\*\*Runtime\*\*(.*)", header)
        # "gpu (setting, may hold (parentheses)): about N min on a T4, at most X GB, ..." up to the sentence's end
        pattern = r"\bgpu\b(?: \(([^)]*(?:\([^)]*\)[^)]*)*)\))?:? (.*?)(?=\.(?:\s|$))"
        gpu = re.search(pattern, runtime.group(1)) if runtime else None
        minutes = re.search(r"about (\d+(?:\.\d+)?) min", gpu.group(2)) if gpu else None
        memory = re.search(r"at most (\d+(?:\.\d+)?) GB", gpu.group(2)) if gpu else None
        rows.append({"notebook": path.stem, "setting": gpu.group(1) if gpu and gpu.group(1) else "",
                     "t4_minutes": float(minutes.group(1)) if minutes else None,
                     "t4_gb": float(memory.group(1)) if memory else None,
                     "text": gpu.group(2).strip() if gpu else "no estimate in the header"})
    return rows


# ---------------------------------------------------------------------------------------------- the report
def limits_text(recipes: dict, shape: dict) -> str:
    """What keeps the course recipe below the probe's FLOP rate, from this run's own numbers."""
    c = recipes["course"]
    return (f"The course recipe runs at {c['peak_fraction']:.0%} of the matmul probe. What limits it: "
            f"(1) small matrices: the hidden size is {shape['hidden']} and a batch is {c['batch_size']} x <=128 "
            "tokens, so each GEMM is far smaller than the probe's and spends relatively more time on packing and "
            "threading; "
            f"(2) work that is not matmul and is bound by memory bandwidth (LayerNorm, GELU, softmax, dropout, "
            f"the embedding gather and its sparse-ish gradient), which the FLOP count leaves out; (3) the AdamW "
            f"step, {c['optimizer_share']:.0%} of the training time, touching every one of the "
            f"{shape['parameters'] / 1e6:.1f}M parameters several times per step; (4) Python and autograd overhead "
            f"per op; and (5) this machine's cores "
            f"are shared, so the load average (in the machine section) steals cycles from both the probe and "
            f"the training, though not always alike.")


def run_bench(cfg: Config, log=print) -> dict:
    """Run every measurement and return the report (also written to ``cfg.out``)."""
    import torch
    import transformers
    wall = time.perf_counter()
    report = {"mode": cfg.mode, "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
              "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    report["machine"] = machine_info()
    log(f"machine: {report['machine']['cpu_model']}, {report['machine']['cores']} cores, "
        f"load {report['machine']['load_average_start'][0]:.2f}")
    report["matmul_probe"] = matmul_probe(cfg.probe_n)
    peak = report["matmul_probe"]["gflops_best"]
    log(f"matmul probe: {peak:.1f} GFLOP/s fp32")
    data = load_data(cfg)
    tokenizer = transformers.AutoTokenizer.from_pretrained(data["model_path"])
    enc = encodings(data, tokenizer)
    report["data"] = {"source": data["source"], "model": data["model_id"], "model_path": data["model_path"],
                      "train_pool": len(data["train"][0]), "val": len(data["val"][0]), "test": len(data["test"][0])}
    log(f"training both recipes in alternating steps: course {cfg.budget_s:.0f} s, naive {cfg.naive_budget_s:.0f} s")
    trained = train_side_by_side(cfg, data, tokenizer, enc, peak, log)
    report["training"] = {"recipes": trained["recipes"], "model_shape": trained["shape"],
                          "learning_rate": LEARNING_RATE, "warmup_steps": WARMUP_STEPS,
                          "bars": bars(trained["recipes"], len(data["val"][0])),
                          "limits": limits_text(trained["recipes"], trained["shape"])}
    partial = cfg.out / "report.partial.json"  # what survives if a later section fails
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_text(json.dumps(report, indent=2, default=str))
    log("inference: fp32 against dynamic int8")
    report["inference"] = inference(trained["models"]["course"], enc[("course", "test")], data["test"][1], tokenizer)
    del trained
    log("CPU levers, one process each")
    report["levers"] = cpu_levers(cfg, data, lambda: cfg.deadline_s - (time.perf_counter() - wall), log)
    report["course"] = course_times(cfg.records)
    report["gpu_estimates"] = gpu_estimates()
    report["machine"]["load_average_end"] = list(os.getloadavg())
    report["wall_seconds"] = time.perf_counter() - wall
    report["torch_threads_after"] = torch.get_num_threads()
    write_report(report, cfg.out)
    partial.unlink(missing_ok=True)
    return report


def _f(value, spec=".3g", none="—") -> str:
    return none if value is None else format(value, spec)


def to_markdown(r: dict) -> str:
    m, t, b, inf = r["machine"], r["training"], r["training"]["bars"], r["inference"]
    lines = [f"# Benchmark ({r['mode']} run, {r['started_utc']} UTC, {r['wall_seconds'] / 60:.1f} min)", "",
             "## Machine", "",
             f"{m['cpu_model']}, {m['cores']} cores, torch {m['torch']} with {m['torch_threads']} threads, "
             f"transformers {m['transformers']}, datasets {m['datasets']}, Python {m['python']}. "
             f"Load average at the start {m['load_average_start'][0]:.2f} / {m['load_average_start'][1]:.2f} / "
             f"{m['load_average_start'][2]:.2f}, at the end {m['load_average_end'][0]:.2f} (1/5/15 min): "
             "a load above the core count means other work shared the CPU.", "",
             f"fp32 matmul probe ({r['matmul_probe']['n']}², same run): best {r['matmul_probe']['gflops_best']:.1f} "
             f"GFLOP/s, median {r['matmul_probe']['gflops_median']:.1f}.", "",
             "## Training recipes on IMDb", "",
             f"{r['data']['model']} from {r['data']['model_path']}; {r['data']['source']}. Both recipes train from "
             f"the same start in alternating steps (so a change in the machine's load hits both alike), the course "
             f"recipe for {r['config']['budget_s']:.0f} s of training and the naive one for "
             f"{r['config'].get('naive_budget_s', r['config']['budget_s']):.0f} s (evaluation excluded; the naive "
             f"recipe needs the longer budget to leave chance at all), AdamW at {t['learning_rate']:g} with "
             f"{t['warmup_steps']} warm-up steps, drawing from "
             f"{r['data']['train_pool']} training reviews; accuracy on {r['data']['val']} validation reviews.", "",
             "| recipe | padding | batch | grouping | samples/s | tokens/s (all) | useful tokens/s | pad share | "
             "GFLOP/s | of probe | useful of probe | optimizer share | final accuracy |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for x in t["recipes"].values():
        lines.append(f"| {x['recipe']} | {x['padding']} | {x['batch_size']} | {'yes' if x['length_grouping'] else 'no'}"
                     f" | {x['samples_per_s']:.2f} | {x['tokens_per_s']:.0f} | {x['useful_tokens_per_s']:.0f} | "
                     f"{x['pad_share']:.0%} | {x['gflops']:.1f} | {x['peak_fraction']:.1%} | "
                     f"{x['useful_peak_fraction']:.1%} | {x['optimizer_share']:.0%} | {_f(x['final_accuracy'])} |")
    s = t["model_shape"]
    lines += ["", f"FLOPs counted: 6 x {s['matmul_parameters'] / 1e6:.1f}M matmul parameters (all "
              f"{s['parameters'] / 1e6:.1f}M but the embedding tables, which are looked up, not multiplied) x tokens, "
              f"plus attention's two s x s products, 12 x layers x hidden x s² per sequence for training. "
              "'GFLOP/s' counts the padded tokens (work the machine did); 'useful' only the reviews' own tokens.", "",
              "Accuracy curve (training seconds → validation accuracy):", ""]
    for x in t["recipes"].values():
        lines.append(f"- {x['recipe']}: " + ", ".join(f"{p['train_seconds']:.0f} s → {p['accuracy']:.3f}"
                                                     for p in x["curve"]))
    to80 = b["seconds_to_80"]
    lines += ["", "**Bars**", "",
              f"- course / naive samples/s = {b['speedup_samples_per_s']:.2f}x (bar ≥ 3x): "
              f"{'met' if b['speedup_met'] else 'NOT met'}.",
              f"- naive's final accuracy {_f(b['naive_final_accuracy'])} (first reached at "
              f"{_f(b['naive_seconds_to_it'], '.0f')} s; untrained {_f(b.get('naive_start_accuracy'))}): "
              f"the course recipe reached it at {_f(b['course_seconds_to_it'], '.0f', 'never, within the budget')}"
              f"{' s' if b['course_seconds_to_it'] is not None else ''} (bar ≤ 1/3 of naive's time): "
              + ("met." if b["time_met"] else "NOT met." if b.get("naive_learned", True) else
                 "not measured: the naive recipe ended within two standard errors of its untrained accuracy, so "
                 "reaching its accuracy takes no training; rerun with a longer --naive-budget-s."),
              f"- time to {TARGET_ACCURACY:.0%} validation accuracy: " + ", ".join(
                  f"{n} {_f(v, '.0f', 'not reached')}{' s' if v is not None else ''}" for n, v in to80.items()) + ".",
              *([f"- both recipes are still near chance (best validation accuracy {best:.3f} on "
                 f"{r['data']['val']} reviews, after {t['recipes']['course']['steps']} and "
                 f"{t['recipes']['naive']['steps']} steps): on this machine the budget is too short for the accuracy "
                 "bar to mean anything; rerun when the machine is idle or with longer --budget-s and --naive-budget-s."]
                if (best := max(p["accuracy"] for x in t["recipes"].values() for p in x["curve"])) < 0.6 else []),
              "", t["limits"], "", "![accuracy against training time](training.png)", "",
              "## Inference: fp32 against dynamic int8", "",
              f"The course recipe's model on {inf['reviews']} held-out reviews (head+tail 128 tokens, batches of 64 "
              "sorted by length).", "",
              "| model | reviews/s | tokens/s | accuracy |", "|---|---|---|---|",
              f"| fp32 | {inf['fp32']['samples_per_s']:.1f} | {inf['fp32']['tokens_per_s']:.0f} | "
              f"{inf['fp32']['accuracy']:.3f} |",
              f"| int8 (quantize_dynamic, nn.Linear) | {inf['int8']['samples_per_s']:.1f} | "
              f"{inf['int8']['tokens_per_s']:.0f} | {inf['int8']['accuracy']:.3f} |", "",
              f"int8 is {inf['speedup']:.2f}x fp32's speed and "
              + (f"costs {inf['accuracy_drop_points']:.1f} accuracy points: " if inf["accuracy_drop_points"] > 0 else
                 f"scores {-inf['accuracy_drop_points']:.1f} accuracy points higher (noise on "
                 f"{inf['reviews']} reviews, not a gain to count on): ")
              + ("kept (drop ≤ 1 point)." if inf["int8_kept"] else "not kept (the drop exceeds 1 point)."), "",
              "## CPU levers", "",
              "The course recipe's step shape (random token ids) in a fresh process per setting.", "",
              "| setting | train reviews/s | inference reviews/s | first step (s) | status |", "|---|---|---|---|---|"]
    for x in r["levers"]:
        lines.append(f"| {x['setting']} | {_f(x.get('train_samples_per_s'))} | {_f(x.get('infer_samples_per_s'))} | "
                     f"{_f(x.get('first_step_s'))} | {x['status']} |")
    c = r["course"]
    lines += ["", "## The course's notebooks", "",
              "Tiny profile: median wall time of the test runs with default parameters; cpu profile: `make run`'s "
              f"record. Sources: {', '.join(c['sources']) or 'none'}.", "",
              "| notebook | tiny (s, median) | tiny runs | cpu (s) | cpu headline metric |", "|---|---|---|---|---|"]
    for x in c["rows"]:
        lines.append(f"| {x['notebook']} | {_f(x['tiny_median_s'], '.1f', 'not measured')} | {x['tiny_runs']} | "
                     f"{_f(x['cpu_s'], '.0f', 'not measured')} | {x['cpu_headline'] or '—'} |")
    lines += ["", "## GPU: T4 estimates (not measurements)", "",
              "What each notebook's header quotes from `course_utils.budget` (FLOPs at the T4's achieved rate).", "",
              "| notebook | gpu setting | T4 minutes (estimate) | GB (estimate) |", "|---|---|---|---|"]
    for x in r["gpu_estimates"]:
        lines.append(f"| {x['notebook']} | {x['setting'] or x['text'][:80]} | {_f(x['t4_minutes'], 'g')} | "
                     f"{_f(x['t4_gb'], 'g')} |")
    return "\n".join(lines) + "\n"


def plot(report: dict, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    for x in report["training"]["recipes"].values():
        ax.plot([p["train_seconds"] for p in x["curve"]], [p["accuracy"] for p in x["curve"]], marker="o",
                label=f"{x['recipe']} ({x['samples_per_s']:.2f} reviews/s)")
    ax.axhline(TARGET_ACCURACY, color="grey", linestyle="--", label=f"{TARGET_ACCURACY:.0%}")
    b = report["training"]["bars"]
    ax.set(xlabel="training seconds (evaluation excluded)", ylabel="validation accuracy",
           title=f"The course recipe reads {b['speedup_samples_per_s']:.1f}x the reviews per second")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "training.png", dpi=100)
    plt.close(fig)


def write_report(report: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "report.md").write_text(to_markdown(report))
    plot(report, out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 1-2 minute smoke run of every piece")
    parser.add_argument("--out", type=Path, default=BUILD / "bench")
    parser.add_argument("--budget-s", type=float, help="the course recipe's training seconds (default 150, quick 12)")
    parser.add_argument("--naive-budget-s", type=float, help="the naive recipe's (default 450, quick 12)")
    parser.add_argument("--lever-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lever_worker:
        print(json.dumps(lever_worker(json.loads(args.lever_worker))))
        return 0
    for key, value in {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                       "TOKENIZERS_PARALLELISM": "false"}.items():
        os.environ.setdefault(key, value)  # the bench measures this machine, not the network
    sys.path.insert(0, str(ROOT))
    changes = {"out": args.out} | ({"budget_s": args.budget_s} if args.budget_s else {}) \
        | ({"naive_budget_s": args.naive_budget_s} if args.naive_budget_s else {})
    cfg = Config.quick(**changes) if args.quick else Config.full(**changes)
    report = run_bench(cfg)
    print(f"wrote {cfg.out / 'report.md'} and report.json in {report['wall_seconds'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
