"""A plotly figure in a running notebook, redrawn in place: :class:`LiveFigure`.

The live explorers (:mod:`rnn_tutor.widgets`) draw into one. Setting a new figure sends
its data once (a few tens of kB as JSON, arrays as plotly's typed arrays), and the
browser hands it to ``Plotly.react``, which redraws only what changed in the plot that
is already on the page: no new output, no new plot. While a redraw is running, newer
figures wait and only the newest is drawn next, so a fast drag never builds a backlog.

It is an ``anywidget`` widget (JupyterLab, Notebook 7, VS Code and Colab load anywidget's
front end) whose module carries plotly.js from the installed plotly package, so nothing is
fetched from the network. plotly's own ``FigureWidget`` was measured first and is slower
here: after every redraw its browser side sends the full computed trace data back to the
kernel, which then answers with more edits (a second redraw per change).

Under JupyterLab's dark theme the figure takes the theme's colours (background, text,
grid) and follows the theme when the reader switches it. The book never creates a
``LiveFigure``: in the static book the explorers show frames instead.
"""

from __future__ import annotations

import anywidget
import plotly.graph_objects as go
import plotly.offline
import traitlets

from .plots import FigureSpec, _check_figure, _spec

__all__ = ["LiveFigure"]

# Runs in the browser. ``loadPlotly`` (prepended below) evaluates plotly.js once per page.
_RENDER = r"""
function themed(layout) {
  // JupyterLab's dark theme: the theme's own colours instead of a white paper.
  if (document.body.dataset.jpThemeLight !== "false") return layout;
  const css = getComputedStyle(document.body);
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  const text = v("--jp-ui-font-color1", "#e0e0e0"), grid = v("--jp-border-color2", "#444");
  const out = {...layout, paper_bgcolor: v("--jp-layout-color0", "#111"),
               plot_bgcolor: v("--jp-layout-color0", "#111"),
               font: {...(layout.font || {}), color: text}};
  for (const key of Object.keys(layout).concat(["xaxis", "yaxis"])) {
    if (/^[xy]axis\d*$/.test(key))
      out[key] = {...(layout[key] || {}), gridcolor: grid, linecolor: grid, zerolinecolor: grid};
  }
  return out;
}

export default {
  render({ model, el }) {
    const Plotly = (globalThis.rnnTutorPlotly ??= loadPlotly());
    let drawing = false, again = false;
    async function draw() {
      if (drawing) { again = true; return; }       // the newest figure is drawn next
      drawing = true;
      try {
        do {
          again = false;
          const fig = model.get("figure");
          await Plotly.react(el, fig.data, themed(fig.layout), fig.config);
        } while (again);
      } finally {
        drawing = false;
      }
    }
    model.on("change:figure", draw);
    const theme = new MutationObserver(draw);
    theme.observe(document.body, {attributes: true, attributeFilter: ["data-jp-theme-light"]});
    draw();
    return () => { theme.disconnect(); Plotly.purge(el); };
  },
};
"""


def _module() -> str:
    # plotly.min.js is a UMD bundle: given a CommonJS ``module`` it sets module.exports.
    return ("function loadPlotly() {\nconst module = {exports: {}};\n"
            + plotly.offline.get_plotlyjs() + "\nreturn module.exports;\n}\n" + _RENDER)


class LiveFigure(anywidget.AnyWidget):
    """A plotly figure that a running notebook redraws in place.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure or rnn_tutor.plots.FigureSpec
        What to draw first (frames are ignored).

    Attributes
    ----------
    spec : plotly.graph_objects.Figure or rnn_tutor.plots.FigureSpec
        The figure last shown, as given.
    figure : dict
        The same as sent to the browser: ``data``, ``layout`` and ``config`` as JSON
        (arrays as plotly typed arrays).

    Examples
    --------
    >>> live = LiveFigure(FigureSpec(data=[dict(type="scatter", y=[1, 2])], layout={}))
    >>> live.show(FigureSpec(data=[dict(type="scatter", y=[2, 1])], layout={}))
    """

    _esm = _module()
    figure = traitlets.Dict().tag(sync=True)

    def __init__(self, fig: go.Figure | FigureSpec):
        super().__init__()
        self.spec = None
        self.show(fig)

    def show(self, fig: go.Figure | FigureSpec) -> None:
        """Draw ``fig`` instead of the current figure (one message; the browser redraws)."""
        spec = _spec(_check_figure(fig))
        self.spec = fig
        # Not "responsive": the live figures have a fixed size, and a responsive plot drawn
        # before its box had a size came out 0 px high in JupyterLab.
        self.figure = {"data": spec["data"], "layout": spec["layout"],
                       "config": dict(spec["config"], responsive=False)}
