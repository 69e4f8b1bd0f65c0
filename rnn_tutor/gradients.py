"""How gradients travel back through time: Jacobians, gradient profiles, clipping, checks.

Backpropagation through time multiplies the gradient by one Jacobian per step. For the
vanilla RNN, ``h_t = phi(a_t)`` with ``a_t = W_xh x_t + b_xh + W_hh h_{t-1} + b_hh``,

    dh_t/dh_{t-1} = diag(phi'(a_t)) W_hh,

so the gradient of a loss L at step T, seen from step k, is

    dL/dh_k = (dh_T/dh_k)^T dL/dh_T,   dh_T/dh_k = J_T J_{T-1} ... J_{k+1}.

Its norm is at most ``(gamma * ||W_hh||)^(T-k) ||dL/dh_T||`` with gamma the largest value
of phi' (1 for tanh, relu and linear; 1/4 for sigmoid): the bound of Pascanu et al. (2013).
Below 1 the gradient vanishes exponentially; above 1 it may explode.
"""

from __future__ import annotations

import contextlib
import functools
import numbers

import numpy as np

from .validate import (as_float_array, check_choice, check_positive_float,
                        check_positive_int, check_shape)
from . import cells, layers
from .init import SCALE_BY, _resolve, recurrent_matrix, rng_from_seed

__all__ = [
    "ACTIVATION_NAMES", "CELLS", "spectral_norm", "spectral_radius",
    "check_rnn_inputs", "rnn_jacobian", "rnn_jacobians", "jacobian_products", "lstm_jacobian",
    "gru_jacobian", "profile_setup", "profile_from_setup", "gradient_profile", "rnn_profile",
    "clip_to_norm", "row_norms", "numerical_gradient", "rel_error",
    "check_clip_inputs", "p_norm", "clip_grad_norm", "clip_grad_value", "one_blas_thread",
]

#: The cells a gradient profile can run (the names of ``rnn_tutor.cells.CELLS``).
CELLS = tuple(cells.CELLS)
#: The vanilla RNN's nonlinearities; their values, derivatives and gamma = max phi'
#: (the factor in the Pascanu bound) live in ``rnn_tutor.cells.ACTIVATIONS``.
ACTIVATION_NAMES = tuple(cells.ACTIVATIONS)


# ----------------------------------------------------------------------------- spectra

def spectral_norm(W) -> float:
    """Largest singular value of ``W`` (its operator 2-norm)."""
    W = as_float_array(W, "W", ndim=2)
    return float(np.linalg.norm(W, 2))


def spectral_radius(W) -> float:
    """Largest absolute eigenvalue of the square matrix ``W``."""
    W = as_float_array(W, "W", ndim=2)
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"the spectral radius needs a square matrix; got shape {W.shape}")
    return float(np.max(np.abs(np.linalg.eigvals(W))))


# ----------------------------------------------------------------------------- Jacobians

def _rnn_weights(W_xh, W_hh, b_xh, b_hh):
    W_hh = as_float_array(W_hh, "W_hh", ndim=2)
    H = W_hh.shape[1]
    check_shape(W_hh, (H, H), "W_hh (vanilla RNN: (H, H))")
    W_xh = as_float_array(W_xh, "W_xh", ndim=2)
    check_shape(W_xh, (H, None), "W_xh")
    biases = []
    for name, vec in (("b_xh", b_xh), ("b_hh", b_hh)):
        if vec is not None:
            vec = as_float_array(vec, name, ndim=1)
            check_shape(vec, (H,), name)
        biases.append(vec)
    return W_xh, W_hh, *biases


def check_rnn_inputs(x, h_prev, W_xh, W_hh, b_xh=None, b_hh=None):
    """Validate one vanilla RNN step's inputs: one example or a batch of them.

    Parameters
    ----------
    x : array_like, shape (D,) or (B, D)
    h_prev : array_like, shape (H,) or (B, H), the same number of dimensions as ``x``
    W_xh, W_hh, b_xh, b_hh : array_like
        Shapes (H, D), (H, H), (H,), (H,); the biases may be None.

    Returns
    -------
    x, h_prev, W_xh, W_hh, b_xh, b_hh
        As float arrays. TypeError or ValueError, naming the argument, otherwise.
    """
    W_xh, W_hh, b_xh, b_hh = _rnn_weights(W_xh, W_hh, b_xh, b_hh)
    x = as_float_array(x, "x", ndim=(1, 2))
    h_prev = as_float_array(h_prev, "h_prev", ndim=x.ndim)
    H, D = W_xh.shape
    check_shape(x, x.shape[:-1] + (D,), "x")
    check_shape(h_prev, x.shape[:-1] + (H,), "h_prev (same batch as x)")
    return x, h_prev, W_xh, W_hh, b_xh, b_hh


