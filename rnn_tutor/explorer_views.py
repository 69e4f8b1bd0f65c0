"""The gradient explorer's views: plotly figures of what :mod:`rnn_tutor.explorer` computes.

- :func:`profile_spec` / :func:`profile_figure`: the gradient profile against k, with its
  bounds and a marker where it overflowed, became NaN or underflowed;
- :func:`eigenvalue_spec` / :func:`eigenvalue_figure`: the eigenvalues of W_hh (each gate
  block) in the complex plane, with the unit circle;
- :func:`live_explorer_spec`: both, side by side in one figure (the live explorer's);
- :func:`scalar_spec` / :func:`scalar_figure`: the scalar case ``|w|^t``;
- :func:`static_explorer` and :func:`static_scalar_explorer`: the same views for the
  static book, with one precomputed frame per slider position (built on
  :func:`rnn_tutor.plots.slider_frames`, like :func:`rnn_tutor.plots.slider_figure`).

The ``*_spec`` functions return a :class:`rnn_tutor.plots.FigureSpec` (plain data, no
per-property validation: the live widgets rebuild them on every drag and the static
explorer holds hundreds of traces; the tests validate them); ``*_figure`` the same as a
validated ``go.Figure``. Profiles are drawn as ``log10 ||dL/dh_k||`` on a linear axis
labelled in powers of ten: the values span 10^-300 to 10^300, which float32 (used to keep
the book's pages small) cannot hold, while their logarithms fit it easily. inf, NaN and 0
are left out of the curve and marked at the edge of the plot.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from .validate import check_choice, check_positive_float, check_positive_int
from .explorer import (ACTIVATION_CHOICES, CELL_CHOICES, SCALE_RANGE, Exploration, explore,
                       format_factor, scalar_powers, scalar_verdict, slider_scales)
from .plots import NOTEBOOK_WIDTH, FigureSpec, slider_frames

__all__ = ["profile_spec", "profile_figure", "eigenvalue_spec", "eigenvalue_figure",
           "live_explorer_spec",
           "scalar_spec", "scalar_figure", "static_explorer", "static_scalar_explorer",
           "static_cell_explorer", "FORGET_BIASES"]

# Traces are plain dicts: validating them one by one in plotly costs more than computing
# them, and the live explorer redraws on every drag.
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
    clip_name = "clipped" if res.clipped is None else f"clipped at {format_factor(res.controls['clip'])}"
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


def _circle(r: float, n: int = 49):
    t = np.linspace(0, 2 * np.pi, n)
    return _f32(r * np.cos(t)), _f32(r * np.sin(t))


def _eigen_limit(results) -> float:
    """Half-width of the eigenvalue plot: room for the slider's largest scale."""
    return round(max(1.1 * SCALE_RANGE[1], *(1.1 * max(r.radius, r.controls["scale"])
                                            for r in results)), 2)


def _eigen_traces(res: Exploration, *, xaxis="x", yaxis="y") -> dict:
    """Named groups: the unit circle, the circle of radius ``scale``, the eigenvalues
    (one trace per W_hh block)."""
    common = dict(xaxis=xaxis, yaxis=yaxis)
    ux, uy = _circle(1.0)
    sx, sy = _circle(float(res.controls["scale"]))
    what = "\u03c3<sub>max</sub>" if res.controls["scale_by"] == "norm" else "\u03c1"
    return {
        "unit circle": [_scatter(x=ux, y=uy, mode="lines", name="unit circle",
                                 hoverinfo="skip", line=dict(color=_COLORS["unit"], width=1),
                                 **common)],
        "scale circle": [_scatter(x=sx, y=sy, mode="lines", name=f"radius {what} = scale",
                                  hoverinfo="skip",
                                  line=dict(color=_COLORS["scale"], width=1, dash="dash"),
                                  **common)],
        "eigenvalues": [_scatter(
            x=_f32(lam.real), y=_f32(lam.imag), mode="markers",
            name="eigenvalues" if len(res.blocks) == 1 else f"eigenvalues ({block})",
            marker=dict(color=_BLOCK_COLORS[i % 4], size=6),
            hovertemplate="%{x:.3f} %{y:+.3f}i<extra>" + block + "</extra>", **common)
            for i, (block, lam) in enumerate(zip(res.blocks, res.eigenvalues))]}


