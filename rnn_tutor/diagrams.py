"""Box-and-arrow diagrams of recurrent networks, drawn with plotly (no image files).

Chapter 1 uses them for the input-output structures of a recurrent network and for the
network unrolled in time. Boxes are square markers coloured by kind (``"x"`` input,
``"h"`` hidden state, ``"y"`` output, see :data:`NODE_COLORS`); arrows are plotly
annotations that stop at the boxes' edges. Show a figure with
``rnn_tutor.plots.show(fig)`` so that it renders in the book.

The building blocks :func:`add_nodes`, :func:`add_arrow` and :func:`blank_layout` can
draw other diagrams of the same look.
"""

from __future__ import annotations

import numbers

import numpy as np
import plotly.graph_objects as go

from .validate import check_choice, check_positive_int, check_shape

__all__ = ["NODE_COLORS", "IO_STRUCTURES", "add_nodes", "add_arrow", "blank_layout",
           "io_structures_figure", "unrolled_figure", "layer_time_grid", "GATE_COLORS",
           "cell_diagram"]

#: Fill colour of a box for each kind of node: input ``"x"``, hidden ``"h"``, output ``"y"``.
NODE_COLORS = {"x": "#9fdcaa", "h": "#ffd98a", "y": "#a8cdfa"}

#: The panels of :func:`io_structures_figure`, in two rows. Each panel is
#: ``(title, number of steps, steps with an input, steps with an output, example)``.
IO_STRUCTURES = (
    (("one-to-one", 1, (0,), (0,), "image → class"),
     ("one-to-many", 4, (0,), (0, 1, 2, 3), "image → caption"),
     ("many-to-one", 4, (0, 1, 2, 3), (3,), "review → sentiment")),
    (("many-to-many, aligned", 4, (0, 1, 2, 3), (0, 1, 2, 3), "words → tags"),
     ("many-to-many, unaligned", 7, (0, 1, 2), (3, 4, 5, 6), "sentence → translation")),
)

_BOX_SIZE = 30   # marker size in pixels
_STANDOFF = 17   # pixels between an arrow's tip (or tail) and the box centre


def _check_figure(fig) -> None:
    if not isinstance(fig, go.Figure):
        raise TypeError(f"fig must be a plotly.graph_objects.Figure; got {type(fig).__name__}")


def _as_point(point, name: str) -> tuple[float, float]:
    ok = (isinstance(point, (tuple, list, np.ndarray)) and len(point) == 2
          and all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                  and np.isfinite(v) for v in point))
    if not ok:
        raise ValueError(f"{name} must be an (x, y) pair of finite numbers; got {point!r}")
    return float(point[0]), float(point[1])


def add_nodes(fig: go.Figure, points, kind: str, labels) -> go.Figure:
    """Draw one labelled square box per point, all of one kind.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        The figure to draw on (modified in place).
    points : sequence of (x, y) pairs
        Box centres in data coordinates; may be empty.
    kind : {"x", "h", "y"}
        Input, hidden state or output: sets the fill colour (:data:`NODE_COLORS`).
    labels : sequence of str
        One label per box (plotly HTML such as ``"h<sub>t</sub>"`` is allowed).

    Returns
    -------
    plotly.graph_objects.Figure
        ``fig``, with one more scatter trace holding the boxes.
    """
    _check_figure(fig)
    check_choice(kind, NODE_COLORS, "kind")
    try:
        xy = np.asarray(points, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"points must be a sequence of (x, y) pairs; got {points!r}") from None
    if xy.size == 0:
        xy = xy.reshape(0, 2)
    check_shape(xy, (None, 2), "points (a sequence of (x, y) pairs)")
    if not np.all(np.isfinite(xy)):
        raise ValueError("points must be finite numbers; got NaN or inf")
    labels = list(labels) if not isinstance(labels, str) else [labels]
    if len(labels) != len(xy) or not all(isinstance(s, str) for s in labels):
        raise ValueError(f"labels must be {len(xy)} string(s), one per point; got {labels!r}")
    fig.add_trace(go.Scatter(
        x=xy[:, 0].tolist(), y=xy[:, 1].tolist(), text=labels, mode="markers+text",
        hoverinfo="skip", showlegend=False, name=f"{kind} nodes",
        marker=dict(symbol="square", size=_BOX_SIZE, color=NODE_COLORS[kind],
                    line=dict(color="#555", width=1)),
        textfont=dict(size=13, color="#222")))
    return fig


