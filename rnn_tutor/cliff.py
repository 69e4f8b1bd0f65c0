"""The exploding-gradient "cliff" of a one-unit RNN (chapter 6).

A recurrent network with a single tanh unit and no input,

    h_t = tanh(w * h_{t-1} + b),    t = 1..T,    loss = (h_T - target)^2,

is the smallest model that shows the cliff of Pascanu et al. (2013). With a small
negative bias ``b`` the map has one (negative) fixed point when ``w`` is small and gains a
second, positive one when ``w`` passes a critical value. A start ``h_0 > 0`` then falls into
a different basin, so ``h_T`` jumps from about -0.1 to about +0.6 over a range of ``w`` that
shrinks as ``T`` grows: the loss has a near-vertical wall, and the gradient on it is huge.
A plain gradient step taken on the wall throws ``w`` far away; a clipped step does not.

Every function accepts a scalar or an array of ``w`` values (evaluated element-wise), so
a whole loss curve costs one vectorised pass. The step is the vanilla RNN cell's own gate
function (:func:`rnn_tutor.cells.rnn_gates_forward` with phi = tanh) applied
elementwise, one independent network per entry of ``w``, and its backward pass uses the
cell's :func:`~rnn_tutor.cells.rnn_gates_derivatives`.
"""

from __future__ import annotations

import numpy as np

from .validate import check_positive_float, check_positive_int
from .cells import (get_activation, rnn_backward_from_derivatives, rnn_gates_derivatives,
                    rnn_gates_forward)

__all__ = ["CLIFF_DEFAULTS", "check_cliff_inputs", "cliff_loss", "cliff_loss_and_grad",
           "descent_path"]

#: Settings for which the wall sits at w of about 1.29, next to the minimum (w of about 1.32).
CLIFF_DEFAULTS = {"b": -0.1, "h0": 0.5, "T": 50, "target": 0.6}


def _weights(w) -> np.ndarray:
    arr = np.asarray(w)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(f"w must be a real number or an array of real numbers; got {w!r}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError("w must be finite; got NaN or inf")
    return arr


def check_cliff_inputs(w, b, h0, T, target):
    """Validate the cliff's arguments: ``w`` as a float array, the others as numbers.

    Returns ``(w, b, h0, T, target)``; TypeError or ValueError, naming the argument,
    for anything that is not a finite real number (``T``: a positive int).
    """
    for name, value in (("b", b), ("h0", h0), ("target", target)):
        if not isinstance(value, (int, float, np.floating, np.integer)) or isinstance(value, bool):
            raise TypeError(f"{name} must be a real number; got {value!r}")
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite; got {value}")
    return _weights(w), float(b), float(h0), check_positive_int(T, "T"), float(target)


def cliff_loss(w, b: float = -0.1, h0: float = 0.5, T: int = 50,
               target: float = 0.6) -> np.ndarray:
    """Loss ``(h_T - target)^2`` of the one-unit tanh RNN, element-wise in ``w``.

    Parameters
    ----------
    w : float or array_like
        Recurrent weight(s).
    b, h0, T, target : float, float, int, float
        Bias, initial state, number of steps and target for ``h_T``.

    Returns
    -------
    ndarray
        Same shape as ``w``.
    """
    return cliff_loss_and_grad(w, b, h0, T, target)[0]


def cliff_loss_and_grad(w, b: float = -0.1, h0: float = 0.5, T: int = 50,
                        target: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Loss and its exact derivative ``dloss/dw`` by backpropagation through time.

    The backward pass is the chain rule of chapter 4 with scalars: the error on
    ``h_t`` is multiplied by ``w * (1 - h_t^2)`` at each step back, and each step adds
    ``error * (1 - h_t^2) * h_{t-1}`` to the weight's gradient.

    Returns
    -------
    loss, grad : ndarray, ndarray
        Both with the shape of ``w``.
    """
    w, b, h0, T, target = check_cliff_inputs(w, b, h0, T, target)
    tanh = get_activation("tanh")
    hs = np.empty((T + 1,) + w.shape)
    hs[0] = h0
    for t in range(1, T + 1):                      # forward: keep every state
        hs[t] = rnn_gates_forward(w * hs[t - 1] + b, tanh)     # h_t = tanh(w h_{t-1} + b)
    loss = (hs[T] - target) ** 2
    dh = 2.0 * (hs[T] - target)                    # dloss/dh_T
    dphi = rnn_gates_derivatives(hs, tanh)         # tanh'(a_t) = 1 - h_t^2, every t at once
    grad = np.zeros_like(w)
    for t in range(T, 0, -1):                      # backward through time
        da = rnn_backward_from_derivatives(dh, dphi[t])        # through tanh
        grad += da * hs[t - 1]                     # w's share at step t
        dh = da * w                                # on to h_{t-1}
    return loss, grad


def descent_path(w0: float, lr: float, steps: int, clip: float | None = None,
                 **settings) -> np.ndarray:
    """Positions of plain gradient descent on :func:`cliff_loss`, optionally clipped.

    Parameters
    ----------
    w0 : float
        Starting weight.
    lr : float
        Learning rate (> 0).
    steps : int
        Number of steps (>= 1).
    clip : float, optional
        If given, the gradient is clipped to at most this size before each step. With one
        parameter clipping by norm and by value coincide: the step keeps its sign.
    **settings
        ``b``, ``h0``, ``T``, ``target`` passed on to :func:`cliff_loss_and_grad`.

    Returns
    -------
    ndarray of shape (steps + 1,)
        ``w`` before the first step and after each step.
    """
    lr = check_positive_float(lr, "lr")
    steps = check_positive_int(steps, "steps")
    if clip is not None:
        clip = check_positive_float(clip, "clip")
    unknown = set(settings) - set(CLIFF_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown setting(s) {sorted(unknown)}; expected some of "
                        f"{sorted(CLIFF_DEFAULTS)}")
    path = np.empty(steps + 1)
    path[0] = float(_weights(w0))
    for i in range(steps):
        _, g = cliff_loss_and_grad(path[i], **settings)
        if clip is not None:
            g = np.clip(g, -clip, clip)
        path[i + 1] = path[i] - lr * float(g)
    return path