def _flat(groups: dict) -> list:
    return [trace for traces in groups.values() for trace in traces]


def _eigen_axes(lim: float) -> tuple[dict, dict]:
    return (dict(title=dict(text="Re \u03bb"), range=[-lim, lim], zeroline=False),
            dict(title=dict(text="Im \u03bb"), range=[-lim, lim], zeroline=False))


_LAYOUT = dict(template="none", legend=dict(orientation="h", y=-0.25, yanchor="top"),
               margin=dict(l=75, r=20, t=45, b=90))


def _title(text: str, size: int = 13, **kw) -> dict:
    return dict(text=text, font=dict(size=size), **kw)


def _data_y_range(res: Exploration) -> list:
    """A y range (log10 units) for the profile and its clipped version, holding 10^0."""
    return _log_range(_log10(res.profile),
                      _log10(res.clipped) if res.clipped is not None else [])


def profile_spec(res: Exploration, height: int = 380, y_range=None) -> FigureSpec:
    """:func:`profile_figure` as plain data.

    ``y_range`` (log10 units) defaults to the data's: the profile and its clipped version,
    padded, and always holding 10^0 (where the profile starts).
    """
    if y_range is None:
        y_range = _data_y_range(res)
    xaxis, yaxis = _profile_axes(res.T, y_range)
    return FigureSpec(data=_profile_traces(res, y_range), layout=dict(
        _LAYOUT, xaxis=xaxis, yaxis=yaxis, height=height, title=_title(res.verdict.text)))


def profile_figure(res: Exploration, height: int = 380, y_range=None) -> go.Figure:
    """The gradient profile of ``res`` against k, with its bounds, on a log axis.

    The y axis spans the data unless ``y_range`` (log10 units, ``[low, high]``) is given.
    """
    return profile_spec(res, height, y_range).figure()


def eigenvalue_spec(res: Exploration, height: int = 380) -> FigureSpec:
    """:func:`eigenvalue_figure` as plain data."""
    xaxis, yaxis = _eigen_axes(_eigen_limit([res]))
    yaxis.update(scaleanchor="x", scaleratio=1)
    xaxis.update(constrain="domain")          # keep the range; make the box square
    return FigureSpec(data=_flat(_eigen_traces(res)), layout=dict(
        _LAYOUT, height=height, xaxis=xaxis, yaxis=yaxis,
        title=_title(f"W_hh: spectral radius {res.radius:.3g}, largest singular value "
                     f"{res.sigma:.3g}")))


def eigenvalue_figure(res: Exploration, height: int = 380) -> go.Figure:
    """The eigenvalues of W_hh (each gate block) in the complex plane, with the unit circle."""
    return eigenvalue_spec(res, height).figure()


def live_explorer_spec(res: Exploration, y_range=None, width: int = NOTEBOOK_WIDTH,
                       height: int = 360) -> FigureSpec:
    """The live explorer's figure: the profile (left) and the eigenvalues of W_hh (right).

    One figure rather than two, with no title, annotation or legend (the live explorer
    prints the verdict and the spectrum above it and a legend below, from the traces'
    ``showlegend``: true for those with data), so that a control change is one quick
    redraw in the browser. The gradient axis spans the data unless ``y_range`` (log10
    units) is given; the eigenvalue axes hold the slider's largest scale. A fixed size:
    plotly sizes a plot by its box when first drawn, and a widget's box may not have a
    size yet then (plotly would take 700 px).
    """
    if y_range is None:
        y_range = _data_y_range(res)
    xaxis, yaxis = _profile_axes(res.T, y_range)
    xaxis2, yaxis2 = _eigen_axes(_eigen_limit([res]))
    data = _profile_traces(res, y_range) + _flat(_eigen_traces(res, xaxis="x2", yaxis="y2"))
    for trace in data:
        trace["showlegend"] = len(trace["y"]) > 0
    return FigureSpec(data=data, layout=dict(
        _LAYOUT, width=width, height=height, showlegend=False,
        margin=dict(l=75, r=20, t=20, b=50),
        xaxis=dict(xaxis, domain=[0, 0.55]), yaxis=yaxis,
        xaxis2=dict(xaxis2, domain=[0.67, 1], anchor="y2", constrain="domain"),
        yaxis2=dict(yaxis2, anchor="x2", scaleanchor="x2", scaleratio=1)))


