"""Chapter 13: the SpelledNumbers task, masks, packing, attention, greedy and beam decoding."""

import itertools

import numpy as np
import pytest
import torch

from rnn_tutor import seq2seq, train
from rnn_tutor import tasks as T
from rnn_tutor.seq2seq import BOS, EOS, PAD

_UNITS = {w: i for i, w in enumerate(("zero one two three four five six seven eight nine ten "
                                      "eleven twelve thirteen fourteen fifteen sixteen "
                                      "seventeen eighteen nineteen").split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy "
                                               "eighty ninety".split())}
_SCALE = {"thousand": 10 ** 3, "million": 10 ** 6, "billion": 10 ** 9}


def _parse(words):
    """An independent reader of English number words (the test's reference)."""
    total = group = 0
    for w in words:
        if w in _UNITS:
            group += _UNITS[w]
        elif w in _TENS:
            group += _TENS[w]
        elif w == "hundred":
            group *= 100
        else:
            total += group * _SCALE[w]
            group = 0
    return total + group


# -- the task -------------------------------------------------------------------------

@pytest.mark.parametrize("n, words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (40, "forty"), (99, "ninety nine"),
    (100, "one hundred"), (1_040, "one thousand forty"), (12_040, "twelve thousand forty"),
    (1_000_001, "one million one"), (999_999_999_999, "nine hundred ninety nine billion nine "
     "hundred ninety nine million nine hundred ninety nine thousand nine hundred ninety nine")])
def test_number_words_known_values(n, words):
    assert " ".join(T.number_words(n)) == words


def test_number_words_read_back_for_random_numbers():
    rng = np.random.default_rng(0)
    for n in rng.integers(0, 10 ** 12, size=2000):
        assert _parse(T.number_words(int(n))) == n


@pytest.mark.parametrize("bad", [-1, 10 ** 12, 2.0, "7", True, None])
def test_number_words_refuses_what_it_cannot_spell(bad):
    with pytest.raises(ValueError, match="n must be an int from 0 to 10\\*\\*12 - 1"):
        T.number_words(bad)


def test_batches_hold_the_numbers_their_words_and_digits():
    task = T.SpelledNumbers((1, 12))
    batch = task.sample(500, seed=3)
    x, y = batch
    S, B = x.shape
    assert B == 500 and x.dtype == y.dtype == np.int64
    assert S == batch.info["input_lengths"].max() and y.shape[0] == batch.info["target_lengths"].max()
    assert 0 <= x.min() and x.max() < task.input_size
    assert 0 <= y.min() and y.max() < task.output_size
    np.testing.assert_array_equal(seq2seq.length_mask(batch.info["input_lengths"], S), x > 0)
    np.testing.assert_array_equal(seq2seq.length_mask(batch.info["target_lengths"], y.shape[0]),
                                  y > 0)
    for b in range(B):
        words = task.decode_source(x[:, b]).split()
        number = batch.info["numbers"][b]
        assert _parse(words) == number
        assert task.decode_target(y[:, b]) == str(number)
        assert y[batch.info["target_lengths"][b] - 1, b] == EOS
    digits = batch.info["target_lengths"] - 1
    assert digits.min() == 1 and digits.max() == 12


def test_same_seed_same_data_other_seed_other_data():
    task = T.SpelledNumbers((2, 6))
    a, b, c = task.sample(8, seed=1), task.sample(8, seed=1), task.sample(8, seed=2)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert not np.array_equal(a.info["numbers"], c.info["numbers"])
    bf = task.sample(8, seed=1, batch_first=True)
    np.testing.assert_array_equal(bf.targets, a.targets.T)


def test_leading_digit_is_never_zero_and_digits_are_uniform():
    task = T.SpelledNumbers((1, 4))
    batch = task.sample(40_000, seed=0)
    y, n = batch.targets, batch.info["target_lengths"] - 1
    assert np.all(y[0, n > 1] != 3)                              # 3 is the digit 0
    counts = np.bincount(y[1][n > 1] - 3, minlength=10)          # a second digit
    assert counts.min() > 0.9 * counts.mean()
    assert np.bincount(n)[1:].min() > 0.9 * len(n) / 4


