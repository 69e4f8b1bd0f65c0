"""Tasks: determinism, shapes, and baselines equal to their formula and to the data."""

import math
from collections import Counter, defaultdict

import numpy as np
import pytest
import torch

from rnn_tutor import tasks as T

ALL_TASKS = [
    T.AddingProblem(20), T.AddingProblem(20, "hs"), T.CopyTask(6, 3, 5), T.Latch(10),
    T.TemporalOrder(20), T.Agreement((4, 9), (0, 2)), T.LateSentiment(),
    T.LateSentiment(per_token=False), T.SequentialDigits(), T.SequentialDigits("pixels"),
]


@pytest.mark.parametrize("task", ALL_TASKS, ids=repr)
def test_same_seed_same_data_and_shapes(task):
    a, b, c = task.sample(16, seed=3), task.sample(16, seed=3), task.sample(16, seed=4)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert not np.array_equal(a.inputs, c.inputs)
    x, y = a
    assert x.shape[1] == 16
    if task.input_kind == "real":
        assert x.dtype == np.float32 and x.ndim == 3 and x.shape[2] == task.input_size
    else:
        assert x.dtype == np.int64 and x.ndim == 2
        assert 0 <= x.min() and x.max() < task.input_size
    if task.target == "sequence":
        assert y.shape == x.shape[:2]
    else:
        assert y.shape[0] == 16 and y.ndim == (2 if task.loss == "mse" else 1)
    assert y.dtype == (np.float32 if task.loss == "mse" else np.int64)
    if task.loss == "cross_entropy":
        assert 0 <= y.min() and y.max() < task.output_size
    # batch_first is the transpose; torch tensors keep dtypes
    bf = task.sample(16, seed=3, batch_first=True)
    np.testing.assert_array_equal(bf.inputs, np.swapaxes(x, 0, 1))
    tx, ty = a.torch()
    assert isinstance(tx, torch.Tensor) and tx.dtype == torch.from_numpy(x).dtype
    assert ty.shape == y.shape


def test_generator_seed_continues_the_stream():
    task = T.AddingProblem(10)
    rng = np.random.default_rng(0)
    first, second = task.sample(4, rng), task.sample(4, rng)
    assert not np.array_equal(first.inputs, second.inputs)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(task.sample(4, rng).inputs, first.inputs)


def test_baseline_formulas():
    assert T.AddingProblem(100).baseline == pytest.approx(1 / 6)
    hs = T.AddingProblem(100, "hs")
    assert hs.baseline == pytest.approx(1 / 24)
    assert hs.baseline_accuracy == pytest.approx(0.16 - 0.16 ** 2 / 4)
    c = T.CopyTask(30, 10, 8)
    assert c.baseline == pytest.approx(10 * math.log(8) / (30 + 20))
    assert T.Latch().baseline == pytest.approx(math.log(2))
    assert T.TemporalOrder().baseline == pytest.approx(math.log(4))
    assert T.Agreement().baseline == pytest.approx(math.log(2))
    s = T.LateSentiment(clauses=3)
    assert s.length == 17
    assert s.causal_baseline == pytest.approx(math.log(2) * 16 / 17)


@pytest.mark.parametrize("task, n", [
    (T.AddingProblem(30), 100_000), (T.AddingProblem(30, "hs"), 100_000),
    (T.CopyTask(5, 4, 6), 100_000), (T.Latch(5), 100_000), (T.TemporalOrder(10), 100_000),
    (T.Agreement((4, 8), (0, 1)), 5_000), (T.Agreement((0, 30), distances="zipf"), 5_000),
    (T.LateSentiment(), 100_000),
    (T.SequentialDigits(), 100_000)], ids=repr)
def test_baseline_equals_best_memoryless_predictor_on_data(task, n):
    y = task.sample(n, seed=11).targets
    empirical = task.empirical_baseline(y)
    # the standard error of a variance (entropy) estimate at this n is below 0.6% (0.1%)
    assert empirical == pytest.approx(task.baseline, rel=0.025)