_SCALAR_REFERENCES = (0.9, 1.1)


def _scalar_traces(w: float, T: int) -> dict:
    """Named groups: ``references`` 0.9^t and 1.1^t, ``curve`` ``|w|^t`` (as log10),
    against t = 0..T (the index)."""
    refs = [_scatter(y=_f32(_log10(scalar_powers(ref, T))), mode="lines",
                     name=f"{ref}<sup>t</sup>", line=dict(color=_COLORS["bound"], dash=dash),
                     hovertemplate="t = %{x}<br>10<sup>%{y:.2f}</sup><extra></extra>")
            for ref, dash in zip(_SCALAR_REFERENCES, ("dash", "dot"))]
    curve = _scatter(y=_f32(_log10(np.abs(scalar_powers(w, T)))), mode="lines",
                     name="|w|<sup>t</sup>", line=dict(color=_COLORS["profile"], width=3),
                     hovertemplate="t = %{x}<br>10<sup>%{y:.2f}</sup><extra>w</extra>")
    return {"references": refs, "curve": [curve]}


def _scalar_layout(T: int, y_range, height: int) -> dict:
    return dict(_LAYOUT, height=height,
                xaxis=dict(title=dict(text="t (steps the gradient travels back)"),
                           range=[0, T], zeroline=False),
                yaxis=dict(title=dict(text="|w|<sup>t</sup> (log scale)"), range=list(y_range),
                           zeroline=False, **_power_ticks(*y_range)))


def _scalar_title(w: float, T: int) -> str:
    return f"w = {w:.3g}: {scalar_verdict(w, T).text}"


def scalar_spec(w: float = 0.9, T: int = 100, height: int = 350, y_range=None) -> FigureSpec:
    """:func:`scalar_figure` as plain data (``y_range`` in log10 units; by default the
    data's: ``|w|^t`` and the two references)."""
    traces = _flat(_scalar_traces(w, T))
    if y_range is None:
        y_range = _log_range(*(t["y"] for t in traces))
    layout = _scalar_layout(T, y_range, height)
    layout["title"] = _title(_scalar_title(w, T))
    return FigureSpec(data=traces, layout=layout)


def scalar_figure(w: float = 0.9, T: int = 100, height: int = 350) -> go.Figure:
    """The scalar case: ``|w|^t`` against t on a log axis, next to 0.9^t and 1.1^t."""
    return scalar_spec(w, T, height).figure()


# ------------------------------------------------------------------------ static (book)

# In the static figures the slider sits below the plot, so the legend goes above it.
_TOP_LEGEND = dict(orientation="h", x=0, y=0.78, yanchor="bottom")
# Frames carry only the data that changes, not the style.
_FRAME_KEYS = ("x", "y", "text", "hovertext")


def _text_trace(text: str, xaxis: str, yaxis: str) -> dict:
    """A line of text in its own invisible axes, so that slider frames can change it."""
    return _scatter(x=[0], y=[0.5], text=[text], mode="text", textposition="middle right",
                    xaxis=xaxis, yaxis=yaxis, showlegend=False, hoverinfo="skip",
                    textfont=dict(size=13))


def _text_axes(n: int, bottom: float, top: float, **extra) -> dict:
    """Invisible axes number ``n`` for a :func:`_text_trace` between ``bottom`` and ``top``."""
    return {f"xaxis{n}": dict(domain=[0, 1], range=[0, 1], visible=False, anchor=f"y{n}",
                              **extra),
            f"yaxis{n}": dict(domain=[bottom, top], range=[0, 1], visible=False,
                              anchor=f"x{n}", **extra)}


def _static_frames(results, groups, y_range) -> list:
    """One frame per scale: the eigenvalue groups, then one group per nonlinearity
    (its profile traces and its verdict)."""
    frames = []
    for row in results:
        frame = _eigen_traces(row[0], xaxis="x2", yaxis="y2")
        for group, res in zip(groups, row):
            frame[group] = (_profile_traces(res, y_range, group if len(groups) > 1 else "")
                            + [_text_trace(res.verdict.text, "x3", "y3")])
        frames.append(frame)
    return frames


