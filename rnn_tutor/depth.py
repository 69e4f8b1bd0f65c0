"""Deep (stacked) recurrent networks: parameters, the stacked recurrence, gradients in 2-D.

A stack of L recurrent layers feeds the hidden states of layer l - 1 to layer l as its
inputs, at every step:

    h_t^(l) = phi(h_t^(l-1) W_xh^(l)T + h_{t-1}^(l) W_hh^(l)T + b^(l)),   h_t^(0) = x_t.

- :func:`parameter_count` is the closed-form number of parameters of a
  ``torch.nn.RNN/LSTM/GRU`` with ``num_layers`` layers.
- :func:`stacked_forward` and :func:`stacked_backward` run such a stack in NumPy, one
  layer at a time with :func:`rnn_tutor.layers.unroll_forward` /
  :func:`rnn_tutor.layers.unroll_backward`, optionally with **residual** (skip)
  connections between layers (layer l >= 2 adds its input to its output) and with
  **dropout between layers** given as explicit masks (so that a run can be checked
  against PyTorch by feeding it the masks PyTorch drew). :func:`weights_from_torch`
  reads the per-layer weights of a torch module (including
  :class:`rnn_tutor.models.StackedRecurrent`).
- :func:`state_gradients` gives the gradient of the loss with respect to every hidden
  state h_t^(l) of a stack (both routes: from the layer above and from the next step),
  and :func:`layer_time_profile` the norms of these gradients over layers and time for a
  network with chosen weight scales: the data of the chapter's heatmap.
- :func:`run` trains a character language model of a given depth under a CPU budget
  (the settings of :mod:`rnn_tutor.showdown`) and returns a row of results.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from . import layers
from .init import orthogonal, recurrent_matrix, rng_from_seed
from .validate import (as_float_array, check_choice, check_nonnegative_int,
                        check_positive_float, check_positive_int, check_shape)

__all__ = ["parameter_count", "random_layers", "weights_from_torch", "stacked_forward",
           "stacked_backward", "state_gradients", "layer_time_profile", "profile_heatmap",
           "run", "RUN_SETTINGS"]


def _cell_name(cell):
    return check_choice(cell, tuple(layers.CELLS), "cell")


# ----------------------------------------------------------------------------------------
# Counting
# ----------------------------------------------------------------------------------------

def parameter_count(cell, input_size, hidden_size, num_layers=1, bias=True,
                    bidirectional=False):
    """Parameters of ``torch.nn.RNN/LSTM/GRU(input_size, hidden_size, num_layers, ...)``.

    Layer 1 reads D = ``input_size`` inputs, every higher layer the D_l = H (or 2H for a
    bidirectional stack) outputs of the layer below. Each layer and direction has
    G*H*D_l input weights, G*H*H recurrent weights and two bias vectors of G*H
    (PyTorch's b_xh and b_hh), with G gate blocks (1 RNN, 4 LSTM, 3 GRU).
    """
    G = layers.CELLS[_cell_name(cell)]
    D, H = check_positive_int(input_size, "input_size"), check_positive_int(hidden_size,
                                                                            "hidden_size")
    L = check_positive_int(num_layers, "num_layers")
    dirs = 2 if bidirectional else 1
    total = 0
    for layer in range(L):
        D_l = D if layer == 0 else dirs * H
        total += dirs * (G * H * D_l + G * H * H + (2 * G * H if bias else 0))
    return total


# ----------------------------------------------------------------------------------------
# Weights
# ----------------------------------------------------------------------------------------

def random_layers(cell, num_layers, input_size, hidden_size, scale=1.0, input_scale=1.0,
                  forget_bias=0.0, seed=0):
    """Weights of a stack for gradient experiments: a list of per-layer dicts.

    Every H x H block of each layer's W_hh is orthogonal with all singular values
    ``scale``; every H-row block of W_xh has orthonormal rows (or columns) times
    ``input_scale``; biases are 0 except an LSTM's forget-gate bias. Keys: ``W_xh``,
    ``W_hh``, ``b_xh``, ``b_hh`` (the arguments of :func:`rnn_tutor.layers.unroll_forward`).
    """
    G = layers.CELLS[_cell_name(cell)]
    L = check_positive_int(num_layers, "num_layers")
    D, H = check_positive_int(input_size, "input_size"), check_positive_int(hidden_size,
                                                                            "hidden_size")
    scale = check_positive_float(scale, "scale")
    input_scale = check_positive_float(input_scale, "input_scale")
    rng = rng_from_seed(seed)
    weights = []
    for layer in range(L):
        D_l = D if layer == 0 else H
        b_hh = np.zeros(G * H)
        if cell == "lstm":
            b_hh[H:2 * H] = float(forget_bias)
        weights.append({
            "W_xh": np.concatenate([orthogonal((H, D_l), gain=input_scale, seed=rng)
                                    for _ in range(G)]),
            "W_hh": recurrent_matrix("orthogonal", H, scale, seed=rng, gates=G),
            "b_xh": np.zeros(G * H), "b_hh": b_hh})
    return weights


def weights_from_torch(module):
    """The per-layer weights of a torch stack as NumPy float64, for :func:`stacked_forward`.

    ``module`` is a one-direction ``torch.nn.RNN/LSTM/GRU`` (any ``num_layers``) or a
    :class:`rnn_tutor.models.StackedRecurrent`. Returns ``(cell, weights)``.
    """
    import torch
    from .models import StackedRecurrent
    if isinstance(module, StackedRecurrent):
        cell, modules = module.cell, list(module.layers)
    elif isinstance(module, (torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU)):
        cell = {torch.nn.LSTM: "lstm", torch.nn.GRU: "gru"}.get(type(module), "rnn")
        modules = [module]
    else:
        raise TypeError("module must be a torch.nn.RNN, LSTM or GRU or a "
                        f"models.StackedRecurrent; got {type(module).__name__}")
    weights = []
    for m in modules:
        if m.bidirectional or not m.bias or getattr(m, "proj_size", 0):
            raise ValueError("weights_from_torch reads one-direction stacks with biases "
                             "and no projections")
        if cell == "rnn" and m.nonlinearity != "tanh":
            raise ValueError("weights_from_torch reads tanh RNNs (stacked_forward's "
                             "activation argument sets phi)")
        for k in range(m.num_layers):
            weights.append({key: getattr(m, f"{name}_l{k}").detach().double().numpy().copy()
                            for key, name in (("W_xh", "weight_ih"), ("W_hh", "weight_hh"),
                                              ("b_xh", "bias_ih"), ("b_hh", "bias_hh"))})
    return cell, weights


# ----------------------------------------------------------------------------------------
# The stack, forward and backward
# ----------------------------------------------------------------------------------------

def _check_stack(cell, x, weights, dropout_masks):
    cell = _cell_name(cell)
    x = as_float_array(x, "x", ndim=3)
    if not isinstance(weights, (list, tuple)) or not weights or not all(
            isinstance(w, dict) and {"W_xh", "W_hh"} <= set(w) for w in weights):
        raise TypeError("weights must be a non-empty list of dicts with W_xh, W_hh (and "
                        "b_xh, b_hh), one per layer, e.g. from random_layers")
    if dropout_masks is not None:
        if len(dropout_masks) != len(weights) - 1:
            raise ValueError(f"dropout_masks needs one mask per layer but the last "
                             f"({len(weights) - 1}); got {len(dropout_masks)}")
        T, B = x.shape[:2]
        H = np.shape(weights[0]["W_hh"])[1]
        dropout_masks = [as_float_array(m, f"dropout_masks[{k}]", ndim=3)
                         for k, m in enumerate(dropout_masks)]
        for k, m in enumerate(dropout_masks):
            check_shape(m, (T, B, H), f"dropout_masks[{k}]")
    return cell, x, dropout_masks


def stacked_forward(cell, x, weights, residual=False, dropout_masks=None,
                    activation="tanh"):
    r"""Run a stack of recurrent layers over ``x``, layer after layer.

    Layer l reads z^(l), the output of the layer below (x for layer 1), runs its
    recurrence over all T steps and outputs y^(l) = h^(l), or with ``residual``
    y^(l) = h^(l) + z^(l) for l >= 2 (layer 1's input has another size). With
    ``dropout_masks`` (one (T, B, H) array per layer but the last, entries 0 or
    1 / (1 - p)) the next layer reads z^(l+1) = m^(l) * y^(l): dropout on the outputs of
    every layer except the last, as ``torch.nn.LSTM(dropout=p)`` does in training.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    x : ndarray, shape (T, B, D)
    weights : list of dict
        Per layer ``W_xh``, ``W_hh``, ``b_xh``, ``b_hh`` (see :func:`random_layers`,
        :func:`weights_from_torch`).
    residual : bool
    dropout_masks : list of ndarray, optional
    activation : str
        The RNN's phi.

    Returns
    -------
    y : ndarray, shape (T, B, H)
        The top layer's outputs.
    caches : list
        For :func:`stacked_backward` and :func:`state_gradients`.
    """
    cell, z, dropout_masks = _check_stack(cell, x, weights, dropout_masks)
    caches = []
    for l, w in enumerate(weights):
        (h, _), cache = layers.unroll_forward(cell, z, None, activation=activation, **w)
        skip = residual and l > 0
        y = h + z if skip else h                        # the skip connection
        caches.append({"unroll": cache, "skip": skip})
        if dropout_masks is not None and l < len(weights) - 1:
            y = y * dropout_masks[l]                    # dropout between layers
            caches[-1]["mask"] = dropout_masks[l]
        z = y
    return y, caches


def stacked_backward(d_y, caches):
    """Back-propagate ``d_y`` = dL/dy (the top outputs) through :func:`stacked_forward`.

    Returns ``dx`` (T, B, D), the list of per-layer parameter gradients (``W_xh``,
    ``W_hh``, ``b_xh``, ``b_hh``) and the list of the gradients each layer's hidden
    states receive from above, d_h^(l) (T, B, H) (the input of :func:`state_gradients`).
    """
    grads, d_h = [None] * len(caches), [None] * len(caches)
    d_out = d_y
    for l in reversed(range(len(caches))):
        c = caches[l]
        if "mask" in c:
            d_out = d_out * c["mask"]
        d_h[l] = d_out                                  # y = h (+ z): dL/dh from above
        dz, _, grads[l] = layers.unroll_backward(d_out, c["unroll"])
        d_out = dz + d_out if c["skip"] else dz         # the skip passes d_out down as is
    return d_out, grads, d_h


def state_gradients(d_h, caches):
    """dL/dh_t^(l) for every layer and step: the route from above plus the recurrent one.

    ``d_h`` is from :func:`stacked_backward`. Within a layer the gradient on h_t is what
    arrives from above at step t plus what step t + 1 sends back through W_hh (and, in a
    GRU, through its update gate), computed by the layer's own BPTT
    (:func:`rnn_tutor.layers.rnn_backward` and its LSTM/GRU siblings). Returns an array
    (L, T, B, H).
    """
    out = []
    for dh_above, c in zip(d_h, caches):
        cache = c["unroll"]
        cell, W_hh = cache["cell"], cache["W_hh"]
        T, B, H = dh_above.shape
        zero = np.zeros((B, H))
        backward = {"rnn": layers.rnn_backward, "lstm": layers.lstm_backward,
                    "gru": layers.gru_backward}[cell]
        _, dAH, _ = backward(dh_above, (zero, zero) if cell == "lstm" else zero, cache)
        g = np.empty_like(dh_above)
        g[-1] = dh_above[-1]
        for t in range(T - 2, -1, -1):
            g[t] = dh_above[t] + dAH[t + 1] @ W_hh      # through step t + 1's W_hh
            if cell == "gru":                           # and the update gate's shortcut
                g[t] += g[t + 1] * cache["gates"][t + 1][:, H:2 * H]
        out.append(g)
    return np.stack(out)


# ----------------------------------------------------------------------------------------
# The gradient over layers and time
# ----------------------------------------------------------------------------------------

def layer_time_profile(cell="rnn", num_layers=4, T=30, hidden_size=32, scale=1.0,
                       input_scale=1.0, residual=False, forget_bias=0.0, seed=0):
    """||dL/dh_t^(l)|| for every layer l and step t, for a loss read at the top, at step T.

    The stack has the weights of :func:`random_layers` (``scale``: singular values of
    W_hh; ``input_scale``: of W_xh) and reads one sequence of standard normal inputs
    (D = H). The loss is L = u . y_T^(L) for a random unit vector u, so the gradient at
    the top layer's last step has norm 1 and every other entry says how much of it
    reaches h_t^(l). Row l - 1 of the result is layer l (bottom first), column t - 1 is
    step t.

    Returns
    -------
    ndarray, shape (num_layers, T)
    """
    cell = _cell_name(cell)
    T, H = check_positive_int(T, "T"), check_positive_int(hidden_size, "hidden_size")
    check_nonnegative_int(seed, "seed")
    if not isinstance(residual, (bool, np.bool_)):
        raise TypeError(f"residual must be True or False; got {residual!r}")
    weights = random_layers(cell, num_layers, H, H, scale, input_scale, forget_bias,
                            seed=seed)
    rng = np.random.default_rng([seed, 1])
    x = rng.standard_normal((T, 1, H))
    u = rng.standard_normal(H)
    y, caches = stacked_forward(cell, x, weights, residual=bool(residual))
    d_y = np.zeros_like(y)
    d_y[-1, 0] = u / np.linalg.norm(u)                  # L = u . y_T^(L)
    _, _, d_h = stacked_backward(d_y, caches)
    g = state_gradients(d_h, caches)                    # (L, T, 1, H)
    return np.linalg.norm(g[:, :, 0, :], axis=-1)


def profile_heatmap(profile, floor=1e-12, zmin=-12.0, zmax=2.0):
    """A plotly heatmap of ``log10`` of a :func:`layer_time_profile` (layers up, time right).

    Values below ``floor`` are drawn at it; numbers are rounded to 2 decimals (the
    page stays small). Rows are named "layer 1", "layer 2", ... (a categorical axis);
    columns are the steps 1..T. The colour scale runs from ``zmin`` to ``zmax`` (log10).
    """
    p = as_float_array(profile, "profile", ndim=2)
    floor = check_positive_float(floor, "floor")
    z = np.round(np.log10(np.maximum(p, floor)), 2)
    L, T = p.shape
    return go.Heatmap(z=z, x=np.arange(1, T + 1), y=[f"layer {l}" for l in range(1, L + 1)],
                      zmin=zmin, zmax=zmax, colorscale="Viridis",
                      colorbar=dict(title="log<sub>10</sub> ‖∂L/∂h‖"),
                      hovertemplate="%{y}, step %{x}: 10^%{z}<extra></extra>")


# ----------------------------------------------------------------------------------------
# Training at a given depth
# ----------------------------------------------------------------------------------------

#: Settings of :func:`run`: the character corpus read in windows of 64 characters by 32
#: streams, Adam, clipping at 1 (as in :data:`rnn_tutor.showdown.TRAIN_SETTINGS`).
RUN_SETTINGS = dict(batch_size=32, seq_len=64, lr=5e-3, clip_norm=1.0, eval_every=None,
                    detect=False)


def run(corpus, num_layers, *, cell="lstm", hidden_size=64, residual=False, dropout=0.0,
        budget=3.0, steps=None, seed=0, max_steps=100_000):
    """Train a character LM with ``num_layers`` layers for ``budget`` CPU seconds.

    The model is :func:`rnn_tutor.models.for_task` on ``corpus`` (a
    :class:`rnn_tutor.tasks.CharCorpus`), trained by :func:`rnn_tutor.train.train` with
    :data:`RUN_SETTINGS` and the CPU-time limit of :func:`rnn_tutor.showdown.run`, then
    evaluated on the whole validation split. With ``steps`` the run takes exactly that
    many steps instead (no time limit): the same result on any machine, under any load.

    Returns a row (a plain dict): layers, residual, dropout, seed, steps, CPU and wall
    seconds, ``valid_loss`` (nats per character), ``train_loss`` (the mean of the last 10
    training losses, with dropout if any), ``parameters`` and the corpus's bigram
    baseline.
    """
    from . import models, showdown
    from .train import train
    check_positive_int(num_layers, "num_layers")
    check_nonnegative_int(seed, "seed")
    budget = check_positive_float(budget, "budget")
    if not isinstance(residual, bool):
        raise TypeError(f"residual must be True or False; got {residual!r}")
    model = models.for_task(corpus, cell=cell, hidden_size=hidden_size,
                            num_layers=num_layers, residual=residual, dropout=dropout,
                            seed=seed)
    if steps is None:
        limits = dict(steps=max_steps, time_limit=budget, clock="cpu")
    else:
        limits = dict(steps=check_positive_int(steps, "steps"), time_limit=None)
        budget = None
    h = train(model, corpus, seed=seed, progress=False, **limits, **RUN_SETTINGS)
    return {"layers": int(num_layers), "residual": residual, "dropout": float(dropout),
            "cell": cell, "hidden_size": int(hidden_size), "seed": int(seed),
            "steps": len(h.step), "cpu_seconds": round(h.cpu_seconds, 2),
            "seconds": round(h.seconds, 2),
            "budget": budget, "valid_loss": float(h.final_eval_loss),
            "train_loss": float(np.mean(h.loss[-10:])),
            "parameters": showdown.parameter_count(model),
            "bigram": float(corpus.reference_loss)}
