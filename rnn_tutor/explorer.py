"""What the gradient explorer computes and draws (chapter 5), with no widgets.

One call, :func:`explore`, turns the explorer's controls into everything its views show:

- the **profile**: ``||dL/dh_k||`` for k = 0..T (from
  :func:`rnn_tutor.gradients.gradient_profile`, L = u . h_T, so entry T is 1), drawn on a
  log axis against k, with the bounds ``sigma^(T-k)`` and ``(gamma * sigma)^(T-k)``
  (sigma = largest singular value of W_hh, gamma = max phi');
- the **eigenvalues** of W_hh in the complex plane, with the unit circle;
- a one-line **verdict**: vanishing, stable or exploding, with the factor by which the
  gradient changed over the sequence, naming overflow to inf, NaN and underflow to 0;
- the **scalar case** ``w^t`` (:func:`scalar_powers`), the one-unit linear RNN.

The figure builders (:func:`profile_figure`, :func:`eigenvalue_figure`,
:func:`scalar_figure`) return ``go.Figure`` objects; :mod:`rnn_tutor.widgets` puts them
behind live ipywidgets, and :func:`static_explorer` / :func:`static_scalar_explorer`
precompute slider frames for the book, where no kernel runs. Both paths call the same
functions, so the book and the live notebook can never disagree.

Profiles are drawn as ``log10 ||dL/dh_k||`` on a linear axis labelled in powers of ten:
the values span 10^-300 to 10^300, which float32 (used to keep the book's pages small)
cannot hold, while their logarithms fit it easily.

Nothing here raises or warns because numbers got too large or too small: inf, NaN and 0
are data. They are left out of the curve, marked at the edge of the plot and named in
the verdict.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from ._validate import (check_choice, check_nonnegative_int, check_positive_float,
                        check_positive_int)
from .cells import ACTIVATIONS
from .gradients import gradient_profile, one_blas_thread
from .init import recurrent_matrix

__all__ = [
    "ACTIVATION_CHOICES", "INIT_CHOICES", "CELL_CHOICES", "SCALE_BY_CHOICES",
    "SCALE_RANGE", "MAX_T", "STABLE_BAND", "Verdict", "Exploration", "explore",
    "judge", "scalar_powers", "profile_figure", "eigenvalue_figure",
    "scalar_figure", "static_explorer", "static_scalar_explorer", "slider_scales",
    "profile_spec", "eigenvalue_spec", "scalar_spec", "scalar_verdict",
]

ACTIVATION_CHOICES = ("tanh", "sigmoid", "relu", "linear")
INIT_CHOICES = ("orthogonal", "gaussian", "identity")
CELL_CHOICES = ("rnn", "lstm", "gru")
SCALE_BY_CHOICES = ("norm", "radius")
#: The weight-scale slider's range (log scale): from fast vanishing to fast explosion.
SCALE_RANGE = (0.25, 4.0)
#: Longest sequence the explorer offers.
MAX_T = 500
#: A gradient that changed by less than this factor (either way) over the whole
#: sequence is called stable; otherwise vanishing (smaller) or exploding (larger).
STABLE_BAND = 100.0

_GATE_NAMES = {"rnn": ("W_hh",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
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


def _fmt(x: float) -> str:
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
    growth = f"\u00d7{_fmt(factor)} over {steps} step{'s' * (steps != 1)}"
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


@functools.lru_cache(maxsize=256)
def _spectrum(init, H, scale, seed, scale_by, gates):
    """Eigenvalues (G, H) of each block of W_hh and its largest singular value.

    Cached: W_hh does not depend on the nonlinearity, T or the inputs, so switching
    those (or building one static frame per nonlinearity) reuses it.
    """
    W = recurrent_matrix(init, H, scale, seed=seed, scale_by=scale_by, gates=gates)
    blocks = W.reshape(gates, H, H)
    eig = np.linalg.eigvals(blocks)
    eig.setflags(write=False)
    return eig, float(np.linalg.norm(blocks, ord=2, axis=(1, 2)).max())


def explore(scale: float = 1.0, T: int = 200, hidden_size: int = 64,
            activation: str = "tanh", init: str = "orthogonal", cell: str = "rnn", *,
            scale_by: str = "norm", forget_bias: float = 1.0, input_scale: float = 1.0,
            seed: int = 0, clip: float | None = None) -> Exploration:
    """Compute the explorer's views for one setting of its controls.

    Parameters
    ----------
    scale : float
        Scale of W_hh (of each gate block for LSTM/GRU): its largest singular value
        (``scale_by="norm"``) or spectral radius (``scale_by="radius"``). The slider
        covers :data:`SCALE_RANGE`, but any positive value works.
    T : int
        Sequence length (the slider goes to :data:`MAX_T`).
    hidden_size : int
        H.
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
        If set, also compute the profile with the gradient clipped *inside* BPTT: going
        back from T, whenever ``||dL/dh_k||`` exceeds ``clip`` it is rescaled to norm
        ``clip`` before it is propagated further (``gradient_profile(..., clip=clip)``;
        as Graves (2013) clipped LSTM derivatives). Backprop is linear in the gradient,
        so this only rescales: an exploding profile is held at ``clip`` (and stays
        finite where the unclipped one overflows), a vanishing one is not lifted at all.
        Why not ``clip_grad_norm``: it rescales the *parameter* gradient once, after
        BPTT, which multiplies this whole profile by one number; its shape, and so the
        balance between near and far steps, would not change, and the plot would only
        shift. The verdict describes the unclipped gradient and counts the clipped steps.

    Returns
    -------
    Exploration
    """
    check_choice(activation, ACTIVATION_CHOICES, "activation")
    check_choice(init, INIT_CHOICES, "init")
    check_choice(cell, CELL_CHOICES, "cell")
    check_choice(scale_by, SCALE_BY_CHOICES, "scale_by")
    H = check_positive_int(hidden_size, "hidden_size")
    T = check_positive_int(T, "T")
    forget_bias = _check_real(forget_bias, "forget_bias")
    seed = check_nonnegative_int(seed, "seed")
    if clip is not None:
        clip = check_positive_float(clip, "clip")
    controls = dict(scale=scale, T=T, hidden_size=H, activation=activation, init=init,
                    cell=cell, scale_by=scale_by, forget_bias=forget_bias,
                    input_scale=input_scale, seed=seed, clip=clip)
    kw = dict(input_scale=input_scale, forget_bias=forget_bias, scale_by=scale_by)
    with np.errstate(all="ignore"), one_blas_thread():
        profile = gradient_profile(cell, T, H, scale, activation, init, seed, **kw)
        clipped = None if clip is None else gradient_profile(cell, T, H, scale, activation,
                                                             init, seed, clip=clip, **kw)
        eig, sigma = _spectrum(init, H, float(scale), seed, scale_by, len(_GATE_NAMES[cell]))
    verdict = judge(profile)
    fired = 0
    if clip is not None:
        # Where the clip fired the reported norm is the threshold itself.
        fired = int(np.count_nonzero(np.abs(clipped - clip) <= 1e-9 * clip))
        verdict = Verdict(verdict.kind, verdict.factor, verdict.steps, verdict.event,
                          verdict.event_step,
                          f"{verdict.text}; clipping at {_fmt(clip)} fired at {fired} of "
                          f"{T + 1} steps")
    return Exploration(controls, profile, clipped, fired, eig, _GATE_NAMES[cell], sigma,
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


# ------------------------------------------------------------------------ figures
# Profiles are drawn as log10 values on a linear axis labelled in powers of ten (see the
# module docstring). Traces are built as plain dicts: validating them one by one in
# plotly costs more than computing them, and the live explorer redraws on every drag.

_LOG_FLOOR, _LOG_CEIL = -330.0, 320.0          # beyond float64 either way
_COLORS = {"profile": "#1f77b4", "clipped": "#ff7f0e", "bound": "#7f7f7f",
           "gamma": "#2ca02c", "event": "#d62728", "unit": "#7f7f7f", "scale": "#9467bd"}
_BLOCK_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
_EVENT_LABEL = {"overflow": "inf", "nan": "NaN", "underflow": "0", "cut": "0"}
_NORM = "\u2016\u2202L/\u2202h<sub>k</sub>\u2016"
_BOUND_LABELS = ("\u03c3<sup>T\u2212k</sup>", "(\u03b3\u03c3)<sup>T\u2212k</sup>")


def _log10(values) -> np.ndarray:
    """log10 of positive finite entries; NaN elsewhere (a gap in the curve)."""
    v = np.asarray(values, dtype=float)
    with np.errstate(all="ignore"):
        out = np.log10(v)
    out[~np.isfinite(out)] = np.nan
    return out


def _log_range(*arrays, include=(0.0,)) -> list:
    """A y range (in log10 units) covering the finite entries of ``arrays``."""
    lo, hi = min(include), max(include)
    for a in arrays:
        a = np.asarray(a, dtype=float)
        a = a[np.isfinite(a)]
        if a.size:
            lo, hi = min(lo, float(a.min())), max(hi, float(a.max()))
    pad = 0.06 * max(hi - lo, 2.0)
    return [round(max(lo - pad, _LOG_FLOOR), 2), round(min(hi + pad, _LOG_CEIL), 2)]


def _power_ticks(lo: float, hi: float) -> dict:
    """Ticks 10^n for a log10 axis from lo to hi (at most about 8 of them)."""
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100) if (hi - lo) / s <= 8)
    vals = list(range(math.ceil(lo / step) * step, math.floor(hi) + 1, step))
    text = ["1" if v == 0 else "10" if v == 1 else f"10<sup>{v}</sup>" for v in vals]
    return {"tickmode": "array", "tickvals": vals, "ticktext": text}


def _f32(a) -> np.ndarray:
    """float32 copy: half the bytes of float64 in a page, 7 significant digits."""
    return np.asarray(a, dtype=np.float32)


def _figure(spec: dict, validate: bool = True) -> go.Figure:
    # validate=False skips plotly's per-property checks (private flag of plotly's
    # BaseFigure): only for specs this module built and tests have validated.
    return go.Figure(spec, _validate=validate)


def _scatter(**kwargs) -> dict:
    return dict(type="scatter", **kwargs)


def _profile_traces(res: Exploration, y_range, group: str = "", *, xaxis="x",
                    yaxis="y") -> list:
    """Five traces, always in this order: profile, clipped, sigma bound, gamma bound, event.

    Profiles have no x: plotly then uses the index, which is k.
    """
    T = res.T
    common = dict(xaxis=xaxis, yaxis=yaxis)
    hover = f"k = %{{x}}<br>{_NORM} = 10<sup>%{{y:.2f}}</sup><extra>{group}</extra>"
    clipped = [] if res.clipped is None else _f32(_log10(res.clipped))
    clip_name = "clipped" if res.clipped is None else f"clipped at {_fmt(res.controls['clip'])}"
    traces = [
        _scatter(y=_f32(_log10(res.profile)), mode="lines", name=_NORM,
                 line=dict(color=_COLORS["profile"], width=2.5), hovertemplate=hover,
                 **common),
        _scatter(y=clipped, mode="lines", name=clip_name,
                 line=dict(color=_COLORS["clipped"], width=2), hovertemplate=hover,
                 **common)]
    bounds = list(res.log10_bounds().values())
    for i, (color, dash) in enumerate(((_COLORS["bound"], "dash"), (_COLORS["gamma"], "dot"))):
        b = bounds[i] if i < len(bounds) else None   # a straight line: two points suffice
        traces.append(_scatter(
            x=[] if b is None else [0, T], y=[] if b is None else _f32([b[0], b[-1]]),
            mode="lines", name=_BOUND_LABELS[i], line=dict(color=color, dash=dash),
            hoverinfo="skip", **common))
    v = res.verdict
    top = v.event in ("overflow", "nan")
    traces.append(_scatter(
        x=[] if v.event is None else [v.event_step],
        y=[] if v.event is None else _f32([y_range[1] if top else y_range[0]]),
        text=[] if v.event is None else [_EVENT_LABEL[v.event]],
        hovertext=[] if v.event is None else [v.text],
        mode="markers+text", name="inf / NaN / 0", hoverinfo="text",
        textposition="bottom center" if top else "top center", cliponaxis=False,
        marker=dict(color=_COLORS["event"], size=11, symbol="x"),
        textfont=dict(color=_COLORS["event"]), **common))
    return traces


def _profile_axes(T: int, y_range) -> tuple[dict, dict]:
    xaxis = dict(title=dict(text="k (the step the gradient reaches)"), range=[0, T],
                 zeroline=False)
    yaxis = dict(title=dict(text=_NORM + " (log scale)"), range=list(y_range),
                 zeroline=False, **_power_ticks(*y_range))
    return xaxis, yaxis


def _profile_y_range(results) -> list:
    """A y range that holds the data and whatever the scale slider could produce.

    It covers ``SCALE_RANGE[1]^T`` above and ``(gamma SCALE_RANGE[0])^T`` below (gamma
    = 1 for gated cells), so dragging the scale slider moves the curve, not the axis;
    it only grows when the data leave that band (e.g. a Gaussian W_hh scaled by its
    spectral radius has a larger norm), and it never goes past float64's range.
    """
    arrays, include = [], [0.0]
    for res in results:
        arrays.append(_log10(res.profile))
        if res.clipped is not None:
            arrays.append(_log10(res.clipped))
        gamma = res.gamma or 1.0
        include += [res.T * math.log10(gamma * SCALE_RANGE[0]),
                    res.T * math.log10(SCALE_RANGE[1])]
    return _log_range(*arrays, include=include)


_LAYOUT = dict(template="none", legend=dict(orientation="h", y=-0.25, yanchor="top"),
               margin=dict(l=75, r=20, t=45, b=90))


def profile_spec(res: Exploration, height: int = 380) -> dict:
    """:func:`profile_figure` as a plain ``{"data": ..., "layout": ...}`` dict."""
    y_range = _profile_y_range([res])
    xaxis, yaxis = _profile_axes(res.T, y_range)
    return dict(data=_profile_traces(res, y_range), layout=dict(
        _LAYOUT, xaxis=xaxis, yaxis=yaxis, height=height,
        title=dict(text=res.verdict.text, font=dict(size=13))))


def profile_figure(res: Exploration, height: int = 380) -> go.Figure:
    """The gradient profile of ``res`` against k, with its bounds, on a log axis."""
    return _figure(profile_spec(res, height))


def _circle(r: float, n: int = 49):
    t = np.linspace(0, 2 * np.pi, n)
    return _f32(r * np.cos(t)), _f32(r * np.sin(t))


def _eigen_limit(results) -> float:
    """Half-width of the eigenvalue plot: room for the slider's largest scale."""
    return round(max(1.1 * SCALE_RANGE[1], *(1.1 * max(r.radius, r.controls["scale"])
                                            for r in results)), 2)


