"""Synthetic long-memory tasks: adding, copy, latch, temporal order."""

from __future__ import annotations

import math

import numpy as np

from ..validate import check_choice, check_positive_float, check_positive_int
from ._base import Batch, Task

__all__ = ["AddingProblem", "CopyTask", "Latch", "TemporalOrder"]


class AddingProblem(Task):
    """The adding problem: add the two marked numbers of a long sequence.

    Each step carries two inputs, a random value and a marker (1 at exactly two steps,
    else 0); the target, given once at the end, depends only on the two marked values
    X1 and X2. Inputs have shape (T, B, 2), float32; targets (B, 1), float32.

    **Variants.** ``"le"`` (Le, Jaitly & Hinton 2015): values uniform on [0, 1], one
    marker in each half of the sequence, target X1 + X2. **Baseline MSE 1/6**: a predictor that
    remembers nothing outputs a constant; the best constant is E[X1 + X2] = 1, and its
    MSE is Var(X1 + X2) = 2 Var(U[0,1]) = 2/12 = 1/6.

    ``"hs"`` (Hochreiter & Schmidhuber 1997): values uniform on [-1, 1], first marker
    among the first 10 steps, second among the first T/2 (distinct), target
    0.5 + (X1 + X2)/4; a prediction counts as correct when its absolute error is below
    ``tolerance`` = 0.04. **Baseline MSE 1/24**: the best constant is 0.5 and its MSE is
    Var(X1 + X2)/16 = (2/3)/16. Its accuracy is P(abs(X1 + X2) < 0.16) = 0.16 - 0.16**2/4 =
    0.1536 (X1 + X2 has the triangular density (2 - abs(s))/4 on [-2, 2]). We keep the core
    of the original task and drop its extra end-of-sequence markers.
    """

    input_size = 2
    output_size = 1
    loss = "mse"
    target = "last"

    def __init__(self, T: int = 100, variant: str = "le"):
        self.T = check_positive_int(T, "T")
        self.variant = check_choice(variant, ("le", "hs"), "variant")
        if self.T < 4:
            raise ValueError(f"T must be at least 4 for the adding problem; got {T}")
        if variant == "le":
            self.baseline = 1.0 / 6.0
            self.tolerance = None
            self.baseline_accuracy = None
        else:
            self.baseline = 1.0 / 24.0
            self.tolerance = 0.04
            a = 4 * self.tolerance
            self.baseline_accuracy = a - a * a / 4

    def _params(self):
        return {"T": self.T, "variant": self.variant}

    def _generate(self, batch_size, rng):
        T, B = self.T, batch_size
        cols = np.arange(B)
        if self.variant == "le":
            values = rng.uniform(0.0, 1.0, size=(T, B))
            first = rng.integers(0, T // 2, size=B)
            second = rng.integers(T // 2, T, size=B)
        else:
            values = rng.uniform(-1.0, 1.0, size=(T, B))
            first = rng.integers(0, min(10, T // 2), size=B)
            # second uniform over the first T/2 steps except `first`
            second = rng.integers(0, T // 2 - 1, size=B)
            second = second + (second >= first)
        markers = np.zeros((T, B))
        markers[first, cols] = 1.0
        markers[second, cols] = 1.0
        total = values[first, cols] + values[second, cols]
        y = total if self.variant == "le" else 0.5 + total / 4.0
        x = np.stack([values, markers], axis=-1).astype(np.float32)
        return Batch(x, y[:, None].astype(np.float32))

    def _accuracy(self, outputs, targets):
        return None if self.tolerance is None else self.accuracy(outputs, targets)

    def accuracy(self, predictions, targets) -> float:
        """Fraction with absolute error below ``tolerance`` (the "hs" criterion)."""
        tol = 0.04 if self.tolerance is None else self.tolerance
        err = np.abs(np.asarray(predictions, dtype=float).reshape(-1)
                     - np.asarray(targets, dtype=float).reshape(-1))
        return float(np.mean(err < tol))


class CopyTask(Task):
    """Copy (memory) task: read K symbols, wait, then write them back after a delimiter.

    Token ids: 0 = blank, 1..A = symbols, A + 1 = delimiter (vocabulary A + 2). A
    sequence has T + 2K steps:

        inputs : s_1 .. s_K, blank x (T - 1), delimiter, blank x K
        targets: blank x (T + K),                         s_1 .. s_K

    so the delimiter comes T steps after the last symbol and the first symbol must be
    written T + K steps after it was read. Inputs (T + 2K, B) int64, targets
    (T + 2K, B) int64 in 0..A (``output_size`` = A + 1), loss = cross-entropy averaged
    over all steps.

    **Baseline K ln A / (T + 2K) nats per step** (Arjovsky et al. 2016): a predictor
    that remembers nothing but knows the step index outputs blank with certainty for the
    first T + K steps (loss 0) and the uniform distribution over the A symbols for the
    last K (each symbol is uniform and independent of the clock: loss ln A each).
    Averaged over the T + 2K steps this is K ln A / (T + 2K).
    """

    input_kind = "tokens"
    loss = "cross_entropy"
    target = "sequence"

    def __init__(self, T: int = 20, K: int = 5, alphabet_size: int = 8):
        self.T = check_positive_int(T, "T")
        self.K = check_positive_int(K, "K")
        self.alphabet_size = check_positive_int(alphabet_size, "alphabet_size")
        if self.alphabet_size < 2:
            raise ValueError(f"alphabet_size must be at least 2; got {alphabet_size}")
        self.length = self.T + 2 * self.K
        self.input_size = self.alphabet_size + 2
        self.output_size = self.alphabet_size + 1
        self.delimiter = self.alphabet_size + 1
        self.baseline = self.K * math.log(self.alphabet_size) / self.length
        # accuracy over all steps: blanks right, 1/A of the symbols right
        self.baseline_accuracy = (self.T + self.K + self.K / self.alphabet_size) / self.length

    def _params(self):
        return {"T": self.T, "K": self.K, "alphabet_size": self.alphabet_size}

    def _generate(self, batch_size, rng):
        T, K = self.T, self.K
        symbols = rng.integers(1, self.alphabet_size + 1, size=(K, batch_size))
        x = np.zeros((self.length, batch_size), dtype=np.int64)
        y = np.zeros((self.length, batch_size), dtype=np.int64)
        x[:K] = symbols
        x[K + T - 1] = self.delimiter
        y[T + K:] = symbols
        return Batch(x, y)


class Latch(Task):
    """Latching: the class is the sign of the first input; the rest is noise.

    Inputs (T, B, 1), float32: x_0 = +1 or -1 (class 1 or 0), then T - 1 steps of
    Gaussian noise with standard deviation ``noise``. Targets (B,) int64. The network
    must hold one bit for T steps (Bengio, Simard & Frasconi 1994).

    **Baseline ln 2 nats, accuracy 1/2**: the classes are equally likely and a
    predictor that remembers nothing sees only noise at the last step.
    """

    input_size = 1
    output_size = 2
    loss = "cross_entropy"
    target = "last"
    baseline = math.log(2.0)
    baseline_accuracy = 0.5

    def __init__(self, T: int = 50, noise: float = 0.2):
        self.T = check_positive_int(T, "T")
        self.noise = check_positive_float(noise, "noise", allow_zero=True)
        if self.T < 2:
            raise ValueError(f"T must be at least 2; got {T}")

    def _params(self):
        return {"T": self.T, "noise": self.noise}

    def _generate(self, batch_size, rng):
        bit = rng.integers(0, 2, size=batch_size)
        x = rng.normal(0.0, 1.0, size=(self.T, batch_size, 1)) * self.noise
        x[0, :, 0] = 2.0 * bit - 1.0
        return Batch(x.astype(np.float32), bit.astype(np.int64))


class TemporalOrder(Task):
    """Temporal order (Hochreiter & Schmidhuber 1997): in which order came X and Y?

    A sequence of T random distractor tokens (ids 0..3, "a b c d") holds two marked
    tokens, each X (id 4) or Y (id 5): the first at a random step in [T/10, 2T/10), the
    second in [5T/10, 6T/10). The class is the pair's identity, XX=0, XY=1, YX=2, YY=3.
    Inputs (T, B) int64 (vocabulary 6), targets (B,) int64.

    **Baseline ln 4 nats, accuracy 1/4**: the four classes are equally likely and
    nothing at the last step reveals them.
    """

    input_kind = "tokens"
    input_size = 6
    output_size = 4
    loss = "cross_entropy"
    target = "last"
    baseline = math.log(4.0)
    baseline_accuracy = 0.25
    vocabulary = ("a", "b", "c", "d", "X", "Y")

    def __init__(self, T: int = 50):
        self.T = check_positive_int(T, "T")
        if self.T < 10:
            raise ValueError(f"T must be at least 10 for the temporal order task; got {T}")

    def _params(self):
        return {"T": self.T}

    def _generate(self, batch_size, rng):
        T, B = self.T, batch_size
        cols = np.arange(B)
        x = rng.integers(0, 4, size=(T, B))
        t1 = rng.integers(T // 10, 2 * T // 10, size=B)
        t2 = rng.integers(5 * T // 10, 6 * T // 10, size=B)
        first = rng.integers(0, 2, size=B)
        second = rng.integers(0, 2, size=B)
        x[t1, cols] = 4 + first
        x[t2, cols] = 4 + second
        return Batch(x.astype(np.int64), (2 * first + second).astype(np.int64))

    def decode(self, ids) -> str:
        """Sequence of ids (T,) -> string of symbols."""
        return "".join(self.vocabulary[int(i)] for i in np.asarray(ids).reshape(-1))
