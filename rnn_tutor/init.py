"""Weight initialisers, all seeded, and helpers that set a matrix's spectral scale.

Shapes follow PyTorch's layout: a weight of shape ``(rows, cols)`` maps a ``cols``-vector
to a ``rows``-vector, so ``fan_in = cols`` and ``fan_out = rows``.

Every initialiser takes ``seed``: an int (same numbers every time), a
``np.random.Generator`` (continue that stream), or None (fresh randomness).

Why the recurrent matrix's *spectral* scale is the knob that matters: the gradient that
flows from step T back to step k is multiplied by ``W_hh.T`` once per step, so its size
behaves like ``||W_hh||^(T-k)`` (Pascanu et al., 2013). After :func:`recurrent_matrix`
rescales to a given spectral norm, a Gaussian, Xavier-normal and He-normal draw are the
*same* matrix (they differ only by a constant factor); what still differs between
initialisers is the shape of the spectrum (orthogonal: all singular values equal;
Gaussian: a spread of singular values; identity: one repeated eigenvalue).
"""

from __future__ import annotations

import functools
import numbers

import numpy as np

from .validate import (as_float_array, check_choice, check_positive_float,
                        check_positive_int)

__all__ = [
    "rng_from_seed", "gaussian", "xavier_uniform", "xavier_normal", "he_normal",
    "he_uniform", "orthogonal", "identity", "matrix", "INIT_NAMES",
    "scale_to_spectral_norm", "scale_to_spectral_radius", "recurrent_matrix",
    "SCALE_BY", "check_weight_shape",
]


def rng_from_seed(seed) -> np.random.Generator:
    """Return a ``np.random.Generator`` for ``seed`` (int >= 0, Generator or None)."""
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer; got {seed}")
        return np.random.default_rng(int(seed))
    raise TypeError("seed must be a non-negative int, a np.random.Generator or None; "
                    f"got {seed!r} ({type(seed).__name__})")


