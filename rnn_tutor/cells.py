"""One time step of a vanilla RNN, an LSTM and a GRU, forward and backward, in NumPy.

Every ``*_step_forward`` returns ``(out, cache)`` and every ``*_step_backward`` takes
``(dout, cache)`` and returns ``(dx, dstate_prev, grads)``, where ``grads`` is a dict
with keys ``"W_xh"``, ``"W_hh"`` and, if the biases were given, ``"b_xh"``, ``"b_hh"``.

Shapes and conventions (the same as ``torch.nn.RNN``/``LSTM``/``GRU``, so parameters map
one to one): ``x`` is ``(B, D)``, ``h_prev`` is ``(B, H)``, ``W_xh`` (torch
``weight_ih``) is ``(G*H, D)``, ``W_hh`` (torch ``weight_hh``) is ``(G*H, H)``, ``b_xh``
and ``b_hh`` are ``(G*H,)``, with G = 1 (RNN), 4 (LSTM, gates stacked in the order
i, f, g, o) or 3 (GRU, gates r, z, n). Rows of ``x`` and ``h`` are examples, so a
matrix-vector product ``W x`` of the book is ``x @ W.T`` in code.

The step functions check their inputs (:func:`check_step`, :func:`check_cache`,
:func:`check_grad`) and are then built from two smaller pieces that
:mod:`rnn_tutor.layers` and :mod:`rnn_tutor.gradients` reuse when they run a whole
sequence: the affine maps (:func:`affine`, ``x @ W_xh.T + b_xh`` and ``h @ W_hh.T +
b_hh``) and each cell's ``*_gates_forward``/``*_gates_backward`` functions (with
``*_gates_derivatives`` and ``*_backward_from_derivatives``, the two halves of the
backward) that turn those pre-activations into the new state. So each recurrence is
written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import expit as _expit

from .validate import as_float_array, check_choice, check_shape

__all__ = [
    "Cell", "CELLS", "get_cell", "Activation", "ACTIVATIONS", "sigmoid", "get_activation",
    "check_step", "check_cache", "check_grad", "affine", "affine_backward",
    "rnn_step_forward", "rnn_step_backward", "rnn_gates_forward", "rnn_gates_backward",
    "rnn_gates_derivatives", "rnn_backward_from_derivatives",
    "lstm_step_forward", "lstm_step_backward", "lstm_gates_forward", "lstm_gates_backward",
    "lstm_gates_derivatives", "lstm_backward_from_derivatives",
    "gru_step_forward", "gru_step_backward", "gru_gates_forward", "gru_gates_backward",
    "gru_gates_derivatives", "gru_backward_from_derivatives",
    "gru_reset_before_step_forward", "gru_reset_before_step_backward",
]


# ----------------------------------------------------------------------------------------
# Activations
# ----------------------------------------------------------------------------------------

def sigmoid(a, out=None):
    """Logistic sigmoid sigma(a) = 1 / (1 + exp(-a)), computed without overflow.

    Neither way below evaluates ``exp`` of a large number (``np.exp(1000)`` would
    overflow and warn). Small arrays (one LSTM step of a gradient profile) use
    ``scipy.special.expit``, a single call; large ones the exact identity
    sigma(a) = (1 + tanh(a / 2)) / 2, since NumPy's vectorised tanh is several times
    faster per element than expit (measured: 4x at 64 x 256). ``out``, if given,
    receives the result (no temporaries inside the LSTM's loop).
    """
    if (a.size if isinstance(a, np.ndarray) else np.size(a)) <= _SMALL:
        return _expit(a, out=out) if out is not None else _expit(a)
    if out is None:
        return 0.5 * np.tanh(0.5 * np.asarray(a)) + 0.5
    np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


_SMALL = 512          # below this size expit's single call beats the four tanh-form calls


@dataclass(frozen=True)
class Activation:
    """A nonlinearity phi with its derivative, for the RNN cell and for gradient analysis.

    Attributes
    ----------
    name : str
    value : callable
        phi(a), elementwise.
    derivative : callable
        phi'(a), elementwise, as a function of the pre-activation a.
    derivative_from_value : callable
        phi'(a) written as a function of h = phi(a) (cheaper in backward passes, which
        keep h anyway): tanh' = 1 - h^2, sigma' = h (1 - h), relu' = [h > 0], linear' = 1.
    gamma : float
        The largest value of ``|phi'(a)|``, the constant in the bound
        ``||dh_t/dh_{t-1}|| <= gamma ||W_hh||``
        (Pascanu et al., 2013): 1 for tanh, relu and linear, 1/4 for sigmoid.
    """

    name: str
    value: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    derivative_from_value: Callable[[np.ndarray], np.ndarray]
    gamma: float


#: The RNN nonlinearities by name ("tanh", "relu", "linear", "sigmoid"), each an
#: :class:`Activation` holding phi, its derivative and gamma (the derivative's maximum).
ACTIVATIONS = {
    "tanh": Activation(
        "tanh", np.tanh,
        derivative=lambda a: 1.0 - np.tanh(a) ** 2,
        derivative_from_value=lambda h: 1.0 - h * h,
        gamma=1.0),
    "relu": Activation(
        "relu", lambda a: np.maximum(a, 0.0),
        # At a = 0 the derivative is taken to be 0, as in PyTorch.
        derivative=lambda a: (a > 0).astype(np.result_type(a, np.float32)),
        derivative_from_value=lambda h: (h > 0).astype(h.dtype),
        gamma=1.0),
    "linear": Activation(
        "linear", lambda a: np.array(a, copy=True),
        derivative=lambda a: np.ones_like(a),
        derivative_from_value=lambda h: np.ones_like(h),
        gamma=1.0),
    "sigmoid": Activation(
        "sigmoid", sigmoid,
        derivative=lambda a: sigmoid(a) * (1.0 - sigmoid(a)),
        derivative_from_value=lambda h: h * (1.0 - h),
        gamma=0.25),
}


def get_activation(name) -> Activation:
    """Return the :class:`Activation` called ``name`` (ValueError listing the choices)."""
    return ACTIVATIONS[check_choice(name, ACTIVATIONS, "activation")]


# ----------------------------------------------------------------------------------------
# Shared pieces: input checks and the affine maps
# ----------------------------------------------------------------------------------------

def _check_params(W_xh, W_hh, b_xh, b_hh, gates: int):
    """Validate the weights of a cell with ``gates`` stacked gates; return them and H, D."""
    W_xh = as_float_array(W_xh, "W_xh", ndim=2)
    W_hh = as_float_array(W_hh, "W_hh", ndim=2)
    if W_hh.shape[0] % gates or W_hh.shape[0] == 0:
        raise ValueError(f"W_hh must have shape ({gates}*H, H) for this cell (gates stacked "
                         f"along the rows); got {W_hh.shape}")
    hidden = W_hh.shape[0] // gates
    check_shape(W_hh, (gates * hidden, hidden), "W_hh")
    check_shape(W_xh, (gates * hidden, None), "W_xh")
    if W_xh.shape[1] == 0:
        raise ValueError(f"W_xh must have at least one column (input size D >= 1); "
                         f"got shape {W_xh.shape}")
    if b_xh is not None:
        b_xh = as_float_array(b_xh, "b_xh", ndim=1)
        check_shape(b_xh, (gates * hidden,), "b_xh")
    if b_hh is not None:
        b_hh = as_float_array(b_hh, "b_hh", ndim=1)
        check_shape(b_hh, (gates * hidden,), "b_hh")
    return W_xh, W_hh, b_xh, b_hh, hidden, W_xh.shape[1]


def check_step(x, states, W_xh, W_hh, b_xh, b_hh, gates):
    """Validate the inputs of one step; return them cast to one floating dtype.

    Parameters
    ----------
    x : array_like, shape (B, D)
    states : tuple of array_like, each (B, H)
        ``(h_prev,)``, or ``(h_prev, c_prev)`` for the LSTM.
    W_xh, W_hh, b_xh, b_hh : array_like
        Shapes (G*H, D), (G*H, H), (G*H,), (G*H,); the biases may be None.
    gates : int
        G, the number of gates stacked along the rows of the weights.

    Returns
    -------
    x, states, W_xh, W_hh, b_xh, b_hh
        The same, as float arrays of one dtype (``states`` a tuple).

    Raises
    ------
    TypeError, ValueError
        With a message naming the argument and the expected shape.
    """
    W_xh, W_hh, b_xh, b_hh, hidden, in_size = _check_params(W_xh, W_hh, b_xh, b_hh, gates)
    x = as_float_array(x, "x", ndim=2)
    check_shape(x, (None, in_size), "x")
    batch = x.shape[0]
    if batch == 0:
        raise ValueError("x must hold at least one example (B >= 1); got shape "
                         f"{x.shape}")
    states = [as_float_array(s, name, ndim=2) for s, name in zip(states, _STATE_NAMES)]
    for s, name in zip(states, _STATE_NAMES):
        check_shape(s, (batch, hidden), name)
    arrays = [x, W_xh, W_hh, *states] + [b for b in (b_xh, b_hh) if b is not None]
    dtype = np.result_type(*arrays)
    cast = (lambda a: None if a is None else a.astype(dtype, copy=False))
    return (cast(x), tuple(cast(s) for s in states), cast(W_xh), cast(W_hh),
            cast(b_xh), cast(b_hh))


_STATE_NAMES = ("h_prev", "c_prev")


def check_grad(d, like, name):
    """``d`` as a finite float array of ``like``'s shape and dtype (else a clear error)."""
    d = as_float_array(d, name)
    check_shape(d, like.shape, name)
    return d.astype(like.dtype, copy=False)


