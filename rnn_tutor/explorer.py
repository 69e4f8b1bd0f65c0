"""The gradient explorer's numbers (chapter 5): one call per setting of its controls.

One call, :func:`explore`, turns the explorer's controls into everything its views show:

- the **profile**: ``||dL/dh_k||`` for k = 0..T (from
  :func:`rnn_tutor.gradients.profile_from_setup`, L = u . h_T, so entry T is 1), with the
  bounds ``sigma^(T-k)`` and ``(gamma * sigma)^(T-k)`` (sigma = largest singular value of
  W_hh, gamma = max phi');
- the **eigenvalues** of W_hh (each gate block);
- a one-line **verdict**: vanishing, stable or exploding, with the factor by which the
  gradient changed over the sequence, naming overflow to inf, NaN and underflow to 0;
- the **scalar case** ``w^t`` (:func:`scalar_powers`), the one-unit linear RNN.

The network (W_hh, W_xh, inputs) is built once per call, with
:func:`rnn_tutor.gradients.profile_setup`; the clipped profile and the spectrum use the
same matrices. The views (plotly figures, static slider frames for the book) live in
:mod:`rnn_tutor.explorer_views`, the live ipywidgets in :mod:`rnn_tutor.widgets`; both
draw what this module computes, so the book and a live notebook can never disagree.

Nothing here raises or warns because numbers got too large or too small: inf, NaN and 0
are data. The verdict names them; the views leave them out of the curve and mark them.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass

import numpy as np

from .validate import (check_choice, check_nonnegative_int, check_positive_float,
                        check_positive_int)
from .cells import ACTIVATIONS, CELLS
from .gradients import one_blas_thread, profile_from_setup, profile_setup
from .init import recurrent_matrix

__all__ = [
    "ACTIVATION_CHOICES", "INIT_CHOICES", "CELL_CHOICES", "SCALE_BY_CHOICES",
    "SCALE_RANGE", "MAX_T", "STABLE_BAND", "Verdict", "Exploration", "explore",
    "judge", "format_factor", "scalar_powers", "scalar_verdict", "slider_scales",
]

ACTIVATION_CHOICES = ("tanh", "sigmoid", "relu", "linear")
INIT_CHOICES = ("orthogonal", "gaussian", "identity")
CELL_CHOICES = tuple(CELLS)
SCALE_BY_CHOICES = ("norm", "radius")
#: The weight-scale slider's range (log scale): from fast vanishing to fast explosion.
SCALE_RANGE = (0.25, 4.0)
#: Longest sequence the explorer offers.
MAX_T = 500
#: A gradient that changed by less than this factor (either way) over the whole
#: sequence is called stable; otherwise vanishing (smaller) or exploding (larger).
STABLE_BAND = 100.0

_TINY = 1e-250        # a 0 that follows a value below this is underflow, not a cut path
_UP, _DOWN = "\u2191", "\u2193"


# ------------------------------------------------------------------------ verdicts

@dataclass(frozen=True)
class Verdict:
    """A gradient profile's diagnosis.

    Attributes
    ----------
    kind : {"vanishing", "stable", "exploding"}
    factor : float
        ``profile[k_end] / profile[T]``: how much the gradient grew (> 1) or shrank over
        the ``steps`` steps it could be followed (all T of them unless an event stopped it).
    steps : int
    event : {None, "overflow", "underflow", "cut", "nan"}
        What stopped the measurement: overflow to inf, underflow to 0 (below float64's
        smallest number), an exact 0 reached from a normal value (every path cut, e.g.
        all ReLU units off), or NaN (inf - inf or 0 * inf).
    event_step : int or None
        The step k at which the event first happened (going back from T).
    text : str
        The one-line verdict shown above the plots.
    """

    kind: str
    factor: float
    steps: int
    event: str | None
    event_step: int | None
    text: str

    @property
    def per_step(self) -> float:
        """Geometric-mean factor per step, ``factor ** (1 / steps)``."""
        if self.steps == 0 or self.factor <= 0 or not math.isfinite(self.factor):
            return float("nan")
        return math.exp(math.log(self.factor) / self.steps)


def format_factor(x: float) -> str:
    """A factor for humans: 3.2e-12, 0.87, 4.5e+20."""
    if x == 0 or not math.isfinite(x):
        return str(x)
    return f"{x:.2g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.1e}"


def judge(profile, band: float = STABLE_BAND) -> Verdict:
    """Diagnose a profile (entry k = size at step k; entry T = the start, normally 1).

    The factor is ``profile[0] / profile[T]``, the size the gradient arrives with at the
    start of the sequence relative to the size it left the end with. Within a factor
    ``band`` either way it is *stable*; smaller is *vanishing*, larger *exploding*.
    Non-finite values and zeros are events: going back from T, the first inf, NaN or 0
    ends the measurement and is named in the text. Never raises, never warns.
    """
    p = np.asarray(profile, dtype=float)
    T = len(p) - 1
    if T < 1:
        raise ValueError(f"a profile needs at least two entries (k = 0..T, T >= 1); got {len(p)}")
    with np.errstate(all="ignore"):
        bad = ~(np.isfinite(p) & (p > 0))
        start = p[T]
        if bad[T]:
            return Verdict("stable", float("nan"), 0, "nan", T,
                           f"undefined: the gradient at the last step is {start}")
        k_bad = int(np.flatnonzero(bad).max()) if bad.any() else None
        k_end = 0 if k_bad is None else k_bad + 1
        factor = float(p[k_end] / start)
        steps = T - k_end
        event = None
        if k_bad is not None:
            v = p[k_bad]
            if np.isnan(v):
                event = "nan"
            elif np.isinf(v):
                event = "overflow"
            elif p[k_bad + 1] / start < _TINY:
                event = "underflow"
            else:
                event = "cut"
    growth = f"\u00d7{format_factor(factor)} over {steps} step{'s' * (steps != 1)}"
    if event == "overflow":
        kind = "exploding"
        text = (f"exploding: the gradient overflowed float64 to inf at step k = {k_bad}, after "
                f"growing {growth}")
    elif event == "underflow":
        kind = "vanishing"
        text = (f"vanishing: the gradient underflowed float64 to 0 at step k = {k_bad}, after "
                f"shrinking {growth}")
    elif event == "cut":
        kind = "vanishing"
        text = (f"vanishing: the gradient is exactly 0 from step k = {k_bad} back (every "
                f"path was cut: phi' = 0 for all units), after {growth}")
    else:
        if factor < 1 / band:
            kind = "vanishing"
        elif factor > band:
            kind = "exploding"
        else:
            kind = "stable"
        if event == "nan":
            text = (f"{kind}, then NaN: the gradient became NaN (inf - inf or 0 \u00d7 inf) at "
                    f"step k = {k_bad}, after {growth}")
        else:
            arrow = _UP if factor > 1 else _DOWN
            per_step = Verdict(kind, factor, steps, None, None, "").per_step
            text = (f"{kind}: the gradient reaching step 0 is {growth} {arrow} "
                    f"(\u00d7{per_step:.3g} per step)")
    return Verdict(kind, factor, steps, event, k_bad, text)


# ------------------------------------------------------------------------ explore

@dataclass(frozen=True)
class Exploration:
    """Everything the explorer's views need for one setting of the controls.

    Attributes
    ----------
    controls : dict
        The arguments :func:`explore` was called with.
    profile : ndarray (T + 1,)
        ``||dL/dh_k||`` (unclipped; may hold inf, NaN or 0).
    clipped : ndarray (T + 1,) or None
        The profile with per-step clipping (see ``clip`` in :func:`explore`), if set.
    clip_fired : int
        At how many of the T + 1 steps the clip fired.
    eigenvalues : complex ndarray (G, H)
        Eigenvalues of each H x H block of W_hh (G = 1 for the RNN, 4 LSTM, 3 GRU).
    blocks : tuple of str
        The blocks' names (``("W_hh",)`` or the gate letters).
    sigma : float
        Largest singular value over the blocks (equal to ``scale`` if ``scale_by="norm"``).
    radius : float
        Largest absolute value of an eigenvalue over the blocks.
    gamma : float or None
        max phi' of the RNN's nonlinearity; None for gated cells.
    verdict : Verdict
    """

    controls: dict
    profile: np.ndarray
    clipped: np.ndarray | None
    clip_fired: int
    eigenvalues: np.ndarray
    blocks: tuple
    sigma: float
    radius: float
    gamma: float | None
    verdict: Verdict

    @property
    def T(self) -> int:
        """The sequence length (the profile has T + 1 entries)."""
        return len(self.profile) - 1

    def log10_bounds(self) -> dict:
        """``{label: log10 bound at k = 0..T}``: sigma^(T-k) and (gamma sigma)^(T-k).

        Only for ``cell="rnn"`` (empty dict otherwise): there ``||dL/dh_k|| <=
        (gamma sigma)^(T-k)`` for any inputs (Pascanu et al., 2013), and a linear RNN
        with orthogonal W_hh follows ``sigma^(T-k)`` exactly. For gamma = 1 the two
        coincide and only one is returned. Logarithms, so they never overflow.
        """
        if self.gamma is None:
            return {}
        steps = np.arange(self.T, -1, -1, dtype=float)
        out = {"\u03c3^(T\u2212k)": steps * math.log10(self.sigma)}
        if self.gamma != 1.0:
            out["(\u03b3\u03c3)^(T\u2212k)"] = steps * math.log10(self.gamma * self.sigma)
        return out


def _check_real(value, name):
    if not isinstance(value, numbers.Real) or isinstance(value, bool) \
            or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite real number; got {value!r}")
    return float(value)


@functools.lru_cache(maxsize=8)
def _unit_spectrum(init: str, H: int, seed: int, scale_by: str, gates: int):
    """Eigenvalues (G, H) of each H x H block of W_hh drawn at scale 1, and the largest
    singular value.

    W_hh at any scale is this matrix times the scale (init.recurrent_matrix), and so is its
    spectrum: remembered per draw, the decompositions (a fifth of an LSTM explore call at
    T = 500) are done once per matrix, not once per position of the scale slider.
    """
    W_hh = recurrent_matrix(init, H, 1.0, seed, scale_by=scale_by, gates=gates)
    blocks = W_hh.reshape(gates, H, H)
    eig = np.linalg.eigvals(blocks)
    eig.setflags(write=False)
    return eig, float(np.linalg.norm(blocks, ord=2, axis=(1, 2)).max())


def _with_clip(verdict: Verdict, clipped, clip: float) -> tuple[Verdict, int]:
    """The verdict's text extended by how often the clip fired, and that count."""
    # Where the clip fired the reported norm is the threshold itself.
    fired = int(np.count_nonzero(np.abs(clipped - clip) <= 1e-9 * clip))
    text = (f"{verdict.text}; clipping at {format_factor(clip)} fired at {fired} of "
            f"{len(clipped)} steps")
    return Verdict(verdict.kind, verdict.factor, verdict.steps, verdict.event,
                   verdict.event_step, text), fired


