"""scikit-learn's bundled 8x8 handwritten digits, read as sequences."""

from __future__ import annotations

import functools

import numpy as np

from ..validate import check_choice, check_positive_int
from ._base import Batch, Task

__all__ = ["SequentialDigits"]


@functools.lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits  # ships with scikit-learn: no download
    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)


class SequentialDigits(Task):
    """Classify an 8x8 digit read one row (T=8, D=8) or one pixel (T=64, D=1) per step.

    The 1797 images of ``sklearn.datasets.load_digits`` (pixel values scaled to [0, 1])
    are split deterministically: every ``test_every``-th image is a test image.
    ``sample`` draws training images (with replacement); ``test_set()`` returns all test
    images. Inputs (T, B, D) float32, targets (B,) int64 in 0..9.

    **Baseline**: a predictor that remembers nothing outputs the class frequencies.
    ``baseline`` = their entropy on the training split (about ln 10 = 2.303 nats, the
    classes are nearly balanced): the loss on data drawn by ``sample``.
    ``test_baseline`` = cross-entropy of those training frequencies on the test split,
    ``baseline_accuracy`` = test accuracy of always answering the most frequent class.
    Training runs are evaluated on the test split (:meth:`evaluation_data`).
    """

    output_size = 10
    loss = "cross_entropy"
    target = "last"

    def __init__(self, mode: str = "rows", test_every: int = 5):
        self.mode = check_choice(mode, ("rows", "pixels"), "mode")
        self.test_every = check_positive_int(test_every, "test_every")
        if self.test_every < 2:
            raise ValueError(f"test_every must be at least 2; got {test_every}")
        images, labels = _digits()
        test = np.arange(len(labels)) % self.test_every == self.test_every - 1
        self._train = (images[~test], labels[~test])
        self._test = (images[test], labels[test])
        self.T, self.input_size = (8, 8) if mode == "rows" else (64, 1)
        prior = np.bincount(labels[~test], minlength=10) / (~test).sum()
        self.prior = prior
        self.baseline = float(-(prior * np.log(prior)).sum())
        self.test_baseline = float(-np.mean(np.log(prior[labels[test]])))
        self.baseline_accuracy = float(np.mean(labels[test] == np.argmax(prior)))
        self.n_train, self.n_test = int((~test).sum()), int(test.sum())

    def _params(self):
        return {"mode": self.mode, "test_every": self.test_every}

    def _as_sequences(self, images):
        # (B, 8, 8) -> (T, B, D): rows are steps, or pixels in reading order
        x = images.reshape(len(images), self.T, self.input_size)
        return np.ascontiguousarray(np.swapaxes(x, 0, 1))

    def _generate(self, batch_size, rng):
        idx = rng.integers(0, self.n_train, size=batch_size)
        return Batch(self._as_sequences(self._train[0][idx]), self._train[1][idx].copy())

    def _whole(self, split, batch_first):
        images, labels = split
        x = self._as_sequences(images)
        if batch_first:
            x = np.ascontiguousarray(np.swapaxes(x, 0, 1))
        return Batch(x, labels.copy(), batch_first=batch_first)

    def train_set(self, batch_first: bool = False) -> Batch:
        """All training images as one batch (time-major unless ``batch_first``)."""
        return self._whole(self._train, batch_first)

    def test_set(self, batch_first: bool = False) -> Batch:
        """All test images as one batch (time-major unless ``batch_first``)."""
        return self._whole(self._test, batch_first)

    def evaluation_data(self, size: int = 1024, seed=0) -> Batch:
        """The held-out data: all test images (``size`` and ``seed`` are not used)."""
        return self.test_set()
