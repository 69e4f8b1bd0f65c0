"""The training loop: determinism, clipping, explosion detection, TBPTT, history, errors."""

import ast
import dataclasses
import inspect
import math
import subprocess
import sys

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from rnn_tutor import models, plots, tasks
from rnn_tutor import train as train_module
from rnn_tutor.train import (ExplosionDetector, GradientExplosionWarning, History,
                             TrainConfig, evaluate, predict, train)
from rnn_tutor.book_build import BOOK_BUILD_ENV

ADD = tasks.AddingProblem(10)


def _model(task=ADD, cell="gru", hidden=8, **kw):
    return models.for_task(task, cell, hidden, seed=0, **kw)


def test_same_seed_same_history():
    runs = [train(_model(), ADD, steps=15, batch_size=8, lr=1e-2, seed=s, progress=False)
            for s in (1, 1, 2)]
    assert runs[0].loss == runs[1].loss and runs[0].grad_norm == runs[1].grad_norm
    assert runs[0].loss != runs[2].loss
    assert len(runs[0].step) == 15 and runs[0].reason == "steps"
    assert all(len(getattr(runs[0], k)) == 15 for k in
               ("loss", "grad_norm", "grad_norm_clipped", "weight_norm"))
    assert runs[0].eval_step == [15] and runs[0].baseline == ADD.baseline


def test_dropout_is_seeded_too():
    task = tasks.LateSentiment()
    runs = [train(_model(task, dropout=0.5), task, steps=5, batch_size=8, seed=3,
                  progress=False).loss for _ in range(2)]
    assert runs[0] == runs[1]


def test_training_learns_something_small():
    task = tasks.Latch(T=5, noise=0.1)
    h = train(_model(task, "lstm", 8), task, steps=150, batch_size=32, lr=3e-2,
              progress=False, eval_size=256)
    assert h.final_eval_loss < 0.2 * task.baseline and h.final_eval_accuracy > 0.95
    early = train(_model(task, "lstm", 8), task, steps=150, batch_size=32, lr=3e-2,
                  progress=False, eval_size=256, eval_every=10, stop_below=0.3)
    assert early.reason == "target" and early.eval_loss[-1] < 0.3 <= min(early.eval_loss[:-1])
    assert len(early.step) < 150 and early.step[-1] % 10 == 0


def _one_sgd_step(**clip):
    m = _model(hidden=16)
    before = [p.detach().clone() for p in m.parameters()]
    h = train(m, ADD, steps=1, batch_size=16, lr=0.1, optimizer="sgd", progress=False,
              **clip)
    deltas = [(p.detach() - b) for p, b in zip(m.parameters(), before)]
    return h, deltas


def test_norm_clipping_is_applied_to_the_update():
    free, d_free = _one_sgd_step()
    g = free.grad_norm[0]
    assert free.grad_norm_clipped[0] == g
    clipped, d_clip = _one_sgd_step(clip_norm=g / 4)
    assert clipped.grad_norm[0] == pytest.approx(g)
    assert clipped.grad_norm_clipped[0] == pytest.approx(g / 4)
    step = math.sqrt(sum(float((d ** 2).sum()) for d in d_clip))
    assert step == pytest.approx(0.1 * g / 4, rel=1e-4)  # SGD step = lr * clipped norm
    for a, b in zip(d_free, d_clip):  # same direction, a quarter of the length
        torch.testing.assert_close(a / 4, b, rtol=1e-3, atol=1e-7)
    assert clipped.clipped_fraction == 1.0 and free.clipped_fraction == 0.0


def test_value_clipping_is_applied_to_the_update():
    free, d_free = _one_sgd_step()
    largest = max(float(d.abs().max()) for d in d_free) / 0.1
    h, d_clip = _one_sgd_step(clip_value=largest / 3)
    assert max(float(d.abs().max()) for d in d_clip) <= 0.1 * largest / 3 * (1 + 1e-5)
    assert h.grad_norm_clipped[0] < h.grad_norm[0]


