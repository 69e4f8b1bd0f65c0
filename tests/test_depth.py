"""Deep recurrent networks: parameter counts, the stacked recurrence and its gradients,
checked against PyTorch (modules and autograd through per-step cells)."""

import numpy as np
import pytest
import torch

from rnn_tutor import depth, gradients, models, tasks

CELLS = ("rnn", "lstm", "gru")


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2, 4])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_parameter_count_matches_torch(cell, layers, bidirectional):
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    for bias in (True, False):
        net = cls(3, 5, num_layers=layers, bias=bias, bidirectional=bidirectional)
        assert depth.parameter_count(cell, 3, 5, layers, bias, bidirectional) == \
            sum(p.numel() for p in net.parameters())


def torch_stack(cell, layers, D=3, H=4, residual=False, dropout=0.0, seed=0):
    torch.manual_seed(seed)
    return models.StackedRecurrent(cell, D, H, layers, dropout=dropout,
                                   residual=residual).double()


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("residual", [False, True])
def test_stacked_forward_backward_match_torch(cell, residual):
    net = torch_stack(cell, 3, residual=residual)
    x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    out, _ = net(x)
    name, weights = depth.weights_from_torch(net)
    assert name == cell and len(weights) == 3
    y, caches = depth.stacked_forward(cell, x.detach().numpy(), weights, residual=residual)
    assert np.abs(y - out.detach().numpy()).max() < 1e-12
    d_y = np.random.default_rng(0).normal(size=y.shape)
    (out * torch.as_tensor(d_y)).sum().backward()
    dx, grads, _ = depth.stacked_backward(d_y, caches)
    assert np.abs(dx - x.grad.numpy()).max() < 1e-12
    for k, layer in enumerate(net.layers):
        for key, pname in (("W_xh", "weight_ih_l0"), ("W_hh", "weight_hh_l0"),
                           ("b_xh", "bias_ih_l0"), ("b_hh", "bias_hh_l0")):
            assert np.abs(grads[k][key] - getattr(layer, pname).grad.numpy()).max() < 1e-12


@pytest.mark.parametrize("cell", CELLS)
def test_plain_stack_equals_torch_num_layers(cell):
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    torch.manual_seed(1)
    net = cls(3, 4, num_layers=3).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    out, _ = net(x)
    name, weights = depth.weights_from_torch(net)
    y, _ = depth.stacked_forward(name, x.numpy(), weights)
    assert np.abs(y - out.detach().numpy()).max() < 1e-12


@pytest.mark.parametrize("cell", CELLS)
def test_dropout_masks_reproduce_torch_training_mode(cell):
    # PyTorch's CPU kernels draw each between-layer mask when they need it; drawing the
    # same masks with F.dropout on ones after the same seed reproduces them.
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    torch.manual_seed(2)
    p, T, B, H = 0.4, 5, 3, 4
    net = cls(3, H, num_layers=3, dropout=p).double()
    x = torch.randn(T, B, 3, dtype=torch.float64)
    torch.manual_seed(7)
    out, _ = net(x)
    torch.manual_seed(7)
    masks = [torch.nn.functional.dropout(torch.ones(T, B, H, dtype=torch.float64), p).numpy()
             for _ in range(2)]
    _, weights = depth.weights_from_torch(net)
    y, _ = depth.stacked_forward(cell, x.numpy(), weights, dropout_masks=masks)
    assert np.abs(y - out.detach().numpy()).max() < 1e-12
    net.eval()
    y_eval, _ = depth.stacked_forward(cell, x.numpy(), weights)
    assert np.abs(y_eval - net(x)[0].detach().numpy()).max() < 1e-12


def stepwise_state_grads(cell, net, x, d_y, residual):
    """dL/dh_t^(l) by autograd, unrolling each layer step by step with torch cells."""
    cls = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[cell]
    z = x
    states = []
    for k, layer in enumerate(net.layers):
        c = cls(layer.input_size, layer.hidden_size).double()
        with torch.no_grad():
            for a, b in (("weight_ih", "weight_ih_l0"), ("weight_hh", "weight_hh_l0"),
                         ("bias_ih", "bias_ih_l0"), ("bias_hh", "bias_hh_l0")):
                getattr(c, a).copy_(getattr(layer, b))
        h = torch.zeros(x.shape[1], layer.hidden_size, dtype=torch.float64)
        state = (h, h.clone()) if cell == "lstm" else h
        hs = []
        for t in range(len(z)):
            state = c(z[t], state)
            h = state[0] if cell == "lstm" else state
            h.retain_grad()
            hs.append(h)
        states.append(hs)
        out = torch.stack(hs)
        z = out + z if residual and k > 0 else out
    (z * torch.as_tensor(d_y)).sum().backward()
    return np.stack([[h.grad.numpy() for h in hs] for hs in states])


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("residual", [False, True])
def test_state_gradients_match_autograd(cell, residual):
    net = torch_stack(cell, 3, D=3, H=4, residual=residual, seed=3)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    _, weights = depth.weights_from_torch(net)
    y, caches = depth.stacked_forward(cell, x.numpy(), weights, residual=residual)
    d_y = np.random.default_rng(1).normal(size=y.shape)
    _, _, d_h = depth.stacked_backward(d_y, caches)
    g = depth.state_gradients(d_h, caches)
    expected = stepwise_state_grads(cell, net, x, d_y, residual)
    assert g.shape == expected.shape == (3, 6, 2, 4)
    assert np.abs(g - expected).max() < 1e-12


