"""Feedback helpers for the rnn-tutor assignments (nbgrader test cells import them).

One small module, shared by every assignment: ``source/<name>/checks.py`` is a symbolic
link to ``source/checks.py``, so each release carries a copy, and nbgrader's autograde
puts the instructor's copy back over whatever a student handed in.

Every helper turns a failure into an ``AssertionError`` whose message a student can act
on: which function, called with which shapes and which seed; which shape was expected
and which was given; which entry differs and by how much; where a NaN appeared; what
exception the function raised. A test cell that fails scores zero for its points and
shows that message; the grader itself never crashes.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
import warnings

import numpy as np

__all__ = ["call", "check_array", "check_close", "check_keys", "check_forbidden",
           "partial_credit", "random_arrays"]


def random_arrays(seed: int, *shapes, scale: float = 0.5):
    """Float64 Gaussian arrays of the given shapes (times ``scale``) from one ``seed``."""
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(shape) for shape in shapes]


def call(fn, *args, context: str = "", returns=None, **kwargs):
    """Call a student's function; an exception becomes a clear AssertionError.

    ``context`` (e.g. "seed=3, B=2, D=4, H=5") says what it was called with. ``returns``,
    a tuple of names, says the function must return a tuple of that many values. Warnings
    (e.g. NumPy's overflow warnings) are recorded instead of written to stderr, where
    nbgrader would take them for a failure of the whole cell.
    """
    name = getattr(fn, "__name__", repr(fn))
    where = f" (called with {context})" if context else ""
    try:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            with np.errstate(all="ignore"):
                result = fn(*args, **kwargs)
    except NotImplementedError:
        raise AssertionError(f"{name} is not implemented yet: it still raises "
                             f"NotImplementedError{where}.") from None
    except Exception as err:  # noqa: BLE001 - any bug in student code is feedback
        raise AssertionError(f"{name} raised {type(err).__name__}: {err}{where}.") from None
    if returns is not None and (not isinstance(result, (tuple, list))
                                or len(result) != len(returns)):
        got = (f"{len(result)} values" if isinstance(result, (tuple, list))
               else f"one {type(result).__name__}")
        raise AssertionError(f"{name} should return {len(returns)} values "
                             f"({', '.join(returns)}); it returned {got}{where}.")
    return result


def check_keys(d, keys, what: str) -> None:
    """Assert that ``d`` is a dict with exactly the keys ``keys``."""
    if not isinstance(d, dict):
        raise AssertionError(f"{what} should be a dict with keys {list(keys)}; got "
                             f"{type(d).__name__}.")
    if set(d) != set(keys):
        raise AssertionError(f"{what} should have the keys {sorted(keys)}; got "
                             f"{sorted(map(str, d))}.")


def _as_array(value, what):
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach"):                       # a torch tensor
        return value.detach().cpu().numpy()
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise AssertionError(f"{what} should be a NumPy array; got "
                             f"{type(value).__name__}.") from None
    return arr


def check_array(got, expected, what: str, context: str = "", atol: float = 1e-6,
                rtol: float = 1e-5) -> None:
    """Assert that ``got`` has ``expected``'s shape, is finite, and matches it.

    The message names ``what`` (e.g. "dh_prev from rnn_step_backward"), ``context``
    (e.g. "seed=7, B=3, D=4, H=5"), and on a mismatch the entry with the largest
    difference, both values, and how many entries are off.
    """
    where = f" ({context})" if context else ""
    expected = np.asarray(expected, dtype=float)
    got = _as_array(got, what)
    if got.shape != expected.shape:
        raise AssertionError(f"{what} has the wrong shape{where}: expected "
                             f"{expected.shape}, got {got.shape}.")
    if not np.issubdtype(got.dtype, np.number):
        raise AssertionError(f"{what} should hold numbers; got dtype {got.dtype}{where}.")
    got = got.astype(float)
    bad = ~np.isfinite(got)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(f"{what} contains {int(bad.sum())} NaN or infinite "
                             f"entries{where}; the first is at index {idx} "
                             f"(value {got[idx]}).")
    diff = np.abs(got - expected)
    tol = atol + rtol * np.abs(expected)
    wrong = diff > tol
    if wrong.any():
        idx = tuple(int(i) for i in np.unravel_index(np.argmax(diff - tol), diff.shape))
        raise AssertionError(
            f"{what} differs from the expected values{where}: {int(wrong.sum())} of "
            f"{wrong.size} entries are off; the largest difference is at index {idx}: "
            f"expected {expected[idx]:.6g}, got {got[idx]:.6g} (difference "
            f"{diff[idx]:.3g}, tolerance {tol[idx]:.3g}).")


def check_close(got, expected, what: str, context: str = "", rtol: float = 1e-6,
                atol: float = 1e-9) -> None:
    """Assert that a single number ``got`` is finite and close to ``expected``."""
    where = f" ({context})" if context else ""
    try:
        value = float(np.asarray(got, dtype=float).reshape(()))
    except (TypeError, ValueError):
        raise AssertionError(f"{what} should be a single number{where}; got "
                             f"{type(got).__name__} {np.shape(got)}.") from None
    if not np.isfinite(value):
        raise AssertionError(f"{what} is {value}{where}; expected {expected:.6g}.")
    if abs(value - expected) > atol + rtol * abs(expected):
        raise AssertionError(f"{what} is {value:.6g}{where}; expected {expected:.6g} "
                             f"(difference {abs(value - expected):.3g}).")


# ------------------------------------------------------------------ the reference rule

def _names_used(code: types.CodeType):
    """Every global name a function's code (and its nested functions) refers to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_used(const)
    return names


def _filled(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:                              # a closure variable not yet assigned
        return False
    return True


def _forbidden(obj, modules) -> str | None:
    """The forbidden module ``obj`` is, or comes from (None if it is allowed)."""
    if isinstance(obj, types.ModuleType):
        name = obj.__name__
    else:
        name = getattr(obj, "__module__", None) or ""
    for module in modules:
        if name == module or name.startswith(module + "."):
            return name
    return None


def check_forbidden(fn, modules=("rnn_tutor",), attributes=(), allowed=()) -> None:
    """Fail if the student's ``fn`` is, or uses, the package's reference implementation.

    Flags: ``fn`` itself coming from one of ``modules``; any global name its code uses
    (also inside helper functions it calls, defined in the notebook) that is such a
    module or an object from one, except those in ``allowed``; an ``import`` of one of
    ``modules`` inside the function; any attribute in ``attributes`` it looks up (e.g. a
    method of a package object that does the whole job).
    """
    name = getattr(fn, "__name__", repr(fn))
    rule = (f"{name} must be your own code: using the package's reference "
            f"implementation ({{}}) is not allowed in this assignment, so this part "
            f"scores zero.")
    found = _forbidden(fn, modules)
    if found:
        raise AssertionError(rule.format(f"{name} is {found}.{name}"))
    seen, todo = set(), [fn]
    while todo:
        f = todo.pop()
        f = getattr(f, "__func__", f)
        code = getattr(f, "__code__", None)
        if code is None or id(f) in seen:
            continue
        seen.add(id(f))
        glob = dict(getattr(f, "__globals__", {}))
        closure = {name: c.cell_contents for name, c in
                   zip(code.co_freevars, getattr(f, "__closure__", None) or ()) if _filled(c)}
        for used in sorted(_names_used(code) | set(closure)):
            if used not in glob and used not in closure:
                continue
            obj = closure[used] if used in closure else glob[used]
            if any(obj is a for a in allowed):
                continue
            found = _forbidden(obj, modules)
            if found:
                raise AssertionError(rule.format(f"it uses {used!r} from {found}"))
            if inspect.isfunction(obj) and obj.__module__ == f.__module__:
                todo.append(obj)                    # a helper defined in the notebook
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(f)))
        except (OSError, TypeError, SyntaxError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imported = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                            else [a.name for a in node.names])
                for mod in imported:
                    if any(mod == m or mod.startswith(m + ".") for m in modules):
                        raise AssertionError(rule.format(f"it imports {mod}"))
            if isinstance(node, ast.Attribute) and node.attr in attributes:
                raise AssertionError(rule.format(f"it calls .{node.attr}"))


def partial_credit(value: float, full: float, zero: float, points: float) -> float:
    """Points earned by ``value`` on a linear scale: ``points`` at ``full``, 0 at ``zero``.

    For a loss (lower is better) pass ``full < zero``. Returned rounded to 2 decimals,
    as the last expression of a test cell nbgrader reads it as the cell's score.
    """
    if not np.isfinite(value):
        return 0.0
    frac = (zero - value) / (zero - full)
    return round(float(points * min(max(frac, 0.0), 1.0)), 2)
