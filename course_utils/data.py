"""Load a course dataset by name: from the Hub when it answers, else from local JSONL copies, same features.

Online and offline, the same small normalisation (:func:`normalise`) turns what was read into the course's schema,
so a notebook sees the same splits and columns either way. Files the course ships (tiny slices, contracts,
support tickets) live inside the package and are found with :func:`course_file`, also when the course is
pip-installed and a notebook is opened alone.
"""

from __future__ import annotations

import importlib.resources
import json
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

import datasets

from . import hub
from .errors import CourseError, problem, raise_if_any
from .profiles import Profile

PARQUET_REVISION = "refs/convert/parquet"  # the Hub's parquet conversion of a dataset repository


def course_file(name: str) -> Path:
    """The path of a file or folder the course ships inside the package (``course_utils/course_data/<name>``).

    >>> course_file("contracts.jsonl").name
    'contracts.jsonl'
    """
    path = Path(str(importlib.resources.files("course_utils") / "course_data" / name))
    if not path.exists():
        raise CourseError(problem(
            f"Course file {name!r}", "a file shipped inside the course package (course_utils/course_data)",
            f"nothing at {path}",
            "reinstall the course (the notebook's install cell, or `pip install --force-reinstall` of the course) "
            "so its data files come with it",
        ))
    return path


TINY_DATA_DIR = Path(str(importlib.resources.files("course_utils") / "course_data" / "tiny"))


@dataclass(frozen=True)
class DatasetSpec:
    """Where one dataset lives on the Hub and in a local copy, and how the Hub's form maps to the course's."""

    hub_id: str  # the id students see and `datasets.load_dataset` takes
    folder: str  # folder name under COURSE_DATA_DIR and the tiny slices
    config: str | None = None  # Hub configuration name, if the dataset has several
    revision: str = "main"  # Hub revision; pin a commit hash here to freeze the data
    splits: tuple[str, ...] = ()  # the splits the course uses; others (unlabelled ones) are dropped. (): all
    rename: tuple[tuple[str, str], ...] = ()  # (Hub column, course column) pairs, applied when the Hub column exists
    data_dir: str | None = None  # sub-folder of the repository to read (the parquet conversion keeps one per config)
    columns: tuple[str, ...] = ()  # the columns the course reads, checked (and kept alone) after normalising

    def load_call(self) -> str:
        """The plain ``datasets.load_dataset(...)`` call that reads this dataset from the Hub, as code."""
        args = [repr(self.hub_id)] + ([repr(self.config)] if self.config else [])
        if self.revision != "main":
            args.append(f"revision={self.revision!r}")
        if self.data_dir:
            args.append(f"data_dir={self.data_dir!r}")
        return f"datasets.load_dataset({', '.join(args)})"


# What the Hub serves for each id is recorded in course_data/hub_datasets.json (splits, columns, features).
DATASETS: dict[str, DatasetSpec] = {
    "imdb": DatasetSpec("stanfordnlp/imdb", "imdb", splits=("train", "test")),  # drops 'unsupervised' (label -1)
    "ag_news": DatasetSpec("fancyzhx/ag_news", "ag_news", splits=("train", "test")),
    "sst2": DatasetSpec("stanfordnlp/sst2", "sst2", splits=("train", "validation")),  # test labels are -1
    "emotion": DatasetSpec("dair-ai/emotion", "emotion", splits=("train", "validation", "test")),
    "stsb": DatasetSpec("nyu-mll/glue", "stsb", config="stsb", splits=("train", "validation")),  # test: -1
    "squad": DatasetSpec("rajpurkar/squad", "squad", splits=("train", "validation")),
    "squad_v2": DatasetSpec("rajpurkar/squad_v2", "squad_v2", splits=("train", "validation")),
    # loading-script repositories: datasets >= 4 refuses scripts, so read the Hub's parquet conversion
    "conll2003": DatasetSpec("eriktks/conll2003", "conll2003", revision=PARQUET_REVISION, data_dir="conll2003",
                             splits=("train", "validation", "test")),
    "wnut_17": DatasetSpec("leondz/wnut_17", "wnut_17", revision=PARQUET_REVISION, data_dir="wnut_17",
                           splits=("train", "validation", "test")),
    "wikiann": DatasetSpec("unimelb-nlp/wikiann", "wikiann", config="en", splits=("train", "validation", "test")),
    # one CSV on the Hub with its own column names; the course's columns are id, category, article, summary
    "bbc_news_summary": DatasetSpec("gopalkalpande/bbc-news-summary", "bbc_news_summary", splits=("train",),
                                    rename=(("Articles", "article"), ("Summaries", "summary")),
                                    columns=("id", "category", "article", "summary")),
    "aeslc": DatasetSpec("Yale-LILY/aeslc", "aeslc", splits=("train", "validation", "test")),
    "dialogsum": DatasetSpec("knkarthick/dialogsum", "dialogsum", splits=("train", "validation", "test")),
}


