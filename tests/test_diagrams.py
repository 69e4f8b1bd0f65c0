"""The chapter-1 diagrams hold the boxes and arrows they are meant to draw."""

import plotly.graph_objects as go
import pytest

from rnn_tutor import diagrams
from rnn_tutor.diagrams import (NODE_COLORS, add_arrow, add_nodes, blank_layout,
                                io_structures_figure, unrolled_figure)


def boxes(fig, kind=None):
    """(x, y) centres of the boxes of one kind (all kinds if None)."""
    return [(x, y) for trace in fig.data
            if kind is None or trace.marker.color == NODE_COLORS[kind]
            for x, y in zip(trace.x, trace.y)]


def arrows(fig):
    return [a for a in fig.layout.annotations if a.showarrow]


def texts(fig):
    return [a.text for a in fig.layout.annotations if not a.showarrow]


def test_io_structures_one_box_per_node_and_one_arrow_per_edge():
    fig = io_structures_figure()
    # Counted by hand from the five panels: one-to-one, one-to-many, many-to-one,
    # many-to-many aligned (4 steps), many-to-many unaligned (3 in, 4 out, 7 steps).
    assert len(boxes(fig, "x")) == 1 + 1 + 4 + 4 + 3
    assert len(boxes(fig, "h")) == 1 + 4 + 4 + 4 + 7
    assert len(boxes(fig, "y")) == 1 + 4 + 1 + 4 + 4
    # Arrows: one per input, one per output, steps - 1 recurrent ones per panel.
    assert len(arrows(fig)) == (1 + 1 + 0) + (1 + 4 + 3) + (4 + 1 + 3) + (4 + 4 + 3) + (3 + 4 + 6)
    centres = set(boxes(fig))
    assert len(centres) == len(boxes(fig))            # no two boxes on top of each other
    for a in arrows(fig):                             # every arrow joins two boxes
        assert (a.ax, a.ay) in centres and (a.x, a.y) in centres
    titles = [title for row in diagrams.IO_STRUCTURES for title, *_ in row]
    assert all(f"<b>{t}</b>" in texts(fig) for t in titles) and len(titles) == 5
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False


def test_every_input_arrow_goes_up_into_a_hidden_box():
    fig = io_structures_figure()
    h_boxes, x_boxes = set(boxes(fig, "h")), set(boxes(fig, "x"))
    up = [a for a in arrows(fig) if (a.ax, a.ay) in x_boxes]
    assert len(up) == len(x_boxes)
    assert all((a.x, a.y) in h_boxes and a.x == a.ax and a.y > a.ay for a in up)


@pytest.mark.parametrize("steps", [1, 2, 4, 7])
def test_unrolled_figure_shares_the_weights_at_every_step(steps):
    fig = unrolled_figure(steps)
    assert len(boxes(fig, "h")) == steps + 1 and len(boxes(fig, "x")) == steps
    assert len(boxes(fig, "y")) == 0
    assert len(arrows(fig)) == 2 * steps - 1          # the last recurrent gap is "⋯"
    labels = texts(fig)
    assert labels.count("W<sub>xh</sub>") == steps
    assert labels.count("W<sub>hh</sub>") == steps - 1
    assert labels.count("⋯") == 1
    h_labels = [t for trace in fig.data for t in trace.text if t.startswith("h")]
    assert h_labels[0] == "h<sub>0</sub>" and h_labels[-1] == "h<sub>T</sub>"


def test_building_blocks_draw_what_they_are_given():
    fig = add_nodes(go.Figure(), [(0, 0), (1, 0)], "y", ["a", "b"])
    assert boxes(fig, "y") == [(0.0, 0.0), (1.0, 0.0)] and list(fig.data[0].text) == ["a", "b"]
    add_nodes(fig, [], "x", [])                        # an empty row is allowed
    add_arrow(fig, (0, 0), (1, 0), "W", color="#123456")
    assert len(arrows(fig)) == 1 and texts(fig) == ["W"]
    assert arrows(fig)[0].arrowcolor == "#123456"
    assert blank_layout(fig, 100).layout.height == 100