def test_memoryless_predictor_is_the_best_constant():
    # the best constant for the Le adding problem is E[y] = 1, with MSE 1/6
    y = T.AddingProblem(50).sample(100_000, seed=1).targets[:, 0].astype(float)
    consts = np.linspace(0.5, 1.5, 21)
    mses = [np.mean((y - c) ** 2) for c in consts]
    assert consts[int(np.argmin(mses))] == pytest.approx(1.0)
    assert min(mses) == pytest.approx(1 / 6, rel=0.01)


def test_hs_accuracy_of_constant_half():
    task = T.AddingProblem(40, "hs")
    y = task.sample(100_000, seed=2).targets
    acc = task.accuracy(np.full(y.shape, 0.5), y)
    assert acc == pytest.approx(task.baseline_accuracy, abs=0.006)  # 5 standard errors


def test_adding_markers_and_targets():
    for variant in ("le", "hs"):
        task = T.AddingProblem(40, variant)
        x, y = task.sample(500, seed=0)
        marks = x[:, :, 1]
        assert np.all(marks.sum(axis=0) == 2)
        total = (x[:, :, 0] * marks).sum(axis=0)
        want = total if variant == "le" else 0.5 + total / 4
        np.testing.assert_allclose(y[:, 0], want, rtol=1e-5, atol=1e-6)
        pos = np.argsort(-marks, axis=0, kind="stable")[:2]
        if variant == "le":  # one marker per half
            assert np.all(pos.min(axis=0) < 20) and np.all(pos.max(axis=0) >= 20)
        else:
            assert np.all(pos.min(axis=0) < 10) and np.all(pos.max(axis=0) < 20)


def test_copy_layout():
    task = T.CopyTask(T=7, K=3, alphabet_size=4)
    x, y = task.sample(50, seed=0)
    assert x.shape == (7 + 6, 50)
    np.testing.assert_array_equal(y[-3:], x[:3])           # the symbols come back
    assert np.all(y[:-3] == 0)                              # blanks before
    assert np.all(x[3 + 7 - 1] == task.delimiter)           # delimiter T steps later
    assert np.all(x[3:3 + 6] == 0) and np.all(x[-3:] == 0)  # blank gap and tail
    assert np.all((x[:3] >= 1) & (x[:3] <= 4))


def test_temporal_order_and_latch():
    task = T.TemporalOrder(40)
    x, y = task.sample(200, seed=0)
    marked = [np.flatnonzero(x[:, b] >= 4) for b in range(200)]
    assert all(len(m) == 2 and 4 <= m[0] < 8 and 20 <= m[1] < 24 for m in marked)
    first = np.array([x[m[0], b] - 4 for b, m in enumerate(marked)])
    second = np.array([x[m[1], b] - 4 for b, m in enumerate(marked)])
    np.testing.assert_array_equal(y, 2 * first + second)
    lx, ly = T.Latch(12, noise=0.0).sample(100, seed=0)
    np.testing.assert_array_equal(lx[0, :, 0] > 0, ly == 1)
    assert np.all(lx[1:] == 0)


def test_agreement_sentences():
    task = T.Agreement(distance=(4, 14), attractors=(1, 3))
    b = task.sample(400, seed=5)
    x, y = b
    voc = task.vocabulary
    plural_nouns = {p for _, p in T.language._NOUNS}
    all_nouns = {w for pair in T.language._NOUNS for w in pair}
    for i in range(400):
        words = [voc[t] for t in x[:, i] if t != 0]
        assert len(words) == 2 + b.info["distance"][i]
        assert words[0] == "the" and (words[1] in plural_nouns) == bool(y[i])
        assert words.count("that") == b.info["attractors"][i] >= 1
        assert 4 * b.info["attractors"][i] <= b.info["distance"][i]
    assert x[-1].min() > 0  # left-padded: every sentence ends at the last step
    # the last noun before the verb is independent of the subject's number
    last_noun_plural = []
    for i in range(400):
        nouns = [voc[t] for t in x[:, i] if voc[t] in all_nouns]
        last_noun_plural.append(nouns[-1] in plural_nouns)
    agree = np.mean(np.array(last_noun_plural) == (y == 1))
    assert 0.4 < agree < 0.6
    assert task.decode(x[:, 0], y[0]).endswith(("was", "were"))


