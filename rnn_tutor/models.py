"""PyTorch recurrent models for the book's tasks: sequence-to-one, sequence-to-sequence, char LM.

One class, :class:`RecurrentNet`, covers all three: an input layer (floats as they are,
or token ids as one-hot vectors or an embedding), a ``torch.nn.RNN``/``LSTM``/``GRU``
stack, and a linear read-out applied to the last step (``output="last"``) or to every
step (``output="sequence"``, which is what a character language model is).
:func:`for_task` builds the right one for a task from ``rnn_tutor.tasks``;
:func:`sample_text` draws text from a character model with a temperature. Four small
helpers serve every model that returns ``(y, h_n)`` like ``torch.nn.RNN``:
:func:`predict` (outputs as NumPy), :func:`evaluation_mode`, :func:`output_and_state`
and :func:`detach_state` (cut a carried state from its graph, for truncated BPTT).

The classic tutorial "i2h/i2o" network (one ``Linear`` on ``cat(x, h)``) lives in
``rnn_tutor.concat`` (``ConcatRNN``) and is re-exported here as ``models.ConcatRNN``.
"""

from __future__ import annotations

import contextlib
import numbers

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import cells as _cells
from . import init as _init
from .validate import (check_choice, check_nonnegative_int, check_positive_float,
                        check_positive_int)

__all__ = ["RecurrentNet", "StackedRecurrent", "for_task", "sample_text", "set_forget_bias",
           "predict", "evaluation_mode", "output_and_state", "detach_state", "CELLS", "INITS"]

#: Cell names: "rnn" is the tanh RNN ("rnn_tanh" is an alias), "rnn_relu" the ReLU RNN.
CELLS = ("rnn", "rnn_tanh", "rnn_relu", "lstm", "gru")
#: Initialisers for the recurrent weights; "default" keeps PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
INITS = ("default",) + tuple(_init.INIT_NAMES)
#: Gate count per cell name, from ``rnn_tutor.cells.CELLS`` ("rnn_tanh" and "rnn_relu" are
#: the RNN: the name before the underscore).
_GATES = {name: _cells.CELLS[name.split("_")[0]].num_gates for name in CELLS}


def __getattr__(name):
    if name == "ConcatRNN":  # owned by rnn_tutor.concat; imported, not rewritten
        from .concat import ConcatRNN
        return ConcatRNN
    raise AttributeError(f"module 'rnn_tutor.models' has no attribute {name!r}")


def set_forget_bias(lstm: nn.LSTM, value: float) -> None:
    """Set an LSTM's *total* forget-gate bias to ``value`` in every layer and direction.

    PyTorch adds two bias vectors, ``bias_ih`` and ``bias_hh``, to each gate's
    pre-activation (gates packed i, f, g, o, so the forget gate is rows H:2H). Only their
    sum matters, so we put ``value`` in ``bias_ih[H:2H]`` and 0 in ``bias_hh[H:2H]``.
    A positive value (1 is common, Gers et al. 2000; Jozefowicz et al. 2015) makes the
    cell keep its memory by default at the start of training.
    """
    if not isinstance(lstm, nn.LSTM):
        raise TypeError(f"set_forget_bias needs a torch.nn.LSTM; got {type(lstm).__name__}")
    if not lstm.bias:
        raise ValueError("this LSTM has bias=False: there is no forget-gate bias to set")
    if not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"forget bias must be a finite number; got {value!r}")
    H = lstm.hidden_size
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            if name.startswith("bias_ih"):
                p[H:2 * H] = float(value)
            elif name.startswith("bias_hh"):
                p[H:2 * H] = 0.0


def _torch_recurrent(cell, input_size, hidden_size, **kwargs):
    """The torch module for one of ``CELLS`` ("rnn" and "rnn_tanh" are the tanh RNN)."""
    if cell == "lstm":
        return nn.LSTM(input_size, hidden_size, **kwargs)
    if cell == "gru":
        return nn.GRU(input_size, hidden_size, **kwargs)
    nonlinearity = "relu" if cell == "rnn_relu" else "tanh"
    return nn.RNN(input_size, hidden_size, nonlinearity=nonlinearity, **kwargs)


