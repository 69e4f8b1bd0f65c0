# rnn-tutor: `make book` sets everything up and builds the book; `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# apt needs root; elsewhere sudo is used when present.
SUDO   := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)

.PHONY: setup browser book student test test-fast bench stress reproduce clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -r requirements.txt
	$(BIN)/pip install --no-deps --no-build-isolation -e .
	touch $@

# Debian's Chromium for the browser tests (Playwright cannot download its own here).
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium chromium-driver; }

book: setup
	$(BIN)/python scripts/build_book.py

student: setup
	$(BIN)/python scripts/build_book.py --student

# Two pytest workers on two cores: one BLAS/OpenMP thread each, or torch's idle threads
# spin-wait against the other worker and every step slows down many times over.
PYTEST := OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadscope

test: setup browser
	$(BIN)/python scripts/build_book.py
	$(BIN)/python scripts/build_book.py --student
	$(PYTEST) tests
	$(PYTEST) --nbval-lax --nbval-current-env --nbval-cell-timeout=300 notebooks

test-fast: setup
	$(PYTEST) -m "not browser and not book and not slow" tests

# One thread for NumPy and torch alike: a like-for-like ratio that a busy machine
# cannot skew (two-thread torch spin-waits when the other core is taken).
bench: setup
	$(BIN)/python scripts/bench.py --threads 1

# Chapters 2 and 3 executed headless 20 times each, then every chapter 3 times; fails on
# the first stalled cell.
stress: setup
	OMP_NUM_THREADS=1 $(BIN)/python scripts/stress_headless.py
	OMP_NUM_THREADS=1 $(BIN)/python scripts/stress_headless.py --runs 3 notebooks/[0-9][0-9]_*.ipynb

reproduce: setup
	$(BIN)/python scripts/reproduce.py

clean:
	rm -rf _build _build_student