def _eigen_traces(res: Exploration, *, xaxis="x", yaxis="y") -> list:
    """The unit circle, the circle of radius ``scale``, then one trace per W_hh block."""
    common = dict(xaxis=xaxis, yaxis=yaxis)
    ux, uy = _circle(1.0)
    sx, sy = _circle(float(res.controls["scale"]))
    what = "\u03c3<sub>max</sub>" if res.controls["scale_by"] == "norm" else "\u03c1"
    traces = [
        _scatter(x=ux, y=uy, mode="lines", name="unit circle", hoverinfo="skip",
                 line=dict(color=_COLORS["unit"], width=1), **common),
        _scatter(x=sx, y=sy, mode="lines", name=f"radius {what} = scale",
                 hoverinfo="skip", line=dict(color=_COLORS["scale"], width=1, dash="dash"),
                 **common)]
    for i, (block, lam) in enumerate(zip(res.blocks, res.eigenvalues)):
        traces.append(_scatter(
            x=_f32(lam.real), y=_f32(lam.imag), mode="markers",
            name="eigenvalues" if len(res.blocks) == 1 else f"eigenvalues ({block})",
            marker=dict(color=_BLOCK_COLORS[i % 4], size=6),
            hovertemplate="%{x:.3f} %{y:+.3f}i<extra>" + block + "</extra>", **common))
    return traces


