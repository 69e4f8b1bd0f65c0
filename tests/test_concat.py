"""The tutorial i2h/i2o RNN and the book's split form are the same model.

Same outputs and same gradients: torch autograd on ConcatRNN versus the NumPy split form
(rnn_tutor.layers underneath) after converting the parameters.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_tutor.concat import (ConcatRNN, concat_rnn_forward, concat_to_split,
                              split_rnn_backward, split_rnn_forward, split_to_concat)
from rnn_tutor.gradients import numerical_gradient, rel_error

NONLINEARITIES = ["linear", "tanh", "relu", "sigmoid"]




def torch_run(model, x, h0, seed=0):
    """Outputs, final state and all gradients of L = sum(U * y) + sum(v * h_T)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.tensor(x, requires_grad=True)
    h0 = torch.tensor(h0, requires_grad=True)
    y, h_T = model(x, h0)
    U = torch.randn(y.shape, dtype=y.dtype, generator=gen)
    v = torch.randn(h_T.shape, dtype=y.dtype, generator=gen)
    ((U * y).sum() + (v * h_T).sum()).backward()
    return y.detach().numpy(), h_T.detach().numpy(), U.numpy(), v.numpy(), x.grad.numpy(), \
        h0.grad.numpy(), model.numpy_grads()


def make(D, H, O, nonlinearity, seed):
    torch.manual_seed(seed)
    model = ConcatRNN(D, H, O, nonlinearity=nonlinearity).double()
    rng = np.random.default_rng(seed)
    return model, rng


@settings(max_examples=30, deadline=None)
@given(nonlinearity=st.sampled_from(NONLINEARITIES), T=st.integers(1, 6),
       B=st.integers(1, 4), D=st.integers(1, 4), H=st.integers(1, 5), O=st.integers(1, 3),
       seed=st.integers(0, 2**16))
def test_concat_and_split_forms_are_the_same_model(nonlinearity, T, B, D, H, O, seed):
    model, rng = make(D, H, O, nonlinearity, seed)
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H))
    y, h_T, U, v, dx, dh0, grads = torch_run(model, x, h0, seed)

    split = concat_to_split(model.numpy_params(), input_size=D)
    (y_s, h_T_s), cache = split_rnn_forward(x, h0, split, activation=nonlinearity)
    np.testing.assert_allclose(y_s, y, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_T_s, h_T, rtol=0, atol=1e-12)

    dx_s, dh0_s, grads_s = split_rnn_backward(U, cache, v)
    np.testing.assert_allclose(dx_s, dx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dh0_s, dh0, rtol=0, atol=1e-12)
    grads_as_concat = split_to_concat(grads_s)     # gradients convert like parameters
    for name, g in grads.items():
        np.testing.assert_allclose(grads_as_concat[name], g, rtol=0, atol=1e-12)


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_numpy_concat_forward_equals_torch_module(nonlinearity):
    model, rng = make(3, 4, 2, nonlinearity, 1)
    x, h0 = rng.standard_normal((5, 2, 3)), rng.standard_normal((2, 4))
    y, h_T = model(torch.tensor(x), torch.tensor(h0))
    y_np, h_np = concat_rnn_forward(x, h0, model.numpy_params(), activation=nonlinearity)
    np.testing.assert_allclose(y_np, y.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_np, h_T.detach().numpy(), rtol=0, atol=1e-12)


def test_output_reads_the_previous_hidden_state():
    """y_t depends on h_{t-1}: with T = 1 the output ignores i2h entirely."""
    model, rng = make(2, 3, 2, "tanh", 2)
    x, h0 = rng.standard_normal((1, 1, 2)), rng.standard_normal((1, 3))
    p = model.numpy_params()
    y_ref = np.concatenate([x[0], h0], axis=1) @ p["W_i2o"].T + p["b_i2o"]
    p["W_i2h"][:] = 100.0
    y, _ = concat_rnn_forward(x, h0, p, activation="tanh")
    np.testing.assert_allclose(y[0], y_ref, atol=1e-14)


def test_split_form_with_tanh_is_torch_rnn():
    """The hidden recursion is torch.nn.RNN with weight_ih = W_xh, weight_hh = W_hh."""
    model, rng = make(3, 4, 2, "tanh", 3)
    split = concat_to_split(model.numpy_params(), 3)
    rnn = torch.nn.RNN(3, 4, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(split["W_xh"]))
        rnn.weight_hh_l0.copy_(torch.tensor(split["W_hh"]))
        rnn.bias_ih_l0.copy_(torch.tensor(split["b_h"]))
        rnn.bias_hh_l0.zero_()
    x = rng.standard_normal((6, 2, 3))
    _, h_T = rnn(torch.tensor(x))
    (_, h_T_s), _ = split_rnn_forward(x, None, split, activation="tanh")
    np.testing.assert_allclose(h_T_s, h_T[0].detach().numpy(), atol=1e-12)