def rnn_jacobian(x, h_prev, W_xh, W_hh, b_xh=None, b_hh=None, activation="tanh"):
    """Exact one-step Jacobian ``dh_t/dh_{t-1} = diag(phi'(a_t)) W_hh`` of a vanilla RNN.

    Parameters
    ----------
    x : array of shape (D,) or (B, D)
    h_prev : array of shape (H,) or (B, H)
    W_xh, W_hh, b_xh, b_hh : the cell's parameters in torch layout ((H, D), (H, H), (H,)).
    activation : {"tanh", "relu", "linear", "sigmoid"}

    Returns
    -------
    J : array of shape (H, H), or (B, H, H) for a batch; ``J[i, j] = dh_t[i] / dh_{t-1}[j]``.
    """
    x, h_prev, W_xh, W_hh, b_xh, b_hh = check_rnn_inputs(x, h_prev, W_xh, W_hh, b_xh, b_hh)
    h, _ = cells.rnn_step_forward(np.atleast_2d(x), np.atleast_2d(h_prev), W_xh, W_hh,
                                  b_xh, b_hh, activation)             # h_t = phi(a_t)
    dphi = cells.rnn_gates_derivatives(h, cells.get_activation(activation))   # phi'(a_t)
    J = dphi[:, :, None] * W_hh                                 # diag(phi'(a_t)) W_hh
    return J if x.ndim == 2 else J[0]


def rnn_jacobians(xs, h0, W_xh, W_hh, b_xh=None, b_hh=None, activation="tanh"):
    """The Jacobians ``J_t = dh_t/dh_{t-1}`` along one sequence.

    ``xs`` has shape (T, D) and ``h0`` shape (H,); returns an array of shape (T, H, H)
    whose entry ``t - 1`` is ``J_t`` (t = 1..T).
    """
    W_xh, W_hh, b_xh, b_hh = _rnn_weights(W_xh, W_hh, b_xh, b_hh)
    H, D = W_xh.shape
    xs = as_float_array(xs, "xs", ndim=2)
    check_shape(xs, (None, D), "xs (T, D)")
    h0 = as_float_array(h0, "h0", ndim=1)
    check_shape(h0, (H,), "h0")
    (hs, _), _ = layers.unroll_forward("rnn", xs[:, None], h0[None], W_xh, W_hh, b_xh, b_hh,
                                       activation)
    dphi = cells.rnn_gates_derivatives(hs[:, 0], cells.get_activation(activation))
    return dphi[:, :, None] * W_hh


def jacobian_products(jacobians):
    """All products ``dh_T/dh_k = J_T J_{T-1} ... J_{k+1}`` for k = 0..T.

    ``jacobians`` has shape (T, H, H) with entry ``t - 1`` holding ``J_t``. Returns
    shape (T + 1, H, H): entry k is dh_T/dh_k, and entry T is the identity.
    """
    J = as_float_array(jacobians, "jacobians", ndim=3, allow_nonfinite=True)
    T, H, H2 = J.shape
    if H != H2:
        raise ValueError(f"jacobians must have shape (T, H, H); got {J.shape}")
    P = np.empty((T + 1, H, H))
    P[T] = np.eye(H)
    with np.errstate(all="ignore"):
        for k in range(T - 1, -1, -1):
            P[k] = P[k + 1] @ J[k]
    return P


def _rows(v, n):
    """A batch of n copies of the vector v: the same step, evaluated n times."""
    return np.repeat(v[None, :], n, axis=0)


