"""The classic tutorial RNN, ``Linear(cat(x, h))``, and why it is the ordinary RNN.

Many first tutorials build a recurrent network from two linear layers applied to the
concatenation of the input and the previous hidden state ("i2h" and "i2o"):

.. code-block:: python

    combined = torch.cat((x_t, h), dim=1)
    h_new = i2h(combined)          # the new hidden state
    y_t = i2o(combined)            # the output (a LogSoftmax usually follows)

A matrix acting on a concatenation is a sum of two matrices acting on the parts:
``[W_xh | W_hh] [x; h] = W_xh x + W_hh h``. So this *is* the split form of the book,

.. math::

    h_t = \\phi(W_{xh} x_t + W_{hh} h_{t-1} + b_h), \\qquad
    y_t = W_{xy} x_t + W_{hy} h_{t-1} + b_y,

with the i2h weight cut column-wise into W_xh and W_hh (and i2o into W_xy, W_hy). Two
details the tutorials rarely say: their i2h has no nonlinearity (phi is the identity,
``nonlinearity="linear"`` here), and y_t reads the *previous* hidden state h_{t-1}, not
h_t, because both layers see the same ``combined`` vector.

:func:`concat_to_split` and :func:`split_to_concat` convert between the two parameter sets
(dicts of arrays); gradients convert the same way, since the map is a re-slicing.
"""

from __future__ import annotations

import numpy as np
import torch

from .validate import as_float_array, check_choice, check_positive_int, check_shape
from .cells import affine, get_activation, rnn_gates_forward
from .layers import previous_states, unroll_backward, unroll_forward

__all__ = ["ConcatRNN", "concat_rnn_forward", "split_rnn_forward", "split_rnn_backward",
           "concat_to_split", "split_to_concat", "check_params_dict"]

CONCAT_KEYS = ("W_i2h", "b_i2h", "W_i2o", "b_i2o")
SPLIT_KEYS = ("W_xh", "W_hh", "b_h", "W_xy", "W_hy", "b_y")
_TORCH_ACTIVATIONS = {"linear": lambda a: a, "tanh": torch.tanh, "relu": torch.relu,
                      "sigmoid": torch.sigmoid}


class ConcatRNN(torch.nn.Module):
    """The i2h/i2o RNN of the classic tutorials, batched over examples.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
    nonlinearity : {"linear", "tanh", "relu", "sigmoid"}
        Applied to i2h's output; the classic tutorial uses none ("linear").
    """

    def __init__(self, input_size, hidden_size, output_size, nonlinearity="linear"):
        super().__init__()
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.output_size = check_positive_int(output_size, "output_size")
        self.nonlinearity = check_choice(nonlinearity, _TORCH_ACTIVATIONS, "nonlinearity")
        self.i2h = torch.nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = torch.nn.Linear(input_size + hidden_size, output_size)

    def step(self, x_t, h):
        """One step: ``(y_t, h_t)`` from x_t (B, D) and h_{t-1} (B, H)."""
        combined = torch.cat((x_t, h), dim=1)
        return self.i2o(combined), _TORCH_ACTIVATIONS[self.nonlinearity](self.i2h(combined))

    def forward(self, x, h0=None):
        """Run over x (T, B, D); returns ``(y, h_T)`` with y (T, B, output_size) logits."""
        for name, t in (("x", x), ("h0", h0)):
            if t is not None and not (isinstance(t, torch.Tensor) and t.is_floating_point()):
                what = t.dtype if isinstance(t, torch.Tensor) else type(t).__name__
                raise TypeError(f"{name} must be a floating-point torch tensor; got {what}")
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"x must have shape (T, B, {self.input_size}); got "
                             f"{tuple(x.shape)}")
        if h0 is None:
            h0 = x.new_zeros(x.shape[1], self.hidden_size)
        elif tuple(h0.shape) != (x.shape[1], self.hidden_size):
            raise ValueError(f"h0 must have shape ({x.shape[1]}, {self.hidden_size}); got "
                             f"{tuple(h0.shape)}")
        h, ys = h0, []
        for x_t in x:
            y_t, h = self.step(x_t, h)
            ys.append(y_t)
        return torch.stack(ys), h

    def _named(self):
        return dict(zip(CONCAT_KEYS, (self.i2h.weight, self.i2h.bias,
                                      self.i2o.weight, self.i2o.bias)))

    def numpy_params(self):
        """The parameters as a dict of NumPy arrays (keys ``W_i2h, b_i2h, W_i2o, b_i2o``)."""
        return {k: v.detach().cpu().numpy().copy() for k, v in self._named().items()}

    def numpy_grads(self):
        """The ``.grad`` of each parameter, keyed like :meth:`numpy_params`."""
        named = self._named()
        if any(v.grad is None for v in named.values()):
            raise RuntimeError("no gradients yet: call backward() on a loss of this "
                               "model's output first")
        return {k: v.grad.detach().cpu().numpy().copy() for k, v in named.items()}