def explore(scale: float = 1.0, T: int = 200, hidden_size: int = 64,
            activation: str = "tanh", init: str = "orthogonal", cell: str = "rnn", *,
            scale_by: str = "norm", forget_bias: float = 1.0, input_scale: float = 1.0,
            seed: int = 0, clip: float | None = None) -> Exploration:
    """Compute the explorer's numbers for one setting of its controls.

    Parameters
    ----------
    scale : float
        Scale of W_hh (of each gate block for LSTM/GRU): its largest singular value
        (``scale_by="norm"``) or spectral radius (``"radius"``). The slider covers
        :data:`SCALE_RANGE`, but any positive value works.
    T, hidden_size : int
        Sequence length (the slider goes to :data:`MAX_T`) and H.
    activation : {"tanh", "sigmoid", "relu", "linear"}
        The RNN's nonlinearity (ignored by LSTM and GRU).
    init : {"orthogonal", "gaussian", "identity"}
        How W_hh is drawn before it is rescaled to ``scale``.
    cell : {"rnn", "lstm", "gru"}
    scale_by : {"norm", "radius"}
        What ``scale`` sets; for orthogonal and identity matrices both are the same.
    forget_bias : float
        LSTM forget-gate bias (1 is a common choice: the gate starts mostly open).
    input_scale : float >= 0
        Standard deviation of each unit's input drive; 0 switches inputs off.
    seed : int
        Draws W_hh, W_xh, the inputs and u (see ``gradient_profile``).
    clip : float or None
        If set, also compute the profile with the gradient clipped *inside* BPTT (as
        Graves, 2013, clipped LSTM derivatives): going back from T, whenever
        ``||dL/dh_k||`` exceeds ``clip`` it is rescaled to norm ``clip`` before it is
        propagated further. Backprop is linear in the gradient, so an exploding profile
        is held at ``clip`` and a vanishing one is not lifted at all. (``clip_grad_norm``
        rescales the parameter gradient once, after BPTT: it would only shift this
        whole curve.) The verdict describes the unclipped gradient and counts the
        clipped steps.

    Returns
    -------
    Exploration
        Profiles, spectrum and verdict, all from one W_hh and one draw of the inputs.
    """
    for value, choices, name in ((activation, ACTIVATION_CHOICES, "activation"),
                                 (init, INIT_CHOICES, "init"), (cell, CELL_CHOICES, "cell"),
                                 (scale_by, SCALE_BY_CHOICES, "scale_by")):
        check_choice(value, choices, name)
    H = check_positive_int(hidden_size, "hidden_size")
    T = check_positive_int(T, "T")
    forget_bias = _check_real(forget_bias, "forget_bias")
    seed = check_nonnegative_int(seed, "seed")
    if clip is not None:
        clip = check_positive_float(clip, "clip")
    controls = dict(scale=scale, T=T, hidden_size=H, activation=activation, init=init,
                    cell=cell, scale_by=scale_by, forget_bias=forget_bias,
                    input_scale=input_scale, seed=seed, clip=clip)
    gates = CELLS[cell].num_gates
    with np.errstate(all="ignore"), one_blas_thread():
        setup = profile_setup(cell, T, H, scale, activation, init, seed,
                              input_scale=input_scale, forget_bias=forget_bias,
                              scale_by=scale_by)
        profile = profile_from_setup(setup)
        clipped = None if clip is None else profile_from_setup(setup, clip)
        eig, sigma = _unit_spectrum(init, H, seed, scale_by, gates)
        eig, sigma = eig * scale, sigma * scale
    verdict, fired = judge(profile), 0
    if clip is not None:
        verdict, fired = _with_clip(verdict, clipped, clip)
    return Exploration(controls, profile, clipped, fired, eig,
                       ("W_hh",) if gates == 1 else CELLS[cell].gates, sigma,
                       float(np.abs(eig).max()),
                       ACTIVATIONS[activation].gamma if cell == "rnn" else None, verdict)


