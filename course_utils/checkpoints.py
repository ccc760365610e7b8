"""Checkpoints that survive a disconnect: where to keep them, which one is usable, and what to resume from.

A free Colab runtime disconnects and takes its disk with it. A notebook that trains for many minutes saves
checkpoints where they survive (Google Drive when mounted, /kaggle/working on Kaggle, else output_dir) and, when
run again, resumes from the last good one::

    args = transformers.TrainingArguments(output_dir=cu.checkpoints.checkpoint_dir("03_text_classification",
                                          output_dir, settings={"learning_rate": 3e-5}), save_strategy="steps", ...)
    trainer.train(resume_from_checkpoint=cu.checkpoints.resume_from(args.output_dir))

A re-run of a finished notebook resumes too, and its results.json comes out the same: from the final checkpoint
Trainer trains no step and restores the best model; where ``save_total_limit=1`` left only the best checkpoint,
Trainer replays the steps after it exactly as the first run took them. Seconds or minutes, not the whole run again.
One exception starts over: a finished run that ended mid-epoch (fractional epochs), which transformers would resume
one step too far. The ``settings`` folder name keeps a run with other settings from resuming a checkpoint that is
not its own. Nothing here deletes a file: an unusable checkpoint is reported and skipped, never removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, Mapping

from .errors import CourseError, problem, raise_if_any

DRIVE_ROOT = Path("/content/drive/MyDrive")  # exists only while Google Drive is mounted in Colab
KAGGLE_ROOT = Path("/kaggle/working")  # Kaggle keeps this folder with the notebook's saved version
STATE_FILE = "trainer_state.json"  # Trainer writes it last, so a checkpoint without it was cut short
# One of these holds the weights (a sharded model has an index file and its shards).
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json", "adapter_model.safetensors")
TORCH_FILES = ("optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state.pth", "pytorch_model.bin")  # zip archives


def settings_key(settings: Mapping[str, Any]) -> str:
    """A short, stable name for a set of training settings (same settings, same key).

    >>> settings_key({"lr": 3e-5, "epochs": 2}) == settings_key({"epochs": 2, "lr": 3e-5})
    True
    >>> len(settings_key({"lr": 3e-5}))
    8
    """
    text = json.dumps(dict(settings), sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def _on_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def checkpoint_dir(name: str, output_dir: str | os.PathLike, settings: Mapping[str, Any] | None = None, *,
                   drive_root: str | os.PathLike = DRIVE_ROOT, kaggle_root: str | os.PathLike = KAGGLE_ROOT) -> Path:
    """The folder for ``name``'s checkpoints, in the place that survives a disconnect; prints where and why.

    Google Drive (``drive_root``) when it is mounted, ``kaggle_root`` on Kaggle, else ``output_dir``. With
    ``settings`` (the knobs that shape training: model, data sizes, learning rate, epochs, ...) the folder is named
    for them (``checkpoints-<key>``), so a run with other settings starts afresh instead of resuming a checkpoint
    that is not its own; ``course_settings.json`` in the folder records them. The roots are arguments for tests.
    """
    if not isinstance(name, str) or not re.fullmatch(r"[\w.-]+", name):
        raise CourseError(problem("Checkpoint name", "a folder name of letters, digits, '.', '_' or '-'",
                                  repr(name), 'pass the notebook\'s name, e.g. "03_text_classification"'))
    if Path(drive_root).is_dir():
        base, where = Path(drive_root) / "bert-course" / name, "Google Drive: they survive a disconnect"
    elif Path(kaggle_root).is_dir():
        base, where = Path(kaggle_root) / "bert-course" / name, "/kaggle/working: Kaggle keeps it"
    else:
        base, where = Path(output_dir), "in output_dir"
        if _on_colab():
            where += (", which a Colab disconnect erases: mount Google Drive (from google.colab import drive; "
                      "drive.mount('/content/drive')) and run this cell again to keep them")
    folder = base / ("checkpoints" if settings is None else f"checkpoints-{settings_key(settings)}")
    if settings is not None:
        folder.mkdir(parents=True, exist_ok=True)
        record = folder / "course_settings.json"
        if not record.exists():
            record.write_text(json.dumps(dict(settings), indent=2, sort_keys=True, default=str) + "\n")
    print(f"Checkpoints go to {folder} ({where}).")
    return folder


def _safetensors_problem(path: Path) -> str | None:
    """Why a .safetensors file is incomplete (it holds fewer bytes than its header promises), or None."""
    size = path.stat().st_size
    try:
        with path.open("rb") as f:
            header_size = struct.unpack("<Q", f.read(8))[0]
            if header_size > size:
                return f"{path.name} is cut short ({size} bytes)"
            header = json.loads(f.read(header_size))
        promised = 8 + header_size + max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"),
                                         default=0)
    except (struct.error, ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
        return f"{path.name} has no readable header"
    return None if size == promised else f"{path.name} holds {size} bytes, its header promises {promised}"


def check_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint's ``trainer_state.json`` as a dict; a CourseError listing every problem if it is unusable.

    Usable means: the trainer state reads, the weights are there and complete, and the optimizer, scheduler and
    random-state archives Trainer wrote are whole (a kill during a save leaves them cut short).
    """
    path = Path(path)
    problems: list[str] = []
    state: dict = {}
    fix = f"nothing to do: an earlier checkpoint is used, or training starts over (the folder {path} is left alone)"
    try:
        state = json.loads((path / STATE_FILE).read_text())
        int(state["global_step"])
    except FileNotFoundError:
        problems.append(problem(f"Checkpoint {path.name}", f"a {STATE_FILE} (Trainer writes it last)",
                                "none: the save was cut short", fix))
    except (ValueError, KeyError, TypeError):
        problems.append(problem(f"Checkpoint {path.name}", f"a {STATE_FILE} with a global_step",
                                "a file that does not read as one", fix))
    weights = [path / f for f in WEIGHT_FILES if (path / f).is_file()]
    if not weights:
        problems.append(problem(f"Checkpoint {path.name}", f"model weights (one of {', '.join(WEIGHT_FILES)})",
                                "none", fix))
    broken = [_safetensors_problem(p) for p in weights if p.suffix == ".safetensors"]
    broken += [f"{name} is not a whole archive" for name in TORCH_FILES
               if (path / name).is_file() and not zipfile.is_zipfile(path / name)]
    for shard_index in (p for p in weights if p.name.endswith(".index.json")):
        try:
            shards = set(json.loads(shard_index.read_text())["weight_map"].values())
            broken += [f"shard {s} is missing" for s in sorted(shards) if not (path / s).is_file()]
        except (ValueError, KeyError, AttributeError):
            broken.append(f"{shard_index.name} does not read as a shard index")
    broken = [b for b in broken if b]
    if broken:
        problems.append(problem(f"Checkpoint {path.name}", "complete files", "; ".join(broken), fix))
    raise_if_any(problems)
    return state


