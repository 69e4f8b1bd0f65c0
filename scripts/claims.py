"""Execute every chapter under seeds it was not developed with, and report which claims hold.

    python scripts/claims.py                                    # every chapter, seeds 1000-1004
    python scripts/claims.py --seeds 7 8 notebooks/05_*.ipynb   # some chapters, other seeds
    python scripts/claims.py --jobs 2 --timeout 300             # two kernels at a time

Each chapter's conclusions are ``assert``ed in the notebook, with a message that states the
claim and the measured value, and its first code cell (tagged ``parameters``) holds
``seed``. For every chapter and every seed this script executes the chapter with papermill,
which injects ``seed = <seed>`` in a cell after the parameters cell, in a fresh ``python3``
kernel, with the chapter's folder as the working directory and the book build's code paths
(``RNN_TUTOR_BOOK_BUILD=1``) and one BLAS/OpenMP thread per kernel. A run passes when every
cell runs without an exception within the per-cell timeout; a failed run is recorded with
the cell that raised (its id) and the exception's message (for a claim: what was claimed
and what was measured).

The executed notebooks go to ``_build/claims/<chapter>-seed<seed>.ipynb`` (git-ignored);
the table of chapter x seed is written to ``_build/claims/report.md`` (and every run to
``results.json`` beside it) and printed. The exit status is 1 if any run failed.
``make claims`` runs the default; ``make claims CLAIMS_ARGS="--seeds 7 8 --jobs 2"`` others.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import glob
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHAPTERS = "notebooks/[0-9][0-9]_*.ipynb"
# Seeds no chapter was developed with: each chapter's default seed is 0 and its claims
# were checked on small seeds (0-19 and the like).
DEFAULT_SEEDS = [1000, 1001, 1002, 1003, 1004]
DEFAULT_OUT = ROOT / "_build" / "claims"
# One thread per kernel: on a 2-core machine torch's idle OpenMP threads spin-wait against
# the other kernel, and every step slows down many times over (see the Makefile).
KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
BOOK_BUILD_ENV = "RNN_TUTOR_BOOK_BUILD"  # rnn_tutor.book_build.BOOK_BUILD_ENV
SEED_LINE = re.compile(r"^\s*seed\s*=", re.MULTILINE)


def chapter_paths(patterns: list[str]) -> list[Path]:
    """The notebooks named by ``patterns`` (paths or globs, relative to the current
    directory or else to the repository), sorted, without duplicates."""
    paths: list[Path] = []
    for pattern in patterns or [DEFAULT_CHAPTERS]:
        matches = sorted(glob.glob(pattern)) or sorted(glob.glob(str(ROOT / pattern)))
        if not matches:
            raise SystemExit(f"claims.py: no notebook matches {pattern!r}")
        for match in matches:
            path = Path(match).resolve()
            if path not in paths:
                paths.append(path)
    return paths


def parameters_problem(path: Path) -> str | None:
    """Why papermill could not set ``seed`` in the notebook at ``path`` (None if it can)."""
    nb = json.loads(path.read_text())
    cells = [c for c in nb["cells"]
             if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        return "the notebook has no cell tagged `parameters`"
    if not any(SEED_LINE.search("".join(c["source"])) for c in cells):
        return "the cell tagged `parameters` does not set `seed`"
    return None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def failing_cell(output: Path) -> str | None:
    """The id of the cell that raised or did not finish, read from papermill's output."""
    if not output.is_file():
        return None
    nb = json.loads(output.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        status = cell.get("metadata", {}).get("papermill", {})
        errored = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        if errored or status.get("exception") or status.get("status") in ("failed", "running"):
            return cell.get("id")
    return None


def run(path: Path, seed: int, out: Path, timeout: int) -> dict:
    """Execute the chapter at ``path`` with ``seed``; return the run's record."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    chapter = path.stem
    output = out / f"{chapter}-seed{seed}.ipynb"
    record = {"chapter": chapter, "notebook": str(path), "seed": seed,
              "output": str(output), "passed": False, "seconds": 0.0,
              "cell": None, "message": None}
    problem = parameters_problem(path)
    if problem:
        record["message"], record["output"] = f"not run: {problem}", None
        return record
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(path), str(output), parameters={"seed": seed}, kernel_name="python3",
            cwd=str(path.parent), execution_timeout=timeout, progress_bar=False,
            log_output=False)
        record["passed"] = True
    except PapermillExecutionError as err:
        record["message"] = f"{err.ename}: {err.evalue}" if err.evalue else err.ename
    except Exception as err:  # a cell timeout, a dead kernel, ...
        lines = [line for line in str(err).strip().splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        record["message"] = f"{type(err).__name__}: {last}" if last else type(err).__name__
        if type(err).__name__ == "CellTimeoutError":
            record["message"] = f"CellTimeoutError: a cell did not finish within {timeout} s"
    record["seconds"] = round(time.perf_counter() - start, 1)
    if not record["passed"]:
        record["cell"] = failing_cell(output)
    return record


def _git_version() -> str:
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def _cell_text(record: dict) -> str:
    if record["passed"]:
        return f"pass ({record['seconds']:.0f} s)"
    where = f" in `{record['cell']}`" if record["cell"] else ""
    message = _one_line(record["message"]).replace("|", "\\|")
    return f"**FAIL**{where} ({record['seconds']:.0f} s): {message}"


def report(records: list[dict], chapters: list[Path], seeds: list[int], timeout: int,
           jobs: int, seconds: float) -> str:
    """The Markdown report: a table of chapter x seed, then each failure in full."""
    by_run = {(r["chapter"], r["seed"]): r for r in records}
    failed = [r for r in records if not r["passed"]]
    lines = [
        "# Claims under other seeds",
        "",
        f"Every chapter executed by `scripts/claims.py` with papermill (kernel `python3`, "
        f"working directory the chapter's folder, {BOOK_BUILD_ENV}=1, one BLAS/OpenMP "
        f"thread per kernel, {timeout} s per cell, {jobs} kernel(s) at a time) under seeds "
        f"{', '.join(map(str, seeds))}; {datetime.datetime.now():%Y-%m-%d %H:%M}, "
        f"source `{_git_version()}`, {seconds / 60:.1f} min in all.",
        "",
        f"**{len(records) - len(failed)} of {len(records)} runs passed.** A failure names "
        "the cell that raised (its id) and the exception's message: for a claim, what was "
        "claimed and what was measured.",
        "",
        "| chapter | " + " | ".join(f"seed {s}" for s in seeds) + " |",
        "|---|" + "---|" * len(seeds),
    ]
    for path in chapters:
        cells = [_cell_text(by_run[(path.stem, s)]) if (path.stem, s) in by_run else "not run"
                 for s in seeds]
        lines.append(f"| {path.stem} | " + " | ".join(cells) + " |")
    if failed:
        lines += ["", "## Failures", ""]
        for r in failed:
            where = [f"cell `{r['cell']}`"] if r["cell"] else []
            where.append(f"{r['seconds']:.0f} s")
            if r["output"]:
                where.append(f"executed notebook `{_shown(Path(r['output']))}`")
            lines += [f"- {r['chapter']}, seed {r['seed']} ({'; '.join(where)}):", "",
                      "  ```text"]
            lines += [f"  {line}" for line in str(r["message"]).splitlines()] + ["  ```", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*",
                        help=f"chapter notebooks, paths or globs (default {DEFAULT_CHAPTERS})")
    parser.add_argument("--seeds", type=int, nargs="+", default=DEFAULT_SEEDS,
                        help="seeds to inject (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="kernels running at the same time (default: %(default)s)")
    parser.add_argument("--timeout", type=int, default=600,
                        help="seconds a cell may take (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where the executed notebooks and the report go "
                             "(default: _build/claims)")
    args = parser.parse_args(argv)

    chapters = chapter_paths(args.notebooks)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    # Inherited by every kernel; an explicit thread count in the environment is kept.
    for key, value in KERNEL_ENV.items():
        os.environ.setdefault(key, value)
    os.environ[BOOK_BUILD_ENV] = "1"

    todo = [(path, seed) for path in chapters for seed in args.seeds]
    print(f"{len(chapters)} chapter(s) x {len(args.seeds)} seed(s) = {len(todo)} runs, "
          f"{args.jobs} at a time; executed notebooks in {out}", flush=True)
    start = time.perf_counter()
    records = []

    def done(record: dict) -> None:
        records.append(record)
        verdict = "pass" if record["passed"] else f"FAIL: {_one_line(record['message'])}"
        print(f"[{len(records)}/{len(todo)}] {record['chapter']} seed {record['seed']}: "
              f"{verdict} ({record['seconds']:.1f} s)", flush=True)

    if args.jobs <= 1:
        for path, seed in todo:
            done(run(path, seed, out, args.timeout))
    else:
        with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(run, path, seed, out, args.timeout) for path, seed in todo]
            for future in concurrent.futures.as_completed(futures):
                done(future.result())
    seconds = time.perf_counter() - start

    order = {(path.stem, seed): i for i, (path, seed) in enumerate(todo)}
    records.sort(key=lambda r: order[(r["chapter"], r["seed"])])
    text = report(records, chapters, args.seeds, args.timeout, args.jobs, seconds)
    (out / "report.md").write_text(text)
    (out / "results.json").write_text(json.dumps(records, indent=1) + "\n")
    print("\n" + text)
    print(f"report written to {out / 'report.md'}")
    return 0 if all(r["passed"] for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
