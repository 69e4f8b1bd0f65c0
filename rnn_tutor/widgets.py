"""Live explorers for running notebooks (ipywidgets; the static book uses frames instead).

Every function below owns the book-build switch (:func:`rnn_tutor.book_build.in_book_build`):
in the book build it creates no widgets (they would need a kernel, and the book's pages
would fetch a widget manager from a CDN) and returns a stand-in that displays the static
slider version of the same figure, so a chapter calls it unconditionally, once.

``gradient_explorer()`` shows the gradient explorer: drag the weight scale and watch the
gradient reaching step k vanish or explode. ``scalar_explorer()`` shows the one-unit
case, w^t. Their numbers come from :mod:`rnn_tutor.explorer` and their figures from
:mod:`rnn_tutor.explorer_views`, the same functions that build the book's static sliders.
``slider_explorer(traces, controls, ...)`` does the same for any figure a chapter draws
from a few numbers: live sliders for all of them under a kernel, a static slider over
the first in the book (built by :func:`rnn_tutor.plots.slider_figure`).
``live_text(text, controls)`` shows text recomputed from a few controls (chapter 3's
samples); the book, with no kernel, shows the text for the starting values.

How the figures update: each figure is a :class:`rnn_tutor.live_figure.LiveFigure`, drawn
once and then redrawn in place by ``Plotly.react`` in the browser (one message per
control change; the browser skips to the newest figure when changes come faster than it
draws). The explorers never touch an ``ipywidgets.Output`` for figures (under a headless
executor such as nbclient, output captured with ``with output:`` or ``clear_output`` made
about one run in eight wait out the whole cell timeout; measured by ``make stress``).
ipywidgets itself sends a slider's next value only once the kernel has handled the last
one, so the kernel never falls behind a drag either. ``scripts/bench_lab.py`` measures
key press to redrawn plot in a real JupyterLab.
"""

from __future__ import annotations

import html
import math
import numbers

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
from plotly.basedatatypes import BasePlotlyType

from . import explorer as ex, explorer_views as views
from .validate import check_positive_int
from .book_build import in_book_build
from .live_figure import LiveFigure
from .plots import FigureSpec, mime_bundle, slider_figure

__all__ = ["GradientExplorer", "ScalarExplorer", "SliderExplorer",
           "StaticStandIn", "gradient_explorer", "scalar_explorer", "slider_explorer",
           "LiveText", "live_text"]

_WIDE = W.Layout(width="420px")
_STYLE = {"description_width": "140px"}


def _trace_dicts(traces) -> list[dict]:
    """Traces as plain dicts (``go.Scatter`` objects or dicts in plotly's schema)."""
    return [t.to_plotly_json() if isinstance(t, BasePlotlyType) else dict(t) for t in traces]


class _Explorer:
    """Shared plumbing: controls, views, and display as one widget."""

    controls: dict
    widget: W.Widget

    def _observe_all(self):
        for control in self.controls.values():
            control.observe(self._on_change, names="value")

    def _on_change(self, change):
        self.update()

    def update(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs):
        # Displaying the explorer displays its widget (so the last line of a cell shows it).
        return self.widget._repr_mimebundle_(**kwargs)