def lstm_jacobian(x, h_prev, c_prev, W_xh, W_hh, b_xh=None, b_hh=None):
    """Jacobian of one LSTM step, ``d(h_t, c_t) / d(h_{t-1}, c_{t-1})``, shape (2H, 2H).

    Rows 0..H-1 are h_t, rows H..2H-1 are c_t; columns likewise h_{t-1} then c_{t-1}.
    Computed exactly with :func:`rnn_tutor.cells.lstm_step_backward`: backpropagating the
    one-hot vector e_i gives row i of the Jacobian, so a batch of 2H one-hot vectors
    gives all of it in one call. ``x`` has shape (D,), ``h_prev`` and ``c_prev`` (H,).
    """
    x = as_float_array(x, "x", ndim=1)
    h_prev = as_float_array(h_prev, "h_prev", ndim=1)
    c_prev = as_float_array(c_prev, "c_prev", ndim=1)
    H = h_prev.shape[0]
    check_shape(c_prev, (H,), "c_prev (same size as h_prev)")
    n = 2 * H
    _, cache = cells.lstm_step_forward(_rows(x, n), _rows(h_prev, n), _rows(c_prev, n),
                                       W_xh, W_hh, b_xh, b_hh)
    eye = np.eye(n)                        # row i: the one-hot upstream gradient e_i
    _, (dh_prev, dc_prev), _ = cells.lstm_step_backward((eye[:, :H], eye[:, H:]), cache)
    return np.concatenate([dh_prev, dc_prev], axis=1)


def gru_jacobian(x, h_prev, W_xh, W_hh, b_xh=None, b_hh=None):
    """Jacobian ``dh_t/dh_{t-1}`` of one GRU step (PyTorch convention), shape (H, H).

    Computed exactly with :func:`rnn_tutor.cells.gru_step_backward` on a batch of H
    one-hot upstream gradients (row i of the Jacobian is e_i backpropagated).
    """
    x = as_float_array(x, "x", ndim=1)
    h_prev = as_float_array(h_prev, "h_prev", ndim=1)
    H = h_prev.shape[0]
    _, cache = cells.gru_step_forward(_rows(x, H), _rows(h_prev, H), W_xh, W_hh, b_xh, b_hh)
    _, dh_prev, _ = cells.gru_step_backward(np.eye(H), cache)
    return dh_prev


# ----------------------------------------------------------------------------- profiles

_blas = None


@contextlib.contextmanager
def one_blas_thread():
    """Run the enclosed NumPy code with BLAS limited to one thread (costs about 10 us).

    A profile is hundreds of products of an H-vector with an H x H matrix: threads do not
    speed those up, and on a busy machine waking them at every step made a profile
    (T=200, H=64) several times slower. Does nothing if threadpoolctl is missing.
    """
    global _blas
    try:
        if _blas is None:
            from threadpoolctl import ThreadpoolController
            _blas = ThreadpoolController()
        limit = _blas.limit(limits=1, user_api="blas")
    except ImportError:
        limit = contextlib.nullcontext()
    with limit:
        yield


def _stream(seed, k):
    """Independent random stream k for a profile's ingredient (0 = W_hh, 1 = W_xh, ...).

    Stream 0 is ``rng_from_seed(seed)`` itself, so W_hh equals
    ``recurrent_matrix(..., seed=seed)``. For a Generator every stream is that Generator.
    """
    if k == 0 or seed is None or isinstance(seed, np.random.Generator):
        return rng_from_seed(seed)
    rng_from_seed(seed)                           # validate
    return np.random.default_rng([int(seed), k])


def _is_int(seed):
    return isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0


def _draw_inputs(seed, GH, D, T, H):
    """W_xh before scaling (streams 1), inputs (2) and the unit vector u (3), read-only."""
    W_xh = _stream(seed, 1).standard_normal((GH, D))
    xs = _stream(seed, 2).standard_normal((T, D))
    u = _stream(seed, 3).standard_normal(H)
    u /= np.linalg.norm(u)
    for a in (W_xh, xs, u):
        a.setflags(write=False)
    return W_xh, xs, u


_draw_inputs_cached = functools.lru_cache(maxsize=32)(_draw_inputs)


