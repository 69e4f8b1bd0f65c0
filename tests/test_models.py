"""Models: shapes for every task and cell, seeding, initialisation, forget bias, sampling."""

import numpy as np
import pytest
import torch

from rnn_tutor import models, tasks

TASKS = [tasks.AddingProblem(12), tasks.CopyTask(4, 2, 3), tasks.Agreement((0, 6), (0, 1)),
         tasks.LateSentiment(), tasks.SequentialDigits("rows")]




@pytest.mark.parametrize("cell", ["rnn", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("task", TASKS, ids=repr)
def test_output_shapes_for_every_task(task, cell):
    x, y = task.sample(5, seed=0).torch()
    for kwargs in ({}, {"bidirectional": True, "num_layers": 2, "dropout": 0.1}):
        m = models.for_task(task, cell, 8, seed=0, **kwargs)
        out, h = m(x)
        assert out.dtype == torch.float32
        if task.target == "last":
            assert out.shape == (5, task.output_size)
        else:
            assert out.shape == (x.shape[0], 5, task.output_size)
        directions = 2 if kwargs else 1
        h0 = h[0] if cell == "lstm" else h
        assert h0.shape == (m.num_layers * directions, 5, 8)


def test_embedding_and_state_carry():
    task = tasks.CopyTask(4, 2, 3)
    m = models.for_task(task, "gru", 6, embedding_dim=4, seed=1)
    x, _ = task.sample(3, seed=0).torch()
    full, _ = m(x)
    first, h = m(x[:5])
    rest, _ = m(x[5:], h)  # carrying the state continues the sequence exactly
    torch.testing.assert_close(torch.cat([first, rest]), full)


def test_same_seed_same_weights_and_global_rng_untouched():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = models.RecurrentNet(3, 5, 2, cell="lstm", seed=7)
    b = models.RecurrentNet(3, 5, 2, cell="lstm", seed=7)
    c = models.RecurrentNet(3, 5, 2, cell="lstm", seed=8)
    assert torch.rand(1) == before  # seeding the model did not move the global stream
    for (n, p), q, r in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(p, q), n
    assert not all(torch.equal(p, r) for p, r in zip(a.parameters(), c.parameters()))


@pytest.mark.parametrize("cell, gates", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_init_scale_sets_each_block_spectral_norm(cell, gates):
    m = models.RecurrentNet(4, 16, 1, cell=cell, init="orthogonal", init_scale=1.5,
                            num_layers=2, seed=0)
    for name, p in m.rnn.named_parameters():
        if name.startswith("weight_hh"):
            blocks = p.detach().double().numpy().reshape(gates, 16, 16)
            for block in blocks:
                np.testing.assert_allclose(np.linalg.svd(block, compute_uv=False), 1.5,
                                           rtol=1e-5)
        elif name.startswith("bias"):
            assert torch.all(p == 0)


def test_gaussian_init_has_the_initialisers_scale():
    m = models.RecurrentNet(4, 200, 1, cell="rnn", init="gaussian", seed=0)
    W = m.rnn.weight_hh_l0.detach().double().numpy()
    assert W.std() == pytest.approx(1 / np.sqrt(200), rel=0.02)  # N(0, 1/H)


@pytest.mark.parametrize("init", ["default", "xavier_uniform"])
def test_forget_bias_total(init):
    m = models.RecurrentNet(3, 6, 2, cell="lstm", num_layers=2, bidirectional=True,
                            forget_bias=1.5, init=init, seed=0)
    names = dict(m.rnn.named_parameters())
    suffixes = [k[len("bias_ih"):] for k in names if k.startswith("bias_ih")]
    assert len(suffixes) == 4  # 2 layers x 2 directions
    for s in suffixes:
        total = names["bias_ih" + s] + names["bias_hh" + s]
        torch.testing.assert_close(total[6:12], torch.full((6,), 1.5))
        assert torch.all(names["bias_hh" + s][6:12] == 0)
    if init == "xavier_uniform":  # the other gates keep zero bias
        assert torch.all(names["bias_ih_l0"][:6] == 0)


def test_bidirectional_last_output_reads_the_whole_sequence():
    m = models.RecurrentNet(2, 4, 1, cell="gru", bidirectional=True, seed=0)
    x = torch.randn(7, 3, 2, requires_grad=True)
    out, _ = m(x)
    out.sum().backward()
    per_step = x.grad.abs().sum(dim=(1, 2))
    assert torch.all(per_step > 0)  # every step, first and last included, matters


def test_sample_text_is_seeded_and_respects_temperature():
    corpus = tasks.CharCorpus()
    m = models.for_task(corpus, "lstm", 16, seed=0)
    a = models.sample_text(m, corpus, 40, prefix="the ", seed=3)
    b = models.sample_text(m, corpus, 40, prefix="the ", seed=3)
    c = models.sample_text(m, corpus, 40, prefix="the ", seed=4)
    assert a == b and a != c and len(a) == 40 and set(a) <= set(corpus.vocabulary)
    g1 = models.sample_text(m, corpus, 20, temperature=0, seed=1)
    g2 = models.sample_text(m, corpus, 20, temperature=0, seed=2)
    assert g1 == g2  # greedy does not depend on the seed
    many = models.sample_text(m, corpus, 10, num_samples=3, seed=0)
    assert isinstance(many, list) and len(many) == 3
    assert m.training  # sampling restores the training mode


def test_concat_rnn_is_reexported_not_rewritten():
    from rnn_tutor import concat
    assert models.ConcatRNN is concat.ConcatRNN
    with pytest.raises(AttributeError):
        models.NoSuchModel


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(cell="lstmx"), ValueError, "cell"),
    (dict(hidden_size=0), ValueError, "hidden_size"),
    (dict(num_layers=1.0), TypeError, "num_layers"),
    (dict(dropout=1.0), ValueError, "dropout"),
    (dict(bidirectional="yes"), TypeError, "bidirectional"),
    (dict(output="all"), ValueError, "output"),
    (dict(init="magic"), ValueError, "init"),
    (dict(init_scale=1.0), ValueError, "named init"),
    (dict(cell="gru", forget_bias=1.0), ValueError, "forget_bias"),
    (dict(embedding_dim=4), ValueError, "embedding_dim"),
    (dict(seed=-1), ValueError, "seed"),
])
def test_bad_model_arguments(kwargs, error, match):
    args = dict(input_size=3, hidden_size=4, output_size=2)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        models.RecurrentNet(args.pop("input_size"), args.pop("hidden_size"),
                            args.pop("output_size"), **args)


