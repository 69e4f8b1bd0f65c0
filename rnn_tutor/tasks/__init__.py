"""Sequence tasks, each seeded and with its closed-form chance-level baseline.

Every task draws batches with ``task.sample(batch_size, seed)`` (same seed, same data;
``seed`` an int or a ``numpy.random.Generator``) and returns a :class:`Batch` of NumPy
arrays, time-major ``(T, B, ...)`` like ``torch.nn.RNN`` (``batch_first=True`` for
``(B, T, ...)``; ``batch.torch()`` for tensors). ``task.baseline`` is the loss of the best
predictor that remembers nothing, in the task's loss units (MSE, or nats per target
for cross-entropy); see each class's docstring for the derivation.

Every task and the character corpus are :class:`BatchSource` objects: the one protocol
through which ``rnn_tutor.train.train`` reads them (training losses batch after batch,
held-out data and its evaluation, the baseline a run is drawn against). The corpus is
read by truncated backpropagation through time, :func:`truncated_bptt`.

=====================  ==========================================  ==================
task                   what must be remembered                     baseline
=====================  ==========================================  ==================
AddingProblem("le")    two marked values in [0, 1]                 MSE 1/6
AddingProblem("hs")    two marked values in [-1, 1]                MSE 1/24
CopyTask               K symbols over a gap of T steps             K ln A / (T + 2K)
Latch                  the sign of the first input                 ln 2
TemporalOrder          the order of two marked symbols             ln 4
Agreement              the subject's number across attractors      ln 2
LateSentiment          (needs the right-hand context)              ln 2
SequentialDigits       an 8x8 digit read row/pixel-wise            H(class prior)
SpelledNumbers         "twelve thousand forty" -> 1 2 0 4 0 EOS    input-blind writer
CharCorpus             stdlib docstrings, character-level          n-gram baselines
=====================  ==========================================  ==================
"""

from ._base import (Batch, BatchSource, Task, as_rng, describe_nats, empirical_baseline,
                    nats_to_bits, perplexity)
from .corpus import ALPHABET, DEFAULT_MODULES, CharCorpus, stdlib_docstrings, truncated_bptt
from .digits import SequentialDigits
from .language import Agreement, LateSentiment
from .spelled import SpelledNumbers, number_words
from .synthetic import AddingProblem, CopyTask, Latch, TemporalOrder

__all__ = ["Batch", "Task", "BatchSource", "truncated_bptt", "as_rng", "describe_nats",
           "empirical_baseline", "nats_to_bits", "perplexity", "AddingProblem", "CopyTask",
           "Latch", "TemporalOrder", "Agreement", "LateSentiment", "SequentialDigits",
           "SpelledNumbers", "number_words",
           "CharCorpus", "stdlib_docstrings", "ALPHABET", "DEFAULT_MODULES"]
