"""Generated sentences: subject-verb agreement and late-decided sentiment."""

from __future__ import annotations

import math

import numpy as np

from ..validate import check_choice, check_positive_int
from ._base import Batch, Task, _check_range

__all__ = ["Agreement", "LateSentiment"]

_NOUNS = (("cat", "cats"), ("dog", "dogs"), ("bird", "birds"), ("child", "children"),
          ("teacher", "teachers"), ("farmer", "farmers"), ("doctor", "doctors"),
          ("artist", "artists"))
_VERBS = ("saw", "chased", "helped", "liked", "called", "followed")
_FILLERS = ("quietly", "often", "never", "clearly", "really", "always", "slowly", "surely")


class Agreement(Task):
    """Subject-verb agreement across a gap: "the cats that chased the dog ... were".

    A sentence starts with ``the`` and a subject noun (singular or plural, equally
    likely); then come ``d`` tokens (``d`` = the subject-verb distance) made of
    ``n`` attractor clauses "that <verb> the <noun>" (4 tokens each; the attractor
    noun's number is random and independent of the subject's) and ``d - 4n`` filler
    adverbs ("quietly", "often", ...) spread at random before each clause's verb and
    before the main verb. The model reads the sentence up to the main verb and predicts
    its number: 0 = singular ("was"), 1 = plural ("were").

    Sentences are **left-padded** with the pad id 0 to the longest possible length
    ``2 + max distance``, so every sentence ends at the last step and a sequence-to-one
    model reads its answer there. Inputs (L, B) int64, targets (B,) int64;
    ``batch.info`` holds per-example ``distance`` and ``attractors`` arrays (for
    accuracy-against-distance curves).

    **Baseline ln 2 nats, accuracy 1/2**: the subject's number is a fair coin and, since
    attractors and fillers are independent of it, nothing but the (remembered) subject
    tells the answer.

    Parameters
    ----------
    distance : int or (low, high)
        Tokens between the subject noun and the verb, drawn uniformly per sentence.
    attractors : int or (low, high)
        Number of attractor clauses, drawn uniformly among the values that fit
        (4 * attractors <= distance).
    distances : {"uniform", "zipf"}
        How the distance is drawn from ``low..high``: ``"uniform"`` (every value equally
        likely) or ``"zipf"``, P(d) proportional to 1 / (d - low + 1): short dependencies
        are common and long ones rare, as in real text (most subjects sit next to their
        verb). The baseline does not depend on it.
    """

    input_kind = "tokens"
    output_size = 2
    loss = "cross_entropy"
    target = "last"
    baseline = math.log(2.0)
    baseline_accuracy = 0.5

    def __init__(self, distance=(0, 12), attractors=(0, 2), distances="uniform"):
        self.distance = _check_range(distance, "distance")
        self.distances = check_choice(distances, ("uniform", "zipf"), "distances")
        self.attractors = _check_range(attractors, "attractors")
        if 4 * self.attractors[0] > self.distance[0]:
            raise ValueError(
                f"each attractor clause takes 4 tokens, so the smallest distance "
                f"({self.distance[0]}) must be >= 4 * the smallest number of attractors "
                f"({self.attractors[0]}); got distance={distance!r}, attractors={attractors!r}")
        words = ["<pad>", "the", "that", "was", "were"]
        words += [w for pair in _NOUNS for w in pair] + list(_VERBS) + list(_FILLERS)
        self.vocabulary = tuple(words)
        self.index = {w: i for i, w in enumerate(words)}
        self.input_size = len(words)
        self.length = 2 + self.distance[1]

    def _params(self):
        return {"distance": self.distance, "attractors": self.attractors,
                "distances": self.distances}

    def distance_probabilities(self) -> np.ndarray:
        """P(distance = low + k) for k = 0 .. high - low, as used by the generator."""
        lo, hi = self.distance
        p = np.ones(hi - lo + 1) if self.distances == "uniform" else 1.0 / np.arange(1, hi - lo + 2)
        return p / p.sum()

    def _sentence(self, d, n, plural, rng):
        ix = self.index
        nouns = rng.integers(0, len(_NOUNS), size=n + 1)
        numbers = rng.integers(0, 2, size=n)
        # spread d - 4n fillers over n + 1 slots (before each clause verb, before the verb)
        slots = np.bincount(rng.integers(0, n + 1, size=d - 4 * n), minlength=n + 1)
        fill = rng.integers(0, len(_FILLERS), size=d - 4 * n)
        fillers = iter(ix[_FILLERS[k]] for k in fill)
        out = [ix["the"], ix[_NOUNS[nouns[0]][plural]]]
        for j in range(n):
            out.append(ix["that"])
            out += [next(fillers) for _ in range(slots[j])]
            out += [ix[_VERBS[rng.integers(len(_VERBS))]], ix["the"],
                    ix[_NOUNS[nouns[j + 1]][numbers[j]]]]
        out += [next(fillers) for _ in range(slots[n])]
        return out

    def _generate(self, batch_size, rng):
        if self.distances == "uniform":  # kept as it was, so old seeds give the same data
            dist = rng.integers(self.distance[0], self.distance[1] + 1, size=batch_size)
        else:
            dist = self.distance[0] + rng.choice(
                self.distance[1] - self.distance[0] + 1, size=batch_size,
                p=self.distance_probabilities())
        hi = np.minimum(self.attractors[1], dist // 4)
        n_attr = self.attractors[0] + np.floor(
            rng.random(batch_size) * (hi - self.attractors[0] + 1)).astype(np.int64)
        plural = rng.integers(0, 2, size=batch_size)
        x = np.zeros((self.length, batch_size), dtype=np.int64)
        for b in range(batch_size):  # sentence building only; training is batched
            s = self._sentence(int(dist[b]), int(n_attr[b]), int(plural[b]), rng)
            x[self.length - len(s):, b] = s
        return Batch(x, plural.astype(np.int64),
                     info={"distance": dist, "attractors": n_attr})

    def decode(self, ids, verb=None) -> str:
        """Token ids of one sentence (pads dropped) -> text; ``verb`` 0/1 appends was/were."""
        words = [self.vocabulary[int(i)] for i in np.asarray(ids).reshape(-1) if int(i) != 0]
        if verb is not None:
            words.append(("was", "were")[int(verb)])
        return " ".join(words)


_SUBJECTS = ("movie", "plot", "acting", "ending", "music", "story", "film", "cast")
_INTENSIFIERS = ("terribly", "really", "very", "quite", "awfully", "truly")
_POSITIVE = ("exciting", "great", "moving", "brilliant", "funny", "charming")
_NEGATIVE = ("boring", "dull", "awful", "bad", "tedious", "clumsy")


class LateSentiment(Task):
    """Sentiment decided by the last words: "the plot was great but the movie was terribly dull".

    A sentence is ``clauses`` clauses "the <noun> was <adverb> <adjective>" joined by
    "but". The label (1 = positive, 0 = negative) is the polarity of the **last**
    adjective, flipped when the last adverb is "not" (with ``negation=True``). The
    intensifiers ("terribly", "really", ...) carry no polarity, and the earlier clauses'
    adjectives are random and independent of the label: distractors. All sentences have
    the same length L = 6 * clauses - 1. Inputs (L, B) int64.

    With ``per_token=True`` (the default) the target is the sentence label at every step,
    targets (L, B): a tagger must say at each word how the sentence ends, which needs the
    right-hand context. Otherwise targets (B,) (sequence-to-one).

    **Baselines (nats).** ``baseline`` = ln 2 (accuracy 1/2): the label is a fair coin,
    independent of everything but the last two words.

    ``causal_baseline`` = ln 2 * (L - 1) / L (per-token; 0 for sequence-to-one, where a
    left-to-right model answers after reading everything): the best any left-to-right
    model can do. Before the last word it has seen nothing that depends on the label
    (the adverb "not" alone leaves both labels equally likely), so it must say 50/50
    there; only at the last step can it be certain. A bidirectional model can reach 0,
    which is why this task *needs* the right-hand context.
    """

    input_kind = "tokens"
    output_size = 2
    loss = "cross_entropy"
    baseline = math.log(2.0)
    baseline_accuracy = 0.5

    def __init__(self, clauses: int = 2, negation: bool = True, per_token: bool = True):
        self.clauses = check_positive_int(clauses, "clauses")
        for name, value in (("negation", negation), ("per_token", per_token)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be True or False; got {value!r}")
        self.negation = negation
        self.per_token = per_token
        self.target = "sequence" if per_token else "last"
        self.adverbs = _INTENSIFIERS + (("not",) if negation else ())
        words = ["<pad>", "the", "was", "but"] + list(_SUBJECTS) + list(self.adverbs)
        words += list(_POSITIVE) + list(_NEGATIVE)
        self.vocabulary = tuple(words)
        self.index = {w: i for i, w in enumerate(words)}
        self.input_size = len(words)
        self.length = 6 * self.clauses - 1
        L = self.length
        # sequence-to-one: a left-to-right model reads the whole sentence first
        self.causal_baseline = math.log(2.0) * (L - 1) / L if per_token else 0.0
        self.causal_accuracy = (0.5 * (L - 1) + 1) / L if per_token else 1.0

    def _params(self):
        return {"clauses": self.clauses, "negation": self.negation,
                "per_token": self.per_token}

    def _generate(self, batch_size, rng):
        ix, B, C = self.index, batch_size, self.clauses
        subj = rng.integers(0, len(_SUBJECTS), size=(C, B))
        adv = rng.integers(0, len(_INTENSIFIERS), size=(C, B))
        if self.negation:  # "not" half of the time, so it is a real coin flip
            adv = np.where(rng.random((C, B)) < 0.5, len(self.adverbs) - 1, adv)
        positive = rng.integers(0, 2, size=(C, B))
        adj = rng.integers(0, len(_POSITIVE), size=(C, B))
        first_pos, first_neg = ix[_POSITIVE[0]], ix[_NEGATIVE[0]]
        adv_ids = np.array([ix[a] for a in self.adverbs])[adv]
        adj_ids = np.where(positive == 1, first_pos + adj, first_neg + adj)
        x = np.zeros((self.length, B), dtype=np.int64)
        for c in range(C):
            t = 6 * c
            if c:
                x[t - 1] = ix["but"]
            x[t] = ix["the"]
            x[t + 1] = ix[_SUBJECTS[0]] + subj[c]
            x[t + 2] = ix["was"]
            x[t + 3] = adv_ids[c]
            x[t + 4] = adj_ids[c]
        label = positive[-1]
        if self.negation:
            label = np.where(adv_ids[-1] == ix["not"], 1 - label, label)
        label = label.astype(np.int64)
        y = np.broadcast_to(label, (self.length, B)).copy() if self.per_token else label
        return Batch(x, y)

    def decode(self, ids) -> str:
        """Token ids of one sentence -> text."""
        return " ".join(self.vocabulary[int(i)] for i in np.asarray(ids).reshape(-1)
                        if int(i) != 0)
