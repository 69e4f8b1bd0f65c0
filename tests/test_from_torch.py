"""DESIGN contract 1: rnn_tutor.from_torch(module) mirrors torch.nn.RNN / LSTM / GRU.

Outputs, final states, dx, d_hx and every parameter gradient are compared with torch
autograd over a grid of configurations. The error measure is the max-abs difference
divided by max(1, max |reference|) (so: absolute for O(1) values, relative for larger
ones); it must stay below 1e-10 in float64 and 1e-5 in float32.
"""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rnn_tutor
from rnn_tutor import layers

TOL = {torch.float64: 1e-10, torch.float32: 1e-5}
KINDS = {"rnn_tanh": (torch.nn.RNN, {"nonlinearity": "tanh"}),
         "rnn_relu": (torch.nn.RNN, {"nonlinearity": "relu"}),
         "lstm": (torch.nn.LSTM, {}), "gru": (torch.nn.GRU, {})}


def err(ours, ref):
    ref = ref.detach().numpy() if isinstance(ref, torch.Tensor) else ref
    assert ours.shape == ref.shape and ours.dtype == ref.dtype
    return np.max(np.abs(ours - ref)) / max(1.0, np.max(np.abs(ref)))


def make_module(kind, dtype, seed=0, **kw):
    cls, extra = KINDS[kind]
    torch.manual_seed(seed)
    return cls(dtype=dtype, **extra, **kw)


def random_like(shape, dtype, gen):
    return torch.randn(shape, dtype=dtype, generator=gen)


def compare(module, x, with_hx=True, with_dh=True, seed=1):
    """Run torch and the mirror on the same data; return the worst error of everything."""
    dtype = next(module.parameters()).dtype
    gen = torch.Generator().manual_seed(seed)
    lstm = isinstance(module, torch.nn.LSTM)
    unbatched = x.dim() == 2
    layers_dirs = module.num_layers * (2 if module.bidirectional else 1)
    B = 1 if unbatched else x.shape[0 if module.batch_first else 1]
    h_shape = (layers_dirs, module.hidden_size) if unbatched else (layers_dirs, B,
                                                                   module.hidden_size)
    x = x.clone().requires_grad_(True)
    hx = None
    if with_hx:
        hx = tuple(random_like(h_shape, dtype, gen).requires_grad_(True)
                   for _ in range(2 if lstm else 1))
    m = rnn_tutor.from_torch(module)
    out, h_n = module(x, None if hx is None else (hx if lstm else hx[0]))
    n_out, n_h = m.forward(x.detach().numpy(),
                           None if hx is None else (tuple(h.detach().numpy() for h in hx)
                                                    if lstm else hx[0].detach().numpy()))
    finals = h_n if lstm else (h_n,)
    n_finals = n_h if lstm else (n_h,)
    assert isinstance(n_h, tuple) == lstm and len(n_finals) == len(finals)
    errors = [err(n_out, out)] + [err(a, b) for a, b in zip(n_finals, finals)]

    d_out = random_like(out.shape, dtype, gen)
    tensors, grads = [out], [d_out]
    d_finals = None
    if with_dh:
        d_finals = tuple(random_like(f.shape, dtype, gen) for f in finals)
        tensors += list(finals)
        grads += list(d_finals)
    torch.autograd.backward(tensors, grads)
    np_dh = None if d_finals is None else (
        tuple(d.numpy() for d in d_finals) if lstm else d_finals[0].numpy())
    dx = m.backward(d_out.numpy(), np_dh)
    errors.append(err(dx, x.grad))
    assert list(m.grads) == [name for name, _ in module.named_parameters()]
    errors += [err(m.grads[name], p.grad) for name, p in module.named_parameters()]
    if hx is not None:
        d_hx = m.d_hx if lstm else (m.d_hx,)
        errors += [err(a, h.grad) for a, h in zip(d_hx, hx)]
    return max(errors)


GRID = list(itertools.product(KINDS, [1, 2], [False, True], [False, True], [True, False],
                              [torch.float64, torch.float32]))
SHAPES = [(1, 3), (4, 1), (3, 2)]     # (T, B): a single step and a single example included




@pytest.mark.parametrize("T,B", SHAPES)
@pytest.mark.parametrize("kind,num_layers,bidirectional,batch_first,bias,dtype", GRID,
                         ids=["-".join([k, f"L{n}", "bi" if bi else "uni",
                                        "bf" if bf else "tf", "bias" if b else "nobias",
                                        str(d).removeprefix("torch.")])
                              for k, n, bi, bf, b, d in GRID])