def _eigen_axes(lim: float) -> tuple[dict, dict]:
    return (dict(title=dict(text="Re \u03bb"), range=[-lim, lim], zeroline=False),
            dict(title=dict(text="Im \u03bb"), range=[-lim, lim], zeroline=False))


def eigenvalue_spec(res: Exploration, height: int = 380) -> dict:
    """:func:`eigenvalue_figure` as a plain dict."""
    xaxis, yaxis = _eigen_axes(_eigen_limit([res]))
    yaxis.update(scaleanchor="x", scaleratio=1)
    xaxis.update(constrain="domain")          # keep the range; make the box square
    return dict(data=_eigen_traces(res), layout=dict(
        _LAYOUT, height=height, xaxis=xaxis, yaxis=yaxis,
        title=dict(text=f"W_hh: spectral radius {res.radius:.3g}, largest singular value "
                        f"{res.sigma:.3g}", font=dict(size=13))))


def eigenvalue_figure(res: Exploration, height: int = 380) -> go.Figure:
    """The eigenvalues of W_hh (each gate block) in the complex plane, with the unit circle."""
    return _figure(eigenvalue_spec(res, height))


_SCALAR_REFERENCES = (0.9, 1.1)


def _scalar_traces(w: float, T: int) -> list:
    """0.9^t, 1.1^t, then ``|w|^t`` (as log10), against t = 0..T (the index)."""
    traces = [_scatter(y=_f32(_log10(scalar_powers(ref, T))), mode="lines",
                       name=f"{ref}<sup>t</sup>", line=dict(color=_COLORS["bound"], dash=dash),
                       hovertemplate="t = %{x}<br>10<sup>%{y:.2f}</sup><extra></extra>")
              for ref, dash in zip(_SCALAR_REFERENCES, ("dash", "dot"))]
    traces.append(_scatter(y=_f32(_log10(np.abs(scalar_powers(w, T)))), mode="lines",
                           name="|w|<sup>t</sup>", line=dict(color=_COLORS["profile"], width=3),
                           hovertemplate="t = %{x}<br>10<sup>%{y:.2f}</sup><extra>w</extra>"))
    return traces


