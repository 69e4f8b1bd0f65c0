"""Tests for rnn_tutor.cells: one time step of RNN, LSTM, GRU, forward and backward.

Backward passes are checked against central finite differences (float64) and against
torch autograd on torch.nn.RNNCell / LSTMCell / GRUCell; bad input must raise a clear
ValueError/TypeError.
"""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_tutor import cells
from rnn_tutor.gradients import numerical_gradient, rel_error

B, D, H = 3, 4, 5
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
FD_TOL = 1e-6        # relative error between analytic and central-difference gradients




def make_params(cell, rng, bias=True, batch=B, in_size=D, hidden=H, dtype=np.float64):
    G = GATES[cell]
    p = {"x": rng.standard_normal((batch, in_size)),
         "h_prev": rng.standard_normal((batch, hidden)),
         "W_xh": rng.standard_normal((G * hidden, in_size)) * 0.6,
         "W_hh": rng.standard_normal((G * hidden, hidden)) * 0.6}
    if cell == "lstm":
        p["c_prev"] = rng.standard_normal((batch, hidden))
    if bias:
        p["b_xh"] = rng.standard_normal(G * hidden) * 0.3
        p["b_hh"] = rng.standard_normal(G * hidden) * 0.3
    return {k: v.astype(dtype) for k, v in p.items()}


def step(cell, p, activation="tanh"):
    """Forward one step; returns (state, cache) with state h or (h, c)."""
    w = {k: p.get(k) for k in ("W_xh", "W_hh", "b_xh", "b_hh")}
    if cell == "rnn":
        return cells.rnn_step_forward(p["x"], p["h_prev"], **w, activation=activation)
    if cell == "lstm":
        return cells.lstm_step_forward(p["x"], p["h_prev"], p["c_prev"], **w)
    return cells.gru_step_forward(p["x"], p["h_prev"], **w)


def backward(cell, dout, cache):
    """Backward one step; returns a dict of gradients keyed like make_params."""
    fn = {"rnn": cells.rnn_step_backward, "lstm": cells.lstm_step_backward,
          "gru": cells.gru_step_backward}[cell]
    dx, dstate, grads = fn(dout, cache)
    out = dict(grads, x=dx)
    if cell == "lstm":
        out["h_prev"], out["c_prev"] = dstate
    else:
        out["h_prev"] = dstate
    return out


def loss_and_upstream(cell, rng):
    """A scalar loss L = sum(u * h) (+ sum(v * c)) with fixed random u, v."""
    u = rng.standard_normal((B, H))
    v = rng.standard_normal((B, H))
    if cell == "lstm":
        return (lambda state: np.sum(u * state[0]) + np.sum(v * state[1])), (u, v)
    return (lambda state: np.sum(u * state)), u


CASES = [("rnn", a) for a in cells.ACTIVATIONS] + [("lstm", None), ("gru", None)]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("cell,activation", CASES)
def test_step_backward_matches_finite_differences(cell, activation, bias):
    rng = np.random.default_rng(0)
    p = make_params(cell, rng, bias=bias)
    act = activation or "tanh"
    loss, dout = loss_and_upstream(cell, rng)
    _, cache = step(cell, p, act)
    grads = backward(cell, dout, cache)
    assert set(grads) == set(p)
    for name, value in p.items():
        numeric = numerical_gradient(lambda _: loss(step(cell, p, act)[0]), value)
        assert grads[name].shape == value.shape
        assert rel_error(grads[name], numeric, floor=1e-6) < FD_TOL, name


