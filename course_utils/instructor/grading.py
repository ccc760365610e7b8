"""Grade executed course notebooks from what they show, without re-running them.

    python -m course_utils.instructor grade SUBMISSIONS_DIR [--out build/grades] [--rubrics DIR] [--reference DIR]

Every ``.ipynb`` under the folder (any file names, sub-folders included) is one submission. The grader works out
which course notebook it is from its metadata, checks that it ran top to bottom without errors, that the exercises
were written, that its deliverables (the results it wrote, with the metrics its rubric expects, and its plots) are
shown, that its metrics meet the rubric of its profile, and that it was not tampered with (locked cells, results
that contradict the notebook's own outputs, a Hugging Face token left in it). It writes ``gradebook.csv``,
``report.md`` and one feedback file per submission. Only the standard library here (no torch, no transformers): a
folder of 50 grades in a second or two.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CourseError, problem, raise_if_any
from ..results import METRICS_MARKER, RESULTS_HEADER, printed_metrics, printed_profiles, printed_results
from ..sharing import TOKEN_PATTERN
from . import REFERENCE_DIR
from .stamps import COURSE, locked_fingerprint, locked_sources
from .student import LOCKED_TAG, cell_source, cell_tags, stub_tasks

PROFILES = ("tiny", "cpu", "gpu")
RUBRIC_DIR = Path(__file__).resolve().parent / "rubrics"
NOTEBOOK_NAME = re.compile(r"\d\d_\w+")  # course notebooks are NN_topic
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")
ANALYSIS_TAG = "analysis"  # a Markdown cell the student writes: the project's analysis or write-up
PLACEHOLDER = re.compile(r"\[write here\b[^\]]*\]", re.I)  # what an analysis template asks the student to replace  # a dataset's Hub id, as results.json names it ("unimelb-nlp/wikiann (en)")

POINT_CHECKS = ("all_executed", "in_order", "no_errors", "exercises_done", "results_shown", "evaluation_shown",
                "plots", "analysis_written")
INTEGRITY_CHECKS = ("locked_unchanged", "metrics_consistent", "no_token")
DEFAULT_RUBRIC: dict[str, Any] = {
    "plots": 0,  # image outputs the executed notebook must show
    # must a locked cell print a `course-metrics:` line (cu.results.show_metrics)? "auto": when the reference does
    "metrics_line": "auto",
    "analysis": 0,  # Markdown cells tagged `analysis` the student must write (a template with [write here: ...])
    "analysis_min_words": 25,  # words of the student's own each of those cells needs (template lines not counted)
    "points": {"all_executed": 1, "in_order": 1, "no_errors": 1, "exercises_done": 3, "results_shown": 2,
               "evaluation_shown": 1, "plots": 1, "analysis_written": 2},
    # {name: {optional "min", "max"}}: metrics results.json must report, as numbers in the range a correct run gives
    # (the thresholds' metrics are expected too; with none expected, any non-empty metrics will do)
    "metrics": {},
    # [{"metric", "min" and/or "max" (numbers) and/or "above" (another metric it must beat), "profiles", "points",
    #   optional "datasets": Hub ids the bar is for, when a notebook's data differs online and offline}]
    "thresholds": [],
    "integrity_zeroes_score": True,  # a failed integrity check sets the score to 0 until an instructor reviews it
}
RUBRIC_KEYS = set(DEFAULT_RUBRIC) | {"notebook", "about"}


# ---------------------------------------------------------------- rubrics


def rubric_problems(rubric: dict[str, Any], where: str) -> list[str]:
    """Every mistake in a rubric file, so an instructor fixes them in one go."""
    found = [problem(f"{where}: key {k!r}", f"one of {sorted(RUBRIC_KEYS)}", repr(k), "remove or rename it")
             for k in rubric if k not in RUBRIC_KEYS]
    if rubric.get("metrics_line", "auto") not in (True, False, "auto"):
        found.append(problem(f"{where}: metrics_line", 'true, false or "auto"', repr(rubric["metrics_line"]),
                             "fix the value"))
    for key in ("plots", "analysis", "analysis_min_words"):
        if not isinstance(rubric.get(key, 0), int) or rubric.get(key, 0) < 0:
            found.append(problem(f"{where}: {key}", "a whole number >= 0", repr(rubric[key]), "fix the value"))
    for name, points in rubric.get("points", {}).items():
        if name not in POINT_CHECKS or not isinstance(points, (int, float)) or points < 0:
            found.append(problem(f"{where}: points[{name!r}]", f"a check in {list(POINT_CHECKS)} with points >= 0",
                                 repr(points), "fix the name or the number"))
    found += _metrics_problems(rubric.get("metrics", {}), where)
    for i, item in enumerate(rubric.get("thresholds", [])):
        bounds = [item.get(k) for k in ("min", "max") if k in item]
        if (not isinstance(item.get("metric"), str) or not (bounds or "above" in item)
                or not all(isinstance(b, (int, float)) for b in bounds)
                or not isinstance(item.get("above", ""), str)
                or not set(item.get("profiles", PROFILES)) <= set(PROFILES)
                or not isinstance(item.get("points", 1), (int, float))
                or not (isinstance(item.get("datasets", []), list)
                        and all(isinstance(d, str) and HUB_ID.fullmatch(d) for d in item.get("datasets", [])))):
            found.append(problem(f"{where}: thresholds[{i}]",
                                 f'{{"metric": name, "min" and/or "max": number (or "above": another metric), '
                                 f'"profiles": subset of {list(PROFILES)}, "points": number, optional "datasets": '
                                 f'[Hub ids such as "owner/name"]}}', json.dumps(item), "fix that entry"))
    return found


def _metrics_problems(metrics: Any, where: str) -> list[str]:
    expected = '{"name": {"min": number, "max": number}, ...} (both optional, min <= max)'
    if not isinstance(metrics, dict):
        return [problem(f"{where}: metrics", expected, json.dumps(metrics), "fix the value")]
    found = []
    for name, bounds in metrics.items():
        numbers = isinstance(bounds, dict) and set(bounds) <= {"min", "max"} and all(
            isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds.values())
        if not numbers or bounds.get("min", -math.inf) > bounds.get("max", math.inf):
            found.append(problem(f"{where}: metrics[{name!r}]", expected, json.dumps(bounds), "fix that entry"))
    return found


def rubric_path(notebook: str, rubric_dir: Path) -> Path | None:
    """The rubric file for ``notebook``: ``NN_name.json``, else the only ``NN_*.json`` (a notebook renamed later)."""
    exact = rubric_dir / f"{notebook}.json"
    if exact.exists():
        return exact
    same_number = sorted(rubric_dir.glob(f"{notebook[:2]}_*.json")) if notebook[:2].isdigit() else []
    return same_number[0] if len(same_number) == 1 else None


def load_rubric(notebook: str, rubric_dir: Path | None = None) -> dict[str, Any]:
    """The rubric for ``notebook``, over the defaults (a notebook without a rubric file gets the defaults)."""
    path = rubric_path(notebook, rubric_dir or RUBRIC_DIR)
    rubric = {**DEFAULT_RUBRIC, "points": dict(DEFAULT_RUBRIC["points"]), "source": "default rubric"}
    if path is None:
        return rubric
    try:
        given = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CourseError(problem(f"Rubric {path}", "valid JSON", str(error), "fix the file")) from error
    raise_if_any(rubric_problems(given, str(path)))
    rubric.update({k: v for k, v in given.items() if k != "points"}, source=f"rubric {path.name}")
    rubric["points"].update(given.get("points", {}))
    return rubric


# ---------------------------------------------------------------- what a submission shows


@dataclass
class Context:
    """Where rubrics and reference notebooks come from, with what was already read (one read per notebook)."""

    rubric_dir: Path | None = None  # None: the rubrics shipped in course_utils/instructor/rubrics
    reference_dir: Path | None = REFERENCE_DIR  # the reference notebooks, to compare locked cells with
    rubrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    references: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def rubric(self, notebook: str) -> dict[str, Any]:
        if notebook not in self.rubrics:
            self.rubrics[notebook] = load_rubric(notebook, self.rubric_dir)
        return self.rubrics[notebook]

    def reference(self, notebook: str) -> dict[str, Any] | None:
        """The reference notebook, or None when there is none (or it cannot be read)."""
        if notebook not in self.references:
            path = self.reference_dir / f"{notebook}.ipynb" if self.reference_dir else None
            try:
                self.references[notebook] = json.loads(path.read_text()) if path and path.exists() else None
            except (OSError, json.JSONDecodeError):
                self.references[notebook] = None
        return self.references[notebook]


@dataclass
class Check:
    """One line of a grade: what was checked, whether it passed (None: not applicable), points, evidence."""

    id: str
    label: str
    passed: bool | None
    evidence: str
    possible: float = 0.0
    integrity: bool = False

    @property
    def earned(self) -> float:
        return self.possible if self.passed else 0.0

    @property
    def mark(self) -> str:
        return {True: "pass", False: "FAIL", None: "n/a"}[self.passed]


@dataclass
class Graded:
    """The grade of one submission file (``problem`` set: a bad file, listed with its reason)."""

    file: str
    notebook: str | None = None
    identified_by: str = ""
    profile: str | None = None
    checks: list[Check] = field(default_factory=list)
    problem: str | None = None
    notes: list[str] = field(default_factory=list)
    zero_on_integrity: bool = True

    def failed(self) -> list[str]:
        """Ids of the checks that failed."""
        return [c.id for c in self.checks if c.passed is False]

    def check(self, check_id: str) -> Check:
        """The check with id ``check_id`` (e.g. "results_shown", "metric:accuracy")."""
        found = [c for c in self.checks if c.id == check_id]
        if not found:
            raise KeyError(f"{self.file} has no check {check_id!r}; it has {[c.id for c in self.checks]}")
        return found[0]

    @property
    def integrity_ok(self) -> bool:
        return not any(c.integrity and c.passed is False for c in self.checks)

    @property
    def possible(self) -> float:
        return sum(c.possible for c in self.checks if c.passed is not None)

    @property
    def score(self) -> float:
        if self.problem or (self.zero_on_integrity and not self.integrity_ok):
            return 0.0
        return sum(c.earned for c in self.checks)

    @property
    def status(self) -> str:
        if self.problem:
            return "invalid"
        if not self.integrity_ok:
            return "review"
        return "incomplete" if self.failed() else "complete"


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def code_cells(nb: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(1-based position among all cells, cell) for every code cell."""
    return [(i, c) for i, c in enumerate(nb.get("cells", []), start=1) if c.get("cell_type") == "code"]