def check_cache(cache, size, forward):
    """``cache`` if it is the ``size``-tuple returned by ``forward`` (else TypeError)."""
    if not isinstance(cache, tuple) or len(cache) != size:
        raise TypeError(f"cache must be the tuple returned by {forward}; got "
                        f"{type(cache).__name__}")
    return cache


def affine(v, W, b):
    """``v @ W.T + b``: the matrix-vector product W v + b for every row v (b may be None)."""
    a = v @ W.T
    if b is not None:
        a += b
    return a


def affine_backward(dax, dah, x, h_prev, W_xh, W_hh, has_b_xh, has_b_hh):
    """Backward of a_x = x W_xh^T + b_xh and a_h = h_prev W_hh^T + b_hh.

    Parameters
    ----------
    dax, dah : ndarray, shape (B, G*H)
        Gradients reaching a_x and a_h. For the RNN and the LSTM they are the same array
        (a = a_x + a_h); the GRU's reset gate makes them differ.
    x, h_prev, W_xh, W_hh : ndarray
        The step's inputs and weights.
    has_b_xh, has_b_hh : bool
        Whether the biases exist (then their gradients are returned).

    Returns
    -------
    dx : ndarray, shape (B, D)
    dh_prev : ndarray, shape (B, H)
        The part of dL/dh_{t-1} that flows through W_hh.
    grads : dict
        ``W_xh``, ``W_hh`` and the biases that exist, summed over the batch.
    """
    grads = {"W_xh": dax.T @ x, "W_hh": dah.T @ h_prev}
    if has_b_xh:
        grads["b_xh"] = dax.sum(axis=0)
    if has_b_hh:
        grads["b_hh"] = dah.sum(axis=0)
    return dax @ W_xh, dah @ W_hh, grads