def hub_manifest() -> dict:
    """What the Hub serves for each course dataset (splits and sizes, columns, features), as recorded data."""
    return json.loads(course_file("hub_datasets.json").read_text())


def spec_for(name: str) -> DatasetSpec:
    """Look a dataset up by its short name or its Hub id."""
    for short, spec in DATASETS.items():
        if name in (short, spec.hub_id):
            return spec
    raise CourseError(problem(
        f"Dataset {name!r}", f"one of the course datasets {sorted(DATASETS)} (or their Hub ids)", repr(name),
        "check the spelling, or load another Hub dataset yourself with datasets.load_dataset",
    ))


def data_dir() -> Path | None:
    """The folder of full local copies (``COURSE_DATA_DIR``), or None when it is not set."""
    value = os.environ.get("COURSE_DATA_DIR")
    return Path(value).expanduser() if value else None


def load_local(folder: Path) -> datasets.DatasetDict:
    """Read ``<split>.jsonl`` files and ``features.json`` into a DatasetDict with the Hub's features.

    A folder that is not laid out that way (no or unreadable features.json, a line that is not JSON, a row whose
    columns differ from features.json) gives a CourseError that names the file and the line.
    """
    features = _read_features(folder)
    files = {p.stem: str(p) for p in sorted(folder.glob("*.jsonl"))}
    if not files:
        raise CourseError(problem(
            f"Local dataset folder {folder}", "one <split>.jsonl file per split next to features.json",
            "no .jsonl file", "copy the split files (train.jsonl, test.jsonl, ...) into that folder",
        ))
    try:
        return datasets.load_dataset("json", data_files=files, features=features)
    except datasets.exceptions.DatasetGenerationError as err:
        # datasets only says "An error occurred while generating the dataset": find the line at fault ourselves
        raise CourseError(_first_bad_line(files.values(), features) or problem(
            f"Local dataset folder {folder}", "<split>.jsonl files that match features.json",
            f"{type(err.__cause__ or err).__name__}: {str(err.__cause__ or err)[:200]}",
            "copy the folder again from the course's data (shared/data)",
        )) from None


def _read_features(folder: Path) -> datasets.Features:
    """The features.json of a local dataset folder, or a CourseError saying what is wrong with it."""
    features_file = folder / "features.json"
    if not features_file.exists():
        raise CourseError(problem(
            f"Local dataset folder {folder}", "<split>.jsonl files and a features.json", "no features.json",
            "point COURSE_DATA_DIR at a folder laid out like shared/data (one folder per dataset)",
        ))
    fix = ("copy features.json again from the course's data (shared/data), or write it from a loaded split: "
           "json.dump(ds.features.to_dict(), open('features.json', 'w'))")
    try:
        return datasets.Features.from_dict(json.loads(features_file.read_text()))
    except json.JSONDecodeError as err:
        raise CourseError(problem(f"{features_file}", "JSON (the dataset's columns and label names)",
                                  f"text that is not JSON (line {err.lineno}, column {err.colno}: {err.msg})",
                                  fix)) from None
    except (TypeError, ValueError, KeyError, AttributeError) as err:  # JSON, but not a description of features
        raise CourseError(problem(f"{features_file}", "a column name -> feature object, as ds.features.to_dict() "
                                  "writes it", f"{type(err).__name__}: {str(err)[:150]}", fix)) from None


def _first_bad_line(paths, features: datasets.Features) -> str | None:
    """The first line of the JSONL files that is not a JSON object with exactly the columns of ``features``."""
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                where = f"Line {number} of {path}"
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    return problem(where, "one JSON object per line (JSON Lines)",
                                   f"{line.strip()[:80]!r} ({err.msg})",
                                   "repair or delete that line; a file cut off mid-way is best copied again")
                if not isinstance(row, dict) or set(row) != set(features):
                    found = f"columns {sorted(row)}" if isinstance(row, dict) else f"a {type(row).__name__}"
                    return problem(where, f"a JSON object with the columns of features.json {sorted(features)}",
                                   found, "give every line the same columns as features.json (rename or add them)")
    return None