def scalar_verdict(w: float, T: int) -> Verdict:
    """The verdict for the one-unit linear RNN h_t = w h_{t-1} over T steps."""
    # The gradient from step T back to step k is w^(T-k): the profile is w^t reversed.
    return judge(np.abs(scalar_powers(w, T))[::-1])


def _scalar_y_range(T: int) -> list:
    """Fixed for a given T: holds w^t for every w the slider offers (0.5 to 1.5)."""
    return _log_range(include=(T * math.log10(0.5), T * math.log10(1.5)))


def _scalar_layout(T: int, y_range, height: int) -> dict:
    return dict(_LAYOUT, height=height,
                xaxis=dict(title=dict(text="t (steps the gradient travels back)"),
                           range=[0, T], zeroline=False),
                yaxis=dict(title=dict(text="|w|<sup>t</sup> (log scale)"), range=list(y_range),
                           zeroline=False, **_power_ticks(*y_range)))


def scalar_spec(w: float = 0.9, T: int = 100, height: int = 350, y_range=None) -> dict:
    """:func:`scalar_figure` as a plain dict (``y_range`` in log10 units, or automatic)."""
    traces = _scalar_traces(w, T)
    if y_range is None:
        y_range = _log_range(*(t["y"] for t in traces), include=_scalar_y_range(T))
    layout = _scalar_layout(T, y_range, height)
    layout["title"] = dict(text=f"w = {w:.3g}: {scalar_verdict(w, T).text}",
                           font=dict(size=13))
    return dict(data=traces, layout=layout)


