"""Sequences of different lengths, encoder-decoder networks and attention (chapter 13).

NumPy where it teaches: a length mask, the masked softmax and additive attention
(Bahdanau, Cho & Bengio 2015) read like their equations. PyTorch for training:
:class:`EncoderDecoder` reads a padded, packed batch with a GRU encoder and writes with a
GRU decoder whose context at every step is either the encoder's final state (the
bottleneck) or an attention-weighted sum of all encoder states. It decodes greedily or
with a beam (:meth:`EncoderDecoder.generate`).

Token conventions (those of :class:`rnn_tutor.tasks.SpelledNumbers`): 0 pads both sides,
target id 1 starts the output (BOS), target id 2 ends it (EOS).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .models import evaluation_mode
from .validate import check_nonnegative_int, check_positive_int

__all__ = ["PAD", "BOS", "EOS", "length_mask", "masked_softmax", "additive_attention",
           "padding_fraction", "batches_by_length", "EncoderDecoder"]

PAD, BOS, EOS = 0, 1, 2


def _check_lengths(lengths, steps: int | None = None) -> np.ndarray:
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.size == 0 or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be a non-empty 1-D array of ints (one per sequence); "
                         f"got {lengths.dtype} array of shape {lengths.shape}")
    if lengths.min() < 1 or (steps is not None and lengths.max() > steps):
        raise ValueError(f"every length must be between 1 and {steps or 'the padded length'}; "
                         f"got {lengths.min()}..{lengths.max()}")
    return lengths


def length_mask(lengths, steps: int) -> np.ndarray:
    """``(steps, B)`` booleans: True at the real steps of each sequence, False at padding."""
    lengths = _check_lengths(lengths, check_positive_int(steps, "steps"))
    return np.arange(steps)[:, None] < lengths[None, :]


def masked_softmax(scores, mask):
    """Softmax over the last axis in which masked-out entries (``mask`` False) get weight 0."""
    scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)   # the largest real score becomes 0
    weights = np.exp(scores)
    return weights / weights.sum(axis=-1, keepdims=True)


def additive_attention(query, keys, mask, W_q, W_k, w_a):
    """Additive attention of one decoder state over the encoder states.

    Parameters
    ----------
    query : (B, H) the decoder state d_{t-1}.
    keys : (S, B, H) the encoder states h_1 .. h_S.
    mask : (S, B) True at real (unpadded) steps.
    W_q, W_k : (A, H) and w_a : (A,) the score's parameters.

    Returns
    -------
    context : (B, H), the weighted sum of the keys; weights : (B, S), each row sums to 1.
    """
    scores = np.tanh(query @ W_q.T + keys @ W_k.T) @ w_a        # e_j = w_a . tanh(...)
    weights = masked_softmax(scores.T, mask.T)                   # alpha_j = softmax_j(e_j)
    context = np.einsum("bs,sbh->bh", weights, keys)             # sum_j alpha_j h_j
    return context, weights


def padding_fraction(lengths, batch_size: int, by_length: bool = False) -> float:
    """Share of computed steps that are padding when ``lengths`` are cut into batches.

    Each batch is padded to its longest sequence. ``by_length=True`` sorts the sequences
    by length first (bucketing), so neighbours in a batch have similar lengths.
    """
    lengths = _check_lengths(lengths)
    batches = batches_by_length(lengths, batch_size) if by_length else \
        np.array_split(np.arange(len(lengths)), -(-len(lengths) // batch_size))
    padded = sum(lengths[b].max() * len(b) for b in batches)
    return 1.0 - lengths.sum() / padded


def batches_by_length(lengths, batch_size: int) -> list:
    """Index arrays of batches of ``batch_size`` sequences of similar length (sorted)."""
    lengths = _check_lengths(lengths)
    order = np.argsort(lengths, kind="stable")
    return [order[i:i + batch_size]
            for i in range(0, len(order), check_positive_int(batch_size, "batch_size"))]


class EncoderDecoder(nn.Module):
    """A GRU encoder and a GRU decoder, with or without additive attention.

    The encoder reads the source (packed, so padding never enters its states h_j). At
    output step t the decoder takes the previous output token (BOS first) and a context
    hbar_t, updates its state d_t = GRU([embed(previous token), hbar_t], d_{t-1}) from
    d_0 = the encoder's final state h_S, and scores the next token from [d_t, hbar_t].
    The context is

    - ``attention=False``: h_S, the same at every step: the whole input must pass
      through one vector of size H (the *bottleneck*);
    - ``attention=True``: hbar_t = sum_j alpha_tj h_j with alpha_t = softmax_j(w_a .
      tanh(d_{t-1} W_q^T + h_j W_k^T)) over the real steps of the source (Bahdanau et al.
      2015).

    Parameters
    ----------
    source_size, target_size : int
        Vocabulary sizes (id 0 is padding in both).
    hidden_size : int
        H, of encoder and decoder alike (and of the attention layer).
    embedding_dim : int
    attention : bool
    seed : int
        Seeds the initial weights.
    """

    def __init__(self, source_size: int, target_size: int, hidden_size: int = 64,
                 embedding_dim: int = 16, attention: bool = True, seed: int = 0):
        super().__init__()
        sizes = [check_positive_int(v, name) for v, name in
                 ((source_size, "source_size"), (target_size, "target_size"),
                  (hidden_size, "hidden_size"), (embedding_dim, "embedding_dim"))]
        if not isinstance(attention, bool):
            raise TypeError(f"attention must be True or False; got {attention!r}")
        source_size, target_size, H, E = sizes
        if target_size <= EOS:
            raise ValueError(f"target_size must exceed {EOS} (ids 0, 1, 2 are pad, BOS and "
                             f"EOS); got {target_size}")
        self.attention, self.hidden_size = attention, H
        with torch.random.fork_rng():
            torch.manual_seed(check_nonnegative_int(seed, "seed"))
            self.source_embedding = nn.Embedding(source_size, E, padding_idx=PAD)
            self.encoder = nn.GRU(E, H)
            self.target_embedding = nn.Embedding(target_size, E, padding_idx=PAD)
            self.decoder = nn.GRUCell(E + H, H)
            if attention:
                self.W_q = nn.Linear(H, H, bias=False)
                self.W_k = nn.Linear(H, H, bias=False)
                self.w_a = nn.Linear(H, 1, bias=False)
            self.readout = nn.Linear(2 * H, target_size)

    def encode(self, source, lengths):
        """Encoder states ``(S, B, H)`` (zero at padding), final states ``(B, H)``, mask."""
        lengths = _check_lengths(lengths, source.shape[0])
        packed = pack_padded_sequence(self.source_embedding(source), torch.as_tensor(lengths),
                                      enforce_sorted=False)
        states, h_n = self.encoder(packed)
        states, _ = pad_packed_sequence(states, total_length=source.shape[0])
        mask = torch.as_tensor(length_mask(lengths, source.shape[0]), device=source.device)
        keys = self.W_k(states) if self.attention else None   # W_k h_j: once per source
        return {"states": states, "final": h_n[0], "mask": mask, "keys": keys}

    def context(self, d, memory):
        """Context ``(B, H)`` for decoder state ``d`` and attention weights ``(B, S)``."""
        if not self.attention:
            return memory["final"], None                                  # the bottleneck
        scores = self.w_a(torch.tanh(self.W_q(d) + memory["keys"])).squeeze(-1)  # (S, B)
        weights = torch.softmax(scores.masked_fill(~memory["mask"], float("-inf")), dim=0)
        return torch.einsum("sb,sbh->bh", weights, memory["states"]), weights.T

    def step(self, previous, d, memory):
        """One output step: (logits ``(B, V)``, new state ``d``, attention weights or None)."""
        context, weights = self.context(d, memory)
        d = self.decoder(torch.cat([self.target_embedding(previous), context], dim=-1), d)
        return self.readout(torch.cat([d, context], dim=-1)), d, weights

    def decode(self, source, lengths, steps: int, targets=None):
        """Run the decoder for ``steps`` steps.

        With ``targets`` (``(steps, B)``) each step is fed the *true* previous token
        (teacher forcing); without, its own most likely previous token (free running,
        greedy). Returns logits ``(steps, B, V)``, the tokens chosen ``(steps, B)`` and the
        attention weights ``(steps, B, S)`` (None without attention).
        """
        steps = check_positive_int(steps, "steps")
        if targets is not None and targets.shape[0] < steps:
            raise ValueError(f"teacher forcing needs a target for every step: {steps} steps, "
                             f"targets of shape {tuple(targets.shape)}")
        memory = self.encode(source, lengths)
        d = memory["final"]
        previous = torch.full((source.shape[1],), BOS, dtype=torch.long, device=source.device)
        logits, chosen, weights = [], [], []
        for t in range(steps):
            out, d, w = self.step(previous, d, memory)
            writable = out.detach().clone()
            writable[:, [PAD, BOS]] = float("-inf")     # never outputs, so never written
            token = writable.argmax(-1)
            logits.append(out)
            chosen.append(token)
            weights.append(w)
            previous = targets[t] if targets is not None else token
        return (torch.stack(logits), torch.stack(chosen),
                torch.stack(weights) if self.attention else None)

    def forward(self, source, lengths, targets):
        """Teacher-forced logits ``(T_out, B, V)`` of ``targets`` ``(T_out, B)``."""
        return self.decode(source, lengths, targets.shape[0], targets)[0]

    @torch.no_grad()
    def generate(self, source, lengths, max_len: int, beam_size: int = 1):
        """Write an output for every source: greedy (``beam_size=1``) or beam search.

        Beam search keeps, for each example, the ``beam_size`` most probable output
        prefixes (by summed log-probability) and extends each by every token; a prefix
        that wrote EOS is finished and carried along unchanged. Returns token ids
        ``(max_len, B)`` as NumPy, padded with 0 after EOS.
        """
        max_len = check_positive_int(max_len, "max_len")
        k = check_positive_int(beam_size, "beam_size")
        memory = self.encode(source, lengths)
        B, V = source.shape[1], self.readout.out_features
        # Every example gets k rows (b * k + j); tensors over the batch are repeated.
        batch_axis = {"states": 1, "final": 0, "mask": 1, "keys": 1}
        memory = {name: None if m is None else m.repeat_interleave(k, dim=batch_axis[name])
                  for name, m in memory.items()}
        d = memory["final"]
        scores = torch.full((B, k), float("-inf"), device=source.device)
        scores[:, 0] = 0.0                       # one live prefix per example at the start
        previous = torch.full((B * k,), BOS, dtype=torch.long, device=source.device)
        finished = torch.zeros(B * k, dtype=torch.bool, device=source.device)
        only_pad = torch.full((V,), float("-inf"), device=source.device)
        only_pad[PAD] = 0.0
        written = []
        for _ in range(max_len):
            logits, d, _ = self.step(previous, d, memory)
            logp = torch.log_softmax(logits, dim=-1)
            logp[:, [PAD, BOS]] = float("-inf")
            logp = torch.where(finished[:, None], only_pad, logp)
            total = (scores.reshape(B * k, 1) + logp).reshape(B, k * V)
            scores, best = total.topk(k, dim=1)
            parent = (torch.arange(B, device=source.device)[:, None] * k + best // V).reshape(-1)
            previous = (best % V).reshape(-1)
            d, finished = d[parent], finished[parent] | (previous == EOS)
            written = [w[parent] for w in written] + [previous]
            if finished.all():
                break
        rows = torch.arange(B, device=source.device) * k + scores.argmax(dim=1)
        out = torch.stack(written)[:, rows]
        padded = torch.zeros((max_len, B), dtype=torch.long)
        padded[:out.shape[0]] = out.cpu()
        return padded.numpy()


@torch.no_grad()
def sequence_log_prob(model: EncoderDecoder, source, lengths, outputs) -> np.ndarray:
    """Log-probability (nats) that ``model`` writes each column of ``outputs``.

    ``outputs`` ``(steps, B)``: token ids up to and including EOS, then padding (as
    :meth:`EncoderDecoder.generate` returns them). Scored by teacher forcing: the sum of
    log p(token | source, the tokens before it) over the unpadded steps.
    """
    outputs = torch.as_tensor(np.asarray(outputs), dtype=torch.long)
    logp = torch.log_softmax(model(source, lengths, outputs), dim=-1)
    picked = logp.gather(-1, outputs.unsqueeze(-1)).squeeze(-1)
    return picked.masked_fill(outputs == PAD, 0.0).sum(dim=0).numpy()


def accuracy_by_length(model: EncoderDecoder, task, data, beam_size: int = 1) -> dict:
    """Sequence accuracy of ``model`` on ``data`` per output length (digits, EOS not counted).

    Returns ``{"digits": (n,), "accuracy": (n,), "count": (n,)}`` over the lengths present.
    """
    x, _ = data.torch()
    with evaluation_mode(model):
        written = model.generate(x, data.info["input_lengths"], data.targets.shape[0],
                                 beam_size=beam_size)
    right = task.sequence_correct(written, data.targets)
    n = data.info["target_lengths"] - 1
    digits = np.unique(n)
    return {"digits": digits, "accuracy": np.array([right[n == k].mean() for k in digits]),
            "count": np.array([(n == k).sum() for k in digits])}