class GradientExplorer(_Explorer):
    """The live gradient explorer; build it with :func:`gradient_explorer`.

    Attributes
    ----------
    controls : dict of str -> ipywidgets widget
        ``scale``, ``T``, ``hidden_size``, ``activation``, ``init``, ``cell``,
        ``scale_by``, ``forget_bias``, ``input_scale``, ``seed``, ``clip_on``, ``clip``
        and ``freeze_axis``. Setting ``controls[name].value`` recomputes the figure.
        The gradient axis follows the data unless ``freeze_axis`` is on, which keeps the
        range shown when it was switched on (to compare settings on one scale).
    result : rnn_tutor.explorer.Exploration
        What the figure currently shows.
    spec : rnn_tutor.plots.FigureSpec
        The current figure as plotly data
        (:func:`rnn_tutor.explorer_views.live_explorer_spec`): the gradient profile
        (traces on axes x, y) and the eigenvalues of W_hh (on x2, y2).
    verdict : ipywidgets.HTML
        The verdict, and the spectral radius and largest singular value of W_hh.
    legend : ipywidgets.HTML
        The figure's legend, below it (HTML: plotly would redraw its own legend on every
        change, a third of each redraw).
    view : rnn_tutor.live_figure.LiveFigure
        Where the figure is drawn.
    widget : ipywidgets.VBox
        Controls, verdict and figure together.
    """

    def __init__(self, scale=1.0, T=200, hidden_size=64, activation="tanh",
                 init="orthogonal", cell="rnn", *, scale_by="norm", forget_bias=1.0,
                 input_scale=1.0, seed=0, clip=None):
        # Validate everything once, with explore()'s messages, before building widgets
        # (on a short sequence: only the arguments are being checked).
        T = check_positive_int(T, "T")
        ex.explore(scale, min(T, 2), hidden_size, activation, init, cell,
                   scale_by=scale_by, forget_bias=forget_bias, input_scale=input_scale,
                   seed=seed, clip=clip)
        # Each slider covers its usual range, widened to hold a starting value outside it.
        lo, hi = (math.log2(v) for v in ex.SCALE_RANGE)
        clip_exp = 0.0 if clip is None else math.log10(clip)
        c = self.controls = {
            "scale": W.FloatLogSlider(value=scale, base=2, min=min(lo, math.log2(scale)),
                                      max=max(hi, math.log2(scale)), step=0.01,
                                      description="weight scale", readout_format=".3f"),
            "T": W.IntSlider(value=T, min=1, max=max(ex.MAX_T, T),
                             description="sequence length T"),
            "hidden_size": W.IntSlider(value=hidden_size, min=1, max=max(128, hidden_size),
                                       description="hidden size H",
                                       continuous_update=False),
            "activation": W.ToggleButtons(options=ex.ACTIVATION_CHOICES, value=activation,
                                          description="nonlinearity \u03c6"),
            "init": W.ToggleButtons(options=ex.INIT_CHOICES, value=init,
                                    description="W_hh init"),
            "scale_by": W.ToggleButtons(
                options=[("largest singular value", "norm"), ("spectral radius", "radius")],
                value=scale_by, description="scale sets"),
            "cell": W.ToggleButtons(options=[("RNN", "rnn"), ("LSTM", "lstm"), ("GRU", "gru")],
                                    value=cell, description="cell"),
            "forget_bias": W.FloatSlider(value=forget_bias, min=min(-3.0, forget_bias),
                                         max=max(5.0, forget_bias), step=0.1,
                                         description="LSTM forget bias"),
            "input_scale": W.FloatSlider(value=input_scale, min=0.0,
                                         max=max(3.0, input_scale), step=0.05,
                                         description="input scale"),
            "seed": W.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed"),
            "clip_on": W.Checkbox(value=clip is not None, description="clip per step",
                                  indent=False),
            "clip": W.FloatLogSlider(value=10 ** clip_exp, base=10, min=min(-2.0, clip_exp),
                                     max=max(2.0, clip_exp), step=0.05,
                                     description="clip threshold"),
            "freeze_axis": W.Checkbox(value=False, indent=False,
                                      description="freeze the gradient axis"),
        }
        for control in c.values():
            if isinstance(control, W.ToggleButtons):
                control.style = dict(_STYLE, button_width="auto")
            elif not isinstance(control, W.Checkbox):
                control.style = dict(_STYLE)
            if isinstance(control, (W.FloatSlider, W.FloatLogSlider, W.IntSlider)):
                control.layout = _WIDE
        self.verdict = W.HTML()
        self.spec = self.result = None
        self._compute()
        self.view = LiveFigure(self.spec)
        self.verdict.value = _verdict_html(self.result)
        self.legend = W.HTML(_legend_html(self.spec["data"]))
        left = W.VBox([c["scale"], c["T"], c["hidden_size"], c["input_scale"], c["seed"],
                       c["freeze_axis"]])
        right = W.VBox([c["activation"], c["init"], c["scale_by"], c["cell"],
                        c["forget_bias"], W.HBox([c["clip_on"], c["clip"]])])
        self.widget = W.VBox([
            W.HBox([left, right], layout=W.Layout(flex_flow="row wrap")),
            self.verdict,
            self.view,
            self.legend,
        ])
        self._observe_all()

    def settings(self) -> dict:
        """The current controls as keyword arguments of :func:`rnn_tutor.explorer.explore`."""
        c = self.controls
        kw = {name: c[name].value for name in
              ("scale", "T", "hidden_size", "activation", "init", "cell", "scale_by",
               "forget_bias", "input_scale", "seed")}
        kw["clip"] = float(c["clip"].value) if c["clip_on"].value else None
        return kw

    def update(self):
        """Recompute the figure and the verdict (called on every control change)."""
        self._compute()
        self.view.show(self.spec)                                   # the plot first
        self.verdict.value = _verdict_html(self.result)
        self.legend.value = _legend_html(self.spec["data"])     # sent only when it changes

    def _compute(self):
        kw = self.settings()
        c = self.controls
        # Widgets that do not apply are greyed out, not hidden, so the layout stays put.
        c["activation"].disabled = kw["cell"] != "rnn"
        c["forget_bias"].disabled = kw["cell"] != "lstm"
        c["clip"].disabled = not c["clip_on"].value
        y_range = (self.spec["layout"]["yaxis"]["range"]
                   if c["freeze_axis"].value and self.spec is not None else None)
        self.result = ex.explore(**kw)
        self.spec = views.live_explorer_spec(self.result, y_range)


