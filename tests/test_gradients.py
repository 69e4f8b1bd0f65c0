"""Tests for rnn_tutor.gradients: Jacobians, gradient profiles, clipping and gradient checks.

References are independent: finite differences, torch.autograd and torch.nn cells and
torch.nn.utils clipping, all on the same numbers.
"""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_tutor import cells, init
from rnn_tutor import gradients as gr

ACTS = ["tanh", "relu", "linear", "sigmoid"]
TORCH_ACT = {"tanh": torch.tanh, "relu": torch.relu, "linear": lambda a: a,
             "sigmoid": torch.sigmoid}


def t64(a):
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)


def rnn_weights(H=5, D=3, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((H, D)), scale * rng.standard_normal((H, H)) / np.sqrt(H),
            0.1 * rng.standard_normal(H), 0.1 * rng.standard_normal(H))


def torch_cell(kind, W_xh, W_hh, b_xh, b_hh):
    """A torch.nn.LSTMCell / GRUCell holding the given weights (float64)."""
    H, D = W_hh.shape[1], W_xh.shape[1]
    cell = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind](D, H, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(t64(W_xh))
        cell.weight_hh.copy_(t64(W_hh))
        cell.bias_ih.copy_(t64(b_xh))
        cell.bias_hh.copy_(t64(b_hh))
    return cell


# ----------------------------------------------------------------------------- spectra

@settings(max_examples=30, deadline=None)
@given(rows=st.integers(1, 20), cols=st.integers(1, 20), seed=st.integers(0, 10**6))
def test_spectral_helpers_match_numpy_linalg(rows, cols, seed):
    W = np.random.default_rng(seed).standard_normal((rows, cols))
    assert np.isclose(gr.spectral_norm(W), np.linalg.svd(W, compute_uv=False).max(), rtol=1e-12)
    S = W[:rows, :rows] if cols >= rows else W[:cols, :cols]
    assert np.isclose(gr.spectral_radius(S), np.abs(np.linalg.eigvals(S)).max(), rtol=1e-12)


def test_spectral_helpers_bad_input():
    with pytest.raises(ValueError, match="square"):
        gr.spectral_radius(np.ones((2, 3)))
    with pytest.raises(ValueError, match="2 dimensions"):
        gr.spectral_norm(np.ones(4))
    with pytest.raises(TypeError, match="floating-point"):
        gr.spectral_norm(np.ones((2, 2), dtype=int))
    with pytest.raises(ValueError, match="finite"):
        gr.spectral_radius(np.full((2, 2), np.inf))


# ----------------------------------------------------------------------------- Jacobians

@pytest.mark.parametrize("activation", ACTS)
def test_rnn_jacobian_matches_finite_differences_and_torch(activation):
    W_xh, W_hh, b_xh, b_hh = rnn_weights(seed=1, scale=1.5)
    rng = np.random.default_rng(2)
    x, h_prev = rng.standard_normal(3), rng.standard_normal(5)
    J = gr.rnn_jacobian(x, h_prev, W_xh, W_hh, b_xh, b_hh, activation)
    assert J.shape == (5, 5)

    def step(h):
        return cells.rnn_step_forward(x[None], h[None], W_xh, W_hh, b_xh, b_hh, activation)[0][0]

    h = h_prev.copy()
    J_fd = np.stack([gr.numerical_gradient(lambda v: step(v)[i], h) for i in range(5)])
    assert gr.rel_error(J, J_fd) < 1e-6
    np.testing.assert_array_equal(h, h_prev)        # perturbed in place, then restored

    def torch_step(hh):
        return TORCH_ACT[activation](t64(x) @ t64(W_xh).T + t64(b_xh) + hh @ t64(W_hh).T
                                     + t64(b_hh))

    J_torch = torch.autograd.functional.jacobian(torch_step, t64(h_prev)).numpy()
    np.testing.assert_allclose(J, J_torch, rtol=1e-12, atol=1e-14)


def test_rnn_jacobian_batched_equals_one_by_one():
    W_xh, W_hh, b_xh, b_hh = rnn_weights(seed=3)
    rng = np.random.default_rng(4)
    X, Hp = rng.standard_normal((6, 3)), rng.standard_normal((6, 5))
    J = gr.rnn_jacobian(X, Hp, W_xh, W_hh, b_xh, b_hh)
    assert J.shape == (6, 5, 5)
    for b in range(6):
        np.testing.assert_allclose(J[b], gr.rnn_jacobian(X[b], Hp[b], W_xh, W_hh, b_xh, b_hh),
                                   rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_jacobian_products_match_torch_jacobian_of_the_unrolled_map(activation):
    T, H = 7, 5
    W_xh, W_hh, b_xh, b_hh = rnn_weights(H=H, seed=5, scale=1.2)
    rng = np.random.default_rng(6)
    xs, h0 = rng.standard_normal((T, 3)), rng.standard_normal(H)
    Js = gr.rnn_jacobians(xs, h0, W_xh, W_hh, b_xh, b_hh, activation)
    P = gr.jacobian_products(Js)
    assert P.shape == (T + 1, H, H)
    np.testing.assert_array_equal(P[T], np.eye(H))
    # h_k from the NumPy cell, then the map h_k -> h_T in torch.
    hs = [h0]
    for x in xs:
        hs.append(cells.rnn_step_forward(x[None], hs[-1][None], W_xh, W_hh, b_xh, b_hh,
                                         activation)[0][0])
    for k in [0, 3, T - 1]:
        def unroll(h, k=k):
            for x in xs[k:]:
                h = TORCH_ACT[activation](t64(x) @ t64(W_xh).T + t64(b_xh) + h @ t64(W_hh).T
                                          + t64(b_hh))
            return h
        ref = torch.autograd.functional.jacobian(unroll, t64(hs[k])).numpy()
        np.testing.assert_allclose(P[k], ref, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gated_jacobians_match_torch_cells(kind):
    H, D = 4, 3
    G = {"lstm": 4, "gru": 3}[kind]
    rng = np.random.default_rng(7)
    W_xh, W_hh = rng.standard_normal((G * H, D)), rng.standard_normal((G * H, H))
    b_xh, b_hh = rng.standard_normal(G * H), rng.standard_normal(G * H)
    x, h, c = rng.standard_normal(D), rng.standard_normal(H), rng.standard_normal(H)
    module = torch_cell(kind, W_xh, W_hh, b_xh, b_hh)
    if kind == "lstm":
        J = gr.lstm_jacobian(x, h, c, W_xh, W_hh, b_xh, b_hh)
        assert J.shape == (2 * H, 2 * H)

        def f(state):
            h1, c1 = module(t64(x)[None], (state[None, :H], state[None, H:]))
            return torch.cat([h1[0], c1[0]])
        ref = torch.autograd.functional.jacobian(f, t64(np.concatenate([h, c]))).numpy()
    else:
        J = gr.gru_jacobian(x, h, W_xh, W_hh, b_xh, b_hh)
        assert J.shape == (H, H)
        ref = torch.autograd.functional.jacobian(
            lambda s: module(t64(x)[None], s[None])[0], t64(h)).numpy()
    np.testing.assert_allclose(J, ref, rtol=1e-10, atol=1e-13)


def test_jacobian_bad_input():
    W_xh, W_hh, b_xh, b_hh = rnn_weights()
    x, h = np.zeros(3), np.zeros(5)
    with pytest.raises(ValueError, match="unknown activation 'softsign'"):
        gr.rnn_jacobian(x, h, W_xh, W_hh, activation="softsign")
    with pytest.raises(ValueError, match=r"h_prev.*shape \(5\); got \(4,\)"):
        gr.rnn_jacobian(x, np.zeros(4), W_xh, W_hh)
    with pytest.raises(ValueError, match=r"x must have shape \(3\); got \(2,\)"):
        gr.rnn_jacobian(np.zeros(2), h, W_xh, W_hh)
    with pytest.raises(ValueError, match="same batch"):
        gr.rnn_jacobian(np.zeros((2, 3)), np.zeros((3, 5)), W_xh, W_hh)
    with pytest.raises(ValueError, match="h_prev must have 1 dimensions"):
        gr.rnn_jacobian(x, np.zeros((1, 5)), W_xh, W_hh)
    with pytest.raises(TypeError, match="floating-point"):
        gr.rnn_jacobian(np.zeros(3, dtype=int), h, W_xh, W_hh)
    with pytest.raises(ValueError, match="finite"):
        gr.rnn_jacobian(np.full(3, np.nan), h, W_xh, W_hh)
    with pytest.raises(ValueError, match="W_hh"):
        gr.rnn_jacobian(x, h, W_xh, np.zeros((4, 5)))
    with pytest.raises(ValueError, match="b_hh"):
        gr.rnn_jacobian(x, h, W_xh, W_hh, b_hh=np.zeros(4))
    with pytest.raises(ValueError, match="xs"):
        gr.rnn_jacobians(np.zeros((4, 2)), h, W_xh, W_hh)
    with pytest.raises(ValueError, match="jacobians must have shape"):
        gr.jacobian_products(np.zeros((3, 2, 4)))
    with pytest.raises(ValueError, match="c_prev"):
        gr.lstm_jacobian(x, h, np.zeros(4), np.zeros((20, 3)), np.zeros((20, 5)))


# ----------------------------------------------------------------------------- profiles

def torch_profile(s):
    """||dL/dh_k|| for k = 0..T with L = u . h_T, by torch autograd on the same network."""
    T, H = len(s["xs"]), len(s["u"])
    h0 = t64(s["h0"]).requires_grad_(True)
    hs, h = [h0], h0[None]
    if s["cell"] == "rnn":
        W_xh, W_hh, b = t64(s["W_xh"]), t64(s["W_hh"]), t64(s["b_xh"] + s["b_hh"])
        for x in s["xs"]:
            h = TORCH_ACT[s["activation"]](t64(x)[None] @ W_xh.T + h @ W_hh.T + b)
            h.retain_grad()
            hs.append(h)
    else:
        module = torch_cell(s["cell"], s["W_xh"], s["W_hh"], s["b_xh"], s["b_hh"])
        c = torch.zeros(1, H, dtype=torch.float64)
        for x in s["xs"]:
            if s["cell"] == "lstm":
                h, c = module(t64(x)[None], (h, c))
            else:
                h = module(t64(x)[None], h)
            h.retain_grad()
            hs.append(h)
    (h @ t64(s["u"])).sum().backward()
    return np.array([float(v.grad.norm()) for v in hs])


@pytest.mark.parametrize("cell, activation", [("rnn", a) for a in ACTS]
                         + [("lstm", "tanh"), ("gru", "tanh")])
@pytest.mark.parametrize("scale, init_name", [(0.8, "gaussian"), (1.3, "orthogonal"),
                                              (2.0, "xavier")])
def test_profile_matches_torch_autograd(cell, activation, scale, init_name):
    kw = dict(input_size=3, input_scale=0.7, forget_bias=0.5)
    args = (cell, 30, 8, scale, activation, init_name, 12)
    s = gr.profile_setup(*args, **kw)
    p = gr.gradient_profile(*args, **kw)
    assert p.shape == (31,) and p[-1] == 1.0
    np.testing.assert_allclose(p, torch_profile(s), rtol=1e-9, atol=1e-300)


def torch_clipped_profile(s, clip):
    """Like torch_profile, with a hook that clips dL/dh_k to norm ``clip`` at every step."""
    def clip_hook(g):
        n = float(g.norm())
        return g * (clip / n) if n > clip else g

    T = len(s["xs"])
    h0 = t64(s["h0"])[None].requires_grad_(True)
    hs, h = [h0], h0
    module = None if s["cell"] == "rnn" else torch_cell(s["cell"], s["W_xh"], s["W_hh"],
                                                          s["b_xh"], s["b_hh"])
    for x in s["xs"]:
        if module is None:
            h = TORCH_ACT[s["activation"]](t64(x)[None] @ t64(s["W_xh"]).T
                                           + h @ t64(s["W_hh"]).T + t64(s["b_xh"] + s["b_hh"]))
        else:
            h = module(t64(x)[None], h)
        hs.append(h)
    seen = [None] * (T + 1)
    for k, v in enumerate(hs):
        def hook(g, k=k):
            g = clip_hook(g)
            seen[k] = float(g.norm())
            return g
        v.register_hook(hook)
    (h @ t64(s["u"])).sum().backward()
    return np.array(seen)


@pytest.mark.parametrize("cell, activation", [("rnn", "tanh"), ("rnn", "relu"), ("gru", "tanh")])
@pytest.mark.parametrize("clip", [0.05, 0.7, 2.0])
def test_clipped_profile_matches_torch_hooks(cell, activation, clip):
    args = (cell, 40, 8, 3.0, activation, "orthogonal", 2)
    kw = dict(input_scale=0.3)
    ref = torch_clipped_profile(gr.profile_setup(*args, **kw), clip)
    got = gr.gradient_profile(*args, clip=clip, **kw)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-300)
    assert got[-1] == pytest.approx(min(1.0, clip))


@pytest.mark.parametrize("cell", gr.CELLS)
@pytest.mark.parametrize("clip", [1e-3, 0.5, 1e300])
def test_clipped_profile_follows_from_the_unclipped_one_by_linearity(cell, clip):
    # Backprop is linear in the upstream gradient, so clipping at step j rescales every
    # earlier step: clipped[k] = p[k] * min(1, min_{j >= k} clip / p[j]).
    args = (cell, 80, 12, 3.5, "tanh", "gaussian", 5)
    p = gr.gradient_profile(*args, forget_bias=2.0, input_scale=0.5)
    q = gr.gradient_profile(*args, forget_bias=2.0, input_scale=0.5, clip=clip)
    factor = np.minimum(1.0, np.minimum.accumulate((clip / p)[::-1])[::-1])
    np.testing.assert_allclose(q, p * factor, rtol=1e-9)
    if clip == 1e300:
        np.testing.assert_array_equal(q, p)


def test_clipping_keeps_an_exploding_profile_finite():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        q = gr.gradient_profile("rnn", 600, 8, 4.0, "linear", "orthogonal", 0, clip=10.0)
    np.testing.assert_allclose(q[:595], 10.0, rtol=1e-9)     # clipped at every step


@pytest.mark.parametrize("cell, gates", [("rnn", 1), ("lstm", 4), ("gru", 3)])
@pytest.mark.parametrize("scale_by", ["norm", "radius", "none"])
def test_profile_uses_the_recurrent_matrix_of_the_same_seed(cell, gates, scale_by):
    s = gr.profile_setup(cell, 5, 6, 0.9, "tanh", "gaussian", 21, scale_by=scale_by)
    np.testing.assert_array_equal(
        s["W_hh"], init.recurrent_matrix("gaussian", 6, 0.9, 21, scale_by=scale_by, gates=gates))
    assert np.isclose(np.linalg.norm(s["u"]), 1.0)


def test_orthogonal_profile_matrix_has_all_singular_values_equal_to_scale():
    s = gr.profile_setup("rnn", 5, 32, 1.7, "tanh", "orthogonal", 0)
    np.testing.assert_allclose(np.linalg.svd(s["W_hh"], compute_uv=False), 1.7, rtol=1e-12)


def test_profile_is_the_jacobian_product_applied_to_u():
    s = gr.profile_setup("rnn", 12, 6, 1.4, "tanh", "gaussian", 8)
    P = gr.jacobian_products(gr.rnn_jacobians(s["xs"], s["h0"], s["W_xh"], s["W_hh"],
                                              s["b_xh"], s["b_hh"], "tanh"))
    expected = np.linalg.norm(np.einsum("kij,i->kj", P, s["u"]), axis=1)  # ||P_k^T u||
    np.testing.assert_allclose(gr.gradient_profile("rnn", 12, 6, 1.4, "tanh", "gaussian", 8),
                               expected, rtol=1e-12)


def test_profile_is_seeded():
    a = gr.gradient_profile("rnn", 20, 8, 1.1, "tanh", "gaussian", 3)
    np.testing.assert_array_equal(a, gr.gradient_profile("rnn", 20, 8, 1.1, "tanh", "gaussian", 3))
    assert not np.array_equal(a, gr.gradient_profile("rnn", 20, 8, 1.1, "tanh", "gaussian", 4))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_profile_setup_int_seed_equals_the_generator_draw_and_is_a_fresh_copy(cell):
    # Int seeds' draws are cached (a slider drag redraws nothing); a Generator seed draws
    # afresh from the same streams. Same numbers either way, and writable copies.
    s = gr.profile_setup(cell, 9, 5, 1.2, init="gaussian", seed=4)
    for a in s.values():
        if isinstance(a, np.ndarray):
            assert a.flags.writeable
            a[...] = np.nan
    s = gr.profile_setup(cell, 9, 5, 1.2, init="gaussian", seed=4)
    fresh = gr.profile_setup(cell, 9, 5, 1.2, init="gaussian", seed=4, input_scale=1.0)
    for key in ("xs", "W_xh", "W_hh", "u"):
        assert np.all(np.isfinite(s[key]))
        np.testing.assert_array_equal(s[key], fresh[key])
    np.testing.assert_array_equal(
        s["W_hh"], gr.profile_setup(cell, 9, 5, 1.2, init="gaussian",
                                    seed=np.random.default_rng(4))["W_hh"])


# Pascanu et al. (2013): ||dh_T/dh_k|| <= (gamma ||W_hh||)^(T-k), so the ratio
# profile[k] / profile[T] never exceeds (gamma * scale)^(T-k) when scale is the spectral norm.
PASCANU_INITS = ["gaussian", "xavier_uniform", "he_normal", "orthogonal", "identity"]


@pytest.mark.parametrize("init_name", PASCANU_INITS)
@pytest.mark.parametrize("scale", [0.25, 0.5, 0.9, 1.0, 1.1, 2.0, 4.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pascanu_bound_for_tanh(init_name, scale, seed):
    T = 60
    p = gr.gradient_profile("rnn", T, 16, scale, "tanh", init_name, seed)
    bound = scale ** (T - np.arange(T + 1.0))
    assert np.all(p / p[T] <= bound * (1 + 1e-9))


@settings(max_examples=60, deadline=None)
@given(scale=st.floats(0.1, 4.0), T=st.integers(1, 80), H=st.integers(1, 24),
       seed=st.integers(0, 2**31), init_name=st.sampled_from(PASCANU_INITS),
       input_scale=st.floats(0.0, 3.0), activation=st.sampled_from(["tanh", "sigmoid"]))
def test_pascanu_bound_property(scale, T, H, seed, init_name, input_scale, activation):
    gamma = cells.ACTIVATIONS[activation].gamma
    p = gr.gradient_profile("rnn", T, H, scale, activation, init_name, seed,
                            input_scale=input_scale)
    bound = (gamma * scale) ** (T - np.arange(T + 1.0))
    assert np.all(p / p[T] <= bound * (1 + 1e-9))


@settings(max_examples=60, deadline=None)
@given(scale=st.floats(0.25, 4.0), T=st.integers(1, 100), H=st.integers(1, 32),
       seed=st.integers(0, 2**31))
def test_linear_orthogonal_profile_is_exactly_scale_power(scale, T, H, seed):
    p = gr.gradient_profile("rnn", T, H, scale, "linear", "orthogonal", seed)
    np.testing.assert_allclose(p / p[T], scale ** (T - np.arange(T + 1.0)), rtol=1e-9)


def test_tanh_without_input_behaves_like_the_linear_cell():
    # h_0 = 0 and no input keep tanh at its origin, where tanh' = 1.
    p = gr.gradient_profile("rnn", 50, 16, 1.3, "tanh", "orthogonal", 0, input_scale=0.0)
    np.testing.assert_allclose(p, 1.3 ** (50 - np.arange(51.0)), rtol=1e-9)


def test_lstm_forget_bias_keeps_the_gradient_alive():
    p = [gr.gradient_profile("lstm", 100, 32, 0.5, init="orthogonal", seed=0,
                             forget_bias=fb)[0] for fb in (0.0, 1.0, 3.0, 5.0)]
    assert p[0] < p[1] < p[2] < p[3]
    assert p[3] > 1e10 * p[0]


# Rescaled to a spectral norm or radius, these draws are the same matrix as gaussian's or
# xavier_uniform's (tested in test_init.py), so the sweep checks them with scale_by="none" only.
_SAME_AFTER_RESCALING = {"xavier_normal", "he_normal", "he_uniform"}


def _explorer_grid():
    # Every cell, activation, initialiser and scale_by at the ends of the explorer's range
    # (scale 0.25..4, T up to 500). LSTM and GRU ignore the activation: one is enough.
    for cell in gr.CELLS:
        for activation in (ACTS if cell == "rnn" else ["relu"]):
            for init_name in init.INIT_NAMES:
                for scale in (0.25, 4.0):
                    for scale_by in init.SCALE_BY:
                        if scale_by == "none" or init_name not in _SAME_AFTER_RESCALING:
                            yield cell, activation, init_name, scale, scale_by


@pytest.mark.slow
def test_no_warning_or_error_across_the_explorer_range():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for cell, activation, init_name, scale, scale_by in _explorer_grid():
            for T in (1, 500):
                p = gr.gradient_profile(cell, T, 64, scale, activation, init_name, 0,
                                        scale_by=scale_by, forget_bias=1.0)
                assert p.shape == (T + 1,) and p[T] == 1.0
                assert not np.any(p < 0)


def test_overflow_is_shown_not_thrown():
    # Linear cell, orthogonal W of scale 4: the exact profile is 4^(T-k). 4^500 = 1e301 is
    # still a float (the norm is computed without squaring overflow); 4^520 is not: inf.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = gr.gradient_profile("rnn", 500, 8, 4.0, "linear", "orthogonal", 0)
        assert np.isclose(p[0], 4.0**500, rtol=1e-9)
        p = gr.gradient_profile("rnn", 520, 8, 4.0, "linear", "orthogonal", 0)
        assert not np.isfinite(p[0]) and np.isclose(p[519], 4.0)   # inf, then NaN
        p = gr.gradient_profile("rnn", 560, 8, 0.25, "linear", "orthogonal", 0)
        assert p[0] == 0.0 and np.isclose(p[520], 0.25**40)   # underflow: an honest 0


@pytest.mark.parametrize("kwargs, err, match", [
    ({"cell": "transformer"}, ValueError, "unknown cell 'transformer'; expected one of 'rnn'"),
    ({"T": 0}, ValueError, "T must be a positive integer; got 0"),
    ({"T": -5}, ValueError, "T must be a positive integer"),
    ({"T": 2.5}, TypeError, "T must be a positive integer; got 2.5"),
    ({"T": True}, TypeError, "T must be a positive integer"),
    ({"hidden_size": 0}, ValueError, "hidden_size"),
    ({"hidden_size": "64"}, TypeError, "hidden_size"),
    ({"scale": 0.0}, ValueError, "scale must be a finite number > 0"),
    ({"scale": -1.0}, ValueError, "scale"),
    ({"scale": float("nan")}, ValueError, "scale"),
    ({"scale": None}, TypeError, "scale must be a real number"),
    ({"activation": "gelu"}, ValueError, "unknown activation 'gelu'"),
    ({"init": "zeros"}, ValueError, "unknown init 'zeros'"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": "0"}, TypeError, "seed"),
    ({"input_size": 0}, ValueError, "input_size"),
    ({"input_scale": -0.1}, ValueError, "input_scale"),
    ({"forget_bias": float("nan")}, ValueError, "forget_bias must be finite; got nan"),
    ({"forget_bias": "1"}, TypeError, "forget_bias must be a real number"),
    ({"scale_by": "frobenius"}, ValueError, "unknown scale_by 'frobenius'"),
    ({"clip": 0.0}, ValueError, "clip must be a finite number > 0"),
    ({"clip": "1"}, TypeError, "clip must be a real number"),
])
def test_profile_bad_input(kwargs, err, match):
    args = {"cell": "rnn", "T": 10, "hidden_size": 4, "scale": 1.0, "activation": "tanh",
            "init": "orthogonal", "seed": 0}
    args.update(kwargs)
    with pytest.raises(err, match=match):
        gr.gradient_profile(**args)


# ----------------------------------------------------------------------------- checks

def test_numerical_gradient_of_a_known_function():
    x = np.random.default_rng(0).standard_normal((3, 4))
    x0 = x.copy()
    g = gr.numerical_gradient(lambda v: np.sum(np.sin(v) * v**2), x)
    assert gr.rel_error(g, np.cos(x0) * x0**2 + 2 * x0 * np.sin(x0)) < 1e-8
    np.testing.assert_array_equal(x, x0)


def test_numerical_gradient_through_a_closure():
    W = np.random.default_rng(1).standard_normal((2, 3))
    v = np.arange(3.0)
    g = gr.numerical_gradient(lambda _: float(np.sum((W @ v) ** 2)), W)
    assert gr.rel_error(g, 2 * np.outer(W @ v, v)) < 1e-8


def test_rel_error():
    assert gr.rel_error(np.ones(3), np.ones(3)) == 0.0
    assert np.isclose(gr.rel_error(np.array([1.0, 2.0]), np.array([1.0, 3.0])), 0.2)
    assert gr.rel_error(np.zeros(2), np.zeros(2)) == 0.0
    assert gr.rel_error(1.0, 1.0 + 1e-12) < 1e-12


def test_check_helpers_bad_input():
    x = np.zeros(3)
    with pytest.raises(TypeError, match="float64"):
        gr.numerical_gradient(np.sum, np.zeros(3, dtype=np.float32))
    with pytest.raises(TypeError, match="NumPy array"):
        gr.numerical_gradient(np.sum, [0.0, 1.0])
    with pytest.raises(TypeError, match="callable"):
        gr.numerical_gradient(3, x)
    with pytest.raises(ValueError, match="single number"):
        gr.numerical_gradient(lambda v: v, x)
    with pytest.raises(ValueError, match="eps"):
        gr.numerical_gradient(np.sum, x, eps=0.0)
    x.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        gr.numerical_gradient(np.sum, x)
    with pytest.raises(ValueError, match=r"same shape; got \(3,\) and \(1, 3\)"):
        gr.rel_error(np.zeros(3), np.zeros((1, 3)))
    with pytest.raises(TypeError, match="floating-point"):
        gr.rel_error(np.zeros(3, dtype=int), np.zeros(3))


# ----------------------------------------------------------------------------- clipping

SHAPES = [(4, 3), (7,), (2, 2, 5), (1,)]


def random_grads(seed, dtype=np.float64, spread=1.0):
    rng = np.random.default_rng(seed)
    return [(spread * rng.standard_normal(s)).astype(dtype) for s in SHAPES]


def torch_clip(arrays, fn, *args):
    params = [torch.nn.Parameter(torch.zeros(a.shape, dtype=torch.from_numpy(a).dtype))
              for a in arrays]
    for p, a in zip(params, arrays):
        p.grad = torch.from_numpy(a.copy())
    out = fn(params, *args)
    return out, [p.grad.numpy() for p in params]


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, float("inf"), "inf"])
@pytest.mark.parametrize("max_norm", [0.0, 0.1, 1.0, 3.0, 1e6, float("inf")])
@pytest.mark.parametrize("seed", [0, 1])
def test_clip_grad_norm_matches_torch_on_lists(seed, max_norm, norm_type, dtype, rtol):
    grads = random_grads(seed, dtype)
    originals = [g for g in grads]
    total, ref_grads = torch_clip(grads, torch.nn.utils.clip_grad_norm_, max_norm, norm_type)
    got = gr.clip_grad_norm(grads, max_norm, norm_type)
    assert isinstance(got, float)
    assert np.isclose(got, float(total), rtol=rtol)
    for g, orig, ref in zip(grads, originals, ref_grads):
        assert g is orig and g.dtype == dtype                  # in place
        np.testing.assert_allclose(g, ref, rtol=rtol, atol=1e-30)


def test_clip_grad_norm_on_a_dict_like_m_grads_and_the_no_op_case():
    grads = dict(zip(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"],
                     random_grads(3)))
    before = {k: v.copy() for k, v in grads.items()}
    total = gr.clip_grad_norm(grads, 1e9)               # no-op: far above the norm
    assert np.isclose(total, np.sqrt(sum(np.sum(v**2) for v in before.values())))
    for k in grads:
        np.testing.assert_array_equal(grads[k], before[k])
    ref_total, ref = torch_clip(list(before.values()), torch.nn.utils.clip_grad_norm_, 0.5)
    total = gr.clip_grad_norm(grads, 0.5)
    assert np.isclose(total, float(ref_total), rtol=1e-12)
    for g, r in zip(grads.values(), ref):
        np.testing.assert_allclose(g, r, rtol=1e-12)
    new_total = np.sqrt(sum(np.sum(v**2) for v in grads.values()))
    assert 0.5 - 1e-5 < new_total <= 0.5                # just below max_norm (the 1e-6)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10**6), max_norm=st.floats(1e-3, 100.0),
       spread=st.floats(1e-3, 1e3))
def test_clip_grad_norm_property_direction_kept_norm_bounded(seed, max_norm, spread):
    grads = random_grads(seed, spread=spread)
    before = np.concatenate([g.ravel() for g in grads])
    total = gr.clip_grad_norm(grads, max_norm)
    after = np.concatenate([g.ravel() for g in grads])
    assert np.isclose(total, np.linalg.norm(before), rtol=1e-12)
    assert np.linalg.norm(after) <= max_norm * (1 + 1e-12) or np.allclose(after, before)
    np.testing.assert_allclose(after / np.linalg.norm(after), before / np.linalg.norm(before),
                               rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("clip", [0.0, 0.05, 0.5, 1e9])
@pytest.mark.parametrize("as_dict", [False, True])
def test_clip_grad_value_matches_torch(clip, as_dict):
    grads = random_grads(5)
    _, ref = torch_clip(grads, torch.nn.utils.clip_grad_value_, clip)
    container = {str(i): g for i, g in enumerate(grads)} if as_dict else grads
    assert gr.clip_grad_value(container, clip) is None
    for g, r in zip(grads, ref):
        np.testing.assert_array_equal(g, r)


def test_clipping_non_finite_gradients_like_torch():
    grads = random_grads(6)
    grads[1][0] = np.inf
    total, ref = torch_clip(grads, torch.nn.utils.clip_grad_norm_, 1.0)
    got = gr.clip_grad_norm(grads, 1.0)
    assert got == float(total) == np.inf
    for g, r in zip(grads, ref):
        np.testing.assert_array_equal(g, r)             # NaN where torch has NaN
    with pytest.raises(RuntimeError, match="non-finite|cannot be clipped"):
        gr.clip_grad_norm(random_grads(6) + [np.array([np.nan])], 1.0, error_if_nonfinite=True)


def test_clipping_skips_none_and_handles_empty():
    g = np.array([3.0, 4.0])
    assert gr.clip_grad_norm({"a": g, "b": None}, 1.0) == 5.0
    assert np.isclose(np.linalg.norm(g), 1.0, rtol=1e-5)
    assert gr.clip_grad_norm([], 1.0) == 0.0
    one = np.array([10.0, -10.0])
    gr.clip_grad_value(one, 2.0)
    np.testing.assert_array_equal(one, [2.0, -2.0])


def test_clipping_bad_input():
    good = [np.ones(3)]
    with pytest.raises(ValueError, match="max_norm must be >= 0.*got -1.0"):
        gr.clip_grad_norm(good, -1.0)
    with pytest.raises(ValueError, match="max_norm"):
        gr.clip_grad_norm(good, float("nan"))
    with pytest.raises(TypeError, match="max_norm must be a real number"):
        gr.clip_grad_norm(good, "1")
    with pytest.raises(TypeError, match="max_norm"):
        gr.clip_grad_norm(good, True)
    with pytest.raises(ValueError, match="clip must be >= 0"):
        gr.clip_grad_value(good, -0.5)
    with pytest.raises(TypeError, match=r"grads\[0\] must be a NumPy float array.*int64"):
        gr.clip_grad_norm([np.ones(3, dtype=np.int64)], 1.0)
    with pytest.raises(TypeError, match=r"grads\['w'\] must be a NumPy float array.*list"):
        gr.clip_grad_value({"w": [1.0, 2.0]}, 1.0)
    with pytest.raises(TypeError, match="dict of arrays"):
        gr.clip_grad_norm({1.0, 2.0}, 1.0)
    with pytest.raises(TypeError, match="dict of arrays.*got str"):
        gr.clip_grad_norm("grads", 1.0)
    frozen = np.ones(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        gr.clip_grad_norm([frozen], 1.0)
    with pytest.raises(ValueError, match="norm_type must be > 0"):
        gr.clip_grad_norm(good, 1.0, norm_type=0)
    with pytest.raises(TypeError, match="norm_type"):
        gr.clip_grad_norm(good, 1.0, norm_type="two")


# ----------------------------------------------------------------------------- benchmark script

def test_bench_script_runs_at_a_tiny_size():
    # `make bench` is not a timed test; this only keeps scripts/bench.py from rotting
    # (and checks again that the NumPy and torch LSTMs agree before they are timed).
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "bench.py"
    spec = importlib.util.spec_from_file_location("bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for dtype in (torch.float32, torch.float64):
        lines = bench.bench_lstm(1, B=2, T=3, H=4, D=3, dtype=dtype)
        assert "ratio numpy/torch" in lines[-1]
    assert len(bench.bench_profiles(1, T=5, H=4)) == 7


@pytest.mark.parametrize("seed", range(5))
def test_clip_grad_norm_and_value_match_torch_on_mixed_magnitudes(seed):
    # The check chapter 6 used to run: arrays of several shapes, each scaled by 0.01, 1
    # or 100, clipped by norm (0.1, 1, 1e6) and then by value (0.05), against torch.
    rng = np.random.default_rng(seed)
    shapes = [(32, 8), (32, 32), (32,), (5, 32)]
    for max_norm in (0.1, 1.0, 1e6):
        grads = [rng.standard_normal(s) * rng.choice([0.01, 1.0, 100.0]) for s in shapes]
        params = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in shapes]
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        ours = gr.clip_grad_norm(grads, max_norm)
        theirs = torch.nn.utils.clip_grad_norm_(params, max_norm)
        assert gr.rel_error(np.array(ours), np.array(float(theirs))) < 1e-12
        assert max(gr.rel_error(g, p.grad.numpy()) for g, p in zip(grads, params)) < 1e-12
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        gr.clip_grad_value(grads, 0.05)
        torch.nn.utils.clip_grad_value_(params, 0.05)
        assert all(np.array_equal(g, p.grad.numpy()) for g, p in zip(grads, params))


def test_clip_helpers():
    g = np.array([3.0, 4.0])
    assert gr.clip_to_norm(g, None) is g and gr.clip_to_norm(g, 10.0) is g
    np.testing.assert_allclose(gr.clip_to_norm(g, 1.0), [0.6, 0.8], rtol=1e-15)
    np.testing.assert_array_equal(g, [3.0, 4.0])                 # not changed
    with np.errstate(over="ignore"):                             # as inside the profiles
        huge = gr.clip_to_norm(np.array([1e200, 1e200]), 1.0)
    np.testing.assert_allclose(huge, [2 ** -0.5] * 2, rtol=1e-12)   # the norm did not overflow
    np.testing.assert_allclose(gr.row_norms(np.array([[3.0, 4.0], [1e200, 1e200]])),
                               [5.0, np.sqrt(2) * 1e200], rtol=1e-12)
    assert gr.p_norm([3.0, 4.0], 2) == 5.0 and gr.p_norm(np.array([-7.0, 2.0]), np.inf) == 7.0
    assert np.isclose(gr.p_norm([1.0, 2.0], 1.0), 3.0)
    max_norm, p, arrays = gr.check_clip_inputs({"a": g, "b": None}, 2, "inf")
    assert max_norm == 2.0 and p == np.inf and len(arrays) == 1 and arrays[0] is g
    with pytest.raises(ValueError, match="clip must be >= 0"):
        gr.check_clip_inputs([g], -1.0, name="clip")


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("clip", [None, 0.5])
def test_rnn_profile_is_gradient_profile_of_its_setup(activation, clip):
    s = gr.profile_setup("rnn", 30, 8, 1.3, activation, "gaussian", 4)
    np.testing.assert_array_equal(gr.profile_from_setup(s, clip),
                                  gr.rnn_profile(s, clip) / gr.row_norms(s["u"][None])[0])
    np.testing.assert_array_equal(
        gr.gradient_profile("rnn", 30, 8, 1.3, activation, "gaussian", 4, clip=clip),
        gr.profile_from_setup(s, clip))


def test_check_rnn_inputs_returns_float_arrays():
    W_xh, W_hh, b_xh, b_hh = rnn_weights()
    x, h, *w = gr.check_rnn_inputs([0.0, 1.0, 2.0], np.zeros(5), W_xh, W_hh, None, b_hh)
    assert x.dtype == np.float64 and x.shape == (3,) and h.shape == (5,)
    assert w[2] is None and w[3].shape == (5,)
