"""Numbers in words to digits: a sequence-to-sequence task whose two lengths differ."""

from __future__ import annotations


import numpy as np
import torch
from torch.nn import functional as F

from ..seq2seq import BOS, EOS, PAD
from ..models import evaluation_mode
from ._base import Batch, Task, _check_range, as_rng

__all__ = ["SpelledNumbers", "number_words"]

_SMALL = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
          "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
          "seventeen", "eighteen", "nineteen")
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ("", "thousand", "million", "billion")
WORDS = _SMALL + _TENS + ("hundred",) + _SCALES[1:]


def _below_thousand(n: int) -> list:
    words = []
    if n >= 100:
        words += [_SMALL[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10 - 2])
        n %= 10
    if n:
        words.append(_SMALL[n])
    return words


def number_words(n: int) -> list:
    """The English words of ``0 <= n < 10**12``, e.g. 1_040 -> ["one", "thousand", "forty"]."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 0 <= n < 10 ** 12:
        raise ValueError(f"n must be an int from 0 to 10**12 - 1; got {n!r}")
    if n == 0:
        return ["zero"]
    words = []
    for power in range(3, -1, -1):                 # billions, millions, thousands, ones
        group = int(n) // 1000 ** power % 1000
        if group:
            words += _below_thousand(group) + ([_SCALES[power]] if power else [])
    return words


class SpelledNumbers(Task):
    """Read a number in English words; write its digits.

    ``"twelve thousand forty"`` (three words) must become ``1 2 0 4 0`` and an
    end-of-sequence token (six outputs): input and output lengths differ, in a ratio that
    changes from number to number, and an output digit may depend on words far from it
    ("thousand" decides how many zeros follow). The number of digits ``n`` is uniform on
    ``digits`` (a ``(low, high)`` pair, at most 12); the digits are uniform, except that a
    number of two or more digits does not start with 0.

    Token ids. Source: 0 = pad, then the 32 words of ``source_vocab``. Target: 0 = pad,
    1 = BOS (fed to the decoder first), 2 = EOS, 3 + d for the digit d
    (``target_vocab``). A batch holds ``inputs`` ``(S, B)`` int64 (words, padded at the
    end with 0 to the batch's longest), ``targets`` ``(n_max + 1, B)`` int64 (digits and
    EOS, padded with 0), and ``info`` with ``input_lengths``, ``target_lengths``
    (``n + 1``) and ``numbers``. Padded target steps are not scored.

    **Baseline.** The best predictor that reads no input but knows the output position
    ``k`` (scored only where the output has a position ``k``) writes the marginal
    distribution p_k of the token at ``k`` over all numbers long enough to reach it. Its
    loss is the entropy of p_k, averaged over positions weighted by P(n >= k), i.e. nats
    per output token as the loss is averaged; ``baseline_accuracy`` is max_token p_k,
    averaged the same way. Both are computed exactly from the digit distribution.

    Parameters
    ----------
    digits : int or (low, high)
        Number of digits, drawn uniformly from ``low..high`` (1 <= low <= high <= 12).
    """

    input_kind = "tokens"
    loss = "cross_entropy"
    target = "sequence"
    PAD, BOS, EOS = PAD, BOS, EOS

    def __init__(self, digits=(1, 9)):
        self.low, self.high = _check_range(digits, "digits", low=1)
        if self.high > 12:
            raise ValueError(f"digits must be at most 12 (numbers below a trillion); "
                             f"got {digits!r}")
        self.source_vocab = ("<pad>",) + WORDS
        self.target_vocab = ("<pad>", "<bos>", "<eos>") + tuple("0123456789")
        self.input_size = len(self.source_vocab)
        self.output_size = len(self.target_vocab)
        self.index = {w: i for i, w in enumerate(self.source_vocab) if i > 0}
        self.baseline, self.baseline_accuracy = self._memoryless()

    def _params(self):
        return {"digits": (self.low, self.high)}

    def _memoryless(self) -> tuple[float, float]:
        """(loss, token accuracy) of the best input-blind predictor: see the docstring."""
        lengths = range(self.low, self.high + 1)
        loss = accuracy = weight = 0.0
        for k in range(self.high + 1):
            p = np.zeros(self.output_size)            # token distribution at position k
            for n in lengths:
                if n < k:
                    continue
                if k == n:
                    p[EOS] += 1.0
                elif k == 0 and n > 1:                # a leading digit is never 0
                    p[4:] += 1.0 / 9
                else:
                    p[3:] += 1.0 / 10
            mass = p.sum()                            # proportional to P(n >= k)
            p = p[p > 0] / mass
            loss += mass * float(-(p * np.log(p)).sum())
            accuracy += mass * float(p.max())
            weight += mass
        return float(loss / weight), float(accuracy / weight)

    def _generate(self, batch_size, rng):
        n = rng.integers(self.low, self.high + 1, size=batch_size)
        lead = np.where(n > 1, rng.integers(1, 10, size=batch_size),
                        rng.integers(0, 10, size=batch_size))
        rest = rng.integers(0, 10, size=(batch_size, self.high - 1))
        digits = [np.r_[lead[b], rest[b, :n[b] - 1]] for b in range(batch_size)]
        numbers = np.array([int("".join(map(str, d))) for d in digits], dtype=np.int64)
        sources = [[self.index[w] for w in number_words(int(v))] for v in numbers]
        input_lengths = np.array([len(s) for s in sources])
        x = np.zeros((input_lengths.max(), batch_size), dtype=np.int64)
        y = np.zeros((n.max() + 1, batch_size), dtype=np.int64)
        for b, (s, d) in enumerate(zip(sources, digits)):
            x[:len(s), b] = s
            y[:len(d), b] = d + 3
            y[len(d), b] = EOS
        return Batch(x, y, info={"input_lengths": input_lengths, "target_lengths": n + 1,
                                 "numbers": numbers})

    def decode_source(self, ids) -> str:
        """The words of one input column (pads dropped)."""
        return " ".join(self.source_vocab[i] for i in np.asarray(ids).reshape(-1) if i > 0)

    def decode_target(self, ids) -> str:
        """The digits of one output column, up to the first EOS (pads and BOS dropped)."""
        out = []
        for i in np.asarray(ids).reshape(-1):
            if i == self.EOS:
                break
            if i >= 3:
                out.append(self.target_vocab[i])
        return "".join(out)

    def compute_loss(self, outputs, targets):
        """Cross-entropy in nats per scored output token; padded steps (0) do not count."""
        want = tuple(targets.shape) + (self.output_size,)
        if tuple(outputs.shape) != want:
            raise ValueError(f"the model's output has shape {tuple(outputs.shape)} but "
                             f"{self!r} needs {want} (one row of target logits per output "
                             f"step); build the model with rnn_tutor.seq2seq.EncoderDecoder")
        return F.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1),
                               ignore_index=self.PAD)

    def training_losses(self, model, batch_size: int, seed=0):
        """Yield the teacher-forced loss of ``model`` on fresh batches, forever.

        ``model(inputs, input_lengths, targets)`` must return the logits of every output
        step given the true previous outputs (teacher forcing), as
        :class:`rnn_tutor.seq2seq.EncoderDecoder` does.
        """
        rng = as_rng(seed)
        device = next(model.parameters()).device
        while True:
            batch = self.sample(batch_size, rng)
            x, y = batch.torch(device)
            yield self.compute_loss(model(x, batch.info["input_lengths"], y), y)

    def evaluate(self, model, data) -> dict:
        """Teacher-forced loss and greedy-decoding *sequence* accuracy on ``data``.

        An example counts as right only when the model's own output (each step fed its
        previous prediction) equals the target digits and stops there.
        """
        x, y = data.torch(next(model.parameters()).device)
        lengths = data.info["input_lengths"]
        with evaluation_mode(model):
            loss = float(self.compute_loss(model(x, lengths, y), y))
            written = model.generate(x, lengths, max_len=y.shape[0])
        return {"loss": loss, "accuracy": float(np.mean(self.sequence_correct(written, data.targets)))}

    def sequence_correct(self, generated, targets) -> np.ndarray:
        """Per example: True where ``generated`` (steps, B) starts with the target's tokens,
        EOS included (right digits, then a stop)."""
        generated, targets = np.asarray(generated), np.asarray(targets)
        if generated.ndim != 2 or targets.ndim != 2 or generated.shape[1] != targets.shape[1]:
            raise ValueError(f"generated and targets must be (steps, B) with the same B; got "
                             f"{generated.shape} and {targets.shape}")
        lengths = (targets != self.PAD).sum(axis=0)
        return np.array([len(generated) >= n and np.array_equal(generated[:n, b], targets[:n, b])
                         for b, n in enumerate(lengths)])
