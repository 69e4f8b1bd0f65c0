"""Tests for rnn_tutor.layers: unrolling, full and truncated BPTT, stacked and
bidirectional networks (finite differences, step-by-step cross-checks, bad input).

Equivalence with torch is in test_from_torch.py.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_tutor import cells, layers
from rnn_tutor.gradients import numerical_gradient, rel_error

# Central differences (eps = 1e-6) of a loss summing many O(1) terms carry round-off of
# about 1e-16 * |L| / eps ~ 1e-9 in absolute terms, so the relative error is measured
# against max(|a| + |b|, FLOOR); a wrong gradient gives errors of 1e-2 and more.
FD_TOL, FLOOR = 1e-5, 1e-4
CELLS = ["rnn", "lstm", "gru"]


def layer_params(cell, rng, D=3, H=4, bias=True):
    G = layers.CELLS[cell]
    p = {"W_xh": rng.standard_normal((G * H, D)) * 0.5,
         "W_hh": rng.standard_normal((G * H, H)) * 0.5}
    if bias:
        p["b_xh"] = rng.standard_normal(G * H) * 0.2
        p["b_hh"] = rng.standard_normal(G * H) * 0.2
    return p


def initial_state(cell, rng, B=2, H=4):
    if cell == "lstm":
        return [rng.standard_normal((B, H)), rng.standard_normal((B, H))]
    return rng.standard_normal((B, H))


def state_loss(cell, state, V):
    if cell == "lstm":
        return np.sum(V[0] * state[0]) + np.sum(V[1] * state[1])
    return np.sum(V[0] * state)


def run(cell, x, state0, p, activation="tanh", reverse=False):
    return layers.unroll_forward(cell, x, state0, p["W_xh"], p["W_hh"], p.get("b_xh"),
                                 p.get("b_hh"), activation=activation, reverse=reverse)


def state_at(cell, cache, t):
    """The full forward pass's state after step t (a constant in the truncated loss)."""
    if cell == "lstm":
        return (cache["hs"][t].copy(), cache["cs"][t].copy())
    return cache["hs"][t].copy()


def windowed_loss(cell, x, state0, p, U, V, window, reverse, boundary, activation):
    """The loss whose exact gradient truncated BPTT computes: every window starts from a
    constant state (taken from the full run), except the first, which starts from state0."""
    T = len(x)
    total = 0.0
    for s in range(0, T, window):
        e = min(s + window, T)
        first = (e == T) if reverse else (s == 0)
        init = state0 if first else boundary(e if reverse else s - 1)
        (hs, last), _ = run(cell, x[s:e], init, p, activation, reverse)
        total += np.sum(U[s:e] * hs)
        if (s == 0) if reverse else (e == T):
            total += state_loss(cell, last, V)
    return total


def check_unroll_gradients(cell, activation, reverse, window, bias=True, T=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, 2, 3))
    state0 = initial_state(cell, rng)
    p = layer_params(cell, rng, bias=bias)
    U = rng.standard_normal((T, 2, 4))
    V = rng.standard_normal((2, 2, 4))
    (hs, last), cache = run(cell, x, state0, p, activation, reverse)
    dstate = (V[0], V[1]) if cell == "lstm" else V[0]
    dx, dstate0, grads = layers.unroll_backward(U, cache, dstate, window=window)

    if window is None:
        def loss():
            (hs, last), _ = run(cell, x, state0, p, activation, reverse)
            return np.sum(U * hs) + state_loss(cell, last, V)
    else:
        def loss():
            return windowed_loss(cell, x, state0, p, U, V, window, reverse,
                                 lambda t: state_at(cell, cache, t), activation)

    analytic = dict(grads, x=dx)
    variables = dict(p, x=x)
    if cell == "lstm":
        analytic["h0"], analytic["c0"] = dstate0
        variables["h0"], variables["c0"] = state0
    else:
        analytic["h0"], variables["h0"] = dstate0, state0
    for name, value in variables.items():
        numeric = numerical_gradient(lambda _: loss(), value)
        assert rel_error(analytic[name], numeric, floor=FLOOR) < FD_TOL, name
    return analytic


