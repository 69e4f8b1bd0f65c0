"""rnn_tutor.bidirectional: per-position accuracy, training checkpoints, prefix-only
scoring and sampling of character models, and the two-pass diagram."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from rnn_tutor import bidirectional, models, tasks

TASK = tasks.LateSentiment(clauses=1)


class _Vocab:
    """The two methods of a CharCorpus that sampling uses, for a 5-letter alphabet."""

    vocabulary = "abcde"

    def encode(self, text):
        return np.array([self.vocabulary.index(c) for c in text], dtype=np.int64)

    def decode(self, ids):
        return "".join(self.vocabulary[int(i)] for i in np.asarray(ids).reshape(-1))


def _lm(bidirectional_=False, seed=0):
    return models.RecurrentNet(5, 6, 5, cell="gru", bidirectional=bidirectional_,
                               output="sequence", input_kind="tokens", seed=seed)


class _Constant(torch.nn.Module):
    """A tagger that always says class ``k``."""

    def __init__(self, k):
        super().__init__()
        self.k = k
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        logits = torch.zeros(*x.shape, 2)
        logits[..., self.k] = 1.0
        return logits + 0 * self.w, None


def test_per_position_accuracy_counts_hits_at_each_position():
    batch = TASK.sample(200, seed=1)
    acc = bidirectional.per_position_accuracy(_Constant(1), batch)
    assert acc.shape == (TASK.length,)
    # the label is the same at every word, so a constant tagger scores the label frequency
    assert np.allclose(acc, batch.targets[0].mean())
    assert np.allclose(acc + bidirectional.per_position_accuracy(_Constant(0), batch), 1.0)


def test_per_position_accuracy_needs_per_token_targets():
    batch = tasks.LateSentiment(clauses=1, per_token=False).sample(8, seed=0)
    with pytest.raises(ValueError, match="per-token targets"):
        bidirectional.per_position_accuracy(_Constant(0), batch)


def test_train_with_checkpoints_measures_before_and_during_training():
    batch = TASK.sample(64, seed=2)
    model = models.for_task(TASK, "gru", 4, seed=0)
    out = bidirectional.train_with_checkpoints(model, TASK, [0, 3, 5], batch, seed=0,
                                               batch_size=8, eval_size=16)
    assert out["steps"] == [0, 3, 5] and len(out["accuracy"]) == 3
    assert [len(h.step) for h in out["histories"]] == [3, 2]
    fresh = models.for_task(TASK, "gru", 4, seed=0)
    assert np.allclose(out["accuracy"][0], bidirectional.per_position_accuracy(fresh, batch))
    for bad in ([], [3, 3], [-1, 2], [5, 2]):
        with pytest.raises(ValueError, match="increasing"):
            bidirectional.train_with_checkpoints(model, TASK, bad, batch)


def test_prefix_logits_equal_the_full_run_for_a_left_to_right_model():
    x = torch.as_tensor(np.random.default_rng(0).integers(0, 5, size=(7, 3)))
    model = _lm(False)
    full = models.predict(model, x)
    assert np.allclose(bidirectional.prefix_logits(model, x).numpy(), full, atol=1e-6)


def test_prefix_logits_of_a_bidirectional_model_see_only_the_prefix():
    x = torch.as_tensor(np.random.default_rng(1).integers(0, 5, size=(6, 2)))
    model = _lm(True)
    prefix = bidirectional.prefix_logits(model, x).numpy()
    full = models.predict(model, x)
    assert np.allclose(prefix[-1], full[-1], atol=1e-6)      # the last step saw it all
    assert not np.allclose(prefix[:-1], full[:-1], atol=1e-4)  # earlier steps did not
    changed = x.clone()
    changed[4:] = (changed[4:] + 1) % 5                       # change the future of step 3
    assert np.allclose(bidirectional.prefix_logits(model, changed).numpy()[:4], prefix[:4],
                       atol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(T, B\)"):
        bidirectional.prefix_logits(model, x[:, 0])


def test_lm_losses_full_and_prefix():
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 5, size=(9, 4))
    batch = tasks.Batch(ids[:-1], ids[1:])
    causal = bidirectional.lm_losses(_lm(False), batch)
    assert set(causal) == {"full", "prefix"} and abs(causal["full"] - causal["prefix"]) < 1e-5
    both = bidirectional.lm_losses(_lm(True), batch)
    assert abs(both["full"] - both["prefix"]) > 1e-4


def test_sample_from_prefix_matches_stepwise_sampling_when_greedy():
    vocab, model = _Vocab(), _lm(False, seed=3)
    text = bidirectional.sample_from_prefix(model, vocab, length=12, prefix="ab",
                                            temperature=0, seed=0)
    assert text == models.sample_text(model, vocab, length=12, prefix="ab", temperature=0)
    a = bidirectional.sample_from_prefix(_lm(True), vocab, length=10, prefix="c", seed=4)
    b = bidirectional.sample_from_prefix(_lm(True), vocab, length=10, prefix="c", seed=4)
    assert a == b and len(a) == 10 and set(a) <= set(vocab.vocabulary)
    with pytest.raises(ValueError, match="prefix"):
        bidirectional.sample_from_prefix(model, vocab, prefix="")


def test_bidirectional_diagram_draws_both_passes():
    fig = bidirectional.bidirectional_diagram(steps=3)
    assert isinstance(fig, go.Figure)
    boxes = sum(len(trace.x) for trace in fig.data)
    assert boxes == 4 * 3 + 2                    # x, forward h, backward h, y; two zero states
    arrows = [a for a in fig.layout.annotations if a.showarrow]
    assert len(arrows) == 6 * 3                  # 4 per step into/out of the states, 2 recurrent
    with pytest.raises(ValueError):
        bidirectional.bidirectional_diagram(steps=1)


@pytest.mark.slow
def test_reproduce_bidirectional_quickest_path(tmp_path, monkeypatch):
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "reproduce.py"
    spec = importlib.util.spec_from_file_location("reproduce", path)
    reproduce = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reproduce)
    monkeypatch.setattr(reproduce, "BIDIRECTIONAL", dict(
        clauses=(1,), tag_hidden=2, tag_steps=2, lm_hidden=2, lm_steps=2, lm_window=8))
    # two steps learn nothing, so the claims fail: status 1, but every row is written
    assert reproduce.main(["--only", "bidirectional", "--seeds", "0",
                           "--out", str(tmp_path)]) == 1
    exp = json.loads((tmp_path / "reproductions.json").read_text())["experiments"]
    rows = exp["bidirectional"]["rows"]
    assert len(rows) == 4 and all(r["experiment"] == "bidirectional" for r in rows)
    assert len(rows[0]["accuracy_by_position"]) == tasks.LateSentiment(clauses=1).length
    assert {"loss_reading_window", "loss_reading_past"} <= set(rows[-1])
    assert len(exp["bidirectional"]["claims"]) == 5
    assert "## bidirectional" in (tmp_path / "reproductions.md").read_text()