class _Sabotage:
    """Forward hook that replaces the model's output from a given call on."""

    def __init__(self, at, how):
        self.calls, self.at, self.how = 0, at, how

    def __call__(self, module, inputs, output):
        self.calls += 1
        if self.calls >= self.at:
            y, h = output
            return self.how(y), h
        return output


def test_stops_on_nan_and_keeps_history():
    m = _model()
    m.register_forward_hook(_Sabotage(6, lambda y: y * float("nan")))
    with pytest.warns(GradientExplosionWarning, match="NaN or infinite"):
        h = train(m, ADD, steps=50, batch_size=8, progress=False)
    assert h.reason == "explosion" and "step 6" in h.stopped
    assert len(h.loss) == 6 and all(np.isfinite(h.loss[:5])) and math.isnan(h.loss[5])
    assert all(torch.isfinite(p).all() for p in m.parameters())  # never stepped on NaN


def test_stops_on_gradient_spike():
    m = _model()
    m.register_forward_hook(_Sabotage(40, lambda y: y * 1e4))
    with pytest.warns(GradientExplosionWarning, match="times its average"):
        h = train(m, ADD, steps=100, batch_size=8, progress=False, warmup=10)
    assert len(h.loss) == 40 and "step 40" in h.stopped


def test_small_spike_of_a_converged_model_is_not_flagged():
    # gradients scaled by 1e-4 for 39 steps, then normal ones: a 10^4-fold jump that
    # stays below spike_min, as when a converged model meets one hard batch
    def run(**kw):
        m = _model()
        m.register_forward_hook(_Sabotage(1, lambda y: y * 1e-4))
        m.register_forward_hook(_Sabotage(40, lambda y: y * 1e4))  # undo from step 40
        return train(m, ADD, steps=41, batch_size=8, progress=False, warmup=10, **kw)
    quiet = run()
    assert quiet.reason == "steps"
    assert quiet.grad_norm[39] > 100 * np.mean(quiet.grad_norm[:39]) and quiet.grad_norm[39] < 10
    with pytest.warns(GradientExplosionWarning, match="times its average"):
        assert run(spike_min=0.0).reason == "explosion"


def test_spike_is_not_flagged_when_clipping_tames_it():
    m = _model()
    m.register_forward_hook(_Sabotage(40, lambda y: y * 1e4))
    h = train(m, ADD, steps=45, batch_size=8, progress=False, warmup=10, clip_norm=1.0,
              growth_factor=1e9)
    assert h.reason == "steps" and max(h.grad_norm) > 1e3 and max(h.grad_norm_clipped) <= 1


def test_stops_on_weight_jump():
    m = _model()
    m.register_forward_hook(_Sabotage(30, lambda y: y * 1e3))
    with pytest.warns(GradientExplosionWarning, match="weight norm jumped"):
        h = train(m, ADD, steps=60, batch_size=8, lr=0.5, optimizer="sgd", progress=False,
                  spike_factor=1e12)
    assert h.reason == "explosion" and h.weight_norm[-1] > 2 * h.weight_norm[-2]


def test_detection_can_be_switched_off():
    m = _model()
    m.register_forward_hook(_Sabotage(3, lambda y: y * 1e4))
    h = train(m, ADD, steps=6, batch_size=8, progress=False, detect=False)
    assert h.reason == "steps" and h.stopped is None


@pytest.fixture(scope="module")
def corpus():
    return tasks.CharCorpus()


def test_language_model_tbptt_carry_versus_reset(corpus):
    runs = {}
    for carry in (True, False):
        m = models.for_task(corpus, "gru", 16, seed=0)
        runs[carry] = train(m, corpus, steps=6, batch_size=4, seq_len=16, lr=1e-2,
                            carry_state=carry, progress=False)
    assert runs[True].loss[0] == runs[False].loss[0]  # first window: both start at zero
    assert runs[True].loss[1:] != runs[False].loss[1:]
    assert runs[True].baseline == corpus.baselines()["bigram"]
    assert runs[True].final_eval_loss < math.log(corpus.vocab_size) + 0.1
    assert 0 <= runs[True].final_eval_accuracy <= 1