def _draws(seed, GH, D, T, H):
    """:func:`_draw_inputs`, cached for int seeds (same numbers; a drag redraws nothing)."""
    if _is_int(seed):
        return _draw_inputs_cached(int(seed), GH, D, T, H)
    return _draw_inputs(seed, GH, D, T, H)


def profile_setup(cell, T, hidden_size, scale, activation="tanh", init="orthogonal",
                  seed=0, *, input_size=None, input_scale=1.0, forget_bias=0.0,
                  scale_by="norm"):
    """The network and data behind :func:`gradient_profile`, as a dict.

    Same arguments as :func:`gradient_profile`. Keys: ``xs`` (T, D) inputs,
    ``W_xh`` (G*H, D), ``W_hh`` (G*H, H), ``b_xh`` and ``b_hh`` (G*H,), ``h0`` (H,)
    zeros, ``u`` (H,) unit vector, plus ``cell`` and ``activation``.
    """
    check_choice(cell, CELLS, "cell")
    T = check_positive_int(T, "T")
    H = check_positive_int(hidden_size, "hidden_size")
    scale = check_positive_float(scale, "scale")
    cells.get_activation(activation)
    _resolve(init)
    check_choice(scale_by, SCALE_BY, "scale_by")
    D = H if input_size is None else check_positive_int(input_size, "input_size")
    input_scale = check_positive_float(input_scale, "input_scale", allow_zero=True)
    if not isinstance(forget_bias, numbers.Real) or isinstance(forget_bias, bool):
        raise TypeError(f"forget_bias must be a real number; got {forget_bias!r} "
                        f"({type(forget_bias).__name__})")
    if not np.isfinite(forget_bias):
        raise ValueError(f"forget_bias must be finite; got {forget_bias}")
    G = cells.CELLS[cell].num_gates

    # An int seed goes through as it is: stream 0 is rng_from_seed(seed) itself, and
    # recurrent_matrix caches its draws per int seed (a slider drag redraws nothing).
    W_hh = recurrent_matrix(init, H, scale, seed=seed if _is_int(seed) else _stream(seed, 0),
                            scale_by=scale_by, gates=G)
    W_xh, xs, u = _draws(seed, G * H, D, T, H)
    W_xh = W_xh * (input_scale / np.sqrt(D))      # each unit's input drive: sd ~ input_scale
    b_hh = np.zeros(G * H)
    if cell == "lstm":
        b_hh[H:2 * H] = float(forget_bias)         # gates are packed i, f, g, o
    return {"cell": cell, "activation": activation, "xs": xs.copy(), "W_xh": W_xh,
            "W_hh": W_hh, "b_xh": np.zeros(G * H), "b_hh": b_hh, "h0": np.zeros(H),
            "u": u.copy()}


def row_norms(G):
    """Euclidean norm of each row of ``G``, without overflow when entries are near 1e200."""
    m = np.max(np.abs(G), axis=1)
    safe = np.where((m > 0) & np.isfinite(m), m, 1.0)
    return np.where(np.isfinite(m), safe * np.sqrt(np.sum((G / safe[:, None]) ** 2, axis=1)),
                    m)


def _clip_factor(g, clip):
    """Factor that rescales ``g`` to norm ``clip`` if it is longer, else 1 (per-step clip)."""
    if clip is None:
        return 1.0
    n = np.sqrt(np.sum(g * g))
    if not np.isfinite(n):                           # overflow in the squares, or inf/NaN
        n = row_norms(g.reshape(1, -1))[0]
    return clip / n if n > clip else 1.0


def clip_to_norm(g, clip):
    """``g`` rescaled to Euclidean norm ``clip`` if it is longer (``clip=None``: ``g``).

    The per-step clipping of :func:`gradient_profile` (exactly ``clip``, no 1e-6 as in
    :func:`clip_grad_norm`); a new array, ``g`` is not changed.
    """
    f = _clip_factor(g, clip)
    return g if f == 1.0 else g * f


