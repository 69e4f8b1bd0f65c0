"""Tests for rnn_tutor.cliff: the one-unit RNN whose loss has a wall (chapter 6)."""

import numpy as np
import pytest
import torch

from rnn_tutor.cliff import CLIFF_DEFAULTS, cliff_loss, cliff_loss_and_grad, descent_path


def test_gradient_matches_central_differences():
    w = np.array([0.3, 0.9, 1.2, 1.35, 2.0, 2.7])
    eps = 1e-6
    _, g = cliff_loss_and_grad(w)
    numeric = (cliff_loss(w + eps) - cliff_loss(w - eps)) / (2 * eps)
    np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("settings", [CLIFF_DEFAULTS, {"b": 0.2, "h0": -0.3, "T": 7, "target": 0.1}])
def test_loss_and_gradient_match_torch_autograd(settings):
    w = np.linspace(-2.0, 3.0, 11)
    loss, grad = cliff_loss_and_grad(w, **settings)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    h = torch.full_like(wt, settings["h0"])
    for _ in range(settings["T"]):
        h = torch.tanh(wt * h + settings["b"])
    lt = (h - settings["target"]) ** 2
    lt.sum().backward()
    np.testing.assert_allclose(loss, lt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, wt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_shapes_follow_w():
    assert np.shape(cliff_loss(1.0)) == ()
    loss, grad = cliff_loss_and_grad(np.ones((3, 4)))
    assert loss.shape == grad.shape == (3, 4)


def test_there_is_a_wall_that_steepens_with_T():
    w = np.linspace(0.5, 3.0, 5001)
    steepest = {}
    for T in (20, 50):
        loss, grad = cliff_loss_and_grad(w, T=T)
        i = np.argmax(np.abs(grad))
        steepest[T] = abs(grad[i])
        # the loss drops by more than 1 within 0.05 of the wall
        near = np.abs(w - w[i]) < 0.05
        assert loss[near].max() - loss[near].min() > 1.0
    assert steepest[50] > 100
    assert steepest[50] > 3 * steepest[20]
    # the minimum sits just beyond the wall
    loss = cliff_loss(w)
    assert abs(w[np.argmin(loss)] - w[np.argmax(np.abs(cliff_loss_and_grad(w)[1]))]) < 0.1


def test_unclipped_step_is_thrown_far_and_clipped_one_is_not():
    plain = descent_path(2.0, lr=0.3, steps=40)
    clipped = descent_path(2.0, lr=0.3, steps=40, clip=0.5)
    jumps = np.abs(np.diff(plain))
    assert jumps.max() > 1.0                      # one step leaps across the plot
    assert np.abs(np.diff(clipped)).max() <= 0.3 * 0.5 + 1e-12
    assert cliff_loss(clipped[-1]) < 0.05 < cliff_loss(plain[-1])


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match="finite"):
        cliff_loss(np.nan)
    with pytest.raises(TypeError, match="real"):
        cliff_loss("one")
    with pytest.raises(ValueError, match="T"):
        cliff_loss(1.0, T=0)
    with pytest.raises(ValueError, match="lr"):
        descent_path(1.0, lr=-1.0, steps=3)
    with pytest.raises(TypeError, match="unknown setting"):
        descent_path(1.0, lr=0.1, steps=3, bias=0.1)
    with pytest.raises(TypeError, match="b must be a real number"):
        cliff_loss(1.0, b=None)


def test_cliff_is_the_rnn_cells_gate_function_per_weight():
    from rnn_tutor import cells
    w = np.array([0.5, 1.3, 2.0])
    h = np.full(3, 0.5)
    for _ in range(4):          # one-unit RNN, no input: h_t = tanh(w h_{t-1} + b)
        h = np.array([cells.rnn_step_forward(np.zeros((1, 1)), np.array([[hi]]), np.zeros((1, 1)),
                                             np.array([[wi]]), np.array([-0.1]))[0][0, 0]
                      for hi, wi in zip(h, w)])
    np.testing.assert_allclose(cliff_loss(w, T=4), (h - 0.6) ** 2, rtol=1e-14)


def test_check_cliff_inputs():
    from rnn_tutor.cliff import check_cliff_inputs
    w, b, h0, T, target = check_cliff_inputs([1, 2], -0.1, 0, 5, 1)
    assert w.dtype == float and (b, h0, T, target) == (-0.1, 0.0, 5, 1.0)
    with pytest.raises(ValueError, match="finite"):
        check_cliff_inputs(1.0, np.inf, 0.5, 5, 0.6)