@pytest.mark.parametrize("call, error, message", [
    (lambda: add_nodes(go.Figure(), [(0, 0)], "z", ["a"]), ValueError, "kind"),
    (lambda: add_nodes(go.Figure(), [(0, 0, 0)], "x", ["a"]), ValueError, "points"),
    (lambda: add_nodes(go.Figure(), [("a", 0)], "x", ["a"]), ValueError, "points"),
    (lambda: add_nodes(go.Figure(), [(0, 0)], "x", ["a", "b"]), ValueError, "labels"),
    (lambda: add_nodes({}, [(0, 0)], "x", ["a"]), TypeError, "fig"),
    (lambda: add_arrow(go.Figure(), (0, 0), (0, 0)), ValueError, "differ"),
    (lambda: add_arrow(go.Figure(), (0,), (1, 0)), ValueError, "start"),
    (lambda: add_arrow(go.Figure(), (0, 0), (1, float("nan"))), ValueError, "end"),
    (lambda: blank_layout(go.Figure(), 0), ValueError, "height"),
    (lambda: unrolled_figure(0), ValueError, "steps"),
    (lambda: unrolled_figure(2.0), TypeError, "steps"),
])
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def round_nodes(fig, kind):
    """Labels of the round nodes of one kind ("sigmoid", "tanh", "op") of a cell diagram."""
    return [t for trace in fig.data if trace.name == f"{kind} nodes" for t in trace.text]


@pytest.mark.parametrize("cell, sigmoids, tanhs, ops, n_arrows", [
    # LSTM: f, i, o gates; g and tanh(c); f*c, i*g, +, o*tanh(c). 11 edges + 4 from the bus.
    ("lstm", ["f<sub>t</sub>", "i<sub>t</sub>", "o<sub>t</sub>"],
     ["g<sub>t</sub>", "tanh"], 4, 11 + 4),
    # GRU: z, r gates; n; z*h, (1-z)*n, +, 1-. 9 edges + 3 from the bus.
    ("gru", ["z<sub>t</sub>", "r<sub>t</sub>"], ["n<sub>t</sub>"], 4, 9 + 3),
])
def test_cell_diagram_draws_every_gate_and_operation(cell, sigmoids, tanhs, ops, n_arrows):
    fig = diagrams.cell_diagram(cell)
    assert sorted(round_nodes(fig, "sigmoid")) == sorted(sigmoids)
    assert sorted(round_nodes(fig, "tanh")) == sorted(tanhs)
    assert len(round_nodes(fig, "op")) == ops
    assert len(arrows(fig)) == n_arrows
    centres = [(x, y) for trace in fig.data for x, y in zip(trace.x, trace.y)]
    assert len(set(centres)) == len(centres)          # nothing drawn on top of something
    top = {x for trace in fig.data for x, y, t in zip(trace.x, trace.y, trace.text) if y == 3}
    assert len(top) >= 4                              # the carried state runs along the top
    assert fig.layout.xaxis.visible is False


def test_cell_diagram_names_a_bad_cell():
    with pytest.raises(ValueError, match="cell"):
        diagrams.cell_diagram("rnn")


@pytest.mark.parametrize("layers, steps", [(1, 1), (3, 4), (4, 2)])
def test_layer_time_grid_draws_every_state_and_link(layers, steps):
    fig = diagrams.layer_time_grid(layers, steps)
    assert len(boxes(fig, "h")) == layers * (steps + 1)
    assert len(boxes(fig, "x")) == steps and len(boxes(fig, "y")) == steps
    assert len(arrows(fig)) == layers * (steps - 1) + layers * steps + steps
    centres = set(boxes(fig))
    assert len(centres) == len(boxes(fig))
    for a in arrows(fig):                             # every arrow joins two boxes,
        assert (a.ax, a.ay) in centres and (a.x, a.y) in centres
        assert (a.x - a.ax, a.y - a.ay) in ((1, 0), (0, 1))   # one step right or one up
    labels = texts(fig)
    assert "W<sub>xh</sub><sup>(L)</sup>" in labels     # the top layer is layer L
    assert sum(t.startswith("W<sub>xh</sub>") for t in labels) == layers
    assert sum(t.startswith("W<sub>hh</sub>") for t in labels) == (layers if steps > 1 else 0)
    assert labels.count("⋯") == layers


def test_layer_time_grid_names_bad_sizes():
    with pytest.raises(ValueError, match="layers"):
        diagrams.layer_time_grid(0)
    with pytest.raises(TypeError, match="steps"):
        diagrams.layer_time_grid(2, 1.5)