def scalar_figure(w: float = 0.9, T: int = 100, height: int = 350) -> go.Figure:
    """The scalar case: ``|w|^t`` against t on a log axis, next to 0.9^t and 1.1^t."""
    return _figure(scalar_spec(w, T, height))


# ------------------------------------------------------------------------ static (book)

def slider_scales(n: int = 49, low: float = SCALE_RANGE[0],
                  high: float = SCALE_RANGE[1]) -> np.ndarray:
    """``n`` weight scales evenly spaced on a log axis, rounded to 3 significant digits.

    The rounding makes the slider's labels the exact values the frames were computed
    for. With the default odd ``n`` the middle value is exactly 1.
    """
    n = check_positive_int(n, "n")
    vals = np.geomspace(check_positive_float(low, "low"), check_positive_float(high, "high"), n)
    return np.array([float(f"{v:.3g}") for v in vals])


# In the static figures the slider sits below the plot, so the legend goes above it.
_TOP_LEGEND = dict(orientation="h", x=0, y=0.78, yanchor="bottom")


def _slider(names, label: str, active: int, y: float = 0.0) -> dict:
    steps = [dict(label=name, method="animate",
                  args=[[name], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                     transition=dict(duration=0))]) for name in names]
    return dict(active=active, steps=steps, currentvalue=dict(prefix=f"{label} = "),
                pad=dict(t=55), y=y)