def _step(path: Path) -> int:
    return int(path.name.rsplit("-", 1)[1])


def last_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The newest usable ``checkpoint-N`` in ``folder``, or None; says why it skipped any unusable newer one."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise CourseError(problem("Checkpoint folder", "a folder (or nothing yet)", f"a file at {folder}",
                                  "pass the TrainingArguments output_dir, e.g. args.output_dir"))
    if not folder.is_dir():
        return None
    newest = get_last_checkpoint(str(folder))
    pattern = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-\d+$")
    others = sorted((p for p in folder.iterdir() if p.is_dir() and pattern.match(p.name)), key=_step, reverse=True)
    for candidate in ([Path(newest)] if newest else []) + [p for p in others if str(p) != newest]:
        try:
            check_checkpoint(candidate)
            return candidate
        except CourseError as err:
            print(f"Skipping {candidate.name}, it is unusable: {err}")
    return None


def resume_from(folder: str | os.PathLike) -> str | None:
    """What to pass to ``trainer.train(resume_from_checkpoint=...)``: the last usable checkpoint, or None.

    Prints "Resuming from checkpoint-N (saved ...)" or "No checkpoint yet: training from the start".
    """
    checkpoint = last_checkpoint(folder)
    if checkpoint is None:
        unusable = Path(folder).is_dir() and any(Path(folder).glob("checkpoint-*"))
        print("No usable checkpoint (those above are left as they are): training from the start." if unusable else
              "No checkpoint yet: training from the start.")
        return None
    state = json.loads((checkpoint / STATE_FILE).read_text())
    saved = time.strftime("%Y-%m-%d %H:%M", time.localtime((checkpoint / STATE_FILE).stat().st_mtime))
    step, planned = int(state["global_step"]), int(state.get("max_steps") or 0)
    epoch = float(state.get("epoch") or 0)
    if planned and step >= planned and abs(epoch - round(epoch)) > 1e-6:
        # transformers resumes a run that ended mid-epoch one step too far (the epoch loop restarts), which
        # would change the results: train again from the start instead.
        print(f"{checkpoint.name} is the end of a finished run that stopped mid-epoch (epoch {epoch:g}); resuming "
              "there would train one step more than that run did, so training starts from the beginning again.")
        return None
    if planned and step >= planned:
        then = "that run had finished, so no step is trained again."
    else:
        then = f"weights, optimizer, scheduler and random state come back, and training goes on at step {step + 1}."
    print(f"Resuming from {checkpoint.name} (saved {saved}, step {step} of {planned or '?'}): {then}")
    return str(checkpoint)