def _static_layout(res: Exploration, y_range, lim: float, height: int) -> dict:
    c = res.controls
    xaxis, yaxis = _profile_axes(res.T, y_range)
    xaxis2, yaxis2 = _eigen_axes(lim)
    scale = "largest singular value" if c["scale_by"] == "norm" else "spectral radius"
    return dict(
        _LAYOUT, height=height, margin=dict(l=75, r=20, t=60, b=60),
        # Left-aligned and short, so the nonlinearity dropdown (top right) never covers it.
        title=_title(f"{c['cell'].upper()}, T = {res.T}, H = {c['hidden_size']}, "
                     f"{c['init']} W_hh, scale = {scale}", 14, x=0.01, xanchor="left"),
        xaxis=dict(xaxis, domain=[0, 0.6]), yaxis=dict(yaxis, domain=[0, 0.76]),
        xaxis2=dict(xaxis2, domain=[0.7, 1], anchor="y2", constrain="domain"),
        yaxis2=dict(yaxis2, domain=[0, 0.76], anchor="x2", scaleanchor="x2", scaleratio=1),
        **_text_axes(3, 0.92, 1, fixedrange=True), legend=_TOP_LEGEND)


def _visible(groups: dict, shown: str, always=("unit circle", "scale circle", "eigenvalues")):
    """Trace visibility showing the group ``shown`` and the groups ``always``."""
    return [g in always or g == shown for g, ids in groups.items() for _ in ids]


def _scale_names(scales):
    scales = slider_scales() if scales is None else np.asarray(scales, dtype=float)
    if scales.ndim != 1 or scales.size == 0:
        raise ValueError(f"scales must be a non-empty 1-D sequence; got shape {scales.shape}")
    names = [f"{s:.3g}" for s in scales]
    if len(set(names)) != len(names):
        raise ValueError("scales must differ in their first 3 significant digits")
    return scales, names


def static_explorer(T: int = 200, hidden_size: int = 64, activations=ACTIVATION_CHOICES,
                    init: str = "orthogonal", cell: str = "rnn", *, scales=None,
                    start: float = 1.0, height: int = 560, **kwargs) -> FigureSpec:
    """The explorer for the static book: slider frames over the weight scale.

    Every frame is computed here with :func:`rnn_tutor.explorer.explore` (the function
    behind the live widgets), so moving the slider in a page without a kernel only swaps
    data already in the page. Left: the gradient profile with its bounds; right: the
    eigenvalues of W_hh; above: the verdict. With several ``activations`` (RNN only), a
    dropdown shows one nonlinearity's traces at a time (every frame holds all of them).

    Parameters
    ----------
    T, hidden_size, init, cell, **kwargs
        As in :func:`rnn_tutor.explorer.explore` (keyword-only ``scale_by``,
        ``forget_bias``, ``input_scale``, ``seed``, ``clip``); fixed for the whole figure.
    activations : sequence of str
        The nonlinearities to offer (the first is shown first). Ignored for LSTM/GRU.
    scales : sequence of float, optional
        Slider values (default :func:`rnn_tutor.explorer.slider_scales`: 49 values from
        0.25 to 4, with 1 in the middle).
    start : float
        The slider starts at the value nearest to this one (on a log scale).
    height : int

    Returns
    -------
    rnn_tutor.plots.FigureSpec
        One frame per scale; display it with :func:`rnn_tutor.plots.show`.
    """
    check_choice(cell, CELL_CHOICES, "cell")
    if isinstance(activations, str):
        activations = (activations,)
    activations = tuple(check_choice(a, ACTIVATION_CHOICES, "activation")
                        for a in activations) if cell == "rnn" else ("tanh",)
    if not activations:
        raise ValueError("activations must name at least one nonlinearity; got none")
    scales, names = _scale_names(scales)
    active = int(np.argmin(np.abs(np.log(scales / check_positive_float(start, "start")))))
    results = [[explore(float(s), T, hidden_size, a, init, cell, **kwargs)
                for a in activations] for s in scales]
    flat = [r for row in results for r in row]
    groups = activations if cell == "rnn" else (cell.upper(),)
    y_range = _profile_y_range(flat)
    parts = slider_frames(_static_frames(results, groups, y_range), names,
                          label="weight scale", active=active, fixed=("unit circle",),
                          keys=_FRAME_KEYS, pad=dict(t=55), y=0.0)
    for trace, vis in zip(parts["data"], _visible(parts["groups"], groups[0])):
        trace["visible"] = vis
    layout = _static_layout(flat[0], y_range, _eigen_limit(flat), height)
    layout["sliders"] = [parts["slider"]]
    if len(groups) > 1:
        buttons = [dict(label=f"\u03c6 = {g}", method="restyle",
                        args=[dict(visible=_visible(parts["groups"], g))]) for g in groups]
        layout["updatemenus"] = [dict(type="dropdown", buttons=buttons, active=0,
                                      x=1.0, xanchor="right", y=1.13, yanchor="bottom")]
    return FigureSpec(data=parts["data"], layout=layout, frames=parts["frames"])


