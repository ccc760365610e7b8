"""Student versions of the course notebooks: solutions become stubs that say what to write.

In a reference notebook the part a student writes sits between ``### BEGIN SOLUTION: <what to write>`` and
``### END SOLUTION`` inside a code cell (nbgrader's markers), or fills a whole code cell tagged ``solution``.
``student_version`` replaces each such part with a stub that raises ``NotImplementedError`` and clears every
output, so a student version runs up to its first exercise and stops there with a message saying what to write.

    python -m course_utils.instructor student [notebooks/NN_x.ipynb ...] [--out build/student]

Only json/nbformat here: no torch, so ``make student`` takes a second.
"""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path
from typing import Any

from ..errors import CourseError, problem, raise_if_any
from ..results import EXERCISE_PREFIX, EXERCISE_SUFFIX

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
SOLUTION_TAG = "solution"
LOCKED_TAG = "locked"
# the two stub forms stub_lines writes, as the grader finds them in a submission (group "task": the task)
_TASK = r"(?P<task>(?:(?!(?P=q))[^\\]|\\.)*?)"  # up to the closing quote, escaped quotes included
STUB_PATTERNS = (
    re.compile(r"raise\s+NotImplementedError\(\s*(?P<q>[\"'])" + re.escape(EXERCISE_PREFIX) + _TASK
               + "(?:" + re.escape(EXERCISE_SUFFIX) + r")?(?P=q)"),
    # student versions handed out before the instructor tools moved call cu.student.todo
    re.compile(r"(?:results|student)\.todo\(\s*(?P<q>[\"'])" + _TASK + r"(?P=q)"),
)
DEFAULT_TASK = "write the code for this step"
_BEGIN_LINE = re.compile(r"^(?P<indent>[ \t]*)" + re.escape(BEGIN) + r"\s*:?\s*(?P<task>.*?)\s*$")
_END_LINE = re.compile(r"^[ \t]*" + re.escape(END) + r"\s*$")


