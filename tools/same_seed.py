"""Same seed, same numbers: compare the metrics of two runs of every notebook (tiny profile).

    .venv/bin/python tools/same_seed.py FIRST SECOND

FIRST and SECOND hold one folder per notebook with its results.json (`make test-core` writes the papermill run to
build/test-core/papermill/ and the nbval run to build/test-core/nbval/). Every metric must be identical, except
the ones that time something (CLOCK_WORDS). Prints one line per notebook; exits 1, listing every difference, when a
notebook's metrics differ or a notebook did not run twice.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Metrics that time something read the clock, and no two runs take the same time: they are not compared. A metric
# is one when its name says so: it ends in "_s" (train_runtime_s) or holds one of these words.
CLOCK_WORDS = ("seconds", "runtime", "speedup", "per_second")
CLOCK: dict[str, set[str]] = {}  # notebook -> clock metrics whose names do not say so (none yet)
# Metrics allowed to move by a little: notebook -> {metric: (absolute tolerance, which library and why)}. Empty:
# two tiny-profile runs on one machine have given bit-identical metrics in every notebook (torch on CPU, every
# sampler seeded). Add an entry only with the library that makes identity impossible and why.
TOLERANCE: dict[str, dict[str, tuple[float, str]]] = {}


def notebooks() -> list[str]:
    """Every course notebook's name, e.g. "03_text_classification"."""
    return [p.stem for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]


def is_clock(name: str, key: str) -> bool:
    """True for a metric that times something (see CLOCK_WORDS and CLOCK)."""
    return key.endswith("_s") or any(word in key for word in CLOCK_WORDS) or key in CLOCK.get(name, set())


def differences(name: str, first: dict, second: dict) -> list[str]:
    """What differs between two runs' metrics of notebook ``name`` (empty: the same numbers)."""
    found = []
    for key in sorted(set(first) | set(second)):
        if is_clock(name, key):
            continue
        if key not in first or key not in second:
            found.append(f"{key}: only in the {'first' if key in first else 'second'} run")
            continue
        a, b = first[key], second[key]
        tol, _ = TOLERANCE.get(name, {}).get(key, (0.0, ""))
        same = a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
        if not same and not (tol and abs(a - b) <= tol):
            found.append(f"{key}: {a!r} vs {b!r} (difference {b - a:+.3g})" if _numbers(a, b) else
                         f"{key}: {a!r} vs {b!r}")
    return found


def _numbers(*values) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def metrics_of(folder: Path, name: str) -> dict | None:
    """The metrics of ``folder/name/results.json``, or None when that run is missing."""
    path = folder / name / "results.json"
    return json.loads(path.read_text())["metrics"] if path.is_file() else None


def compare(first: Path, second: Path, names: list[str]) -> list[str]:
    """Print one line per notebook; return the failures, one line each."""
    failures = []
    for name in names:
        a, b = metrics_of(first, name), metrics_of(second, name)
        if a is None or b is None:
            missing = " and ".join(str(f / name / "results.json") for f, m in ((first, a), (second, b)) if m is None)
            failures.append(f"{name}: not run twice (missing {missing})")
            print(f"{name:26} MISSING")
            continue
        diff = differences(name, a, b)
        skipped = sorted(k for k in a if is_clock(name, k))
        note = f" (clock, not compared: {', '.join(skipped)})" if skipped else ""
        print(f"{name:26} {'DIFFERS' if diff else 'identical'}: {len(set(a) - set(skipped))} metrics{note}")
        failures += [f"{name}: {d}" for d in diff]
    return failures


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    failures = compare(Path(argv[0]), Path(argv[1]), notebooks())
    if failures:
        print("\nSame seed, different numbers (or a missing run):\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("same seed, same metrics: every notebook")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