# ----------------------------------------------------------------------------------------
# Vanilla RNN
# ----------------------------------------------------------------------------------------

def rnn_gates_forward(a, phi):
    r"""The vanilla RNN's state update h_t = phi(a_t), given the pre-activation ``a``.

    ``a`` is ``x_t W_xh^T + b_xh + h_{t-1} W_hh^T + b_hh`` (any shape; phi acts
    elementwise) and ``phi`` an :class:`Activation`. The RNN's one "gate" is its
    nonlinearity; this is the piece that the unrolled loops of :mod:`rnn_tutor.layers`,
    the gradient profile and the one-unit cliff share with :func:`rnn_step_forward`.
    """
    return phi.value(a)


def rnn_gates_derivatives(h, phi):
    r"""phi'(a_t) computed from h_t = phi(a_t): the local derivative of one RNN step.

    Any shape; rows may be examples or the time steps of a sequence (one call covers
    them all). The Jacobian of a step is ``diag(phi'(a_t)) W_hh``.
    """
    return phi.derivative_from_value(h)


def rnn_backward_from_derivatives(dh, dphi, out=None):
    r"""One RNN step backwards through ``dphi`` (:func:`rnn_gates_derivatives`): ``da``.

    ``da = dh * phi'(a_t)`` is the gradient on the pre-activation; the gradient reaching
    h_{t-1} is ``da @ W_hh`` (left to the caller, as for the LSTM and GRU). ``out``, if
    given, receives ``da``.
    """
    return np.multiply(dh, dphi, out=out)


def rnn_gates_backward(dh, h, phi):
    r"""Backward of :func:`rnn_gates_forward`: ``da = dh * phi'(a_t)``, phi' read off h_t."""
    return rnn_backward_from_derivatives(dh, rnn_gates_derivatives(h, phi))


def rnn_step_forward(x, h_prev, W_xh, W_hh, b_xh=None, b_hh=None, activation="tanh"):
    r"""One step of a vanilla (Elman) RNN.

    .. math::

        a_t = W_{xh} x_t + b_{xh} + W_{hh} h_{t-1} + b_{hh}, \qquad h_t = \phi(a_t)

    Parameters
    ----------
    x : ndarray, shape (B, D)
        Input x_t.
    h_prev : ndarray, shape (B, H)
        Previous hidden state h_{t-1}.
    W_xh : ndarray, shape (H, D)
    W_hh : ndarray, shape (H, H)
    b_xh, b_hh : ndarray, shape (H,), optional
        The two biases of PyTorch; the book's single b_h is their sum.
    activation : {"tanh", "relu", "linear", "sigmoid"}
        The nonlinearity phi.

    Returns
    -------
    h : ndarray, shape (B, H)
        New hidden state h_t.
    cache : tuple
        What :func:`rnn_step_backward` needs.
    """
    x, (h_prev,), W_xh, W_hh, b_xh, b_hh = check_step(x, (h_prev,), W_xh, W_hh, b_xh, b_hh,
                                                      gates=1)
    phi = get_activation(activation)
    a = affine(x, W_xh, b_xh) + affine(h_prev, W_hh, b_hh)
    h = rnn_gates_forward(a, phi)
    return h, (x, h_prev, W_xh, W_hh, b_xh is not None, b_hh is not None, phi, h)