def cell_source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (notebook files may store it as a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def cell_tags(cell: dict[str, Any]) -> list[str]:
    """A cell's tags (empty when it has none)."""
    return list(cell.get("metadata", {}).get("tags", []) or [])


def _literal(text: str) -> str:
    """A Python string literal for ``text``, in double quotes unless only single quotes avoid escapes."""
    if '"' in text and "'" not in text:
        return repr(text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def stub_tasks(source: str) -> list[str]:
    """The tasks of the stubs still in ``source``, in order (what a student has not written yet)."""
    found = sorted((m.start(), m) for pattern in STUB_PATTERNS for m in pattern.finditer(source))
    return [m["task"].replace("\\" + m["q"], m["q"]).replace("\\\\", "\\") for _, m in found]


def stub_lines(task: str, indent: str = "", form: str = "statement") -> list[str]:
    """The lines that replace a solution: a TODO comment, then what stops the notebook there.

    ``form`` is "statement" (a raise), or "kwargs"/"args" for a solution inside a call's argument list, where only
    an expression fits: ``**cu.results.todo(...)`` raises as soon as the call's arguments are evaluated.

    >>> print("\\n".join(stub_lines("tokenize the batch", "    ")))
        # TODO: tokenize the batch
        raise NotImplementedError("Exercise: tokenize the batch. Replace this line with your code.")
    """
    if form == "statement":
        stop = f"raise NotImplementedError({_literal(EXERCISE_PREFIX + task + EXERCISE_SUFFIX)})"
    else:
        stop = f"{'**' if form == 'kwargs' else '*'}cu.results.todo({_literal(task)}),"
    return [f"{indent}# TODO: {task}", f"{indent}{stop}"]


def _parses(source: str) -> bool:
    # IPython magics and shell escapes are not Python: blank them before asking ast
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        ast.parse("\n".join(lines))
    except SyntaxError:
        return False
    return True


def stub_source(source: str, where: str = "cell") -> tuple[str, list[str]]:
    """Replace every BEGIN/END SOLUTION region of one cell's source by a stub; return the new source and the tasks.

    >>> new, tasks = stub_source("x = 1\\n### BEGIN SOLUTION: double x\\ny = 2 * x\\n### END SOLUTION\\nprint(y)")
    >>> print(new)
    x = 1
    # TODO: double x
    raise NotImplementedError("Exercise: double x. Replace this line with your code.")
    print(y)
    >>> tasks
    ['double x']
    """
    out: list[str] = []
    tasks: list[str] = []
    open_at: int | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        begin, end = _BEGIN_LINE.match(line), _END_LINE.match(line)
        if begin and open_at is not None:
            raise CourseError(problem(f"{where}, line {number}", f"'{END}' before the next '{BEGIN}'",
                                      f"a second '{BEGIN}' (the first is on line {open_at})",
                                      f"close each solution with '{END}'"))
        if end and open_at is None:
            raise CourseError(problem(f"{where}, line {number}", f"'{BEGIN}: <task>' first",
                                      f"'{END}' with no solution open", f"add the '{BEGIN}' line or remove this one"))
        if begin:
            open_at = number
            tasks.append(begin["task"] or DEFAULT_TASK)
            out.append(_STUB.format(len(tasks) - 1, begin["indent"]))
        elif end:
            open_at = None
        elif open_at is None:
            out.append(line)
    if open_at is not None:
        raise CourseError(problem(f"{where}, line {open_at}", f"a '{END}' line closing the solution",
                                  "the cell ends with the solution still open", f"add '{END}' after the solution"))
    return _fill_stubs("\n".join(out), tasks), tasks


_STUB = "\x00stub{}\x00{}"  # a placeholder line per solution: which task, and the indentation
_STUB_LINE = re.compile(r"^\x00stub(\d+)\x00([ \t]*)$", re.M)


def _fill_stubs(source: str, tasks: list[str]) -> str:
    # a statement stub where a statement fits; inside a call's arguments, an expression that raises
    for form in ("statement", "kwargs", "args"):
        filled = _STUB_LINE.sub(lambda m: "\n".join(stub_lines(tasks[int(m[1])], m[2], form)), source)
        if _parses(filled):
            return filled
    return _STUB_LINE.sub(lambda m: "\n".join(stub_lines(tasks[int(m[1])], m[2])), source)


def _whole_cell_stub(source: str) -> tuple[str, list[str]]:
    # the leading comment lines say what the cell does: keep them, and use the first as the task
    lines = source.splitlines()
    comments = []
    for line in lines:
        if not line.startswith("#") or line.startswith(BEGIN):
            break
        comments.append(line)
    described = [c for c in comments if "NBVAL" not in c and c.lstrip("# ").strip()]
    task = described[0].lstrip("# ").rstrip(". ") if described else DEFAULT_TASK
    return "\n".join(comments + stub_lines(task)), [task]


def solution_problems(nb: dict[str, Any], name: str = "notebook") -> list[str]:
    """Every marking mistake in a reference notebook (unbalanced markers, solutions in locked cells), at once."""
    problems = []
    for index, cell in enumerate(nb.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        source, tags = cell_source(cell), cell_tags(cell)
        has_solution = SOLUTION_TAG in tags or BEGIN in source or END in source
        if has_solution and LOCKED_TAG in tags:
            problems.append(problem(f"{name}, cell {index}", "solutions only in cells students may edit",
                                    "a solution in a cell tagged 'locked'",
                                    "move the exercise out of the locked cell"))
        try:
            new, _ = stub_source(source, f"{name}, cell {index}")
        except CourseError as error:
            problems.append(str(error))
            continue
        if has_solution and _parses(source) and not _parses(new):
            problems.append(problem(f"{name}, cell {index}", "valid Python once the solution is stubbed",
                                    "a syntax error in the stubbed cell",
                                    "put the markers around whole statements at one indentation level"))
    return problems


def student_version(nb: dict[str, Any], name: str = "notebook") -> tuple[dict[str, Any], list[str]]:
    """A copy of ``nb`` with solutions stubbed and every output cleared; also return the exercises, in order.

    Stubbed cells carry ``metadata.course_exercises`` (their tasks), and ``metadata.course.exercises`` lists them
    all, so the grader can tell a student which exercise is still open.
    """
    raise_if_any(solution_problems(nb, name))
    student = copy.deepcopy(nb)
    exercises: list[str] = []
    for index, cell in enumerate(student.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell_source(cell)
        if SOLUTION_TAG in cell_tags(cell):
            new, tasks = _whole_cell_stub(stub_source(source)[0])
        else:
            new, tasks = stub_source(source, f"{name}, cell {index}")
        if tasks:
            cell["source"] = new
            cell.setdefault("metadata", {})["course_exercises"] = tasks
            exercises.extend(tasks)
        cell["outputs"] = []
        cell["execution_count"] = None
    student.setdefault("metadata", {}).setdefault("course", {})["exercises"] = exercises
    student["metadata"].pop("papermill", None)
    return student, exercises


def _read_notebook(path: Path) -> tuple[Any, str | None]:
    """The notebook at ``path``, or ``(None, problem)`` when it is missing or not a notebook."""
    import nbformat  # only here: importing this module stays free

    try:
        return nbformat.read(path, as_version=4), None
    except FileNotFoundError:
        return None, problem(f"Notebook {path}", "an existing .ipynb file", "no such file",
                             "check the path, e.g. notebooks/03_text_classification.ipynb")
    except (OSError, ValueError, KeyError, TypeError) as err:  # nbformat's NotJSONError is a ValueError
        return None, problem(f"Notebook {path}", "a Jupyter notebook (.ipynb, JSON)",
                             f"{type(err).__name__}: {str(err)[:100]}",
                             "restore it (git checkout -- <file>) or open and save it again in Jupyter")


def write_student_versions(paths: list[Path], out_dir: Path) -> dict[Path, list[str]]:
    """Write the student version of every notebook in ``paths`` into ``out_dir``; return path -> exercises.

    Every notebook is read and stubbed before anything is written: one mistake anywhere is reported with all the
    others, and leaves ``out_dir`` as it was.
    """
    import nbformat

    versions: dict[Path, tuple[dict[str, Any], list[str]]] = {}
    problems: list[str] = []
    for path in paths:
        nb, unreadable = _read_notebook(path)
        if unreadable:
            problems.append(unreadable)
            continue
        try:
            versions[out_dir / path.name] = student_version(nb, path.name)
        except CourseError as error:
            problems.append(str(error))
    raise_if_any(problems)
    out_dir.mkdir(parents=True, exist_ok=True)
    for target, (version, _) in versions.items():
        nbformat.write(nbformat.from_dict(version), target)
    return {target: exercises for target, (_, exercises) in versions.items()}