class StackedRecurrent(nn.Module):
    """A stack of one-layer ``torch.nn.RNN/LSTM/GRU`` modules, optionally with skips.

    Without ``residual`` it computes what ``torch.nn.RNN/LSTM/GRU(num_layers=L,
    dropout=p)`` computes (same parameters per layer, dropout on the outputs of every
    layer but the last, in training only). With ``residual`` every layer from the second
    on adds its input to its output, y^(l) = h^(l) + z^(l): a skip (residual)
    connection around each layer, as in Wu et al. (2016). The recurrence inside each
    layer still runs on h^(l) alone.

    Parameters
    ----------
    cell : {"rnn", "rnn_tanh", "rnn_relu", "lstm", "gru"}
    input_size, hidden_size, num_layers : int
    dropout : float in [0, 1)
    residual : bool

    Notes
    -----
    ``forward(x, hx=None)`` takes (T, B, input_size) and returns ``(output, h_n)`` like
    ``torch.nn.RNN``: h_n is (L, B, H) (a pair for the LSTM). ``layers`` holds the L
    modules (each ``num_layers=1``, parameters ``weight_ih_l0`` ...).
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 dropout: float = 0.0, residual: bool = False):
        super().__init__()
        self.cell = check_choice(cell, CELLS, "cell").split("_")[0]
        if not isinstance(residual, bool):
            raise TypeError(f"residual must be True or False; got {residual!r}")
        dropout = check_positive_float(dropout, "dropout", allow_zero=True)
        if dropout >= 1:
            raise ValueError(f"dropout must be in [0, 1); got {dropout}")
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.residual, self.dropout = residual, dropout
        self.bidirectional = False
        self.layers = nn.ModuleList(
            _torch_recurrent(cell, input_size if k == 0 else hidden_size, hidden_size)
            for k in range(num_layers))

    def forward(self, x, hx=None):
        lstm = self.cell == "lstm"
        finals, z = [], x
        for k, layer in enumerate(self.layers):
            state = None if hx is None else (
                (hx[0][k:k + 1], hx[1][k:k + 1]) if lstm else hx[k:k + 1])
            h, last = layer(z, state)
            y = h + z if self.residual and k > 0 else h        # the skip connection
            if k < self.num_layers - 1:
                y = F.dropout(y, self.dropout, self.training)  # between layers only
            finals.append(last)
            z = y
        if lstm:
            return z, (torch.cat([f[0] for f in finals]), torch.cat([f[1] for f in finals]))
        return z, torch.cat(finals)


class RecurrentNet(nn.Module):
    """A recurrent network with an input layer and a linear read-out.

    Parameters
    ----------
    input_size : int
        Features per step for ``input_kind="real"``; vocabulary size for "tokens".
    hidden_size : int
        H, per direction.
    output_size : int
        Read-out size (1 for regression, number of classes otherwise).
    cell : {"rnn", "rnn_tanh", "rnn_relu", "lstm", "gru"}
    num_layers : int
    bidirectional : bool
    dropout : float in [0, 1)
        Between stacked layers (PyTorch's ``dropout``) and before the read-out.
    output : {"last", "sequence"}
        "last": read out once per sequence, from the last step (for a bidirectional
        net, the forward direction at the last step and the backward direction at the
        first step: each has then read the whole sequence). "sequence": at every step.
    input_kind : {"real", "tokens"}
    embedding_dim : int or None
        For tokens: an ``nn.Embedding`` of this size; None feeds one-hot vectors.
    init : str
        Recurrent weights W_hh: "default" keeps PyTorch's initialisation; any other
        name (see ``INITS``) draws each H x H gate block with ``rnn_tutor.init``;
        input weights W_xh are then Xavier-uniform and biases 0.
    init_scale : float or None
        With a named ``init``: the spectral norm of each H x H block of W_hh
        (``rnn_tutor.init.recurrent_matrix(..., scale_by="norm")``). None keeps the
        initialiser's own scale (e.g. N(0, 1/H) for "gaussian").
    forget_bias : float or None
        LSTM only: the total forget-gate bias (see :func:`set_forget_bias`).
    residual : bool
        Skip connections between stacked layers: ``rnn`` is then a
        :class:`StackedRecurrent` (one direction only) instead of a torch module.
    seed : int or None
        Seeds the initialisation (without touching the global torch RNG).

    Notes
    -----
    ``forward(x, hx=None)`` takes x of shape (T, B, input_size) floats or (T, B) ids
    (torch tensors) and returns ``(y, h_n)`` like ``torch.nn.RNN``: y is
    (B, output_size) for "last" or (T, B, output_size) for "sequence"; h_n is the final
    state (a pair (h_n, c_n) for an LSTM), to carry across windows of a long text.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, *,
                 cell: str = "lstm", num_layers: int = 1, bidirectional: bool = False,
                 dropout: float = 0.0, output: str = "last", input_kind: str = "real",
                 embedding_dim: int | None = None, init: str = "default",
                 init_scale: float | None = None, forget_bias: float | None = None,
                 residual: bool = False, seed: int | None = None):
        super().__init__()
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.output_size = check_positive_int(output_size, "output_size")
        self.cell = check_choice(cell, CELLS, "cell")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        if not isinstance(bidirectional, bool):
            raise TypeError(f"bidirectional must be True or False; got {bidirectional!r}")
        self.bidirectional = bidirectional
        dropout = check_positive_float(dropout, "dropout", allow_zero=True)
        if dropout >= 1:
            raise ValueError(f"dropout must be in [0, 1); got {dropout}")
        self.output = check_choice(output, ("last", "sequence"), "output")
        self.input_kind = check_choice(input_kind, ("real", "tokens"), "input_kind")
        if embedding_dim is not None:
            if input_kind != "tokens":
                raise ValueError("embedding_dim applies to token inputs only "
                                 "(input_kind='tokens')")
            embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        self.init = check_choice(init, INITS, "init")
        if init_scale is not None:
            init_scale = check_positive_float(init_scale, "init_scale")
            if init == "default":
                raise ValueError("init_scale needs a named init (e.g. init='gaussian'); "
                                 "init='default' keeps PyTorch's own scale")
        if forget_bias is not None and self.cell != "lstm":
            raise ValueError(f"forget_bias applies to cell='lstm' only; got cell={cell!r}")
        if seed is not None:
            check_nonnegative_int(seed, "seed")
        if not isinstance(residual, bool):
            raise TypeError(f"residual must be True or False; got {residual!r}")
        if residual and bidirectional:
            raise ValueError("residual stacks are one-directional here; got "
                             "bidirectional=True")
        self.residual = residual

        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.embedding = (nn.Embedding(input_size, embedding_dim)
                              if embedding_dim is not None else None)
            rnn_in = embedding_dim or input_size
            kwargs = dict(num_layers=num_layers, bidirectional=bidirectional,
                          dropout=dropout if num_layers > 1 else 0.0)
            if residual:
                self.rnn = StackedRecurrent(self.cell, rnn_in, hidden_size, num_layers,
                                            kwargs["dropout"], residual=True)
            else:
                self.rnn = _torch_recurrent(self.cell, rnn_in, hidden_size, **kwargs)
            self.drop = nn.Dropout(dropout)
            directions = 2 if bidirectional else 1
            self.readout = nn.Linear(directions * hidden_size, output_size)
        if self.init != "default":
            self._initialise(init_scale, seed)
        if forget_bias is not None:
            for lstm in (self.rnn.layers if residual else [self.rnn]):
                set_forget_bias(lstm, forget_bias)

    def _initialise(self, scale, seed):
        rng = _init.rng_from_seed(seed)
        G, H = _GATES[self.cell], self.hidden_size
        with torch.no_grad():
            for name, p in self.rnn.named_parameters():
                name = name.rsplit(".", 1)[-1]          # "layers.0.weight_hh_l0" in a stack
                if name.startswith("weight_hh"):
                    if scale is None:
                        W = np.concatenate([_init.matrix(self.init, (H, H), seed=rng)
                                            for _ in range(G)])
                    else:
                        W = _init.recurrent_matrix(self.init, H, scale, seed=rng, gates=G)
                elif name.startswith("weight_ih"):
                    W = _init.xavier_uniform(tuple(p.shape), seed=rng)
                else:
                    W = np.zeros(tuple(p.shape))
                p.copy_(torch.as_tensor(W, dtype=p.dtype))

    def _inputs(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch tensor; got {type(x).__name__} (use "
                            f"batch.torch() or torch.as_tensor(x))")
        if self.input_kind == "tokens":
            if x.dtype not in (torch.int64, torch.int32):
                raise TypeError(f"token inputs must be int64 ids; got dtype {x.dtype}")
            if x.dim() != 2:
                raise ValueError(f"token inputs must have shape (T, B); got {tuple(x.shape)}")
            if self.embedding is not None:
                return self.embedding(x)
            return F.one_hot(x.long(), self.input_size).to(self.readout.weight.dtype)
        if not torch.is_floating_point(x):
            raise TypeError(f"real inputs must be floating point; got dtype {x.dtype}")
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"inputs must have shape (T, B, {self.input_size}); "
                             f"got {tuple(x.shape)}")
        return x

    def forward(self, x, hx=None):
        out, h_n = self.rnn(self._inputs(x), hx)
        if self.output == "last":
            H = self.hidden_size
            last = out[-1] if not self.bidirectional else torch.cat(
                [out[-1, :, :H], out[0, :, H:]], dim=-1)
            return self.readout(self.drop(last)), h_n
        return self.readout(self.drop(out)), h_n