def rnn_step_backward(dh, cache):
    r"""Backward pass of :func:`rnn_step_forward`.

    .. math::

        \frac{\partial L}{\partial a_t} = \frac{\partial L}{\partial h_t} \odot \phi'(a_t),
        \quad
        \frac{\partial L}{\partial x_t} = W_{xh}^\top \frac{\partial L}{\partial a_t},
        \quad
        \frac{\partial L}{\partial h_{t-1}} = W_{hh}^\top \frac{\partial L}{\partial a_t},

    and dL/dW_xh = sum over the batch of (dL/da_t) x_t^T, dL/dW_hh likewise with h_{t-1}.

    Parameters
    ----------
    dh : ndarray, shape (B, H)
        Upstream gradient dL/dh_t.
    cache : tuple
        From :func:`rnn_step_forward`.

    Returns
    -------
    dx : ndarray, shape (B, D)
    dh_prev : ndarray, shape (B, H)
    grads : dict
        ``W_xh``, ``W_hh`` and the biases that were given.
    """
    x, h_prev, W_xh, W_hh, has_b_xh, has_b_hh, phi, h = check_cache(cache, 8,
                                                                    "rnn_step_forward")
    dh = check_grad(dh, h, "dh")
    da = rnn_gates_backward(dh, h, phi)
    return affine_backward(da, da, x, h_prev, W_xh, W_hh, has_b_xh, has_b_hh)


# ----------------------------------------------------------------------------------------
# LSTM
# ----------------------------------------------------------------------------------------

def lstm_gates_forward(a, c_prev, out=None):
    r"""The LSTM's state update, given the pre-activation ``a`` of all four gates.

    ``a`` has shape (B, 4H) and stacks the gates' pre-activations in PyTorch's order
    i, f, g, o. Returns ``h, c, gates, tanh_c`` where ``gates`` holds the activated
    i, f, g, o (same layout as ``a``); :func:`lstm_gates_backward` needs the last two.
    ``out``, if given, receives ``gates`` (it may be ``a`` itself: activate in place).
    """
    H = c_prev.shape[-1]
    gates = np.empty_like(a) if out is None else out
    sigmoid(a[:, :2 * H], out=gates[:, :2 * H])           # i_t, f_t
    np.tanh(a[:, 2 * H:3 * H], out=gates[:, 2 * H:3 * H])  # g_t
    sigmoid(a[:, 3 * H:], out=gates[:, 3 * H:])           # o_t
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return h, c, gates, tanh_c


def lstm_gates_derivatives(c_prev, gates, tanh_c):
    r"""The local derivatives through which a gradient crosses one LSTM step backwards.

    Rows are examples, or the time steps of one sequence (then one call covers them
    all). Returns ``K`` of shape (B, 6, H) with

    - ``K[:, 0] = g i (1 - i)``, ``K[:, 1] = c_{t-1} f (1 - f)``, ``K[:, 2] = i (1 - g^2)``:
      the gate pre-activations a_i, a_f, a_g per unit of gradient on c_t;
    - ``K[:, 3] = tanh(c_t) o (1 - o)``: a_o per unit of gradient on h_t;
    - ``K[:, 4] = o (1 - tanh^2 c_t)``: dh_t/dc_t (h_t = o_t tanh(c_t));
    - ``K[:, 5] = f``: dc_t/dc_{t-1}.

    :func:`lstm_backward_from_derivatives` applies them; the two together are
    :func:`lstm_gates_backward`.
    """
    H = c_prev.shape[-1]
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    K = np.empty((gates.shape[0], 6, H), dtype=gates.dtype)
    K[:, 0] = g * i * (1.0 - i)                    # through i_t = sigma(.)
    K[:, 1] = c_prev * f * (1.0 - f)               # through f_t = sigma(.)
    K[:, 2] = i * (1.0 - g * g)                    # through g_t = tanh(.)
    K[:, 3] = tanh_c * o * (1.0 - o)               # through o_t = sigma(.)
    K[:, 4] = o * (1.0 - tanh_c * tanh_c)          # through h_t = o_t tanh(c_t)
    K[:, 5] = f
    return K


