"""The nbgrader assignments (assignments/): their format, the feedback helpers, and grading.

Tests marked ``grading`` run nbgrader from the grading environment ``.venv-grading``
(``make grading-setup``; nbgrader never goes into the readers' ``.venv``) and fail when it
is missing. They generate the course on a copy, hand in a fixed set of synthetic
submissions (the full solution, the untouched release, an exception, an infinite loop,
wrong shapes, a NaN, edited test cells, the reference implementation imported) and assert
the score of each and the feedback it shows. The other tests only read files.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "assignments"
SOURCE = COURSE / "source"
GRADING_PYTHON = ROOT / ".venv-grading" / "bin" / "python"
GRADING_STAMP = ROOT / ".venv-grading" / ".installed"
NAMES = sorted(p.name for p in SOURCE.iterdir() if (p / f"{p.name}.ipynb").is_file())

sys.path.insert(0, str(SOURCE))
import checks  # noqa: E402  (assignments/source/checks.py)


def load(name: str) -> nbformat.NotebookNode:
    return nbformat.read(SOURCE / name / f"{name}.ipynb", as_version=4)


def nbg(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def cell_by_id(nb, grade_id: str):
    (cell,) = [c for c in nb.cells if nbg(c).get("grade_id") == grade_id]
    return cell


# ----------------------------------------------------------------------- the format

def test_at_least_four_assignments():
    assert len(NAMES) >= 4, f"expected at least four assignments in {SOURCE}; found {NAMES}"


@pytest.mark.parametrize("name", NAMES)
def test_assignment_format(name):
    path = SOURCE / name / f"{name}.ipynb"
    nb = load(name)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5) and all("id" in c for c in nb.cells)
    assert nb.metadata.kernelspec.name == "python3"
    assert all(c.get("outputs", []) == [] for c in nb.cells if c.cell_type == "code"), \
        f"{path} is stored with outputs"
    ids = [nbg(c)["grade_id"] for c in nb.cells if nbg(c)]
    assert len(ids) == len(set(ids)), f"{path}: duplicate grade ids"
    solutions = [c for c in nb.cells if nbg(c).get("solution") and c.cell_type == "code"]
    tests = [c for c in nb.cells if nbg(c).get("grade") and c.cell_type == "code"]
    manual = [c for c in nb.cells if nbg(c).get("grade") and c.cell_type == "markdown"]
    assert solutions and all("### BEGIN SOLUTION" in c.source and "### END SOLUTION"
                             in c.source for c in solutions)
    assert tests and all(nbg(c)["locked"] and nbg(c)["points"] > 0 for c in tests)
    hidden = [c for c in tests if "### BEGIN HIDDEN TESTS" in c.source]
    assert len(hidden) >= len(tests) - 1 and all("### END HIDDEN TESTS" in c.source
                                                 for c in hidden), \
        f"{path}: test cells have hidden parts (all but at most one)"
    assert manual and all(nbg(c)["points"] > 0 and nbg(c)["solution"] for c in manual), \
        f"{path}: at least one free-response cell graded by hand"
    for c in nb.cells:      # hidden tests only where nbgrader removes and restores them
        if "BEGIN HIDDEN TESTS" in c.source:
            assert c in tests
    text = " ".join(" ".join(c.source for c in nb.cells if c.cell_type == "markdown").split())
    assert "Learning goals" in text and "is not allowed" in text and "Chapter" in text


@pytest.mark.parametrize("name", NAMES)
def test_checks_module_is_shared(name):
    """One feedback module: every assignment folder links to source/checks.py."""
    link = SOURCE / name / "checks.py"
    assert link.is_symlink() and link.resolve() == (SOURCE / "checks.py").resolve()


def test_grading_requirements_share_the_pins():
    """requirements-grading.txt adds nbgrader 0.9.6 and constrains the rest to the pins."""
    def pins(path):
        out = {}
        for line in path.read_text().splitlines():
            line = line.split("#")[0].strip()
            if "==" in line:
                name, version = line.split("==")
                out[name.lower().replace("_", "-")] = version
        return out

    grading, main = ROOT / "requirements-grading.txt", ROOT / "requirements.txt"
    assert "-c requirements.txt" in grading.read_text()
    extra = pins(grading)
    assert extra["nbgrader"] == "0.9.6"
    assert not set(extra) & set(pins(main)), "a package pinned twice may pin two versions"
    ignored = (ROOT / ".gitignore").read_text()
    for generated in ("release/", "submitted/", "autograded/", "feedback/", "gradebook.db"):
        assert f"assignments/{generated}" in ignored


def test_course_config():
    """Cell timeout with interruption, course id, paths relative to the course folder."""
    text = (COURSE / "nbgrader_config.py").read_text()
    for setting in ('c.CourseDirectory.course_id = "rnn-tutor"',
                    "c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))",
                    "c.Execute.timeout = 60", "c.Execute.interrupt_on_timeout = True",
                    "ClearHiddenTests", "--InteractiveShell.xmode=Plain"):
        assert setting in text


# ----------------------------------------------------------------------- checks.py

def test_checks_messages():
    with pytest.raises(AssertionError, match=r"expected \(3, 2\), got \(2, 3\)"):
        checks.check_array(np.ones((2, 3)), np.zeros((3, 2)), "h", "seed=1")
    bad = np.zeros((2, 3))
    bad[1, 2] = np.nan
    with pytest.raises(AssertionError, match=r"NaN.*seed=4.*index \(1, 2\)"):
        checks.check_array(bad, np.zeros((2, 3)), "h", "seed=4")
    with pytest.raises(AssertionError, match=r"index \(0, 1\): expected 0, got 0\.5"):
        checks.check_array(np.array([[0.0, 0.5]]), np.zeros((1, 2)), "h")

    def broken(x):
        raise KeyError("W_hh")

    with pytest.raises(AssertionError, match=r"broken raised KeyError.*seed=3"):
        checks.call(broken, 1, context="seed=3")
    with pytest.raises(AssertionError, match="not implemented yet"):
        checks.call(lambda: (_ for _ in ()).throw(NotImplementedError()))
    with pytest.raises(AssertionError, match=r"should return 2 values \(h, cache\)"):
        checks.call(lambda: np.zeros(2), returns=("h", "cache"))
    assert checks.partial_credit(1.0, full=1.0, zero=2.0, points=6) == 6
    assert checks.partial_credit(1.5, full=1.0, zero=2.0, points=6) == 3
    assert checks.partial_credit(float("nan"), full=1.0, zero=2.0, points=6) == 0


def test_checks_detects_the_reference_implementation():
    from rnn_tutor import cells
    from rnn_tutor.cells import rnn_step_forward as imported

    with pytest.raises(AssertionError, match="not allowed"):
        checks.check_forbidden(imported)

    def wrapper(*args):
        return cells.rnn_step_forward(*args)

    def helper(*args):
        return wrapper(*args)

    def local_import(*args):
        from rnn_tutor.cells import rnn_step_forward
        return rnn_step_forward(*args)

    def method(corpus, model):
        return corpus.training_losses(model, 32)

    for fn in (wrapper, helper, local_import):
        with pytest.raises(AssertionError, match="not allowed"):
            checks.check_forbidden(fn)
    with pytest.raises(AssertionError, match="training_losses"):
        checks.check_forbidden(method, attributes=("training_losses",))
    checks.check_forbidden(method)                 # allowed unless named
    step = cells.rnn_step_forward

    def allowed(*args):
        return step(*args)

    checks.check_forbidden(allowed, allowed=(cells.rnn_step_forward,))

    def own(x):
        return np.tanh(x)

    checks.check_forbidden(own)


# ----------------------------------------------------------------------- grading

def _replace(nb, grade_id, source):
    cell_by_id(nb, grade_id).source = source
    return nb


def _synthetic_submissions(course: Path) -> dict:
    """assignment -> student -> notebook, the fixed set graded below."""
    def source(name):
        return nbformat.read(course / "source" / name / f"{name}.ipynb", as_version=4)

    def release(name):
        return nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)

    subs = {name: {"solution": source(name), "release": release(name)} for name in NAMES}
    a1 = subs["rnn_cell"]
    a1["exception"] = _replace(source("rnn_cell"), "rnn_step_forward", (
        "def rnn_step_forward(x, h_prev, W_xh, W_hh, b_h):\n"
        "    return {}['W_xh']   # a bug: KeyError\n"))
    a1["loop"] = _replace(source("rnn_cell"), "numerical_gradient", (
        "def numerical_gradient(f, x, eps=1e-6):\n"
        "    while True:\n"
        "        pass\n"))
    a1["shapes"] = _replace(source("rnn_cell"), "rnn_step_forward", (
        "def rnn_step_forward(x, h_prev, W_xh, W_hh, b_h):\n"
        "    h = np.tanh(x @ W_xh.T + h_prev @ W_hh.T + b_h)\n"
        "    return h.T, (x, h_prev, W_xh, W_hh, h)   # transposed by mistake\n"))
    a1["nan"] = _replace(source("rnn_cell"), "rnn_step_backward", (
        "def rnn_step_backward(dh, cache):\n"
        "    x, h_prev, W_xh, W_hh, h = cache\n"
        "    da = dh * (1.0 - h * h)\n"
        "    grads = {'W_xh': da.T @ x, 'W_hh': da.T @ h_prev * np.nan, 'b_h': da.sum(0)}\n"
        "    return da @ W_xh, da @ W_hh, grads\n"))
    edited = release("rnn_cell")
    for cell in edited.cells:
        if nbg(cell).get("grade") and cell.cell_type == "code":
            cell.source = "print('all tests passed')  # the student's edit"
    a1["edited_tests"] = edited
    reference = _replace(source("rnn_cell"), "rnn_step_forward",
                         "from rnn_tutor.cells import rnn_step_forward\n")
    a1["reference"] = _replace(reference, "numerical_gradient", (
        "import rnn_tutor.gradients\n\n"
        "def numerical_gradient(f, x, eps=1e-6):\n"
        "    return rnn_tutor.gradients.numerical_gradient(f, x, eps)\n"))
    return subs


# Points of rnn_cell's test cells: forward 2, backward 3, unrolling 2, numerical gradient 2.
EXPECTED_RNN_CELL = {
    "solution": 9, "release": 0,
    "exception": 2,         # forward raises: forward, backward and unrolling fail
    "loop": 7,              # numerical_gradient never returns: its cell is interrupted
    "shapes": 5,            # h transposed: forward and unrolling fail, backward passes
    "nan": 6,               # a NaN in grads["W_hh"]: backward fails
    "edited_tests": 0,      # the test cells are restored before grading
    "reference": 0,         # the package's functions: zero for each part that uses them
}
FEEDBACK = {   # a phrase each submission's graded notebook must show
    "exception": "rnn_step_forward raised KeyError: 'W_xh' (called with seed=0, B=2, D=3, H=4)",
    "loop": "CellTimeoutError",
    "shapes": "h from rnn_step_forward has the wrong shape (seed=0, B=2, D=3, H=4): "
              "expected (2, 4), got (4, 2)",
    "nan": "grads['W_hh'] contains 16 NaN or infinite entries (seed=0, B=2, D=3, H=4)",
    "reference": "is not allowed in this assignment, so this part scores zero",
    "release": "rnn_step_forward is not implemented yet",
}


def _grading(*args):
    """Run scripts/grading.py ARGS with the grading environment's Python."""
    proc = subprocess.run([str(GRADING_PYTHON), str(ROOT / "scripts" / "grading.py"),
                           *map(str, args)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Generate a copy of the course, hand in the synthetic submissions, autograde them."""
    if not GRADING_STAMP.is_file():
        pytest.fail("the grading environment .venv-grading is missing: run "
                    "`make grading-setup` (nbgrader is kept out of the readers' .venv)")
    course = tmp_path_factory.mktemp("grading") / "course"
    run = _grading
    run("generate-copy", course)
    for name, students in _synthetic_submissions(course).items():
        for student, nb in students.items():
            dest = course / "submitted" / student / name
            dest.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, dest / f"{name}.ipynb")
    # The infinite loop alone, with a 10 s cell timeout instead of the course's 60 s (the
    # same mechanism, a quarter of the wait); then everything else with the course's.
    loop = course / "loop.json"
    run("autograde", "--course", course, "--json", loop, "--assignment", "rnn_cell",
        "--student", "loop", "--timeout", 10)
    loop_scores = json.loads(loop.read_text())["rnn_cell"]["loop"]
    (course / "submitted" / "loop").rename(course / "loop-graded")
    out = course / "scores.json"
    run("autograde", "--course", course, "--json", out)
    scores = json.loads(out.read_text())
    scores["rnn_cell"]["loop"] = loop_scores
    return course, scores


@pytest.mark.grading
@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_source_full_marks_release_zero(graded, name):
    _, scores = graded
    solution, release = scores[name]["solution"], scores[name]["release"]
    assert solution["auto"] == solution["auto_max"] > 0, solution
    assert release["auto"] == 0, release
    assert solution["manual_max"] > 0                 # a free-response cell, graded by hand


@pytest.mark.grading
@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(EXPECTED_RNN_CELL))
def test_synthetic_submission_scores(graded, student):
    course, scores = graded
    got = scores["rnn_cell"][student]
    assert got["auto"] == EXPECTED_RNN_CELL[student], (student, got["cells"])
    if student in FEEDBACK:
        path = course / "autograded" / student / "rnn_cell" / "rnn_cell.ipynb"
        nb = nbformat.read(path, as_version=4)
        shown = json.dumps([c.get("outputs", []) for c in nb.cells])
        shown = re.sub(r"\\u001b\[[0-9;]*m", "", shown).replace('\\"', '"')
        assert FEEDBACK[student].replace('"', "'") in shown.replace('"', "'"), student


@pytest.mark.grading
@pytest.mark.slow
def test_edited_test_cells_are_restored(graded):
    course, _ = graded
    nb = nbformat.read(course / "autograded" / "edited_tests" / "rnn_cell" / "rnn_cell.ipynb",
                       as_version=4)
    restored = cell_by_id(nb, "test_rnn_step_forward").source
    assert "check_forbidden" in restored and "BEGIN HIDDEN TESTS" in restored


@pytest.mark.grading
@pytest.mark.slow
def test_feedback_hides_hidden_tests(graded):
    """nbgrader's feedback HTML would show hidden tests' source; the config removes it."""
    course, _ = graded
    _grading("feedback", "--course", course, "--assignment", "rnn_cell", "--student",
             "exception")
    html = (course / "feedback" / "exception" / "rnn_cell" / "rnn_cell.html").read_text()
    text = re.sub(r"<[^>]+>", "", html)
    assert "_test_step_forward(seed=0, B=2, D=3, H=4)" in text      # visible tests stay
    assert "seed=11" not in text and "HIDDEN TESTS" not in text       # hidden ones go