def rnn_profile(setup, clip=None):
    r"""The vanilla RNN's gradient profile: ``||dL/dh_k||`` for k = 0..T, L = u . h_T.

    One forward pass through :func:`rnn_tutor.layers.rnn_forward`, then the backward
    recursion ``dL/dh_{t-1} = (phi'(a_t) * dL/dh_t) W_hh`` with the cell's
    :func:`~rnn_tutor.cells.rnn_gates_derivatives`: vector-matrix products only, no
    Jacobian and no weight gradient. ``setup`` is a dict from :func:`profile_setup`;
    ``clip`` as in :func:`gradient_profile` (which checks both). Returns shape (T + 1,).
    """
    xs, W_hh, u = setup["xs"], setup["W_hh"], setup["u"]
    phi = cells.get_activation(setup["activation"])
    hs, _, _ = layers.rnn_forward(xs[:, None], setup["h0"][None], setup["W_xh"], W_hh,
                                  setup["b_xh"] + setup["b_hh"], phi)     # h_1..h_T
    dphi = cells.rnn_gates_derivatives(hs[:, 0], phi)   # phi'(a_t) for every step at once
    T = len(xs)
    grads = np.empty((T + 1, len(u)))                   # row k: dL/dh_k
    g = grads[T] = clip_to_norm(u, clip)
    for t in range(T, 0, -1):                           # dL/dh_{t-1} = (phi'(a_t) * g) W_hh
        da = cells.rnn_backward_from_derivatives(g, dphi[t - 1])
        g = grads[t - 1] = clip_to_norm(da @ W_hh, clip)
    return row_norms(grads)


def _lstm_profile(s, clip):
    # Forward with cells' gate function, keeping only what the backward needs; then the
    # local derivatives of all T steps in one vectorised call (rows = time steps), and a
    # backward of vector operations only: (dh, dc) -> (dh_prev, dc_prev) through
    # cells.lstm_backward_from_derivatives and one product with W_hh per step.
    xs, W_hh, u = s["xs"], s["W_hh"], s["u"]
    T, H = len(xs), len(u)
    A = xs @ s["W_xh"].T + (s["b_xh"] + s["b_hh"])      # (T, 4H) input terms, all at once
    W_hh_T = np.ascontiguousarray(W_hh.T)
    h, c = s["h0"][None, :], np.zeros((1, H))
    cs, tanh_cs = [c], []                                # c_0..c_T and tanh(c_1..c_T)
    for a in A[:, None, :]:                              # rows as (1, 4H) views
        a += h @ W_hh_T
        h, c, _, tanh_c = cells.lstm_gates_forward(a, c, out=a)   # gates overwrite a
        cs.append(c)
        tanh_cs.append(tanh_c)
    K = cells.lstm_gates_derivatives(np.concatenate(cs[:T]), A, np.concatenate(tanh_cs))
    grads = np.empty((T + 1, H))                         # row k: dL/dh_k
    da = np.empty((1, 4 * H))
    dh, dc = grads[T:], np.zeros((1, H))
    dh[:] = clip_to_norm(u, clip)
    for K_t, dh_prev in zip(K[::-1, None], grads[T - 1::-1, None]):
        _, dc = cells.lstm_backward_from_derivatives(dh, dc, K_t, out=da)
        dh = dh_prev
        np.dot(da, W_hh, out=dh)
        if clip is not None:                             # rescale (dh, dc) together, as one
            f = _clip_factor(dh, clip)                   # state, so its direction is kept
            dh *= f
            dc *= f
    return row_norms(grads)


def _gru_profile(s, clip):
    # Same plan as the LSTM: cells' gate function forward, all local derivatives at once,
    # then dh -> dh_prev = dh z + (dh K) @ W_hh, one vector-matrix product per step.
    xs, W_hh, b_hh, u = s["xs"], s["W_hh"], s["b_hh"], s["u"]
    T, H = len(xs), len(u)
    AX = xs @ s["W_xh"].T + s["b_xh"]                    # (T, 3H): the a_x of every step
    AH = np.empty_like(AX)
    W_hh_T = np.ascontiguousarray(W_hh.T)
    h = s["h0"][None, :]
    hs, gates = [h], []                                  # h_0..h_T and the gates
    for ax, ah in zip(AX[:, None, :], AH[:, None, :]):   # rows as (1, 3H) views
        np.dot(h, W_hh_T, out=ah)
        ah += b_hh
        h, g = cells.gru_gates_forward(ax, ah, h)
        hs.append(h)
        gates.append(g)
    K = cells.gru_gates_derivatives(np.concatenate(hs[:T]), AH, np.concatenate(gates))
    grads = np.empty((T + 1, H))
    dah = np.empty((1, 3 * H))
    dh = grads[T:T + 1]
    dh[:] = clip_to_norm(u, clip)
    for K_t, dh_prev in zip(K[::-1, None], grads[T - 1::-1, None]):
        _, dh_direct = cells.gru_backward_from_derivatives(dh, K_t, out=dah)
        dh = dh_prev
        np.dot(dah, W_hh, out=dh)
        dh += dh_direct
        if clip is not None:
            dh *= _clip_factor(dh, clip)
    return row_norms(grads)