def lstm_backward_from_derivatives(dh, dc, K, out=None):
    r"""One LSTM step backwards, given :func:`lstm_gates_derivatives` ``K``: ``(da, dc_prev)``.

    ``dh`` and ``dc`` are the gradients reaching h_t and c_t from later steps. The total
    gradient on c_t is ``dc_t = dc + dh K[:, 4]``; then ``da`` (B, 4H) stacks
    ``dc_t K[:, 0..2]`` and ``dh K[:, 3]``, and ``dc_prev = dc_t K[:, 5]``. The gradient
    reaching h_{t-1} is ``da @ W_hh`` (left to the caller). No weight gradients: this is
    the lean step a gradient profile repeats. ``out``, if given, is a C-contiguous
    (B, 4H) array that receives ``da``.
    """
    B, _, H = K.shape
    dc_t = dh * K[:, 4]
    dc_t += dc
    da = np.empty((B, 4 * H), dtype=K.dtype) if out is None else out
    da4 = da.reshape(B, 4, H)                      # a view (da is contiguous)
    np.multiply(dc_t[:, None, :], K[:, :3], out=da4[:, :3])
    np.multiply(dh, K[:, 3], out=da4[:, 3])
    dc_t *= K[:, 5]
    return da, dc_t


def lstm_gates_backward(dh, dc, c_prev, gates, tanh_c, out=None):
    r"""Backward of :func:`lstm_gates_forward`: returns ``(da, dc_prev)``.

    ``dh`` and ``dc`` are the gradients reaching h_t and c_t from later steps (c_t also
    receives gradient through h_t = o_t tanh(c_t)). ``out``, if given, is a C-contiguous
    (B, 4H) array that receives ``da``. Computed as
    :func:`lstm_backward_from_derivatives` of :func:`lstm_gates_derivatives`.
    """
    K = lstm_gates_derivatives(c_prev, gates, tanh_c)
    return lstm_backward_from_derivatives(dh, dc, K, out=out)


def lstm_step_forward(x, h_prev, c_prev, W_xh, W_hh, b_xh=None, b_hh=None):
    r"""One step of a long short-term memory cell (PyTorch's gate order i, f, g, o).

    .. math::

        i_t &= \sigma(W_{xi} x_t + b_{xi} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t &= \sigma(W_{xf} x_t + b_{xf} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t &= \tanh(W_{xg} x_t + b_{xg} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t &= \sigma(W_{xo} x_t + b_{xo} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t &= o_t \odot \tanh(c_t)

    W_xh stacks W_xi, W_xf, W_xg, W_xo along its rows (and likewise W_hh, b_xh, b_hh).

    Parameters
    ----------
    x : ndarray, shape (B, D)
    h_prev, c_prev : ndarray, shape (B, H)
        h_{t-1} and c_{t-1}.
    W_xh : ndarray, shape (4H, D)
    W_hh : ndarray, shape (4H, H)
    b_xh, b_hh : ndarray, shape (4H,), optional

    Returns
    -------
    (h, c) : tuple of ndarray, shape (B, H)
        h_t and c_t.
    cache : tuple
        What :func:`lstm_step_backward` needs.
    """
    x, (h_prev, c_prev), W_xh, W_hh, b_xh, b_hh = check_step(
        x, (h_prev, c_prev), W_xh, W_hh, b_xh, b_hh, gates=4)
    a = affine(x, W_xh, b_xh) + affine(h_prev, W_hh, b_hh)
    h, c, gates, tanh_c = lstm_gates_forward(a, c_prev)
    cache = (x, h_prev, c_prev, W_xh, W_hh, b_xh is not None, b_hh is not None,
             gates, tanh_c)
    return (h, c), cache


def lstm_step_backward(dout, cache):
    r"""Backward pass of :func:`lstm_step_forward`.

    With :math:`\delta c_t = \partial L/\partial c_t + \partial L/\partial h_t \odot o_t
    \odot (1 - \tanh^2 c_t)` (the cell state gets gradient from the next step and from
    h_t), the gate pre-activations receive

    .. math::

        \delta a_i = \delta c_t \odot g_t \odot i_t (1 - i_t), \quad
        \delta a_f = \delta c_t \odot c_{t-1} \odot f_t (1 - f_t), \\
        \delta a_g = \delta c_t \odot i_t \odot (1 - g_t^2), \quad
        \delta a_o = \partial L/\partial h_t \odot \tanh(c_t) \odot o_t (1 - o_t),

    and :math:`\partial L/\partial c_{t-1} = \delta c_t \odot f_t` (the "constant error
    carousel": no matrix, only the forget gate, between c_t and c_{t-1}).

    Parameters
    ----------
    dout : tuple (dh, dc)
        Upstream gradients dL/dh_t and dL/dc_t, each (B, H).
    cache : tuple
        From :func:`lstm_step_forward`.

    Returns
    -------
    dx : ndarray, shape (B, D)
    (dh_prev, dc_prev) : tuple of ndarray, shape (B, H)
    grads : dict
    """
    x, h_prev, c_prev, W_xh, W_hh, has_b_xh, has_b_hh, gates, tanh_c = check_cache(
        cache, 9, "lstm_step_forward")
    if not isinstance(dout, (tuple, list)) or len(dout) != 2:
        raise TypeError("dout must be the pair (dh, dc) of upstream gradients; got "
                        f"{type(dout).__name__}")
    dh = check_grad(dout[0], c_prev, "dh")
    dc = check_grad(dout[1], c_prev, "dc")
    da, dc_prev = lstm_gates_backward(dh, dc, c_prev, gates, tanh_c)
    dx, dh_prev, grads = affine_backward(da, da, x, h_prev, W_xh, W_hh, has_b_xh, has_b_hh)
    return dx, (dh_prev, dc_prev), grads


