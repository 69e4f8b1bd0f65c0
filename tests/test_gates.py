"""gates: the gate trace of a torch LSTM, its memory units, and the heatmap figure."""

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from rnn_tutor import cells, gates


@pytest.fixture(scope="module")
def lstm_and_x():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 5).double()
    x = np.random.default_rng(0).normal(size=(7, 4, 3))
    return lstm, x


def test_trace_matches_torch_and_the_cell_equations(lstm_and_x):
    lstm, x = lstm_and_x
    tr = gates.lstm_gate_trace(lstm, x)
    assert set(tr) == set(gates.GATE_NAMES)
    assert all(v.shape == (7, 4, 5) for v in tr.values())
    out, (h_n, c_n) = lstm(torch.as_tensor(x))
    np.testing.assert_allclose(tr["h"], out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(tr["c"][-1], c_n[0].detach().numpy(), atol=1e-12)
    # the gates are those of one cells.lstm_step_forward per step
    p = {k: v.detach().numpy() for k, v in lstm.named_parameters()}
    h = c = np.zeros((4, 5))
    for t in range(7):
        (h, c), cache = cells.lstm_step_forward(x[t], h, c, p["weight_ih_l0"],
                                                p["weight_hh_l0"], p["bias_ih_l0"],
                                                p["bias_hh_l0"])
        step_gates = cache[7]
        for k, name in enumerate("ifgo"):
            np.testing.assert_allclose(tr[name][t], step_gates[:, 5 * k:5 * (k + 1)],
                                       atol=1e-12)
    # a torch tensor works as well
    np.testing.assert_allclose(gates.lstm_gate_trace(lstm, torch.as_tensor(x))["f"], tr["f"])


def test_memory_units_finds_the_unit_that_holds_the_target(lstm_and_x):
    _, x = lstm_and_x
    c = np.random.default_rng(1).normal(size=(3, 50, 6))
    target = np.random.default_rng(2).normal(size=50)
    c[-1, :, 4] = -2 * target + 0.01                  # unit 4 stores the target exactly
    c[-1, :, 1] = target + np.random.default_rng(3).normal(size=50)   # unit 1: noisily
    units = gates.memory_units({"c": c}, target, n=3)
    assert list(units[:2]) == [4, 1] and len(units) == 3
    assert len(gates.memory_units({"c": c}, target, n=99)) == 6
    with pytest.raises(ValueError, match="target"):
        gates.memory_units({"c": c}, target[:10])


def test_heatmap_figure_has_one_frame_per_example_and_the_chosen_units(lstm_and_x):
    lstm, x = lstm_and_x
    tr = gates.lstm_gate_trace(lstm, x)
    marks = np.zeros((7, 4), bool)
    marks[2, 1] = True
    fig = gates.gate_heatmap_figure(tr, [3, 0], [1, 2], marks=marks,
                                    captions=["one", "two"])
    assert isinstance(fig, go.Figure) and len(fig.frames) == 2
    heat = [t for t in fig.frames[0].data if t.type == "heatmap"]
    assert len(heat) == 4                              # i, f, o, c
    np.testing.assert_allclose(np.asarray(heat[1].z), np.round(tr["f"][:, 1, [3, 0]].T, 2))
    triangles = [t for t in fig.frames[0].data if t.type == "scatter" and t.mode == "markers"]
    assert list(triangles[0].x) == [2]                 # example 1 has a mark at step 2
    assert [t for t in fig.frames[1].data if t.type == "scatter"][-1].text == ("two",)


@pytest.mark.parametrize("kwargs, match", [
    (dict(units=[9]), "units"), (dict(examples=[4]), "examples"),
    (dict(panels=("q",)), "panels"), (dict(captions=["a", "b"]), "captions"),
])
def test_heatmap_figure_names_bad_arguments(lstm_and_x, kwargs, match):
    lstm, x = lstm_and_x
    tr = gates.lstm_gate_trace(lstm, x)
    args = dict(units=[0], examples=[0]) | kwargs
    with pytest.raises(ValueError, match=match):
        gates.gate_heatmap_figure(tr, **args)


def test_trace_refuses_a_stacked_lstm():
    with pytest.raises(ValueError, match="one-layer"):
        gates.lstm_gate_trace(torch.nn.LSTM(2, 3, num_layers=2), np.zeros((2, 1, 2)))
