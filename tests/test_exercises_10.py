"""Notebook 10's cleaning exercises (issue 12): the student assembles the raw export into one table and removes
exact duplicates; the check cell after each compares the result with the reference numbers of the same data.

One kernel runs notebook 10 (tiny profile, Hub off) up to the first exercise, asks for an unknown domain once,
then runs each planted wrong answer followed by its check cell, then the reference answer and the check. Planted
cells are tagged ``raises-exception`` so the run goes on; the test reads each check's error back.
"""

import nbclient
import nbformat
import pytest

from kernels import AsyncUnixSocketKernelManager
from nbrun import KERNEL_ENV, NOTEBOOK_DIR, Plant, environment, error_of, notebook_path, plant_tests, planted, raising

pytestmark = pytest.mark.notebook

EXERCISES = {  # exercise -> (text that finds its cell, text that finds its check cell)
    "assemble": ("def assemble(", 'check("every message collected"'),
    "dedup": ("def drop_exact_duplicates(", 'check("same rows as the reference"'),
}
# name -> (exercise, [(what to replace in the reference answer, by what)], the check's message must contain)
PLANTS = {
    "assemble skips the chat tool": (
        "assemble", [("for record in records]", 'for record in records if record["tool"] != "chat"]')],
        ["Check 'every message collected' failed: your table has ", "rows, the export has 559 messages"]),
    "assemble reads every tool with the help desk's field names": (
        "assemble", [('fields[record["tool"]].items()', 'fields["helpdesk"].items()')],
        ["Check 'labels read' failed: ", "the reference finds 547: is each tool's label field mapped to `label`?"]),
    "dedup keeps the duplicates": (
        "dedup", [("frame.drop_duplicates()", "frame")],
        ["Check 'no exact copy left' failed: 24 rows still repeat another row"]),
    "dedup drops every copy, the first too": (
        "dedup", [("frame.drop_duplicates()", 'frame.drop_duplicates(keep=False)')],
        ["Check 'same rows as the reference' failed: you kept 499 rows, the reference keeps 523 (it removes 24"]),
    "dedup keeps the old index": (
        "dedup", [("frame.drop_duplicates().reset_index(drop=True)", "frame.drop_duplicates()")],
        ["Check 'fresh index' failed: reset the index after dropping rows"]),
}
UNKNOWN_DOMAIN = ("Parameter `domain`: expected one of ['clinic_messages', 'support_tickets'], "
                  "found 'legal_contracts'. Fix: set `domain` in the parameters cell to one of those")


def index_of(nb, text) -> int:
    found = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and text in c.source]
    assert len(found) == 1, f"expected one code cell holding {text!r}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Notebook 10 up to its first exercise, an unknown domain, every plant + check, the reference + check."""
    folder = tmp_path_factory.mktemp("exercise10")
    nb = nbformat.read(notebook_path("10"), as_version=4)
    at = {name: (index_of(nb, find), index_of(nb, check)) for name, (find, check) in EXERCISES.items()}
    first = at["assemble"][0]
    before = [c for c in nb.cells[:first] if c.cell_type == "code"]
    params = next(c for c in before if "parameters" in c.metadata.get("tags", []))
    params.source += f'\nprofile = "tiny"\noutput_dir = {str(folder / "outputs")!r}\n'
    domain_cell = nb.cells[index_of(nb, "DOMAINS = json.loads(")]
    cells = list(before)
    labels = {}  # label -> position of its cell
    cells += [raising('domain = "legal_contracts"\n' + domain_cell.source),
              nbformat.v4.new_code_cell('domain = "support_tickets"\n' + domain_cell.source)]
    labels["unknown domain"] = len(cells) - 2
    between = [c for c in nb.cells[at["assemble"][1] + 1:at["dedup"][0]] if c.cell_type == "code"]
    for exercise in EXERCISES:
        exercise_cell, check_cell = nb.cells[at[exercise][0]], nb.cells[at[exercise][1]]
        checks = [c for c in nb.cells[at[exercise][0] + 1:at[exercise][1] + 1] if c.cell_type == "code"]
        for name, (which, changes, _) in PLANTS.items():
            if which != exercise:
                continue
            if exercise == "dedup":
                cells.append(nbformat.v4.new_code_cell("df = raw.copy()\ncleaning_log.clear()"))
            labels[name] = (len(cells), len(checks))
            cells += [planted(exercise_cell, changes)] + [raising(c.source) for c in checks]
        if exercise == "dedup":
            cells.append(nbformat.v4.new_code_cell("df = raw.copy()\ncleaning_log.clear()"))
        labels[f"reference {exercise}"] = len(cells)
        cells += [exercise_cell] + checks
        assert checks[-1] is check_cell
        if exercise == "assemble":
            cells += between
    run = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
    with environment(**KERNEL_ENV):
        nbclient.NotebookClient(run, kernel_name="python3", timeout=600,
                                resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
                                kernel_manager_class=AsyncUnixSocketKernelManager).execute()
    nbformat.write(run, folder / "planted.ipynb")  # for a human reading a failure
    return run.cells, labels


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []))