def load_dataset(name: str, profile: Profile) -> tuple[datasets.DatasetDict, str]:
    """Load a course dataset and say where it came from.

    tiny profile: the committed slices in data/tiny. Otherwise the Hub, or ``COURSE_DATA_DIR`` when the Hub
    cannot be reached. Returns ``(dataset_dict, source)`` where source is a short description.
    """
    spec = spec_for(name)
    if profile.tiny_data:
        if not (TINY_DATA_DIR / spec.folder).is_dir():
            raise CourseError(problem(
                f"Tiny slice of {spec.hub_id}", f"a folder data/tiny/{spec.folder}", "none (no tiny slice yet)",
                "cut one with tools/make_tiny_data.py, or run another profile with the Hub or COURSE_DATA_DIR",
            ))
        source = f"data/tiny/{spec.folder} (tiny slice committed with the course)"
        dsd = load_local(TINY_DATA_DIR / spec.folder)
    elif hub.is_online():
        source = f"Hugging Face Hub ({spec.hub_id}@{spec.revision})"
        print(f"Reading {spec.hub_id} from the Hub, as you would yourself: {spec.load_call()}")
        dsd = _load_from_hub(spec)
    else:
        local = data_dir()
        if local is None or not (local / spec.folder).is_dir():
            if local is None:
                missing = "COURSE_DATA_DIR is not set"
            elif not local.is_dir():
                missing = f"COURSE_DATA_DIR={str(local)!r}, a folder that does not exist"
            else:
                missing = f"no folder {local / spec.folder}"
            raise CourseError(problem(
                f"Dataset {spec.hub_id}", "the Hugging Face Hub or a local copy",
                f"no Hub ({hub.offline_reason()}) and {missing}",
                "connect to the internet, or set COURSE_DATA_DIR to a folder laid out like shared/data, "
                "or run the tiny profile (profile='tiny'), which needs neither",
            ))
        source = f"local copy {local / spec.folder} (Hub unreachable: {hub.offline_reason()})"
        dsd = load_local(local / spec.folder)
    dsd = normalise(dsd, spec)
    print(f"Dataset {spec.hub_id}: {source}; " + ", ".join(f"{s} {len(d):,}" for s, d in dsd.items()))
    return dsd, source


def _load_from_hub(spec: DatasetSpec) -> datasets.DatasetDict:
    """``datasets.load_dataset`` on the Hub; a network or Hub error becomes a CourseError that says what to do."""
    kwargs = {"revision": spec.revision} | ({"data_dir": spec.data_dir} if spec.data_dir else {})
    with hub.explain_errors(f"Loading dataset {spec.hub_id} from the Hub ({spec.load_call()})"):
        return datasets.load_dataset(spec.hub_id, spec.config, **kwargs)


def normalise(dsd: datasets.DatasetDict, spec: DatasetSpec) -> datasets.DatasetDict:
    """Bring a dataset read from the Hub or a local copy into the course's schema, the same way for both.

    Keeps the splits the course uses (dropping e.g. imdb's unlabelled ``unsupervised``), renames the Hub's columns
    to the course's, and for the BBC CSV derives ``category`` and ``id`` from its ``File_path`` column.
    """
    if spec.splits:
        dsd = datasets.DatasetDict({s: d for s, d in dsd.items() if s in spec.splits})
    renames = {old: new for old, new in spec.rename if old in next(iter(dsd.values())).column_names}
    if renames:
        dsd = dsd.rename_columns(renames)
    if spec.folder == "bbc_news_summary" and "File_path" in next(iter(dsd.values())).column_names:
        dsd = dsd.map(_bbc_ids, with_indices=True, remove_columns=["File_path"])
        dsd = dsd.cast_column("category", datasets.ClassLabel(names=BBC_CATEGORIES))
    missing = [c for c in spec.columns if c not in next(iter(dsd.values())).column_names]
    if missing:
        raise CourseError(problem(
            f"Dataset {spec.hub_id}", f"the columns {list(spec.columns)} after the course's renames {dict(spec.rename)}",
            f"columns {next(iter(dsd.values())).column_names}",
            "the Hub's copy changed shape: set COURSE_DATA_DIR to the course's local copy, and tell your instructor",
        ))
    return dsd.select_columns(list(spec.columns)) if spec.columns else dsd


BBC_CATEGORIES = ["business", "entertainment", "politics", "sport", "tech"]


def _bbc_ids(row: dict, index: int) -> dict:
    """``id`` and ``category`` of one row of the Hub's BBC CSV, from ``File_path`` (e.g. ``business/001.txt``)."""
    parts = str(row["File_path"]).replace("\\", "/").strip("/").split("/")
    category = next((p for p in parts if p in BBC_CATEGORIES), BBC_CATEGORIES[0])
    return {"id": f"{category}_{parts[-1].split('.')[0]}_{index}", "category": category}


