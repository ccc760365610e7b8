"""tools/run_course.py (``make run``): per-cell progress, the estimate of what is left, and the run's records.

A fake two-cell notebook in a temporary folder stands in for the course; no real notebook runs here.
"""

import io
import json

import nbformat
import pytest
import run_course  # tools/ is on sys.path (conftest.py)

HEADER = "# 99 · Fake\n\n**Runtime** (measured on 2 CPU cores): tiny ≈ 7 s · cpu ≈ 2-3 min · gpu: not measured"


def fake_notebook(folder, name="99_fake.ipynb", fail=False):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "auto"\noutput_dir = "out"')
    params.metadata["tags"] = ["parameters"]
    write = ("import json, pathlib\np = pathlib.Path(output_dir); p.mkdir(parents=True, exist_ok=True)\n"
             "(p / 'results.json').write_text(json.dumps({'profile': profile, 'model': 'none', "
             "'metrics': {'accuracy': 0.5}}))")
    nb.cells = [nbformat.v4.new_markdown_cell(HEADER), params,
                nbformat.v4.new_markdown_cell("## 1. Write the results"),
                nbformat.v4.new_code_cell("raise ValueError('broken on purpose')" if fail else write)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / name
    nbformat.write(nb, str(path))
    return path


def test_header_estimate_reads_the_runtime_line_and_takes_a_range_s_upper_end(tmp_path):
    nb = fake_notebook(tmp_path)
    assert run_course.header_estimate(nb, "tiny") == 7
    assert run_course.header_estimate(nb, "cpu") == 180
    assert run_course.header_estimate(nb, "gpu") is None


def test_expected_times_prefer_the_previous_run_then_the_header(tmp_path):
    nb, other = fake_notebook(tmp_path), fake_notebook(tmp_path, "98_other.ipynb")
    build = tmp_path / "build"
    run_course.record_time("cpu", "99_fake", 42.0, build)
    run_course.record_time("tiny", "98_other", 3.0, build)  # another profile's time does not count
    assert run_course.expected_times([nb, other], "cpu", build) == {"99_fake": (42.0, "previous run"),
                                                                     "98_other": (180.0, "header")}
    (other.parent / "97_bare.ipynb").write_text(json.dumps(nbformat.v4.new_notebook()))
    assert run_course.expected_times([other.parent / "97_bare.ipynb"], "cpu", build) == {"97_bare": (None, "unknown")}


@pytest.mark.parametrize("seconds, text", [(None, "?"), (42, "42 s"), (210, "3.5 min"), (3900, "1 h 05 min")])
def test_fmt_duration(seconds, text):
    assert run_course.fmt_duration(seconds) == text


def test_a_run_prints_a_line_per_code_cell_and_what_is_left_without_carriage_returns(tmp_path):
    notebooks = [fake_notebook(tmp_path), fake_notebook(tmp_path, "98_broken.ipynb", fail=True)]
    build, out = tmp_path / "build", io.StringIO()
    rows = run_course.run_course(notebooks, "tiny", build, out)
    log = out.getvalue()
    assert "\r" not in log, "the log must read in a CI file: no progress-bar redraws"
    assert "running 98_broken.ipynb (1/2, tiny profile): expected 7 s (header); course ≈ 14 s left" in log
    assert "§ 1. Write the results · import json, pathlib" in log, log
    assert "[ 1/3]" in log and "[ 3/3]" in log  # papermill adds the injected-parameters cell
    assert [r["status"][:6] for r in rows] == ["failed", "ok"]
    assert "broken on purpose" in rows[0]["status"]
    assert rows[1]["metrics"] == {"accuracy": 0.5}
    assert json.loads((build / "results.json").read_text()) == rows
    # only the notebook that worked becomes the next run's estimate
    assert set(json.loads((build / "run-timings.json").read_text())["tiny"]) == {"99_fake"}
    out = io.StringIO()
    run_course.run_course(notebooks[:1], "tiny", build, out)
    assert "(previous run)" in out.getvalue()
