"""Recurrent networks over whole sequences: unrolling, BPTT, stacking, two directions.

Two levels:

* :func:`unroll_forward` / :func:`unroll_backward` run **one layer in one direction**
  over a sequence ``x`` of shape (T, B, D) and back-propagate through time, fully or
  truncated to windows of ``window`` steps.
* :class:`RNN`, :class:`LSTM` and :class:`GRU` mirror ``torch.nn.RNN``/``LSTM``/``GRU``
  (same constructor arguments, same parameter names, same outputs) and stack layers and
  directions out of those single runs. :func:`from_torch` copies a torch module into one.

Speed comes from doing the input projection ``x_t W_xh^T + b_xh`` of all T steps in one
matrix product before the loop, and the parameter gradients of all T steps in one
matrix product after it; inside the loop only the recurrent product ``h_{t-1} W_hh^T``
and the gate arithmetic remain (the equations of :mod:`rnn_tutor.cells`).
"""

from __future__ import annotations

import numpy as np

from .validate import (as_float_array, check_choice, check_nonnegative_int,
                        check_positive_int, check_shape)
from . import cells
from .cells import (_check_params, get_activation, gru_gates_backward, gru_gates_forward,
                    lstm_gates_backward, lstm_gates_forward, rnn_backward_from_derivatives,
                    rnn_gates_derivatives, rnn_gates_forward)
from .init import rng_from_seed

__all__ = ["CELLS", "unroll_forward", "unroll_backward", "project", "time_steps",
           "window_cut", "previous_states", "rnn_forward", "rnn_backward", "lstm_forward",
           "lstm_backward", "gru_forward", "gru_backward", "RecurrentNetwork", "RNN", "LSTM",
           "GRU", "from_torch"]

#: Number of stacked gates per cell type (rows of W_xh are G*H), from ``cells.CELLS``.
CELLS = {name: cell.num_gates for name, cell in cells.CELLS.items()}


# ----------------------------------------------------------------------------------------
# One layer, one direction
# ----------------------------------------------------------------------------------------

def time_steps(T, reverse=False):
    """The time indices 0..T-1 in processing order (T-1..0 if ``reverse``)."""
    return range(T - 1, -1, -1) if reverse else range(T)


def previous_states(seq, first, reverse=False):
    """The state fed into each step: ``seq`` (T, ...) shifted by one step, ``first`` first.

    For ``reverse`` the shift goes the other way (``first`` is fed into step T-1).
    """
    if reverse:
        return np.concatenate([seq[1:], first[None]])
    return np.concatenate([first[None], seq[:-1]])


def window_cut(t, T, reverse, window):
    """Whether truncated BPTT stops the gradient between step t and its predecessor.

    Windows are [0, k), [k, 2k), ... in absolute time (k = ``window``; None: full BPTT,
    never cut), for both directions; the link from the initial state into the first
    window is never cut.
    """
    if window is None:
        return False
    boundary = t + 1 if reverse else t    # the later of the two linked time indices
    return 0 < boundary < T and boundary % window == 0


def project(x, W, b):
    """``x_t W^T + b`` for all t at once: one (T*B, D) x (D, G*H) matrix product.

    ``x`` is (T, B, D), ``W`` (G*H, D), ``b`` (G*H,) or None; returns (T, B, G*H). The
    input side of every step does not depend on the state, so it need not wait in the loop.
    """
    T, B, D = x.shape
    return cells.affine(x.reshape(T * B, D), W, b).reshape(T, B, W.shape[0])


def _sum_bias(b_xh, b_hh):
    if b_xh is None:
        return b_hh
    return b_xh if b_hh is None else b_xh + b_hh


def rnn_forward(x, h0, W_xh, W_hh, b_h, phi, reverse=False):
    r"""Unroll a vanilla RNN over ``x``: h_t = phi(x_t W_xh^T + b_h + h_{t-1} W_hh^T).

    Parameters
    ----------
    x : ndarray, shape (T, B, D)
    h0 : ndarray, shape (B, H)
    W_xh, W_hh : ndarray, shapes (H, D), (H, H)
    b_h : ndarray, shape (H,), or None
        b_xh + b_hh (only their sum enters the forward pass).
    phi : Activation
        From :func:`rnn_tutor.cells.get_activation`.
    reverse : bool
        Run from the last step to the first.

    Returns
    -------
    hs : ndarray, shape (T, B, H)
        h_t for every t.
    h : ndarray, shape (B, H)
        The state after the last processed step.
    cache : dict
        ``hs`` (:func:`unroll_forward` adds the rest that :func:`rnn_backward` reads).
    """
    A = project(x, W_xh, b_h)                  # x_t W_xh^T + b_h for every t
    W_hh_T = np.ascontiguousarray(W_hh.T)     # a contiguous copy multiplies faster
    hs = np.empty(A.shape, dtype=A.dtype)
    h = h0
    for t in time_steps(len(x), reverse):
        h = hs[t] = rnn_gates_forward(A[t] + h @ W_hh_T, phi)     # h_t = phi(a_t)
    return hs, h, {"hs": hs}