def test_agreement_zipf_distances():
    task = T.Agreement(distance=(2, 41), attractors=(0, 3), distances="zipf")
    p = task.distance_probabilities()
    k = np.arange(1, 41)
    np.testing.assert_allclose(p, (1 / k) / np.sum(1 / k))  # P(d) ~ 1 / (d - low + 1)
    d = task.sample(20_000, seed=3).info["distance"]
    assert d.min() >= 2 and d.max() <= 41
    counts = np.bincount(d - 2, minlength=40) / d.size
    np.testing.assert_allclose(counts[:5], p[:5], atol=0.01)
    np.testing.assert_allclose(T.Agreement((2, 41)).distance_probabilities(), np.full(40, 1 / 40))
    # seeded; the default draw (uniform) is unchanged by the new option
    np.testing.assert_array_equal(task.sample(50, seed=1).inputs, task.sample(50, seed=1).inputs)
    np.testing.assert_array_equal(T.Agreement((0, 9)).sample(50, seed=1).inputs,
                                  T.Agreement((0, 9), distances="uniform").sample(50, seed=1).inputs)


def test_late_sentiment_label_needs_the_last_words():
    task = T.LateSentiment(clauses=2, negation=True)
    x, y = task.sample(40_000, seed=1)
    label = y[0]
    assert np.all(y == label)  # per-token targets repeat the sentence label
    voc = task.vocabulary
    last_adj_pos = np.isin(x[-1], [task.index[w] for w in T.language._POSITIVE])
    negated = x[-2] == task.index["not"]
    np.testing.assert_array_equal(label, np.where(negated, ~last_adj_pos, last_adj_pos))
    # given everything but the last word, the label is a coin flip: group by the prefix
    groups = defaultdict(list)
    for prefix, lab in zip(map(tuple, x[:-1].T), label):
        groups[prefix[-1], prefix[4], prefix[3]].append(lab)
    means = [np.mean(v) for v in groups.values() if len(v) > 400]
    assert len(means) > 10 and max(abs(m - 0.5) for m in means) < 0.09
    assert "but" in task.decode(x[:, 0]) and voc[0] == "<pad>"


def test_digits_rows_and_pixels_agree():
    rows, pixels = T.SequentialDigits("rows"), T.SequentialDigits("pixels")
    a, b = rows.sample(8, seed=0), pixels.sample(8, seed=0)
    assert a.inputs.shape == (8, 8, 8) and b.inputs.shape == (64, 8, 1)
    np.testing.assert_array_equal(a.inputs.transpose(1, 0, 2).reshape(8, 64),
                                  b.inputs[:, :, 0].T)
    assert 0 <= a.inputs.min() and a.inputs.max() <= 1
    test = rows.test_set()
    assert test.inputs.shape[1] == rows.n_test == 1797 // 5
    assert rows.n_train + rows.n_test == 1797
    train = rows.train_set(batch_first=True)
    assert train.inputs.shape == (rows.n_train, 8, 8) and train.targets.shape == (rows.n_train,)
    prior = rows.prior                    # the class frequencies of the training split
    assert np.bincount(train.targets, minlength=10) / rows.n_train == pytest.approx(prior)
    assert rows.test_baseline == pytest.approx(-np.mean(np.log(prior[test.targets])))
    assert rows.baseline == pytest.approx(math.log(10), abs=0.01)


@pytest.fixture(scope="module")
def corpus():
    return T.CharCorpus()


def test_corpus_is_deterministic_and_split(corpus):
    again = T.CharCorpus()
    assert again.train == corpus.train and again.valid == corpus.valid
    assert corpus.summary() == again.summary()
    assert len(corpus.train) > 200_000 and len(corpus.valid) > 20_000
    assert set(corpus.train) <= set(T.ALPHABET)
    train_docs, valid_docs = set(corpus._train_docs), set(corpus._valid_docs)
    assert not train_docs & valid_docs


