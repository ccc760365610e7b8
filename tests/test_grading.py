"""The grader (``python -m course_utils.instructor grade``): planted submissions made from a real tiny-profile run
of notebook 03, each judged as planted."""

import copy
import csv
import json
import re
import subprocess
import sys

import nbformat
import papermill
import pytest

from course_utils import results
from course_utils.errors import CourseError
from course_utils.instructor import __main__ as cli
from course_utils.instructor import grading, stamps, student
from kernels import AsyncUnixSocketKernelManager
from nbrun import NOTEBOOK_DIR, notebook_path

TOKEN = "hf_" + "Ab3" * 12  # token-shaped, never valid
RESULTS_ONLY = "results output (course metadata missing)"


# ---------------------------------------------------------------- planting


def cells_with(nb, text):
    return [c for _, c in grading.code_cells(nb) if text in student.cell_source(c)]


def rewrite_stdout(cell, edit):
    """Replace a cell's stdout streams by one stream holding ``edit(text)``."""
    text = grading.stdout(cell)
    others = [o for o in cell["outputs"] if not (o["output_type"] == "stream" and o.get("name") == "stdout")]
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": edit(text)}] + others


def edit_results(nb, change):
    """Apply ``change`` to the results JSON the deliverables cell printed."""
    results, index = grading.find_results(nb)
    cell = nb["cells"][index - 1]
    printed = json.dumps(results, indent=2)
    assert printed in grading.stdout(cell)
    changed = copy.deepcopy(results)
    change(changed)
    rewrite_stdout(cell, lambda t: t.replace(printed, json.dumps(changed, indent=2)))


def edit_metrics_line(nb, name, value):
    (_, _, shown), = [ln for ln in grading.metric_lines(nb) if ln[1]]
    cell, = [c for c in cells_with(nb, "show_metrics(") if results.METRICS_MARKER in grading.stdout(c)]
    old = results.METRICS_MARKER + " " + json.dumps(shown)
    rewrite_stdout(cell, lambda t: t.replace(old, results.METRICS_MARKER + " " + json.dumps({**shown, name: value})))


def plant_error(nb):
    _, cell = grading.code_cells(nb)[5]
    cell["outputs"].append({"output_type": "error", "ename": "KeyError", "evalue": "'label'", "traceback": []})


def plant_out_of_order(nb):
    counts = [c["execution_count"] for _, c in grading.code_cells(nb)]
    grading.code_cells(nb)[3][1]["execution_count"] = max(counts) + 1  # re-ran an early cell at the end


def plant_stub_left(nb):
    """What "Run all" leaves when the first exercise was not written: the stub raised, later cells never ran."""
    cell = cells_with(nb, student.BEGIN)[0]
    cell["source"], tasks = student.stub_source(student.cell_source(cell))
    cell["outputs"] = [{"output_type": "error", "ename": "NotImplementedError",
                        "evalue": f"Exercise: {tasks[0]}. Replace this line with your code.", "traceback": []}]
    later = False
    for _, other in grading.code_cells(nb):
        if later:
            other["outputs"], other["execution_count"] = [], None
        later = later or other is cell


def plant_missing_deliverable(nb):
    _, index = grading.find_results(nb)
    nb["cells"][index - 1]["outputs"] = []


def plant_below_threshold(nb):
    """A genuine but weak cpu-profile run: profile and accuracy agree everywhere, accuracy under the rubric's bar."""
    for _, cell in grading.code_cells(nb):
        if "Profile: tiny (" in grading.stdout(cell):
            rewrite_stdout(cell, lambda t: t.replace("Profile: tiny (", "Profile: cpu ("))
    edit_results(nb, lambda r: r.update(profile="cpu", metrics={**r["metrics"], "accuracy": 0.5}))
    edit_metrics_line(nb, "accuracy", 0.5)


def plant_edited_results(nb):
    edit_results(nb, lambda r: r["metrics"].update(accuracy=0.99))


def plant_renamed_metric(nb):
    """The student's evaluation reports `acc` where the assignment asks for `accuracy`."""
    edit_results(nb, lambda r: r.update(metrics={("acc" if k == "accuracy" else k): v
                                                 for k, v in r["metrics"].items()}))


