"""What every task shares: a seeded batch, the Task interface, memoryless baselines.

It also defines the batch-source protocol (:class:`BatchSource`) through which
``rnn_tutor.train.train`` reads every task and the character corpus: a stream of training
losses, held-out data with its evaluation, and the baseline a run is drawn against.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch.nn import functional as F

from ..validate import check_choice, check_positive_int
from ..init import rng_from_seed
from ..models import output_and_state, predict

__all__ = ["Batch", "Task", "BatchSource", "as_rng", "empirical_baseline", "nats_to_bits",
           "perplexity", "describe_nats"]

LN2 = math.log(2.0)


def as_rng(seed) -> np.random.Generator:
    """Return a NumPy Generator from an int seed or pass a Generator through.

    The same int always gives the same data; a Generator lets a caller draw many
    batches from one stream. Unlike ``rnn_tutor.init.rng_from_seed``, None is refused:
    a task's data must be reproducible.
    """
    if seed is None:
        raise TypeError("seed must be a non-negative int or a numpy.random.Generator; got "
                        "None (tasks need a seed so that the same seed gives the same data)")
    return rng_from_seed(seed)


def _check_range(value, name: str, low: int = 0) -> tuple[int, int]:
    """Accept an int or an inclusive (low, high) pair of ints; return the pair."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a (low, high) pair; got {value!r}")
        lo, hi = value
    else:
        lo = hi = value
    for v in (lo, hi):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise TypeError(f"{name} must be an int or a (low, high) pair of ints; "
                            f"got {value!r}")
        if v < low:
            raise ValueError(f"{name} must be >= {low}; got {value!r}")
    if lo > hi:
        raise ValueError(f"{name} range must have low <= high; got {value!r}")
    return int(lo), int(hi)


@dataclass
class Batch:
    """Inputs and targets of one batch, as NumPy arrays.

    Unpacks like a pair (``x, y = task.sample(32, seed=0)``). ``info`` holds per-example
    extras some tasks provide (e.g. subject-verb distance). ``batch_first`` records the
    layout: time-major ``(T, B, ...)`` unless the batch was drawn with ``batch_first``.
    """

    inputs: np.ndarray
    targets: np.ndarray
    info: dict = field(default_factory=dict)
    batch_first: bool = False

    def __iter__(self):
        yield self.inputs
        yield self.targets

    def __len__(self) -> int:
        return 2

    def torch(self, device=None):
        """Return ``(inputs, targets)`` as torch tensors (same dtypes), on ``device``."""
        import torch
        return (torch.as_tensor(self.inputs, device=device),
                torch.as_tensor(self.targets, device=device))


@runtime_checkable
class BatchSource(Protocol):
    """What ``rnn_tutor.train.train`` needs from a task: the batch-source protocol.

    Every :class:`Task` and :class:`~rnn_tutor.tasks.CharCorpus` implements it; the
    training loop knows nothing else about them.

    Attributes
    ----------
    input_kind, input_size, output_size, target, loss
        What a model must take and return (see :class:`Task`).
    reference_loss : float
        The baseline a training run is drawn against, in the units of ``loss``.
    training_options : tuple of str
        Settings of ``rnn_tutor.train.TrainConfig`` that ``training_losses`` takes as
        extra keywords (the corpus's ``seq_len`` and ``carry_state``).
    """

    input_kind: str
    input_size: int
    output_size: int
    target: str
    loss: str
    reference_loss: float
    training_options: tuple

    def training_losses(self, model, batch_size: int, seed=0, **options) -> Iterator:
        """Yield the loss of ``model`` on one training batch after another, forever."""

    def evaluation_data(self, size: int = 1024, seed=0):
        """The held-out data that :meth:`evaluate` scores."""

    def evaluate(self, model, data) -> dict:
        """``{"loss": float, "accuracy": float or None}`` of ``model`` on ``data``."""


