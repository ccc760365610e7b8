"""Cut the small fixed slices in course_utils/course_data/tiny/ from the full offline datasets (run once; the slices are committed).

    COURSE_DATA_DIR=../shared/data python tools/make_tiny_data.py

Each slice keeps the dataset's own columns, label names and label order; classification slices are balanced.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# folder -> {split: examples}; classification folders are balanced by label
SLICES = {
    "imdb": {"train": 48, "test": 32},
    "ag_news": {"train": 40, "test": 24},
    "emotion": {"train": 36, "validation": 18, "test": 18},
    "sst2": {"train": 32, "validation": 16},
    "stsb": {"train": 40, "validation": 20},
    "squad": {"train": 40, "validation": 24},
    "squad_v2": {"validation": 24},
    "conll2003": {"train": 48, "validation": 24, "test": 24},
    "wnut_17": {"train": 32, "validation": 16, "test": 16},
    "bbc_news_summary": {"train": 40},
    "aeslc": {"train": 32, "validation": 12, "test": 12},
}


def read_jsonl(path: Path) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f]


def take(rows: list[dict], n: int, balanced_by: str | None, rng: random.Random) -> list[dict]:
    if balanced_by is None or not isinstance(rows[0].get(balanced_by), int):
        return rng.sample(rows, min(n, len(rows)))
    by_label: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_label[row[balanced_by]].append(row)
    per_label = n // len(by_label)
    picked = [r for label in sorted(by_label) for r in rng.sample(by_label[label], per_label)]
    rng.shuffle(picked)
    return picked


def main() -> None:
    source = Path(os.environ.get("COURSE_DATA_DIR", ROOT.parent / "shared" / "data"))
    for folder, splits in SLICES.items():
        out = ROOT / "course_utils" / "course_data" / "tiny" / folder
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / folder / "features.json", out / "features.json")
        features = json.loads((out / "features.json").read_text())
        label = "label" if features.get("label", {}).get("_type") == "ClassLabel" else None
        for split, n in splits.items():
            rng = random.Random(f"{folder}/{split}")
            rows = take(read_jsonl(source / folder / f"{split}.jsonl"), n, label, rng)
            with (out / f"{split}.jsonl").open("w") as f:
                f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        print(f"{folder}: " + ", ".join(f"{s} {n}" for s, n in splits.items()))


if __name__ == "__main__":
    main()