def test_corpus_encode_decode(corpus):
    text = corpus.valid[:500]
    ids = corpus.encode(text)
    assert ids.dtype == np.int64 and corpus.decode(ids) == text
    with pytest.raises(ValueError, match="outside the corpus alphabet"):
        corpus.encode("Caf\u00e9")
    with pytest.raises(ValueError, match="ids must lie"):
        corpus.decode([0, 999])


def _ngram_loss_by_counting(fit, ev, order, k, V):
    """Direct (slow, obviously right) add-k n-gram cross-entropy at positions 2.."""
    n = order - 1
    pairs = Counter(tuple(fit[i - n:i + 1]) for i in range(n, len(fit)))
    ctx = Counter(tuple(fit[i - n:i]) for i in range(n, len(fit)))
    total = 0.0
    for i in range(2, len(ev)):
        c = tuple(ev[i - n:i])
        total -= math.log((pairs[c + (ev[i],)] + k) / (ctx[c] + k * V))
    return total / (len(ev) - 2)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_ngram_loss_matches_direct_counting(corpus, order):
    fit, ev = corpus.train_ids[:5000], corpus.valid_ids[:800]
    got = corpus.ngram_loss(order, 0.1, fit, ev)
    want = _ngram_loss_by_counting(list(fit), list(ev), order, 0.1, corpus.vocab_size)
    assert got == pytest.approx(want, rel=1e-10)


def test_corpus_baselines_and_units(corpus):
    nats = corpus.baselines()
    assert nats["uniform"] == pytest.approx(math.log(corpus.vocab_size))
    assert nats["uniform"] > nats["unigram"] > nats["bigram"] > nats["trigram"] > 1.0
    bits, ppl = corpus.baselines("bits"), corpus.baselines("perplexity")
    for name in nats:
        assert bits[name] == pytest.approx(nats[name] / math.log(2))
        assert ppl[name] == pytest.approx(math.exp(nats[name]))
    assert ppl["uniform"] == pytest.approx(corpus.vocab_size)
    # unigram on its own training text, k -> 0: the entropy of the character frequencies
    p = np.bincount(corpus.train_ids, minlength=corpus.vocab_size) / len(corpus.train_ids)
    p = p[p > 0]
    h = corpus.ngram_loss(1, 1e-9, corpus.train_ids, corpus.train_ids)
    assert h == pytest.approx(-(p * np.log(p)).sum(), rel=1e-3)
    assert "bits/char" in T.describe_nats(nats["bigram"])


def test_corpus_stream_and_windows(corpus):
    s = corpus.stream("valid", 8)
    n = len(corpus.valid_ids) // 8
    assert s.shape == (n, 8)
    np.testing.assert_array_equal(s[:, 1], corpus.valid_ids[n:2 * n])
    wins = list(corpus.windows("valid", 8, 100))
    np.testing.assert_array_equal(wins[0].targets[:-1], wins[0].inputs[1:])
    np.testing.assert_array_equal(wins[1].inputs[0], wins[0].targets[-1])
    assert sum(len(w.inputs) for w in wins) == n - 1
    x, y = corpus.sample(4, seq_len=30, seed=0)
    assert x.shape == y.shape == (30, 4)
    np.testing.assert_array_equal(x[1:], y[:-1])