_PROFILES = {"rnn": rnn_profile, "lstm": _lstm_profile, "gru": _gru_profile}


def gradient_profile(cell, T, hidden_size, scale, activation="tanh", init="orthogonal",
                     seed=0, *, input_size=None, input_scale=1.0, forget_bias=0.0,
                     scale_by="norm", clip=None):
    """How the gradient's size changes as it flows back from step T to step k.

    Runs one cell (``h_0 = 0``) over T random inputs and returns, for k = 0..T,

        profile[k] = || dL/dh_k ||_2,   with  L = u . h_T,

    the Euclidean norm of the gradient of L with respect to the hidden state h_k (for
    the LSTM: with respect to h_k alone, the cell state c_k being a separate variable),
    where u is a fixed unit vector drawn from ``seed``. So ``profile[T] == 1`` and
    ``profile[k]`` is the factor by which the gradient grew or shrank over T - k steps.
    For ``cell="rnn"``, ``activation="linear"`` and ``init="orthogonal"`` it is exactly
    ``scale ** (T - k)``; for tanh it never exceeds that (Pascanu et al., 2013).

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    T : int
        Number of steps.
    hidden_size : int
        H.
    scale : float
        Scale of W_hh (of each H x H gate block for LSTM/GRU), see ``scale_by``.
    activation : {"tanh", "relu", "linear", "sigmoid"}
        The RNN's nonlinearity; ignored by the LSTM and GRU (their nonlinearities are fixed).
    init : str
        Initialiser of W_hh (see :data:`rnn_tutor.init.INIT_NAMES`).
    seed : int, np.random.Generator or None
        Draws W_hh (the same matrix as ``rnn_tutor.init.recurrent_matrix(init,
        hidden_size, scale, seed, scale_by, gates)``), W_xh, the inputs and u.
    input_size : int, optional
        D, the input dimension (default H). Inputs x_t ~ N(0, I).
    input_scale : float, default 1
        W_xh ~ N(0, input_scale^2 / D), so each unit's input drive has standard deviation
        about ``input_scale``; 0 switches the input off (then tanh stays at h = 0, where
        it behaves exactly like the linear cell).
    forget_bias : float, default 0
        LSTM only: bias of the forget gate (b_hh's block f); larger keeps more memory.
    scale_by : {"norm", "radius", "none"}
        "norm" (default): largest singular value of W_hh equals ``scale``; with
        ``init="orthogonal"`` all singular values do. "radius": spectral radius equals
        ``scale``. "none": the initialiser's own scaling times ``scale``.
    clip : float > 0, optional
        Per-step clipping inside BPTT (as Graves, 2013, did for LSTM derivatives): going
        back from step T, whenever ``||dL/dh_k||`` exceeds ``clip`` it is rescaled to norm
        ``clip`` before it is propagated to step k - 1, and the profile reports the
        clipped norms (so entry T is ``min(1, clip)``). For the LSTM the pair
        (dL/dh_k, dL/dc_k) is rescaled by the factor that clips dL/dh_k, so the whole
        state's gradient keeps its direction. Default None: no clipping.

    Returns
    -------
    ndarray of shape (T + 1,)
        Entry k is ||dL/dh_k||. Overflow and underflow are not errors here: entries can be
        inf, nan or 0 (no warning), so a plot can show an explosion instead of crashing.

    Notes
    -----
    For ``cell="rnn"`` this is :func:`rnn_profile`: one forward loop and one backward loop
    of vector-matrix products (about 2 ms at T=200, H=64). LSTM and GRU
    run forward with the gate functions of :mod:`rnn_tutor.cells`, then take the local
    derivatives of all steps at once (``cells.lstm_gates_derivatives``,
    ``gru_gates_derivatives``) and go back with vector operations only
    (``cells.lstm_backward_from_derivatives``, ``gru_backward_from_derivatives``): no
    Jacobians, no weight gradients.
    """
    s = profile_setup(cell, T, hidden_size, scale, activation, init, seed,
                      input_size=input_size, input_scale=input_scale,
                      forget_bias=forget_bias, scale_by=scale_by)
    return profile_from_setup(s, clip)