_KIND_COLOR = {"vanishing": "#1f5fa8", "stable": "#2a7a2a", "exploding": "#b22222"}


def _verdict_html(res: ex.Exploration) -> str:
    """The verdict (coloured by kind) and, below it, the spectrum of W_hh."""
    verdict = res.verdict
    return (f'<div style="font-size:15px; padding:4px 0"><b style="color:'
            f'{_KIND_COLOR[verdict.kind]}">{html.escape(verdict.kind)}</b> \u2014 '
            f'{html.escape(verdict.text.split(": ", 1)[-1])}<br><span style="font-size:13px">'
            f'W<sub>hh</sub> (right): spectral radius {res.radius:.3g}, largest singular value '
            f'{res.sigma:.3g}</span></div>')


_DASHES = {"dash": "6,4", "dot": "2,3"}


def _legend_html(traces) -> str:
    """A legend for ``traces`` (those with ``showlegend``): a line or marker, and the name."""
    items = []
    for t in traces:
        if not t.get("showlegend", True):
            continue
        if "lines" in t.get("mode", "lines"):
            line = t.get("line", {})
            swatch = (f'<line x1="0" y1="6" x2="26" y2="6" stroke="{line.get("color", "#444")}" '
                      f'stroke-width="2" stroke-dasharray="{_DASHES.get(line.get("dash"), "")}"/>')
        else:
            swatch = (f'<circle cx="13" cy="6" r="4" '
                      f'fill="{t.get("marker", {}).get("color", "#444")}"/>')
        items.append(f'<span style="margin-right:16px; white-space:nowrap">'
                     f'<svg width="26" height="12" aria-hidden="true">{swatch}</svg> '
                     f'{t["name"]}</span>')
    return f'<div style="font-size:13px; line-height:1.8">{"".join(items)}</div>'


class StaticStandIn:
    """What the explorers return in the book build: displays a static slider figure.

    Attributes
    ----------
    spec : plotly.graph_objects.Figure or rnn_tutor.plots.FigureSpec
        The static figure, with its frames, as it is displayed.
    figure : plotly.graph_objects.Figure
        The same as a ``go.Figure`` (validated when first asked for).
    result : rnn_tutor.explorer.Exploration or None
        The numbers for the starting controls (gradient explorer only).
    """

    def __init__(self, spec, result=None):
        self.spec = spec
        self.result = result

    @property
    def figure(self) -> go.Figure:
        if isinstance(self.spec, FigureSpec):
            self.spec = self.spec.figure()
        return self.spec

    def _repr_mimebundle_(self, include=None, exclude=None):
        return mime_bundle(self.spec)


def gradient_explorer(scale=1.0, T=200, hidden_size=64, activation="tanh",
                      init="orthogonal", cell="rnn", **kwargs):
    """Show the live gradient explorer in a notebook.

    Put it last in a cell (or ``display()`` it). Arguments set the starting values of
    the controls; they are those of :func:`rnn_tutor.explorer.explore` (keyword-only:
    ``scale_by``, ``forget_bias``, ``input_scale``, ``seed``, ``clip``).

    Returns
    -------
    GradientExplorer
        Its ``controls`` can also be set from code, e.g.
        ``e.controls["scale"].value = 1.5``; ``e.result`` holds the numbers shown.
        In the book build, a :class:`StaticStandIn` instead: the static explorer for
        these settings (slider over the scale; a dropdown over the nonlinearities,
        starting with ``activation``), and ``result`` for the starting controls.
    """
    if in_book_build():
        result = ex.explore(scale, T, hidden_size, activation, init, cell, **kwargs)
        others = tuple(a for a in ex.ACTIVATION_CHOICES if a != activation)
        figure = views.static_explorer(T, hidden_size, (activation, *others), init, cell,
                                       start=scale, **kwargs)
        return StaticStandIn(figure, result)
    return GradientExplorer(scale, T, hidden_size, activation, init, cell, **kwargs)


