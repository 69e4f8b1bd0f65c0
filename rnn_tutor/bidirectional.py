"""Bidirectional networks (chapter 12): what the right-hand context buys, and what it costs.

A bidirectional layer runs one recurrence left to right and a second one right to left
and reads out ``[forward h_t ; backward h_t]`` at every step (the NumPy layer is
:class:`rnn_tutor.layers.RNN` and friends with ``bidirectional=True``). This module
holds the measurements the chapter makes on trained PyTorch models:

- :func:`per_position_accuracy`: a tagger's accuracy at each position of a sentence
  (where a left-to-right model has to guess);
- :func:`train_with_checkpoints`: train with :func:`rnn_tutor.train.train` in chunks and
  measure the tagger after each (the frames of a training-progress slider);
- :func:`prefix_logits`, :func:`lm_losses` and :func:`sample_from_prefix`: a character
  model scored and sampled the way text is generated, seeing only the characters
  already written. A bidirectional "language model" reads its answer from the backward
  pass during training and is useless here;
- :func:`bidirectional_diagram`: the two passes unrolled, and the concatenated state.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from torch.nn import functional as F

from . import diagrams
from .models import evaluation_mode, output_and_state, predict
from .tasks import as_rng
from .train import train
from .validate import check_positive_float, check_positive_int

__all__ = ["per_position_accuracy", "train_with_checkpoints", "prefix_logits", "lm_losses",
           "sample_from_prefix", "bidirectional_diagram"]


def _device(model):
    return next(model.parameters()).device


def per_position_accuracy(model, batch) -> np.ndarray:
    """A tagger's accuracy at every position: array of shape (L,).

    ``batch`` is a :class:`~rnn_tutor.tasks.Batch` of a per-token task (targets (L, B),
    e.g. ``tasks.LateSentiment().sample(2000, seed)``); ``model`` returns logits
    (L, B, classes). Entry t is the fraction of the B sentences tagged right at word t.
    """
    inputs, targets = batch
    targets = np.asarray(targets)
    if targets.ndim != 2:
        raise ValueError(f"per_position_accuracy needs per-token targets (L, B); got shape "
                         f"{targets.shape}")
    return (predict(model, inputs).argmax(-1) == targets).mean(axis=1)


def train_with_checkpoints(model, task, checkpoints, batch, seed=0, **settings):
    """Train ``model`` on ``task`` and measure its per-position accuracy on the way.

    Trains with :func:`rnn_tutor.train.train` up to each step count of ``checkpoints``
    (increasing; 0 measures the untrained model), in chunks that each start a fresh
    optimiser and batch stream seeded from ``seed`` and the chunk's index. ``settings``
    go to ``train`` (lr, batch_size, ...).

    Returns
    -------
    dict
        ``steps`` (the checkpoints), ``accuracy`` (one array (L,) per checkpoint, from
        :func:`per_position_accuracy` on ``batch``) and ``histories``.
    """
    steps = [int(s) for s in checkpoints]
    if not steps or any(b <= a for a, b in zip(steps, steps[1:])) or steps[0] < 0:
        raise ValueError(f"checkpoints must be increasing step counts >= 0; got {checkpoints!r}")
    done, accuracy, histories = 0, [], []
    for k, target in enumerate(steps):
        if target > done:
            histories.append(train(model, task, steps=target - done, seed=seed * 1000 + k,
                                   progress=False, **settings))
            done = target
        accuracy.append(per_position_accuracy(model, batch))
    return {"steps": steps, "accuracy": accuracy, "histories": histories}


def prefix_logits(model, x):
    """The logits a sequence model gives at each step when it sees only the prefix.

    Entry t is the last output of ``model(x[:t + 1])``: what the model predicts after
    reading ``x[0..t]`` and nothing after it, which is all a text generator has. For a
    left-to-right model this equals ``model(x)`` (its step t never sees the future); for
    a bidirectional one it does not, because ``model(x)[t]`` also reads ``x[t+1:]``.

    Parameters
    ----------
    model : torch.nn.Module
        Returns logits (T, B, K) (and optionally a state) for token ids ``x`` (T, B).
    x : array or tensor of int, shape (T, B)

    Returns
    -------
    torch.Tensor, shape (T, B, K)
    """
    x = torch.as_tensor(x, device=_device(model))
    if x.dim() != 2:
        raise ValueError(f"x must be token ids of shape (T, B); got {tuple(x.shape)}")
    with evaluation_mode(model):
        return torch.stack([output_and_state(model(x[:t + 1]))[0][-1]
                            for t in range(len(x))])


def lm_losses(model, batch) -> dict:
    """Next-character loss (nats per character) of ``model`` on ``batch``, two ways.

    ``"full"``: the model reads the whole window at once (as in training), so at step t a
    bidirectional model has read the target ``x[t+1]``. ``"prefix"``: at step t it reads
    only ``x[0..t]`` (:func:`prefix_logits`), as when generating text.
    """
    inputs, targets = batch
    targets = torch.as_tensor(targets, device=_device(model))

    def nats(logits):
        return float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)))

    with evaluation_mode(model):
        full, _ = output_and_state(model(torch.as_tensor(inputs, device=_device(model))))
    return {"full": nats(full), "prefix": nats(prefix_logits(model, inputs))}


def sample_from_prefix(model, corpus, length: int = 200, prefix: str = "the ",
                       temperature: float = 1.0, seed=0) -> str:
    """Generate text the only way it can be generated: one character at a time.

    At every step the model reads the text so far (``prefix`` and what it wrote), the
    next character is drawn from softmax(last logits / temperature) and appended. The
    whole text is re-read at every step, so this works for any model, bidirectional or
    not (and costs ``length`` passes). ``temperature`` 0 is greedy. Returns the
    generated text without the prefix.
    """
    length = check_positive_int(length, "length")
    temperature = check_positive_float(temperature, "temperature", allow_zero=True)
    if not isinstance(prefix, str) or not prefix:
        raise ValueError(f"prefix must be a non-empty string; got {prefix!r}")
    gen = torch.Generator().manual_seed(int(as_rng(seed).integers(2 ** 62)))
    ids = list(corpus.encode(prefix))
    with evaluation_mode(model):
        for _ in range(length):
            x = torch.as_tensor(np.array(ids)[:, None], device=_device(model))
            last = output_and_state(model(x))[0][-1, 0].float().cpu()
            if temperature == 0:
                nxt = int(last.argmax())
            else:
                nxt = int(torch.multinomial(torch.softmax(last / temperature, -1), 1,
                                            generator=gen))
            ids.append(nxt)
    return corpus.decode(ids[len(prefix):])


def bidirectional_diagram(steps: int = 4) -> go.Figure:
    """A bidirectional layer unrolled over ``steps`` inputs.

    Inputs x_1 .. x_T at the bottom; above them the forward states (arrows left to
    right, weights W with an arrow to the right) and the backward states (arrows right
    to left, their own weights); every output y_t at the top reads both states of its
    step, the concatenation [forward h_t ; backward h_t].
    """
    steps = check_positive_int(steps, "steps")
    if steps < 2:
        raise ValueError(f"steps must be at least 2; got {steps}")
    fig = go.Figure()
    cols = list(range(1, steps + 1))
    t_label = [str(t) for t in range(1, steps)] + ["T"]
    fwd, bwd = "#2f6db5", "#b5442f"
    diagrams.add_nodes(fig, [(c, 0) for c in cols], "x", [f"x<sub>{s}</sub>" for s in t_label])
    diagrams.add_nodes(fig, [(c, 1.2) for c in cols], "h", [f"h→<sub>{s}</sub>" for s in t_label])
    diagrams.add_nodes(fig, [(c + 0.45, 2.2) for c in cols], "h",
                       [f"h←<sub>{s}</sub>" for s in t_label])
    diagrams.add_nodes(fig, [(c, 3.4) for c in cols], "y", [f"y<sub>{s}</sub>" for s in t_label])
    diagrams.add_nodes(fig, [(0, 1.2), (steps + 1.45, 2.2)], "h", ["0", "0"])
    for k, c in enumerate(cols):
        diagrams.add_arrow(fig, (c, 0), (c, 1.2), color=fwd)
        diagrams.add_arrow(fig, (c, 0), (c + 0.45, 2.2), color=bwd)
        diagrams.add_arrow(fig, (c, 1.2), (c, 3.4), color=fwd)
        diagrams.add_arrow(fig, (c + 0.45, 2.2), (c, 3.4), color=bwd)
        left = 0 if k == 0 else c - 1
        diagrams.add_arrow(fig, (left, 1.2), (c, 1.2), color=fwd,
                           text="W→<sub>hh</sub>" if k == 0 else "")
        right = steps + 1.45 if k == steps - 1 else c + 1.45
        diagrams.add_arrow(fig, (right, 2.2), (c + 0.45, 2.2), color=bwd,
                           text="W←<sub>hh</sub>" if k == steps - 1 else "")
    fig.add_annotation(x=(steps + 1) / 2, y=4.1, showarrow=False,
                       text="y<sub>t</sub> reads [h→<sub>t</sub> ; h←<sub>t</sub>]: "
                            "the past through the forward pass, the future through the "
                            "backward pass")
    fig.update_xaxes(range=[-0.6, steps + 2.0])
    fig.update_yaxes(range=[-0.5, 4.4])
    return diagrams.blank_layout(fig, 330)
