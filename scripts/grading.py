"""Generate, check and grade the nbgrader assignments in assignments/ (grading venv only).

Run with the grading environment's Python (``make grading-setup`` makes
``.venv-grading``; nbgrader is never installed into the readers' ``.venv``):

    python scripts/grading.py generate            # release/ for every assignment
    python scripts/grading.py check               # source = full marks, release = zero
    python scripts/grading.py grade               # autograde submitted/, write grades.csv
    python scripts/grading.py feedback [--assignment A] [--student S]
    python scripts/grading.py autograde --course DIR --json OUT [--assignment A]
                                        [--student S] [--timeout SECONDS]

``check`` works on a temporary copy of the course (its own gradebook), so the real
``assignments/gradebook.db`` only ever holds real students. ``autograde`` grades what is in
``DIR/submitted`` and writes every notebook's scores as JSON (what
``tests/test_assignments.py`` reads). Every nbgrader command runs from the course folder
(its ``nbgrader_config.py`` sets the cell timeout and the course id), with one BLAS thread
and the grading environment's own Python kernel.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "assignments"


def assignments(course: Path = COURSE) -> list[str]:
    """The assignment names: every folder of source/ holding ``<name>/<name>.ipynb``."""
    return sorted(p.name for p in (course / "source").iterdir()
                  if (p / f"{p.name}.ipynb").is_file())


def _env() -> dict:
    env = dict(os.environ)
    # nbgrader runs this environment's `alembic` command (it upgrades the gradebook).
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONWARNINGS="ignore::DeprecationWarning",
               # Kernels come from this environment only (not a user's own "python3").
               JUPYTER_DATA_DIR=str(Path(sys.prefix) / "share" / "jupyter"))
    return env


def nbgrader(course: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in ``course``; on failure show its log and raise."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    proc = subprocess.run(cmd, cwd=course, env=_env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"nbgrader {' '.join(args)} failed (exit {proc.returncode})")
    return proc


def generate(course: Path = COURSE) -> None:
    """``release/<name>/`` for every assignment (the notebooks students get)."""
    nbgrader(course, "generate_assignment", "*", "--force")      # one process for all
    for name in assignments(course):
        if not (course / "release" / name / f"{name}.ipynb").is_file():
            raise SystemExit(f"nbgrader did not generate {course.name}/release/{name}")
        print(f"generated {course.name}/release/{name}/{name}.ipynb")


def copy_course(dest: Path) -> Path:
    """A fresh course folder in ``dest``: the config and source/ (links resolved)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(COURSE / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copytree(COURSE / "source", dest / "source", symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    return dest


def scores(course: Path) -> dict:
    """Every graded notebook in ``course``'s gradebook: assignment -> student -> scores.

    Each entry: ``auto`` (points from the autograded test cells), ``auto_max``, ``manual_max``
    (points of the free-response cells, graded by hand later), ``cells`` (grade id ->
    [score or None, max]) and ``errors`` (test cells that scored less than full marks).
    """
    from nbgrader.api import Gradebook

    out: dict = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for assignment in gb.assignments:
            for nb in assignment.notebooks:
                for sub in nb.submissions:
                    cells, auto, auto_max, manual_max = {}, 0.0, 0.0, 0.0
                    for grade in sub.grades:
                        manual = grade.cell.cell_type == "markdown" or grade.auto_score is None
                        cells[grade.name] = [grade.score, grade.max_score]
                        if manual:
                            manual_max += grade.max_score
                        else:
                            auto += grade.score or 0.0
                            auto_max += grade.max_score
                    out.setdefault(assignment.name, {})[sub.student.id] = {
                        "auto": round(auto, 2), "auto_max": auto_max,
                        "manual_max": manual_max, "cells": cells}
    return out


def autograde(course: Path, assignment: str | None = None, student: str | None = None,
              timeout: int | None = None) -> dict:
    """Autograde ``course/submitted`` (all, or one assignment/student); return scores."""
    name = assignment or "*"                # "*": every assignment, in one process
    args = ["autograde", name, "--force"]
    if student:
        args.append(f"--student={student}")
    if timeout:
        args.append(f"--Execute.timeout={timeout}")
    start = time.perf_counter()
    proc = nbgrader(course, *args, check=False)
    if proc.returncode != 0 or "[ERROR]" in proc.stderr:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"nbgrader autograde {name} failed (exit {proc.returncode})")
    graded = len(list((course / "autograded").glob("*/*/*.ipynb")))
    print(f"autograded {name} in {time.perf_counter() - start:.1f} s ({graded} notebooks "
          f"in autograded/)", file=sys.stderr)
    return scores(course)


def feedback(course: Path, assignment: str | None = None, student: str | None = None) -> None:
    """Feedback HTML for autograded notebooks into ``course/feedback`` (hidden tests removed)."""
    args = ["generate_feedback", assignment or "*", "--force"]
    if student:
        args.append(f"--student={student}")
    nbgrader(course, *args)


def submit(course: Path, assignment: str, student: str, notebook: Path) -> None:
    """Put ``notebook`` in ``course`` as ``student``'s submission of ``assignment``."""
    dest = course / "submitted" / student / assignment
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(notebook, dest / f"{assignment}.ipynb")
    (dest / "timestamp.txt").write_text("2026-01-01 12:00:00.000000 UTC\n")


def check(names=None) -> int:
    """Every source notebook scores full marks, every untouched release scores zero."""
    names = names or assignments(COURSE)
    generate(COURSE)
    failures = []
    with tempfile.TemporaryDirectory(prefix="rnn-tutor-check-") as tmp:
        course = copy_course(Path(tmp) / "course")
        generate(course)
        for name in names:
            submit(course, name, "source", course / "source" / name / f"{name}.ipynb")
            submit(course, name, "release", course / "release" / name / f"{name}.ipynb")
        result = autograde(course)
    for name in names:
        for student, expected in (("source", "full"), ("release", "zero")):
            s = result.get(name, {}).get(student)
            if s is None:
                failures.append(f"{name}: the {student} notebook was not graded")
                continue
            want = s["auto_max"] if expected == "full" else 0.0
            ok = abs(s["auto"] - want) < 1e-9 and s["auto_max"] > 0
            print(f"{name:12s} {student:8s} {s['auto']:5.1f} / {s['auto_max']:.0f} autograded "
                  f"(+{s['manual_max']:.0f} by hand)  {'ok' if ok else 'WRONG'}")
            if not ok:
                off = {k: v for k, v in s["cells"].items() if v[0] != (v[1] if expected ==
                                                                     "full" else 0)}
                failures.append(f"{name}: the {student} notebook scored {s['auto']} of "
                                f"{s['auto_max']}, expected {expected} marks; cells {off}")
    for failure in failures:
        print("FAILED:", failure, file=sys.stderr)
    return 1 if failures else 0


def grade() -> int:
    """Autograde everything in assignments/submitted and export assignments/grades.csv."""
    if not any((COURSE / "submitted").glob("*/*")):
        print("nothing in assignments/submitted/ (collect submissions first)")
        return 1
    generate(COURSE)   # the gradebook must know every assignment (and its hidden tests)
    for name, students in autograde(COURSE).items():
        for student, s in sorted(students.items()):
            print(f"{name:12s} {student:16s} {s['auto']:5.1f} / {s['auto_max']:.0f}")
    nbgrader(COURSE, "export", "--to=grades.csv")
    print(f"wrote {COURSE.relative_to(ROOT)}/grades.csv")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("generate")
    chk = sub.add_parser("check")
    chk.add_argument("names", nargs="*", help="assignments to check (default: all)")
    sub.add_parser("grade")
    auto = sub.add_parser("autograde")
    auto.add_argument("--course", type=Path, required=True)
    auto.add_argument("--json", type=Path, required=True)
    auto.add_argument("--assignment")
    auto.add_argument("--student")
    auto.add_argument("--timeout", type=int)
    fb = sub.add_parser("feedback")
    fb.add_argument("--course", type=Path, default=COURSE)
    fb.add_argument("--assignment")
    fb.add_argument("--student")
    gen = sub.add_parser("generate-copy", help="copy the course to DEST and generate it")
    gen.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    if args.command == "generate":
        generate()
    elif args.command == "check":
        return check(args.names)
    elif args.command == "grade":
        return grade()
    elif args.command == "feedback":
        feedback(args.course, args.assignment, args.student)
    elif args.command == "generate-copy":
        generate(copy_course(args.dest))
    else:
        result = autograde(args.course, args.assignment, args.student, args.timeout)
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