def _frame_part(trace: dict) -> dict:
    """What a frame must carry for a trace: only the data that changes, not the style."""
    return {k: trace[k] for k in ("x", "y", "text", "hovertext") if k in trace}


def static_explorer(T: int = 200, hidden_size: int = 64, activations=ACTIVATION_CHOICES,
                    init: str = "orthogonal", cell: str = "rnn", *, scale_by: str = "norm",
                    forget_bias: float = 1.0, input_scale: float = 1.0, seed: int = 0,
                    clip: float | None = None, scales=None, start: float = 1.0,
                    height: int = 560) -> go.Figure:
    """The explorer for the static book: slider frames over the weight scale.

    Every frame is computed here with :func:`explore` (the function behind the live
    widgets), so moving the slider in a page without a kernel only swaps data already
    in the page. Left: the gradient profile with its bounds; right: the eigenvalues of
    W_hh; above: the verdict. With several ``activations`` (RNN only), a dropdown
    switches between them: each frame holds every activation's curves and the
    dropdown shows one set.

    Parameters
    ----------
    T, hidden_size, init, cell, scale_by, forget_bias, input_scale, seed, clip
        As in :func:`explore`; fixed for the whole figure (build one figure per T).
    activations : sequence of str
        The nonlinearities to offer (the first is shown first). Ignored for LSTM/GRU.
    scales : sequence of float, optional
        Slider values (default :func:`slider_scales`: 49 values from 0.25 to 4, with 1
        in the middle).
    start : float
        The slider starts at the value nearest to this one (on a log scale).
    height : int

    Returns
    -------
    plotly.graph_objects.Figure
        With one frame per scale; display it with :func:`rnn_tutor.plots.show`.
    """
    check_choice(cell, CELL_CHOICES, "cell")
    if isinstance(activations, str):
        activations = (activations,)
    activations = tuple(check_choice(a, ACTIVATION_CHOICES, "activation")
                        for a in activations) if cell == "rnn" else ("tanh",)
    if not activations:
        raise ValueError("activations must name at least one nonlinearity; got none")
    scales = slider_scales() if scales is None else np.asarray(scales, dtype=float)
    if scales.ndim != 1 or scales.size == 0:
        raise ValueError(f"scales must be a non-empty 1-D sequence; got shape {scales.shape}")
    names = [f"{s:.3g}" for s in scales]
    if len(set(names)) != len(names):
        raise ValueError("scales must differ in their first 3 significant digits")
    active = int(np.argmin(np.abs(np.log(scales / check_positive_float(start, "start")))))
    kw = dict(T=T, hidden_size=hidden_size, init=init, cell=cell, scale_by=scale_by,
              forget_bias=forget_bias, input_scale=input_scale, seed=seed, clip=clip)
    results = [[explore(float(s), activation=a, **kw) for a in activations] for s in scales]
    flat = [r for row in results for r in row]
    y_range = _profile_y_range(flat)
    lim = _eigen_limit(flat)
    groups = activations if cell == "rnn" else (cell.upper(),)
    multi = len(groups) > 1

    def frame_data(row):
        data = _eigen_traces(row[0], xaxis="x2", yaxis="y2")
        for group, res in zip(groups, row):
            data += _profile_traces(res, y_range, group if multi else "")
            data.append(_scatter(x=[0], y=[0.5], text=[res.verdict.text], mode="text",
                                 textposition="middle right", xaxis="x3", yaxis="y3",
                                 showlegend=False, hoverinfo="skip",
                                 textfont=dict(size=13)))
        return data

    frames_data = [frame_data(row) for row in results]
    n_eigen = len(frames_data[0]) - 6 * len(groups)
    per_group = 6
    # Frames leave out the unit circle (trace 0), which never changes.
    frames = [dict(name=name, data=[_frame_part(t) for t in data[1:]],
                   traces=list(range(1, len(data))))
              for name, data in zip(names, frames_data)]
    base = frames_data[active]
    visible = [True] * n_eigen + [i == 0 for i in range(len(groups)) for _ in range(per_group)]
    for trace, vis in zip(base, visible):
        trace["visible"] = vis
    xaxis, yaxis = _profile_axes(T, y_range)
    xaxis2, yaxis2 = _eigen_axes(lim)
    layout = dict(
        _LAYOUT, height=height, margin=dict(l=75, r=20, t=60, b=60),
        # Left-aligned and short, so the nonlinearity dropdown (top right) never covers it.
        title=dict(text=f"{cell.upper()}, T = {T}, H = {hidden_size}, {init} W_hh, scale = "
                        f"{'largest singular value' if scale_by == 'norm' else 'spectral radius'}",
                   font=dict(size=14), x=0.01, xanchor="left"),
        xaxis=dict(xaxis, domain=[0, 0.6]), yaxis=dict(yaxis, domain=[0, 0.76]),
        xaxis2=dict(xaxis2, domain=[0.7, 1], anchor="y2", constrain="domain"),
        yaxis2=dict(yaxis2, domain=[0, 0.76], anchor="x2", scaleanchor="x2", scaleratio=1),
        xaxis3=dict(domain=[0, 1], range=[0, 1], visible=False, anchor="y3", fixedrange=True),
        yaxis3=dict(domain=[0.92, 1], range=[0, 1], visible=False, anchor="x3", fixedrange=True),
        sliders=[_slider(names, "weight scale", active)], legend=_TOP_LEGEND)
    if multi:
        buttons = []
        for g, group in enumerate(groups):
            vis = [True] * n_eigen + [i == g for i in range(len(groups)) for _ in range(per_group)]
            buttons.append(dict(label=f"\u03c6 = {group}", method="restyle",
                                args=[dict(visible=vis)]))
        layout["updatemenus"] = [dict(type="dropdown", buttons=buttons, active=0,
                                      x=1.0, xanchor="right", y=1.13, yanchor="bottom")]
    return _figure(dict(data=base, layout=layout, frames=frames), validate=False)


