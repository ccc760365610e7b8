"""One exception type for every mistake the course can explain."""

from __future__ import annotations


class CourseError(ValueError):
    """A problem a student can fix: the message says what was expected, what was found, and how to fix it."""


def problem(what: str, expected: str, found: str, fix: str) -> str:
    """Format one problem in the course's three-part shape.

    >>> print(problem("Column 'text'", "a column named 'text'", "columns ['review']", "pass text_column='review'"))
    Column 'text': expected a column named 'text', found columns ['review']. Fix: pass text_column='review'.
    """
    return f"{what}: expected {expected}, found {found}. Fix: {fix}."


def raise_if_any(problems: list[str]) -> None:
    """Raise one CourseError that lists every problem found, or do nothing when there are none."""
    if len(problems) == 1:
        raise CourseError(problems[0])
    if problems:
        raise CourseError(f"{len(problems)} problems:\n" + "\n".join(f"- {p}" for p in problems))