def plant_edited_locked(nb):
    cell = cells_with(nb, "show_metrics(test_metrics")[0]
    cell["source"] = student.cell_source(cell).replace("show_metrics(test_metrics",
                                                       'show_metrics({**test_metrics, "accuracy": 0.99}')


def plant_token(nb):
    cell = grading.code_cells(nb)[2][1]
    cell["outputs"].append({"output_type": "stream", "name": "stdout", "text": f"logged in with {TOKEN}\n"})


def plant_stripped_metadata(nb):
    nb["metadata"].pop("course")  # some tools drop unknown metadata: identified from the results output instead


PLANTS = {  # file -> (how it is made, status, failed checks)
    "clean.ipynb": (None, "complete", set()),
    "error.ipynb": (plant_error, "incomplete", {"no_errors"}),
    "out_of_order.ipynb": (plant_out_of_order, "incomplete", {"in_order"}),
    "stub_left.ipynb": (plant_stub_left, "incomplete",
                        {"exercises_done", "no_errors", "all_executed", "results_shown", "evaluation_shown"}),
    "missing_deliverable.ipynb": (plant_missing_deliverable, "incomplete", {"results_shown"}),
    "below_threshold.ipynb": (plant_below_threshold, "incomplete", {"metric:accuracy"}),
    "renamed_metric.ipynb": (plant_renamed_metric, "incomplete", {"results_shown"}),
    "edited_results.ipynb": (plant_edited_results, "review", {"metrics_consistent"}),
    "edited_locked.ipynb": (plant_edited_locked, "review", {"locked_unchanged"}),
    "token.ipynb": (plant_token, "review", {"no_token"}),
    "bob/Homework 3 (final) copy.ipynb": (None, "complete", set()),  # renamed: known by its metadata
    "stripped.ipynb": (plant_stripped_metadata, "complete", set()),
}
BAD = {  # file -> (content, reason the report gives)
    "corrupt.ipynb": (None, r"^not JSON \(.*\): a damaged download\?$"),
    "not_a_notebook.ipynb": ('{"cells": "none"}', r"^JSON, but not a Jupyter notebook"),
    "empty.ipynb": ('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', r"^empty notebook"),
    "other_course.ipynb": (None, r"^a notebook from another course \('pandas-101'\)$"),
    "foreign.ipynb": (None, r"^not a bert-course notebook"),
    "zero_bytes.ipynb": ("", r"^empty file$"),
    "odd_stamp.ipynb": (None, r"^its metadata names no course notebook \('\.\./\.\./secrets'\)$"),
}


TINY_ENV = {"HF_HUB_OFFLINE": "1", "COURSE_PROFILE": "tiny", "TOKENIZERS_PARALLELISM": "false"}


def run_tiny(source, out_dir):
    """Execute a notebook in the tiny profile into ``out_dir``; nbrun.execute's fixed build/test-runs folder would
    race with tests/test_nb03_*.py running the same notebook on another xdist worker."""
    papermill.execute_notebook(str(source), str(out_dir / "executed.ipynb"), cwd=str(NOTEBOOK_DIR),
                               kernel_name="python3", progress_bar=False,
                               kernel_manager_class=AsyncUnixSocketKernelManager,
                               parameters={"profile": "tiny", "output_dir": str(out_dir / "outputs")})
    return json.loads((out_dir / "executed.ipynb").read_text())


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Notebook 03 run in the tiny profile, as a plain dict (what a downloaded .ipynb holds)."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in TINY_ENV.items():
            mp.setenv(name, value)
        mp.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend puts the plots in the outputs
        return run_tiny(notebook_path("03"), tmp_path_factory.mktemp("run03"))


