"""The instructor's one command.

    python -m course_utils.instructor student [NOTEBOOK ...] [--out build/student]
    python -m course_utils.instructor grade SUBMISSIONS [--out build/grades] [--rubrics DIR] [--reference DIR]
    python -m course_utils.instructor stamp [NOTEBOOK ...] [--check]
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from ..errors import CourseError, problem
from . import REFERENCE_DIR
from .grading import grade_folder
from .stamps import stamp_files
from .student import write_student_versions

PROG = "python -m course_utils.instructor"
COMMANDS = ("student", "grade", "stamp")  # each one a function below and a sub-parser in parser()
EXAMPLES = f"""examples:
  {PROG} student             # make student: build/student/NN_*.ipynb
  {PROG} grade submissions/  # make grade SUBMISSIONS=submissions/: build/grades/
  {PROG} stamp               # make stamp, after editing a locked cell

`{PROG} COMMAND --help` lists a command's options."""


def _reference_notebooks() -> list[Path]:
    return sorted(REFERENCE_DIR.glob("[0-9][0-9]_*.ipynb"))


def student(args: argparse.Namespace) -> int:
    for target, exercises in write_student_versions(args.notebooks or _reference_notebooks(), args.out).items():
        print(f"{target}: {len(exercises)} exercise(s)" + "".join(f"\n  - {task}" for task in exercises))
    return 0


def grade(args: argparse.Namespace) -> int:
    graded = grade_folder(args.submissions, args.out, args.rubrics, args.reference)
    statuses = {s: sum(g.status == s for g in graded) for s in ("complete", "incomplete", "review", "invalid")}
    print(f"Graded {len(graded)} file(s): " + ", ".join(f"{n} {s}" for s, n in statuses.items()))
    print(f"Report: {args.out / 'report.md'}  Gradebook: {args.out / 'gradebook.csv'}  "
          f"Feedback: {args.out / 'feedback'}/")
    return 0


def stamp(args: argparse.Namespace) -> int:
    stale = stamp_files(args.notebooks or _reference_notebooks(), args.check)
    for path in stale:
        print(f"{path}: stamp {'out of date' if args.check else 'updated'}")
    if args.check and stale:
        print(f"Run: {PROG} stamp (or make stamp)")
    return 1 if args.check and stale else 0


def parser() -> argparse.ArgumentParser:
    """The command line: one sub-command per instructor task."""
    top = argparse.ArgumentParser(prog=PROG, description="Instructor tools for the bert-course notebooks.",
                                  epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(title="commands", dest="command", metavar="COMMAND")

    command = commands.add_parser("student", help="write student versions (solutions replaced by stubs)",
                                  description="Write student versions of the reference notebooks: every solution "
                                              "replaced by a stub that says what to write, every output cleared.")
    command.add_argument("notebooks", nargs="*", type=Path,
                         help=f"reference notebooks (default: every NN_*.ipynb in {REFERENCE_DIR})")
    command.add_argument("--out", type=Path, default=Path("build/student"), help="folder for the student versions")
    command.set_defaults(run=student)

    command = commands.add_parser("grade", help="grade a folder of executed submissions",
                                  description="Grade a folder of executed notebooks from what they show; writes "
                                              "gradebook.csv, report.md and one feedback file per submission.")
    command.add_argument("submissions", type=Path, help="folder holding the students' executed .ipynb files")
    command.add_argument("--out", type=Path, default=Path("build/grades"), help="where the grades go")
    command.add_argument("--rubrics", type=Path, default=None,
                         help="folder of NN_name.json rubrics (default: the shipped ones)")
    command.add_argument("--reference", type=Path, default=REFERENCE_DIR,
                         help="folder of the reference notebooks, to compare locked cells with")
    command.set_defaults(run=grade)

    command = commands.add_parser("stamp", help="stamp the reference notebooks (after editing a locked cell)",
                                  description="Write each notebook's name and its locked cells' fingerprint into "
                                              "its metadata, which the grader checks submissions against.")
    command.add_argument("notebooks", nargs="*", type=Path,
                         help=f"notebooks to stamp (default: every NN_*.ipynb in {REFERENCE_DIR})")
    command.add_argument("--check", action="store_true", help="only report stale stamps (exit 1 if any)")
    command.set_defaults(run=stamp)
    return top


def _unknown_command(argv: list[str]) -> str | None:
    """The problem with the first argument when it names no command (argparse's own message buries it)."""
    if not argv or argv[0].startswith("-") or argv[0] in COMMANDS:
        return None
    close = difflib.get_close_matches(argv[0], COMMANDS, n=1)
    fix = f"use `{PROG} {close[0]}`, the closest one" if close else f"`{PROG} --help` says what each one does"
    return problem("Command", f"one of {', '.join(COMMANDS)}", repr(argv[0]), fix)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    unknown = _unknown_command(argv)
    if unknown:
        print(unknown, file=sys.stderr)
        return 2
    top = parser()
    args = top.parse_args(argv)
    if args.command is None:
        top.print_help(sys.stderr)
        return 2
    try:
        return args.run(args)
    except CourseError as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