@pytest.mark.parametrize("digits", [(1, 10), (3, 3), (2, 7), (1, 12)])
def test_baseline_is_the_entropy_of_the_data_per_position(digits):
    """The closed form equals the input-blind predictor fitted to 200 000 examples."""
    task = T.SpelledNumbers(digits)
    y = task.sample(200_000, seed=5).targets
    total = count = 0.0
    hits = 0.0
    for row in y:
        row = row[row != PAD]
        p = np.bincount(row) / row.size
        p = p[p > 0]
        total += row.size * float(-(p * np.log(p)).sum())
        hits += row.size * p.max()
        count += row.size
    assert task.baseline == pytest.approx(total / count, abs=3e-3)
    assert task.baseline_accuracy == pytest.approx(hits / count, abs=3e-3)


def test_single_length_baseline_in_closed_form():
    # three digits: the first is one of 9, the others of 10, then EOS for sure
    assert T.SpelledNumbers(3).baseline == pytest.approx((np.log(9) + 2 * np.log(10)) / 4)


@pytest.mark.parametrize("digits, error, match", [
    ((0, 5), ValueError, "digits must be >= 1"), ((1, 13), ValueError, "at most 12"),
    ((5, 2), ValueError, "low <= high"), ("ten", TypeError, "int or a \\(low, high\\)"),
    ((1, 2, 3), ValueError, "int or a \\(low, high\\) pair")])
def test_bad_digit_ranges_are_named(digits, error, match):
    with pytest.raises(error, match=match):
        T.SpelledNumbers(digits)


def test_loss_ignores_padding_and_names_a_wrong_shape():
    task = T.SpelledNumbers((1, 5))
    batch = task.sample(6, seed=0)
    _, y = batch.torch()
    logits = torch.randn(*y.shape, task.output_size)
    per_token = torch.nn.functional.cross_entropy(logits.reshape(-1, task.output_size),
                                                  y.reshape(-1), reduction="none")
    real = (y != PAD).reshape(-1)
    assert task.compute_loss(logits, y).item() == pytest.approx(per_token[real].mean().item())
    with pytest.raises(ValueError, match="needs"):
        task.compute_loss(logits[:-1], y)


def test_sequence_correct_needs_the_digits_and_the_stop():
    task = T.SpelledNumbers((1, 3))
    targets = np.array([[4, 5], [EOS, 6], [PAD, EOS]])
    written = np.array([[4, 5], [EOS, 6], [9, 7]])           # second: no stop
    np.testing.assert_array_equal(task.sequence_correct(written, targets), [True, False])
    np.testing.assert_array_equal(task.sequence_correct(written[:1], targets), [False, False])
    with pytest.raises(ValueError, match="same B"):
        task.sequence_correct(written[:, :1], targets)


def test_the_task_is_a_batch_source_trained_by_train():
    task = T.SpelledNumbers((1, 3))
    model = seq2seq.EncoderDecoder(task.input_size, task.output_size, 16, 8, seed=0)
    assert isinstance(task, T.BatchSource) and task.reference_loss == task.baseline
    hist = train.train(model, task, steps=60, batch_size=32, lr=1e-2, seed=0, progress=False,
                       eval_every=60, eval_size=200)
    assert hist.loss[-1] < 0.8 * task.baseline
    assert 0.0 <= hist.final_eval_accuracy <= 1.0


# -- masks, softmax, attention ---------------------------------------------------------

def test_length_mask_and_bad_lengths():
    np.testing.assert_array_equal(seq2seq.length_mask([2, 1, 3], 3),
                                  [[1, 1, 1], [1, 0, 1], [0, 0, 1]])
    for bad, match in (([0, 2], "between 1 and 3"), ([4], "between 1 and 3"),
                       ([1.5], "1-D array of ints"), ([[1]], "1-D array of ints")):
        with pytest.raises(ValueError, match=match):
            seq2seq.length_mask(bad, 3)