def test_state_gradient_by_finite_differences():
    # Perturb h_t^(l) directly: rerun layer l from step t + 1 and everything above.
    cell, T, H = "rnn", 5, 3
    weights = depth.random_layers(cell, 2, 2, H, scale=0.9, input_scale=0.8, seed=4)
    x = np.random.default_rng(5).normal(size=(T, 1, 2))
    u = np.random.default_rng(6).normal(size=H)
    y, caches = depth.stacked_forward(cell, x, weights)
    d_y = np.zeros_like(y)
    d_y[-1, 0] = u
    _, _, d_h = depth.stacked_backward(d_y, caches)
    g = depth.state_gradients(d_h, caches)
    hs0 = caches[0]["unroll"]["hs"]
    layer, t = 0, 1

    def loss(h_t):
        w = weights[0]
        h, out = h_t[None, :], [hs0[k] for k in range(t)] + [h_t[None, :]]
        for k in range(t + 1, T):
            h = np.tanh(x[k] @ w["W_xh"].T + w["b_xh"] + h @ w["W_hh"].T + w["b_hh"])
            out.append(h)
        top, _ = depth.stacked_forward(cell, np.stack(out), weights[1:])
        return float(top[-1, 0] @ u)

    numeric = gradients.numerical_gradient(loss, hs0[t, 0].copy())
    assert gradients.rel_error(g[layer, t, 0], numeric) < 1e-6


def test_layer_time_profile_shape_top_corner_and_residual():
    p = depth.layer_time_profile("rnn", num_layers=4, T=20, hidden_size=16, scale=0.8,
                                 input_scale=0.8, seed=0)
    assert p.shape == (4, 20)
    assert np.isclose(p[-1, -1], 1.0)                      # ||u|| = 1 at the top, step T
    assert p[0, -1] < p[-1, -1] and p[-1, 0] < p[-1, -1]   # it vanishes in both directions
    r = depth.layer_time_profile("rnn", num_layers=4, T=20, hidden_size=16, scale=0.8,
                                 input_scale=0.8, residual=True, seed=0)
    assert r[0, -1] > 5 * p[0, -1]                         # skips carry it down
    for cell in ("lstm", "gru"):
        q = depth.layer_time_profile(cell, num_layers=2, T=5, hidden_size=4, seed=1)
        assert q.shape == (2, 5) and np.all(np.isfinite(q))


def test_profile_heatmap_is_log10_rounded():
    trace = depth.profile_heatmap(np.array([[1e-3, 1.0], [1e-20, 0.5]]))
    z = np.asarray(trace.z)
    assert z[0, 0] == -3 and z[1, 0] == -12 and z[1, 1] == np.round(np.log10(0.5), 2)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        depth.parameter_count("lstm", 3, 4, 0)
    with pytest.raises(ValueError):
        depth.parameter_count("transformer", 3, 4, 1)
    w = depth.random_layers("rnn", 2, 3, 4)
    with pytest.raises(ValueError):
        depth.stacked_forward("rnn", np.zeros((2, 1, 3)), w, dropout_masks=[])
    with pytest.raises(TypeError):
        depth.stacked_forward("rnn", np.zeros((2, 1, 3)), [])
    with pytest.raises(TypeError):
        depth.weights_from_torch(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError):
        depth.layer_time_profile(residual="yes")


def test_run_returns_a_row():
    corpus = tasks.CharCorpus(modules=("json", "textwrap"))
    row = depth.run(corpus, 2, hidden_size=8, budget=0.2, max_steps=3, seed=0,
                    residual=True)
    assert row["layers"] == 2 and row["residual"] is True and row["steps"] <= 3
    assert row["parameters"] == depth.parameter_count("lstm", corpus.vocab_size, 8, 2) + \
        8 * corpus.vocab_size + corpus.vocab_size
    assert np.isfinite(row["valid_loss"]) and np.isfinite(row["train_loss"])
    fixed = [depth.run(corpus, 1, hidden_size=8, steps=2, seed=1)["valid_loss"]
             for _ in range(2)]
    assert fixed[0] == fixed[1]                        # a budget in steps: reproducible
