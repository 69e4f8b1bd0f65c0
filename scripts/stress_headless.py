"""Execute chapters headless, many times in a row, and fail on the first stalled cell.

    python scripts/stress_headless.py                       # chapters 2 and 3, 20 runs each
    python scripts/stress_headless.py --runs 5 notebooks/0[1-7]_*.ipynb
    python scripts/stress_headless.py --book-build          # as the book build runs them

Each run starts a fresh kernel (nbclient, as nbval, papermill and the book build use) with a
per-cell timeout; a cell that does not finish in time is a stall, reported with the
chapter, the run and the cell, and the script exits non-zero. At the end it prints each
chapter's slowest and median run. ``make stress`` runs the default.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError

from rnn_tutor.book_build import BOOK_BUILD_ENV

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ["notebooks/02_rnn_cell.ipynb", "notebooks/03_char_language_model.ipynb"]


def run_once(path: Path, timeout: int) -> float:
    """Execute the notebook at ``path`` once in a fresh kernel; return the seconds taken."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", default=DEFAULT)
    parser.add_argument("--runs", type=int, default=20, help="runs per notebook")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell")
    parser.add_argument("--book-build", action="store_true",
                        help=f"set {BOOK_BUILD_ENV}=1 (the static book's code paths)")
    args = parser.parse_args(argv)
    if args.book_build:
        os.environ[BOOK_BUILD_ENV] = "1"
    times = {}
    for name in args.notebooks:
        path = (ROOT / name).resolve()
        times[name] = []
        for run in range(1, args.runs + 1):
            try:
                seconds = run_once(path, args.timeout)
            except CellTimeoutError as err:
                print(f"STALL: {name}, run {run}: a cell did not finish within "
                      f"{args.timeout} s\n{str(err)[:2000]}", flush=True)
                return 1
            times[name].append(seconds)
            print(f"{name} run {run:2d}: {seconds:6.1f} s", flush=True)
    for name, ts in times.items():
        print(f"{name}: {len(ts)} runs, median {statistics.median(ts):.1f} s, "
              f"slowest {max(ts):.1f} s, no stall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