def test_finite_difference_check_can_fail():
    """A deliberately wrong gradient (GRU with the reset gate before W_hn) is caught."""
    rng = np.random.default_rng(1)
    p = make_params("gru", rng)
    loss, dout = loss_and_upstream("gru", rng)

    def textbook_gru(W_hh):   # Cho et al.: n = tanh(W_xn x + b + W_hn (r * h)): another model
        r = cells.sigmoid(p["x"] @ p["W_xh"][:H].T + p["h_prev"] @ W_hh[:H].T)
        z = cells.sigmoid(p["x"] @ p["W_xh"][H:2 * H].T + p["h_prev"] @ W_hh[H:2 * H].T)
        n = np.tanh(p["x"] @ p["W_xh"][2 * H:].T + (r * p["h_prev"]) @ W_hh[2 * H:].T)
        return loss((1 - z) * n + z * p["h_prev"])

    p_nobias = {k: v for k, v in p.items() if not k.startswith("b_")}
    _, cache = step("gru", p_nobias)
    grads = backward("gru", dout, cache)
    numeric = numerical_gradient(textbook_gru, p["W_hh"])
    assert rel_error(grads["W_hh"], numeric, floor=1e-6) > 1e-2


# ----------------------------------------------------------------------------- vs torch

def torch_cell(cell, activation, p, dtype):
    G = GATES[cell]
    hidden = p["W_hh"].shape[1]
    bias = "b_xh" in p
    kw = dict(bias=bias, dtype=dtype)
    if cell == "rnn":
        mod = torch.nn.RNNCell(p["x"].shape[1], hidden, nonlinearity=activation, **kw)
    else:
        mod = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[cell](
            p["x"].shape[1], hidden, **kw)
    names = {"weight_ih": "W_xh", "weight_hh": "W_hh", "bias_ih": "b_xh", "bias_hh": "b_hh"}
    with torch.no_grad():
        for name, param in mod.named_parameters():
            param.copy_(torch.from_numpy(p[names[name]]))
    assert mod.weight_hh.shape == (G * hidden, hidden)
    return mod, names


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("cell,activation", [("rnn", "tanh"), ("rnn", "relu"),
                                             ("lstm", None), ("gru", None)])
def test_step_matches_torch_cells(cell, activation, bias, dtype):
    rng = np.random.default_rng(2)
    p = make_params(cell, rng, bias=bias, dtype=dtype)
    tol = 1e-10 if dtype == np.float64 else 1e-5     # max-abs error (values are O(1))
    mod, names = torch_cell(cell, activation, p, getattr(torch, np.dtype(dtype).name))
    tx = torch.tensor(p["x"], requires_grad=True)
    th = torch.tensor(p["h_prev"], requires_grad=True)
    gen = torch.Generator().manual_seed(0)
    upstream = (lambda t: torch.randn(t.shape, dtype=t.dtype, generator=gen))
    state, cache = step(cell, p, activation or "tanh")
    if cell == "lstm":
        tc = torch.tensor(p["c_prev"], requires_grad=True)
        h, c = mod(tx, (th, tc))
        u, v = upstream(h), upstream(c)
        torch.autograd.backward([h, c], [u, v])
        ours = backward(cell, (u.numpy(), v.numpy()), cache)
        assert np.abs(state[0] - h.detach().numpy()).max() < tol
        assert np.abs(state[1] - c.detach().numpy()).max() < tol
        assert np.abs(ours["c_prev"] - tc.grad.numpy()).max() < tol
    else:
        h = mod(tx, th)
        u = upstream(h)
        h.backward(u)
        ours = backward(cell, u.numpy(), cache)
        assert np.abs(state - h.detach().numpy()).max() < tol
    assert state[0].dtype == dtype if cell == "lstm" else state.dtype == dtype
    assert np.abs(ours["x"] - tx.grad.numpy()).max() < tol
    assert np.abs(ours["h_prev"] - th.grad.numpy()).max() < tol
    for name, param in mod.named_parameters():
        assert ours[names[name]].dtype == dtype
        assert np.abs(ours[names[name]] - param.grad.numpy()).max() < tol, name