def test_time_limit_and_evaluation():
    cpu = train(_model(), ADD, steps=10_000, batch_size=8, time_limit=0.3, clock="cpu",
                progress=False)
    assert cpu.reason == "time_limit" and cpu.cpu_seconds >= 0.3
    h = train(_model(), ADD, steps=10_000, batch_size=8, time_limit=0.3, progress=False,
              eval_every=5)
    assert h.reason == "time_limit" and len(h.step) < 10_000
    assert h.eval_step[-1] == h.step[-1] and len(h.eval_step) >= 1
    res = evaluate(_model(), ADD, size=64, seed=0)
    assert set(res) == {"loss", "accuracy"} and res["accuracy"] is None
    hs = tasks.AddingProblem(10, "hs")
    assert 0 <= evaluate(_model(hs), hs, size=64)["accuracy"] <= 1
    digits = tasks.SequentialDigits()
    assert evaluate(_model(digits), digits)["loss"] == pytest.approx(math.log(10), abs=0.3)
    assert predict(_model(), ADD.sample(3).inputs).shape == (3, 1)


def test_history_figure_and_dict():
    h = train(_model(), ADD, steps=5, batch_size=4, clip_norm=0.5, eval_every=2,
              progress=False)
    fig = plots.history_figure(h, "adding")
    assert isinstance(fig, go.Figure) and len(fig.data) >= 4
    d = h.to_dict()
    assert d["loss"] == h.loss and d["config"]["clip_norm"] == 0.5
    assert isinstance(plots.history_figure(History()), go.Figure)  # an empty history plots too
    plots.show(plots.history_figure(h))


def test_history_smoothed_is_a_trailing_moving_average():
    h = History(step=list(range(1, 8)), loss=[1.0, 3.0, 2.0, 6.0, 4.0, 0.0, 5.0])
    steps, values = h.smoothed("loss", width=3)
    np.testing.assert_array_equal(steps, [3, 4, 5, 6, 7])
    np.testing.assert_allclose(values, [2.0, 11 / 3, 4.0, 10 / 3, 3.0])
    steps, values = h.smoothed("loss", width=8)            # longer than the run
    assert steps.size == 0 and values.size == 0
    with pytest.raises(ValueError, match="unknown name 'eval_loss'"):
        h.smoothed("eval_loss")
    with pytest.raises(ValueError, match="width must be a positive integer; got 0"):
        h.smoothed("loss", width=0)


def test_progress_modes(monkeypatch, capsys):
    train(_model(), ADD, steps=3, batch_size=4, progress=False)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    train(_model(), ADD, steps=3, batch_size=4, progress="text")
    assert "training" in capsys.readouterr().err
    monkeypatch.setenv(BOOK_BUILD_ENV, "1")
    train(_model(), ADD, steps=3, batch_size=4, progress="auto")
    out = capsys.readouterr()
    assert out.out.startswith("trained 3 steps") and out.err == ""


def test_global_torch_settings_are_restored():
    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    state = torch.get_rng_state()
    train(_model(), ADD, steps=2, batch_size=4, threads=1, progress=False)
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == det
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(steps=0), ValueError, "steps"),
    (dict(lr=-1.0), ValueError, "lr"),
    (dict(optimizer="rmsprop"), ValueError, "optimizer"),
    (dict(clip_norm=1.0, clip_value=1.0), ValueError, "not both"),
    (dict(clip_norm=0.0), ValueError, "clip_norm"),
    (dict(progress="bar"), ValueError, "progress"),
    (dict(growth_factor=1.0), ValueError, "growth_factor"),
    (dict(carry_state=1), TypeError, "carry_state"),
    (dict(device="gpu0"), ValueError, "device"),
    (dict(seed=1.5), TypeError, "seed"),
    (dict(stop_below=0.1), ValueError, "eval_every"),
    (dict(clock="gpu", time_limit=1.0), ValueError, "clock"),
])
def test_bad_train_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        train(_model(), ADD, **{"progress": False, **kwargs})