def scalar_powers(w: float, T: int) -> np.ndarray:
    """``w ** t`` for t = 0..T: the gradient of a one-unit linear RNN, h_t = w h_{t-1}.

    Overflow gives inf and underflow 0, silently (they are the lesson, not an error).
    """
    w = _check_real(w, "w")
    T = check_positive_int(T, "T")
    with np.errstate(all="ignore"):
        return np.float64(w) ** np.arange(T + 1, dtype=float)


def scalar_verdict(w: float, T: int) -> Verdict:
    """The verdict for the one-unit linear RNN h_t = w h_{t-1} over T steps."""
    # The gradient from step T back to step k is w^(T-k): the profile is w^t reversed.
    return judge(np.abs(scalar_powers(w, T))[::-1])


def slider_scales(n: int = 49, low: float = SCALE_RANGE[0],
                  high: float = SCALE_RANGE[1]) -> np.ndarray:
    """``n`` weight scales evenly spaced on a log axis, rounded to 3 significant digits.

    The rounding makes the book's slider labels the exact values the frames were
    computed for. With the default odd ``n`` the middle value is exactly 1.
    """
    n = check_positive_int(n, "n")
    vals = np.geomspace(check_positive_float(low, "low"), check_positive_float(high, "high"), n)
    return np.array([float(f"{v:.3g}") for v in vals])