def test_bad_inputs_and_other_errors():
    m = models.RecurrentNet(3, 4, 2)
    with pytest.raises(TypeError, match="torch tensor"):
        m(np.zeros((5, 2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(T, B, 3\)"):
        m(torch.zeros(5, 2, 4))
    with pytest.raises(TypeError, match="floating point"):
        m(torch.zeros(5, 2, 3, dtype=torch.int64))
    tok = models.RecurrentNet(5, 4, 2, input_kind="tokens")
    with pytest.raises(TypeError, match="int64 ids"):
        tok(torch.zeros(5, 2))
    with pytest.raises(TypeError, match="rnn_tutor.tasks"):
        models.for_task("adding")
    with pytest.raises(TypeError, match="torch.nn.LSTM"):
        models.set_forget_bias(torch.nn.GRU(2, 3), 1.0)
    with pytest.raises(TypeError, match="output='sequence'"):
        models.sample_text(m, None)


def test_model_helpers_for_training_and_evaluation():
    task = tasks.CopyTask(4, 2, 3)
    m = models.for_task(task, "lstm", 8, seed=0, dropout=0.5)
    x = task.sample(3, seed=0).inputs
    out = models.predict(m, x)
    assert isinstance(out, np.ndarray) and out.shape == (task.length, 3, task.output_size)
    assert m.training  # predict ran in eval mode and restored the training mode
    np.testing.assert_array_equal(out, models.predict(m, torch.as_tensor(x)))  # no dropout
    with models.evaluation_mode(m):
        assert not m.training and not torch.is_grad_enabled()
    assert m.training and torch.is_grad_enabled()
    y, state = m(torch.as_tensor(x))
    assert models.output_and_state((y, state))[1] is state
    assert models.output_and_state(y) == (y, None)
    h, c = models.detach_state(state)
    assert not h.requires_grad and not c.requires_grad and torch.equal(h, state[0])
    assert models.detach_state(None) is None
    assert not models.detach_state(state[0]).requires_grad


# ---------------------------------------------------------------- residual stacks (chapter 11)

@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_stacked_recurrent_without_skips_is_torchs_stack(cell):
    from rnn_tutor.models import StackedRecurrent
    torch.manual_seed(0)
    stack = StackedRecurrent(cell, 3, 5, num_layers=3).double()
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    net = cls(3, 5, num_layers=3).double()
    with torch.no_grad():
        for k, layer in enumerate(stack.layers):
            for name, p in layer.named_parameters():
                p.copy_(getattr(net, name.replace("l0", f"l{k}")))
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    (y, h_n), (y_ref, h_ref) = stack(x), net(x)
    assert torch.allclose(y, y_ref, atol=1e-12)
    for a, b in zip(h_n if cell == "lstm" else [h_n], h_ref if cell == "lstm" else [h_ref]):
        assert a.shape == (3, 2, 5) and torch.allclose(a, b, atol=1e-12)
    y2, _ = stack(x, h_n)                             # a carried state is accepted
    assert y2.shape == y.shape


def test_residual_stack_adds_each_layers_input():
    from rnn_tutor.models import StackedRecurrent
    torch.manual_seed(1)
    stack = StackedRecurrent("gru", 4, 4, num_layers=2, residual=True).double()
    x = torch.randn(5, 3, 4, dtype=torch.float64)
    y, _ = stack(x)
    h1, _ = stack.layers[0](x)
    h2, _ = stack.layers[1](h1)
    assert torch.allclose(y, h2 + h1)                 # layer 1 has no skip, layer 2 has one


def test_recurrent_net_residual_option():
    task = tasks.AddingProblem(T=10)
    model = models.for_task(task, cell="lstm", hidden_size=8, num_layers=3, residual=True,
                            forget_bias=1.0, init="orthogonal", seed=0)
    assert isinstance(model.rnn, models.StackedRecurrent) and model.rnn.residual
    for layer in model.rnn.layers:
        assert torch.all(layer.bias_ih_l0[8:16] == 1.0)
        assert torch.allclose(layer.weight_hh_l0[:8] @ layer.weight_hh_l0[:8].T,
                              torch.eye(8), atol=1e-5)            # the init reached it
    y, (h, c) = model(torch.as_tensor(task.sample(4, seed=0).inputs))
    assert y.shape == (4, 1) and h.shape == (3, 4, 8)
    plain = models.for_task(task, cell="lstm", hidden_size=8, num_layers=3, seed=0)
    assert sum(p.numel() for p in plain.parameters()) == \
        sum(p.numel() for p in model.parameters())      # skips add no parameters
    with pytest.raises(ValueError, match="bidirectional"):
        models.for_task(task, num_layers=2, residual=True, bidirectional=True)
    with pytest.raises(TypeError, match="residual"):
        models.for_task(task, residual=1)