def check_params_dict(params, keys, name):
    """Return ``params`` as a dict of float arrays with exactly ``keys``, or raise."""
    if not isinstance(params, dict) or set(params) != set(keys):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"{name} must be a dict with keys {list(keys)}; got {got}")
    return {k: as_float_array(params[k], f"{name}[{k!r}]", ndim=1 if k[0] == "b" else 2)
            for k in keys}


def _check_concat(params, input_size=None):
    """Validated i2h/i2o parameters and D: W_i2h (H, D+H), W_i2o (O, D+H).

    Without ``input_size``, D is read off W_i2h's shape (its columns beyond H).
    """
    p = check_params_dict(params, CONCAT_KEYS, "params")
    H, O = p["W_i2h"].shape[0], p["W_i2o"].shape[0]
    if input_size is None:
        D = p["W_i2h"].shape[1] - H
        if D < 1:
            raise ValueError("params['W_i2h'] must have shape (H, D + H) with D >= 1 input "
                             f"columns; got {p['W_i2h'].shape}")
    else:
        D = check_positive_int(input_size, "input_size")
    check_shape(p["W_i2h"], (H, D + H), "params['W_i2h']")
    check_shape(p["b_i2h"], (H,), "params['b_i2h']")
    check_shape(p["W_i2o"], (O, D + H), "params['W_i2o']")
    check_shape(p["b_i2o"], (O,), "params['b_i2o']")
    return p, D


def concat_to_split(params, input_size):
    """Cut i2h/i2o weights into the book's W_xh, W_hh, b_h, W_xy, W_hy, b_y.

    Parameters
    ----------
    params : dict
        ``W_i2h`` (H, D+H), ``b_i2h`` (H,), ``W_i2o`` (O, D+H), ``b_i2o`` (O,).
    input_size : int
        D, where the columns of x end and those of h begin.
    """
    p, D = _check_concat(params, input_size)
    return {"W_xh": p["W_i2h"][:, :D].copy(), "W_hh": p["W_i2h"][:, D:].copy(),
            "b_h": p["b_i2h"].copy(),
            "W_xy": p["W_i2o"][:, :D].copy(), "W_hy": p["W_i2o"][:, D:].copy(),
            "b_y": p["b_i2o"].copy()}


def split_to_concat(params):
    """Inverse of :func:`concat_to_split`: W_i2h = [W_xh | W_hh], W_i2o = [W_xy | W_hy]."""
    p = check_params_dict(params, SPLIT_KEYS, "params")
    H, D = p["W_xh"].shape
    O = p["W_xy"].shape[0]
    check_shape(p["W_hh"], (H, H), "params['W_hh']")
    check_shape(p["b_h"], (H,), "params['b_h']")
    check_shape(p["W_xy"], (O, D), "params['W_xy']")
    check_shape(p["W_hy"], (O, H), "params['W_hy']")
    check_shape(p["b_y"], (O,), "params['b_y']")
    return {"W_i2h": np.concatenate([p["W_xh"], p["W_hh"]], axis=1), "b_i2h": p["b_h"].copy(),
            "W_i2o": np.concatenate([p["W_xy"], p["W_hy"]], axis=1), "b_i2o": p["b_y"].copy()}