def where(index: int, cell: dict[str, Any]) -> str:
    """How the evidence names a cell: its position and its first line."""
    first = next((line.strip() for line in cell_source(cell).splitlines() if line.strip()), "")
    return f"cell {index} (`{first[:60]}`)"


def stdout(cell: dict[str, Any]) -> str:
    """Everything a code cell printed (its stdout streams, joined)."""
    return "".join(_text(o.get("text")) for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name", "stdout") == "stdout")


def find_results(nb: dict[str, Any]) -> tuple[dict[str, Any] | None, int | None]:
    """The results JSON the deliverables cell printed (``Wrote .../results.json:`` then the JSON), and its cell.

    A locked cell's print wins over one from any other cell, so a results block pasted into a cell of one's own
    is never taken for the deliverable.
    """
    found = [(LOCKED_TAG in cell_tags(cell), index, results)
             for index, cell in code_cells(nb) for results in printed_results(stdout(cell))]
    if not found:
        return None, None
    _, index, results = max(found, key=lambda f: (f[0], f[1]))
    return results, index


def metric_lines(nb: dict[str, Any]) -> list[tuple[int, bool, dict[str, Any]]]:
    """Every ``course-metrics: {...}`` line printed: (cell position, cell is locked, metrics)."""
    return [(index, LOCKED_TAG in cell_tags(cell), metrics)
            for index, cell in code_cells(nb) for metrics in printed_metrics(stdout(cell))]


def announced_profiles(nb: dict[str, Any]) -> list[str]:
    """The profiles ``cu.profiles.get_profile`` announced (``Profile: cpu (...)``)."""
    return [name for _, cell in code_cells(nb) for name in printed_profiles(stdout(cell))]


def images(nb: dict[str, Any]) -> int:
    """How many images (plots) the outputs hold."""
    return sum(1 for _, cell in code_cells(nb) for o in cell.get("outputs", [])
               if any(t in o.get("data", {}) for t in IMAGE_TYPES))


# ---------------------------------------------------------------- the checks


def check_all_executed(nb: dict[str, Any]) -> Check:
    missing = [where(i, c) for i, c in code_cells(nb) if cell_source(c).strip() and c.get("execution_count") is None]
    evidence = (f"{len(missing)} code cell(s) never ran, first: {', '.join(missing[:3])}" if missing
                else f"all {len(code_cells(nb))} code cells ran")
    return Check("all_executed", "every code cell executed", not missing, evidence)


def check_in_order(nb: dict[str, Any]) -> Check:
    ran = [(i, c, c["execution_count"]) for i, c in code_cells(nb) if c.get("execution_count") is not None]
    backwards = [f"cell {pi} shows [{pn}] but {where(i, c)} below it shows [{n}]: cells were re-run out of order"
                 for (pi, _, pn), (i, c, n) in zip(ran, ran[1:]) if n <= pn]
    evidence = ("; ".join(backwards[:3]) if backwards
                else f"execution counts increase top to bottom ({', '.join(str(n) for *_, n in ran[:4])}...)")
    return Check("in_order", "run top to bottom, in order", not backwards, evidence)


def check_no_errors(nb: dict[str, Any]) -> Check:
    errors = [f"{where(i, c)}: {o.get('ename')}: {_text(o.get('evalue'))[:160]}" for i, c in code_cells(nb)
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    return Check("no_errors", "no error outputs", not errors, "; ".join(errors[:3]) or "no cell shows an error")


def check_exercises(nb: dict[str, Any]) -> Check:
    open_tasks = [f"{where(i, c)}: {task}" for i, c in code_cells(nb) for task in stub_tasks(cell_source(c))]
    total = len(nb.get("metadata", {}).get("course", {}).get("exercises", []))
    count = f" of {total}" if total else ""
    evidence = (f"{len(open_tasks)}{count} exercise stub(s) still raise NotImplementedError: " + "; ".join(open_tasks)
                if open_tasks else f"no exercise stub left{f' ({total} exercises written)' if total else ''}")
    return Check("exercises_done", "exercises written (no stub left)", not open_tasks, evidence)


def expected_metrics(rubric: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The metrics results.json must report, each with its range: the rubric's ``metrics``, and every metric its
    thresholds name (a bar needs a number to compare)."""
    named = {n: {} for item in rubric["thresholds"] for n in (item["metric"], item.get("above")) if n}
    return {**named, **rubric["metrics"]}


def _metric_problem(name: str, metrics: dict[str, Any], bounds: dict[str, float]) -> str | None:
    if name not in metrics:
        return f"no {name!r} in its metrics"
    value = metrics[name]
    if value is None:
        return f"{name} is null (NaN or infinite when it was written)"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{name} = {value!r} is not a number"
    low, high = bounds.get("min", -math.inf), bounds.get("max", math.inf)
    return None if low <= value <= high else f"{name} = {value:.4g} is outside [{low:g}, {high:g}]"


def check_results_shown(results: dict[str, Any] | None, cell: int | None, rubric: dict[str, Any]) -> Check:
    """The deliverables cell printed results.json, holding every metric the rubric expects as a number in range."""
    label = "results shown by the deliverables cell"
    if results is None:
        header = RESULTS_HEADER.format(path=".../results.json")
        return Check("results_shown", label, False, f"no output shows `{header}` followed by the results: run the "
                                                    "last cell")
    shown = f"cell {cell} shows results.json"
    missing = [k for k in ("notebook", "profile", "metrics") if k not in results]
    metrics = results.get("metrics")
    if missing or not isinstance(metrics, dict):
        return Check("results_shown", label, False, f"{shown} but it lacks {missing or ['a metrics object']}")
    expected = expected_metrics(rubric)
    problems = [p for name, bounds in expected.items() if (p := _metric_problem(name, metrics, bounds))]
    if problems or not metrics:
        return Check("results_shown", label, False, f"{shown} but {'; '.join(problems) or 'its metrics are empty'}")
    values = ", ".join(f"{n} = {metrics[n]:.4g}" for n in expected) if expected else f"metrics {sorted(metrics)}"
    return Check("results_shown", label, True, f"{shown} with {values}")


def requires_metrics_line(rubric: dict[str, Any], reference: dict[str, Any] | None) -> bool:
    """Whether the evaluation cell's ``course-metrics:`` line is required ("auto": when a reference locked cell
    calls ``show_metrics``)."""
    if rubric["metrics_line"] != "auto":
        return bool(rubric["metrics_line"])
    return reference is not None and any("show_metrics(" in s for s in locked_sources(reference))


def check_evaluation_shown(nb: dict[str, Any], required: bool) -> Check:
    if not required:
        return Check("evaluation_shown", "evaluation cell output shown", None, "not required for this notebook")
    locked = [i for i, is_locked, _ in metric_lines(nb) if is_locked]
    evidence = f"cell {locked[-1]} prints the evaluation" if locked else \
        f"no locked cell shows a `{METRICS_MARKER}` line: run the evaluation cell"
    return Check("evaluation_shown", "evaluation cell output shown", bool(locked), evidence)


def check_plots(nb: dict[str, Any], rubric: dict[str, Any]) -> Check:
    need, have = rubric["plots"], images(nb)
    if not need:
        return Check("plots", "plots shown", None, f"none required ({have} shown)")
    return Check("plots", f"at least {need} plot(s) shown", have >= need, f"{have} image output(s), {need} required")


def analysis_cells(nb: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(1-based position, cell) for every Markdown cell tagged ``analysis``."""
    return [(i, c) for i, c in enumerate(nb.get("cells", []), start=1)
            if c.get("cell_type") == "markdown" and ANALYSIS_TAG in cell_tags(c)]


def own_words(text: str, template: str) -> int:
    """Words in ``text`` on lines that are neither a heading nor a line of ``template``: what the student wrote.

    >>> own_words("## Impact\\n**Impact.** It routes billing tickets.", "## Impact\\n**Impact.** [write here: ...]")
    5
    """
    given = {line.strip() for line in template.splitlines() if line.strip()}
    return sum(len(re.findall(r"[^\W\d_]{2,}|\d[\d.,%]*", PLACEHOLDER.sub(" ", line))) for line in text.splitlines()
               if line.strip() and line.strip() not in given and not line.lstrip().startswith("#"))


def _templates(reference: dict[str, Any] | None) -> tuple[dict[str, str], list[str]]:
    cells = analysis_cells(reference) if reference else []
    return {c.get("id"): cell_source(c) for _, c in cells if c.get("id")}, [cell_source(c) for _, c in cells]


def check_analysis(nb: dict[str, Any], rubric: dict[str, Any], reference: dict[str, Any] | None) -> Check:
    """The analysis cells are there and written: no ``[write here: ...]`` left, enough words of the student's own."""
    need, min_words = rubric["analysis"], rubric["analysis_min_words"]
    label = f"analysis written ({need} cell{'s' if need != 1 else ''})"
    if not need:
        return Check("analysis_written", "analysis written", None, "none required")
    by_id, in_order = _templates(reference)
    cells = analysis_cells(nb)
    problems = []
    for n, (i, cell) in enumerate(cells):
        text = cell_source(cell)
        template = by_id.get(cell.get("id")) or (in_order[n] if n < len(in_order) else "")
        words = own_words(text, template)
        if PLACEHOLDER.search(text):
            problems.append(f"{where(i, cell)} still holds the template: replace every `[write here: ...]`")
        elif words < min_words:
            problems.append(f"{where(i, cell)} has {words} word(s) of your own, {min_words} needed")
    written = len(cells) - len(problems)
    if len(cells) < need:
        problems.append(f"{len(cells)} Markdown cell(s) tagged `{ANALYSIS_TAG}`, {need} expected: restore the "
                        "analysis cell from the notebook you were given")
    evidence = "; ".join(problems) or f"{written} analysis cell(s) written ({min_words}+ words of your own each)"
    return Check("analysis_written", label, written >= need and not problems, evidence)


def _threshold(name: str, items: list[dict[str, Any]], results: dict[str, Any] | None, profile: str) -> Check:
    bounds = [f"{'≥' if k == 'min' else '≤'} {i[k]}" for i in items for k in ("min", "max") if k in i]
    bounds += [f"> {i['above']}" for i in items if "above" in i]
    data = sorted({d for i in items for d in i.get("datasets", [])})
    label = f"{name} {' and '.join(bounds)} ({profile} profile{', ' + ', '.join(data) if data else ''})"
    points = sum(i.get("points", 1) for i in items)
    metrics = (results or {}).get("metrics", {})
    value = metrics.get(name)
    if not isinstance(value, (int, float)):
        evidence = "no results shown" if results is None else f"results have no number for {name!r}"
        return Check(f"metric:{name}", label, False, evidence, points)
    baselines = {i["above"]: metrics.get(i["above"]) for i in items if "above" in i}
    ok = all(i.get("min", -math.inf) <= value <= i.get("max", math.inf) for i in items)
    ok = ok and all(isinstance(b, (int, float)) and value > b for b in baselines.values())
    shown = [f"{name} = {value:.4g}"] + [f"{k} = {b if b is None else f'{b:.4g}'}" for k, b in baselines.items()]
    return Check(f"metric:{name}", label, ok, ", ".join(shown), points)


def _for_dataset(item: dict[str, Any], results: dict[str, Any] | None) -> bool:
    """True when a threshold applies to the data the run used: it names no ``datasets``, or one the results name.

    Without results the data is unknown, so every bar applies (and fails: nothing was shown).
    """
    if "datasets" not in item or results is None:
        return True
    return bool(set(item["datasets"]) & set(HUB_ID.findall(str(results.get("dataset", "")))))


def check_thresholds(results: dict[str, Any] | None, profile: str | None, rubric: dict[str, Any]) -> list[Check]:
    """One check per metric the rubric names: its bar in this profile (and for this run's dataset, where the
    rubric names datasets), or n/a when there is none."""
    checks = []
    for name in dict.fromkeys(item["metric"] for item in rubric["thresholds"]):
        items = [i for i in rubric["thresholds"] if i["metric"] == name and profile in i.get("profiles", PROFILES)
                 and _for_dataset(i, results)]
        by_data = any("datasets" in i for i in rubric["thresholds"] if i["metric"] == name)
        checks.append(_threshold(name, items, results, profile) if items else
                      Check(f"metric:{name}", f"{name} meets its bar", None,
                            f"no bar in the {profile} profile" + (" for this run's dataset" if by_data else "")))
    return checks


def _locked_diff(nb: dict[str, Any], reference: dict[str, Any]) -> str:
    mine, theirs = locked_sources(nb), locked_sources(reference)
    if len(mine) != len(theirs):
        return f"{len(mine)} locked cell(s), the reference has {len(theirs)} (a locked cell was removed or untagged)"
    for n, (a, b) in enumerate(zip(mine, theirs), start=1):
        if a != b:
            lines = [(x, y) for x, y in zip(a.splitlines() + [""] * 99, b.splitlines() + [""] * 99) if x != y]
            got, want = lines[0] if lines else ("", "")
            return f"locked cell {n} of {len(mine)} was edited: `{got.strip()[:70]}` instead of `{want.strip()[:70]}`"
    return "locked cells differ"


def check_locked(nb: dict[str, Any], reference: dict[str, Any] | None) -> Check:
    actual = locked_fingerprint(nb)
    stamp = nb.get("metadata", {}).get("course", {}).get("locked_fingerprint")
    known = {stamp} | ({locked_fingerprint(reference)} if reference else set())
    label = "locked cells unchanged"
    if actual in known:
        note = "" if reference is None or actual == locked_fingerprint(reference) else \
            " (matches the version handed out, not the current reference)"
        return Check("locked_unchanged", label, True, f"fingerprint {actual[:12]} matches{note}", integrity=True)
    evidence = _locked_diff(nb, reference) if reference else \
        f"fingerprint {actual[:12]} differs from the stamp {str(stamp)[:12]} (no reference notebook to compare)"
    return Check("locked_unchanged", label, False, evidence, integrity=True)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    return a == b


def check_consistent(nb: dict[str, Any], name: str, results: dict[str, Any] | None) -> Check:
    label = "results agree with the notebook's own outputs"
    if results is None:
        return Check("metrics_consistent", label, None, "no results shown to compare", integrity=True)
    problems = []
    if results.get("notebook") != name:
        problems.append(f"results say notebook {results.get('notebook')!r}, the notebook is {name!r}")
    printed = set(announced_profiles(nb))
    if printed and results.get("profile") not in printed:
        problems.append(f"results say profile {results.get('profile')!r}, the notebook printed {sorted(printed)}")
    lines = metric_lines(nb)
    lines = [ln for ln in lines if ln[1]] or lines  # the locked evaluation cell's lines when there are any
    metrics, compared = results.get("metrics", {}), 0
    for key in sorted({k for _, _, shown in lines for k in shown} & set(metrics)):
        compared += 1
        shown = [(i, m[key]) for i, _, m in lines if key in m]
        if not any(_same(v, metrics[key]) for _, v in shown):
            problems.append(f"results say {key} = {metrics[key]}, cell {shown[-1][0]} printed {shown[-1][1]}")
    evidence = "; ".join(problems) or f"{compared} metric(s) match the evaluation output; notebook and profile agree"
    return Check("metrics_consistent", label, not problems, evidence, integrity=True)


def check_no_token(nb: dict[str, Any], raw: str) -> Check:
    if not TOKEN_PATTERN.search(raw):
        return Check("no_token", "no Hugging Face token in the file", True, "no `hf_...` token found", integrity=True)
    places = [where(i, c) for i, c in enumerate(nb.get("cells", []), start=1) if TOKEN_PATTERN.search(json.dumps(c))]
    redacted = TOKEN_PATTERN.search(raw).group()[:6] + "…"
    evidence = f"token {redacted} in {', '.join(places[:3]) or 'the notebook metadata'}: revoke it on huggingface.co"
    return Check("no_token", "no Hugging Face token in the file", False, evidence, integrity=True)


# ---------------------------------------------------------------- one file, one folder


def read_notebook(path: Path) -> tuple[dict[str, Any] | None, str, str | None]:
    """(notebook, raw text, None) or (None, raw text, why the file is no usable notebook)."""
    try:
        raw = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, "", f"cannot be read as UTF-8 text ({type(error).__name__})"
    if not raw.strip():
        return None, raw, "empty file"
    try:
        nb = json.loads(raw)
    except json.JSONDecodeError as error:
        return None, raw, f"not JSON ({error.msg}: line {error.lineno}, column {error.colno}): a damaged download?"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or "nbformat" not in nb:
        return None, raw, "JSON, but not a Jupyter notebook (no `cells` list or `nbformat`)"
    if nb["nbformat"] < 4:
        return None, raw, f"notebook format v{nb['nbformat']}: open and save it in Jupyter to upgrade it to v4"
    if not code_cells(nb):
        return None, raw, "empty notebook (no code cells)"
    return nb, raw, None


def identify(nb: dict[str, Any]) -> tuple[str | None, str, str | None]:
    """(course notebook name, how it was identified, problem): from the metadata stamp, else the results output."""
    stamp = nb.get("metadata", {}).get("course")
    if isinstance(stamp, dict) and stamp.get("course") not in (None, COURSE):
        return None, "", f"a notebook from another course ({stamp.get('course')!r})"
    if isinstance(stamp, dict) and isinstance(stamp.get("notebook"), str):
        if not NOTEBOOK_NAME.fullmatch(stamp["notebook"]):
            return None, "", f"its metadata names no course notebook ({stamp['notebook'][:40]!r})"
        return stamp["notebook"], "metadata", None
    results, _ = find_results(nb)
    name = (results or {}).get("notebook")
    if isinstance(name, str) and NOTEBOOK_NAME.fullmatch(name):
        return name, "results output (course metadata missing)", None
    return None, "", "not a bert-course notebook (no `course` metadata and no course results in its outputs)"


def grade_notebook(nb: dict[str, Any], raw: str, file: str, name: str, how: str, context: Context) -> Graded:
    """Run every check on one parsed submission of course notebook ``name``."""
    rubric, reference = context.rubric(name), context.reference(name)
    results, results_cell = find_results(nb)
    printed = announced_profiles(nb)
    profile = (results or {}).get("profile") or (printed[-1] if printed else None)
    checks = [check_all_executed(nb), check_in_order(nb), check_no_errors(nb), check_exercises(nb),
              check_results_shown(results, results_cell, rubric),
              check_evaluation_shown(nb, requires_metrics_line(rubric, reference)), check_plots(nb, rubric),
              check_analysis(nb, rubric, reference)]
    for check in checks:
        check.possible = float(rubric["points"].get(check.id, 0))
    checks += check_thresholds(results, profile, rubric)
    checks += [check_locked(nb, reference), check_consistent(nb, name, results), check_no_token(nb, raw)]
    notes = [f"identified from its {how}", f"graded with {rubric['source']}",
             "locked cells compared with " + ("the reference notebook" if reference else "the notebook's own stamp")]
    return Graded(file, name, how, profile, checks, notes=notes, zero_on_integrity=rubric["integrity_zeroes_score"])


def grade_file(path: Path, file: str | None = None, context: Context | None = None) -> Graded:
    """Grade one file; a bad file comes back with ``problem`` set, never as an exception."""
    file, context = file or path.name, context or Context()
    try:
        nb, raw, why = read_notebook(path)
        name, how, why = identify(nb) if nb is not None else (None, "", why)
    except Exception as error:  # noqa: BLE001 - any hand-mangled structure is a bad file, never a crash
        return Graded(file, problem=f"malformed notebook ({type(error).__name__}: {error})")
    if name is None:
        return Graded(file, problem=why)
    context.rubric(name)  # a broken rubric is the instructor's to fix: it raises, outside the net below
    try:
        return grade_notebook(nb, raw, file, name, how, context)
    except Exception as error:  # noqa: BLE001
        return Graded(file, name, how, problem=f"malformed notebook ({type(error).__name__}: {error})")


def submission_files(folder: Path) -> list[Path]:
    """Every ``.ipynb`` under ``folder``, checkpoints excluded, in a stable order."""
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and p.is_file())


def grade_folder(folder: Path, out_dir: Path = Path("build/grades"), rubric_dir: Path | None = None,
                 reference_dir: Path | None = REFERENCE_DIR) -> list[Graded]:
    """Grade every submission in ``folder`` and write the gradebook, the report and the feedback files."""
    if not folder.is_dir():
        raise CourseError(problem("Submissions folder", "a folder of .ipynb files", f"{folder} (not a folder)",
                                  "pass the folder where you collected the notebooks"))
    context = Context(rubric_dir, reference_dir)
    graded = [grade_file(p, p.relative_to(folder).as_posix(), context) for p in submission_files(folder)]
    write_gradebook(graded, out_dir / "gradebook.csv")
    write_report(graded, out_dir / "report.md", folder)
    write_feedback(graded, out_dir / "feedback")
    return graded


# ---------------------------------------------------------------- what the instructor reads

COLUMNS = ("file", "notebook", "identified_by", "profile", "status", "score", "possible", "percent",
           *POINT_CHECKS, "thresholds", *INTEGRITY_CHECKS, "problems")


def _percent(g: Graded) -> str:
    return f"{100 * g.score / g.possible:.0f}" if g.possible and not g.problem else ""


def _row(g: Graded) -> dict[str, Any]:
    marks = {c.id: c.mark for c in g.checks}
    metric = [c for c in g.checks if c.id.startswith("metric:") and c.passed is not None]
    problems = g.problem or "; ".join(f"{c.label}: {c.evidence}" for c in g.checks if c.passed is False)
    return {"file": g.file, "notebook": g.notebook or "", "identified_by": g.identified_by,
            "profile": g.profile or "", "status": g.status, "score": f"{g.score:g}", "possible": f"{g.possible:g}",
            "percent": _percent(g), **{k: marks.get(k, "") for k in POINT_CHECKS + INTEGRITY_CHECKS},
            "thresholds": f"{sum(bool(c.passed) for c in metric)}/{len(metric)}" if metric else "",
            "problems": problems}


def write_gradebook(graded: list[Graded], path: Path) -> None:
    """One CSV row per submission (bad files included, status ``invalid``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(_row(g) for g in graded)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


FIXES = {  # what a student does about a failed check
    "all_executed": "restart the kernel and run every cell from the top before you download the notebook",
    "in_order": "restart the kernel and run every cell from the top, so the outputs come from one clean run",
    "no_errors": "fix the cell that fails, then run the whole notebook again",
    "exercises_done": "write your code where a `# TODO` stub still raises NotImplementedError",
    "results_shown": "run the notebook from the top to its last cell, which writes and prints results.json with the "
                     "metrics the assignment asks for, and keep its output",
    "evaluation_shown": "run the evaluation cell and keep its output",
    "plots": "run the cells that draw the plots and keep their outputs",
    "analysis_written": "write your analysis in the Markdown cell(s) tagged `analysis`: replace every "
                        "`[write here: ...]` with sentences of your own that quote your run's numbers",
    "metric": "look at the evidence: train as the notebook says, in the profile you were asked to use",
    "locked_unchanged": "restore the locked cells from the notebook you were given, then run everything again",
    "metrics_consistent": "never edit outputs by hand: run the notebook again from the top",
    "no_token": "revoke that token on huggingface.co (Settings > Access Tokens); use HF_TOKEN or the Colab/Kaggle "
                "secrets instead of pasting a token",
}


def feedback_text(g: Graded) -> str:
    """The Markdown feedback for one submission: its score, then every check with its evidence."""
    if g.problem:
        return f"# {g.file}\n\n**Not graded**: {g.problem}.\n"
    lines = [f"# {g.file}: {g.notebook}", "",
             f"**Score {g.score:g} / {g.possible:g}** ({_percent(g)}%), status **{g.status}**, "
             f"profile `{g.profile}`.", ""]
    if not g.integrity_ok and g.zero_on_integrity:
        lines += ["An integrity check failed, so the score is 0 until your instructor has looked at it.", ""]
    lines += ["| | check | points | evidence |", "|---|---|---|---|"]
    for c in g.checks:
        points = "integrity" if c.integrity else (f"{c.earned:g}/{c.possible:g}" if c.passed is not None else "")
        lines.append(f"| {c.mark} | {_cell(c.label)} | {points} | {_cell(c.evidence)} |")
    fixes = dict.fromkeys(FIXES[c.id.split(":")[0]] for c in g.checks if c.passed is False)
    if fixes:
        lines += ["", "**What to do**", "", *[f"- {fix}" for fix in fixes]]
    return "\n".join(lines + ["", "Notes:", *[f"- {n}" for n in g.notes], ""])


def feedback_name(file: str) -> str:
    """``alice/03_x.ipynb`` -> ``alice__03_x.md``."""
    return re.sub(r"\.ipynb$", "", file.replace("/", "__").replace("\\", "__")) + ".md"


def write_feedback(graded: list[Graded], folder: Path) -> None:
    """One Markdown file per submission under ``folder`` (stale ones from an earlier run removed)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.md"):
        old.unlink()
    for g in graded:
        (folder / feedback_name(g.file)).write_text(feedback_text(g))


def write_report(graded: list[Graded], path: Path, folder: Path) -> None:
    """The instructor's overview: one row per submission, bad files, then the failed checks with evidence."""
    good = [g for g in graded if not g.problem]
    bad = [g for g in graded if g.problem]
    review = [g for g in good if g.status == "review"]
    lines = [f"# Grades for `{folder}`", "",
             f"{len(graded)} file(s): {len(good)} graded, {len(bad)} bad file(s), {len(review)} to review "
             "(an integrity check failed).", "",
             "| file | notebook | profile | status | score | failed checks |", "|---|---|---|---|---|---|"]
    for g in good:
        failed = ", ".join(c.label for c in g.checks if c.passed is False) or "none"
        lines.append(f"| {_cell(g.file)} | {g.notebook} | {g.profile} | {g.status} | {g.score:g}/{g.possible:g} "
                     f"| {_cell(failed)} |")
    if bad:
        lines += ["", "## Bad files (not graded)", ""] + [f"- `{g.file}`: {g.problem}" for g in bad]
    lines += ["", "## By notebook", "", "| notebook | submissions | complete | review | mean score |",
              "|---|---|---|---|---|"]
    for name in sorted({g.notebook for g in good}):
        mine = [g for g in good if g.notebook == name]
        mean = sum(g.score / g.possible for g in mine if g.possible) / len(mine)
        lines.append(f"| {name} | {len(mine)} | {sum(g.status == 'complete' for g in mine)} "
                     f"| {sum(g.status == 'review' for g in mine)} | {100 * mean:.0f}% |")
    lines += ["", "## Evidence for every failed check", ""]
    for g in good:
        for c in (c for c in g.checks if c.passed is False):
            lines.append(f"- `{g.file}` · {c.label}{' (integrity)' if c.integrity else ''}: {c.evidence}")
    lines += ["", "Feedback for each student: `feedback/<file>.md`; every number: `gradebook.csv`.", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))