@pytest.fixture(scope="module")
def graded(executed, tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    subs = root / "submissions"
    for name, (plant, _, _) in PLANTS.items():
        nb = copy.deepcopy(executed)
        if plant:
            plant(nb)
        (subs / name).parent.mkdir(parents=True, exist_ok=True)
        (subs / name).write_text(json.dumps(nb, indent=1))
    clean_text = (subs / "clean.ipynb").read_text()
    foreign = {"cells": [{"cell_type": "code", "source": "print(1)", "metadata": {}, "outputs": [],
                          "execution_count": 1}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    other = copy.deepcopy(foreign)
    other["metadata"]["course"] = {"course": "pandas-101", "notebook": "03_groupby"}
    odd = copy.deepcopy(foreign)
    odd["metadata"]["course"] = {"course": "bert-course", "notebook": "../../secrets"}
    contents = {"corrupt.ipynb": clean_text[: len(clean_text) // 2], "foreign.ipynb": json.dumps(foreign),
                "other_course.ipynb": json.dumps(other), "odd_stamp.ipynb": json.dumps(odd)}
    for name, (content, _) in BAD.items():
        (subs / name).write_text(contents.get(name, content))
    results = grading.grade_folder(subs, root / "grades", reference_dir=NOTEBOOK_DIR)  # the shipped rubrics
    return {g.file: g for g in results}, root / "grades"


@pytest.mark.notebook
@pytest.mark.parametrize("name", list(PLANTS))
def test_each_planted_submission_is_judged_as_planted(graded, executed, name):
    by_file, _ = graded
    g = by_file[name]
    _, status, failed = PLANTS[name]
    if name == "stub_left.ipynb" and grading.images(executed):
        failed = failed | {"plots"}  # the plots come after the first exercise: they never ran
    assert g.problem is None and g.notebook == "03_text_classification"
    assert (g.status, set(g.failed())) == (status, failed), [(c.id, c.evidence) for c in g.checks if not c.passed]
    expected_profile = "cpu" if name == "below_threshold.ipynb" else "tiny"
    assert g.profile == expected_profile
    assert g.identified_by == (RESULTS_ONLY if name == "stripped.ipynb" else "metadata")
    if status == "review":
        assert g.score == 0
    elif status == "complete":
        assert g.score == g.possible > 0


@pytest.mark.notebook
@pytest.mark.parametrize("name", list(BAD))
def test_bad_files_are_listed_with_their_reason(graded, name):
    by_file, out = graded
    g = by_file[name]
    assert g.status == "invalid" and re.search(BAD[name][1], g.problem), g.problem
    assert f"- `{name}`: {g.problem}" in (out / "report.md").read_text()


@pytest.mark.notebook
def test_evidence_names_what_is_wrong(graded):
    by_file, _ = graded
    evidence = {name: {c.id: c.evidence for c in g.checks} for name, g in by_file.items() if not g.problem}
    assert re.match(r"cell \d+ shows \[\d+\] but cell \d+ \(`.*`\) below it shows \[\d+\]: cells were re-run "
                    r"out of order$", evidence["out_of_order.ipynb"]["in_order"])
    assert "KeyError: 'label'" in evidence["error.ipynb"]["no_errors"]
    assert "return the head+tail encoding" in evidence["stub_left.ipynb"]["exercises_done"]
    assert evidence["below_threshold.ipynb"]["metric:accuracy"] == "accuracy = 0.5"
    assert re.fullmatch(r"cell \d+ shows results\.json but no 'accuracy' in its metrics",
                        evidence["renamed_metric.ipynb"]["results_shown"])
    assert re.fullmatch(r"cell \d+ shows results\.json with accuracy = [\d.]+, f1_macro = [\d.]+, log_loss = [\d.]+",
                        evidence["clean.ipynb"]["results_shown"])
    assert re.match(r"results say accuracy = 0\.99, cell \d+ printed 0\.\d+", 
                    evidence["edited_results.ipynb"]["metrics_consistent"])
    assert re.match(r"locked cell 1 of 2 was edited: `cu\.results\.show_metrics\(\{\*\*test_metrics",
                    evidence["edited_locked.ipynb"]["locked_unchanged"])
    assert evidence["token.ipynb"]["no_token"].startswith("token hf_Ab3… in cell ")
    thresholds = {c.id: c.passed for c in by_file["clean.ipynb"].checks if c.id.startswith("metric:")}
    assert thresholds == {"metric:accuracy": None}  # the shipped bar is for cpu and gpu runs only


@pytest.mark.notebook
def test_gradebook_report_and_feedback_are_written(graded):
    by_file, out = graded
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert len(rows) == len(PLANTS) + len(BAD)
    row = {r["file"]: r for r in rows}
    assert row["out_of_order.ipynb"]["in_order"] == "FAIL" and row["out_of_order.ipynb"]["no_errors"] == "pass"
    assert row["below_threshold.ipynb"]["thresholds"] == "0/1" and row["clean.ipynb"]["percent"] == "100"
    assert row["corrupt.ipynb"]["status"] == "invalid"
    feedback = sorted(p.name for p in (out / "feedback").glob("*.md"))
    assert len(feedback) == len(PLANTS) + len(BAD) and "bob__Homework 3 (final) copy.md" in feedback
    text = (out / "feedback" / "edited_results.md").read_text()
    assert "status **review**" in text and "results say accuracy = 0.99" in text
    report = (out / "report.md").read_text()
    assert f"{len(PLANTS) + len(BAD)} file(s): {len(PLANTS)} graded, {len(BAD)} bad file(s), 3 to review" in report
    everything = report + (out / "gradebook.csv").read_text() + "".join(
        p.read_text() for p in (out / "feedback").glob("*.md"))
    assert TOKEN not in everything, "the grader must never copy a token into what it writes"


@pytest.mark.notebook
def test_unstamped_reference_still_grades_locked_cells(executed, tmp_path):
    # without a reference folder, the notebook's own stamp is what locked cells are compared with
    nb = copy.deepcopy(executed)
    plant_edited_locked(nb)
    (tmp_path / "s.ipynb").write_text(json.dumps(nb))
    g = grading.grade_file(tmp_path / "s.ipynb", context=grading.Context(reference_dir=None))
    assert g.failed() == ["locked_unchanged"]
    assert re.match(r"fingerprint \w{12} differs from the stamp \w{12} \(no reference",
                    g.check("locked_unchanged").evidence)


# ---------------------------------------------------------------- small pieces, no notebook run


def tiny_submission(metrics_printed, metrics_written, images=0):
    """A three-cell notebook: setup, a locked evaluation cell, a locked deliverables cell."""
    results = {"notebook": "99_demo", "profile": "tiny", "metrics": metrics_written}
    cells = [
        {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": "P = cu.profiles.get_profile()",
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "Profile: tiny (asked for).\n"}]
         + [{"output_type": "display_data", "data": {"image/png": "iVBOR"}, "metadata": {}}] * images},
        {"cell_type": "code", "execution_count": 2, "metadata": {"tags": ["locked"]}, "source": "show_metrics(m)",
         "outputs": [{"output_type": "stream", "name": "stdout",
                      "text": f"Metrics\ncourse-metrics: {json.dumps(metrics_printed)}\n"}]},
        {"cell_type": "code", "execution_count": 3, "metadata": {"tags": ["locked"]}, "source": "write_results()",
         "outputs": [{"output_type": "stream", "name": "stdout",
                      "text": f"Wrote out/results.json:\n{json.dumps(results, indent=2)}\n"}]},
    ]
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    nb["metadata"]["course"] = stamps.course_stamp(nb, "99_demo")
    return nb


def grade(nb, tmp_path, rubric=None):
    rubric_dir = tmp_path / "rubrics"
    rubric_dir.mkdir(exist_ok=True)
    if rubric is not None:
        (rubric_dir / "99_demo.json").write_text(json.dumps(rubric))
    (tmp_path / "s.ipynb").write_text(json.dumps(nb))
    return grading.grade_file(tmp_path / "s.ipynb", context=grading.Context(rubric_dir, None))


def test_consistent_submission_without_rubric_gets_the_default_rubric(tmp_path):
    g = grade(tiny_submission({"acc": 0.5}, {"acc": 0.5, "loss": 1.0}), tmp_path)
    assert g.status == "complete" and g.score == 8 and g.possible == 8
    assert "graded with default rubric" in g.notes


def test_results_pasted_into_an_unlocked_cell_are_not_taken_for_the_deliverable(tmp_path):
    nb = tiny_submission({"acc": 0.5}, {"acc": 0.5})
    fake = copy.deepcopy(nb["cells"][2])
    fake["metadata"], fake["execution_count"] = {}, 4
    fake["outputs"][0]["text"] = fake["outputs"][0]["text"].replace("0.5", "0.9")
    nb["cells"].append(fake)
    g = grade(nb, tmp_path)
    assert g.status == "complete" and "cell 3 shows results.json" in g.check("results_shown").evidence


def test_metric_printed_and_written_must_agree(tmp_path):
    g = grade(tiny_submission({"acc": 0.5}, {"acc": 0.75}), tmp_path)
    assert g.failed() == ["metrics_consistent"] and g.status == "review" and g.score == 0
    assert "results say acc = 0.75, cell 2 printed 0.5" in g.check("metrics_consistent").evidence
    with pytest.raises(KeyError, match=r"s\.ipynb has no check 'metric:acc'; it has \['all_executed', "):
        g.check("metric:acc")


@pytest.mark.parametrize("written, rubric, evidence", [
    ({"acc": 0.5, "loss": 1.0}, {"metrics": {"acc": {"min": 0, "max": 1}, "loss": {}}},
     "with acc = 0.5, loss = 1"),
    ({"acc": 1.5, "loss": 1.0}, {"metrics": {"acc": {"min": 0, "max": 1}}}, "but acc = 1.5 is outside [0, 1]"),
    ({"acc": None}, {"metrics": {"acc": {}}}, "but acc is null (NaN or infinite when it was written)"),
    ({"loss": 1.0}, {"metrics": {"acc": {}, "f1": {}}}, "but no 'acc' in its metrics; no 'f1' in its metrics"),
    ({"acc": 0.6}, {"thresholds": [{"metric": "acc", "above": "majority", "profiles": ["gpu"]}]},
     "but no 'majority' in its metrics"),  # a threshold's metrics are expected in every profile
    ({}, None, "but its metrics are empty"),
])
def test_results_must_hold_the_metrics_the_rubric_expects(tmp_path, written, rubric, evidence):
    g = grade(tiny_submission(written, written), tmp_path, rubric)
    shown = g.check("results_shown")
    assert shown.evidence == f"cell 3 shows results.json {evidence}"
    assert shown.passed is evidence.startswith("with")
    assert g.failed() == ([] if shown.passed else ["results_shown"])


def test_rubric_points_plots_and_thresholds(tmp_path):
    rubric = {"plots": 2, "points": {"plots": 4}, "integrity_zeroes_score": False,
              "thresholds": [{"metric": "acc", "min": 0.6, "profiles": ["tiny"], "points": 5},
                             {"metric": "loss", "max": 2.0, "points": 1}]}
    g = grade(tiny_submission({"acc": 0.5}, {"acc": 0.5, "loss": 1.0}, images=1), tmp_path, rubric)
    assert set(g.failed()) == {"plots", "metric:acc"}
    assert g.possible == 8 + 4 + 5 + 1 and g.score == 8 + 1
    assert [c.evidence for c in g.checks if c.id in ("plots", "metric:acc")] == [
        "1 image output(s), 2 required", "acc = 0.5"]


def test_a_metric_can_be_required_to_beat_a_baseline_metric(tmp_path):
    rubric = {"thresholds": [{"metric": "acc", "above": "majority", "points": 2},
                             {"metric": "f1", "above": "missing", "points": 1}]}
    g = grade(tiny_submission({"acc": 0.6}, {"acc": 0.6, "majority": 0.5, "f1": 0.4}), tmp_path, rubric)
    checks = {c.id: (c.passed, c.label, c.evidence) for c in g.checks if c.id.startswith("metric:")}
    assert checks == {"metric:acc": (True, "acc > majority (tiny profile)", "acc = 0.6, majority = 0.5"),
                      "metric:f1": (False, "f1 > missing (tiny profile)", "f1 = 0.4, missing = None")}


def test_a_threshold_can_name_the_dataset_it_is_for(tmp_path):
    """09 trains on WikiAnn online and CoNLL-2003 offline: one bar each, chosen by the dataset results.json names."""
    rubric = {"thresholds": [{"metric": "f1", "min": 0.8, "datasets": ["eriktks/conll2003"], "points": 2},
                             {"metric": "f1", "min": 0.6, "datasets": ["unimelb-nlp/wikiann"], "points": 2},
                             {"metric": "acc", "min": 0.9, "datasets": ["eriktks/conll2003"]}]}
    results = {"acc": 0.5, "f1": 0.7}

    def checks_on(dataset):
        nb = tiny_submission(results, results)
        edit_results(nb, lambda r: r.update(dataset=dataset))
        return {c.id: (c.passed, c.label, c.evidence) for c in grade(nb, tmp_path, rubric).checks
                if c.id.startswith("metric:")}

    assert checks_on("unimelb-nlp/wikiann (en)") == {
        "metric:f1": (True, "f1 ≥ 0.6 (tiny profile, unimelb-nlp/wikiann)", "f1 = 0.7"),
        "metric:acc": (None, "acc meets its bar", "no bar in the tiny profile for this run's dataset")}
    on_conll = checks_on("eriktks/conll2003")
    assert on_conll["metric:f1"] == (False, "f1 ≥ 0.8 (tiny profile, eriktks/conll2003)", "f1 = 0.7")
    assert on_conll["metric:acc"][0] is False
    with pytest.raises(CourseError, match=r"thresholds\[0\]: expected .*optional \"datasets\""):
        grade(tiny_submission({}, {}), tmp_path, {"thresholds": [{"metric": "f1", "min": 0.5, "datasets": "conll"}]})


@pytest.mark.parametrize("rubric, message", [
    ({"plot": 1}, r"rubrics/99_demo.json: key 'plot': expected one of \["),
    ({"points": {"no_errors": -1}}, r"points\['no_errors'\]: expected a check in \[.*\] with points >= 0, found -1"),
    ({"thresholds": [{"metric": "acc", "profiles": ["laptop"], "min": 0.5}]}, r"thresholds\[0\]: expected .*"
     r'found \{"metric": "acc", "profiles": \["laptop"\], "min": 0.5\}. Fix: fix that entry'),
    ({"thresholds": [{"metric": "acc"}]}, r"thresholds\[0\]: expected"),
    ({"metrics_line": "yes"}, r"metrics_line: expected true, false or \"auto\", found 'yes'"),
    ({"metrics": ["acc"]}, r"metrics: expected \{\"name\": \{\"min\": number, \"max\": number\}, \.\.\.\} "
                           r"\(both optional, min <= max\), found \[\"acc\"\]\. Fix: fix the value"),
    ({"metrics": {"acc": {"min": 1, "max": 0}, "f1": {"low": 0}}},
     r"2 problems:\n.*metrics\['acc'\]: expected .*found \{\"min\": 1, \"max\": 0\}\. Fix: fix that entry\.\n"
     r".*metrics\['f1'\]: expected .*found \{\"low\": 0\}"),
])
def test_rubric_mistakes_are_reported_to_the_instructor(tmp_path, rubric, message):
    with pytest.raises(CourseError, match=message):
        grade(tiny_submission({}, {}), tmp_path, rubric)


def test_rubric_found_by_number_when_the_notebook_was_renamed(tmp_path):
    (tmp_path / "07_old_name.json").write_text('{"plots": 3}')
    assert grading.load_rubric("07_new_name", tmp_path)["plots"] == 3
    assert grading.load_rubric("08_other", tmp_path)["source"] == "default rubric"


def test_unreadable_files_never_crash_the_grader(tmp_path):
    (tmp_path / "binary.ipynb").write_bytes(b"\xff\xfe\x00junk")
    (tmp_path / "v3.ipynb").write_text('{"cells": [], "nbformat": 3, "worksheets": []}')
    (tmp_path / "weird.ipynb").write_text('{"cells": [{"cell_type": "code", "outputs": 5}], "nbformat": 4}')
    reasons = {p.name: grading.grade_file(p).problem for p in sorted(tmp_path.glob("*.ipynb"))}
    assert reasons["binary.ipynb"] == "cannot be read as UTF-8 text (UnicodeDecodeError)"
    assert reasons["v3.ipynb"] == "notebook format v3: open and save it in Jupyter to upgrade it to v4"
    assert reasons["weird.ipynb"].startswith(("malformed notebook", "not a bert-course notebook"))


def test_command_line_grades_a_folder_and_refuses_a_missing_one(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "broken.ipynb").write_text("{")
    assert cli.main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "grades")]) == 0
    assert "Graded 1 file(s): 0 complete, 0 incomplete, 0 review, 1 invalid" in capsys.readouterr().out
    assert cli.main(["grade", str(tmp_path / "nowhere")]) == 2
    assert re.search(r"Submissions folder: expected a folder of \.ipynb files, found .*nowhere \(not a folder\)",
                     capsys.readouterr().err)