def add_arrow(fig: go.Figure, start, end, text: str = "", color: str = "#555") -> go.Figure:
    """Draw an arrow from one box centre to another, stopping at the boxes' edges.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        The figure to draw on (modified in place).
    start, end : (x, y) pairs
        Centres of the boxes the arrow leaves and reaches (data coordinates).
    text : str, optional
        A label written beside the arrow's middle (above a horizontal arrow, to the right
        of any other), e.g. the weight matrix it stands for.
    color : str, default "#555"
        Colour of the arrow and its label.

    Returns
    -------
    plotly.graph_objects.Figure
        ``fig``, with one arrow annotation (and one text annotation if ``text``).
    """
    _check_figure(fig)
    x0, y0 = _as_point(start, "start")
    x1, y1 = _as_point(end, "end")
    if (x0, y0) == (x1, y1):
        raise ValueError(f"start and end must differ; both are {(x0, y0)}")
    if not isinstance(text, str) or not isinstance(color, str):
        raise TypeError(f"text and color must be strings; got {text!r} and {color!r}")
    fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y",
                       showarrow=True, arrowhead=2, arrowwidth=1.5, arrowcolor=color,
                       standoff=_STANDOFF, startstandoff=_STANDOFF, text="")
    if text:
        horizontal = y0 == y1
        fig.add_annotation(x=(x0 + x1) / 2, y=(y0 + y1) / 2, text=text, showarrow=False,
                           yshift=11 if horizontal else 0, xshift=0 if horizontal else 18,
                           font=dict(size=12, color=color))
    return fig


def blank_layout(fig: go.Figure, height: int) -> go.Figure:
    """Give a diagram a transparent background, no axes and the given height in pixels."""
    _check_figure(fig)
    height = check_positive_int(height, "height")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10),
                      plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor=None)
    return fig