class Task:
    """A seeded sequence task with a closed-form chance-level baseline.

    Attributes
    ----------
    input_kind : str
        "real" (float inputs of size ``input_size``) or "tokens" (int64 ids below
        ``input_size``, the vocabulary size).
    input_size : int
    output_size : int
        1 for regression, the number of classes otherwise.
    loss : str
        "mse" or "cross_entropy" (nats).
    target : str
        "last" (one target per sequence, shape (B,) or (B, 1)) or "sequence" (one
        target per step, shape (T, B)).
    baseline : float
        The loss of the best predictor that remembers nothing (it may know the time
        step, but no input content), in the units of ``loss``.
    baseline_accuracy : float or None
        That predictor's accuracy.

    Notes
    -----
    A task is a :class:`BatchSource`: :meth:`training_losses` draws a fresh batch at
    every step, :meth:`evaluation_data` is one batch of held-out sequences (the test
    split for :class:`~rnn_tutor.tasks.SequentialDigits`) and ``reference_loss`` is
    ``baseline``.
    """

    input_kind = "real"
    input_size = 1
    output_size = 1
    loss = "mse"
    target = "last"
    baseline = float("nan")
    baseline_accuracy = None
    training_options = ()

    @property
    def reference_loss(self) -> float:
        """The baseline a training run is drawn against: ``baseline``."""
        return self.baseline

    def sample(self, batch_size: int, seed=0, batch_first: bool = False) -> Batch:
        """Draw ``batch_size`` independent sequences; same seed, same data.

        Parameters
        ----------
        batch_size : int
        seed : int or numpy.random.Generator
        batch_first : bool, default False
            Return ``(B, T, ...)`` instead of the default time-major ``(T, B, ...)``.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first must be True or False; got {batch_first!r}")
        batch = self._generate(batch_size, as_rng(seed))
        if batch_first:
            batch.inputs = np.ascontiguousarray(np.swapaxes(batch.inputs, 0, 1))
            if self.target == "sequence":
                batch.targets = np.ascontiguousarray(np.swapaxes(batch.targets, 0, 1))
            batch.batch_first = True
        return batch

    def _generate(self, batch_size: int, rng: np.random.Generator) -> Batch:
        raise NotImplementedError

    def compute_loss(self, outputs, targets):
        """The task's loss (a torch scalar) of model ``outputs`` against ``targets``.

        Mean squared error, or cross-entropy in nats per target. Raises ValueError,
        naming both shapes, when the outputs do not fit the task.
        """
        want = tuple(targets.shape)
        if self.loss == "cross_entropy":
            want += (self.output_size,)
        if tuple(outputs.shape) != want:
            raise ValueError(f"the model's output has shape {tuple(outputs.shape)} but "
                             f"{self!r} needs {want} (target {self.target!r}, loss "
                             f"{self.loss!r}); build the model with "
                             f"rnn_tutor.models.for_task(task)")
        if self.loss == "mse":
            return F.mse_loss(outputs, targets)
        return F.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1))

    def training_losses(self, model, batch_size: int, seed=0) -> Iterator:
        """Yield the loss of ``model`` on a fresh batch of ``batch_size`` sequences, forever.

        The batches come from one random stream (``seed``: int or Generator); each
        sequence starts from a zero state. The losses are torch scalars, ready for
        ``backward()``.
        """
        rng = as_rng(seed)
        device = next(model.parameters()).device
        while True:
            inputs, targets = self.sample(batch_size, rng).torch(device)
            outputs, _ = output_and_state(model(inputs))
            yield self.compute_loss(outputs, targets)

    def evaluation_data(self, size: int = 1024, seed=0) -> Batch:
        """Held-out sequences: ``size`` fresh ones drawn from ``seed``."""
        return self.sample(check_positive_int(size, "size"), seed)

    def evaluate(self, model, data) -> dict:
        """Loss and accuracy of ``model`` on ``data`` (a :class:`Batch`).

        Returns ``{"loss": float, "accuracy": float or None}``: accuracy is the fraction
        of correct classes, or None for regression (except the tolerance criterion of
        the "hs" adding problem).
        """
        inputs, targets = data
        outputs = predict(model, inputs)
        loss = self.compute_loss(torch.as_tensor(outputs), torch.as_tensor(targets))
        return {"loss": float(loss), "accuracy": self._accuracy(outputs, targets)}

    def _accuracy(self, outputs: np.ndarray, targets: np.ndarray) -> float | None:
        if self.loss == "cross_entropy":
            return float(np.mean(outputs.argmax(-1) == targets))
        return None

    def empirical_baseline(self, targets) -> float:
        """Loss of the best memoryless predictor fitted to ``targets`` (time-major)."""
        return empirical_baseline(targets, self.loss, self.target)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"

    def _params(self) -> dict:
        return {}


def empirical_baseline(targets, loss: str, target: str = "last") -> float:
    """Loss of the best predictor that sees no input content, fitted to ``targets``.

    For ``loss="mse"`` it predicts the mean target (per time step for sequence
    targets): its loss is the variance. For ``loss="cross_entropy"`` it predicts the
    empirical class frequencies (per time step): its loss is their entropy in nats.
    With enough samples this converges to each task's closed-form ``baseline``.
    """
    check_choice(loss, ("mse", "cross_entropy"), "loss")
    check_choice(target, ("last", "sequence"), "target")
    y = np.asarray(targets)
    if target == "last":
        y = y.reshape(1, len(y), -1) if loss == "mse" else y.reshape(1, -1)
    if loss == "mse":
        y = y.astype(np.float64)
        return float(np.mean((y - y.mean(axis=1, keepdims=True)) ** 2))
    total = 0.0
    for row in y:  # one time step at a time (T is small)
        p = np.bincount(row.astype(np.int64)) / row.size
        p = p[p > 0]
        total += float(-(p * np.log(p)).sum())
    return total / y.shape[0]


def nats_to_bits(nats):
    """Convert a loss in nats (per token) to bits (per token)."""
    return np.asarray(nats) / LN2 if np.ndim(nats) else float(nats) / LN2


def perplexity(nats):
    """Perplexity exp(loss) of a cross-entropy in nats per token."""
    return np.exp(nats) if np.ndim(nats) else math.exp(nats)


def describe_nats(nats: float, unit: str = "char") -> str:
    """Format a cross-entropy with all three units, e.g. for a table or a print."""
    return (f"{nats:.3f} nats/{unit} = {nats / LN2:.3f} bits/{unit} "
            f"(perplexity {math.exp(nats):.2f})")