def static_scalar_explorer(T: int = 100, ws=None, height: int = 380) -> go.Figure:
    """The scalar case for the book: a slider over w, with 0.9^t and 1.1^t for reference."""
    T = check_positive_int(T, "T")
    ws = np.round(np.linspace(0.5, 1.5, 41), 3) if ws is None else np.asarray(ws, float)
    names = [f"{w:.3g}" for w in ws]
    specs = [scalar_spec(float(w), T, height) for w in ws]
    y_range = _log_range(*(t["y"] for s in specs for t in s["data"]))
    active = int(np.argmin(np.abs(ws - 0.9)))
    # The verdict sits in a text trace (trace 3) so that frames can change it.
    def data(spec):
        return spec["data"] + [_scatter(
            x=[0], y=[0.5], text=[spec["layout"]["title"]["text"]], mode="text",
            textposition="middle right", xaxis="x2", yaxis="y2", showlegend=False,
            hoverinfo="skip", textfont=dict(size=13))]
    frames = [dict(name=n, data=[_frame_part(t) for t in data(s)[2:]], traces=[2, 3])
              for n, s in zip(names, specs)]
    layout = _scalar_layout(T, y_range, height)
    layout["yaxis"]["domain"] = [0, 0.74]
    layout.update(xaxis2=dict(domain=[0, 1], range=[0, 1], visible=False, anchor="y2"),
                  yaxis2=dict(domain=[0.88, 1], range=[0, 1], visible=False, anchor="x2"),
                  sliders=[_slider(names, "w", active)], margin=dict(l=75, r=20, t=20, b=60),
                  legend=_TOP_LEGEND)
    return _figure(dict(data=data(specs[active]), layout=layout, frames=frames),
                   validate=False)