def rnn_backward(dout, dh, cache, window=None):
    r"""BPTT through :func:`rnn_forward`: the gradient on every pre-activation a_t.

    Parameters
    ----------
    dout : ndarray, shape (T, B, H)
        dL/dh_t from outside the recurrence (the layer above or the loss).
    dh : ndarray, shape (B, H)
        Gradient reaching the final state.
    cache : dict
        From :func:`unroll_forward` (``hs``, ``phi``, ``W_hh``, ``reverse``).
    window : int, optional
        Truncated BPTT with windows of this many steps (see :func:`window_cut`).

    Returns
    -------
    dax, dah : ndarray, shape (T, B, H)
        dL/da_t on the input and on the recurrent side (the same array for the RNN).
    dh0 : ndarray, shape (B, H)
        Gradient on the initial state.
    """
    phi, W_hh, hs, reverse = cache["phi"], cache["W_hh"], cache["hs"], cache["reverse"]
    T = len(hs)
    da = rnn_gates_derivatives(hs, phi)         # phi'(a_t) for every t, from h_t
    for t in time_steps(T, not reverse):
        dh = dh + dout[t]                       # direct route + the one via h_{t+1}
        rnn_backward_from_derivatives(dh, da[t], out=da[t])     # dL/da_t = dh * phi'(a_t)
        dh = da[t] @ W_hh                       # on to h_{t-1}
        if window_cut(t, T, reverse, window):
            dh = np.zeros_like(dh)
    return da, da, dh