def check_weight_shape(shape) -> tuple[int, int]:
    """Return ``shape`` as ``(rows, cols)`` of positive ints, or raise a clear error."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
        raise ValueError(f"shape must be a pair (rows, cols) of positive integers; "
                         f"got {shape!r}")
    return (check_positive_int(shape[0], "shape[0] (rows)"),
            check_positive_int(shape[1], "shape[1] (cols)"))


def gaussian(shape, scale: float = 1.0, seed=None) -> np.ndarray:
    """Scaled Gaussian: entries ~ N(0, scale**2 / fan_in).

    For a large square matrix the eigenvalues fill a disc of radius about ``scale``
    (the circular law) while the largest singular value is about ``2 * scale``.
    """
    rows, cols = check_weight_shape(shape)
    scale = check_positive_float(scale, "scale")
    return rng_from_seed(seed).standard_normal((rows, cols)) * (scale / np.sqrt(cols))


def xavier_uniform(shape, gain: float = 1.0, seed=None) -> np.ndarray:
    """Xavier/Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).

    Same formula as ``torch.nn.init.xavier_uniform_``; variance gain**2 * 2/(fan_in+fan_out).
    """
    rows, cols = check_weight_shape(shape)
    gain = check_positive_float(gain, "gain")
    bound = gain * np.sqrt(6.0 / (rows + cols))
    return rng_from_seed(seed).uniform(-bound, bound, size=(rows, cols))


def xavier_normal(shape, gain: float = 1.0, seed=None) -> np.ndarray:
    """Xavier/Glorot normal: N(0, gain**2 * 2 / (fan_in + fan_out)) (``xavier_normal_``)."""
    rows, cols = check_weight_shape(shape)
    gain = check_positive_float(gain, "gain")
    std = gain * np.sqrt(2.0 / (rows + cols))
    return rng_from_seed(seed).standard_normal((rows, cols)) * std


def he_normal(shape, seed=None) -> np.ndarray:
    """He/Kaiming normal for ReLU: N(0, 2 / fan_in) (``kaiming_normal_``, mode fan_in)."""
    rows, cols = check_weight_shape(shape)
    return rng_from_seed(seed).standard_normal((rows, cols)) * np.sqrt(2.0 / cols)


def he_uniform(shape, seed=None) -> np.ndarray:
    """He/Kaiming uniform for ReLU: U(-b, b), b = sqrt(6 / fan_in) (same variance 2/fan_in)."""
    rows, cols = check_weight_shape(shape)
    bound = np.sqrt(6.0 / cols)
    return rng_from_seed(seed).uniform(-bound, bound, size=(rows, cols))


def orthogonal(shape, gain: float = 1.0, seed=None) -> np.ndarray:
    """A (semi-)orthogonal matrix times ``gain``, drawn uniformly (Haar measure).

    QR-decompose a Gaussian matrix and multiply each column of Q by the sign of R's
    diagonal: without that sign fix Q is orthogonal but not uniformly distributed.
    For a tall matrix the columns are orthonormal, for a wide one the rows; either way
    every singular value equals ``gain``.
    """
    rows, cols = check_weight_shape(shape)
    gain = check_positive_float(gain, "gain")
    tall = rows >= cols
    a = rng_from_seed(seed).standard_normal((rows, cols) if tall else (cols, rows))
    q, r = np.linalg.qr(a)                       # q: (max, min), orthonormal columns
    d = np.sign(np.diag(r))
    d[d == 0] = 1.0                              # a zero pivot has probability 0; be safe
    q = q * d
    return gain * (q if tall else q.T)


def identity(shape, scale: float = 1.0, seed=None) -> np.ndarray:
    """``scale`` times the identity (``np.eye(rows, cols)``), as in IRNNs (Le et al., 2015).

    ``seed`` is accepted (and ignored) so all initialisers share one signature.
    """
    rows, cols = check_weight_shape(shape)
    scale = check_positive_float(scale, "scale")
    rng_from_seed(seed)                          # still validate it
    return scale * np.eye(rows, cols)


_INITIALISERS = {
    "gaussian": gaussian,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "orthogonal": orthogonal,
    "identity": identity,
}
_ALIASES = {"xavier": "xavier_uniform", "glorot": "xavier_uniform",
            "glorot_uniform": "xavier_uniform", "glorot_normal": "xavier_normal",
            "he": "he_normal", "kaiming": "he_normal"}
#: Canonical initialiser names accepted by :func:`matrix` (aliases: xavier and glorot
#: mean xavier_uniform, glorot_normal means xavier_normal, he and kaiming mean he_normal).
INIT_NAMES = tuple(_INITIALISERS)


def _resolve(init: str) -> str:
    if isinstance(init, str) and init in _ALIASES:
        return _ALIASES[init]
    return check_choice(init, INIT_NAMES + tuple(_ALIASES), "init")


def matrix(init: str, shape, seed=None, **kwargs) -> np.ndarray:
    """Draw a matrix by initialiser name, e.g. ``matrix("orthogonal", (64, 64), seed=0)``.

    ``kwargs`` go to the initialiser (``scale`` for gaussian/identity, ``gain`` for
    xavier/orthogonal).
    """
    return _INITIALISERS[_resolve(init)](shape, seed=seed, **kwargs)


def _check_matrix(W, name="W") -> np.ndarray:
    return as_float_array(W, name, ndim=2)


def scale_to_spectral_norm(W, s: float) -> np.ndarray:
    """Return ``W`` rescaled so its spectral norm (largest singular value) equals ``s``."""
    W = _check_matrix(W)
    s = check_positive_float(s, "s", allow_zero=True)
    norm = np.linalg.norm(W, 2)
    if norm == 0:
        raise ValueError("cannot rescale W to a spectral norm: W is the zero matrix")
    return W * (s / norm)


def scale_to_spectral_radius(W, r: float) -> np.ndarray:
    """Return square ``W`` rescaled to spectral radius ``r`` (largest absolute eigenvalue)."""
    W = _check_matrix(W)
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"the spectral radius needs a square matrix; got shape {W.shape}")
    r = check_positive_float(r, "r", allow_zero=True)
    radius = np.max(np.abs(np.linalg.eigvals(W)))
    if radius == 0:
        raise ValueError("cannot rescale W to a spectral radius: all its eigenvalues are 0 "
                         "(W is nilpotent); rescale by spectral norm instead")
    return W * (r / radius)


#: How :func:`recurrent_matrix` interprets ``scale``.
SCALE_BY = ("norm", "radius", "none")


def recurrent_matrix(init: str, hidden_size: int, scale: float, seed=None,
                     scale_by: str = "norm", gates: int = 1) -> np.ndarray:
    """The recurrent weight ``W_hh`` used by gradient profiles and the explorer.

    Parameters
    ----------
    init : str
        Initialiser name (see :data:`INIT_NAMES`).
    hidden_size : int
        H.
    scale : float
        Target scale of each H x H block, interpreted by ``scale_by``.
    seed : int, np.random.Generator or None
        An int gives the same matrix every time (and the same matrix that
        ``gradient_profile(..., seed=seed)`` uses).
    scale_by : {"norm", "radius", "none"}
        ``"norm"`` (default): each block's largest singular value equals ``scale``;
        for ``init="orthogonal"`` *all* singular values equal ``scale``.
        ``"radius"``: each block's largest absolute eigenvalue equals ``scale``.
        ``"none"``: the initialiser's own scaling multiplied by ``scale``.
    gates : int
        Number of stacked H x H blocks: 1 (RNN), 4 (LSTM, gates i, f, g, o), 3 (GRU,
        gates r, z, n). Blocks are drawn one after another from the same stream, so
        block 0 of a gated matrix equals the RNN matrix for the same seed.

    Returns
    -------
    ndarray of shape (gates * H, H)
    """
    name = _resolve(init)
    H = check_positive_int(hidden_size, "hidden_size")
    scale = check_positive_float(scale, "scale")
    check_choice(scale_by, SCALE_BY, "scale_by")
    gates = check_positive_int(gates, "gates")
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        blocks, sizes = _unscaled_blocks(name, H, int(seed), scale_by, gates)
    else:                                       # a Generator or None: draw afresh
        blocks, sizes = _draw_blocks(name, H, rng_from_seed(seed), scale_by, gates)
    # Same arithmetic as scale_to_spectral_norm/radius: block * (scale / size).
    return np.concatenate([block * (scale / size) for block, size in zip(blocks, sizes)],
                          axis=0)


def _draw_blocks(name, H, rng, scale_by, gates):
    """The ``gates`` H x H blocks as drawn, and each block's size in the sense of scale_by."""
    blocks, sizes = [], []
    for _ in range(gates):
        block = _INITIALISERS[name]((H, H), seed=rng)
        if scale_by == "norm":
            size = np.linalg.norm(block, 2)
            if size == 0:
                raise ValueError("cannot rescale W to a spectral norm: W is the zero matrix")
        elif scale_by == "radius":
            size = np.max(np.abs(np.linalg.eigvals(block)))
            if size == 0:
                raise ValueError("cannot rescale W to a spectral radius: all its eigenvalues "
                                 "are 0 (W is nilpotent); rescale by spectral norm instead")
        else:
            size = 1.0
        block.setflags(write=False)
        blocks.append(block)
        sizes.append(size)
    return tuple(blocks), tuple(sizes)


@functools.lru_cache(maxsize=64)
def _unscaled_blocks(name, H, seed, scale_by, gates):
    """:func:`_draw_blocks` for an int seed, cached: dragging the explorer's scale slider
    changes only the factor, so the QR decompositions and SVDs (about 0.3 ms per 64 x 64
    block) are not repeated. The blocks are read-only; callers get scaled copies."""
    return _draw_blocks(name, H, rng_from_seed(seed), scale_by, gates)