def test_masked_softmax_puts_no_weight_on_padding():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(4, 6)) * 30
    mask = seq2seq.length_mask([6, 1, 3, 5], 6).T
    w = seq2seq.masked_softmax(scores, mask)
    assert np.all(w[~mask] == 0) and np.allclose(w.sum(-1), 1)
    full = np.exp(scores[2, :3] - scores[2, :3].max())
    np.testing.assert_allclose(w[2, :3], full / full.sum())


def test_numpy_attention_is_the_models_attention():
    task = T.SpelledNumbers((1, 8))
    batch = task.sample(5, seed=2)
    x, _ = batch.torch()
    model = seq2seq.EncoderDecoder(task.input_size, task.output_size, 12, 6, seed=1).double()
    memory = model.encode(x, batch.info["input_lengths"])
    d = torch.randn(5, 12, dtype=torch.float64)
    context, weights = model.context(d, memory)
    W = {name: p.detach().numpy() for name, p in model.named_parameters()}
    np_context, np_weights = seq2seq.additive_attention(
        d.numpy(), memory["states"].detach().numpy(), memory["mask"].numpy(),
        W["W_q.weight"], W["W_k.weight"], W["w_a.weight"][0])
    np.testing.assert_allclose(np_weights, weights.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(np_context, context.detach().numpy(), atol=1e-12)


def test_packed_encoder_states_equal_each_sequence_alone():
    task = T.SpelledNumbers((1, 9))
    batch = task.sample(7, seed=4)
    x, _ = batch.torch()
    lengths = batch.info["input_lengths"]
    model = seq2seq.EncoderDecoder(task.input_size, task.output_size, 10, 5, seed=0).double()
    memory = model.encode(x, lengths)
    for b, n in enumerate(lengths):
        alone, h_n = model.encoder(model.source_embedding(x[:n, b:b + 1]))
        torch.testing.assert_close(memory["final"][b], h_n[0, 0], rtol=0, atol=1e-12)
        torch.testing.assert_close(memory["states"][:n, b], alone[:, 0], rtol=0, atol=1e-12)
        assert torch.all(memory["states"][n:, b] == 0)


def test_padding_fraction_and_buckets():
    lengths = np.random.default_rng(0).integers(1, 30, size=1000)
    random = seq2seq.padding_fraction(lengths, 32)
    bucketed = seq2seq.padding_fraction(lengths, 32, by_length=True)
    assert 0 <= bucketed < random < 1
    batches = seq2seq.batches_by_length(lengths, 32)
    assert sorted(np.concatenate(batches)) == list(range(1000))
    assert all(lengths[a].max() <= lengths[b].min() for a, b in zip(batches, batches[1:]))
    assert seq2seq.padding_fraction([3, 3, 3], 2) == 0


# -- decoding --------------------------------------------------------------------------

def _model_and_batch(attention, seed=0, hidden=12, digits=(1, 6)):
    task = T.SpelledNumbers(digits)
    batch = task.sample(9, seed=seed)
    model = seq2seq.EncoderDecoder(task.input_size, task.output_size, hidden, 6,
                                   attention=attention, seed=seed).double().eval()
    return task, model, batch


@pytest.mark.parametrize("attention", [False, True])
def test_teacher_forcing_matches_step_by_step(attention):
    task, model, batch = _model_and_batch(attention)
    x, y = batch.torch()
    lengths = batch.info["input_lengths"]
    logits = model(x, lengths, y)
    memory = model.encode(x, lengths)
    d, previous = memory["final"], torch.full((9,), BOS)
    for t in range(y.shape[0]):
        out, d, _ = model.step(previous, d, memory)
        torch.testing.assert_close(out, logits[t], rtol=0, atol=1e-12)
        previous = y[t]


@pytest.mark.parametrize("attention", [False, True])
def test_beam_of_one_is_greedy(attention):
    task, model, batch = _model_and_batch(attention, seed=3)
    x, _ = batch.torch()
    lengths = batch.info["input_lengths"]
    _, chosen, _ = model.decode(x, lengths, 8)
    greedy = chosen.numpy()
    written = model.generate(x, lengths, 8)
    for b in range(9):
        stop = list(greedy[:, b]).index(EOS) + 1 if EOS in greedy[:, b] else 8
        np.testing.assert_array_equal(written[:stop, b], greedy[:stop, b])
        assert np.all(written[stop:, b] == PAD)


def test_beam_search_finds_the_most_probable_output_when_wide_enough():
    """With a beam as wide as the number of outputs, beam search is exhaustive search."""
    source_size, target_size, max_len = 5, 5, 3             # two "digits": ids 3 and 4
    model = seq2seq.EncoderDecoder(source_size, target_size, 6, 4, seed=2).double().eval()
    with torch.no_grad():                                   # sharpen, and make EOS rarer
        model.readout.weight.mul_(4)
        model.readout.bias[EOS] -= 2.0
    x = torch.tensor([[1, 2, 3, 4], [2, 4, 1, 1], [3, 0, 4, 2]])     # (S, B)
    lengths = np.array([3, 2, 3, 3])
    candidates = []                     # n digits then EOS, or max_len digits (unfinished)
    for n in range(max_len + 1):
        for body in itertools.product((3, 4), repeat=n):
            candidates.append(list(body) + ([EOS] + [PAD] * (max_len - n - 1)
                                            if n < max_len else []))
    cand = np.array(candidates).T                            # (max_len, 15)
    written = model.generate(x, lengths, max_len, beam_size=cand.shape[1])
    greedy = model.generate(x, lengths, max_len)
    for b in range(x.shape[1]):
        xs = x[:, [b] * cand.shape[1]]
        lp = seq2seq.sequence_log_prob(model, xs, np.full(cand.shape[1], lengths[b]), cand)
        np.testing.assert_array_equal(written[:, b], cand[:, lp.argmax()])
    firsts = written[0]
    assert np.any(firsts != EOS), "the test needs outputs longer than an immediate stop"
    assert not np.array_equal(written, greedy), "the test needs a case greedy gets wrong"


def test_beam_search_never_scores_below_greedy_on_average():
    task, model, batch = _model_and_batch(True, seed=5, hidden=16, digits=(2, 6))
    x, _ = batch.torch()
    lengths = batch.info["input_lengths"]
    greedy = model.generate(x, lengths, 7)
    beam = model.generate(x, lengths, 7, beam_size=5)
    lp_g = seq2seq.sequence_log_prob(model, x, lengths, greedy)
    lp_b = seq2seq.sequence_log_prob(model, x, lengths, beam)
    assert lp_b.mean() >= lp_g.mean() - 1e-9


@pytest.mark.parametrize("kwargs, error, match", [
    ({"source_size": 0}, ValueError, "source_size"), ({"target_size": 2}, ValueError, "exceed"),
    ({"hidden_size": 1.5}, TypeError, "hidden_size"), ({"attention": "yes"}, TypeError,
                                                        "attention must be True or False"),
    ({"seed": -1}, ValueError, "seed")])
def test_bad_model_settings_are_named(kwargs, error, match):
    settings = dict(source_size=5, target_size=6, hidden_size=4, embedding_dim=3)
    with pytest.raises(error, match=match):
        seq2seq.EncoderDecoder(**{**settings, **kwargs})


def test_bad_decoding_settings_are_named():
    task, model, batch = _model_and_batch(False)
    x, _ = batch.torch()
    lengths = batch.info["input_lengths"]
    with pytest.raises(ValueError, match="beam_size"):
        model.generate(x, lengths, 5, beam_size=0)
    with pytest.raises(ValueError, match="between 1 and"):
        model.generate(x, lengths + 100, 5)