def io_structures_figure() -> go.Figure:
    """The input-output structures of a recurrent network, one panel per structure.

    Each panel of :data:`IO_STRUCTURES` draws its steps left to right: a hidden box at
    every step joined by recurrent arrows, input boxes below the steps that read an input
    and output boxes above the steps that emit one, with a title and an example.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fig = go.Figure()
    for r, panels in enumerate(IO_STRUCTURES):
        left, base = 0.0, -4.6 * r
        for title, steps, inputs, outputs, example in panels:
            cols = [left + t for t in range(steps)]
            add_nodes(fig, [(cols[t], base) for t in inputs], "x", ["x"] * len(inputs))
            add_nodes(fig, [(c, base + 1) for c in cols], "h", ["h"] * steps)
            add_nodes(fig, [(cols[t], base + 2) for t in outputs], "y", ["y"] * len(outputs))
            for t in inputs:
                add_arrow(fig, (cols[t], base), (cols[t], base + 1))
            for t in outputs:
                add_arrow(fig, (cols[t], base + 1), (cols[t], base + 2))
            for a, b in zip(cols, cols[1:]):
                add_arrow(fig, (a, base + 1), (b, base + 1))
            middle = (cols[0] + cols[-1]) / 2
            fig.add_annotation(x=middle, y=base + 2.75, text=f"<b>{title}</b>", showarrow=False)
            fig.add_annotation(x=middle, y=base - 0.75, text=example, showarrow=False,
                               font=dict(size=12, color="#555"))
            left = cols[-1] + 2.0
    fig.update_yaxes(range=[-5.6, 3.1])
    fig.update_xaxes(range=[-0.7, 12.7])
    return blank_layout(fig, 520)


def unrolled_figure(steps: int = 4) -> go.Figure:
    """A recurrent network unrolled in time, with the same weights at every step.

    Draws the hidden states h_0, h_1, ..., h_T in a row and the inputs x_1, ..., x_T
    below them; every input arrow is labelled W_xh and every recurrent arrow W_hh,
    except the last gap, drawn as an ellipsis (the steps in between).

    Parameters
    ----------
    steps : int, default 4
        Number of input steps drawn (the last one is labelled T).

    Returns
    -------
    plotly.graph_objects.Figure
        ``steps + 1`` hidden boxes, ``steps`` input boxes and ``2 * steps - 1`` arrows.
    """
    steps = check_positive_int(steps, "steps")
    fig = go.Figure()
    cols = list(range(steps + 1))
    h_labels = [f"h<sub>{t}</sub>" for t in range(steps)] + ["h<sub>T</sub>"]
    x_labels = [f"x<sub>{t}</sub>" for t in range(1, steps)] + ["x<sub>T</sub>"]
    add_nodes(fig, [(c, 1) for c in cols], "h", h_labels)
    add_nodes(fig, [(c, 0) for c in cols[1:]], "x", x_labels)
    for a, b in zip(cols, cols[1:]):
        if b == steps:
            fig.add_annotation(x=(a + b) / 2, y=1, text="⋯", showarrow=False,
                               yshift=-1, font=dict(size=18))
            continue
        add_arrow(fig, (a, 1), (b, 1), "W<sub>hh</sub>", color="#b5651d")
    for c in cols[1:]:
        add_arrow(fig, (c, 0), (c, 1), "W<sub>xh</sub>", color="#2a7f3f")
    fig.add_annotation(x=steps / 2, y=1.65, showarrow=False,
                       text="the same W<sub>xh</sub>, W<sub>hh</sub>, b<sub>h</sub> at every step")
    fig.update_yaxes(range=[-0.5, 1.9])
    fig.update_xaxes(range=[-0.6, steps + 0.6])
    return blank_layout(fig, 230)


def layer_time_grid(layers: int = 3, steps: int = 4) -> go.Figure:
    """A stacked recurrent network unrolled in time: a grid of layers by time steps.

    Row l (bottom to top) is layer l: its hidden states h_0^(l), ..., h_T^(l) joined by
    recurrent arrows W_hh^(l); the inputs x_t run along the bottom and every state
    h_t^(l) feeds h_t^(l+1) above it through W_xh^(l+1) (W_xh^(1) for x_t); the read-out
    y_t sits above the top layer. Each weight is named once per layer, on its first
    arrow (it is the same at every step); the last gap of every row is drawn as an
    ellipsis.

    Parameters
    ----------
    layers : int, default 3
        L, the number of stacked layers (the top one is labelled L).
    steps : int, default 4
        Input steps drawn (the last one is labelled T).

    Returns
    -------
    plotly.graph_objects.Figure
        ``layers * (steps + 1)`` hidden boxes, ``steps`` input and ``steps`` output
        boxes; ``layers * (steps - 1)`` recurrent arrows, ``layers * steps`` upward
        arrows between rows and ``steps`` read-out arrows.
    """
    L = check_positive_int(layers, "layers")
    steps = check_positive_int(steps, "steps")
    fig = go.Figure()
    cols = list(range(steps + 1))
    t_name = [str(t) for t in range(steps)] + ["T"]
    l_name = [str(l) for l in range(1, L)] + ["L"]
    add_nodes(fig, [(c, 0) for c in cols[1:]], "x",
              [f"x<sub>{t_name[c]}</sub>" for c in cols[1:]])
    for l in range(1, L + 1):
        add_nodes(fig, [(c, l) for c in cols], "h",
                  [f"h<sub>{t_name[c]}</sub><sup>({l_name[l - 1]})</sup>" for c in cols])
        for a, b in zip(cols, cols[1:]):
            if b == steps:
                fig.add_annotation(x=(a + b) / 2, y=l, text="⋯", showarrow=False,
                                   yshift=-1, font=dict(size=18))
                continue
            label = f"W<sub>hh</sub><sup>({l_name[l - 1]})</sup>" if a == 0 else ""
            add_arrow(fig, (a, l), (b, l), label, color="#b5651d")
        for c in cols[1:]:
            label = f"W<sub>xh</sub><sup>({l_name[l - 1]})</sup>" if c == 1 else ""
            add_arrow(fig, (c, l - 1), (c, l), label, color="#2a7f3f")
    add_nodes(fig, [(c, L + 1) for c in cols[1:]], "y",
              [f"y<sub>{t_name[c]}</sub>" for c in cols[1:]])
    for c in cols[1:]:
        add_arrow(fig, (c, L), (c, L + 1), "W<sub>hy</sub>" if c == 1 else "", color="#1f5fa8")
    fig.add_annotation(x=-0.75, y=(L + 1) / 2, text="layers →", textangle=-90, showarrow=False)
    fig.add_annotation(x=steps / 2, y=-0.7, text="time →", showarrow=False)
    fig.update_yaxes(range=[-1.0, L + 1.6])
    fig.update_xaxes(range=[-1.0, steps + 0.6])
    return blank_layout(fig, 110 + 75 * L)


# ----------------------------------------------------------------------------------------
# Gated cells (chapters 8 and 9)
# ----------------------------------------------------------------------------------------

#: Fill colour of the round nodes of :func:`cell_diagram`: a sigmoid gate, a tanh
#: layer, and a pointwise operation (product, sum, ``1 -``).
GATE_COLORS = {"sigmoid": "#f4a6a6", "tanh": "#c9b3f2", "op": "#ffffff"}

# A cell diagram as data: boxes (kind, label, (x, y)), round nodes (kind, label, (x, y))
# and arrows (from, to, label); arrow ends name a box or node by its label. Inputs enter
# from two buses at the bottom: h_{t-1} at y = 0 and x_t at y = -0.7; every layer at
# y = 1 reads both. The state the cell carries runs along the top (y = 3).
_H_PREV, _X = "h<sub>t-1</sub>", "x<sub>t</sub>"
_CELLS = {
    "lstm": dict(
        boxes=[("c", "c<sub>t-1</sub>", (-1, 3)), ("c", "c<sub>t</sub>", (8, 3)),
               ("h", "h<sub>t</sub>", (8, 1))],
        nodes=[("sigmoid", "f<sub>t</sub>", (1, 1)), ("sigmoid", "i<sub>t</sub>", (2.5, 1)),
               ("tanh", "g<sub>t</sub>", (4, 1)), ("sigmoid", "o<sub>t</sub>", (5.5, 1)),
               ("op", "⊙", (1, 3)), ("op", "⊙ ", (4, 2)), ("op", "+", (4, 3)),
               ("tanh", "tanh", (7, 2.2)), ("op", " ⊙", (7, 1))],
        arrows=[("c<sub>t-1</sub>", "⊙", ""), ("f<sub>t</sub>", "⊙", ""),
                ("i<sub>t</sub>", "⊙ ", ""), ("g<sub>t</sub>", "⊙ ", ""),
                ("⊙", "+", "f<sub>t</sub> ⊙ c<sub>t-1</sub>"), ("⊙ ", "+", ""),
                ("+", "c<sub>t</sub>", ""), ("+", "tanh", ""), ("tanh", " ⊙", ""),
                ("o<sub>t</sub>", " ⊙", ""), (" ⊙", "h<sub>t</sub>", "")],
        layers=["f<sub>t</sub>", "i<sub>t</sub>", "g<sub>t</sub>", "o<sub>t</sub>"],
        title="LSTM cell: the cell state c runs along the top, touched only by ⊙ f and + i ⊙ g"),
    "gru": dict(
        boxes=[("h", _H_PREV, (-1, 3)), ("h", "h<sub>t</sub>", (8, 3))],
        nodes=[("sigmoid", "z<sub>t</sub>", (1, 1)), ("sigmoid", "r<sub>t</sub>", (3, 1)),
               ("tanh", "n<sub>t</sub>", (5, 1)), ("op", "1 −", (2.5, 2)),
               ("op", "⊙", (1, 3)), ("op", "⊙ ", (5, 2)), ("op", "+", (5, 3))],
        arrows=[(_H_PREV, "⊙", ""), ("z<sub>t</sub>", "⊙", ""), ("z<sub>t</sub>", "1 −", ""),
                ("1 −", "⊙ ", ""), ("n<sub>t</sub>", "⊙ ", ""),
                ("r<sub>t</sub>", "n<sub>t</sub>", "r<sub>t</sub> ⊙ (W<sub>hn</sub>h + b<sub>hn</sub>)"),
                ("⊙", "+", "z<sub>t</sub> ⊙ h<sub>t-1</sub>"), ("⊙ ", "+", ""),
                ("+", "h<sub>t</sub>", "")],
        layers=["z<sub>t</sub>", "r<sub>t</sub>", "n<sub>t</sub>"],
        title="GRU cell (PyTorch's convention): h<sub>t</sub> = (1 − z<sub>t</sub>) ⊙ n<sub>t</sub>"
              " + z<sub>t</sub> ⊙ h<sub>t-1</sub>"),
}
_CELL_BOX_COLOR = "#f7c59f"   # the LSTM's cell state c


def _add_round_nodes(fig: go.Figure, nodes) -> None:
    for kind in GATE_COLORS:
        mine = [(label, xy) for k, label, xy in nodes if k == kind]
        if mine:
            fig.add_trace(go.Scatter(
                x=[xy[0] for _, xy in mine], y=[xy[1] for _, xy in mine],
                text=[label for label, _ in mine], mode="markers+text", hoverinfo="skip",
                showlegend=False, name=f"{kind} nodes",
                marker=dict(symbol="circle", size=_BOX_SIZE + 4, color=GATE_COLORS[kind],
                            line=dict(color="#555", width=1)),
                textfont=dict(size=12, color="#222")))


def _add_input_buses(fig: go.Figure, layers, where, right: float) -> None:
    """h_{t-1} and x_t as two buses at the bottom, with one arrow up into each layer."""
    add_nodes(fig, [(-1, 0)], "h", [_H_PREV])
    add_nodes(fig, [(-1, -0.7)], "x", [_X])
    for y, color in ((0, "#b5651d"), (-0.7, "#2a7f3f")):
        fig.add_shape(type="line", x0=-0.6, y0=y, x1=right, y1=y, line=dict(color=color, width=1.5))
    for label in layers:
        gx = where[label][0]
        fig.add_annotation(x=gx, y=1, ax=gx, ay=-0.7, xref="x", yref="y", axref="x", ayref="y",
                           showarrow=True, arrowhead=2, arrowwidth=1.5, arrowcolor="#555",
                           standoff=_STANDOFF + 2, text="")


def cell_diagram(cell: str = "lstm") -> go.Figure:
    """One step of a gated cell, LSTM or GRU, as a box-and-arrow diagram.

    The state the cell carries from step to step runs along the top: the LSTM's cell
    state c (left ``c_{t-1}``, right ``c_t``), the GRU's hidden state h. The inputs
    ``h_{t-1}`` and ``x_t`` run along two buses at the bottom, and every layer reads both
    (each is an affine map of ``[x_t, h_{t-1}]`` followed by sigma or tanh). Round nodes are
    layers (red: sigmoid gates, violet: tanh) and pointwise operations (white: ⊙, +,
    ``1 -``); labels follow the book's notation (gates i, f, g, o and r, z, n, PyTorch's
    order and, for the GRU, PyTorch's reset convention).

    Parameters
    ----------
    cell : {"lstm", "gru"}

    Returns
    -------
    plotly.graph_objects.Figure
        Boxes for the states and inputs, one round node per layer and per operation, and
        one arrow per edge (four into the LSTM's layers, three into the GRU's, from the
        input buses).
    """
    check_choice(cell, _CELLS, "cell")
    spec = _CELLS[cell]
    fig = go.Figure()
    for kind in ("c", "h", "x"):
        mine = [(label, xy) for k, label, xy in spec["boxes"] if k == kind]
        if mine and kind == "c":
            add_nodes(fig, [xy for _, xy in mine], "h", [label for label, _ in mine])
            fig.data[-1].marker.color = _CELL_BOX_COLOR
            fig.data[-1].name = "c nodes"
        elif mine:
            add_nodes(fig, [xy for _, xy in mine], kind, [label for label, _ in mine])
    _add_round_nodes(fig, spec["nodes"])
    where = {label: xy for _, label, xy in spec["boxes"] + spec["nodes"]}
    for start, end, text in spec["arrows"]:
        add_arrow(fig, where[start], where[end], text)
    _add_input_buses(fig, spec["layers"], where, right=max(where[l][0] for l in spec["layers"]))
    fig.add_annotation(x=3.5, y=3.75, text=f"<b>{spec['title']}</b>", showarrow=False,
                       font=dict(size=13))
    fig.update_xaxes(range=[-1.8, 8.8])
    fig.update_yaxes(range=[-1.1, 4.1])
    return blank_layout(fig, 380)