@pytest.mark.parametrize("make, error, match", [
    (lambda: T.AddingProblem(T=2), ValueError, "at least 4"),
    (lambda: T.AddingProblem(variant="x"), ValueError, "variant"),
    (lambda: T.AddingProblem(T=10.5), TypeError, "T must be a positive integer"),
    (lambda: T.CopyTask(K=0), ValueError, "K must be a positive integer"),
    (lambda: T.CopyTask(alphabet_size=1), ValueError, "at least 2"),
    (lambda: T.Latch(noise=-1.0), ValueError, "noise"),
    (lambda: T.TemporalOrder(5), ValueError, "at least 10"),
    (lambda: T.Agreement(distance=(3, 10), attractors=1), ValueError, "4 tokens"),
    (lambda: T.Agreement(distance=(5, 2)), ValueError, "low <= high"),
    (lambda: T.Agreement(distance="far"), TypeError, "distance"),
    (lambda: T.Agreement(distances="log"), ValueError, "distances"),
    (lambda: T.LateSentiment(negation="yes"), TypeError, "negation"),
    (lambda: T.SequentialDigits("columns"), ValueError, "mode"),
    (lambda: T.CharCorpus(modules="json"), TypeError, "sequence of module names"),
    (lambda: T.AddingProblem().sample(0), ValueError, "batch_size"),
    (lambda: T.AddingProblem().sample(4, seed=-1), ValueError, "seed"),
    (lambda: T.AddingProblem().sample(4, seed="a"), TypeError, "seed"),
    (lambda: T.AddingProblem().sample(4, seed=None), TypeError, "same seed"),
    (lambda: T.AddingProblem().sample(4, batch_first=1), TypeError, "batch_first"),
    (lambda: T.empirical_baseline([1.0], "mae"), ValueError, "loss"),
])
def test_bad_arguments_raise_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_corpus_bad_arguments(corpus):
    with pytest.raises(ValueError, match="split"):
        corpus.stream("test", 4)
    with pytest.raises(ValueError, match="order"):
        corpus.ngram_loss(4, 0.1)
    with pytest.raises(ValueError, match="unit"):
        corpus.baselines("bpc")
    with pytest.raises(ValueError, match="fewer than 2"):
        corpus.stream("valid", 10 ** 7)


# -- the batch-source protocol -------------------------------------------------------

def _tiny_lm(vocab=5, hidden=6):
    from rnn_tutor import models
    return models.RecurrentNet(vocab, hidden, vocab, cell="gru", output="sequence",
                               input_kind="tokens", seed=0)


@pytest.mark.parametrize("task", ALL_TASKS, ids=repr)
def test_every_task_is_a_batch_source(task):
    from rnn_tutor import models
    assert isinstance(task, T.BatchSource) and task.training_options == ()
    assert task.reference_loss == task.baseline
    model = models.for_task(task, "gru", 8, seed=0)
    losses = task.training_losses(model, 4, np.random.default_rng(7))
    rng = np.random.default_rng(7)
    for _ in range(2):  # the losses of fresh batches drawn from one stream
        x, y = task.sample(4, rng).torch()
        expected = task.compute_loss(model(x)[0], y)
        assert next(losses).item() == pytest.approx(expected.item(), rel=1e-6)
    data = task.evaluation_data(32, seed=1)
    result = task.evaluate(model, data)
    assert set(result) == {"loss", "accuracy"} and np.isfinite(result["loss"])
    assert (result["accuracy"] is None) == (task.loss == "mse" and
                                            getattr(task, "tolerance", None) is None)


def test_held_out_data_of_each_kind(corpus):
    add = T.AddingProblem(8)
    np.testing.assert_array_equal(add.evaluation_data(16, 3).inputs,
                                  add.sample(16, 3).inputs)
    digits = T.SequentialDigits()
    assert digits.evaluation_data(5, 0).inputs.shape[1] == digits.n_test  # the test split
    windows = corpus.evaluation_data()
    assert all(x.shape[1] == 32 and len(x) <= 256 for x, _ in windows)
    assert sum(x.size for x, _ in windows) == 32 * (len(corpus.stream("valid", 32)) - 1)
    assert isinstance(corpus, T.BatchSource)
    assert corpus.training_options == ("seq_len", "carry_state")
    assert corpus.reference_loss == corpus.baselines()["bigram"]


def test_compute_loss_names_the_shapes():
    task = T.TemporalOrder(10)
    with pytest.raises(ValueError, match=r"output has shape \(4, 3\) but TemporalOrder"
                                         r"\(T=10\) needs \(4, 4\)"):
        task.compute_loss(torch.zeros(4, 3), torch.zeros(4, dtype=torch.int64))


def _window_loss(model, x, y, h0=None):
    """Cross-entropy of a language model on one window read from ``h0``; and its state."""
    logits, h = model(torch.as_tensor(x), h0)
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             torch.as_tensor(y).reshape(-1)), h