def test_converters_are_inverse_and_really_split():
    model, _ = make(3, 4, 2, "linear", 4)
    p = model.numpy_params()
    split = concat_to_split(p, 3)
    assert split["W_xh"].shape == (4, 3) and split["W_hh"].shape == (4, 4)
    assert split["W_xy"].shape == (2, 3) and split["W_hy"].shape == (2, 4)
    back = split_to_concat(split)
    for name in p:
        np.testing.assert_array_equal(back[name], p[name])
    # Splitting at the wrong column gives a different (wrongly shaped) model: refused.
    with pytest.raises(ValueError, match=r"W_i2h'\] must have shape \(4, 6\); got \(4, 7\)"):
        concat_to_split(p, 2)


def test_split_backward_matches_finite_differences():
    rng = np.random.default_rng(5)
    model, _ = make(2, 3, 2, "tanh", 5)
    split = concat_to_split(model.numpy_params(), 2)
    x, h0 = rng.standard_normal((4, 2, 2)), rng.standard_normal((2, 3))
    U, v = rng.standard_normal((4, 2, 2)), rng.standard_normal((2, 3))
    (_, _), cache = split_rnn_forward(x, h0, split, activation="tanh")
    _, _, grads = split_rnn_backward(U, cache, v)

    def loss():
        (y, h_T), _ = split_rnn_forward(x, h0, split, activation="tanh")
        return np.sum(U * y) + np.sum(v * h_T)

    for name, value in split.items():
        numeric = numerical_gradient(lambda _: loss(), value)
        assert rel_error(grads[name], numeric, floor=1e-4) < 1e-5, name


def test_bad_input():
    model, _ = make(3, 4, 2, "linear", 6)
    p = model.numpy_params()
    with pytest.raises(ValueError, match=r"unknown nonlinearity 'softmax'"):
        ConcatRNN(3, 4, 2, nonlinearity="softmax")
    with pytest.raises(ValueError, match=r"hidden_size must be a positive integer; got 0"):
        ConcatRNN(3, 0, 2)
    with pytest.raises(ValueError, match=r"params must be a dict with keys \['W_i2h'"):
        concat_to_split({"W_i2h": p["W_i2h"]}, 3)
    with pytest.raises(ValueError, match=r"params must be a dict with keys \['W_xh'"):
        split_to_concat(p)
    with pytest.raises(TypeError, match=r"W_i2h'\] must be a floating-point array"):
        concat_to_split(dict(p, W_i2h=np.ones((4, 7), dtype=int)), 3)
    with pytest.raises(ValueError, match=r"x must have shape \(any, any, 3\); got \(2, 1, 4\)"):
        concat_rnn_forward(np.ones((2, 1, 4)), None, p)
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 4\); got \(2, 4\)"):
        concat_rnn_forward(np.ones((2, 1, 3)), np.ones((2, 4)), p)
    with pytest.raises(ValueError, match=r"x must have shape \(T, B, 3\); got \(2, 4\)"):
        model(torch.ones(2, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 4\); got \(1, 5\)"):
        model(torch.ones(2, 1, 3, dtype=torch.float64), torch.ones(1, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"params\['W_i2o'\] must have shape \(2, 7\); got \(2, 6\)"):
        concat_rnn_forward(np.ones((2, 1, 3)), None, dict(p, W_i2o=np.ones((2, 6))))
    with pytest.raises(ValueError, match=r"params\['b_i2h'\] must have shape \(4\); got \(3,\)"):
        concat_rnn_forward(np.ones((2, 1, 3)), None, dict(p, b_i2h=np.ones(3)))
    with pytest.raises(ValueError, match=r"D >= 1 input columns; got \(4, 4\)"):
        concat_rnn_forward(np.ones((2, 1, 3)), None, dict(p, W_i2h=np.ones((4, 4))))
    with pytest.raises(TypeError, match=r"x must be a floating-point torch tensor; got ndarray"):
        model(np.ones((2, 1, 3)))
    with pytest.raises(TypeError, match=r"x must be a floating-point torch tensor; got torch.int64"):
        model(torch.ones(2, 1, 3, dtype=torch.int64))
    with pytest.raises(RuntimeError, match=r"no gradients yet: call backward\(\)"):
        model.numpy_grads()
    split = concat_to_split(p, 3)
    (y, _), cache = split_rnn_forward(np.ones((2, 1, 3)), None, split)
    with pytest.raises(ValueError, match=r"dy must have shape \(2, 1, 2\); got \(2, 1, 3\)"):
        split_rnn_backward(np.ones((2, 1, 3)), cache)