def check_classification(ds: datasets.Dataset, text_column: str = "text", label_column: str = "label") -> None:
    """Check a classification split before training; raise one CourseError that lists every problem.

    Catches a missing text or label column, labels outside the label set, text labels where class ids belong and
    empty texts.
    """
    if not isinstance(ds, datasets.Dataset):
        raise CourseError(problem(
            "check_classification", "one split (a datasets.Dataset)", type(ds).__name__,
            "check each split: for name, split in dsd.items(): check_classification(split)"
            if isinstance(ds, datasets.DatasetDict) else "build a Dataset first: datasets.Dataset.from_pandas(df)",
        ))
    problems = []
    for column in (text_column, label_column):
        if column not in ds.column_names:
            problems.append(problem(
                f"Column {column!r}", f"a column named {column!r}", f"columns {ds.column_names}",
                f"rename your column (ds.rename_column(old, {column!r})) or pass {column!r} as the column name",
            ))
    if label_column in ds.column_names:
        problems += _label_problems(ds, label_column)
    if text_column in ds.column_names:
        empty = [i for i, t in enumerate(ds[text_column]) if not isinstance(t, str) or not t.strip()]
        if empty:
            problems.append(problem(
                f"Texts in {text_column!r}", "non-empty strings",
                f"{len(empty)} empty or missing text(s), rows {empty[:5]}",
                f"drop them: ds.filter(lambda ex: bool(ex[{text_column!r}] and ex[{text_column!r}].strip()))",
            ))
    raise_if_any(problems)


def _label_problems(ds: datasets.Dataset, label_column: str) -> list[str]:
    """Missing labels, and labels outside the ClassLabel's range, as problem lines."""
    labels = list(ds[label_column])
    missing = [i for i, y in enumerate(labels) if y is None]
    problems = []
    if missing:
        problems.append(problem(
            f"Labels in {label_column!r}", "a label in every row", f"{len(missing)} missing, rows {missing[:5]}",
            f"drop those rows: ds.filter(lambda ex: ex[{label_column!r}] is not None)",
        ))
    feature = ds.features[label_column]
    texts = sorted({y for y in labels if isinstance(y, str)})
    if texts:
        problems.append(problem(
            f"Labels in {label_column!r}", "integer class ids (0, 1, ...)", f"label names such as {texts[:3]}",
            f"turn them into ids: ds = ds.class_encode_column({label_column!r})",
        ))
    n_labels = getattr(feature, "num_classes", None)
    if n_labels is not None:
        bad = sorted({y for y in labels if y is not None and not 0 <= y < n_labels})
        if bad:
            problems.append(problem(
                f"Labels in {label_column!r}", f"integers 0..{n_labels - 1} ({feature.names})",
                f"{len(bad)} other value(s), e.g. {bad[:5]}",
                "map labels with the label2id dict, or drop the rows whose labels are unknown (-1 marks an "
                "unlabelled test split)",
            ))
    return problems


def balanced_sample(ds: datasets.Dataset, n: int | None, label_column: str = "label", seed: int = 0) -> datasets.Dataset:
    """A shuffled sample of ``n // number_of_labels`` rows per label, so ``n`` rows when ``n`` divides evenly
    (``n=None`` or ``n >= len(ds)``: all rows, shuffled)."""
    if label_column not in ds.column_names:
        raise CourseError(problem(f"Column {label_column!r}", f"a column named {label_column!r}",
                                  f"columns {ds.column_names}", "pass label_column='<your label column>'"))
    if n is not None and (not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1):
        raise CourseError(problem("Balanced sample size n", "None (all rows) or a whole number >= 1",
                                  f"{type(n).__name__} {n!r}", "pass a whole number without quotes, e.g. n=500 "
                                  "(a papermill parameter given as text needs int(...))"))
    if len(ds) == 0:
        raise CourseError(problem("Balanced sample", "a dataset with rows to sample from", "0 rows",
                                  "check the step before: a filter or select that kept nothing, or an empty split"))
    ds = ds.shuffle(seed=seed)
    if n is None or n >= len(ds):
        return ds
    labels = list(ds[label_column])
    classes = sorted(set(labels))
    per_class = n // len(classes)
    if per_class == 0:
        raise CourseError(problem(f"Balanced sample of {n}", f"at least one row per label ({len(classes)} labels)",
                                  f"n={n}", f"ask for n >= {len(classes)}"))
    picked: list[int] = []
    for c in classes:
        idx = [i for i, y in enumerate(labels) if y == c][:per_class]
        if len(idx) < per_class:
            raise CourseError(problem(
                f"Balanced sample of {n}", f"{per_class} rows of label {c}", f"only {len(idx)}",
                "ask for fewer rows, or sample without balancing (ds.shuffle(seed).select(range(n)))",
            ))
        picked += idx
    return ds.select(sorted(picked))
