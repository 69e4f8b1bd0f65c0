"""Look inside a trained LSTM: its gate activations over time, and a figure of them.

:func:`lstm_gate_trace` runs a trained ``torch.nn.LSTM`` (one layer, one direction)
through its NumPy mirror and returns every gate at every step: i, f, g, o, the cell
state c and the hidden state h, each of shape (T, B, H). :func:`memory_units` ranks the
hidden units by how well their final cell state predicts a target.
:func:`gate_heatmap_figure` draws chosen units' gates as heatmaps over time, one example
per slider position (a static slider: it works in the book without a kernel).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .layers import from_torch, lstm_forward
from .plots import slider_figure
from .validate import as_float_array, check_positive_int

__all__ = ["GATE_NAMES", "lstm_gate_trace", "memory_units", "gate_heatmap_figure"]

#: What :func:`lstm_gate_trace` returns, in this order: the gates in PyTorch's order,
#: then the cell state and the hidden state.
GATE_NAMES = ("i", "f", "g", "o", "c", "h")

_PANEL_TITLES = {"i": "input gate i<sub>t</sub>", "f": "forget gate f<sub>t</sub>",
                 "g": "candidate g<sub>t</sub>", "o": "output gate o<sub>t</sub>",
                 "c": "cell state c<sub>t</sub>", "h": "hidden state h<sub>t</sub>"}


def lstm_gate_trace(module, x) -> dict:
    """Every gate of a one-layer LSTM at every step, computed with its NumPy mirror.

    Parameters
    ----------
    module : torch.nn.LSTM
        One layer, one direction, time-major (``batch_first=False``), with biases.
    x : array, shape (T, B, input_size)
        The inputs (NumPy or torch); the state starts at zero.

    Returns
    -------
    dict of str -> ndarray (T, B, H)
        ``"i", "f", "g", "o"`` (the activated gates), ``"c"`` and ``"h"``, in float64.
        ``h`` equals the module's output (checked by the tests).
    """
    m = from_torch(module)
    if m.num_layers != 1 or m.bidirectional or m.batch_first or not m.bias:
        raise ValueError("lstm_gate_trace needs a one-layer, one-direction, time-major "
                         "LSTM with biases")
    if hasattr(x, "detach"):                       # a torch tensor
        x = x.detach().cpu().numpy()
    x = as_float_array(x, "x", ndim=3)
    T, B, D = x.shape
    if D != m.input_size:
        raise ValueError(f"x must have shape (T, B, {m.input_size}); got {x.shape}")
    p = {k: np.asarray(v, dtype=float) for k, v in m.params.items()}
    H = m.hidden_size
    zeros = np.zeros((B, H))
    hs, _, cache = lstm_forward(x, (zeros, zeros), p["weight_ih_l0"], p["weight_hh_l0"],
                                p["bias_ih_l0"] + p["bias_hh_l0"])
    gates = cache["gates"].reshape(T, B, 4, H)
    out = {name: gates[:, :, k] for k, name in enumerate("ifgo")}
    out.update(c=cache["cs"], h=hs)
    return out


def memory_units(trace: dict, target, n: int = 8) -> np.ndarray:
    """The ``n`` units whose final cell state c_T correlates most with ``target``.

    Returns unit indices, best first, ranked by the absolute Pearson correlation over
    the batch between ``trace["c"][-1, :, u]`` and ``target`` (shape (B,)). A unit whose
    final cell state is (nearly) a linear function of the target is one that stored it.
    """
    c_T = trace["c"][-1]
    target = as_float_array(target, "target").reshape(-1)
    if target.shape[0] != c_T.shape[0]:
        raise ValueError(f"target must have one value per example ({c_T.shape[0]}); "
                         f"got {target.shape[0]}")
    n = min(check_positive_int(n, "n"), c_T.shape[1])
    cc = c_T - c_T.mean(axis=0)
    tc = target - target.mean()
    denom = np.sqrt((cc ** 2).sum(axis=0) * (tc ** 2).sum()) + 1e-300
    corr = np.abs(tc @ cc) / denom
    return np.argsort(-corr, kind="stable")[:n]


def _panel_layout(panels, T: int, n_units: int, height: int) -> dict:
    gap = 0.05
    size = (0.9 - gap * (len(panels) - 1)) / len(panels)      # the top 10 %: the caption
    layout = dict(height=height, template="none", margin=dict(l=70, r=20, t=40, b=60),
                  showlegend=False)
    for k, name in enumerate(panels):
        top = max(0.9 - k * (size + gap), size)      # (the max only guards round-off)
        suffix = "" if k == 0 else str(k + 1)
        layout[f"xaxis{suffix}"] = dict(
            range=[-0.5, T - 0.5], anchor=f"y{suffix}", domain=[0, 0.92],
            showticklabels=k == len(panels) - 1,
            title=dict(text="step t") if k == len(panels) - 1 else None)
        layout[f"yaxis{suffix}"] = dict(
            domain=[top - size, top], range=[n_units - 0.5, -1.5], anchor=f"x{suffix}",
            title=dict(text=_PANEL_TITLES[name], font=dict(size=11)),
            tickvals=list(range(n_units)), ticktext=[f"#{r + 1}" for r in range(n_units)],
            tickfont=dict(size=9))
    n = len(panels) + 1
    layout[f"xaxis{n}"] = dict(domain=[0, 1], range=[0, 1], visible=False, anchor=f"y{n}")
    layout[f"yaxis{n}"] = dict(domain=[0.93, 1], range=[0, 1], visible=False, anchor=f"x{n}")
    return layout


def _example_traces(trace, b, units, panels, marks, caption, c_max, n_panels_axis):
    # one colour bar per kind of scale: at the first gate panel and the first other one
    gates = [k for k, p in enumerate(panels) if p in "ifo"]
    others = [k for k, p in enumerate(panels) if p not in "ifo"]
    bars = {ks[0] for ks in (gates, others) if ks}
    out = []
    for k, name in enumerate(panels):
        suffix = "" if k == 0 else str(k + 1)
        z = np.round(trace[name][:, b, units].T, 2)          # (units, T), 2 decimals
        gate = name in "ifo"
        lim = 1.0 if name in ("h", "g") else c_max
        out.append(go.Heatmap(
            z=z, xaxis=f"x{suffix}", yaxis=f"y{suffix}", zmin=0.0 if gate else -lim,
            zmax=1.0 if gate else lim, colorscale="Viridis" if gate else "RdBu",
            reversescale=not gate, showscale=k in bars,
            colorbar=dict(len=0.35, y=0.75 if gate else 0.15, thickness=12, x=0.94),
            hovertemplate=f"t = %{{x}}<br>unit %{{y}}<br>{name} = %{{z}}<extra></extra>"))
        steps = [] if marks is None else np.flatnonzero(marks[:, b]).tolist()
        out.append(go.Scatter(x=steps, y=[-1] * len(steps), mode="markers",
                              xaxis=f"x{suffix}", yaxis=f"y{suffix}", hoverinfo="skip",
                              marker=dict(symbol="triangle-down", size=9, color="#d62728")))
    out.append(go.Scatter(x=[0], y=[0.5], text=[caption], mode="text",
                          textposition="middle right", xaxis=f"x{n_panels_axis}",
                          yaxis=f"y{n_panels_axis}", hoverinfo="skip"))
    return out


def gate_heatmap_figure(trace: dict, units, examples, *, panels=("i", "f", "o", "c"),
                        marks=None, captions=None, height: int = 620) -> go.Figure:
    """Heatmaps of chosen units' gates over time, one example per slider position.

    One panel per entry of ``panels`` (rows: ``units`` in the given order, labelled #1,
    #2, ...; columns: time steps). Gates share a 0-1 colour scale; c, g and h a diverging
    one centred at 0 (c's range is the largest absolute value of c over the examples
    shown). Values are rounded to 2 decimals to keep the page small.

    Parameters
    ----------
    trace : dict
        From :func:`lstm_gate_trace`.
    units : sequence of int
        Hidden units to show (e.g. from :func:`memory_units`).
    examples : sequence of int
        Batch indices, one per slider position.
    panels : sequence of {"i", "f", "g", "o", "c", "h"}
    marks : bool array (T, B), optional
        Steps to mark with a red triangle above each panel (e.g. the adding problem's
        markers).
    captions : sequence of str, optional
        One line per example, shown above the panels.
    height : int

    Returns
    -------
    plotly.graph_objects.Figure
        One frame per example; show it with :func:`rnn_tutor.plots.show`.
    """
    panels = tuple(panels)
    bad = [p for p in panels if p not in GATE_NAMES]
    if bad or not panels:
        raise ValueError(f"panels must be names from {GATE_NAMES}; got {panels}")
    units = np.asarray(units, dtype=int).reshape(-1)
    examples = [int(b) for b in examples]
    T, B, H = trace["c"].shape
    if units.size == 0 or units.min() < 0 or units.max() >= H:
        raise ValueError(f"units must be indices of hidden units (0 to {H - 1}); got {units}")
    if not examples or min(examples) < 0 or max(examples) >= B:
        raise ValueError(f"examples must be batch indices (0 to {B - 1}); got {examples}")
    if captions is not None and len(captions) != len(examples):
        raise ValueError("captions must have one entry per example")
    captions = captions or [f"example {b}" for b in examples]
    c_max = float(np.abs(trace["c"][:, examples][:, :, units]).max()) or 1.0
    n = len(panels) + 1
    fig = slider_figure(
        np.arange(1, len(examples) + 1, dtype=float),
        lambda j: _example_traces(trace, examples[int(j) - 1], units, panels, marks,
                                  captions[int(j) - 1], c_max, n),
        label="example", value_format=".0f", fix_ranges=False,
        layout=_panel_layout(panels, T, len(units), height))
    return fig