def static_scalar_explorer(T: int = 100, ws=None, height: int = 380) -> FigureSpec:
    """The scalar case for the book: a slider over w, with 0.9^t and 1.1^t for reference."""
    T = check_positive_int(T, "T")
    ws = np.round(np.linspace(0.5, 1.5, 41), 3) if ws is None else np.asarray(ws, float)
    frames = [dict(_scalar_traces(float(w), T),
                   verdict=[_text_trace(_scalar_title(float(w), T), "x2", "y2")])
              for w in ws]
    y_range = _log_range(*(t["y"] for f in frames for t in f["references"] + f["curve"]))
    parts = slider_frames(frames, [f"{w:.3g}" for w in ws], label="w",
                          active=int(np.argmin(np.abs(ws - 0.9))), fixed=("references",),
                          keys=_FRAME_KEYS, pad=dict(t=55), y=0.0)
    layout = _scalar_layout(T, y_range, height)
    layout["yaxis"]["domain"] = [0, 0.74]
    layout.update(_text_axes(2, 0.88, 1), sliders=[parts["slider"]],
                  margin=dict(l=75, r=20, t=20, b=60), legend=_TOP_LEGEND)
    return FigureSpec(data=parts["data"], layout=layout, frames=parts["frames"])


# ------------------------------------------------------------- cells side by side (ch. 8)

_CELL_STYLE = {"rnn": ("RNN (tanh)", "#7f7f7f", "dash"), "gru": ("GRU", "#2ca02c", "dot"),
               "lstm": ("LSTM", "#d62728", "solid")}
#: The forget biases of :func:`static_cell_explorer`'s slider: -3 to 5 in steps of 0.25.
FORGET_BIASES = tuple(np.round(np.arange(-3.0, 5.0001, 0.25), 2).tolist())


def _cell_trace(res: Exploration, cell: str) -> dict:
    name, color, dash = _CELL_STYLE[cell]
    hover = f"k = %{{x}}<br>{_NORM} = 10<sup>%{{y:.2f}}</sup><extra>{name}</extra>"
    return _scatter(y=_f32(_log10(res.profile)), mode="lines", name=name,
                    legendgroup=cell,
                    line=dict(color=color, dash=dash, width=2.5 if cell == "lstm" else 2),
                    hovertemplate=hover)


def _lstm_text(res: Exploration) -> str:
    b = res.controls["forget_bias"]
    return (f"LSTM, forget bias {b:g} (\u03c3(b) = {1 / (1 + math.exp(-b)):.2f}): "
            f"{res.verdict.text}")


def _cell_frames(scales, biases, others, lstm) -> list:
    """One frame per forget bias: per scale, the fixed RNN/GRU traces and the LSTM's."""
    frames = []
    for j in range(len(biases)):
        frame = {}
        for i, s in enumerate(scales):
            frame[f"fixed {s}"] = [_cell_trace(res, cell) for cell, res in others[i]]
            frame[f"lstm {s}"] = [_cell_trace(lstm[i][j], "lstm"),
                                  _text_trace(_lstm_text(lstm[i][j]), "x3", "y3")]
        frames.append(frame)
    return frames


