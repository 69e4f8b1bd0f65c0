"""Interpolated Kneser-Ney baselines of CharCorpus, against a brute-force reference."""

import math
from collections import Counter

import numpy as np
import pytest

from rnn_tutor import tasks as T
from rnn_tutor.tasks.corpus import KN_FALLBACK_DISCOUNT


@pytest.fixture(scope="module")
def corpus():
    return T.CharCorpus()


class ReferenceKN:
    """Interpolated Kneser-Ney written straight from the formulas, with dicts and loops.

    Level m of a model of order n: raw counts n(h c) if m == n, else continuation counts
    n'(h c) = #{distinct v : v h c occurs in the text}. With d(h) the sum over c of the
    level's counts and N(h) the number of c with a nonzero count,
    P_m(c | h) = max(count(h c) - D_m, 0) / d(h) + D_m N(h) / d(h) P_{m-1}(c | h[1:]),
    P_m = P_{m-1} if d(h) = 0, and P_0 = 1 / V.
    """

    def __init__(self, fit, V, order, discounts=None):
        fit = [int(c) for c in fit]
        self.V, self.order = V, order
        self.raw = {m: Counter(tuple(fit[i:i + m]) for i in range(len(fit) - m + 1))
                    for m in range(1, order + 1)}
        self.cont = {m: Counter(g[1:] for g in self.raw[m + 1]) for m in range(1, order)}
        self.given = discounts

    def table(self, m, top):
        return self.raw[m] if m == top else self.cont[m]

    def discount(self, m, top):
        if self.given is not None:
            return self.given[m - 1]
        values = list(self.table(m, top).values())
        n1, n2 = values.count(1), values.count(2)
        return n1 / (n1 + 2 * n2) if n1 > 0 else KN_FALLBACK_DISCOUNT

    def prob(self, c, history, top=None, m=None):
        top = self.order if top is None else top
        m = top if m is None else m
        if m == 0:
            return 1.0 / self.V
        h = tuple(history[len(history) - (m - 1):]) if m > 1 else ()
        lower = self.prob(c, history, top, m - 1)
        table, D = self.table(m, top), self.discount(m, top)
        counts = [table.get(h + (w,), 0) for w in range(self.V)]
        d = sum(counts)
        if d == 0:
            return lower
        types = sum(1 for x in counts if x > 0)
        return max(counts[c] - D, 0) / d + D * types / d * lower

    def at(self, ev, t, c=None):
        """P(c, default ev[t] | ev[:t]) with the highest order the history allows."""
        top = min(self.order, t + 1)
        return self.prob(ev[t] if c is None else c, ev[t - top + 1:t], top)


@pytest.fixture(scope="module")
def tiny(corpus):
    # A tiny text: a few docstrings' worth of training characters and a short piece of
    # validation text, as plain Python lists for the reference.
    return corpus.train_ids[:2500], corpus.valid_ids[:160]


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("discount", [None, 0.75, "per level"])
def test_matches_brute_force_reference(corpus, tiny, order, discount):
    fit, ev = tiny
    if discount == "per level":
        discount = tuple(0.3 + 0.15 * m for m in range(order))
    ref = ReferenceKN(fit, corpus.vocab_size, order,
                      None if discount is None else
                      (discount,) * order if isinstance(discount, float) else discount)
    ev_list = [int(c) for c in ev]
    want = np.array([ref.at(ev_list, t) for t in range(2, len(ev_list))])
    probs = corpus.kneser_ney_probabilities(order, discount, fit, ev)
    got = probs[np.arange(len(ev) - 2), ev[2:]]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # whole distributions at a few positions, including the start (shorter histories)
    for t in (2, 3, 4, 5, 40, 100):
        full = [ref.at(ev_list, t, c) for c in range(corpus.vocab_size)]
        np.testing.assert_allclose(probs[t - 2], full, rtol=0, atol=1e-12)
    loss = corpus.kneser_ney_loss(order, discount, fit, ev)
    assert loss == pytest.approx(-np.mean(np.log(want)), abs=1e-12)
    if discount is None:
        assert corpus.kneser_ney_discounts(order, fit) == pytest.approx(
            [ref.discount(m, order) for m in range(1, order + 1)], abs=1e-15)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_every_context_is_normalised(corpus, order):
    rng = np.random.default_rng(order)
    random_text = rng.integers(0, corpus.vocab_size, size=400)   # mostly unseen contexts
    real_text = corpus.valid_ids[rng.integers(0, len(corpus.valid_ids) - 400):][:400]
    for ev in (random_text, real_text):
        for discount in (None, 1.0, 0.05):
            p = corpus.kneser_ney_probabilities(order, discount, evaluate=ev)
            assert p.shape == (len(ev) - 2, corpus.vocab_size)
            assert p.min() > 0, f"order {order}: a probability is {p.min()}"
            np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_scores_the_same_positions_as_ngram_loss(corpus, tiny):
    fit, ev = tiny
    # order 1: Kneser-Ney with D -> 0 on a text where every character was seen is the
    # maximum-likelihood unigram, and add-k with k -> 0 is too: same positions, same loss
    seen = np.isin(ev, fit)
    ev = ev[seen]
    assert corpus.kneser_ney_loss(1, 1e-9, fit, ev) == pytest.approx(
        corpus.ngram_loss(1, 1e-9, fit, ev), rel=1e-6)
    assert len(corpus.kneser_ney_probabilities(5, evaluate=ev)) == len(ev) - 2