# ----------------------------------------------------------------------------------------
# GRU
# ----------------------------------------------------------------------------------------

def gru_gates_forward(ax, ah, h_prev):
    r"""The GRU's state update from its two pre-activations (PyTorch convention).

    ``ax = x W_xh^T + b_xh`` and ``ah = h_prev W_hh^T + b_hh``, both (B, 3H) with gates
    r, z, n. The reset gate multiplies ``ah``'s n-block *after* the recurrent matrix.
    Returns ``h, gates`` with ``gates`` holding the activated r, z, n.
    """
    H = h_prev.shape[-1]
    gates = np.empty_like(ax)
    rz, n = gates[:, :2 * H], gates[:, 2 * H:]
    np.add(ax[:, :2 * H], ah[:, :2 * H], out=rz)
    sigmoid(rz, out=rz)                                       # r_t, z_t
    r, z = gates[:, :H], gates[:, H:2 * H]
    np.multiply(r, ah[:, 2 * H:], out=n)
    n += ax[:, 2 * H:]
    np.tanh(n, out=n)                                         # n_t
    h = h_prev - n                                            # (1 - z) n + z h_prev
    h *= z
    h += n
    return h, gates


def gru_gates_derivatives(h_prev, ah, gates):
    r"""The local derivatives through which a gradient crosses one GRU step backwards.

    Rows are examples, or the time steps of one sequence. Returns ``K`` of shape
    (B, 5, H): per unit of gradient on h_t, ``K[:, 0..2]`` are the gradients on the
    recurrent pre-activations ``ah`` (gates r, z, n; the n block already carries the
    reset gate), ``K[:, 3] = (1 - z)(1 - n^2)`` the gradient on the input pre-activation
    of n, and ``K[:, 4] = z`` the update gate's shortcut to h_{t-1}. So

        dah = dh K[:, 0..2],  dh_prev = dh K[:, 4] + dah @ W_hh,

    and ``dax`` equals ``dah`` except its n block, ``dh K[:, 3]``.
    """
    H = h_prev.shape[-1]
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    K = np.empty((gates.shape[0], 5, H), dtype=gates.dtype)
    K[:, 3] = (1.0 - z) * (1.0 - n * n)            # through n_t = tanh(.)
    K[:, 0] = K[:, 3] * ah[:, 2 * H:] * r * (1.0 - r)   # through r_t = sigma(.)
    K[:, 1] = (h_prev - n) * z * (1.0 - z)         # through z_t = sigma(.)
    K[:, 2] = K[:, 3] * r                          # the reset gate scales W_hn h + b_hn
    K[:, 4] = z
    return K


def gru_backward_from_derivatives(dh, K, out=None):
    r"""One GRU step backwards through ``K`` (:func:`gru_gates_derivatives`): ``(dah, dh_direct)``.

    ``dah = dh K[:, 0..2]`` (B, 3H) is the gradient on ``ah = h_prev W_hh^T + b_hh`` and
    ``dh_direct = dh K[:, 4]`` the part of dL/dh_{t-1} through the update gate; the rest
    is ``dah @ W_hh`` (left to the caller). No weight gradients: the lean step a gradient
    profile repeats. ``out``, if given, is a C-contiguous (B, 3H) array receiving ``dah``.
    """
    B, _, H = K.shape
    dah = np.empty((B, 3 * H), dtype=K.dtype) if out is None else out
    np.multiply(dh[:, None, :], K[:, :3], out=dah.reshape(B, 3, H))
    return dah, dh * K[:, 4]


def gru_gates_backward(dh, h_prev, ah, gates):
    r"""Backward of :func:`gru_gates_forward`: returns ``(dax, dah, dh_prev_direct)``.

    ``dh_prev_direct`` = dh * z_t is the gradient reaching h_{t-1} through the update
    gate's shortcut; the part through W_hh is ``dah @ W_hh``, added by the caller.
    Computed as :func:`gru_backward_from_derivatives` of :func:`gru_gates_derivatives`.
    """
    H = h_prev.shape[-1]
    K = gru_gates_derivatives(h_prev, ah, gates)
    dah, dh_direct = gru_backward_from_derivatives(dh, K)
    dax = dah.copy()
    dax[:, 2 * H:] = dh * K[:, 3]                  # the input side skips the reset gate
    return dax, dah, dh_direct