class ScalarExplorer(_Explorer):
    """The scalar case, w^t against t; build it with :func:`scalar_explorer`."""

    def __init__(self, w=0.9, T=100):
        ex.scalar_powers(w, T)                      # validate
        self.controls = {
            "w": W.FloatSlider(value=w, min=0.5, max=1.5, step=0.01, description="w",
                               readout_format=".2f", layout=_WIDE),
            "T": W.IntSlider(value=T, min=1, max=ex.MAX_T, description="steps T",
                             layout=_WIDE),
        }
        self.spec = views.scalar_spec(w, T)
        self.view = LiveFigure(self.spec)
        self.widget = W.VBox([W.HBox(list(self.controls.values())), self.view])
        self._observe_all()

    def update(self):
        """Redraw w^t for the current controls."""
        w, T = self.controls["w"].value, self.controls["T"].value
        self.spec = views.scalar_spec(w, T)
        self.view.show(self.spec)


def scalar_explorer(w: float = 0.9, T: int = 100):
    """Show w^t against t (log axis) with a slider for w, next to 0.9^t and 1.1^t.

    The gradient of a one-unit linear RNN, h_t = w h_{t-1}, after t steps back is w^t:
    a hair below 1 it vanishes, a hair above it explodes. Returns a
    :class:`ScalarExplorer` (in the book build, a :class:`StaticStandIn` showing
    :func:`rnn_tutor.explorer_views.static_scalar_explorer`).
    """
    if in_book_build():
        ex.scalar_powers(w, T)                      # validate as the live version does
        return StaticStandIn(views.static_scalar_explorer(T))
    return ScalarExplorer(w, T)


# ------------------------------------------------------------------ any figure of a few numbers

def _is_int(*values) -> bool:
    return all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values)


def _check_controls(controls) -> dict:
    """``{name: (low, high, step, start)}`` with low <= start <= high and step > 0."""
    if not isinstance(controls, dict) or not controls:
        raise TypeError("controls must be a non-empty dict name -> (low, high, step, start); "
                        f"got {controls!r}")
    for name, spec in controls.items():
        if not (isinstance(spec, tuple) and len(spec) == 4
                and all(isinstance(v, numbers.Real) and math.isfinite(v) for v in spec)):
            raise TypeError(f"controls[{name!r}] must be (low, high, step, start) of finite "
                            f"numbers; got {spec!r}")
        low, high, step, start = spec
        if not (step > 0 and low <= start <= high):
            raise ValueError(f"controls[{name!r}] needs step > 0 and low <= start <= high; "
                             f"got {spec!r}")
    return controls


class SliderExplorer(_Explorer):
    """A figure redrawn live from a few sliders; build it with :func:`slider_explorer`.

    Attributes
    ----------
    controls : dict of str -> ipywidgets slider
        One per control, in order; setting ``.value`` redraws.
    caption : ipywidgets.HTML
        The caption's text for the current values (empty without a caption function).
    view : rnn_tutor.live_figure.LiveFigure
        The figure, redrawn in place (``view.spec`` is what it shows).
    widget : ipywidgets.VBox
    """

    def __init__(self, traces, controls, layout=None, caption=None):
        # Validated once (plotly.js itself ignores shorthands such as a string axis title).
        self._layout = go.Layout(layout or {}).to_plotly_json()
        self._traces, self._caption = traces, caption
        self.controls = {}
        for name, (low, high, step, start) in _check_controls(controls).items():
            kind = W.IntSlider if _is_int(low, high, step, start) else W.FloatSlider
            self.controls[name] = kind(value=start, min=low, max=high, step=step,
                                       description=name, style=dict(_STYLE), layout=_WIDE)
        self.caption = W.HTML()
        self.view = LiveFigure(self._figure())
        self._update_caption()
        self.widget = W.VBox([*self.controls.values(), self.caption, self.view])
        self._observe_all()

    def values(self) -> dict:
        """The controls' current values, as keyword arguments of the traces function."""
        return {name: control.value for name, control in self.controls.items()}

    def update(self):
        """Redraw the figure (and the caption) for the current values."""
        self.view.show(self._figure())
        self._update_caption()

    def _figure(self) -> FigureSpec:
        return FigureSpec(data=_trace_dicts(self._traces(**self.values())),
                          layout=self._layout)

    def _update_caption(self):
        if self._caption is not None:
            self.caption.value = self._caption(**self.values())


