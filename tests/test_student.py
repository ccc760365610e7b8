"""Student versions (``python -m course_utils.instructor student``): stubs instead of solutions, no solution text
left, and they stop at the first exercise."""

import copy
import re

import nbformat
import papermill
import pytest

from course_utils.errors import CourseError
from course_utils.instructor import __main__ as cli
from course_utils.instructor import student
from course_utils.instructor.stamps import locked_fingerprint
from kernels import AsyncUnixSocketKernelManager
from nbrun import NOTEBOOK_DIR

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
NO_EXERCISES = {"00_setup"}  # the environment check asks the student to write nothing


def code(source, tags=(), outputs=()):
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)} if tags else {})
    cell.outputs, cell.execution_count = list(outputs), 1
    return cell


def notebook(*cells):
    return nbformat.v4.new_notebook(cells=list(cells))


# ---------------------------------------------------------------- stubbing one cell


def test_region_becomes_an_indented_stub_and_the_rest_stays():
    source = ("def tokenize(batch):\n"
              "    ### BEGIN SOLUTION: call the tokenizer on batch['text']\n"
              "    return tokenizer(batch['text'], truncation=True)\n"
              "    ### END SOLUTION\n"
              "\n"
              "encoded = ds.map(tokenize, batched=True)")
    new, tasks = student.stub_source(source)
    assert tasks == ["call the tokenizer on batch['text']"]
    assert new == ("def tokenize(batch):\n"
                   "    # TODO: call the tokenizer on batch['text']\n"
                   "    raise NotImplementedError(\"Exercise: call the tokenizer on batch['text']. "
                   "Replace this line with your code.\")\n"
                   "\n"
                   "encoded = ds.map(tokenize, batched=True)")


def test_two_regions_and_a_bare_begin_marker():
    source = "### BEGIN SOLUTION\na = 1\n### END SOLUTION\nb = 2\n### BEGIN SOLUTION: c\nc = 3\n### END SOLUTION"
    new, tasks = student.stub_source(source)
    assert tasks == [student.DEFAULT_TASK, "c"]
    assert "a = 1" not in new and "c = 3" not in new and "b = 2" in new
    assert new.count("raise NotImplementedError") == 2


def test_region_inside_call_arguments_gets_an_expression_stub_that_raises():
    source = ('args = dict(\n    lr=1e-4,\n    ### BEGIN SOLUTION: evaluate every epoch\n'
              '    eval_strategy="epoch",\n    ### END SOLUTION\n    seed=0,\n)')
    new, tasks = student.stub_source(source)
    assert new.splitlines()[3] == '    **cu.results.todo("evaluate every epoch"),'
    assert 'eval_strategy="epoch"' not in new and "seed=0," in new
    compile(new, "cell", "exec")
    with pytest.raises(NotImplementedError, match=r"^Exercise: evaluate every epoch\. Replace this line"):
        exec(new, {"cu": __import__("course_utils")})


@pytest.mark.parametrize("task", ['print example["label"]', "the reviews' mean length", """both ' and " here"""])
def test_quotes_in_the_task_stay_valid_python_and_the_grader_reads_the_task_back(task):
    new, _ = student.stub_source(f"### BEGIN SOLUTION: {task}\nprint(1)\n### END SOLUTION")
    with pytest.raises(NotImplementedError) as raised:
        exec(new, {})
    assert str(raised.value) == f"Exercise: {task}. Replace this line with your code."
    assert student.stub_tasks(new) == [task]
    assert "\\" not in new.splitlines()[1] or ("'" in task and '"' in task)  # no escapes unless both quotes


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION: a\n### BEGIN SOLUTION: b\n### END SOLUTION",
     r"cell, line 2: expected '### END SOLUTION' before the next '### BEGIN SOLUTION', found a second "
     r"'### BEGIN SOLUTION' \(the first is on line 1\)"),
    ("x = 1\n### END SOLUTION", r"cell, line 2: expected '### BEGIN SOLUTION: <task>' first, found "
                                r"'### END SOLUTION' with no solution open"),
    ("### BEGIN SOLUTION: a\nx = 1", r"cell, line 1: expected a '### END SOLUTION' line closing the solution, "
                                     r"found the cell ends with the solution still open"),
])
def test_unbalanced_markers_are_refused(source, message):
    with pytest.raises(CourseError, match=message):
        student.stub_source(source)


def test_whole_cell_tagged_solution_keeps_its_leading_comment_as_the_task():
    nb = notebook(code("# Count the words of each review\nwords = [len(t.split()) for t in texts]", ["solution"]))
    out, tasks = student.student_version(nb)
    assert tasks == ["Count the words of each review"]
    assert student.cell_source(out.cells[0]) == (
        "# Count the words of each review\n# TODO: Count the words of each review\n"
        'raise NotImplementedError("Exercise: Count the words of each review. Replace this line with your code.")')


