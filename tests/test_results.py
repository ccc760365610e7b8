"""course_utils.results: results.json written, read back and shown, with a line the grader can parse."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from course_utils import results
from course_utils.errors import CourseError

REQUIRED = {"notebook", "profile", "model", "model_source", "dataset", "dataset_source", "metrics", "runtime_s",
            "versions"}


def write(tmp_path, **changes):
    kwargs = dict(notebook="03_text_classification", profile="tiny", model="tiny-random-bert",
                  model_source="tiny random BERT", dataset="stanfordnlp/imdb", dataset_source="data/tiny/imdb",
                  metrics={"accuracy": 0.5, "f1_macro": np.float32(0.25), "log_loss": float("nan"), "n": 32},
                  started=time.time() - 12.34)
    kwargs.update(changes)
    return results.write_results(tmp_path / "out", **kwargs)


def test_write_results_writes_and_returns_the_required_keys(tmp_path, capsys):
    returned = write(tmp_path)
    on_disk = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(returned) == set(on_disk) == REQUIRED == set(results.REQUIRED_KEYS)
    assert on_disk["notebook"] == "03_text_classification" and on_disk["profile"] == "tiny"
    assert on_disk["metrics"] == {"accuracy": 0.5, "f1_macro": 0.25, "log_loss": None, "n": 32.0}
    assert on_disk["runtime_s"] >= 12.3  # measured from `started` (no upper bound: a busy machine may pause)
    assert {"python", "torch", "transformers", "datasets", "evaluate", "scikit-learn"} <= set(on_disk["versions"])
    assert on_disk["versions"]["course-utils"]  # a version or "not installed", never missing
    out = capsys.readouterr().out
    assert out.startswith(f"Wrote {tmp_path / 'out' / 'results.json'}:\n")
    shown, _ = json.JSONDecoder().raw_decode(out.split(":\n", 1)[1])
    assert shown == on_disk  # the notebook shows exactly what it wrote


def test_nan_and_inf_become_null(tmp_path):
    written = write(tmp_path, metrics={"a": float("nan"), "b": np.float64("inf"), "c": -float("inf")})
    text = (tmp_path / "out" / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert written["metrics"] == {"a": None, "b": None, "c": None}


def test_extra_is_kept(tmp_path):
    written = write(tmp_path, extra={"plot": "curves.png", "table": [1, 2]})
    assert json.loads((tmp_path / "out" / "results.json").read_text())["extra"] == {"plot": "curves.png",
                                                                                    "table": [1, 2]}
    assert written["extra"]["plot"] == "curves.png"


@pytest.mark.parametrize("value, shown", [("0.9", "str '0.9'"), (True, "bool True"), ([0.5], r"list \[0\.5\]"),
                                          (None, "NoneType None")])
def test_a_non_number_metric_raises(tmp_path, value, shown):
    with pytest.raises(CourseError, match=rf"^Metric 'accuracy': expected a number, found {shown}\. Fix: put only "
                                          rf"numbers in `metrics`; put other findings under `extra`\.$"):
        write(tmp_path, metrics={"accuracy": value})
    assert not (tmp_path / "out" / "results.json").exists()


def test_read_results_round_trip(tmp_path):
    write(tmp_path)
    assert results.read_results(tmp_path / "out" / "results.json")["metrics"]["accuracy"] == 0.5


def test_read_results_flags_missing_keys(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"notebook": "03", "profile": "tiny", "metrics": {}}))
    with pytest.raises(CourseError, match=r"results\.json: expected the keys \['notebook', .*'versions'\], found "
                                          r"\['model', 'model_source', 'dataset', 'dataset_source', 'runtime_s', "
                                          r"'versions'\] missing\. Fix: write it with "
                                          r"course_utils\.results\.write_results\.$"):
        results.read_results(path)


def test_read_results_of_a_missing_file(tmp_path):
    with pytest.raises(CourseError, match=r"results\.json: expected a results\.json file, found no such file\. "
                                          r"Fix: run the notebook to the end first"):
        results.read_results(tmp_path / "results.json")


def test_show_metrics_prints_a_parsable_line(capsys):
    results.show_metrics({"accuracy": 0.875, "f1_macro": np.float64(0.5), "log_loss": float("nan"), "n": 8},
                         title="Test sample")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Test sample"
    assert lines[1] == "              accuracy: 0.8750"
    marker = [line for line in lines if line.startswith(results.METRICS_MARKER)]
    assert len(marker) == 1 and marker[0] == lines[-1]
    parsed = json.loads(marker[0][len(results.METRICS_MARKER):])
    assert parsed == {"accuracy": 0.875, "f1_macro": 0.5, "log_loss": None, "n": 8.0}


def test_show_metrics_matches_results_json(tmp_path, capsys):
    metrics = {"accuracy": 2 / 3, "f1_macro": 0.1234567891}
    results.show_metrics(metrics)
    shown = json.loads(capsys.readouterr().out.splitlines()[-1].split(results.METRICS_MARKER)[1])
    assert shown == write(tmp_path, metrics=metrics)["metrics"]  # exact, not rounded


def test_show_metrics_rejects_non_numbers_before_printing(capsys):
    with pytest.raises(CourseError, match=r"^Metric 'report': expected a number, found dict"):
        results.show_metrics({"accuracy": 0.5, "report": {"a": 1}})
    assert capsys.readouterr().out == ""


def test_results_json_is_replaced_whole_and_leaves_no_temporary_file(tmp_path):
    write(tmp_path, metrics={"accuracy": 0.5})
    write(tmp_path, metrics={"accuracy": 0.75})  # the second run replaces the first through a rename
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["results.json"]
    assert results.read_results(tmp_path / "out" / "results.json")["metrics"] == {"accuracy": 0.75}


# ---------------------------------------------------------------- the lines the grader reads back


def test_what_write_results_prints_is_read_back_whole(tmp_path, capsys):
    written = write(tmp_path)
    printed = capsys.readouterr().out
    assert printed.startswith(results.RESULTS_HEADER.format(path=tmp_path / "out" / "results.json") + "\n")
    assert results.printed_results("some output before\n" + printed) == [written]
    assert results.printed_results(printed[: len(printed) // 2]) == []  # cut off: no results, never a crash


def test_what_show_metrics_prints_is_read_back(capsys):
    results.show_metrics({"accuracy": 0.875, "log_loss": float("nan")})
    results.show_metrics({"f1": 0.5}, title="Second")
    printed = capsys.readouterr().out + "course-metrics: {not json\ncourse-metrics: [1, 2]\n"
    assert results.printed_metrics(printed) == [{"accuracy": 0.875, "log_loss": None}, {"f1": 0.5}]


def test_the_profile_announcement_is_read_back(monkeypatch, capsys):
    from course_utils import profiles

    monkeypatch.setenv("COURSE_PROFILE", "tiny")
    chosen = profiles.get_profile()
    printed = capsys.readouterr().out
    assert printed.splitlines()[-1] == results.PROFILE_LINE.format(
        name="tiny", why="set by the COURSE_PROFILE environment variable", meaning=chosen.meaning)
    assert results.printed_profiles("epoch 1\n" + printed) == ["tiny"]


def test_todo_raises_the_exercise_message():
    with pytest.raises(NotImplementedError, match=r"^Exercise: tokenize the batch\. Replace this line with your "
                                                  r"code\.$"):
        results.todo("tokenize the batch")


RUNS = {"cpu": {"machine": "2 CPU cores (test)", "date": "2026-12-01",
                "notebooks": {"03_text_classification": {"wall_s": 111.0,
                                                         "metrics": {"accuracy": 0.836, "f1_macro": 0.835}}}}}


def test_what_you_should_see_compares_with_the_same_profiles_measurement():
    lines = results.what_you_should_see("03_text_classification", "cpu", {"accuracy": 0.8, "f1_macro": 0.79}, RUNS)
    assert lines[0].startswith("What you should see (cpu profile, measured by the course on 2 CPU cores (test), "
                               "2026-12-01, 1 min 51 s for the whole notebook)")
    assert lines[1:] == ["  accuracy: yours 0.800, measured 0.836", "  f1_macro: yours 0.790, measured 0.835"]


def test_what_you_should_see_dates_a_notebook_measured_after_the_rest_by_its_own_run():
    runs = {"cpu": dict(RUNS["cpu"], notebooks={"03_text_classification": dict(
        RUNS["cpu"]["notebooks"]["03_text_classification"], date="2026-12-02")})}
    assert "2 CPU cores (test), 2026-12-02, 1 min 51 s" in results.what_you_should_see(
        "03_text_classification", "cpu", {"accuracy": 0.8}, runs)[0]


def test_what_you_should_see_on_tiny_shows_the_cpu_measurement_without_comparing():
    lines = results.what_you_should_see("03_text_classification", "tiny", {"accuracy": 0.5}, RUNS)
    assert "tiny profile's numbers are not the lesson (it checks that the code runs)" in lines[0]
    assert lines[1] == "  accuracy: measured 0.836" and "yours" not in " ".join(lines)


def test_what_you_should_see_says_nothing_without_a_measurement(tmp_path):
    assert results.what_you_should_see("99_unknown", "cpu", {"accuracy": 0.5}, RUNS) == []
    assert results.measured_runs(tmp_path / "missing.json") == {}
    (tmp_path / "bad.json").write_text("{not json")
    assert results.measured_runs(tmp_path / "bad.json") == {}


def test_the_shipped_measurements_name_real_notebooks_and_their_rubric_metrics():
    from pathlib import Path
    root = Path(results.__file__).resolve().parent
    runs = results.measured_runs()
    notebooks = {p.stem for p in (root.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    for profile, run in runs.items():
        assert profile in ("tiny", "cpu", "gpu") and run["machine"] and run["date"]
        for name, row in run["notebooks"].items():
            assert name in notebooks, f"measured.json names {name}, which is no notebook"
            rubric = json.loads((root / "instructor" / "rubrics" / f"{name}.json").read_text())
            assert set(row["metrics"]) <= set(rubric["metrics"]), f"{name}: {set(row['metrics'])}"


def test_tools_measured_merges_ok_rows_under_their_profile():
    import measured  # tools/ is on sys.path (conftest.py)
    rows = [{"notebook": "03_text_classification", "status": "ok", "profile": "cpu", "wall_s": 100.0,
             "metrics": {"accuracy": 0.81234567, "f1_macro": 0.8, "n_train": 1500}},
            {"notebook": "04_question_answering", "status": "failed", "profile": "cpu", "metrics": {}}]
    old = {"profiles": {"cpu": {"date": "2026-11-30",
                                "notebooks": {"04_question_answering": {"wall_s": 1, "metrics": {"f1": 50.0}}}}}}
    merged = measured.merge(rows, old, "2026-12-01", "2 CPU cores")
    cpu = merged["profiles"]["cpu"]
    assert cpu["notebooks"]["03_text_classification"] == {"wall_s": 100.0, "date": "2026-12-01",
                                                           "metrics": {"accuracy": 0.8123, "f1_macro": 0.8}}
    assert cpu["notebooks"]["04_question_answering"]["metrics"] == {"f1": 50.0}  # a failed run keeps the old one
    assert cpu["notebooks"]["04_question_answering"]["date"] == "2026-11-30"  # and the date it was measured
    assert cpu["machine"] == "2 CPU cores" and cpu["date"] == "2026-12-01"


def test_every_notebook_header_quotes_its_measured_cpu_runtime():
    import measured  # tools/
    runs = results.measured_runs()["cpu"]
    for path in sorted(measured.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        header = json.loads(path.read_text())["cells"][0]["source"]
        header = "".join(header) if isinstance(header, list) else header
        phrase = results.runtime_phrase(runs["notebooks"][path.stem], runs["date"])
        assert phrase in header.replace("\n", " "), (
            f"{path.name}: the Runtime line should say {phrase!r}: run `python tools/measured.py` after `make run`")


def test_readme_quotes_each_notebooks_measured_cpu_runtime():
    import measured  # tools/
    readme = (measured.ROOT / "README.md").read_text()
    for name, entry in results.measured_runs()["cpu"]["notebooks"].items():
        row = next(line for line in readme.splitlines() if line.startswith(f"| [{name}.ipynb]"))
        assert row.rstrip(" |").endswith(results.duration(entry["wall_s"])) or \
            f"; {results.duration(entry['wall_s'])}" in row, f"README's row of {name} should quote its measured time"


def test_sync_headers_rewrites_a_stale_runtime_and_leaves_other_notebooks_alone(tmp_path):
    import nbformat

    import measured  # tools/
    for name, text in (("03_x", "**Runtime** on 2 CPU cores: cpu profile 9 s (measured 2026-11-01) · gpu: more"),
                       ("04_y", "**Runtime**: typed by hand")):
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)]), tmp_path / f"{name}.ipynb")
    runs = {"profiles": {"cpu": {"date": "2026-12-01", "notebooks": {
        "03_x": {"wall_s": 112.8, "date": "2026-12-02", "metrics": {}}, "04_y": {"wall_s": 5.0, "metrics": {}}}}}}
    assert measured.sync_headers(runs, tmp_path) == ["03_x"]
    assert nbformat.read(tmp_path / "03_x.ipynb", as_version=4).cells[0].source == (
        "**Runtime** on 2 CPU cores: cpu profile 1 min 53 s (measured 2026-12-02) · gpu: more")
    assert measured.sync_headers(runs, tmp_path) == []  # already current