def static_cell_explorer(T: int = 100, hidden_size: int = 64, cells=CELL_CHOICES, *,
                         scales=(0.5, 1.0, 2.0), forget_biases=FORGET_BIASES,
                         start_bias: float = 1.0, start_scale: float = 1.0,
                         height: int = 480, **kwargs) -> FigureSpec:
    """RNN, LSTM and GRU gradient profiles in one plot, for the static book.

    A slider over the LSTM's forget-gate bias (the other cells do not have one, so their
    curves stay put) and a dropdown over the scale of W_hh (of each gate block). Every
    curve is :func:`rnn_tutor.explorer.explore`'s profile ``||dL/dh_k||`` for the same
    seed, so the cells see the same kind of inputs; above the plot, the LSTM's verdict.

    Parameters
    ----------
    T, hidden_size : int
    cells : sequence of {"rnn", "lstm", "gru"}
        The cells drawn ("lstm" must be one of them; the RNN uses tanh).
    scales : sequence of float
        The dropdown's weight scales (largest singular value of each block).
    forget_biases : sequence of float
        The slider's values (default :data:`FORGET_BIASES`).
    start_bias, start_scale : float
        The slider and the dropdown start at the nearest values.
    height : int
    **kwargs
        More keyword arguments of ``explore``, fixed for the figure (``init``, ``seed``,
        ``input_scale``, ``scale_by``).

    Returns
    -------
    rnn_tutor.plots.FigureSpec
        One frame per forget bias; display it with :func:`rnn_tutor.plots.show`.
    """
    cells = tuple(check_choice(c, CELL_CHOICES, "cell") for c in cells)
    if "lstm" not in cells:
        raise ValueError(f"cells must include 'lstm' (the slider sets its forget bias); got {cells}")
    scales, names = _scale_names(scales)
    biases = np.asarray(forget_biases, dtype=float)
    if biases.ndim != 1 or biases.size == 0 or not np.all(np.isfinite(biases)):
        raise ValueError(f"forget_biases must be a non-empty 1-D sequence of finite numbers; "
                         f"got {forget_biases!r}")
    run = lambda s, cell, b=1.0: explore(float(s), T, hidden_size, "tanh", cell=cell,
                                         forget_bias=float(b), **kwargs)
    others = [[(c, run(s, c)) for c in cells if c != "lstm"] for s in scales]
    lstm = [[run(s, "lstm", b) for b in biases] for s in scales]
    flat = [r for row in lstm for r in row] + [r for row in others for _, r in row]
    y_range = _log_range(*(_log10(r.profile) for r in flat))      # the data, not a band
    active = int(np.argmin(np.abs(biases - float(start_bias))))
    shown = names[int(np.argmin(np.abs(np.log(scales / check_positive_float(start_scale, "start_scale")))))]
    parts = slider_frames(_cell_frames(names, biases, others, lstm),
                          [f"{b:g}" for b in biases], label="LSTM forget bias", active=active,
                          fixed=tuple(f"fixed {s}" for s in names), keys=_FRAME_KEYS,
                          pad=dict(t=55), y=0.0)
    visible = lambda s: [g.endswith(f" {s}") for g, ids in parts["groups"].items() for _ in ids]
    for trace, vis in zip(parts["data"], visible(shown)):
        trace["visible"] = vis
    xaxis, yaxis = _profile_axes(T, y_range)
    layout = dict(
        _LAYOUT, height=height, margin=dict(l=75, r=20, t=60, b=60),
        title=_title(f"RNN, LSTM and GRU, T = {T}, H = {hidden_size}", 14, x=0.01,
                     xanchor="left"),
        xaxis=xaxis, yaxis=dict(yaxis, domain=[0, 0.76]),
        **_text_axes(3, 0.92, 1, fixedrange=True), legend=_TOP_LEGEND,
        sliders=[parts["slider"]],
        updatemenus=[dict(type="dropdown", active=names.index(shown), x=1.0, xanchor="right",
                          y=1.13, yanchor="bottom",
                          buttons=[dict(label=f"weight scale {s}", method="restyle",
                                        args=[dict(visible=visible(s))]) for s in names])])
    return FigureSpec(data=parts["data"], layout=layout, frames=parts["frames"])