def lstm_forward(x, state0, W_xh, W_hh, b_h, reverse=False):
    """Unroll an LSTM over ``x`` from ``state0 = (h0, c0)``; like :func:`rnn_forward`.

    ``b_h`` is b_xh + b_hh (or None). Each step adds ``h_{t-1} W_hh^T`` to the projected
    input and applies :func:`rnn_tutor.cells.lstm_gates_forward`. Returns ``hs, (h, c),
    cache``; the activated gates overwrite the pre-activations in the cache.
    """
    h, c = state0
    A = project(x, W_xh, b_h)
    W_hh_T = np.ascontiguousarray(W_hh.T)
    T, B, G = A.shape
    hs = np.empty((T, B, G // 4), dtype=A.dtype)
    cs, tanh_cs = np.empty_like(hs), np.empty_like(hs)
    for t in time_steps(T, reverse):
        a = A[t]
        a += h @ W_hh_T
        # The activated gates overwrite the pre-activations in A (no copy per step).
        h, c, _, tanh_cs[t] = lstm_gates_forward(a, c, out=a)
        hs[t], cs[t] = h, c
    return hs, (h, c), {"hs": hs, "cs": cs, "tanh_cs": tanh_cs, "gates": A,
                        "c0": state0[1]}


def lstm_backward(dout, dstate, cache, window=None):
    """BPTT through :func:`lstm_forward`; like :func:`rnn_backward` with the state pair
    ``dstate = (dh, dc)``, each step through :func:`rnn_tutor.cells.lstm_gates_backward`.
    """
    W_hh, reverse, gates = cache["W_hh"], cache["reverse"], cache["gates"]
    tanh_cs = cache["tanh_cs"]
    c_prev = previous_states(cache["cs"], cache["c0"], reverse)
    dh, dc = dstate
    T = len(gates)
    da = np.empty_like(gates)
    for t in time_steps(T, not reverse):
        dh = dh + dout[t]
        _, dc = lstm_gates_backward(dh, dc, c_prev[t], gates[t], tanh_cs[t], out=da[t])
        dh = da[t] @ W_hh
        if window_cut(t, T, reverse, window):
            dh, dc = np.zeros_like(dh), np.zeros_like(dc)
    return da, da, (dh, dc)


def gru_forward(x, h0, W_xh, W_hh, b_xh, b_hh, reverse=False):
    """Unroll a GRU over ``x``; like :func:`rnn_forward`, each step through
    :func:`rnn_tutor.cells.gru_gates_forward` (the reset gate needs b_hh apart).
    """
    AX = project(x, W_xh, b_xh)
    T, B, G = AX.shape
    AH, gates = np.empty_like(AX), np.empty_like(AX)
    hs = np.empty((T, B, G // 3), dtype=AX.dtype)
    W_hh_T = np.ascontiguousarray(W_hh.T)
    h = h0
    for t in time_steps(T, reverse):
        AH[t] = h @ W_hh_T
        if b_hh is not None:
            AH[t] += b_hh
        h, gates[t] = gru_gates_forward(AX[t], AH[t], h)
        hs[t] = h
    return hs, h, {"hs": hs, "AH": AH, "gates": gates}


def gru_backward(dout, dh, cache, window=None):
    """BPTT through :func:`gru_forward`; like :func:`rnn_backward`, each step through
    :func:`rnn_tutor.cells.gru_gates_backward`.
    """
    W_hh, reverse, gates, AH = cache["W_hh"], cache["reverse"], cache["gates"], cache["AH"]
    h_prev = previous_states(cache["hs"], cache["h0"], reverse)
    T = len(gates)
    dAX, dAH = np.empty_like(gates), np.empty_like(gates)
    for t in time_steps(T, not reverse):
        dh = dh + dout[t]
        dAX[t], dAH[t], dh_direct = gru_gates_backward(dh, h_prev[t], AH[t], gates[t])
        dh = dh_direct + dAH[t] @ W_hh
        if window_cut(t, T, reverse, window):
            dh = np.zeros_like(dh)
    return dAX, dAH, dh


def _zeros_state(cell, batch, hidden, dtype):
    h = np.zeros((batch, hidden), dtype=dtype)
    return (h, h.copy()) if cell == "lstm" else h


def _unroll_forward(cell, x, state0, W_xh, W_hh, b_xh, b_hh, activation, reverse):
    """:func:`unroll_forward` without input checks (inputs are trusted, same dtype)."""
    if cell == "rnn":
        phi = get_activation(activation)
        hs, last, cache = rnn_forward(x, state0, W_xh, W_hh, _sum_bias(b_xh, b_hh), phi,
                                      reverse)
        cache["phi"] = phi
    elif cell == "lstm":
        hs, last, cache = lstm_forward(x, state0, W_xh, W_hh, _sum_bias(b_xh, b_hh), reverse)
    else:
        hs, last, cache = gru_forward(x, state0, W_xh, W_hh, b_xh, b_hh, reverse)
    cache.update(cell=cell, x=x, h0=state0[0] if cell == "lstm" else state0,
                 W_xh=W_xh, W_hh=W_hh, has_b_xh=b_xh is not None,
                 has_b_hh=b_hh is not None, reverse=reverse)
    return (hs, last), cache


def _unroll_backward(dout, cache, dstate, window):
    """:func:`unroll_backward` without input checks."""
    cell, x, W_xh = cache["cell"], cache["x"], cache["W_xh"]
    backward = {"rnn": rnn_backward, "lstm": lstm_backward, "gru": gru_backward}[cell]
    dAX, dAH, dstate0 = backward(dout, dstate, cache, window)
    # Parameter gradients of all T steps in one product each: sum_t da_t^T v_t.
    T, B, G = dAX.shape
    h_prev = previous_states(cache["hs"], cache["h0"], cache["reverse"])
    flat_dAX, flat_dAH = dAX.reshape(T * B, G), dAH.reshape(T * B, G)
    grads = {"W_xh": flat_dAX.T @ x.reshape(T * B, -1),
             "W_hh": flat_dAH.T @ h_prev.reshape(T * B, -1)}
    if cache["has_b_xh"]:
        grads["b_xh"] = flat_dAX.sum(axis=0)
    if cache["has_b_hh"]:
        grads["b_hh"] = flat_dAH.sum(axis=0)
    dx = (flat_dAX @ W_xh).reshape(T, B, -1)
    return dx, dstate0, grads


def _check_state(state, cell, batch, hidden, dtype, name="state0"):
    """Validate an initial/final state: (B, H), or a pair of them for the LSTM."""
    if cell == "lstm":
        if state is None:
            return None
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(f"{name} of an LSTM must be a pair (h, c) of (B, H) arrays; "
                            f"got {type(state).__name__}")
        if state[0] is None or state[1] is None:
            raise TypeError(f"{name} of an LSTM must be a pair (h, c) of (B, H) arrays; "
                            "got None inside the pair (pass None instead of the pair for "
                            "zeros)")
        return tuple(_check_state(s, "rnn", batch, hidden, dtype, f"{name}[{k}]")
                     for k, s in enumerate(state))
    if state is None:
        return None
    state = as_float_array(state, name, ndim=2, dtype=dtype)
    check_shape(state, (batch, hidden), name)
    return state


def unroll_forward(cell, x, state0, W_xh, W_hh, b_xh=None, b_hh=None, activation="tanh",
                   reverse=False):
    r"""Run one recurrent layer in one direction over a whole sequence.

    For t = 0, ..., T-1 (or T-1, ..., 0 if ``reverse``) apply the cell's step
    (see :mod:`rnn_tutor.cells`), e.g. for the RNN

    .. math:: h_t = \phi(W_{xh} x_t + b_{xh} + W_{hh} h_{t-1} + b_{hh}),

    starting from ``state0`` (h_{-1}; for ``reverse`` the state "after" the last step).

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    x : ndarray, shape (T, B, D)
    state0 : ndarray (B, H), pair of them for "lstm", or None
        Initial state; None means zeros.
    W_xh, W_hh, b_xh, b_hh : ndarray
        Weights in the layout of :mod:`rnn_tutor.cells` (G*H rows).
    activation : {"tanh", "relu", "linear", "sigmoid"}
        The RNN's phi (ignored by "lstm" and "gru").
    reverse : bool
        Process the sequence from the last step to the first (the backward direction of a
        bidirectional layer); outputs stay indexed by t.

    Returns
    -------
    (outputs, state_T) : tuple
        ``outputs[t]`` is h_t, shape (T, B, H); ``state_T`` the state after the last
        processed step (h_T, or (h_T, c_T) for "lstm").
    cache : dict
        For :func:`unroll_backward`.
    """
    check_choice(cell, CELLS, "cell")
    get_activation(activation)
    W_xh, W_hh, b_xh, b_hh, hidden, in_size = _check_params(W_xh, W_hh, b_xh, b_hh,
                                                           CELLS[cell])
    x = as_float_array(x, "x", ndim=3)
    check_shape(x, (None, None, in_size), "x")
    T, B, _ = x.shape
    if T == 0 or B == 0:
        raise ValueError(f"x must have T >= 1 steps and B >= 1 examples; got shape "
                         f"{x.shape}")
    dtype = np.result_type(x, W_xh, W_hh, *[b for b in (b_xh, b_hh) if b is not None])
    state0 = _check_state(state0, cell, B, hidden, dtype)
    if state0 is None:
        state0 = _zeros_state(cell, B, hidden, dtype)
    if not isinstance(reverse, bool):
        raise TypeError(f"reverse must be True or False; got {reverse!r}")
    cast = (lambda a: None if a is None else a.astype(dtype, copy=False))
    return _unroll_forward(cell, cast(x), state0, cast(W_xh), cast(W_hh), cast(b_xh),
                           cast(b_hh), activation, reverse)


def _check_window(window):
    if window is None:
        return None
    return check_positive_int(window, "window")


def unroll_backward(dout, cache, dstate=None, window=None):
    r"""Back-propagation through time for :func:`unroll_forward`.

    Full BPTT (``window=None``) sums over every path from every output back to every
    earlier step. **Truncated BPTT** (``window=k``) splits time into windows
    [0, k), [k, 2k), ... and lets no gradient cross a window boundary along the
    recurrent chain: each window's initial state is treated as a constant (its value is
    still the one carried over from the previous window, the forward pass is unchanged).
    This is exactly the gradient that training on consecutive chunks of length k computes
    when it carries the hidden state from chunk to chunk and *detaches* it
    (``h = h.detach()`` in PyTorch), summed over the chunks. The gradient with respect to
    the initial state of the first window (``dstate0``) is kept.

    Parameters
    ----------
    dout : ndarray, shape (T, B, H)
        dL/dh_t from the layer above or the loss, for every t.
    cache : dict
        From :func:`unroll_forward`.
    dstate : ndarray (B, H), pair for "lstm", or None
        Gradient reaching the final state (h_T, or (h_T, c_T)); None means zeros.
    window : int, optional
        Truncation length k; None for full BPTT.

    Returns
    -------
    dx : ndarray, shape (T, B, D)
    dstate0 : ndarray (B, H) or pair
        Gradient with respect to ``state0``.
    grads : dict
        ``W_xh``, ``W_hh`` and the biases that were given, summed over time.
    """
    if not isinstance(cache, dict) or "cell" not in cache:
        raise TypeError("cache must be the dict returned by unroll_forward; got "
                        f"{type(cache).__name__}")
    hs = cache["hs"]
    T, B, H = hs.shape
    dout = as_float_array(dout, "dout", ndim=3, dtype=hs.dtype)
    check_shape(dout, (T, B, H), "dout")
    dstate = _check_state(dstate, cache["cell"], B, H, hs.dtype, "dstate")
    if dstate is None:
        dstate = _zeros_state(cache["cell"], B, H, hs.dtype)
    return _unroll_backward(dout, cache, dstate, _check_window(window))


# ----------------------------------------------------------------------------------------
# NumPy mirrors of torch.nn.RNN, LSTM, GRU
# ----------------------------------------------------------------------------------------

def _numpy_float_dtype(dtype):
    """float32 or float64 from a NumPy/torch dtype, a string, or None (float64)."""
    if dtype is None:
        return np.dtype(np.float64)
    given = dtype
    if type(dtype).__module__ == "torch":         # torch.float32 -> "float32"
        dtype = str(dtype).removeprefix("torch.")
    try:
        result = np.dtype(dtype)
    except TypeError:
        result = None
    if result not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64; got {given!r}")
    return result


class RecurrentNetwork:
    """What :class:`RNN`, :class:`LSTM` and :class:`GRU` share (build one of those).

    Layer k, direction d runs :func:`unroll_forward` on the outputs of layer k - 1 (both
    directions concatenated; ``x`` for layer 0). ``forward`` returns what the torch module
    returns, ``backward`` fills ``grads`` under the same names as ``named_parameters()``.

    Attributes
    ----------
    params : dict of ndarray
        Parameters under ``torch``'s ``named_parameters()`` names and order:
        ``weight_ih_l{k}`` (W_xh of layer k), ``weight_hh_l{k}`` (W_hh), ``bias_ih_l{k}``
        (b_xh), ``bias_hh_l{k}`` (b_hh), with suffix ``_reverse`` for the backward
        direction. Edit them in place to change the model.
    grads : dict of ndarray
        Gradients of the same names, filled by :meth:`backward`.
    d_hx : ndarray or pair of ndarray
        Gradient with respect to ``hx`` (zeros if hx was None), filled by
        :meth:`backward`.
    """

    _cell = "rnn"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None,
                 dtype=None, *, activation="tanh", seed=None):
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        for name, flag in (("bias", bias), ("batch_first", batch_first),
                           ("bidirectional", bidirectional)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False; got {flag!r}")
        if dropout != 0:
            raise ValueError("dropout between layers is not supported by the NumPy mirror "
                             f"(it is deterministic); expected dropout=0, got {dropout!r}")
        if device not in (None, "cpu"):
            raise ValueError(f"the NumPy mirror runs on the CPU; expected device=None or "
                             f"'cpu', got {device!r}")
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.dropout = 0.0
        self.activation = get_activation(activation).name
        self.dtype = _numpy_float_dtype(dtype)
        self.num_directions = 2 if bidirectional else 1
        self.params = self._init_params(rng_from_seed(seed))
        self.grads = {}
        self.d_hx = None
        self._cache = None

    # -- parameters ------------------------------------------------------------------

    def _names(self, layer, direction):
        suffix = f"l{layer}" + ("_reverse" if direction else "")
        names = [f"weight_ih_{suffix}", f"weight_hh_{suffix}"]
        if self.bias:
            names += [f"bias_ih_{suffix}", f"bias_hh_{suffix}"]
        return names

    def _param_shapes(self):
        G, H = CELLS[self._cell], self.hidden_size
        shapes = {}
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else H * self.num_directions
            for direction in range(self.num_directions):
                names = self._names(layer, direction)
                shapes[names[0]] = (G * H, in_size)
                shapes[names[1]] = (G * H, H)
                for name in names[2:]:
                    shapes[name] = (G * H,)
        return shapes

    def _init_params(self, rng):
        # Like torch: every parameter uniform in [-1/sqrt(H), 1/sqrt(H)].
        bound = 1.0 / np.sqrt(self.hidden_size)
        return {name: rng.uniform(-bound, bound, size=shape).astype(self.dtype)
                for name, shape in self._param_shapes().items()}

    def _layer_params(self, layer, direction):
        p = [self.params[name] for name in self._names(layer, direction)]
        return p if self.bias else p + [None, None]

    def _check_params(self):
        expected = self._param_shapes()
        if list(self.params) != list(expected):
            raise ValueError(f"params must have the keys {list(expected)}; got "
                             f"{list(self.params)}")
        for name, shape in expected.items():
            arr = as_float_array(self.params[name], f"params[{name!r}]",
                                 dtype=self.dtype)
            check_shape(arr, shape, f"params[{name!r}]")
            self.params[name] = arr

    # -- checks of inputs --------------------------------------------------------------

    def _check_hidden(self, hx, batch, unbatched, name):
        """hx (or one of an LSTM's pair) as a (L*dirs, B, H) array, or None."""
        if hx is None:
            return None
        shape = (self.num_layers * self.num_directions, batch, self.hidden_size)
        hx = as_float_array(hx, name, ndim=2 if unbatched else 3, dtype=self.dtype)
        if unbatched:
            check_shape(hx, (shape[0], shape[2]), name)
            return hx[:, None, :]
        check_shape(hx, shape, name)
        return hx

    def _check_hx(self, hx, batch, unbatched, name="hx"):
        return self._check_hidden(hx, batch, unbatched, name)

    # -- forward and backward ----------------------------------------------------------

    def forward(self, x, hx=None):
        """Run the network over ``x``; returns ``(output, h_n)`` like torch.

        Parameters
        ----------
        x : ndarray
            (T, B, input_size), or (B, T, input_size) if ``batch_first``, or
            (T, input_size) for one unbatched sequence.
        hx : ndarray, optional
            Initial hidden states (num_layers * num_directions, B, hidden_size)
            ((num_layers * num_directions, hidden_size) if unbatched); zeros if None.
            For the LSTM a pair (h_0, c_0).

        Returns
        -------
        output : ndarray
            Last layer's h_t for every t, both directions concatenated on the last axis:
            (T, B, num_directions * hidden_size) in the layout of ``x``.
        h_n : ndarray
            Final states (num_layers * num_directions, B, hidden_size), index
            ``layer * num_directions + direction``. For the LSTM a pair (h_n, c_n).
        """
        self._check_params()
        x = as_float_array(x, "x", ndim=(2, 3), dtype=self.dtype)
        unbatched = x.ndim == 2
        seq = x[:, None, :] if unbatched else (x.transpose(1, 0, 2) if self.batch_first
                                                 else x)
        T, B, D = seq.shape
        layout = ("(T, input_size)" if unbatched else
                  "(B, T, input_size)" if self.batch_first else "(T, B, input_size)")
        if D != self.input_size or T == 0 or B == 0:
            raise ValueError(f"x must have shape {layout} with input_size="
                             f"{self.input_size}, T >= 1 and B >= 1; got {x.shape}")
        states = self._check_hx(hx, B, unbatched)
        layer_input, caches, finals = seq, [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                state0 = (_zeros_state(self._cell, B, self.hidden_size, self.dtype)
                          if states is None else self._state_at(states, k))
                (hs, last), cache = _unroll_forward(
                    self._cell, layer_input, state0, *self._layer_params(layer, direction),
                    self.activation, reverse=direction == 1)
                outputs.append(hs)
                caches.append(cache)
                finals.append(last)
            layer_input = outputs[0] if len(outputs) == 1 else np.concatenate(outputs, 2)
        self._cache = {"caches": caches, "unbatched": unbatched, "batch": B}
        output = layer_input[:, 0] if unbatched else (
            layer_input.transpose(1, 0, 2) if self.batch_first else layer_input)
        self._cache["out_shape"] = output.shape
        return output, self._stack_finals(finals, unbatched)

    __call__ = forward

    def _state_at(self, states, k):
        return states[k]

    def _stack_finals(self, finals, unbatched):
        h_n = np.stack(finals)
        return h_n[:, 0] if unbatched else h_n

    def backward(self, d_output, d_h_n=None, window=None):
        """Back-propagate through the last :meth:`forward` call.

        Parameters
        ----------
        d_output : ndarray
            dL/d(output), the shape of ``output``.
        d_h_n : ndarray, optional
            dL/d(h_n), the shape of ``h_n`` (for the LSTM the pair (d_h_n, d_c_n));
            zeros if None.
        window : int, optional
            Truncated BPTT with windows of this many steps (see :func:`unroll_backward`);
            None for full BPTT.

        Returns
        -------
        dx : ndarray
            dL/dx in the layout of ``x``. Also fills ``grads`` and ``d_hx``.
        """
        if self._cache is None:
            raise RuntimeError("call forward before backward")
        info = self._cache
        window = _check_window(window)
        B, unbatched = info["batch"], info["unbatched"]
        d_output = as_float_array(d_output, "d_output", dtype=self.dtype)
        check_shape(d_output, info["out_shape"], "d_output")
        d_seq = d_output[:, None, :] if unbatched else (
            d_output.transpose(1, 0, 2) if self.batch_first else d_output)
        d_states = self._check_hx(d_h_n, B, unbatched, name="d_h_n")
        H, dirs = self.hidden_size, self.num_directions
        grads, d_state0s = {}, [None] * (self.num_layers * dirs)
        for layer in reversed(range(self.num_layers)):
            d_input = None
            for direction in range(dirs):
                k = layer * dirs + direction
                cache = info["caches"][k]
                dstate = (_zeros_state(self._cell, B, H, self.dtype) if d_states is None
                          else self._state_at(d_states, k))
                dout = d_seq[:, :, direction * H:(direction + 1) * H]
                dx, d_state0s[k], g = _unroll_backward(dout, cache, dstate, window)
                d_input = dx if d_input is None else d_input + dx
                names = self._names(layer, direction)
                grads.update(zip(names, [g["W_xh"], g["W_hh"]] +
                                 ([g["b_xh"], g["b_hh"]] if self.bias else [])))
            d_seq = d_input
        self.grads = {name: grads[name] for name in self.params}
        self.d_hx = self._stack_finals(d_state0s, unbatched)
        return d_seq[:, 0] if unbatched else (
            d_seq.transpose(1, 0, 2) if self.batch_first else d_seq)

    # -- conversion -------------------------------------------------------------------

    def _torch_class(self):
        import torch
        return {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[self._cell]

    def _torch_kwargs(self):
        return dict(num_layers=self.num_layers, bias=self.bias,
                    batch_first=self.batch_first, bidirectional=self.bidirectional)

    def to_torch(self):
        """A torch module with the same configuration and (copied) parameters."""
        import torch
        dtype = getattr(torch, self.dtype.name)
        module = self._torch_class()(self.input_size, self.hidden_size, dtype=dtype,
                                     **self._torch_kwargs())
        with torch.no_grad():
            for name, p in module.named_parameters():
                p.copy_(torch.from_numpy(np.ascontiguousarray(self.params[name])))
        return module

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self._torch_kwargs().items())
        return (f"{type(self).__name__}({self.input_size}, {self.hidden_size}{extra}, "
                f"dtype={self.dtype.name})")


class RNN(RecurrentNetwork):
    r"""NumPy mirror of ``torch.nn.RNN``: h_t = phi(W_xh x_t + b_xh + W_hh h_{t-1} + b_hh).

    Same constructor arguments as torch (``dropout`` must be 0, ``device`` None or
    "cpu"), plus ``seed`` for the initial weights. ``nonlinearity`` is "tanh" or "relu"
    as in torch, or "linear" / "sigmoid" (no torch counterpart) for experiments. The
    default dtype is float64 (torch: float32). See :class:`RecurrentNetwork` for
    ``params``, ``grads``, ``d_hx``.
    """

    _cell = "rnn"

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh",
                 bias=True, batch_first=False, dropout=0.0, bidirectional=False,
                 device=None, dtype=None, *, seed=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, activation=nonlinearity, seed=seed)
        self.nonlinearity = self.activation

    def _torch_kwargs(self):
        if self.nonlinearity not in ("tanh", "relu"):
            raise ValueError("torch.nn.RNN supports nonlinearity 'tanh' or 'relu'; this "
                             f"model uses {self.nonlinearity!r}")
        return dict(super()._torch_kwargs(), nonlinearity=self.nonlinearity)


class GRU(RecurrentNetwork):
    r"""NumPy mirror of ``torch.nn.GRU`` (reset gate after the recurrent matrix).

    Same constructor arguments as torch plus ``seed``; float64 by default.
    See :func:`rnn_tutor.cells.gru_step_forward` for the equations and
    :class:`RecurrentNetwork` for ``forward``, ``backward``, ``params``, ``grads``.
    """

    _cell = "gru"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None,
                 dtype=None, *, seed=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, seed=seed)


class LSTM(RecurrentNetwork):
    r"""NumPy mirror of ``torch.nn.LSTM`` (gates i, f, g, o).

    Same constructor arguments as torch plus ``seed``; ``proj_size`` must be 0 (LSTM with
    projections is not mirrored); float64 by default. ``hx`` and ``d_h_n`` are pairs
    (h, c); ``forward`` returns ``(output, (h_n, c_n))`` and ``d_hx`` is the pair
    (d_h_0, d_c_0). ``d_h_n`` may hold None for one of the two (zeros). See
    :func:`rnn_tutor.cells.lstm_step_forward` for the equations and
    :class:`RecurrentNetwork` for ``forward``, ``backward``, ``params``, ``grads``.
    """

    _cell = "lstm"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None, *, seed=None):
        if check_nonnegative_int(proj_size, "proj_size") != 0:
            raise ValueError("LSTM with projections is not supported; expected "
                             f"proj_size=0, got {proj_size}")
        self.proj_size = 0
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, seed=seed)

    def _check_hx(self, hx, batch, unbatched, name="hx"):
        if hx is None:
            return None
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"{name} of an LSTM must be a pair (h, c) of arrays; got "
                            f"{type(hx).__name__}")
        pair = [self._check_hidden(s, batch, unbatched, f"{name}[{k}]")
                for k, s in enumerate(hx)]
        if (pair[0] is None) != (pair[1] is None):
            # Convenient for d_h_n: a loss that uses only h_n (or only c_n).
            shape = (self.num_layers * self.num_directions, batch, self.hidden_size)
            pair = [np.zeros(shape, self.dtype) if s is None else s for s in pair]
        return None if pair[0] is None else tuple(pair)

    def _state_at(self, states, k):
        return states[0][k], states[1][k]

    def _stack_finals(self, finals, unbatched):
        h_n = super()._stack_finals([h for h, _ in finals], unbatched)
        c_n = super()._stack_finals([c for _, c in finals], unbatched)
        return h_n, c_n