def test_command_line_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and out.startswith("usage: python -m course_utils.instructor [-h] COMMAND ...")
    assert [name for name in cli.COMMANDS if re.search(rf"^    {name} +\w", out, re.M)] == list(cli.COMMANDS)
    assert cli.main([]) == 2 and "usage: python -m course_utils.instructor" in capsys.readouterr().err


@pytest.mark.parametrize("command, fix", [
    ("grades", "use `python -m course_utils.instructor grade`, the closest one"),
    ("frobnicate", "`python -m course_utils.instructor --help` says what each one does"),
])
def test_command_line_names_an_unknown_command(capsys, command, fix):
    assert cli.main([command, "submissions/"]) == 2
    assert capsys.readouterr().err == (f"Command: expected one of student, grade, stamp, found {command!r}. "
                                       f"Fix: {fix}.\n")


def test_shipped_rubrics_are_valid_and_name_metrics_their_notebook_reports():
    for path in sorted(grading.RUBRIC_DIR.glob("*.json")):
        rubric = json.loads(path.read_text())
        assert not grading.rubric_problems(rubric, path.name)
        assert rubric["notebook"] == path.stem
        notebooks = sorted(NOTEBOOK_DIR.glob(f"{path.stem[:2]}_*.ipynb"))
        if not notebooks:
            continue  # that notebook has not landed yet
        source = "\n".join(student.cell_source(c) for c in json.loads(notebooks[0].read_text())["cells"])
        for name in grading.expected_metrics(grading.load_rubric(path.stem)):
            assert name in source, f"{path.name}: {notebooks[0].name} never mentions {name!r}"