def slider_explorer(traces, controls: dict, *, label: str, book_values=None,
                    value_format: str = ".3g", layout=None, caption=None):
    """Show a figure drawn from a few numbers: live sliders under a kernel, frames in the book.

    Parameters
    ----------
    traces : callable
        ``traces(**values)`` returns the plotly traces for one value of each control.
    controls : dict
        ``{name: (low, high, step, start)}``, in the order the sliders appear; the first
        is the book's slider, the others stay at their start in the book.
    label : str
        The first control's name on the book's slider (``label = value``).
    book_values : sequence of float, optional
        The first control's values in the book's frames (default: low to high by step).
    value_format : str
        How the book's slider shows those values.
    layout : dict, optional
        The figure's layout (give axis ranges, so that a live drag moves the data, not
        the axes).
    caption : callable, optional
        ``caption(**values)`` returns HTML shown above the live figure (not in the book).

    Returns
    -------
    SliderExplorer
        In the book build, a :class:`StaticStandIn` showing
        ``plots.slider_figure(book_values, ...)``, starting at the first control's start.
    """
    first, (low, high, step, start) = next(iter(_check_controls(controls).items()))
    if not in_book_build():
        return SliderExplorer(traces, controls, layout, caption)
    values = (np.arange(low, high + step / 2, step) if book_values is None
              else np.asarray(book_values, dtype=float))
    others = {name: spec[3] for name, spec in controls.items() if name != first}
    figure = slider_figure(values.astype(float), lambda v: traces(**{first: v}, **others),
                           label=label, value_format=value_format, layout=layout,
                           active=int(np.argmin(np.abs(values - start))))
    return StaticStandIn(figure)


# ------------------------------------------------------------------ text from a few controls

class LiveText(_Explorer):
    """Text recomputed from a few controls; build it with :func:`live_text`.

    Attributes
    ----------
    controls : dict of str -> ipywidgets widget
        Sliders for numbers, a text box for a string; setting ``.value`` recomputes.
    text : str
        What the view shows now.
    view : ipywidgets.Output
    widget : ipywidgets.VBox
    """

    def __init__(self, text, controls):
        self._text = text
        self.controls = {}
        for name, spec in controls.items():
            if isinstance(spec, str):
                control = W.Text(value=spec, description=name, style=dict(_STYLE))
            else:
                low, high, step, start = spec
                kind = W.IntSlider if _is_int(low, high, step, start) else W.FloatSlider
                control = kind(value=start, min=low, max=high, step=step, description=name,
                               style=dict(_STYLE), layout=_WIDE)
            self.controls[name] = control
        self.view = W.Output()
        self.widget = W.VBox([*self.controls.values(), self.view])
        self.text = ""
        self._observe_all()
        self.update()

    def update(self):
        """Recompute the text for the current values."""
        self.text = str(self._text(**{n: c.value for n, c in self.controls.items()}))
        self.view.outputs = ({"output_type": "stream", "name": "stdout", "text": self.text},)


class _StaticText:
    """What :func:`live_text` returns in the book build: the text, shown as plain output."""

    def __init__(self, text):
        self.text = text

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": self.text}


def live_text(text, controls: dict):
    """Show text recomputed live from a few controls (under a kernel).

    Parameters
    ----------
    text : callable
        ``text(**values)`` returns the string to show for one value of each control.
    controls : dict
        ``{name: (low, high, step, start)}`` for a slider, or ``{name: "start"}`` for a
        text box, in the order they appear.

    Returns
    -------
    LiveText
        In the book build (no kernel) an object that displays ``text`` at the starting
        values, and no widget.
    """
    if not isinstance(controls, dict) or not controls:
        raise TypeError("controls must be a non-empty dict name -> (low, high, step, start) "
                        f"or name -> str; got {controls!r}")
    sliders = {n: c for n, c in controls.items() if not isinstance(c, str)}
    if sliders:
        _check_controls(sliders)
    if in_book_build():
        start = {n: c if isinstance(c, str) else c[3] for n, c in controls.items()}
        return _StaticText(str(text(**start)))
    return LiveText(text, controls)