def for_task(task, cell: str = "lstm", hidden_size: int = 64, **kwargs) -> RecurrentNet:
    """Build the :class:`RecurrentNet` that fits ``task`` (input kind/size, output, read-out).

    ``kwargs`` go to :class:`RecurrentNet` (num_layers, init, forget_bias, seed, ...).
    """
    for attr in ("input_kind", "input_size", "output_size", "target"):
        if not hasattr(task, attr):
            raise TypeError(f"task must be a task from rnn_tutor.tasks (with {attr}); "
                            f"got {type(task).__name__}")
    return RecurrentNet(task.input_size, hidden_size, task.output_size, cell=cell,
                        output=task.target, input_kind=task.input_kind, **kwargs)


def output_and_state(returned):
    """What a model returned, as ``(y, h_n)``; ``h_n`` is None if it returned ``y`` alone."""
    return returned if isinstance(returned, tuple) else (returned, None)


def detach_state(state):
    """The hidden state cut from the graph that computed it (None stays None).

    Carrying a detached state into the next window of a text keeps its values but stops
    the gradient at the window's edge: truncated backpropagation through time. An LSTM's
    state is a pair ``(h, c)``; both are detached.
    """
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(part.detach() for part in state)
    return state.detach()


@contextlib.contextmanager
def evaluation_mode(model: nn.Module):
    """Run a block with ``model.eval()`` and without gradients; restore the mode after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def predict(model: nn.Module, inputs, device=None) -> np.ndarray:
    """Outputs ``y`` of ``model`` (in eval mode) on NumPy or torch inputs, as NumPy.

    ``device`` defaults to the device of the model's parameters.
    """
    if device is None:
        device = next(model.parameters()).device
    with evaluation_mode(model):
        outputs, _ = output_and_state(model(torch.as_tensor(inputs, device=device)))
    return outputs.cpu().numpy()


def sample_text(model: RecurrentNet, corpus, length: int = 200, prefix: str = "\n",
                temperature: float = 1.0, seed=0, num_samples: int = 1):
    """Generate characters from a character language model.

    The model reads ``prefix``, then repeatedly draws the next character from
    softmax(logits / temperature) and feeds it back. ``temperature`` < 1 sharpens the
    distribution (safer, more repetitive), > 1 flattens it; 0 takes the most likely
    character every time (greedy). Returns a string (or a list of ``num_samples``
    strings, drawn as one batch), without the prefix.
    """
    if not isinstance(model, RecurrentNet) or model.output != "sequence":
        raise TypeError("model must be a RecurrentNet with output='sequence' "
                        "(e.g. models.for_task(corpus))")
    length = check_positive_int(length, "length")
    num_samples = check_positive_int(num_samples, "num_samples")
    temperature = check_positive_float(temperature, "temperature", allow_zero=True)
    if not isinstance(prefix, str) or not prefix:
        raise ValueError(f"prefix must be a non-empty string; got {prefix!r}")
    from .tasks import as_rng
    gen = torch.Generator().manual_seed(int(as_rng(seed).integers(2 ** 62)))
    device = next(model.parameters()).device
    with evaluation_mode(model):
        ids = torch.as_tensor(corpus.encode(prefix), device=device)
        x = ids[:, None].expand(-1, num_samples)
        logits, h = model(x)
        out = []
        for _ in range(length):
            last = logits[-1].float().cpu()
            if temperature == 0:
                nxt = last.argmax(dim=-1)
            else:
                probs = torch.softmax(last / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=gen)[:, 0]
            out.append(nxt)
            logits, h = model(nxt[None, :].to(device), h)
    chars = torch.stack(out).numpy()  # (length, num_samples)
    texts = [corpus.decode(chars[:, i]) for i in range(num_samples)]
    return texts[0] if num_samples == 1 else texts