def test_solution_in_a_locked_cell_is_refused_with_every_problem_at_once():
    nb = notebook(code("### BEGIN SOLUTION: x\nx = 1\n### END SOLUTION", ["locked"]),
                  code("### END SOLUTION"))
    with pytest.raises(CourseError, match=r"2 problems:\n- nb, cell 1: expected solutions only in cells students "
                                          r"may edit, found a solution in a cell tagged 'locked'.*\n"
                                          r"- nb, cell 2, line 1: expected"):
        student.student_version(nb, "nb")


def test_student_version_clears_outputs_and_records_the_exercises():
    nb = notebook(code("print(1)", outputs=[nbformat.v4.new_output("stream", text="1\n")]),
                  code("### BEGIN SOLUTION: y\ny = 2\n### END SOLUTION", outputs=[]))
    nb.metadata["papermill"] = {"parameters": {}}
    before = copy.deepcopy(nb)
    out, tasks = student.student_version(nb)
    assert nb == before  # the reference is not touched
    assert tasks == ["y"] and out.metadata["course"]["exercises"] == ["y"]
    assert out.cells[1].metadata["course_exercises"] == ["y"]
    assert all(c.outputs == [] and c.execution_count is None for c in out.cells)
    assert "papermill" not in out.metadata


def test_command_writes_the_versions_and_lists_the_exercises(tmp_path, capsys):
    nbformat.write(notebook(code("### BEGIN SOLUTION: add one\nx = 1 + 1\n### END SOLUTION")), tmp_path / "42_x.ipynb")
    assert cli.main(["student", str(tmp_path / "42_x.ipynb"), "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'out' / '42_x.ipynb'}: 1 exercise(s)\n  - add one\n"
    assert cli.main(["student", str(tmp_path / "43_missing.ipynb"), "--out", str(tmp_path / "out")]) == 2
    assert re.match(r"Notebook .*43_missing\.ipynb: expected an existing \.ipynb file", capsys.readouterr().err)


# ---------------------------------------------------------------- every course notebook


def solution_lines(nb):
    """Lines only a solution holds (lines that also appear outside solutions prove nothing)."""
    inside, outside = set(), set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        whole = "solution" in cell.metadata.get("tags", [])
        in_region = False
        for line in cell.source.splitlines():
            if line.strip().startswith(student.BEGIN):
                in_region = True
            elif line.strip().startswith(student.END):
                in_region = False
            elif len(line.strip()) > 3 and not line.strip().startswith("#"):
                (inside if in_region or whole else outside).add(line.strip())
    return inside - outside


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    student.write_student_versions(NOTEBOOKS, out)
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_version_is_valid_and_holds_no_solution(path, student_dir):
    reference = nbformat.read(path, as_version=4)
    version = nbformat.read(student_dir / path.name, as_version=4)
    nbformat.validate(version)
    text = "\n".join(c.source for c in version.cells)
    assert student.BEGIN not in text and student.END not in text
    leaked = [line for line in solution_lines(reference) if line in {l.strip() for l in text.splitlines()}]
    assert not leaked, f"{path.name}: solution lines left in the student version: {leaked[:3]}"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in version.cells
               if c.cell_type == "code"), f"{path.name}: outputs left in the student version"
    assert locked_fingerprint(version) == locked_fingerprint(reference)
    # everything but the solutions is unchanged: same cells, same markdown, same tags
    assert [c.cell_type for c in version.cells] == [c.cell_type for c in reference.cells]
    assert [c.source for c in version.cells if c.cell_type == "markdown"] == \
        [c.source for c in reference.cells if c.cell_type == "markdown"]
    exercises = version.metadata["course"]["exercises"]
    assert student.stub_tasks(text) == exercises
    if path.stem not in NO_EXERCISES:
        assert exercises, f"{path.name} marks no exercise (### BEGIN SOLUTION: ...)"


@pytest.mark.notebook
@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.stem not in NO_EXERCISES], ids=lambda p: p.stem)
def test_student_version_stops_at_its_first_exercise(path, student_dir, tmp_path, monkeypatch):
    version = nbformat.read(student_dir / path.name, as_version=4)
    exercises = version.metadata["course"]["exercises"]
    first_stub = next(i for i, c in enumerate(version.cells) if c.metadata.get("course_exercises"))
    for name, value in {"HF_HUB_OFFLINE": "1", "COURSE_PROFILE": "tiny", "TOKENIZERS_PARALLELISM": "false"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(str(student_dir / path.name), str(tmp_path / path.name), cwd=str(NOTEBOOK_DIR),
                                   kernel_name="python3", progress_bar=False,
                                   kernel_manager_class=AsyncUnixSocketKernelManager,
                                   parameters={"profile": "tiny", "output_dir": str(tmp_path / "outputs")})
    assert failure.value.ename == "NotImplementedError"
    task = re.match(r"Exercise: (.*)\. Replace this line with your code\.$", failure.value.evalue)
    assert task and task[1] in exercises, failure.value.evalue
    executed = nbformat.read(tmp_path / path.name, as_version=4)
    errors = [i for i, c in enumerate(executed.cells) if c.cell_type == "code"
              and any(o.output_type == "error" for o in c.get("outputs", []))]
    injected = sum("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert errors and errors[0] - injected >= first_stub, "a cell before the first exercise failed"