def test_mirror_matches_torch_on_the_grid(kind, num_layers, bidirectional, batch_first, bias,
                                          dtype, T, B):
    module = make_module(kind, dtype, input_size=3, hidden_size=4, num_layers=num_layers,
                         bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    gen = torch.Generator().manual_seed(7)
    x = random_like((B, T, 3) if batch_first else (T, B, 3), dtype, gen)
    assert compare(module, x) < TOL[dtype]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_default_hidden_state_and_no_final_gradient(kind, dtype):
    module = make_module(kind, dtype, input_size=2, hidden_size=5, num_layers=2)
    x = random_like((6, 2, 2), dtype, torch.Generator().manual_seed(0))
    assert compare(module, x, with_hx=False, with_dh=False) < TOL[dtype]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_sequence_like_torch(kind, batch_first):
    module = make_module(kind, torch.float64, input_size=3, hidden_size=2,
                         bidirectional=True, batch_first=batch_first)
    x = random_like((5, 3), torch.float64, torch.Generator().manual_seed(2))
    assert compare(module, x) < 1e-10


def test_relu_network_large_values_are_compared_relatively():
    module = make_module("rnn_relu", torch.float64, input_size=3, hidden_size=8)
    with torch.no_grad():
        module.weight_hh_l0.mul_(6.0)           # a growing relu RNN: values far above 1
    x = random_like((12, 2, 3), torch.float64, torch.Generator().manual_seed(3)) * 5
    out, _ = module(x)
    assert out.abs().max() > 100
    assert compare(module, x) < 1e-10


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(list(KINDS)), T=st.integers(1, 6), B=st.integers(1, 4),
       D=st.integers(1, 4), H=st.integers(1, 5), num_layers=st.integers(1, 3),
       bidirectional=st.booleans(), seed=st.integers(0, 2**16))
def test_property_mirror_matches_torch(kind, T, B, D, H, num_layers, bidirectional, seed):
    module = make_module(kind, torch.float64, seed=seed, input_size=D, hidden_size=H,
                         num_layers=num_layers, bidirectional=bidirectional)
    x = random_like((T, B, D), torch.float64, torch.Generator().manual_seed(seed))
    assert compare(module, x, seed=seed) < 1e-10


def test_comparison_can_fail():
    """The same check flags a mirror whose weights differ from torch's in one entry."""
    module = make_module("gru", torch.float64, input_size=2, hidden_size=3)
    x = random_like((3, 2, 2), torch.float64, torch.Generator().manual_seed(0))
    m = rnn_tutor.from_torch(module)
    m.params["weight_hh_l0"][4, 1] += 1e-3
    out, _ = module(x)
    assert err(m.forward(x.numpy())[0], out) > 1e-6


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("window", [1, 2, 3])
def test_truncated_bptt_equals_torch_with_detached_chunks(kind, window):
    """m.backward(..., window=k) == torch training on chunks of k with h.detach()."""
    module = make_module(kind, torch.float64, input_size=3, hidden_size=4, num_layers=2)
    gen = torch.Generator().manual_seed(4)
    T = 7
    x = random_like((T, 2, 3), torch.float64, gen)
    d_out = random_like((T, 2, 4), torch.float64, gen)
    m = rnn_tutor.from_torch(module)
    m.forward(x.numpy())
    m.backward(d_out.numpy(), window=window)
    hx = None
    for s in range(0, T, window):
        out, hx = module(x[s:s + window], hx)
        out.backward(d_out[s:s + window])
        hx = tuple(h.detach() for h in hx) if isinstance(hx, tuple) else hx.detach()
    for name, p in module.named_parameters():
        assert err(m.grads[name], p.grad) < 1e-10, name


def test_parameters_are_copied_and_round_trip():
    module = make_module("lstm", torch.float32, input_size=3, hidden_size=4, num_layers=2,
                         bidirectional=True)
    m = rnn_tutor.from_torch(module)
    assert m.dtype == np.float32 and isinstance(m, layers.LSTM)
    before = m.params["weight_ih_l0"].copy()
    with torch.no_grad():
        module.weight_ih_l0.add_(1.0)
    np.testing.assert_array_equal(m.params["weight_ih_l0"], before)
    back = m.to_torch()
    assert type(back) is torch.nn.LSTM and back.bidirectional and back.num_layers == 2
    x = random_like((3, 2, 3), torch.float32, torch.Generator().manual_seed(0))
    for name, p in back.named_parameters():
        np.testing.assert_array_equal(p.detach().numpy(), m.params[name])
    assert err(m.forward(x.numpy())[0], back(x)[0]) < 1e-5
    assert "LSTM(3, 4, num_layers=2" in repr(m)


@pytest.mark.parametrize("module,exc,pattern", [
    (lambda: torch.nn.Linear(3, 4), TypeError,
     r"supports torch.nn.RNN, torch.nn.LSTM and torch.nn.GRU; got Linear"),
    (lambda: torch.nn.LSTMCell(3, 4), TypeError, r"got LSTMCell"),
    (lambda: "lstm", TypeError, r"got str"),
    (lambda: torch.nn.LSTM(3, 4, proj_size=2), ValueError, r"expected proj_size=0, got 2"),
    (lambda: torch.nn.GRU(3, 4, num_layers=2, dropout=0.5), ValueError,
     r"expected dropout=0, got 0.5"),
    (lambda: torch.nn.RNN(3, 4, dtype=torch.float16), TypeError,
     r"dtype must be float32 or float64; got torch.float16"),
])
def test_unsupported_modules_are_refused(module, exc, pattern):
    with pytest.raises(exc, match=pattern):
        rnn_tutor.from_torch(module())