def test_real_corpus_orders_and_the_trigram(corpus):
    kn = corpus.kneser_ney_baselines()
    assert list(kn) == [f"kneser-ney {n}-gram" for n in range(1, 6)]
    losses = list(kn.values())
    assert all(a > b for a, b in zip(losses, losses[1:])), losses
    trigram = corpus.baselines()["trigram"]
    assert kn["kneser-ney 5-gram"] < trigram - 0.5, (kn["kneser-ney 5-gram"], trigram)
    assert kn["kneser-ney 1-gram"] == pytest.approx(corpus.baselines()["unigram"], abs=1e-3)
    bits = corpus.kneser_ney_baselines("bits")
    assert bits["kneser-ney 5-gram"] == pytest.approx(kn["kneser-ney 5-gram"] / math.log(2))
    assert corpus.kneser_ney_loss(5) == kn["kneser-ney 5-gram"]
    assert set(corpus.baselines()) == {"uniform", "unigram", "bigram", "trigram"}


@pytest.mark.parametrize("call, error, match", [
    (lambda c: c.kneser_ney_loss(0), ValueError, "order must be a positive integer; got 0"),
    (lambda c: c.kneser_ney_loss(6), ValueError, r"order must be 1, 2, 3, 4 or 5 .*got 6"),
    (lambda c: c.kneser_ney_loss(2.0), TypeError, r"order must be .*integer; got 2.0"),
    (lambda c: c.kneser_ney_loss("5"), TypeError, r"order must be .*integer; got '5'"),
    (lambda c: c.kneser_ney_loss(True), TypeError, "order must be"),
    (lambda c: c.kneser_ney_loss(3, -0.5), ValueError,
     r"discount must be .*\(0, 1\].*-0.5"),
    (lambda c: c.kneser_ney_loss(3, 0), ValueError, r"discount must be .*got 0.0"),
    (lambda c: c.kneser_ney_loss(3, 1.5), ValueError, r"discount must be .*got 1.5"),
    (lambda c: c.kneser_ney_loss(3, "0.5"), TypeError,
     r"discount must be .*got '0.5' \(str\)"),
    (lambda c: c.kneser_ney_loss(3, [0.5, 0.5]), ValueError,
     r"sequence of 3 such numbers.*got 2 numbers"),
    (lambda c: c.kneser_ney_loss(2, [0.5, None]), TypeError, r"discount must be .*None"),
    (lambda c: c.kneser_ney_loss(2, fit=[0.5, 1.5, 2.0]), TypeError,
     r"fit must be a 1-D array of integer character ids.*float64"),
    (lambda c: c.kneser_ney_loss(2, evaluate="abc"), TypeError, "evaluate must be a 1-D"),
    (lambda c: c.kneser_ney_loss(2, evaluate=np.zeros((4, 2), int)), ValueError,
     r"evaluate must be a 1-D array .*shape \(4, 2\)"),
    (lambda c: c.kneser_ney_loss(2, evaluate=[1, 2]), ValueError,
     "evaluate must hold at least 3 characters; got 2"),
    (lambda c: c.kneser_ney_loss(5, fit=[1, 2, 3]), ValueError,
     "fit must hold at least 5 characters; got 3"),
    (lambda c: c.kneser_ney_loss(2, evaluate=[1, 2, 99]), ValueError,
     r"evaluate ids must lie in 0..59; got range 1..99"),
    (lambda c: c.kneser_ney_baselines("bpc"), ValueError, "unit"),
])
def test_bad_arguments_say_what_was_expected(corpus, call, error, match):
    with pytest.raises(error, match=match):
        call(corpus)
