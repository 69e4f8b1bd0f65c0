"""Input checks shared by the whole package.

Every public function validates what it is given with these helpers, so a wrong shape,
dtype or name fails at once with a message that says what was expected and what was
given, instead of being broadcast silently or surfacing as a cryptic NumPy error.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    "as_float_array",
    "check_shape",
    "check_positive_int",
    "check_nonnegative_int",
    "check_positive_float",
    "check_choice",
]


def as_float_array(a, name: str, ndim: int | Sequence[int] | None = None,
                   dtype=None, allow_nonfinite: bool = False) -> np.ndarray:
    """Return ``a`` as a floating-point ndarray, or raise a clear error.

    Parameters
    ----------
    a : array_like
        The value to check. Integer, boolean, complex and object arrays are refused: a
        network's inputs and weights are real numbers, and silently casting integers
        hides bugs such as passing token indices where one-hot vectors are expected.
    name : str
        The argument's name, used in error messages.
    ndim : int or sequence of int, optional
        Allowed number(s) of dimensions.
    dtype : numpy dtype, optional
        Cast to this floating dtype (e.g. to match the parameters' precision).
    allow_nonfinite : bool, default False
        Whether NaN and inf are allowed.
    """
    if isinstance(a, np.ndarray):
        arr = a
    else:
        try:
            arr = np.asarray(a)
        except (ValueError, TypeError) as err:
            raise TypeError(f"{name} must be an array of floats; got {type(a).__name__} "
                            f"that NumPy cannot turn into an array ({err})") from None
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{name} must be a floating-point array (e.g. float32 or float64); got "
                        f"dtype {arr.dtype}. Convert it with np.asarray({name}, dtype=float).")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, numbers.Integral) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must have {want} dimensions; got {arr.ndim} "
                             f"(shape {arr.shape})")
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    if not allow_nonfinite and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} must be finite; got {bad} NaN or inf value(s) "
                         f"in an array of shape {arr.shape}")
    return arr


def check_shape(arr: np.ndarray, expected: Iterable[int | None], name: str) -> None:
    """Raise ValueError unless ``arr.shape`` matches ``expected`` (None = any size)."""
    expected = tuple(expected)
    ok = arr.ndim == len(expected) and all(
        e is None or e == s for e, s in zip(expected, arr.shape))
    if not ok:
        want = "(" + ", ".join("any" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{name} must have shape {want}; got {arr.shape}")


def _check_int(value, name: str, minimum: int, kind: str) -> int:
    # bool is an Integral in Python, but True as a hidden size is always a bug.
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be a {kind} integer; got {value!r} "
                        f"({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be a {kind} integer; got {value}")
    return int(value)


def check_positive_int(value, name: str) -> int:
    """Return ``value`` as int if it is an integer >= 1, else raise."""
    return _check_int(value, name, 1, "positive")


def check_nonnegative_int(value, name: str) -> int:
    """Return ``value`` as int if it is an integer >= 0, else raise."""
    return _check_int(value, name, 0, "non-negative")


def check_positive_float(value, name: str, allow_zero: bool = False) -> float:
    """Return ``value`` as float if it is a finite number > 0 (>= 0 if allowed)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real number; got {value!r} "
                        f"({type(value).__name__})")
    value = float(value)
    low_ok = value >= 0 if allow_zero else value > 0
    if not (np.isfinite(value) and low_ok):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}; got {value}")
    return value


def check_choice(value, choices: Iterable[str], name: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ValueError listing them."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of "
                         + ", ".join(repr(c) for c in choices))
    return value
