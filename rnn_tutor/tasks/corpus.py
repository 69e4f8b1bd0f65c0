"""A character corpus from the docstrings of the Python standard library, with n-gram baselines.

Real English prose (with some code) on every machine, no download. The text is built
deterministically: a fixed list of modules, attributes traversed in sorted order,
docstrings de-duplicated, cleaned with ``inspect.cleandoc`` and normalised to a small
alphabet (lower case ASCII letters, digits, space, newline and common punctuation).
It depends on the Python version (docstrings change between releases): ``summary()``
reports its size and a checksum. The baselines are add-k smoothed character n-grams up
to trigrams and interpolated Kneser-Ney n-grams up to 5-grams.

Training reads the text by truncated backpropagation through time
(:func:`truncated_bptt`): ``B`` parallel streams, in windows of ``seq_len`` characters,
the hidden state carried (detached) from one window to the next or reset to zero.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import inspect
import math
import numbers
import re
import unicodedata
import warnings

import numpy as np
import torch
from torch.nn import functional as F

from ..validate import check_choice, check_positive_float, check_positive_int
from ..models import detach_state, evaluation_mode
from ._base import LN2, Batch, as_rng

__all__ = ["CharCorpus", "truncated_bptt", "stdlib_docstrings", "ALPHABET",
           "DEFAULT_MODULES"]

#: Modules whose docstrings make the corpus (fixed, so the corpus is reproducible). Not
#: ``pdb``: IPython kernels replace its debugger class, so its docstrings (49 of them in a
#: script, 2 in a kernel) would make the chapters' corpus differ from the scripts'.
DEFAULT_MODULES = (
    "abc", "argparse", "ast", "asyncio", "base64", "bisect", "calendar", "cmd",
    "collections", "concurrent.futures", "configparser", "contextlib", "copy", "csv",
    "dataclasses", "datetime", "decimal", "difflib", "email.message", "enum",
    "fileinput", "fnmatch", "fractions", "ftplib", "functools", "gettext", "glob",
    "gzip", "heapq", "hmac", "html.parser", "http.client", "http.server", "imaplib",
    "inspect", "ipaddress", "json", "logging", "mailbox", "mimetypes", "numbers",
    "operator", "optparse", "os", "pathlib", "pickle", "pprint", "pydoc",
    "queue", "random", "re", "sched", "secrets", "selectors", "shlex", "shutil",
    "smtplib", "socket", "socketserver", "statistics", "string", "subprocess",
    "tarfile", "tempfile", "textwrap", "threading", "timeit", "tokenize", "trace",
    "traceback", "typing", "unittest.case", "unittest.mock", "urllib.parse",
    "urllib.request", "uuid", "warnings", "weakref", "xml.dom.minidom", "zipfile",
)

#: The normalised alphabet: everything else is dropped (after accents are stripped).
ALPHABET = "\n !\"#%'()*+,-./0123456789:;<=>?[]_abcdefghijklmnopqrstuvwxyz"
_ALLOWED = frozenset(ALPHABET)


def _normalise(doc: str) -> str:
    text = unicodedata.normalize("NFKD", inspect.cleandoc(doc)).lower()
    text = text.replace("\t", " ")
    text = "".join(ch for ch in text if ch in _ALLOWED)
    text = re.sub(r" +", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _own_members(module):
    """Classes and functions defined in ``module``, and their methods, in sorted order."""
    for name in sorted(vars(module)):
        obj = vars(module)[name]
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        yield obj
        if inspect.isclass(obj):
            for attr in sorted(vars(obj)):
                member = vars(obj)[attr]
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if inspect.isfunction(member) or isinstance(member, property):
                    yield member


@functools.lru_cache(maxsize=4)
def stdlib_docstrings(modules: tuple[str, ...] = DEFAULT_MODULES) -> tuple[str, ...]:
    """Normalised, de-duplicated docstrings of ``modules``, in a fixed order.

    Modules missing on this Python are skipped (``summary()`` lists what was used).
    """
    docs, seen = [], set()
    with warnings.catch_warnings():  # some members (e.g. typing.io) warn when touched
        warnings.simplefilter("ignore", DeprecationWarning)
        for name in modules:
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            for obj in (module, *_own_members(module)):
                doc = getattr(obj, "__doc__", None)
                if not isinstance(doc, str):
                    continue
                text = _normalise(doc)
                if len(text) >= 40 and text not in seen:  # skip one-liners like "Return x."
                    seen.add(text)
                    docs.append(text)
    return tuple(docs)


def truncated_bptt(model, stream, seq_len: int = 64, carry_state: bool = True):
    """Yield the training loss on consecutive windows of ``stream``, pass after pass.

    Truncated backpropagation through time. The ``B`` columns of ``stream`` (int ids,
    shape ``(N, B)``, from :meth:`CharCorpus.stream`) are read in windows of ``seq_len``
    characters; each character's target is the next one. With ``carry_state`` the
    hidden state that ends one window starts the next, detached: its values go on, the
    gradient stops at the window's edge. Without it every window starts from zero.
    Every pass over the text starts from zero.

    Parameters
    ----------
    model : torch.nn.Module
        Called as ``model(x, h0)`` with ``x`` of shape ``(seq_len, B)``; returns
        ``(logits, h_n)`` like ``torch.nn.RNN``.
    stream : ndarray of int, shape (N, B)
    seq_len : int
    carry_state : bool

    Yields
    ------
    torch.Tensor
        The mean cross-entropy of one window (nats per character), ready for
        ``backward()``.
    """
    device = next(model.parameters()).device
    while True:                                     # one pass over the text per turn
        state = None
        for start in range(0, len(stream) - seq_len, seq_len):
            x = torch.as_tensor(stream[start:start + seq_len], device=device)
            y = torch.as_tensor(stream[start + 1:start + seq_len + 1], device=device)
            h0 = detach_state(state) if carry_state else None
            logits, state = model(x, h0)
            yield F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def _in_unit(losses: dict, unit: str) -> dict:
    """Losses in nats per character converted to "nats", "bits" (per char) or "perplexity"."""
    check_choice(unit, ("nats", "bits", "perplexity"), "unit")
    conv = {"nats": lambda v: v, "bits": lambda v: v / LN2, "perplexity": math.exp}[unit]
    return {name: conv(v) for name, v in losses.items()}


# -- interpolated Kneser-Ney ------------------------------------------------------
#: Highest Kneser-Ney order the corpus offers (5-grams: four characters of context).
KN_MAX_ORDER = 5
#: The discount of a count table with no n-gram counted once (the closed form
#: n1 / (n1 + 2 n2) would be 0 and leave unseen characters no probability).
KN_FALLBACK_DISCOUNT = 0.5


def _gram_ids(ids: np.ndarray, m: int, V: int) -> np.ndarray:
    """Base-V numbers of every m-gram of ``ids`` (first character most significant)."""
    out = np.zeros(len(ids) - m + 1, dtype=np.int64)
    for j in range(m):
        out = out * V + ids[j: len(ids) - m + 1 + j]
    return out


class _CountTable:
    """Counts of one level: gram ids (sorted), their counts, per-context sums, discount."""

    def __init__(self, keys: np.ndarray, counts: np.ndarray, V: int):
        self.V, self.keys, self.counts = V, keys, counts
        self.ctx_keys, start, self.ctx_types = np.unique(keys // V, return_index=True,
                                                         return_counts=True)
        self.ctx_total = np.add.reduceat(counts, start)
        n1, n2 = int(np.sum(counts == 1)), int(np.sum(counts == 2))
        self.discount = n1 / (n1 + 2 * n2) if n1 > 0 else KN_FALLBACK_DISCOUNT

    @staticmethod
    def _find(sorted_keys, values, query):
        idx = np.minimum(np.searchsorted(sorted_keys, query), len(sorted_keys) - 1)
        return np.where(sorted_keys[idx] == query, values[idx], 0)

    def lookup(self, ctx: np.ndarray, targets: np.ndarray):
        """n(ctx, target), n(ctx) and the number of types after ctx, shaped like targets."""
        ctx = ctx.reshape(ctx.shape + (1,) * (targets.ndim - ctx.ndim))
        count = self._find(self.keys, self.counts, ctx * self.V + targets)
        total = self._find(self.ctx_keys, self.ctx_total, ctx)
        types = self._find(self.ctx_keys, self.ctx_types, ctx)
        return count, total, types


class _KneserNeyCounts:
    """The count tables of interpolated Kneser-Ney models of orders 1..max_order.

    ``raw[m]`` counts the m-grams of the text, n(ctx, c); ``continuation[m]`` counts,
    for each m-gram, the distinct characters that precede it, N1+(. ctx c). A model of
    order n uses raw[n] and continuation[1..n-1].
    """

    def __init__(self, ids: np.ndarray, V: int, max_order: int):
        self.V, self.max_order = V, max_order
        self.raw, self.continuation = {}, {}
        for m in range(1, max_order + 1):
            keys, counts = np.unique(_gram_ids(ids, m, V), return_counts=True)
            self.raw[m] = _CountTable(keys, counts, V)
            if m > 1:  # every distinct m-gram adds one predecessor to its (m-1)-suffix
                keys, counts = np.unique(keys % V ** (m - 1), return_counts=True)
                self.continuation[m - 1] = _CountTable(keys, counts, V)

    def tables(self, order: int):
        """The tables of the order-``order`` model, lowest level first."""
        return [self.continuation[m] for m in range(1, order)] + [self.raw[order]]

    def probabilities(self, order, discounts, ev, positions, targets):
        """P(targets | the order-1 characters of ``ev`` before each position).

        ``targets`` has shape ``positions.shape`` or ``positions.shape + (K,)``. Every
        position must have ``order - 1`` characters of history.
        """
        V = self.V
        p = np.full(targets.shape, 1.0 / V)            # the base case: uniform
        ctx = np.zeros(positions.shape, dtype=np.int64)
        for m, (table, D) in enumerate(zip(self.tables(order), discounts), start=1):
            if m > 1:   # the context grows by one character, to the left
                ctx = ctx + ev[positions - m + 1] * V ** (m - 2)
            count, total, types = table.lookup(ctx, targets)
            seen = total > 0
            safe = np.where(seen, total, 1)
            p = np.where(seen, (np.maximum(count - D, 0.0) + D * types * p) / safe, p)
        return p


class CharCorpus:
    """Character-level corpus of standard-library docstrings with baselines.

    Documents (docstrings) go to the validation split when ``index % valid_every ==
    valid_every - 1``, else to training: a deterministic split interleaved over all
    modules (no module is held out whole). Each split is its documents joined by a
    blank line.

    Baselines (``baselines()``) are all fitted on train and evaluated on validation, in
    nats per character (bits per char = nats / ln 2, perplexity = exp(nats)). The
    uniform model's loss is ln V. The unigram, bigram and trigram models are add-k
    smoothed character n-grams, P(c given ctx) = (n(ctx, c) + k) / (n(ctx) + k V), with
    k chosen on a development slice of the training documents, then refitted on all of
    train, and scored on the same validation positions (from the third character on).
    ``kneser_ney_baselines()`` adds interpolated Kneser-Ney models of orders 1 to 5,
    scored at the same positions (:meth:`kneser_ney_loss` gives the formulas); they are
    kept out of ``baselines()``, whose four keys the chapters draw and assert on.

    The corpus is a :class:`~rnn_tutor.tasks.BatchSource`: :meth:`training_losses`
    reads the training split by :func:`truncated_bptt`, :meth:`evaluation_data` is the
    validation split in windows of 256 characters (32 streams, the state carried) and
    ``reference_loss`` is the bigram baseline.

    Attributes
    ----------
    vocabulary : str
        The alphabet (``ALPHABET``); ``vocab_size`` is its length.
    train, valid : str
        The two splits as text; ``train_ids`` and ``valid_ids`` as int64 arrays.
    """

    input_kind = "tokens"
    loss = "cross_entropy"
    target = "sequence"
    training_options = ("seq_len", "carry_state")

    def __init__(self, modules=DEFAULT_MODULES, valid_every: int = 10):
        if isinstance(modules, str) or not all(isinstance(m, str) for m in modules):
            raise TypeError(f"modules must be a sequence of module names; got {modules!r}")
        self.valid_every = check_positive_int(valid_every, "valid_every")
        if self.valid_every < 2:
            raise ValueError(f"valid_every must be at least 2; got {valid_every}")
        self.modules = tuple(modules)
        docs = stdlib_docstrings(self.modules)
        if len(docs) < self.valid_every:
            raise ValueError(f"modules {modules!r} give only {len(docs)} docstrings")
        k = self.valid_every
        self._train_docs = [d for i, d in enumerate(docs) if i % k != k - 1]
        self._valid_docs = [d for i, d in enumerate(docs) if i % k == k - 1]
        self.train = "\n\n".join(self._train_docs)
        self.valid = "\n\n".join(self._valid_docs)
        self.vocabulary = ALPHABET
        self.vocab_size = self.input_size = self.output_size = len(ALPHABET)
        self._index = {c: i for i, c in enumerate(ALPHABET)}
        self._lookup = np.full(128, -1, dtype=np.int64)
        for c, i in self._index.items():
            self._lookup[ord(c)] = i
        self.train_ids = self.encode(self.train)
        self.valid_ids = self.encode(self.valid)

    def __repr__(self):
        return (f"CharCorpus({len(self.train):,} train / {len(self.valid):,} validation "
                f"characters, vocabulary {self.vocab_size})")

    # -- encoding ----------------------------------------------------------------
    def encode(self, text: str) -> np.ndarray:
        """Text -> int64 ids. Characters outside the alphabet raise ValueError."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        ids = np.where(codes < 128, self._lookup[np.minimum(codes, 127)], -1)
        if np.any(ids < 0):
            bad = sorted({text[i] for i in np.flatnonzero(ids < 0)[:20]})
            raise ValueError(f"text has characters outside the corpus alphabet: {bad!r}; "
                             f"normalise it first (lower case, ASCII)")
        return ids

    def decode(self, ids) -> str:
        """Int ids -> text."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"ids must lie in 0..{self.vocab_size - 1}; "
                             f"got range {ids.min()}..{ids.max()}")
        return "".join(self.vocabulary[int(i)] for i in ids)

    def summary(self) -> dict:
        """Sizes and a SHA-256 prefix of the text, to record with results."""
        digest = hashlib.sha256((self.train + "\0" + self.valid).encode()).hexdigest()
        used = [m for m in self.modules if importlib.util.find_spec(m) is not None]
        return {"modules": len(used), "documents": len(self._train_docs)
                + len(self._valid_docs), "train_chars": len(self.train),
                "valid_chars": len(self.valid), "vocab_size": self.vocab_size,
                "sha256": digest[:16]}

    # -- batches for truncated BPTT ----------------------------------------------
    def stream(self, split: str = "train", batch_size: int = 32) -> np.ndarray:
        """The split cut into ``batch_size`` contiguous streams: int64 array (N, B).

        Column b is the b-th of B equal pieces of the text, so consecutive windows
        ``ids[i:i+L]`` continue each stream: the hidden state can be carried across
        windows (truncated BPTT).
        """
        check_choice(split, ("train", "valid"), "split")
        batch_size = check_positive_int(batch_size, "batch_size")
        ids = self.train_ids if split == "train" else self.valid_ids
        n = len(ids) // batch_size
        if n < 2:
            raise ValueError(f"batch_size={batch_size} leaves fewer than 2 characters per "
                             f"stream of the {split} split ({len(ids)} characters)")
        return np.ascontiguousarray(ids[: n * batch_size].reshape(batch_size, n).T)

    def windows(self, split: str = "train", batch_size: int = 32, seq_len: int = 64):
        """Yield consecutive ``Batch(inputs (L, B), targets (L, B))`` windows of one pass.

        Targets are inputs shifted by one character. The last window may be shorter.
        """
        seq_len = check_positive_int(seq_len, "seq_len")
        data = self.stream(split, batch_size)
        for i in range(0, len(data) - 1, seq_len):
            L = min(seq_len, len(data) - 1 - i)
            yield Batch(data[i:i + L], data[i + 1:i + 1 + L])

    def training_losses(self, model, batch_size: int, seed=0, seq_len: int = 64,
                        carry_state: bool = True):
        """Yield the loss of ``model`` on one training window after another, forever.

        The training split in ``batch_size`` streams, read by :func:`truncated_bptt`.
        ``seed`` is not used: the windows come in order.
        """
        stream = self.stream("train", batch_size)
        seq_len = check_positive_int(seq_len, "seq_len")
        if seq_len >= len(stream):
            raise ValueError(f"seq_len={seq_len} leaves no window in streams of "
                             f"{len(stream)} characters; lower seq_len or batch_size")
        if not isinstance(carry_state, bool):
            raise TypeError(f"carry_state must be True or False; got {carry_state!r}")
        return truncated_bptt(model, stream, seq_len, carry_state)

    def evaluation_data(self, size: int = 1024, seed=0) -> list:
        """The validation split as windows of 256 characters in 32 streams.

        ``size`` and ``seed`` are not used: the whole split is read, in order.
        """
        return list(self.windows("valid", batch_size=32, seq_len=256))

    def evaluate(self, model, data) -> dict:
        """Loss (nats per character) and accuracy of ``model`` on consecutive windows.

        The hidden state is carried from one window of ``data`` (e.g.
        :meth:`evaluation_data`) to the next. Returns ``{"loss": float, "accuracy":
        float}``, both averaged over every character predicted.
        """
        device = next(model.parameters()).device
        total, hits, count, state = 0.0, 0, 0, None
        with evaluation_mode(model):
            for x, y in data:
                logits, state = model(torch.as_tensor(x, device=device), state)
                y = torch.as_tensor(y, device=device)
                total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                               y.reshape(-1), reduction="sum"))
                hits += int((logits.argmax(-1) == y).sum())
                count += y.numel()
        return {"loss": total / count, "accuracy": hits / count}

    def sample(self, batch_size: int, seq_len: int = 64, seed=0, split: str = "train"):
        """Random windows (independent starts): ``Batch(inputs (L, B), targets (L, B))``."""
        batch_size = check_positive_int(batch_size, "batch_size")
        seq_len = check_positive_int(seq_len, "seq_len")
        check_choice(split, ("train", "valid"), "split")
        ids = self.train_ids if split == "train" else self.valid_ids
        if len(ids) <= seq_len + 1:
            raise ValueError(f"seq_len={seq_len} is longer than the {split} split")
        starts = as_rng(seed).integers(0, len(ids) - seq_len - 1, size=batch_size)
        idx = starts[None, :] + np.arange(seq_len)[:, None]
        return Batch(ids[idx], ids[idx + 1])

    # -- n-gram baselines -------------------------------------------------------
    def ngram_loss(self, order: int, k: float, fit=None, evaluate=None) -> float:
        """Cross-entropy (nats/char) of an add-k character n-gram model.

        ``order`` 0 = uniform, 1 = unigram, 2 = bigram, 3 = trigram. Fitted on ``fit``
        ids (default train), scored on ``evaluate`` ids (default validation) at
        positions 2.. (the same positions for every order).
        """
        check_choice(order, (0, 1, 2, 3), "order")
        k = check_positive_float(k, "k")
        fit = self.train_ids if fit is None else np.asarray(fit, dtype=np.int64)
        ev = self.valid_ids if evaluate is None else np.asarray(evaluate, dtype=np.int64)
        V = self.vocab_size
        if order == 0:
            return math.log(V)
        n = order - 1  # context length
        ctx_fit = np.zeros(len(fit) - n, dtype=np.int64)
        ctx_ev = np.zeros(len(ev) - 2, dtype=np.int64)
        for j in range(n):  # context id = base-V number of the previous n characters
            ctx_fit = ctx_fit * V + fit[j: len(fit) - n + j]
            ctx_ev = ctx_ev * V + ev[2 - n + j: len(ev) - n + j]
        counts = np.zeros((V ** n, V))
        np.add.at(counts, (ctx_fit, fit[n:]), 1.0)
        probs = (counts + k) / (counts.sum(axis=1, keepdims=True) + k * V)
        return float(-np.mean(np.log(probs[ctx_ev, ev[2:]])))

    @functools.cached_property
    def smoothing(self) -> dict:
        """The add-k constant per order, chosen on a development slice of train."""
        dev = self.encode("\n\n".join(self._train_docs[9::10]))
        fit = self.encode("\n\n".join(d for i, d in enumerate(self._train_docs)
                                      if i % 10 != 9))
        grid = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
        return {order: min(grid, key=lambda k: self.ngram_loss(order, k, fit, dev))
                for order in (1, 2, 3)}

    @functools.cached_property
    def _baselines(self) -> dict:
        out = {"uniform": math.log(self.vocab_size)}
        for order, name in ((1, "unigram"), (2, "bigram"), (3, "trigram")):
            out[name] = self.ngram_loss(order, self.smoothing[order])
        return out

    def baselines(self, unit: str = "nats") -> dict:
        """Validation loss of the uniform, unigram, bigram and trigram models.

        ``unit`` is "nats" (per char), "bits" (per char) or "perplexity".
        """
        return _in_unit(self._baselines, unit)

    # -- interpolated Kneser-Ney baselines ---------------------------------------------
    def _ids(self, ids, name: str, default: np.ndarray, minimum: int) -> np.ndarray:
        """``ids`` as a 1-D int64 array of character ids (``default`` if None), checked."""
        if ids is None:
            return default
        arr = np.asarray(ids)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer)
                                       and arr.dtype != bool):
            raise TypeError(f"{name} must be a 1-D array of integer character ids (e.g. "
                            f"corpus.encode(text)); got {type(ids).__name__} of dtype "
                            f"{arr.dtype}")
        if arr.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array of character ids; got shape "
                             f"{arr.shape}")
        if len(arr) < minimum:
            raise ValueError(f"{name} must hold at least {minimum} characters; got "
                             f"{len(arr)}")
        if arr.min() < 0 or arr.max() >= self.vocab_size:
            raise ValueError(f"{name} ids must lie in 0..{self.vocab_size - 1}; got range "
                             f"{arr.min()}..{arr.max()}")
        return arr.astype(np.int64)

    @staticmethod
    def _kn_order(order) -> int:
        order = check_positive_int(order, "order")
        if order > KN_MAX_ORDER:
            raise ValueError(f"order must be 1, 2, 3, 4 or {KN_MAX_ORDER} (the Kneser-Ney "
                             f"orders offered); got {order}")
        return order

    @staticmethod
    def _kn_discounts(discount, order: int):
        """None, or one discount per level 1..order, each checked to lie in (0, 1]."""
        if discount is None:
            return None
        expected = (f"discount must be None (the closed-form estimate), a number in (0, 1] "
                    f"or a sequence of {order} such numbers (D_1 .. D_{order})")
        if isinstance(discount, numbers.Real) and not isinstance(discount, bool):
            values = (discount,) * order
        elif isinstance(discount, (str, bytes)) or not hasattr(discount, "__len__"):
            raise TypeError(f"{expected}; got {discount!r} ({type(discount).__name__})")
        else:
            values = tuple(discount)
            if len(values) != order:
                raise ValueError(f"{expected}; got {len(values)} numbers")
        for d in values:
            if not isinstance(d, numbers.Real) or isinstance(d, bool):
                raise TypeError(f"{expected}; got {d!r} ({type(d).__name__})")
            if not (0.0 < float(d) <= 1.0):
                raise ValueError(f"{expected}; got {float(d)!r}")
        return tuple(float(d) for d in values)

    @functools.cached_property
    def _kn_train_counts(self) -> _KneserNeyCounts:
        return _KneserNeyCounts(self.train_ids, self.vocab_size, KN_MAX_ORDER)

    def _kn_fitted(self, order, discount, fit):
        order = self._kn_order(order)
        discounts = self._kn_discounts(discount, order)
        if fit is None:
            counts = self._kn_train_counts
        else:
            counts = _KneserNeyCounts(self._ids(fit, "fit", self.train_ids, order),
                                      self.vocab_size, order)
        return order, discounts, counts

    @staticmethod
    def _level_discounts(counts, order: int, discounts) -> list:
        if discounts is not None:
            return list(discounts[:order])
        return [t.discount for t in counts.tables(order)]

    def _kn_scores(self, order, discount, fit, evaluate, every_character: bool):
        order, discounts, counts = self._kn_fitted(order, discount, fit)
        ev = self._ids(evaluate, "evaluate", self.valid_ids, 3)
        V = self.vocab_size
        out = np.empty((len(ev) - 2, V) if every_character else len(ev) - 2)
        # positions 2, 3, .. with fewer than order - 1 characters before them use the
        # model of the highest order their history allows
        for t in range(2, len(ev)):
            k = min(order, t + 1)
            positions = np.arange(t, len(ev)) if k == order else np.array([t])
            targets = (np.broadcast_to(np.arange(V), (len(positions), V))
                       if every_character else ev[positions])
            out[positions - 2] = counts.probabilities(
                k, self._level_discounts(counts, k, discounts), ev, positions, targets)
            if k == order:
                break
        return out

    def kneser_ney_loss(self, order: int, discount=None, fit=None, evaluate=None) -> float:
        """Cross-entropy (nats/char) of an interpolated Kneser-Ney character n-gram model.

        ``order`` is 1..5 (a 5-gram reads four characters of context). Fitted on ``fit``
        ids (default train), scored on ``evaluate`` ids (default validation) at positions
        2.. exactly like :meth:`ngram_loss`; a position with fewer than ``order - 1``
        characters before it (only positions 2 and 3, for orders 4 and 5) is scored by
        the model of the highest order its history allows.

        Interpolated Kneser-Ney (Kneser and Ney 1995; Chen and Goodman 1999, one
        discount per level). Write h for the n - 1 characters before the target c and
        h' for h without its oldest character. The top level (m = n) uses raw counts
        n(h c)::

            P_n(c | h) = max(n(h c) - D_n, 0) / n(h .)
                         + D_n * N(h .) / n(h .) * P_{n-1}(c | h')

        where n(h .) is the number of times h is followed by a character and N(h .) the
        number of distinct characters that follow it. The lower levels m = 1 .. n-1 use
        continuation counts instead: n'(g c), the number of distinct characters seen
        just before the m-gram g c; the same formula holds with n' for n, where n'(g .)
        is the sum over c of n'(g c) and N'(g .) the number of c with n'(g c) > 0. The
        base case P_0 is uniform, 1/V. A context never counted at a level passes the
        level below through unchanged. With 0 < D_m <= 1 every level's probabilities
        over the V characters sum to 1.

        Discounts: the closed-form estimate D_m = n1 / (n1 + 2 n2) of Ney, Essen and
        Kneser (1994), computed per level on the counts that level uses (raw for the
        top, continuation below), where n1 and n2 are the numbers of m-grams counted
        exactly once and twice. They are not tuned on data. A level with no m-gram
        counted once (here the unigram level: all 60 characters are frequent) uses
        ``KN_FALLBACK_DISCOUNT`` = 0.5. ``discount`` overrides them: one number in
        (0, 1] for every level, or a sequence D_1 .. D_order.

        Parameters
        ----------
        order : int
            1 to 5.
        discount : None, float or sequence of float
            None for the closed-form estimates (see :meth:`kneser_ney_discounts`).
        fit, evaluate : array of int, optional
            Character ids (default: the training and the validation split).

        Returns
        -------
        float
            The mean of -ln P(c_t | history) over the scored positions.
        """
        p = self._kn_scores(order, discount, fit, evaluate, every_character=False)
        return float(-np.mean(np.log(p)))

    def kneser_ney_probabilities(self, order: int, discount=None, fit=None,
                                 evaluate=None) -> np.ndarray:
        """The Kneser-Ney model's next-character distributions at the scored positions.

        Same model and positions as :meth:`kneser_ney_loss`: row i is the distribution
        of character ``i + 2`` of ``evaluate`` (default validation) over the vocabulary,
        given the characters before it. Returns an array of shape
        ``(len(evaluate) - 2, vocab_size)`` whose rows sum to 1.
        """
        return self._kn_scores(order, discount, fit, evaluate, every_character=True)

    def kneser_ney_discounts(self, order: int, fit=None) -> tuple:
        """The closed-form discounts D_1 .. D_order the order-``order`` model uses."""
        order, _, counts = self._kn_fitted(order, None, fit)
        return tuple(self._level_discounts(counts, order, None))

    @functools.cached_property
    def _kn_baselines(self) -> dict:
        return {f"kneser-ney {n}-gram": self.kneser_ney_loss(n)
                for n in range(1, KN_MAX_ORDER + 1)}

    def kneser_ney_baselines(self, unit: str = "nats") -> dict:
        """Validation loss of the interpolated Kneser-Ney models of orders 1 to 5.

        Keys "kneser-ney 1-gram" .. "kneser-ney 5-gram"; fitted on train with the
        closed-form discounts (:meth:`kneser_ney_loss`), scored at the same validation
        positions as :meth:`baselines`. ``unit`` is "nats" (per char), "bits" (per
        char) or "perplexity".
        """
        return _in_unit(self._kn_baselines, unit)

    @property
    def baseline(self) -> float:
        """The memoryless (unigram) baseline in nats per character."""
        return self._baselines["unigram"]

    @property
    def reference_loss(self) -> float:
        """The baseline a training run is drawn against: the bigram model (nats/char)."""
        return self._baselines["bigram"]