@settings(max_examples=25, deadline=None)
@given(cell=st.sampled_from(["rnn", "lstm", "gru"]), batch=st.integers(1, 4),
       in_size=st.integers(1, 4), hidden=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_property_steps_match_torch_for_any_shape(cell, batch, in_size, hidden, seed):
    rng = np.random.default_rng(seed)
    p = make_params(cell, rng, batch=batch, in_size=in_size, hidden=hidden)
    mod, names = torch_cell(cell, "tanh", p, torch.float64)
    state, cache = step(cell, p)
    tx = torch.tensor(p["x"], requires_grad=True)
    if cell == "lstm":
        h, c = mod(tx, (torch.tensor(p["h_prev"]), torch.tensor(p["c_prev"])))
        (h.sum() + 2 * c.sum()).backward()
        ours = backward(cell, (np.ones_like(state[0]), 2 * np.ones_like(state[1])), cache)
        np.testing.assert_allclose(state[1], c.detach().numpy(), rtol=0, atol=1e-12)
    else:
        h = mod(tx, torch.tensor(p["h_prev"]))
        h.sum().backward()
        ours = backward(cell, np.ones_like(state), cache)
        np.testing.assert_allclose(state, h.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["x"], tx.grad.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["W_hh"], mod.weight_hh.grad.numpy(), rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- activations

@pytest.mark.parametrize("name", list(cells.ACTIVATIONS))
def test_activation_value_and_derivatives_match_torch(name):
    act = cells.ACTIVATIONS[name]
    a = np.linspace(-6, 6, 241) + 0.013        # avoid relu's kink at exactly 0
    ta = torch.tensor(a, requires_grad=True)
    ref = {"tanh": torch.tanh, "relu": torch.relu, "linear": lambda t: t * 1.0,
           "sigmoid": torch.sigmoid}[name](ta)
    ref.sum().backward()
    np.testing.assert_allclose(act.value(a), ref.detach().numpy(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(act.derivative(a), ta.grad.numpy(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(act.derivative_from_value(act.value(a)), ta.grad.numpy(),
                               rtol=0, atol=1e-15)


@pytest.mark.parametrize("name,gamma", [("tanh", 1.0), ("relu", 1.0), ("linear", 1.0),
                                        ("sigmoid", 0.25)])
def test_activation_gamma_is_the_largest_derivative(name, gamma):
    act = cells.ACTIVATIONS[name]
    assert act.gamma == gamma
    a = np.linspace(-10, 10, 20001)
    assert np.max(np.abs(act.derivative(a))) == pytest.approx(gamma, abs=1e-9)


def test_sigmoid_is_stable_for_huge_inputs():
    a = np.array([-1e4, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = cells.sigmoid(a)
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-np.clip(a, -700, 700))), atol=1e-15)
    assert s[0] == 0.0 and s[-1] == 1.0
    out = np.empty(3, dtype=np.float32)
    assert cells.sigmoid(np.zeros(3, dtype=np.float32), out=out) is out
    assert np.all(out == 0.5)


def test_relu_derivative_at_zero_is_zero_like_torch():
    assert cells.ACTIVATIONS["relu"].derivative(np.array([0.0]))[0] == 0.0


def test_float32_stays_float32():
    rng = np.random.default_rng(3)
    p = make_params("lstm", rng, dtype=np.float32)
    (h, c), cache = step("lstm", p)
    assert h.dtype == c.dtype == np.float32
    dx, (dh, dc), grads = cells.lstm_step_backward((np.ones_like(h), np.ones_like(c)), cache)
    assert dx.dtype == dh.dtype == dc.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


# ----------------------------------------------------------------------------- bad input

def good(cell="rnn"):
    return make_params(cell, np.random.default_rng(4))


def call(cell, **override):
    p = dict(good(cell), **override)
    return step(cell, p)


BAD_STEP_INPUTS = [   # (override as a function of the gate count G, error, message)
    (lambda G: dict(x=np.ones(D)), ValueError, r"x must have 2 dimensions; got 1"),
    (lambda G: dict(x=np.ones((B, D, 1))), ValueError, r"x must have 2 dimensions; got 3"),
    (lambda G: dict(x=np.ones((B, D + 1))), ValueError,
     rf"x must have shape \(any, {D}\); got \({B}, {D + 1}\)"),
    (lambda G: dict(h_prev=np.ones((B, H + 1))), ValueError,
     rf"h_prev must have shape \({B}, {H}\); got \({B}, {H + 1}\)"),
    (lambda G: dict(h_prev=np.ones((B + 1, H))), ValueError,
     rf"h_prev must have shape \({B}, {H}\); got \({B + 1}, {H}\)"),
    (lambda G: dict(h_prev=np.ones(H)), ValueError, r"h_prev must have 2 dimensions; got 1"),
    (lambda G: dict(x=np.ones((B, D), dtype=int)), TypeError,
     r"x must be a floating-point array.*got dtype int"),
    (lambda G: dict(x=np.ones((B, D), dtype=bool)), TypeError,
     r"x must be a floating-point array.*got dtype bool"),
    (lambda G: dict(x=np.ones((B, D), dtype=object)), TypeError,
     r"x must be a floating-point array.*got dtype object"),
    (lambda G: dict(x="abc"), TypeError, r"x must be a floating-point array"),
    (lambda G: dict(x=np.full((B, D), np.nan)), ValueError,
     rf"x must be finite; got {B * D} NaN or inf"),
    (lambda G: dict(h_prev=np.full((B, H), np.inf)), ValueError, r"h_prev must be finite"),
    (lambda G: dict(W_hh=np.full((G * H, H), np.nan)), ValueError, r"W_hh must be finite"),
    (lambda G: dict(W_hh=np.ones((G * H, H + 1))), ValueError,
     lambda G: rf"W_hh must have shape \({G * H}, {H}\); got \({G * H}, {H + 1}\)"),
    (lambda G: dict(W_xh=np.ones((G * H + G, D))), ValueError,
     lambda G: rf"W_xh must have shape \({G * H}, any\); got \({G * H + G}, {D}\)"),
    (lambda G: dict(W_xh=np.ones((2, 2, 2))), ValueError, r"W_xh must have 2 dimensions; got 3"),
    (lambda G: dict(b_xh=np.ones(3)), ValueError,
     lambda G: rf"b_xh must have shape \({G * H}\); got \(3,\)"),
    (lambda G: dict(b_hh=np.ones((1, 3))), ValueError, r"b_hh must have 1 dimensions; got 2"),
    (lambda G: dict(x=np.ones((0, D))), ValueError, r"at least one example \(B >= 1\)"),
]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("override,exc,pattern", BAD_STEP_INPUTS)
def test_bad_step_input_raises_clear_error(cell, override, exc, pattern):
    G = GATES[cell]
    with pytest.raises(exc, match=pattern(G) if callable(pattern) else pattern):
        call(cell, **override(G))


def test_recurrent_matrix_must_hold_whole_gates():
    p = good("lstm")
    with pytest.raises(ValueError, match=r"W_hh must have shape \(4\*H, H\).*got \(7, 7\)"):
        cells.lstm_step_forward(p["x"], p["h_prev"], p["c_prev"], p["W_xh"], np.ones((7, 7)))


def test_lstm_bad_cell_state():
    with pytest.raises(ValueError, match=rf"c_prev must have shape \({B}, {H}\); got \({B}, 2\)"):
        call("lstm", c_prev=np.ones((B, 2)))
    with pytest.raises(TypeError, match="c_prev must be a floating-point array"):
        call("lstm", c_prev=np.ones((B, H), dtype=np.int64))


def test_unknown_activation_lists_choices():
    p = good()
    with pytest.raises(ValueError, match=r"unknown activation 'softplus'; expected one of "
                                         r"'tanh', 'relu', 'linear', 'sigmoid'"):
        cells.rnn_step_forward(p["x"], p["h_prev"], p["W_xh"], p["W_hh"],
                               activation="softplus")
    with pytest.raises(ValueError, match="unknown activation"):
        cells.get_activation("Tanh")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_bad_upstream_gradient(cell):
    state, cache = step(cell, good(cell))
    wrong = np.ones((B, H + 1))
    fn = {"rnn": cells.rnn_step_backward, "lstm": cells.lstm_step_backward,
          "gru": cells.gru_step_backward}[cell]
    dout = (wrong, np.ones((B, H))) if cell == "lstm" else wrong
    with pytest.raises(ValueError, match=rf"dh must have shape \({B}, {H}\); got \({B}, {H + 1}\)"):
        fn(dout, cache)
    nan = np.full((B, H), np.nan)
    with pytest.raises(ValueError, match="must be finite"):
        fn((nan, nan) if cell == "lstm" else nan, cache)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_backward_refuses_a_foreign_cache(cell):
    fn = {"rnn": cells.rnn_step_backward, "lstm": cells.lstm_step_backward,
          "gru": cells.gru_step_backward}[cell]
    dh = np.ones((B, H))
    with pytest.raises(TypeError, match=rf"cache must be the tuple returned by "
                                        rf"{cell}_step_forward; got dict"):
        fn((dh, dh) if cell == "lstm" else dh, {"x": 1})


def test_lstm_backward_needs_a_pair():
    _, cache = step("lstm", good("lstm"))
    with pytest.raises(TypeError, match=r"dout must be the pair \(dh, dc\)"):
        cells.lstm_step_backward(np.ones((B, H)), cache)


# ----------------------------------------------------------------------------- the pieces

def test_registry_gate_counts_match_the_layouts():
    assert {n: c.num_gates for n, c in cells.CELLS.items()} == GATES
    assert cells.get_cell("lstm").gates == ("i", "f", "g", "o")


@pytest.mark.parametrize("activation", list(cells.ACTIVATIONS))
def test_rnn_gate_pieces_are_the_step(activation):
    p = make_params("rnn", np.random.default_rng(11))
    phi = cells.get_activation(activation)
    a = cells.affine(p["x"], p["W_xh"], p["b_xh"]) + cells.affine(p["h_prev"], p["W_hh"],
                                                                p["b_hh"])
    h = cells.rnn_gates_forward(a, phi)
    h_step, cache = step("rnn", p, activation)
    np.testing.assert_array_equal(h, h_step)
    np.testing.assert_array_equal(cells.rnn_gates_derivatives(h, phi), phi.derivative_from_value(h))
    dh = np.random.default_rng(12).standard_normal(h.shape)
    da = cells.rnn_gates_backward(dh, h, phi)
    np.testing.assert_allclose(da, dh * phi.derivative(a), rtol=1e-12, atol=1e-15)
    out = np.empty_like(da)
    assert cells.rnn_backward_from_derivatives(dh, cells.rnn_gates_derivatives(h, phi),
                                               out=out) is out
    np.testing.assert_array_equal(out, da)
    # the step's backward is affine_backward of that da
    dx, dh_prev, grads = cells.rnn_step_backward(dh, cache)
    dx2, dh_prev2, grads2 = cells.affine_backward(da, da, p["x"], p["h_prev"], p["W_xh"],
                                                  p["W_hh"], True, True)
    np.testing.assert_array_equal(dx, dx2)
    np.testing.assert_array_equal(dh_prev, dh_prev2)
    assert grads.keys() == grads2.keys() == {"W_xh", "W_hh", "b_xh", "b_hh"}


def test_affine_and_the_public_checks():
    v, W = np.ones((2, 3)), np.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(cells.affine(v, W, None), v @ W.T)
    np.testing.assert_array_equal(cells.affine(v, W, np.ones(4)), v @ W.T + 1)
    p = good("lstm")
    x, (h, c), W_xh, W_hh, b_xh, b_hh = cells.check_step(
        p["x"].astype(np.float32), (p["h_prev"], p["c_prev"]), p["W_xh"], p["W_hh"],
        None, p["b_hh"], gates=4)
    assert x.dtype == h.dtype == c.dtype == W_hh.dtype == np.float64 and b_xh is None
    assert cells.check_grad([[1.0, 2.0]], np.zeros((1, 2), np.float32), "dh").dtype == np.float32
    assert cells.check_cache((1, 2), 2, "f") == (1, 2)
    with pytest.raises(TypeError, match="cache must be the tuple returned by f"):
        cells.check_cache((1,), 2, "f")


# ------------------------------------------------- GRU with the reset gate before W_hn

def reset_before(p):
    w = {k: p.get(k) for k in ("W_xh", "W_hh", "b_xh", "b_hh")}
    return cells.gru_reset_before_step_forward(p["x"], p["h_prev"], **w)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
def test_reset_before_forward_is_the_textbook_equations(bias, dtype):
    rng = np.random.default_rng(5)
    p = make_params("gru", rng, bias=bias, dtype=dtype)
    b_xh = p.get("b_xh", np.zeros(3 * H, dtype))
    b_hh = p.get("b_hh", np.zeros(3 * H, dtype))
    x, h, Wx, Wh = p["x"], p["h_prev"], p["W_xh"], p["W_hh"]
    r = cells.sigmoid(x @ Wx[:H].T + b_xh[:H] + h @ Wh[:H].T + b_hh[:H])
    z = cells.sigmoid(x @ Wx[H:2 * H].T + b_xh[H:2 * H] + h @ Wh[H:2 * H].T + b_hh[H:2 * H])
    n = np.tanh(x @ Wx[2 * H:].T + b_xh[2 * H:] + (r * h) @ Wh[2 * H:].T + b_hh[2 * H:])
    out, _ = reset_before(p)
    assert out.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out, (1 - z) * n + z * h, rtol=tol, atol=tol)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("bias", [True, False])
def test_reset_before_backward_matches_finite_differences(bias, seed):
    rng = np.random.default_rng(seed)
    p = make_params("gru", rng, bias=bias)
    loss, dout = loss_and_upstream("gru", rng)
    _, cache = reset_before(p)
    dx, dh_prev, grads = cells.gru_reset_before_step_backward(dout, cache)
    grads = dict(grads, x=dx, h_prev=dh_prev)
    assert set(grads) == set(p)
    for name, value in p.items():
        # eps 1e-5: at 1e-6 round-off (about 1e-9 absolute) dominates the smallest entries
        numeric = numerical_gradient(lambda _: loss(reset_before(p)[0]), value, eps=1e-5)
        assert grads[name].shape == value.shape
        assert rel_error(grads[name], numeric, floor=1e-6) < FD_TOL, name


def test_reset_before_and_after_differ_and_agree_when_the_reset_gate_is_open():
    rng = np.random.default_rng(7)
    p = make_params("gru", rng)
    after, _ = step("gru", p)
    before, _ = reset_before(p)
    assert np.abs(after - before).max() > 1e-2        # two different functions
    # r_t = 1 (reset pre-activation huge): r (W h + b) = W (r h) + b, the same model
    p["b_hh"][:H] = 1e3
    after, _ = step("gru", p)
    before, _ = reset_before(p)
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-12)


def test_reset_before_checks_inputs_and_cache():
    rng = np.random.default_rng(0)
    p = make_params("gru", rng)
    with pytest.raises(ValueError, match="W_hh"):
        cells.gru_reset_before_step_forward(p["x"], p["h_prev"], p["W_xh"], p["W_hh"][:-1])
    _, cache = step("gru", p)           # a cache of the other convention: same length
    _, cache_b = reset_before(p)
    with pytest.raises(TypeError, match="gru_reset_before_step_forward"):
        cells.gru_reset_before_step_backward(np.ones((B, H)), cache_b[:-1])
    with pytest.raises(ValueError, match="dh"):
        cells.gru_reset_before_step_backward(np.ones((B, H + 1)), cache_b)
    assert cache is not None