def profile_from_setup(setup, clip=None):
    """:func:`gradient_profile` of a network already built by :func:`profile_setup`.

    Lets a caller that needs several profiles of one network (with and without ``clip``)
    build W_hh and draw the inputs once. Returns the same array as
    :func:`gradient_profile` with the same arguments.
    """
    if not isinstance(setup, dict) or "cell" not in setup:
        raise TypeError("setup must be the dict returned by profile_setup; got "
                        f"{type(setup).__name__}")
    if clip is not None:
        clip = check_positive_float(clip, "clip")
    with np.errstate(all="ignore"), one_blas_thread():
        norms = _PROFILES[setup["cell"]](setup, clip)
        # ||u|| = 1 up to rounding; dividing by it makes entry T exactly 1 (without clip)
        # and every entry the growth factor over T - k steps.
        return norms / row_norms(setup["u"][None, :])[0]


# ----------------------------------------------------------------------------- checks

def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of a scalar function: (f(x + eps e_i) - f(x - eps e_i)) / 2eps.

    ``x`` must be a float64 ndarray. It is perturbed *in place*, one entry at a time, and
    restored exactly afterwards, so ``f`` may either use its argument or read ``x``
    through a closure (e.g. a weight matrix inside a model). Costs 2 * x.size calls of f.
    The error is O(eps^2) truncation plus O(machine eps / eps) round-off: 1e-6 balances
    them in float64. Float32 is refused: its round-off swamps the difference.
    """
    if not callable(f):
        raise TypeError(f"f must be a callable returning a scalar; got {type(f).__name__}")
    if not isinstance(x, np.ndarray):
        raise TypeError("x must be a float64 NumPy array (it is perturbed in place); got "
                        f"{type(x).__name__}")
    if x.dtype != np.float64:
        raise TypeError(f"x must have dtype float64 for a finite-difference check; got "
                        f"{x.dtype} (float32 round-off is larger than the differences)")
    if not x.flags.writeable:
        raise ValueError("x must be writeable: it is perturbed in place and restored")
    eps = check_positive_float(eps, "eps")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        f_plus = _scalar(f(x))
        x[i] = old - eps
        f_minus = _scalar(f(x))
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def _scalar(value):
    arr = np.asarray(value)
    if arr.size != 1 or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"f must return a single number; got {type(value).__name__} "
                         f"with shape {arr.shape}")
    return float(arr.reshape(()))


def rel_error(a, b, floor=1e-8):
    """Largest element-wise relative error ``|a - b| / max(|a| + |b|, floor)``.

    Shapes must match exactly (nothing is broadcast). Around 1e-7 or below means a
    float64 analytic gradient agrees with a finite-difference one; 1e-2 means a bug.
    """
    a = as_float_array(a, "a", allow_nonfinite=True)
    b = as_float_array(b, "b", allow_nonfinite=True)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    floor = check_positive_float(floor, "floor")
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)))


# ----------------------------------------------------------------------------- clipping

def _grad_arrays(grads):
    """The arrays in a dict (e.g. ``m.grads``), a list/tuple, or a single array."""
    if isinstance(grads, np.ndarray):
        items = [("grads", grads)]
    elif isinstance(grads, dict):
        items = [(f"grads[{k!r}]", g) for k, g in grads.items()]
    elif isinstance(grads, (list, tuple)):
        items = [(f"grads[{i}]", g) for i, g in enumerate(grads)]
    else:
        raise TypeError("grads must be a dict of arrays (like m.grads), a list of arrays or "
                        f"one array; got {type(grads).__name__}")
    arrays = []
    for name, g in items:
        if g is None:                                # like torch: parameters without grad
            continue
        if not isinstance(g, np.ndarray) or not np.issubdtype(g.dtype, np.floating):
            what = g.dtype if isinstance(g, np.ndarray) else type(g).__name__
            raise TypeError(f"{name} must be a NumPy float array (clipping works in place);"
                            f" got {what}")
        if not g.flags.writeable:
            raise ValueError(f"{name} must be writeable: clipping works in place")
        arrays.append(g)
    return arrays


def _threshold(value, name):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real number >= 0; got {value!r} "
                        f"({type(value).__name__})")
    value = float(value)
    if not value >= 0:                               # also catches NaN
        raise ValueError(f"{name} must be >= 0 (inf means no clipping); got {value}")
    return value


def _norm_type(norm_type):
    if isinstance(norm_type, str) and norm_type.lower() == "inf":
        return np.inf
    if not isinstance(norm_type, numbers.Real) or isinstance(norm_type, bool):
        raise TypeError(f"norm_type must be a number > 0 or 'inf'; got {norm_type!r}")
    p = float(norm_type)
    if not p > 0:
        raise ValueError(f"norm_type must be > 0 or inf; got {norm_type}")
    return p


def check_clip_inputs(grads, threshold, norm_type=2.0, name="max_norm"):
    """Validate clipping's arguments; returns ``(threshold, p, arrays)``.

    ``grads`` is a dict of arrays (like ``m.grads``), a list/tuple or one array; the
    result ``arrays`` lists its float, writeable arrays (None entries skipped, as torch
    does). ``threshold`` must be a real number >= 0 (``name`` labels it in errors),
    ``norm_type`` a number > 0 or "inf" (returned as the float ``p``).
    """
    return _threshold(threshold, name), _norm_type(norm_type), _grad_arrays(grads)


def p_norm(v, p):
    """The p-norm of all entries of ``v`` (an array or a list of numbers), as a float."""
    v = np.abs(np.asarray(v, dtype=np.float64).ravel())
    if v.size == 0:
        return 0.0
    if p == np.inf:
        return float(np.max(v))
    if p == 2:
        return float(np.sqrt(np.dot(v, v)))
    return float(np.sum(v ** p) ** (1.0 / p))


def clip_grad_norm(grads, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Rescale gradients in place so their total norm is at most ``max_norm``.

    Mirrors ``torch.nn.utils.clip_grad_norm_``: the total norm is the p-norm of all
    gradients viewed as one long vector, and every gradient is multiplied by

        min(max_norm / (total_norm + 1e-6), 1).

    The 1e-6 keeps the division safe, so a clipped norm lands just below max_norm.

    Parameters
    ----------
    grads : dict of arrays (e.g. ``m.grads``), list of arrays, or one array
        Float arrays, modified in place. None entries are skipped, as torch does.
    max_norm : float >= 0
        ``inf`` measures without clipping.
    norm_type : float > 0 or "inf"
    error_if_nonfinite : bool
        Raise RuntimeError (as torch does) instead of scaling by a NaN/inf norm.

    Returns
    -------
    float
        The total norm *before* clipping (0.0 for no gradients).
    """
    max_norm, p, arrays = check_clip_inputs(grads, max_norm, norm_type)
    if not arrays:
        return 0.0
    with np.errstate(all="ignore"):
        total = p_norm([p_norm(g, p) for g in arrays], p)   # all gradients as one vector
        if error_if_nonfinite and not np.isfinite(total):
            raise RuntimeError(f"the total norm of order {p} of the gradients is {total}, "
                               "so they cannot be clipped; pass error_if_nonfinite=False "
                               "to scale by it anyway")
        coef = np.minimum(max_norm / (total + 1e-6), 1.0)
        for g in arrays:
            g *= coef
    return total


def clip_grad_value(grads, clip):
    """Clip every gradient entry into ``[-clip, clip]`` in place (``clip_grad_value_``).

    Element-wise clipping (as in min-char-rnn) changes the gradient's direction;
    :func:`clip_grad_norm` only shortens it. Returns None, like torch.
    """
    clip, _, arrays = check_clip_inputs(grads, clip, name="clip")
    for g in arrays:
        np.clip(g, -clip, clip, out=g)