CASES = [("rnn", a) for a in cells.ACTIVATIONS] + [("lstm", "tanh"), ("gru", "tanh")]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("cell,activation", CASES)
def test_full_bptt_matches_finite_differences(cell, activation, reverse):
    check_unroll_gradients(cell, activation, reverse, window=None)


@pytest.mark.parametrize("cell", CELLS)
def test_full_bptt_without_bias_matches_finite_differences(cell):
    check_unroll_gradients(cell, "tanh", reverse=False, window=None, bias=False)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("window", [1, 2, 3])
@pytest.mark.parametrize("cell", CELLS)
def test_truncated_bptt_matches_finite_differences_of_windowed_loss(cell, window, reverse):
    check_unroll_gradients(cell, "tanh", reverse, window=window, T=7)


@pytest.mark.parametrize("cell", CELLS)
def test_truncation_changes_the_gradient_and_long_windows_do_not(cell):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 2, 3))
    p = layer_params(cell, rng)
    _, cache = run(cell, x, None, p)
    U = rng.standard_normal((6, 2, 4))
    full = layers.unroll_backward(U, cache)[2]
    for window in (6, 100):
        same = layers.unroll_backward(U, cache, window=window)[2]
        for name in full:
            np.testing.assert_array_equal(same[name], full[name])
    cut = layers.unroll_backward(U, cache, window=2)[2]
    assert rel_error(cut["W_hh"], full["W_hh"]) > 1e-3


# ------------------------------------------------- unrolled = the cells' steps, in a loop

def step_by_step(cell, x, state0, p, reverse):
    """Unroll with the public one-step functions of rnn_tutor.cells (a second code path)."""
    w = dict(W_xh=p["W_xh"], W_hh=p["W_hh"], b_xh=p["b_xh"], b_hh=p["b_hh"])
    order = range(len(x) - 1, -1, -1) if reverse else range(len(x))
    state, caches, hs = state0, {}, [None] * len(x)
    for t in order:
        if cell == "rnn":
            state, caches[t] = cells.rnn_step_forward(x[t], state, **w)
        elif cell == "lstm":
            state, caches[t] = cells.lstm_step_forward(x[t], *state, **w)
        else:
            state, caches[t] = cells.gru_step_forward(x[t], state, **w)
        hs[t] = state[0] if cell == "lstm" else state
    return np.stack(hs), caches, list(order)


def step_by_step_backward(cell, dout, caches, order, dstate):
    backward = {"rnn": cells.rnn_step_backward, "lstm": cells.lstm_step_backward,
                "gru": cells.gru_step_backward}[cell]
    total, dxs = {}, {}
    for t in reversed(order):
        if cell == "lstm":
            dstate = (dstate[0] + dout[t], dstate[1])
        else:
            dstate = dstate + dout[t]
        dxs[t], dstate, g = backward(dstate, caches[t])
        for k, v in g.items():
            total[k] = total.get(k, 0) + v
    return np.stack([dxs[t] for t in range(len(order))]), dstate, total


@settings(max_examples=30, deadline=None)
@given(cell=st.sampled_from(CELLS), T=st.integers(1, 5), B=st.integers(1, 3),
       D=st.integers(1, 3), H=st.integers(1, 4), reverse=st.booleans(),
       seed=st.integers(0, 2**16))
def test_property_unroll_equals_stepping_the_cells(cell, T, B, D, H, reverse, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, D))
    p = layer_params(cell, rng, D=D, H=H)
    state0 = initial_state(cell, rng, B=B, H=H)
    (hs, last), cache = run(cell, x, state0, p, reverse=reverse)
    ref_hs, caches, order = step_by_step(cell, x, state0, p, reverse)
    np.testing.assert_allclose(hs, ref_hs, rtol=0, atol=1e-13)
    dout = rng.standard_normal(hs.shape)
    dstate = initial_state(cell, rng, B=B, H=H)
    dx, dstate0, grads = layers.unroll_backward(dout, cache, dstate)
    ref_dx, ref_dstate0, ref_grads = step_by_step_backward(cell, dout, caches, order, dstate)
    np.testing.assert_allclose(dx, ref_dx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(dstate0), np.asarray(ref_dstate0), rtol=0, atol=1e-12)
    for name in grads:
        np.testing.assert_allclose(grads[name], ref_grads[name], rtol=0, atol=1e-11)