def test_bad_task_or_model():
    with pytest.raises(TypeError, match="rnn_tutor.tasks"):
        train(_model(), "adding", progress=False)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        train(lambda x: x, ADD, progress=False)
    with pytest.raises(TypeError, match="rnn_tutor.tasks"):
        evaluate(_model(), object())
    copy = tasks.CopyTask(3, 2, 3)
    with pytest.raises(ValueError, match="output/target 'last' vs 'sequence'"):
        train(models.RecurrentNet(5, 4, 4, input_kind="tokens"), copy, progress=False)
    with pytest.raises(ValueError, match="input_kind 'tokens' vs 'real'"):
        train(_model(copy), ADD, progress=False)

    class Plain(torch.nn.Module):  # not a RecurrentNet: the loss check names the shapes
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 3)

        def forward(self, x):
            return self.lin(x[-1])
    with pytest.raises(ValueError, match=r"output has shape \(64, 3\)"):
        train(Plain(), ADD, progress=False)


def test_late_sentiment_needs_the_right_hand_context():
    # a left-to-right tagger cannot beat the causal baseline; a bidirectional one can
    task = tasks.LateSentiment(clauses=2)
    losses = {}
    for bi, steps in ((False, 150), (True, 300)):
        m = models.for_task(task, "gru", 16, bidirectional=bi, embedding_dim=8, seed=0)
        losses[bi] = train(m, task, steps=steps, batch_size=64, lr=1e-2, progress=False,
                           eval_size=1000).final_eval_loss
    assert losses[False] > task.causal_baseline - 0.02  # 1000 sequences: sampling slack
    assert losses[True] < 0.1 * task.causal_baseline


# -- the pieces of the loop: config, detector, history, figure ----------------------

def test_config_holds_the_settings_and_keywords_override_it():
    config = TrainConfig(steps=12, batch_size=8, lr=1e-2, seed=4, progress=False)
    assert config.lr == 1e-2 and config.clip_norm is None and config.optimizer == "adam"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 1.0
    by_config = train(_model(), ADD, config)
    by_keywords = train(_model(), ADD, steps=12, batch_size=8, lr=1e-2, seed=4,
                        progress=False)
    overridden = train(_model(), ADD, config, seed=5)
    assert by_config.loss == by_keywords.loss and overridden.loss != by_config.loss
    assert config.seed == 4  # overriding made a copy
    assert TrainConfig(lr=1).lr == 1.0 and isinstance(TrainConfig(lr=1).lr, float)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(steps=0), ValueError, "steps must be a positive integer"),
    (dict(optimizer="rmsprop"), ValueError, "unknown optimizer 'rmsprop'"),
    (dict(clip_norm=1.0, clip_value=1.0), ValueError, "give clip_norm or clip_value, not both"),
    (dict(growth_factor=1.0), ValueError, "growth_factor must be > 1"),
    (dict(detect="yes"), TypeError, "detect must be True or False"),
    (dict(stop_below=0.1), ValueError, "stop_below needs eval_every"),
    (dict(device="gpu0"), ValueError, "device must be None"),
    (dict(threads=0), ValueError, "threads"),
])
def test_config_is_checked_when_made(kwargs, error, match):
    with pytest.raises(error, match=match):
        TrainConfig(**kwargs)
    with pytest.raises(error, match=match):  # also as an override
        TrainConfig().updated(**kwargs)


def test_unknown_setting_names_the_valid_ones():
    with pytest.raises(TypeError, match=r"unknown training setting\(s\) learning_rate; .*"
                                        r"steps, batch_size, lr"):
        train(_model(), ADD, learning_rate=0.1, progress=False)
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        train(_model(), ADD, {"steps": 3})


