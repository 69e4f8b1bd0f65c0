# rnn-tutor: `make book` sets everything up and builds the book; `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# apt needs root; elsewhere sudo is used when present.
SUDO   := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)

.PHONY: setup browser assets book student test test-fast bench stress reproduce claims clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -r requirements.txt
	$(BIN)/pip install --no-deps --no-build-isolation -e .
	# An editable install leaves out data files: link the JupyterLab extension, which the
	# wheel installs to the same place (pyproject.toml), so edits to it show at once.
	mkdir -p $(VENV)/share/jupyter/labextensions
	ln -sfn $(CURDIR)/labextension $(VENV)/share/jupyter/labextensions/rnn-tutor-lab
	touch $@

# Debian's Chromium for the browser tests (Playwright cannot download its own here).
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium chromium-driver; }

# Build-time JavaScript for the book's assets (book/_ext/offline_assets.py bundles plotly.js
# with only the trace types the book draws, and keeps only the icons its pages show): the
# exact versions of package-lock.json, from the npm registry; Debian's Node.js if npm is
# missing.
NPM_STAMP := node_modules/.installed

assets: $(NPM_STAMP)

$(NPM_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y nodejs npm; }
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

book: setup assets
	$(BIN)/python scripts/build_book.py

student: setup assets
	$(BIN)/python scripts/build_book.py --student

# Two pytest workers on two cores: one BLAS/OpenMP thread each, or torch's idle threads
# spin-wait against the other worker and every step slows down many times over.
PYTEST := OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadscope

test: setup browser grading-setup assets
	$(BIN)/python scripts/build_book.py
	$(BIN)/python scripts/build_book.py --student
	$(PYTEST) tests
	$(PYTEST) --nbval-lax --nbval-current-env --nbval-cell-timeout=300 notebooks

test-fast: setup
	$(PYTEST) -m "not browser and not book and not slow" tests

# One thread for NumPy and torch alike: a like-for-like ratio that a busy machine
# cannot skew (two-thread torch spin-waits when the other core is taken).
bench: setup browser
	$(BIN)/python scripts/bench.py --threads 1
	$(BIN)/python scripts/bench_lab.py

# Chapters 2 and 3 executed headless 20 times each, then every chapter 3 times; fails on
# the first stalled cell.
stress: setup
	OMP_NUM_THREADS=1 $(BIN)/python scripts/stress_headless.py
	OMP_NUM_THREADS=1 $(BIN)/python scripts/stress_headless.py --runs 3 notebooks/[0-9][0-9]_*.ipynb

reproduce: setup
	$(BIN)/python scripts/reproduce.py

# Every chapter executed (papermill) under seeds it was not developed with, one kernel
# thread each; the table of chapter x seed goes to _build/claims/report.md. Other seeds,
# chapters or two kernels at a time: make claims CLAIMS_ARGS="--seeds 7 8 --jobs 2".
CLAIMS_ARGS ?=
claims: setup
	OMP_NUM_THREADS=1 $(BIN)/python scripts/claims.py $(CLAIMS_ARGS)

clean:
	rm -rf _build _build_student

# Assignments (nbgrader). nbgrader enables JupyterLab and server extensions when it is
# installed, so it lives in its own environment, never in $(VENV): .venv-grading holds
# requirements-grading.txt together with the project's pins and the package (the
# assignments import numpy, torch and rnn_tutor). See book/instructor.md.
GRADING_VENV ?= .venv-grading
GBIN   := $(GRADING_VENV)/bin
GSTAMP := $(GRADING_VENV)/.installed

.PHONY: grading-setup assignments grade test-assignments

grading-setup: $(GSTAMP)

$(GSTAMP): requirements.txt requirements-grading.txt pyproject.toml
	$(PYTHON) -m venv $(GRADING_VENV)
	$(GBIN)/pip install -r requirements.txt -r requirements-grading.txt
	$(GBIN)/pip install --no-deps --no-build-isolation -e .
	touch $@

# Release versions of every assignment into assignments/release/, then check (on a copy
# of the course) that each source notebook scores full marks and each untouched release
# notebook zero, without a grader error.
assignments: grading-setup
	OMP_NUM_THREADS=1 $(GBIN)/python scripts/grading.py check

# Autograde everything in assignments/submitted/ and export assignments/grades.csv.
grade: grading-setup
	OMP_NUM_THREADS=1 $(GBIN)/python scripts/grading.py grade

# The synthetic submissions of tests/test_assignments.py (solution, untouched release,
# exception, infinite loop, wrong shapes, NaN, edited test cell, reference import).
test-assignments: setup grading-setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest tests/test_assignments.py
