"""Plotly figures that render in the static book and in every notebook front end.

Two helpers:

``show(fig)``
    Displays a figure. Under a kernel, plotly >= 6.1 emits only the
    ``application/vnd.plotly.v1+json`` MIME type, which the book's renderer (myst-nb)
    cannot draw: the figure would silently vanish from the book. ``show`` emits an HTML
    fragment instead (the figure's JSON plus a few lines of JavaScript that call
    ``Plotly.newPlot``):

    - in the book build (the book's Sphinx extension sets the environment variable
      ``RNN_TUTOR_BOOK_BUILD=1`` for the kernels it starts) the bundle holds only this
      HTML; plotly.js is served once per page from the book's own static folder, so
      nothing is fetched from another host;
    - in a live notebook the bundle also holds the plotly JSON, which JupyterLab (through
      the ``jupyterlab-plotly`` extension that ships with plotly) and VS Code draw
      natively, offline;
    - front ends that only understand HTML and have no plotly.js on the page (Colab, the
      classic notebook) load plotly.js on demand, through require.js where the page uses
      it, otherwise with a plain ``<script>`` tag. That fallback never runs in the book,
      where ``window.Plotly`` is always defined first (the browser tests check that no
      page requests anything from another host).

``slider_figure(values, traces, label=...)``
    Builds a ``go.Figure`` with one animation frame per slider value, all computed in
    Python when the figure is made. Moving the slider swaps frames in the browser, so
    the figure stays interactive in the static book, with no kernel. It and the gradient
    explorer's static views (:mod:`rnn_tutor.explorer_views`) share one frame builder,
    :func:`slider_frames`, whose frames are made of named groups of traces.

Both helpers accept a ``go.Figure`` or a :class:`FigureSpec`: the same figure as plain
data, for views that are rebuilt on every drag of a live slider or hold hundreds of
frames, where plotly's per-property validation would cost more than the numbers.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
import math
import re
from collections.abc import Callable, Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots
from plotly.offline import get_plotlyjs_version

from .validate import as_float_array, check_nonnegative_int
from .book_build import in_book_build

__all__ = ["figure_html", "mime_bundle", "show", "describe", "slider_figure", "slider_frames", "slider",
           "FigureSpec", "history_figure", "PLOTLY_JS_VERSION"]

#: Version of plotly.js bundled with the installed plotly package (the book serves it).
PLOTLY_JS_VERSION = get_plotlyjs_version()

# Only used by live front ends that have no plotly.js on the page (see module docstring).
_PLOTLY_JS_FALLBACK_URL = f"https://cdn.plot.ly/plotly-{PLOTLY_JS_VERSION}.min.js"
_DEFAULT_HEIGHT = 450
#: Width in pixels of figures drawn by a notebook's plotly renderer (JupyterLab's), and of
#: the live explorers: it fits JupyterLab's notebook beside the file browser at 1280 px.
NOTEBOOK_WIDTH = 800
_CONFIG = {"responsive": True, "displaylogo": False}
_counter = itertools.count(1)

# Runs where the figure is displayed. ``draw`` needs ``window.Plotly``; in the book it is
# already there (loaded in the page head). Otherwise plotly.js is loaded once per page.
_SCRIPT = """(function () {
  var spec = %(spec)s;
  function draw(Plotly) {
    var gd = document.getElementById(%(div_id)s);
    if (!gd) { return; }
    Plotly.newPlot(gd, spec.data, spec.layout, spec.config).then(function () {
      if (spec.frames && spec.frames.length) { return Plotly.addFrames(gd, spec.frames); }
    });
    // Keyboard: with the figure focused, the arrow keys (and Home/End) move its slider.
    var slider = (spec.layout.sliders || [])[0];
    if (!slider) { return; }
    gd.addEventListener("keydown", function (event) {
      var steps = slider.steps, now = gd._fullLayout.sliders[0].active, to = {
        ArrowLeft: now - 1, ArrowDown: now - 1, ArrowRight: now + 1, ArrowUp: now + 1,
        Home: 0, End: steps.length - 1}[event.key];
      if (to === undefined) { return; }
      event.preventDefault();
      to = Math.max(0, Math.min(steps.length - 1, to));
      if (to === now) { return; }
      Plotly.relayout(gd, {"sliders[0].active": to});
      if (steps[to].method !== "skip") {
        Plotly[steps[to].method].apply(null, [gd].concat(steps[to].args || []));
      }
    });
  }
  if (window.Plotly) { draw(window.Plotly); return; }
  if (typeof window.define === "function" && window.define.amd && window.require) {
    window.require.config({paths: {plotly: %(url_no_ext)s}});
    window.require(["plotly"], function (Plotly) { window.Plotly = Plotly; draw(Plotly); });
    return;
  }
  var queue = window.__rnnTutorPlotlyQueue = window.__rnnTutorPlotlyQueue || [];
  queue.push(draw);
  if (queue.length > 1) { return; }
  var tag = document.createElement("script");
  tag.src = %(url)s;
  tag.onload = function () { while (queue.length) { queue.shift()(window.Plotly); } };
  document.head.appendChild(tag);
})();"""


class FigureSpec(dict):
    """A plotly figure as plain data: ``{"data": [...], "layout": {...}, "frames": [...]}``.

    Traces and layout are dicts in plotly's JSON schema; arrays may be NumPy arrays (sent
    to the page as typed arrays, as plotly does). Nothing is validated when it is built:
    only code whose output the tests validate should make one. :func:`show`,
    :func:`figure_html` and :func:`mime_bundle` take it like a ``go.Figure``.
    """

    def figure(self) -> go.Figure:
        """The same figure as a validated ``go.Figure`` (slower; for tests and editing)."""
        return go.Figure(self)


# numpy dtype -> plotly.js typed-array type (what plotly's own JSON export writes)
_TYPED = {"int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4",
          "uint32": "u4", "float32": "f4", "float64": "f8"}


def _plain(obj, key=None):
    """JSON-ready copy of a figure spec: 1-D arrays become plotly.js typed arrays."""
    if isinstance(obj, dict):
        return {k: _plain(v, k) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.size and obj.ndim == 1 and str(obj.dtype) in _TYPED and key != "range":
            return {"dtype": _TYPED[str(obj.dtype)],
                    "bdata": base64.b64encode(np.ascontiguousarray(obj)).decode("ascii")}
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None                                      # as plotly's JSON encoder does
    return obj


def _check_figure(fig) -> go.Figure | FigureSpec:
    if not isinstance(fig, (go.Figure, FigureSpec)):
        raise TypeError("fig must be a plotly.graph_objects.Figure (or a plots.FigureSpec); "
                        f"got {type(fig).__name__}. Build it with go.Figure(...) or "
                        "plotly.express.")
    return fig


def _spec(fig: go.Figure | FigureSpec) -> dict:
    """The figure as plain JSON-ready data: data, layout, frames and config."""
    if isinstance(fig, FigureSpec):
        spec = _plain(fig)
    else:
        spec = json.loads(pio.to_json(fig, validate=False))
    spec.setdefault("data", [])
    spec.setdefault("layout", {})
    spec.setdefault("frames", [])
    spec["config"] = dict(_CONFIG)
    return spec


def figure_html(fig: go.Figure, div_id: str | None = None) -> str:
    """Return an HTML fragment that draws ``fig`` with the page's plotly.js.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure or FigureSpec
        The figure to draw (with its frames, if any).
    div_id : str, optional
        Id of the figure's ``<div>``. By default a deterministic id is derived from the
        figure's content and a per-process counter, so re-running a notebook gives the
        same HTML and two displays of one figure never share an id.

    Returns
    -------
    str
        A ``<div class="plotly-graph-div">`` and a ``<script>``. The fragment contains
        neither plotly.js nor MathJax; see the module docstring for where plotly.js comes
        from.
    """
    return _html_from_spec(_spec(_check_figure(fig)), div_id)


def _html_from_spec(spec: dict, div_id: str | None) -> str:
    spec_json = json.dumps(spec, separators=(",", ":"), sort_keys=True)
    if div_id is None:
        digest = hashlib.sha1(spec_json.encode()).hexdigest()[:10]
        div_id = f"rnn-fig-{digest}-{next(_counter)}"
    elif not isinstance(div_id, str) or not div_id:
        raise TypeError(f"div_id must be a non-empty string or None; got {div_id!r}")
    height = spec["layout"].get("height") or _DEFAULT_HEIGHT
    # "</" must not appear inside a <script> element: it could close it early.
    safe_json = spec_json.replace("</", "<\\/")
    script = _SCRIPT % {
        "spec": safe_json,
        "div_id": json.dumps(div_id),
        "url": json.dumps(_PLOTLY_JS_FALLBACK_URL),
        "url_no_ext": json.dumps(_PLOTLY_JS_FALLBACK_URL[:-len(".js")]),
    }
    keys = ' tabindex="0"' if spec["layout"].get("sliders") else ""
    return (f'<div id="{html.escape(div_id)}" class="plotly-graph-div rnn-tutor-figure" '
            f'role="figure" aria-label="{html.escape(describe(spec))}"{keys} '
            f'style="height:{int(height)}px; width:100%;"></div>\n'
            f'<script type="text/javascript">\n{script}\n</script>')


def _text(title) -> str:
    """Plain text of a plotly title (a string or ``{"text": ...}``), markup removed."""
    text = title.get("text") if isinstance(title, dict) else title
    text = re.sub(r"<br\s*/?>", " ", str(text or ""))
    text = re.sub(r"<sup>(.*?)</sup>", r"^\1", re.sub(r"<sub>(.*?)</sub>", r"_\1", text))
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())


def describe(fig) -> str:
    """A one-sentence text alternative for a figure, from its own title, axes and slider.

    The book gives it to screen readers (the figure's ``aria-label``), e.g. "Figure: How
    much of the gradient survives t steps back. Horizontal axis: steps back in time, t;
    vertical axis: gradient scale. 2 traces. Slider over w, 21 positions: focus the
    figure and use the arrow keys."

    Parameters
    ----------
    fig : plotly.graph_objects.Figure, FigureSpec or dict
        The figure (or its JSON spec).
    """
    spec = fig if isinstance(fig, dict) and not isinstance(fig, FigureSpec) else \
        _spec(_check_figure(fig))
    layout = spec.get("layout", {})
    parts = [f"Figure: {_text(layout.get('title')) or 'untitled'}."]
    axes = []
    for key in sorted(k for k in layout if re.fullmatch(r"[xy]axis\d*", k)):
        name = _text(layout[key].get("title")) if isinstance(layout[key], dict) else ""
        if name:
            axes.append(f"{'horizontal' if key[0] == 'x' else 'vertical'} axis: {name}")
    if axes:
        axes[0] = axes[0][0].upper() + axes[0][1:]
        parts.append("; ".join(axes) + ".")
    kinds = sorted({t.get("type", "scatter") for t in spec.get("data", [])})
    n = len(spec.get("data", []))
    parts.append(f"{n} trace{'s' if n != 1 else ''} ({', '.join(kinds)})." if n else
                 "No data.")
    for slider in layout.get("sliders", [])[:1]:
        prefix = _text((slider.get("currentvalue") or {}).get("prefix", "")).strip(" =:")
        parts.append(f"Slider{' over ' + prefix if prefix else ''}, "
                     f"{len(slider.get('steps', []))} positions: focus the figure and use "
                     "the arrow keys.")
    return " ".join(parts)


def mime_bundle(fig: go.Figure, book: bool | None = None) -> dict:
    """Return the MIME bundle that :func:`show` displays.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure or FigureSpec
        The figure.
    book : bool, optional
        Whether the bundle is for the static book. By default, true when the environment
        variable ``RNN_TUTOR_BOOK_BUILD`` is ``"1"`` (the book build sets it).

    Returns
    -------
    dict
        ``text/html`` (see :func:`figure_html`) and ``text/plain`` (a one-line summary
        for terminals); outside the book also ``application/vnd.plotly.v1+json`` for
        front ends with a plotly renderer, with a width and a height (``NOTEBOOK_WIDTH``
        and the figure's own height, 450 px by default). The book's renderer cannot
        render that type and would report it as an unknown MIME type, so the book gets
        HTML only.
    """
    spec = _spec(_check_figure(fig))
    if book is None:
        book = in_book_build()
    title = spec["layout"].get("title")
    title = (title.get("text") if isinstance(title, dict) else title) or "untitled"
    bundle = {
        "text/html": _html_from_spec(spec, None),
        "text/plain": f"<plotly figure '{title}' with {len(spec['data'])} trace(s) "
                      f"and {len(spec['frames'])} frame(s)>",
    }
    if not book:
        # A fixed width: JupyterLab's plotly renderer re-fits a figure without one to its
        # box on every resize message, and a theme change sends one while the box is empty
        # (every static figure of a chapter collapsed to 0 px high in the JupyterLab test).
        layout = {"width": NOTEBOOK_WIDTH, "height": _DEFAULT_HEIGHT, **spec["layout"]}
        bundle["application/vnd.plotly.v1+json"] = {**spec, "layout": layout}
    return bundle


def show(fig: go.Figure) -> None:
    """Display a plotly figure so that it renders in the book and in any notebook.

    Use this instead of ``fig.show()`` in the chapters: ``fig.show()`` under a kernel
    emits only plotly's JSON MIME type, which the book cannot render (the build then
    fails with a ``mystnb.unknown_mime_type`` warning rather than shipping a blank
    figure). See :func:`mime_bundle` for what is displayed where.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure or FigureSpec
        The figure, e.g. from :func:`slider_figure`.
    """
    from IPython.display import display

    display(mime_bundle(fig), raw=True)


def _finite_extent(arrays, log: bool, include_zero: bool = False):
    """(lo, hi) over the finite (and, for a log axis, positive) entries, or None."""
    lo, hi = (0.0, 0.0) if include_zero and not log else (math.inf, -math.inf)
    for a in arrays:
        try:
            v = np.asarray(a, dtype=float).ravel()
        except (TypeError, ValueError):
            return None  # categorical data: let plotly choose the axis
        v = v[np.isfinite(v)]
        if log:
            v = v[v > 0]
        if v.size:
            lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
    if lo > hi:
        return None
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    pad = 0.05 * (hi - lo) if hi > lo else (abs(hi) * 0.05 or 0.5)
    return [lo - pad, hi + pad]


def slider_figure(values: Sequence[float], traces: Callable[[float], Sequence],
                  *, label: str, value_format: str = ".3g", active: int = 0,
                  layout: dict | go.Layout | None = None,
                  fix_ranges: bool = True) -> go.Figure:
    """Build a figure whose slider steps through precomputed frames.

    Every frame is computed here, in Python, so the slider works in the static book with
    no kernel: moving it only swaps data that is already in the page.

    Parameters
    ----------
    values : sequence of float
        The slider positions, in order (e.g. ``np.linspace(0.5, 1.5, 21)``).
    traces : callable
        ``traces(value)`` returns the list of plotly traces (``go.Scatter`` ...) to show
        for that value. Every call must return the same number of traces, in the same
        order, so that frames map onto them.
    label : str
        Name of the quantity on the slider, shown as ``label = value``.
    value_format : str, default ".3g"
        Format spec for the values on the slider (``format(value, value_format)``).
    active : int, default 0
        Index of the value shown when the page loads.
    layout : dict or go.Layout, optional
        Figure layout (titles, axis types, height ...).
    fix_ranges : bool, default True
        Fix each x and y axis to the extent of the data over *all* frames (unless the
        layout sets a range), so that moving the slider shows the data change instead of
        the axes rescaling to hide it.

    Returns
    -------
    plotly.graph_objects.Figure
        The figure, with ``len(values)`` frames and one slider. Display it with
        :func:`show`.

    Examples
    --------
    >>> import numpy as np, plotly.graph_objects as go
    >>> t = np.arange(30)
    >>> fig = slider_figure(np.linspace(0.8, 1.2, 5),
    ...                     lambda w: [go.Scatter(x=t, y=w ** t)], label="w")
    >>> len(fig.frames)
    5
    """
    vals = as_float_array(values, "values", ndim=1)
    if vals.size == 0:
        raise ValueError("values must contain at least one slider position; got none")
    if not callable(traces):
        raise TypeError("traces must be a function value -> list of plotly traces; got "
                        f"{type(traces).__name__}")
    if not isinstance(label, str) or not label:
        raise TypeError(f"label must be a non-empty string; got {label!r}")
    active = check_nonnegative_int(active, "active")
    if active >= vals.size:
        raise ValueError(f"active must index values (0 to {vals.size - 1}); got {active}")
    try:
        names = [format(float(v), value_format) for v in vals]
    except (ValueError, TypeError) as err:
        raise ValueError(f"value_format {value_format!r} is not a valid format spec for "
                         f"floats: {err}") from None
    if len(set(names)) != len(names):
        raise ValueError(f"value_format {value_format!r} gives two slider values the same "
                         f"label ({names}); use more digits")

    def frame(v):
        data = list(traces(float(v)))
        if not data:
            raise ValueError(f"traces({float(v)!r}) returned no traces")
        return {"traces": data}

    parts = slider_frames([frame(v) for v in vals], names, label=label, active=active)
    fig = go.Figure(data=parts["data"], frames=parts["frames"], layout=layout)
    if fix_ranges:
        _fix_ranges(fig)
    fig.update_layout(sliders=[parts["slider"]])
    return fig


def _fix_ranges(fig: go.Figure) -> None:
    """Set each unset x and y axis range to the extent of the data over all frames."""
    for axis, key in (("xaxis", "x"), ("yaxis", "y")):
        ax = getattr(fig.layout, axis)
        if ax.range is not None:
            continue
        with_data = [tr for fr in fig.frames for tr in fr.data
                     if getattr(tr, key, None) is not None]
        # Bars grow from zero: keep zero on their value axis.
        bars = any(tr.type == "bar" and (tr.orientation == "h") == (key == "x")
                   for tr in with_data)
        extent = _finite_extent((getattr(tr, key) for tr in with_data),
                                log=ax.type == "log", include_zero=bars)
        if extent is not None:
            ax.range = extent


def slider(names: Sequence[str], label: str, active: int = 0, **style) -> dict:
    """A plotly slider whose step i shows the frame called ``names[i]`` at once.

    ``style`` adds slider properties (``pad``, ``y`` ...); by default ``pad.t`` is 40.
    """
    steps = [{"label": name, "method": "animate",
              "args": [[name], {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
                                "transition": {"duration": 0}}]} for name in names]
    return {"active": active, "currentvalue": {"prefix": f"{label} = "}, "pad": {"t": 40},
            "steps": steps, **style}


def slider_frames(frames: Sequence[dict], names: Sequence[str], *, label: str,
                  active: int = 0, fixed: Sequence[str] = (), keys: Sequence[str] | None = None,
                  **slider_style) -> dict:
    """The frames, starting data and slider of a figure whose slider swaps frames.

    Parameters
    ----------
    frames : sequence of dict
        One per slider position: ``{group name: list of traces}``, with the same groups
        and the same number of traces per group in every frame.
    names : sequence of str
        The frames' names, shown on the slider.
    label : str
        The slider's quantity, shown as ``label = name``.
    active : int
        The frame shown first.
    fixed : sequence of str
        Groups that never change: drawn once and left out of the frames.
    keys : sequence of str, optional
        If given (traces as dicts), frames carry only these keys of each trace (and its
        type): the data that changes, while the style stays in the starting data.
    **slider_style
        More slider properties, see :func:`slider`.

    Returns
    -------
    dict
        ``data`` (the active frame's traces, flattened in group order), ``frames``
        (plotly frames), ``slider`` and ``groups``: each group's trace indices.
    """
    groups, index = {}, 0
    for group, traces in frames[active].items():
        groups[group] = list(range(index, index + len(traces)))
        index += len(traces)
    moving = [i for g, ids in groups.items() if g not in fixed for i in ids]
    out = []
    for name, frame in zip(names, frames):
        data = [t for traces in frame.values() for t in traces]
        if len(data) != index or [len(v) for v in frame.values()] != \
                [len(v) for v in groups.values()]:
            raise ValueError(f"traces must return the same number of traces for every "
                             f"value; got {index} for {names[active]} and {len(data)} "
                             f"for {name}")
        data = [data[i] for i in moving]
        if keys is not None:
            data = [{k: t[k] for k in ("type", *keys) if k in t} for t in data]
        out.append({"name": name, "data": data})
        if len(moving) < index:
            out[-1]["traces"] = moving
    start = [t for traces in frames[active].values() for t in traces]
    return {"data": start, "frames": out, "groups": groups,
            "slider": slider(names, label, active, **slider_style)}


def history_figure(history, title: str | None = None) -> go.Figure:
    """A training run's loss (against its baseline), gradient norm and weight norm.

    Parameters
    ----------
    history : rnn_tutor.train.History
        What ``rnn_tutor.train.train`` returned.
    title : str, optional

    Returns
    -------
    go.Figure
        Three panels over the training step: the training loss, the evaluations and
        the task's baseline; the gradient norm (log scale), also after clipping and
        with the threshold when the run clipped by norm; the weight norm. A red line
        marks where the explosion detector stopped the run. Show it with :func:`show`.
    """
    unit = {"mse": "MSE", "cross_entropy": "nats"}.get(history.loss_name, history.loss_name)
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=(f"loss ({unit})", "gradient norm", "weight norm"))
    line = dict(width=1)
    fig.add_trace(go.Scatter(x=history.step, y=history.loss, name="train loss", line=line),
                  row=1, col=1)
    if history.eval_step:
        fig.add_trace(go.Scatter(x=history.eval_step, y=history.eval_loss, name="eval loss",
                                 mode="lines+markers"), row=1, col=1)
    if history.baseline is not None:
        fig.add_hline(y=history.baseline, line_dash="dash", line_color="gray",
                      annotation_text="memoryless baseline", row=1, col=1)
    fig.add_trace(go.Scatter(x=history.step, y=history.grad_norm, name="before clipping",
                             line=line), row=2, col=1)
    if history.clip_norm is not None:
        fig.add_trace(go.Scatter(x=history.step, y=history.grad_norm_clipped,
                                 name="after clipping", line=line), row=2, col=1)
        fig.add_hline(y=history.clip_norm, line_dash="dot", line_color="gray",
                      annotation_text="clip_norm", row=2, col=1)
    fig.add_trace(go.Scatter(x=history.step, y=history.weight_norm, name="weight norm",
                             line=line), row=3, col=1)
    fig.update_yaxes(type="log", row=2, col=1)
    if history.stopped and history.step:
        fig.add_vline(x=history.step[-1], line_color="red", line_dash="dot")
        fig.add_annotation(x=history.step[-1], y=1, yref="paper", text="stopped",
                           showarrow=False, font=dict(color="red"))
    fig.update_xaxes(title_text="step", row=3, col=1)
    fig.update_layout(height=600, title=title, legend=dict(orientation="h", y=-0.12),
                      margin=dict(t=60, l=60, r=20, b=40))
    return fig