def test_grader_never_imports_torch():
    code = "import sys, course_utils.instructor.grading; print('torch' in sys.modules or 'transformers' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


@pytest.mark.parametrize("argv", [["--help"], ["student", "--help"], ["grade", ".", "--out", "grades"],
                                  ["stamp", "--check"]], ids=" ".join)
def test_instructor_command_never_imports_torch(argv, tmp_path):
    # -X importtime lists every module the command imported, on stderr
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "course_utils.instructor", *argv],
                         capture_output=True, text=True, cwd=tmp_path)
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in run.stderr.splitlines() if "|" in line}
    assert "course_utils" in imported and not imported & {"torch", "transformers"}, run.stderr[-500:]


def test_instructor_is_reachable_from_the_package():
    import course_utils as cu

    assert cu.instructor.grading is grading and cu.instructor.stamps is stamps and cu.instructor.student is student
    assert "grading" not in cu._SUBMODULES and "student" not in cu._SUBMODULES  # not for students


@pytest.mark.notebook
def test_student_version_written_and_run_by_a_student_grades_complete(tmp_path, monkeypatch):
    """The whole round trip: hand out, the student writes the exercises and runs all, the instructor grades."""
    for name, value in TINY_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MPLBACKEND", raising=False)
    reference = nbformat.read(notebook_path("03"), as_version=4)
    handed_out, exercises = student.student_version(reference, "03")
    for mine, ref in zip(handed_out.cells, reference.cells):
        if mine.metadata.get("course_exercises"):  # the student writes what the reference has
            mine.source = "\n".join(line for line in ref.source.splitlines()
                                    if not line.strip().startswith((student.BEGIN, student.END)))
    nbformat.write(handed_out, tmp_path / "handed_out.ipynb")
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "alice.ipynb").write_text(json.dumps(run_tiny(tmp_path / "handed_out.ipynb", tmp_path)))
    g, = grading.grade_folder(tmp_path / "subs", tmp_path / "grades", reference_dir=NOTEBOOK_DIR)
    assert (g.notebook, g.status, g.failed()) == ("03_text_classification", "complete", [])
    assert g.check("exercises_done").evidence == f"no exercise stub left ({len(exercises)} exercises written)"