def from_torch(module):
    """A NumPy copy of a ``torch.nn.RNN``, ``torch.nn.LSTM`` or ``torch.nn.GRU``.

    The result's ``forward(x, hx=None)`` returns what ``module(x, hx)`` returns (as NumPy
    arrays, same structure and shapes), ``backward(d_output, d_h_n=None)`` returns dx
    and fills ``grads`` under ``module.named_parameters()`` names. Parameters are copied:
    later changes to ``module`` are not seen. dtype (float32/float64) is kept.

    Raises
    ------
    TypeError
        For any other module type, or parameters that are not float32/float64.
    ValueError
        For ``proj_size != 0`` or ``dropout != 0``.
    """
    import torch
    classes = {torch.nn.LSTM: LSTM, torch.nn.GRU: GRU, torch.nn.RNN: RNN}
    cls = next((c for t, c in classes.items() if isinstance(module, t)), None)
    if cls is None:
        raise TypeError("from_torch supports torch.nn.RNN, torch.nn.LSTM and torch.nn.GRU; "
                        f"got {type(module).__name__}")
    if getattr(module, "proj_size", 0):
        raise ValueError("LSTM with projections is not supported; expected proj_size=0, "
                         f"got {module.proj_size}")
    dtypes = {p.dtype for p in module.parameters()}
    if len(dtypes) != 1:
        raise TypeError(f"all parameters must share one dtype; got {sorted(map(str, dtypes))}")
    kwargs = dict(num_layers=module.num_layers, bias=module.bias,
                  batch_first=module.batch_first, dropout=module.dropout,
                  bidirectional=module.bidirectional, dtype=dtypes.pop())
    if cls is RNN:
        kwargs["nonlinearity"] = module.nonlinearity
    m = cls(module.input_size, module.hidden_size, **kwargs)
    for name, p in module.named_parameters():
        m.params[name] = p.detach().cpu().numpy().astype(m.dtype, copy=True)
    m._check_params()
    return m