def gru_step_forward(x, h_prev, W_xh, W_hh, b_xh=None, b_hh=None):
    r"""One step of a gated recurrent unit, in PyTorch's convention.

    .. math::

        r_t &= \sigma(W_{xr} x_t + b_{xr} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t &= \sigma(W_{xz} x_t + b_{xz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t &= \tanh(W_{xn} x_t + b_{xn} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    The reset gate r_t is applied *after* the recurrent matrix, r_t * (W_hn h + b_hn);
    Cho et al. (2014) apply it before, W_hn (r_t * h). The two are different models.

    Parameters
    ----------
    x : ndarray, shape (B, D)
    h_prev : ndarray, shape (B, H)
    W_xh : ndarray, shape (3H, D)
        W_xr, W_xz, W_xn stacked along the rows.
    W_hh : ndarray, shape (3H, H)
    b_xh, b_hh : ndarray, shape (3H,), optional

    Returns
    -------
    h : ndarray, shape (B, H)
    cache : tuple
    """
    x, (h_prev,), W_xh, W_hh, b_xh, b_hh = check_step(x, (h_prev,), W_xh, W_hh, b_xh, b_hh,
                                                      gates=3)
    ax = affine(x, W_xh, b_xh)
    ah = affine(h_prev, W_hh, b_hh)
    h, gates = gru_gates_forward(ax, ah, h_prev)
    return h, (x, h_prev, W_xh, W_hh, b_xh is not None, b_hh is not None, ah, gates)


def gru_step_backward(dh, cache):
    r"""Backward pass of :func:`gru_step_forward`.

    .. math::

        \delta a_n = \partial L/\partial h_t \odot (1 - z_t) \odot (1 - n_t^2), \quad
        \delta a_z = \partial L/\partial h_t \odot (h_{t-1} - n_t) \odot z_t (1 - z_t), \\
        \delta a_r = \delta a_n \odot (W_{hn} h_{t-1} + b_{hn}) \odot r_t (1 - r_t),

    the recurrent n-block receives :math:`\delta a_n \odot r_t`, and
    :math:`\partial L/\partial h_{t-1} = \partial L/\partial h_t \odot z_t + W_{hh}^\top
    \delta a_h`.

    Returns
    -------
    dx : ndarray, shape (B, D)
    dh_prev : ndarray, shape (B, H)
    grads : dict
    """
    x, h_prev, W_xh, W_hh, has_b_xh, has_b_hh, ah, gates = check_cache(cache, 8,
                                                                      "gru_step_forward")
    dh = check_grad(dh, h_prev, "dh")
    dax, dah, dh_prev = gru_gates_backward(dh, h_prev, ah, gates)
    dx, dh_prev_w, grads = affine_backward(dax, dah, x, h_prev, W_xh, W_hh,
                                           has_b_xh, has_b_hh)
    return dx, dh_prev + dh_prev_w, grads


def gru_reset_before_step_forward(x, h_prev, W_xh, W_hh, b_xh=None, b_hh=None):
    r"""One GRU step with the reset gate applied *before* the recurrent matrix.

    The convention of Cho et al. (2014): the candidate reads the reset state
    r_t * h_{t-1}, not the reset product of the recurrent matrix with h_{t-1}.

    .. math::

        r_t &= \sigma(W_{xr} x_t + b_{xr} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t &= \sigma(W_{xz} x_t + b_{xz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t &= \tanh(W_{xn} x_t + b_{xn} + W_{hn} (r_t \odot h_{t-1}) + b_{hn}) \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    Same parameters, shapes and layout (gates r, z, n stacked along the rows) as
    :func:`gru_step_forward`, so the two can be run on the same weights; they differ only
    in the candidate, ``W_hn (r h) + b_hn`` here against ``r (W_hn h + b_hn)`` there.
    They agree where r_t = 1 and in general differ (a different function of the same
    weights, not a re-parametrisation of the same one).

    Parameters are those of :func:`gru_step_forward`: ``x`` (B, D), ``h_prev`` (B, H),
    ``W_xh`` (3H, D), ``W_hh`` (3H, H), optional ``b_xh`` and ``b_hh`` (3H,).

    Returns
    -------
    h : ndarray, shape (B, H)
        h_t.
    cache : tuple
        What :func:`gru_reset_before_step_backward` needs.
    """
    x, (h_prev,), W_xh, W_hh, b_xh, b_hh = check_step(x, (h_prev,), W_xh, W_hh, b_xh, b_hh,
                                                      gates=3)
    H = h_prev.shape[1]
    b_rz, b_n = (None, None) if b_hh is None else (b_hh[:2 * H], b_hh[2 * H:])
    ax = affine(x, W_xh, b_xh)
    r, z = np.split(sigmoid(ax[:, :2 * H] + affine(h_prev, W_hh[:2 * H], b_rz)), 2, axis=1)
    rh = r * h_prev                                          # reset first ...
    n = np.tanh(ax[:, 2 * H:] + affine(rh, W_hh[2 * H:], b_n))   # ... then W_hn
    h = (1.0 - z) * n + z * h_prev
    gates = np.concatenate([r, z, n], axis=1)
    return h, (x, h_prev, W_xh, W_hh, b_xh is not None, b_hh is not None, rh, gates)