# ---------------------------------------------------------------- written analysis (issue 12)

ANALYSIS_TEMPLATE = ("## Your analysis\n*Write this yourself; it is graded.*\n\n"
                     "**Application and impact.** [write here: who would use it, and what a mistake costs]\n\n"
                     "**One improvement.** [write here: one change, and the number that says it would help]")
WRITTEN = ("## Your analysis\n*Write this yourself; it is graded.*\n\n"
           "**Application and impact.** A support lead would let the router pre-fill the queue; at 0.91 macro F1 "
           "about one ticket in eleven still needs a hand-off, which costs a day.\n\n"
           "**One improvement.** Relabel the 18 reviewed tickets and train from the domain-adapted encoder: the "
           "perplexity drop says it learned the domain.")


def with_analysis(text, cell_id="analysis-1"):
    nb = tiny_submission({"acc": 0.5}, {"acc": 0.5})
    nb["cells"].insert(2, {"cell_type": "markdown", "id": cell_id, "metadata": {"tags": ["analysis"]},
                           "source": text})
    return nb


@pytest.mark.parametrize("text, passed, evidence", [
    (ANALYSIS_TEMPLATE, False, r"cell 3 \(`## Your analysis`\) still holds the template: replace every "
                               r"`\[write here: \.\.\.\]`"),
    (ANALYSIS_TEMPLATE.replace("[write here: who would use it, and what a mistake costs]", "Useful."), False,
     r"still holds the template"),  # one prompt answered, the other not
    (WRITTEN, True, r"1 analysis cell\(s\) written \(25\+ words of your own each\)"),
])
def test_analysis_must_be_written_not_the_template(tmp_path, text, passed, evidence):
    g = grade(with_analysis(text), tmp_path, {"analysis": 1, "points": {"analysis_written": 3}})
    check = g.check("analysis_written")
    assert check.passed is passed and re.search(evidence, check.evidence), check.evidence
    assert check.possible == 3 and g.failed() == ([] if passed else ["analysis_written"])
    assert g.score == (g.possible if passed else g.possible - 3)