def test_detector_rules_and_messages():
    d = ExplosionDetector(spike_factor=10, spike_min=1.0, growth_factor=2, warmup=2)
    assert "NaN or infinite" in d.before_update(1, float("nan"), 1.0, 1.0)
    assert "NaN or infinite" in d.before_update(1, 0.5, float("inf"), 1.0)
    assert d.before_update(1, 0.5, 1e6, 1e6) is None   # nothing recorded yet
    for step in (1, 2, 3):
        assert d.after_update(step, 0.5, 1.0, 1.5, n_weights=1) is None
    assert d.before_update(2, 0.5, 100.0, 100.0) is None  # still in the warm-up
    message = d.before_update(4, 0.5, 100.0, 100.0)
    assert message.startswith("stopped at step 4: the gradient norm 100 is 200 times its "
                              "average over the last 3 steps (0.5)")
    assert d.before_update(4, 0.5, 100.0, 0.9) is None  # clipped below spike_min
    # weights: a jump above growth_factor counts only once their RMS entry exceeds 1
    assert d.after_update(5, 0.5, 1.0, 3.0, n_weights=100) is None
    message = d.after_update(5, 0.5, 10.0, 30.0, n_weights=100)
    assert "weight norm jumped from 10 to 30 in one step" in message
    assert len(d.recent) == 5
    with pytest.raises(ValueError, match="growth_factor must be > 1"):
        ExplosionDetector(growth_factor=0.5)


def test_config_makes_the_detector():
    assert TrainConfig(detect=False).explosion_detector() is None
    d = TrainConfig(spike_factor=5.0, warmup=3).explosion_detector()
    assert isinstance(d, ExplosionDetector) and (d.spike_factor, d.warmup) == (5.0, 3)


def test_history_records_steps_and_evaluations():
    h = History()
    h.record_step(1, 0.5, 2.0, 1.0, 3.0)
    h.record_evaluation(1, {"loss": 0.4, "accuracy": None})
    assert (h.step, h.loss, h.grad_norm, h.grad_norm_clipped, h.weight_norm) == (
        [1], [0.5], [2.0], [1.0], [3.0])
    assert h.final_eval_loss == 0.4 and h.final_eval_accuracy is None
    assert h.clipped_fraction == 1.0


def test_history_figure_panels():
    h = History(step=[1, 2, 3], loss=[1.0, 0.5, 0.4], grad_norm=[1.0, 2.0, 3.0],
                grad_norm_clipped=[1.0, 1.5, 1.5], weight_norm=[1.0, 1.1, 1.2],
                eval_step=[3], eval_loss=[0.45], eval_accuracy=[None], baseline=1 / 6,
                loss_name="mse", clip_norm=1.5, stopped="stopped at step 3: ...")
    fig = plots.history_figure(h, title="run")
    names = [t.name for t in fig.data]
    assert names == ["train loss", "eval loss", "before clipping", "after clipping",
                     "weight norm"]
    assert fig.layout.title.text == "run" and fig.layout.yaxis2.type == "log"
    assert fig.layout.annotations[0].text == "loss (MSE)"
    texts = [a.text for a in fig.layout.annotations]
    assert "memoryless baseline" in texts and "clip_norm" in texts and "stopped" in texts
    plain = plots.history_figure(History(step=[1], loss=[1.0], grad_norm=[1.0],
                                         grad_norm_clipped=[1.0], weight_norm=[1.0]))
    assert [t.name for t in plain.data] == ["train loss", "before clipping", "weight norm"]


def test_train_module_neither_plots_nor_names_task_classes():
    tree = ast.parse(inspect.getsource(train_module))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    imported = {alias.name for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not names & {"CharCorpus", "SequentialDigits", "Task", "plots", "plotly"}
    assert not {m for m in imported if m and ("plot" in m or m in ("CharCorpus", "Task"))}
    code = ("import sys, rnn_tutor.train; assert not [m for m in sys.modules "
            "if m.startswith(('plotly', 'rnn_tutor.plots'))]")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_evaluate_reads_the_task_protocol(corpus):
    m = models.for_task(corpus, "gru", 8, seed=0)
    res = evaluate(m, corpus)
    again = corpus.evaluate(m, corpus.evaluation_data())
    assert res == again and 0 <= res["accuracy"] <= 1
    digits = tasks.SequentialDigits()
    dm = _model(digits)
    assert evaluate(dm, digits) == digits.evaluate(dm, digits.test_set())