@settings(max_examples=20, deadline=None)
@given(cell=st.sampled_from(CELLS), T=st.integers(1, 8), window=st.integers(1, 9),
       seed=st.integers(0, 2**16))
def test_property_truncated_gradient_is_the_sum_over_detached_chunks(cell, T, window, seed):
    """Training on chunks with a carried, detached state sums to the truncated gradient."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, 2, 3))
    p = layer_params(cell, rng)
    U = rng.standard_normal((T, 2, 4))
    _, cache = run(cell, x, None, p)
    truncated = layers.unroll_backward(U, cache, window=window)[2]
    state, summed = None, {}
    for s in range(0, T, window):
        (hs, state), chunk = run(cell, x[s:s + window], state, p)
        for k, v in layers.unroll_backward(U[s:s + window], chunk)[2].items():
            summed[k] = summed.get(k, 0) + v
    for name in truncated:
        np.testing.assert_allclose(truncated[name], summed[name], rtol=0, atol=1e-12)


# ---------------------------------------------------------- stacked and bidirectional

NETS = {"rnn": layers.RNN, "lstm": layers.LSTM, "gru": layers.GRU}


def net_loss(net, x, hx, U, V):
    out, h_n = net.forward(x, hx)
    if isinstance(h_n, tuple):
        return np.sum(U * out) + np.sum(V[0] * h_n[0]) + np.sum(V[1] * h_n[1])
    return np.sum(U * out) + np.sum(V[0] * h_n)


@pytest.mark.parametrize("bidirectional,num_layers,batch_first", [
    (True, 1, False), (False, 2, True), (True, 2, False)])
@pytest.mark.parametrize("cell", CELLS)
def test_stacked_bidirectional_network_matches_finite_differences(cell, bidirectional,
                                                                  num_layers, batch_first):
    rng = np.random.default_rng(5)
    T, B, D, H = 3, 2, 2, 3
    net = NETS[cell](D, H, num_layers=num_layers, bidirectional=bidirectional,
                     batch_first=batch_first, seed=6)
    dirs = 2 if bidirectional else 1
    x = rng.standard_normal((B, T, D) if batch_first else (T, B, D))
    h0 = rng.standard_normal((num_layers * dirs, B, H))
    hx = (h0, rng.standard_normal(h0.shape)) if cell == "lstm" else h0
    out, h_n = net.forward(x, hx)
    U = rng.standard_normal(out.shape)
    V = rng.standard_normal((2,) + h0.shape)
    dx = net.backward(U, (V[0], V[1]) if cell == "lstm" else V[0])
    analytic = dict(net.grads, x=dx, h0=net.d_hx[0] if cell == "lstm" else net.d_hx)
    variables = dict(net.params, x=x, h0=h0)
    if cell == "lstm":
        analytic["c0"], variables["c0"] = net.d_hx[1], hx[1]
    assert list(net.grads) == list(net.params)
    for name, value in variables.items():
        numeric = numerical_gradient(lambda _: net_loss(net, x, hx, U, V), value)
        assert rel_error(analytic[name], numeric, floor=FLOOR) < FD_TOL, name


@pytest.mark.parametrize("cell", CELLS)
def test_truncated_stacked_network_matches_detached_chunks(cell):
    """Two layers, window 2: the gradient is the derivative of the chunked loss in which
    every chunk starts from the (constant) state the full run reached."""
    rng = np.random.default_rng(7)
    T, window = 5, 2
    net = NETS[cell](3, 4, num_layers=2, seed=8)
    x = rng.standard_normal((T, 2, 3))
    U = rng.standard_normal((T, 2, 4))
    net.forward(x)
    net.backward(U, window=window)
    analytic = dict(net.grads)
    boundaries = {s: net.forward(x[:s])[1] for s in range(window, T, window)}

    def chunked_loss():
        total, hx = 0.0, None
        for s in range(0, T, window):
            out, _ = net.forward(x[s:s + window], boundaries.get(s, hx))
            total += np.sum(U[s:s + window] * out)
        return total

    for name, value in net.params.items():
        numeric = numerical_gradient(lambda _: chunked_loss(), value)
        assert rel_error(analytic[name], numeric, floor=FLOOR) < FD_TOL, name
    net.forward(x)
    net.backward(U)
    assert rel_error(net.grads["weight_hh_l0"], analytic["weight_hh_l0"]) > 1e-3


def test_unbatched_input_is_one_sequence():
    net = layers.LSTM(3, 4, num_layers=2, bidirectional=True, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 3))
    out, (h, c) = net.forward(x)
    assert out.shape == (5, 8) and h.shape == c.shape == (4, 4)
    out_b, (h_b, c_b) = net.forward(x[:, None])
    np.testing.assert_array_equal(out, out_b[:, 0])
    net.forward(x)
    dx = net.backward(np.ones((5, 8)), (np.ones((4, 4)), None))
    assert dx.shape == (5, 3) and net.d_hx[0].shape == (4, 4)


def test_lstm_d_h_n_may_leave_out_one_half():
    net = layers.LSTM(2, 3, seed=0)
    x = np.random.default_rng(1).standard_normal((4, 2, 2))
    out, (h, c) = net.forward(x)
    dh = np.ones_like(h)
    dx_only_h = net.backward(np.zeros_like(out), (dh, None))
    dx_both = net.backward(np.zeros_like(out), (dh, np.zeros_like(c)))
    np.testing.assert_array_equal(dx_only_h, dx_both)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", CELLS)
def test_dtype_is_kept_and_inputs_are_cast(cell, dtype):
    net = NETS[cell](3, 4, dtype=dtype, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 2, 3))       # float64 input
    out, h_n = net.forward(x)
    assert out.dtype == dtype
    dx = net.backward(np.ones(out.shape))
    assert dx.dtype == dtype and all(g.dtype == dtype for g in net.grads.values())
    assert all(p.dtype == dtype for p in net.params.values())


def test_rnn_extra_nonlinearities_work_but_have_no_torch_twin():
    net = layers.RNN(2, 3, nonlinearity="linear", seed=0)
    x = np.random.default_rng(0).standard_normal((3, 1, 2))
    out, h = net.forward(x)
    W, U = net.params["weight_ih_l0"], net.params["weight_hh_l0"]
    b = net.params["bias_ih_l0"] + net.params["bias_hh_l0"]
    h_ref = np.zeros((1, 3))
    for t in range(3):
        h_ref = x[t] @ W.T + h_ref @ U.T + b
    np.testing.assert_allclose(h[0], h_ref, atol=1e-14)
    with pytest.raises(ValueError, match="torch.nn.RNN supports nonlinearity 'tanh' or 'relu'"):
        net.to_torch()


def test_seed_makes_parameters_reproducible_and_uniform():
    a, b, c = layers.GRU(3, 16, seed=1), layers.GRU(3, 16, seed=1), layers.GRU(3, 16, seed=2)
    np.testing.assert_array_equal(a.params["weight_hh_l0"], b.params["weight_hh_l0"])
    assert not np.array_equal(a.params["weight_hh_l0"], c.params["weight_hh_l0"])
    assert np.abs(a.params["weight_hh_l0"]).max() <= 1 / 4    # U(-1/sqrt(H), 1/sqrt(H))


# ----------------------------------------------------------------------------- bad input

def good_unroll(cell="rnn", **override):
    rng = np.random.default_rng(0)
    kw = dict(x=rng.standard_normal((4, 2, 3)), state0=None, **layer_params(cell, rng))
    kw.update(override)
    return layers.unroll_forward(cell, **kw)


@pytest.mark.parametrize("override,exc,pattern", [
    (dict(x=np.ones((4, 3))), ValueError, r"x must have 3 dimensions; got 2"),
    (dict(x=np.ones((4, 2, 5))), ValueError, r"x must have shape \(any, any, 3\); got \(4, 2, 5\)"),
    (dict(x=np.ones((0, 2, 3))), ValueError, r"T >= 1 steps and B >= 1 examples; got shape \(0, 2, 3\)"),
    (dict(x=np.ones((4, 0, 3))), ValueError, r"T >= 1 steps and B >= 1 examples"),
    (dict(x=np.ones((4, 2, 3), dtype=np.int32)), TypeError, r"x must be a floating-point array"),
    (dict(x=np.full((4, 2, 3), np.inf)), ValueError, r"x must be finite"),
    (dict(state0=np.ones((3, 4))), ValueError, r"state0 must have shape \(2, 4\); got \(3, 4\)"),
    (dict(state0=np.ones((2, 5))), ValueError, r"state0 must have shape \(2, 4\); got \(2, 5\)"),
    (dict(state0=np.ones((1, 2, 4))), ValueError, r"state0 must have 2 dimensions; got 3"),
    (dict(activation="elu"), ValueError, r"unknown activation 'elu'"),
    (dict(reverse=1), TypeError, r"reverse must be True or False; got 1"),
])
def test_bad_unroll_input(override, exc, pattern):
    with pytest.raises(exc, match=pattern):
        good_unroll(**override)


def test_bad_cell_name_and_lstm_state():
    with pytest.raises(ValueError, match=r"unknown cell 'lstn'; expected one of 'rnn', 'lstm', 'gru'"):
        layers.unroll_forward("lstn", np.ones((2, 1, 1)), None, np.ones((4, 1)), np.ones((4, 1)))
    with pytest.raises(TypeError, match=r"state0 of an LSTM must be a pair \(h, c\)"):
        good_unroll("lstm", state0=np.zeros((2, 4)))
    with pytest.raises(TypeError, match=r"got None inside the pair"):
        good_unroll("lstm", state0=(np.zeros((2, 4)), None))
    with pytest.raises(ValueError, match=r"state0\[1\] must have shape \(2, 4\); got \(2, 3\)"):
        good_unroll("lstm", state0=(np.zeros((2, 4)), np.zeros((2, 3))))


@pytest.mark.parametrize("window,exc", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                        (True, TypeError)])
def test_bad_window(window, exc):
    (hs, _), cache = good_unroll()
    with pytest.raises(exc, match="window must be a positive integer"):
        layers.unroll_backward(np.ones(hs.shape), cache, window=window)


def test_bad_unroll_backward_input():
    (hs, _), cache = good_unroll()
    with pytest.raises(ValueError, match=r"dout must have shape \(4, 2, 4\); got \(4, 2, 3\)"):
        layers.unroll_backward(np.ones((4, 2, 3)), cache)
    with pytest.raises(ValueError, match=r"dstate must have shape \(2, 4\); got \(1, 4\)"):
        layers.unroll_backward(np.ones(hs.shape), cache, dstate=np.ones((1, 4)))
    with pytest.raises(TypeError, match="cache must be the dict returned by unroll_forward"):
        layers.unroll_backward(np.ones(hs.shape), (1, 2))


@pytest.mark.parametrize("kwargs,exc,pattern", [
    (dict(input_size=0), ValueError, r"input_size must be a positive integer; got 0"),
    (dict(hidden_size=-3), ValueError, r"hidden_size must be a positive integer; got -3"),
    (dict(hidden_size=2.0), TypeError, r"hidden_size must be a positive integer; got 2.0"),
    (dict(num_layers=0), ValueError, r"num_layers must be a positive integer; got 0"),
    (dict(num_layers=True), TypeError, r"num_layers must be a positive integer"),
    (dict(bias="yes"), TypeError, r"bias must be True or False; got 'yes'"),
    (dict(bidirectional=1), TypeError, r"bidirectional must be True or False; got 1"),
    (dict(dropout=0.5), ValueError, r"expected dropout=0, got 0.5"),
    (dict(device="cuda"), ValueError, r"expected device=None or 'cpu', got 'cuda'"),
    (dict(dtype=np.float16), TypeError, r"dtype must be float32 or float64; got"),
    (dict(dtype="int64"), TypeError, r"dtype must be float32 or float64; got 'int64'"),
    (dict(seed=-1), ValueError, r"seed must be a non-negative integer; got -1"),
    (dict(seed="a"), TypeError, r"seed must be a non-negative int.*got 'a' \(str\)"),
])
@pytest.mark.parametrize("cell", CELLS)
def test_bad_constructor_arguments(cell, kwargs, exc, pattern):
    args = dict(input_size=3, hidden_size=4)
    args.update(kwargs)
    with pytest.raises(exc, match=pattern):
        NETS[cell](**args)


def test_bad_cell_specific_constructor_arguments():
    with pytest.raises(ValueError, match=r"unknown activation 'gelu'; expected one of"):
        layers.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match=r"expected proj_size=0, got 2"):
        layers.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match=r"proj_size must be a non-negative integer; got -1"):
        layers.LSTM(3, 4, proj_size=-1)


@pytest.mark.parametrize("cell", CELLS)
def test_bad_forward_input(cell):
    net = NETS[cell](3, 4, num_layers=2, seed=0)
    x = np.ones((5, 2, 3))
    h = np.zeros((2, 2, 4))
    pair = (lambda a: (a, np.zeros((2, 2, 4)))) if cell == "lstm" else (lambda a: a)
    name = "hx[0]" if cell == "lstm" else "hx"
    cases = [
        (np.ones(3), None, ValueError, r"x must have 2 or 3 dimensions; got 1"),
        (np.ones((1, 5, 2, 3)), None, ValueError, r"x must have 2 or 3 dimensions; got 4"),
        (np.ones((5, 2, 4)), None, ValueError,
         r"x must have shape \(T, B, input_size\) with input_size=3.*got \(5, 2, 4\)"),
        (np.ones((0, 2, 3)), None, ValueError, r"T >= 1 and B >= 1; got \(0, 2, 3\)"),
        (np.ones((5, 2, 3), dtype=int), None, TypeError, r"x must be a floating-point array"),
        (np.ones((5, 2, 3), dtype=object), None, TypeError, r"x must be a floating-point"),
        (np.full((5, 2, 3), np.nan), None, ValueError, r"x must be finite"),
        (x, pair(np.zeros((1, 2, 4))), ValueError,
         rf"{re_escape(name)} must have shape \(2, 2, 4\); got \(1, 2, 4\)"),
        (x, pair(np.zeros((2, 3, 4))), ValueError,
         rf"{re_escape(name)} must have shape \(2, 2, 4\); got \(2, 3, 4\)"),
        (x, pair(np.zeros((2, 2, 5))), ValueError,
         rf"{re_escape(name)} must have shape \(2, 2, 4\); got \(2, 2, 5\)"),
        (x, pair(np.zeros((2, 4))), ValueError, rf"{re_escape(name)} must have 3 dimensions"),
        (np.ones((5, 3)), pair(np.zeros((2, 2, 4))), ValueError,
         rf"{re_escape(name)} must have 2 dimensions; got 3"),
        (x, pair(np.full((2, 2, 4), np.nan)), ValueError, rf"{re_escape(name)} must be finite"),
    ]
    if cell == "lstm":
        cases.append((x, h, TypeError, r"hx of an LSTM must be a pair \(h, c\)"))
    for xx, hx, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            net.forward(xx, hx)


def re_escape(name):
    return name.replace("[", r"\[").replace("]", r"\]")


@pytest.mark.parametrize("cell", CELLS)
def test_bad_backward_input(cell):
    net = NETS[cell](3, 4, batch_first=True, seed=0)
    with pytest.raises(RuntimeError, match="call forward before backward"):
        net.backward(np.ones((2, 5, 4)))
    out, h_n = net.forward(np.ones((2, 5, 3)))
    with pytest.raises(ValueError, match=r"d_output must have shape \(2, 5, 4\); got \(5, 2, 4\)"):
        net.backward(np.ones((5, 2, 4)))
    wrong = np.ones((1, 3, 4))
    with pytest.raises(ValueError, match=r"d_h_n(\[0\])? must have shape \(1, 2, 4\); got \(1, 3, 4\)"):
        net.backward(np.ones(out.shape), (wrong, wrong) if cell == "lstm" else wrong)
    with pytest.raises(ValueError, match="window must be a positive integer; got 0"):
        net.backward(np.ones(out.shape), window=0)


def test_edited_parameters_are_checked():
    net = layers.GRU(3, 4, seed=0)
    net.params["weight_hh_l0"] = np.ones((12, 5))
    with pytest.raises(ValueError, match=r"params\['weight_hh_l0'\] must have shape \(12, 4\); "
                                         r"got \(12, 5\)"):
        net.forward(np.ones((2, 1, 3)))
    net = layers.GRU(3, 4, seed=0)
    del net.params["bias_hh_l0"]
    with pytest.raises(ValueError, match=r"params must have the keys"):
        net.forward(np.ones((2, 1, 3)))


# ----------------------------------------------------------------------------- the exhibits

def test_time_order_cuts_and_previous_states():
    assert list(layers.time_steps(4)) == [0, 1, 2, 3]
    assert list(layers.time_steps(4, reverse=True)) == [3, 2, 1, 0]
    assert [t for t in range(8) if layers.window_cut(t, 8, False, 3)] == [3, 6]
    assert [t for t in range(8) if layers.window_cut(t, 8, True, 3)] == [2, 5]
    assert not any(layers.window_cut(t, 8, False, None) for t in range(8))
    seq, first = np.arange(3.0)[:, None], np.array([9.0])
    np.testing.assert_array_equal(layers.previous_states(seq, first)[:, 0], [9, 0, 1])
    np.testing.assert_array_equal(layers.previous_states(seq, first, True)[:, 0], [1, 2, 9])


@pytest.mark.parametrize("activation", list(cells.ACTIVATIONS))
@pytest.mark.parametrize("reverse", [False, True])
def test_rnn_forward_and_backward_are_the_cell_step_by_step(activation, reverse):
    rng = np.random.default_rng(21)
    p = layer_params("rnn", rng)
    x, h0 = rng.standard_normal((5, 2, 3)), rng.standard_normal((2, 4))
    phi = cells.get_activation(activation)
    A = layers.project(x, p["W_xh"], p["b_xh"])
    np.testing.assert_allclose(A, x @ p["W_xh"].T + p["b_xh"], rtol=1e-14, atol=1e-15)
    hs, h_last, _ = layers.rnn_forward(x, h0, p["W_xh"], p["W_hh"], p["b_xh"] + p["b_hh"],
                                       phi, reverse)
    h, caches = h0, {}
    for t in layers.time_steps(5, reverse):
        h, caches[t] = cells.rnn_step_forward(x[t], h, p["W_xh"], p["W_hh"], p["b_xh"],
                                              p["b_hh"], activation)
        np.testing.assert_allclose(hs[t], h, rtol=1e-13, atol=1e-14)
    np.testing.assert_array_equal(h_last, hs[0 if reverse else -1])
    dout = rng.standard_normal(hs.shape)
    (_, _), cache = layers.unroll_forward("rnn", x, h0, **p, activation=activation,
                                          reverse=reverse)
    da, da2, dh0 = layers.rnn_backward(dout, np.zeros((2, 4)), cache)
    assert da is da2
    dh = np.zeros((2, 4))
    for t in layers.time_steps(5, not reverse):         # the cell's backward, step by step
        dx_t, dh, _ = cells.rnn_step_backward(dh + dout[t], caches[t])
    np.testing.assert_allclose(dh0, dh, rtol=1e-12, atol=1e-14)