def concat_rnn_forward(x, h0, params, activation="linear"):
    """NumPy forward of :class:`ConcatRNN`, written the tutorial's way.

    x is (T, B, D), h0 (B, H) or None (zeros); returns ``(y, h_T)``, y (T, B, O). The
    pre-activation is the tutorial's one product with ``[x_t, h_{t-1}]``; the state update
    is the RNN cell's own :func:`rnn_tutor.cells.rnn_gates_forward`.
    """
    phi = get_activation(activation)
    p, D = _check_concat(params)
    H = p["W_i2h"].shape[0]
    x = as_float_array(x, "x", ndim=3)
    check_shape(x, (None, None, D), "x")
    h = np.zeros((x.shape[1], H), dtype=x.dtype) if h0 is None else as_float_array(h0, "h0")
    check_shape(h, (x.shape[1], H), "h0")
    ys = []
    for x_t in x:
        combined = np.concatenate([x_t, h], axis=1)
        ys.append(affine(combined, p["W_i2o"], p["b_i2o"]))
        h = rnn_gates_forward(affine(combined, p["W_i2h"], p["b_i2h"]), phi)  # the RNN's phi
    return np.stack(ys), h


def split_rnn_forward(x, h0, params, activation="linear"):
    r"""NumPy forward of the split form: h_t = phi(W_xh x_t + W_hh h_{t-1} + b_h),
    y_t = W_xy x_t + W_hy h_{t-1} + b_y.

    Returns ``(y, h_T), cache``; the hidden recursion is :func:`rnn_tutor.layers.unroll_forward`.
    """
    p = check_params_dict(params, SPLIT_KEYS, "params")
    (hs, h_T), cache = unroll_forward("rnn", x, h0, p["W_xh"], p["W_hh"], p["b_h"], None,
                                      activation=activation)
    x, h0 = cache["x"], cache["h0"]
    h_prev = previous_states(hs, h0)
    check_shape(p["W_xy"], (None, x.shape[2]), "params['W_xy']")
    check_shape(p["W_hy"], (p["W_xy"].shape[0], hs.shape[2]), "params['W_hy']")
    check_shape(p["b_y"], (p["W_xy"].shape[0],), "params['b_y']")
    y = x @ p["W_xy"].T + h_prev @ p["W_hy"].T + p["b_y"]
    return (y, h_T), {"rnn": cache, "h_prev": h_prev, "W_xy": p["W_xy"], "W_hy": p["W_hy"]}


def split_rnn_backward(dy, cache, dh_T=None):
    """Backward of :func:`split_rnn_forward`: returns ``(dx, dh0, grads)``, grads keyed
    like the split parameters."""
    rnn, h_prev = cache["rnn"], cache["h_prev"]
    x = rnn["x"]
    T, B, O = x.shape[0], x.shape[1], cache["W_xy"].shape[0]
    dy = as_float_array(dy, "dy", ndim=3)
    check_shape(dy, (T, B, O), "dy")
    flat_dy = dy.reshape(T * B, O)
    grads = {"W_xy": flat_dy.T @ x.reshape(T * B, -1),
             "W_hy": flat_dy.T @ h_prev.reshape(T * B, -1), "b_y": flat_dy.sum(axis=0)}
    # y_t reads h_{t-1}: its gradient lands on the previous step's output (or on h0).
    dh_prev = dy @ cache["W_hy"]
    dhs = np.zeros_like(h_prev)
    dhs[:-1] = dh_prev[1:]
    dx, dh0, g = unroll_backward(dhs, rnn, dh_T)
    grads.update(W_xh=g["W_xh"], W_hh=g["W_hh"], b_h=g["b_xh"])
    return dx + dy @ cache["W_xy"], dh0 + dh_prev[0], {k: grads[k] for k in SPLIT_KEYS}