@pytest.mark.parametrize("name", list(PLANTS))
def test_check_rejects_a_planted_wrong_answer_with_its_message(executed, name):
    cells, labels = executed
    at, n_checks = labels[name]
    answer, checks = cells[at], cells[at + 1:at + 1 + n_checks]
    assert error_of(answer) is None, f"{name}: the planted answer should run, and the check catch it"
    found = error_of(checks[-1])
    assert found is not None, f"{name}: the check accepted a wrong answer"
    ename, message = found
    assert ename == "AssertionError", message
    for expected in PLANTS[name][2]:
        assert expected in message, f"{name}: {expected!r} not in the check's message:\n{message}"


@pytest.mark.parametrize("exercise", list(EXERCISES))
def test_check_accepts_the_reference_answer(executed, exercise):
    cells, labels = executed
    start = labels[f"reference {exercise}"]
    ran = cells[start:]
    end = next(i for i, c in enumerate(ran) if EXERCISES[exercise][1] in c.source) + 1
    assert all(error_of(c) is None for c in ran[:end]), [error_of(c) for c in ran[:end]]
    ticks = "".join(printed(c) for c in ran[:end])
    expected = {"assemble": ["✓ assembled columns", "✓ every message collected", "✓ labels read"],
                "dedup": ["exact duplicates: removed 24 row(s)", "✓ fresh index", "✓ no exact copy left",
                          "✓ same rows as the reference"]}[exercise]
    for tick in expected:
        assert tick in ticks, f"{tick!r} not printed:\n{ticks}"


def test_an_unknown_domain_says_expected_found_fix(executed):
    cells, labels = executed
    at = labels["unknown domain"]
    ename, message = error_of(cells[at])
    assert ename == "CourseError" and message.startswith(UNKNOWN_DOMAIN), message
    assert error_of(cells[at + 1]) is None and "domain: Brightdesk customer-support tickets" in printed(cells[at + 1])


# ------------------------------------ dates, decisions and oversampling, planted in one run (nbrun.run_plants)
MORE_PLANTS = {
    "an unknown date kept as it is": Plant(
        "try each format in DATE_FORMATS with datetime.strptime", [("    return None\n", "    return value\n")],
        "(None when no format matches)"),
    "a label spelled differently": Plant(
        "one entry per row you decided", [('"T10353": ("relabel", "billing"', '"T10353": ("relabel", "Billing"')],
        "spell the label as LABELS does", through="cu.errors.raise_if_any(decision_problems(DECISIONS, queue))"),
    "only the extra rows kept": Plant(
        "for each class, sample (largest - size) extra rows", [("pd.concat([frame, *extra])", "pd.concat(extra)")],
        "classes are not the same size after oversampling"),
}
planted_run, test_another_planted_wrong_answer_is_stopped = plant_tests("10", MORE_PLANTS)