def gru_reset_before_step_backward(dh, cache):
    r"""Backward pass of :func:`gru_reset_before_step_forward`.

    The update gate and the candidate pass the gradient exactly as in
    :func:`gru_step_backward` (the same :math:`\delta a_z` and :math:`\delta a_n`); the
    reset gate now acts on h_{t-1} itself, so with
    :math:`\delta s = W_{hn}^\top \delta a_n`, the gradient on the reset state
    :math:`s = r_t \odot h_{t-1}`,

    .. math::

        \delta a_r = \delta s \odot h_{t-1} \odot r_t (1 - r_t), \qquad
        \frac{\partial L}{\partial h_{t-1}} = \frac{\partial L}{\partial h_t} \odot z_t
        + \delta s \odot r_t + W_{hr}^\top \delta a_r + W_{hz}^\top \delta a_z .

    Every pre-activation is a sum of an input part and a recurrent part, so both sides
    receive the same gradient; only the n block of dL/dW_hh differs from
    :func:`gru_step_backward`: it is taken against s, not h_{t-1}.

    Returns
    -------
    dx : ndarray, shape (B, D)
    dh_prev : ndarray, shape (B, H)
    grads : dict
        ``W_xh``, ``W_hh`` and the biases that were given, summed over the batch.
    """
    x, h_prev, W_xh, W_hh, has_b_xh, has_b_hh, rh, gates = check_cache(
        cache, 8, "gru_reset_before_step_forward")
    dh = check_grad(dh, h_prev, "dh")
    H = h_prev.shape[1]
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    da_n = dh * (1.0 - z) * (1.0 - n * n)
    da_z = dh * (h_prev - n) * z * (1.0 - z)
    d_rh = da_n @ W_hh[2 * H:]                               # gradient on r_t * h_{t-1}
    da_r = d_rh * h_prev * r * (1.0 - r)
    da = np.concatenate([da_r, da_z, da_n], axis=1)
    grads = {"W_xh": da.T @ x,
             "W_hh": np.concatenate([da[:, :2 * H].T @ h_prev, da_n.T @ rh], axis=0)}
    if has_b_xh:
        grads["b_xh"] = da.sum(axis=0)
    if has_b_hh:
        grads["b_hh"] = da.sum(axis=0)
    dh_prev = dh * z + d_rh * r + da[:, :2 * H] @ W_hh[:2 * H]
    return da @ W_xh, dh_prev, grads


# ----------------------------------------------------------------------------------------
# The registry: one entry per cell, the single source of its name, gates and step
# ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """What the rest of the package needs to know about one kind of recurrent cell.

    Attributes
    ----------
    name : str
        "rnn", "lstm" or "gru".
    title : str
        How the book names it ("vanilla RNN", "LSTM", "GRU").
    gates : tuple of str
        The blocks stacked along the rows of W_xh and W_hh, in PyTorch's order: the RNN
        has one (its pre-activation a), the LSTM i, f, g, o, the GRU r, z, n.
    states : tuple of str
        The recurrent state: ("h",), or ("h", "c") for the LSTM.
    step_forward, step_backward : callable
        The step functions of this module (``(out, cache)`` / ``(dout, cache)``).
    """

    name: str
    title: str
    gates: tuple
    states: tuple
    step_forward: Callable
    step_backward: Callable

    @property
    def num_gates(self) -> int:
        """G, the number of stacked blocks: W_xh is (G*H, D), W_hh is (G*H, H)."""
        return len(self.gates)


#: Every cell of the package by name; layers, gradients, models and the explorer derive
#: their tables from it.
CELLS = {
    "rnn": Cell("rnn", "vanilla RNN", ("a",), ("h",), rnn_step_forward, rnn_step_backward),
    "lstm": Cell("lstm", "LSTM", ("i", "f", "g", "o"), ("h", "c"),
                 lstm_step_forward, lstm_step_backward),
    "gru": Cell("gru", "GRU", ("r", "z", "n"), ("h",), gru_step_forward, gru_step_backward),
}


def get_cell(name) -> Cell:
    """Return the :class:`Cell` called ``name`` (ValueError listing the choices)."""
    return CELLS[check_choice(name, CELLS, "cell")]