def test_truncated_bptt_carries_or_resets_the_state():
    stream = (np.arange(30 * 3).reshape(30, 3) * 7 % 5).astype(np.int64)
    L = 4
    model = _tiny_lm()
    carried = T.truncated_bptt(model, stream, L, carry_state=True)
    reset = T.truncated_bptt(model, stream, L, carry_state=False)
    first = [next(carried), next(reset)]
    assert first[0].item() == first[1].item()  # both start from zero
    second_carried, second_reset = next(carried), next(reset)
    # carried: the same forward values as reading the first 2L characters at once
    logits, _ = model(torch.as_tensor(stream[:2 * L]))
    expected = torch.nn.functional.cross_entropy(
        logits[L:].reshape(-1, 5), torch.as_tensor(stream[L + 1:2 * L + 1]).reshape(-1))
    assert second_carried.item() == pytest.approx(expected.item(), rel=1e-6)
    # reset: the second window read from a zero state
    alone, _ = _window_loss(model, stream[L:2 * L], stream[L + 1:2 * L + 1], None)
    assert second_reset.item() == pytest.approx(alone.item(), rel=1e-6)
    assert second_carried.item() != second_reset.item()


def test_truncated_bptt_cuts_the_gradient_at_the_window_edge():
    stream = (np.arange(12 * 2).reshape(12, 2) * 3 % 5).astype(np.int64)
    model = _tiny_lm()
    losses = T.truncated_bptt(model, stream, 4, carry_state=True)
    next(losses)
    model.zero_grad()
    next(losses).backward()
    truncated = [p.grad.clone() for p in model.parameters()]
    _, h = _window_loss(model, stream[:4], stream[1:5], None)  # the state after window 1
    model.zero_grad()
    _window_loss(model, stream[4:8], stream[5:9], h.detach())[0].backward()
    for a, b in zip(truncated, (p.grad for p in model.parameters())):
        torch.testing.assert_close(a, b)


def test_truncated_bptt_starts_every_pass_from_zero():
    stream = (np.arange(10 * 2).reshape(10, 2) % 5).astype(np.int64)
    model = _tiny_lm()
    losses = T.truncated_bptt(model, stream, 4)   # windows at 0 and 4; 8 + 4 + 1 > 10
    values = [next(losses).item() for _ in range(5)]
    assert values[2] == values[0] and values[3] == values[1] and values[4] == values[0]


def test_corpus_training_losses_checks_its_settings(corpus):
    model = _tiny_lm(corpus.vocab_size)
    losses = corpus.training_losses(model, 4, seq_len=16, carry_state=False)
    stream = corpus.stream("train", 4)
    alone, _ = _window_loss(model, stream[16:32], stream[17:33])
    next(losses)
    assert next(losses).item() == pytest.approx(alone.item(), rel=1e-6)
    with pytest.raises(ValueError, match="leaves no window"):
        corpus.training_losses(model, 10 ** 5, seq_len=64)
    with pytest.raises(TypeError, match="carry_state must be True or False"):
        corpus.training_losses(model, 4, carry_state=1)


@pytest.mark.slow
def test_corpus_is_the_same_in_a_kernel_as_in_a_script():
    """The chapters (kernels) and make reproduce (a script) train on the same text:
    IPython replaces some standard-library objects (pdb's debugger) whose docstrings
    would otherwise enter the corpus in one and not the other."""
    import hashlib
    from jupyter_client.manager import start_new_kernel

    from rnn_tutor.tasks import corpus

    code = ("import hashlib; from rnn_tutor.tasks import corpus; "
            "print(hashlib.sha1('\\n'.join(corpus.stdlib_docstrings()).encode()).hexdigest())")
    expected = hashlib.sha1("\n".join(corpus.stdlib_docstrings()).encode()).hexdigest()
    printed = []
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        reply = kc.execute_interactive(code, timeout=120, output_hook=lambda m: printed.append(
            m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert "".join(printed).strip() == expected, "the corpus differs in a Jupyter kernel"
