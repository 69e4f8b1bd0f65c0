"""Tests for rnn_tutor.init: initialisers, spectral rescaling, the shared recurrent matrix."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_tutor import init

SHAPES = [(1, 1), (5, 5), (7, 3), (3, 7), (64, 64)]
SEEDED = ["gaussian", "xavier_uniform", "xavier_normal", "he_normal", "he_uniform",
          "orthogonal"]


# ----------------------------------------------------------------------------- seeding

@pytest.mark.parametrize("name", SEEDED)
@pytest.mark.parametrize("shape", SHAPES)
def test_same_seed_same_matrix_other_seed_other_matrix(name, shape):
    a = init.matrix(name, shape, seed=3)
    assert a.shape == shape and a.dtype == np.float64
    np.testing.assert_array_equal(a, init.matrix(name, shape, seed=3))
    if shape != (1, 1) or name != "orthogonal":     # a 1x1 orthogonal matrix is +-1
        assert not np.array_equal(a, init.matrix(name, shape, seed=4))


@pytest.mark.parametrize("name", SEEDED)
def test_generator_seed_continues_the_stream(name):
    rng = np.random.default_rng(11)
    first = init.matrix(name, (6, 6), seed=rng)
    second = init.matrix(name, (6, 6), seed=rng)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, init.matrix(name, (6, 6), seed=np.random.default_rng(11)))


def test_seed_none_gives_fresh_draws():
    assert not np.array_equal(init.gaussian((8, 8)), init.gaussian((8, 8)))


@pytest.mark.parametrize("seed, err", [(-1, ValueError), (1.5, TypeError), ("0", TypeError),
                                       (True, TypeError), ([1, 2], TypeError)])
def test_bad_seed(seed, err):
    with pytest.raises(err, match="seed"):
        init.gaussian((3, 3), seed=seed)


# ----------------------------------------------------------------------------- statistics

def _std_error(n):
    # Relative standard error of a sample standard deviation from n draws, times 6.
    return 6 / np.sqrt(2 * n)


@pytest.mark.parametrize("shape", [(400, 300), (200, 500)])
def test_variances_match_the_formulas_and_torch(shape):
    rows, cols = shape
    n = rows * cols
    tol = _std_error(n)
    torch.manual_seed(0)

    def torch_std(fn, **kw):
        return float(fn(torch.empty(shape), **kw).std())

    nn_init = torch.nn.init
    cases = {
        "gaussian": (init.gaussian(shape, scale=1.7, seed=0), 1.7 / np.sqrt(cols)),
        "xavier_uniform": (init.xavier_uniform(shape, gain=2.0, seed=0),
                           torch_std(nn_init.xavier_uniform_, gain=2.0)),
        "xavier_normal": (init.xavier_normal(shape, gain=0.5, seed=0),
                          torch_std(nn_init.xavier_normal_, gain=0.5)),
        "he_normal": (init.he_normal(shape, seed=0),
                      torch_std(nn_init.kaiming_normal_, nonlinearity="relu")),
        "he_uniform": (init.he_uniform(shape, seed=0),
                       torch_std(nn_init.kaiming_uniform_, nonlinearity="relu")),
    }
    formulas = {"xavier_uniform": 2.0 * np.sqrt(2 / (rows + cols)),
                "xavier_normal": 0.5 * np.sqrt(2 / (rows + cols)),
                "he_normal": np.sqrt(2 / cols), "he_uniform": np.sqrt(2 / cols)}
    for name, (W, reference) in cases.items():
        want = formulas.get(name, reference)
        assert abs(W.std() / want - 1) < tol, name
        assert abs(float(reference) / want - 1) < 2 * tol, name   # torch agrees with the formula
        assert abs(W.mean()) < 6 * want / np.sqrt(n), name


def test_uniform_bounds():
    W = init.xavier_uniform((50, 30), gain=1.5, seed=1)
    bound = 1.5 * np.sqrt(6 / 80)
    assert np.abs(W).max() <= bound and np.abs(W).max() > 0.95 * bound
    W = init.he_uniform((50, 30), seed=1)
    assert np.abs(W).max() <= np.sqrt(6 / 30)


# ----------------------------------------------------------------------------- orthogonal

@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 40), cols=st.integers(1, 40), gain=st.floats(0.1, 5.0),
       seed=st.integers(0, 2**32 - 1))
def test_orthogonal_singular_values_all_equal_gain(rows, cols, gain, seed):
    W = init.orthogonal((rows, cols), gain=gain, seed=seed)
    assert W.shape == (rows, cols)
    np.testing.assert_allclose(np.linalg.svd(W, compute_uv=False), gain, rtol=1e-12)
    small = W.T @ W if rows >= cols else W @ W.T       # orthonormal columns or rows
    np.testing.assert_allclose(small, gain**2 * np.eye(min(rows, cols)), atol=1e-12 * gain**2)


def test_orthogonal_sign_fix_makes_it_haar():
    # Without the sign fix, numpy's Householder QR makes Q[0, 0] = -|a_00| / ||a_0|| < 0
    # always; under the Haar measure its mean is 0 and each sign has probability 1/2.
    rng = np.random.default_rng(0)
    corner = np.array([init.orthogonal((3, 3), seed=rng)[0, 0] for _ in range(2000)])
    assert abs(corner.mean()) < 0.05
    assert 0.45 < (corner > 0).mean() < 0.55


def test_identity():
    np.testing.assert_array_equal(init.identity((3, 3), scale=0.5), 0.5 * np.eye(3))
    np.testing.assert_array_equal(init.identity((2, 4)), np.eye(2, 4))
    np.testing.assert_array_equal(init.matrix("identity", (4, 4), seed=9), np.eye(4))


def test_aliases_resolve_to_the_same_initialiser():
    for alias, name in [("xavier", "xavier_uniform"), ("glorot", "xavier_uniform"),
                        ("glorot_normal", "xavier_normal"), ("he", "he_normal"),
                        ("kaiming", "he_normal")]:
        np.testing.assert_array_equal(init.matrix(alias, (4, 5), seed=2),
                                      init.matrix(name, (4, 5), seed=2))


# ----------------------------------------------------------------------------- spectra

@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 30), s=st.floats(0.01, 10.0), seed=st.integers(0, 10**6))
def test_scale_to_spectral_norm_and_radius(n, s, seed):
    W = np.random.default_rng(seed).standard_normal((n, n))
    A = init.scale_to_spectral_norm(W, s)
    assert np.isclose(np.linalg.svd(A, compute_uv=False)[0], s, rtol=1e-10)
    B = init.scale_to_spectral_radius(W, s)
    assert np.isclose(np.abs(np.linalg.eigvals(B)).max(), s, rtol=1e-8)
    # Same direction: only a positive factor changed.
    np.testing.assert_allclose(A / np.linalg.norm(A), W / np.linalg.norm(W), atol=1e-12)


def test_spectral_norm_of_rectangular_matrix():
    W = np.random.default_rng(0).standard_normal((3, 8))
    assert np.isclose(np.linalg.norm(init.scale_to_spectral_norm(W, 2.0), 2), 2.0)


@pytest.mark.parametrize("func", [init.scale_to_spectral_norm, init.scale_to_spectral_radius])
def test_spectral_rescaling_bad_input(func):
    with pytest.raises(ValueError, match="zero matrix|eigenvalues are 0"):
        func(np.zeros((3, 3)), 1.0)
    with pytest.raises(TypeError, match="floating-point"):
        func(np.eye(3, dtype=int), 1.0)
    with pytest.raises(ValueError, match="2 dimensions"):
        func(np.ones(3), 1.0)
    with pytest.raises(ValueError, match="finite"):
        func(np.array([[1.0, np.nan], [0.0, 1.0]]), 1.0)
    with pytest.raises(ValueError, match="> 0|>= 0"):
        func(np.eye(3), -1.0)
    with pytest.raises(TypeError, match="real number"):
        func(np.eye(3), "1")


def test_spectral_radius_needs_square_and_non_nilpotent():
    with pytest.raises(ValueError, match="square"):
        init.scale_to_spectral_radius(np.ones((2, 3)), 1.0)
    with pytest.raises(ValueError, match="nilpotent"):
        init.scale_to_spectral_radius(np.array([[0.0, 1.0], [0.0, 0.0]]), 1.0)


# ----------------------------------------------------------------------------- recurrent_matrix

@pytest.mark.parametrize("name", init.INIT_NAMES)
@pytest.mark.parametrize("gates", [1, 3, 4])
def test_recurrent_matrix_blocks_have_the_requested_scale(name, gates):
    H, scale = 16, 1.3
    W = init.recurrent_matrix(name, H, scale, seed=5, gates=gates)
    assert W.shape == (gates * H, H)
    for block in np.split(W, gates):
        assert np.isclose(np.linalg.norm(block, 2), scale, rtol=1e-12)
        if name in ("orthogonal", "identity"):
            np.testing.assert_allclose(np.linalg.svd(block, compute_uv=False), scale,
                                       rtol=1e-12)
    R = init.recurrent_matrix(name, H, scale, seed=5, scale_by="radius", gates=gates)
    for block in np.split(R, gates):
        assert np.isclose(np.abs(np.linalg.eigvals(block)).max(), scale, rtol=1e-9)
    # Block 0 of a gated matrix is the RNN matrix of the same seed.
    np.testing.assert_array_equal(W[:H], init.recurrent_matrix(name, H, scale, seed=5))


def test_recurrent_matrix_scale_by_none_keeps_the_initialisers_own_scale():
    W = init.recurrent_matrix("gaussian", 32, 2.0, seed=1, scale_by="none")
    np.testing.assert_array_equal(W, 2.0 * init.gaussian((32, 32), seed=1))


@pytest.mark.parametrize("scale_by", ["norm", "radius"])
def test_rescaled_gaussian_xavier_normal_and_he_are_the_same_matrix(scale_by):
    # The point made in the module docstring: only the spectrum's shape survives rescaling.
    # (test_gradients' explorer-range sweep relies on it to skip the duplicates.)
    def draw(name):
        return init.recurrent_matrix(name, 20, 0.9, seed=4, scale_by=scale_by, gates=2)

    for same in (("gaussian", "xavier_normal", "he"), ("xavier_uniform", "he_uniform")):
        for name in same[1:]:
            np.testing.assert_allclose(draw(name), draw(same[0]), rtol=1e-12)


@pytest.mark.parametrize("kwargs, err, match", [
    ({"init": "kaiming_magic"}, ValueError, "unknown init 'kaiming_magic'; expected one of"),
    ({"init": 3}, ValueError, "unknown init"),
    ({"hidden_size": 0}, ValueError, "hidden_size must be a positive integer; got 0"),
    ({"hidden_size": -4}, ValueError, "hidden_size"),
    ({"hidden_size": 2.5}, TypeError, "hidden_size must be a positive integer"),
    ({"hidden_size": True}, TypeError, "hidden_size"),
    ({"scale": 0.0}, ValueError, "scale must be a finite number > 0; got 0.0"),
    ({"scale": -1.0}, ValueError, "scale"),
    ({"scale": float("nan")}, ValueError, "scale"),
    ({"scale": float("inf")}, ValueError, "scale"),
    ({"scale": "big"}, TypeError, "scale must be a real number"),
    ({"scale_by": "trace"}, ValueError, "unknown scale_by 'trace'"),
    ({"gates": 0}, ValueError, "gates"),
    ({"seed": -3}, ValueError, "seed"),
])
def test_recurrent_matrix_bad_input(kwargs, err, match):
    args = {"init": "orthogonal", "hidden_size": 4, "scale": 1.0, "seed": 0}
    args.update(kwargs)
    with pytest.raises(err, match=match):
        init.recurrent_matrix(**args)


@pytest.mark.parametrize("shape, err", [((3,), ValueError), ((0, 3), ValueError),
                                        ((3, -1), ValueError), ("ab", ValueError),
                                        ((2.5, 3), TypeError), (5, ValueError),
                                        ((2, 3, 4), ValueError)])
@pytest.mark.parametrize("name", init.INIT_NAMES)
def test_bad_shapes(name, shape, err):
    with pytest.raises(err, match="shape"):
        init.matrix(name, shape, seed=0)


@pytest.mark.parametrize("func, kw", [(init.gaussian, "scale"), (init.identity, "scale"),
                                      (init.orthogonal, "gain"), (init.xavier_uniform, "gain"),
                                      (init.xavier_normal, "gain")])
def test_bad_scale_or_gain(func, kw):
    with pytest.raises(ValueError, match=kw):
        func((3, 3), **{kw: 0.0})
    with pytest.raises(TypeError, match=kw):
        func((3, 3), **{kw: None})


@pytest.mark.parametrize("scale_by", ["norm", "radius", "none"])
def test_recurrent_matrix_int_seed_cache_gives_fresh_equal_arrays(scale_by):
    # An int seed's blocks are cached (a slider drag redraws nothing): every call must
    # still return a new writable array, equal to a fresh draw from the same stream.
    a = init.recurrent_matrix("gaussian", 6, 1.3, seed=11, scale_by=scale_by, gates=3)
    a[:] = 0.0
    b = init.recurrent_matrix("gaussian", 6, 1.3, seed=11, scale_by=scale_by, gates=3)
    fresh = init.recurrent_matrix("gaussian", 6, 1.3, seed=np.random.default_rng(11),
                                  scale_by=scale_by, gates=3)
    assert b.flags.writeable and not np.shares_memory(a, b)
    np.testing.assert_array_equal(b, fresh)
    blocks = [init.gaussian((6, 6), seed=rng) for rng in [np.random.default_rng(11)] * 3]
    if scale_by == "norm":
        expected = [init.scale_to_spectral_norm(B, 1.3) for B in blocks]
    elif scale_by == "radius":
        expected = [init.scale_to_spectral_radius(B, 1.3) for B in blocks]
    else:
        expected = [B * 1.3 for B in blocks]
    np.testing.assert_array_equal(b, np.concatenate(expected))