def test_analysis_counts_only_the_students_own_words_against_the_reference(tmp_path):
    """Placeholders deleted but nothing written: the reference's template lines do not count as the student's."""
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "99_demo.ipynb").write_text(json.dumps(with_analysis(ANALYSIS_TEMPLATE)))
    emptied = ANALYSIS_TEMPLATE.replace(" [write here: who would use it, and what a mistake costs]", " Support.")
    emptied = emptied.replace(" [write here: one change, and the number that says it would help]", " More data.")
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "99_demo.json").write_text(json.dumps({"analysis": 1}))
    for text, passed, evidence in [(emptied, False, "has 8 word(s) of your own, 25 needed"),
                                   (WRITTEN, True, "1 analysis cell(s) written")]:
        (tmp_path / "s.ipynb").write_text(json.dumps(with_analysis(text)))
        g = grading.grade_file(tmp_path / "s.ipynb", context=grading.Context(tmp_path / "rubrics", tmp_path / "ref"))
        check = g.check("analysis_written")
        assert check.passed is passed and evidence in check.evidence, check.evidence


def test_a_missing_analysis_cell_fails_and_is_not_required_by_default(tmp_path):
    g = grade(tiny_submission({"acc": 0.5}, {"acc": 0.5}), tmp_path, {"analysis": 1})
    assert g.failed() == ["analysis_written"]
    assert "0 Markdown cell(s) tagged `analysis`, 1 expected" in g.check("analysis_written").evidence
    assert "write your analysis in the Markdown cell(s) tagged `analysis`" in grading.feedback_text(g)
    (tmp_path / "default").mkdir()
    default = grade(with_analysis(ANALYSIS_TEMPLATE), tmp_path / "default")
    assert default.check("analysis_written").passed is None and default.status == "complete"
    with pytest.raises(CourseError, match=r"analysis: expected a whole number >= 0, found 'yes'"):
        grade(tiny_submission({}, {}), tmp_path, {"analysis": "yes"})


@pytest.mark.parametrize("prefix", ["06", "08", "10"])
def test_shipped_analysis_templates_fail_until_written(prefix):
    """The course's own 06, 08 and 10 hold the analysis cells their rubrics ask for, as templates that fail."""
    nb = json.loads(notebook_path(prefix).read_text())
    rubric = grading.load_rubric(nb["metadata"]["course"]["notebook"])
    assert rubric["analysis"] >= 1 and rubric["points"]["analysis_written"] > 0
    assert len(grading.analysis_cells(nb)) == rubric["analysis"]
    check = grading.check_analysis(nb, rubric, nb)
    assert check.passed is False and "still holds the template" in check.evidence
    written = copy.deepcopy(nb)
    for _, cell in grading.analysis_cells(written):
        cell["source"] = grading.PLACEHOLDER.sub("the model reached 0.83 accuracy on 500 test reviews, which is "
                                                 "about what this profile's small model and data allow", 
                                                 student.cell_source(cell))
    assert grading.check_analysis(written, rubric, nb).passed is True
