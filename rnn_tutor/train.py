"""One training loop for every chapter, with the diagnostics the book talks about.

:func:`train` fits a model from :mod:`rnn_tutor.models` to a task from
:mod:`rnn_tutor.tasks` with Adam or SGD and records, at every step, the loss, the
gradient norm before and after clipping and the weight norm, in a :class:`History` that
plots itself. It watches for the signs of exploding gradients (a NaN or inf loss or
gradient, a gradient norm far above its recent average, weights that jump in size) and
stops with a clear message, keeping the history, instead of training on garbage.

For a :class:`~rnn_tutor.tasks.CharCorpus` it runs truncated backpropagation through
time: the text is cut into ``batch_size`` parallel streams read in windows of
``seq_len`` characters; the hidden state is carried from one window to the next and
detached (``carry_state=True``) or reset to zero for every window.

Progress bars: ``progress="auto"`` shows ``tqdm.auto``'s bar (a widget under a Jupyter
kernel, text in a terminal), except when the environment variable
``RNN_TUTOR_BOOK_BUILD=1`` is set (the book build sets it): a widget bar would pull a
widget manager from a CDN into the static book, so a one-line summary is printed instead.
"""

from __future__ import annotations

import collections
import math
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from ._validate import (check_choice, check_nonnegative_int, check_positive_float,
                        check_positive_int)
from .book_build import in_book_build
from .tasks import CharCorpus, SequentialDigits, Task

__all__ = ["train", "evaluate", "predict", "History", "GradientExplosionWarning"]

class GradientExplosionWarning(UserWarning):
    """Issued when :func:`train` stops because it detected exploding gradients."""


@dataclass
class History:
    """Per-step record of a training run (lists indexed like ``step``).

    ``loss`` is the training loss (MSE, or nats per target); ``grad_norm`` the global
    gradient norm before clipping, ``grad_norm_clipped`` after; ``weight_norm`` the
    global norm of all parameters after the step. ``eval_*`` are recorded every
    ``eval_every`` steps and at the end. ``stopped`` is the explosion message, or None;
    ``reason`` is "steps", "time_limit", "target" (``stop_below`` reached) or
    "explosion". ``seconds`` and ``cpu_seconds``
    are the run's wall-clock and CPU (this process) times, evaluations included.
    """

    step: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    grad_norm_clipped: list = field(default_factory=list)
    weight_norm: list = field(default_factory=list)
    eval_step: list = field(default_factory=list)
    eval_loss: list = field(default_factory=list)
    eval_accuracy: list = field(default_factory=list)
    baseline: float | None = None
    loss_name: str = "loss"
    clip_norm: float | None = None
    stopped: str | None = None
    reason: str = "steps"
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    config: dict = field(default_factory=dict)

    @property
    def final_eval_loss(self) -> float | None:
        return self.eval_loss[-1] if self.eval_loss else None

    @property
    def final_eval_accuracy(self) -> float | None:
        return self.eval_accuracy[-1] if self.eval_accuracy else None

    @property
    def clipped_fraction(self) -> float:
        """Fraction of steps at which clipping changed the gradient."""
        pairs = list(zip(self.grad_norm, self.grad_norm_clipped))
        return float(np.mean([c < g * (1 - 1e-6) for g, c in pairs])) if pairs else 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def smoothed(self, name: str = "loss", width: int = 25) -> tuple[np.ndarray, np.ndarray]:
        """A moving average of a per-step series, with the step each average ends at.

        Parameters
        ----------
        name : {"loss", "grad_norm", "grad_norm_clipped", "weight_norm"}
            The series to smooth.
        width : int
            Steps per window; the first average covers the first ``width`` steps.

        Returns
        -------
        steps, values : ndarray
            ``values[i]`` is the mean of the series over ``steps[i] - width + 1`` ..
            ``steps[i]`` (empty when the run has fewer than ``width`` steps).
        """
        check_choice(name, ("loss", "grad_norm", "grad_norm_clipped", "weight_norm"), "name")
        width = check_positive_int(width, "width")
        values = np.asarray(getattr(self, name), dtype=float)
        if values.size < width:
            return np.asarray(self.step[:0]), values[:0]
        return (np.asarray(self.step[width - 1:]),
                np.convolve(values, np.ones(width) / width, mode="valid"))

    def show(self, title: str | None = None) -> None:
        """Display :meth:`figure` through ``rnn_tutor.plots.show`` (renders in the book)."""
        from .plots import show
        show(self.figure(title))

    def figure(self, title: str | None = None):
        """A plotly ``go.Figure``: loss (with the baseline), gradient norm, weight norm.

        Show it with ``rnn_tutor.plots.show(fig)`` so that it renders in the book.
        """
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        unit = {"mse": "MSE", "cross_entropy": "nats"}.get(self.loss_name, self.loss_name)
        fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                            subplot_titles=(f"loss ({unit})", "gradient norm",
                                            "weight norm"))
        fig.add_trace(go.Scatter(x=self.step, y=self.loss, name="train loss",
                                 line=dict(width=1)), row=1, col=1)
        if self.eval_step:
            fig.add_trace(go.Scatter(x=self.eval_step, y=self.eval_loss, name="eval loss",
                                     mode="lines+markers"), row=1, col=1)
        if self.baseline is not None:
            fig.add_hline(y=self.baseline, line_dash="dash", line_color="gray",
                          annotation_text="memoryless baseline", row=1, col=1)
        fig.add_trace(go.Scatter(x=self.step, y=self.grad_norm, name="before clipping",
                                 line=dict(width=1)), row=2, col=1)
        if self.clip_norm is not None:
            fig.add_trace(go.Scatter(x=self.step, y=self.grad_norm_clipped,
                                     name="after clipping", line=dict(width=1)), row=2, col=1)
            fig.add_hline(y=self.clip_norm, line_dash="dot", line_color="gray",
                          annotation_text="clip_norm", row=2, col=1)
        fig.add_trace(go.Scatter(x=self.step, y=self.weight_norm, name="weight norm",
                                 line=dict(width=1)), row=3, col=1)
        fig.update_yaxes(type="log", row=2, col=1)
        if self.stopped and self.step:
            fig.add_vline(x=self.step[-1], line_color="red", line_dash="dot")
            fig.add_annotation(x=self.step[-1], y=1, yref="paper", text="stopped",
                               showarrow=False, font=dict(color="red"))
        fig.update_xaxes(title_text="step", row=3, col=1)
        fig.update_layout(height=600, title=title, legend=dict(orientation="h", y=-0.12),
                          margin=dict(t=60, l=60, r=20, b=40))
        return fig


def _device(device):
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be None, 'cpu', 'cuda' or a torch.device; "
                         f"got {device!r} ({err})") from None


def _loss(task, y_pred, y):
    want = tuple(y.shape) if task.loss == "mse" else tuple(y.shape) + (task.output_size,)
    if tuple(y_pred.shape) != want:
        raise ValueError(f"the model's output has shape {tuple(y_pred.shape)} but {task!r} "
                         f"needs {want} (target {task.target!r}, loss {task.loss!r}); build "
                         f"the model with rnn_tutor.models.for_task(task)")
    if task.loss == "mse":
        return F.mse_loss(y_pred, y)
    return F.cross_entropy(y_pred.reshape(-1, y_pred.shape[-1]), y.reshape(-1))


def _unpack(out):
    return out if isinstance(out, tuple) else (out, None)


def _detach(h):
    if h is None:
        return None
    if isinstance(h, tuple):
        return tuple(t.detach() for t in h)
    return h.detach()


def _total_norm(tensors) -> float:
    norms = [t.detach().norm() for t in tensors if t is not None]
    return float(torch.linalg.vector_norm(torch.stack(norms))) if norms else 0.0


@torch.no_grad()
def predict(model, inputs, device=None):
    """Run ``model`` in eval mode on NumPy or torch inputs; return NumPy outputs."""
    dev = next(model.parameters()).device if device is None else _device(device)
    x = torch.as_tensor(inputs, device=dev)
    was = model.training
    model.eval()
    try:
        y, _ = _unpack(model(x))
    finally:
        model.train(was)
    return y.cpu().numpy()


@torch.no_grad()
def _evaluate_lm(model, corpus, split="valid", batch_size=32, seq_len=256):
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    total, count, hits, h = 0.0, 0, 0, None
    try:
        for x, y in corpus.windows(split, batch_size, seq_len):
            logits, h = _unpack(model(torch.as_tensor(x, device=dev), h))
            y = torch.as_tensor(y, device=dev)
            total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                           y.reshape(-1), reduction="sum"))
            hits += int((logits.argmax(-1) == y).sum())
            count += y.numel()
    finally:
        model.train(was)
    return {"loss": total / count, "accuracy": hits / count}


def evaluate(model, task, batch=None, size: int = 1024, seed=0) -> dict:
    """Loss and accuracy of ``model`` on held-out data of ``task``.

    The data: ``batch`` if given; the validation split for a CharCorpus (loss in nats
    per character); the test split for SequentialDigits; else ``task.sample(size,
    seed)``. Returns ``{"loss": float, "accuracy": float or None}`` (accuracy is None
    for regression, except the "hs" adding problem's tolerance criterion).
    """
    if isinstance(task, CharCorpus):
        return _evaluate_lm(model, task)
    if not isinstance(task, Task):
        raise TypeError(f"task must be a task from rnn_tutor.tasks; got {type(task).__name__}")
    if batch is None:
        batch = (task.test_set() if isinstance(task, SequentialDigits)
                 else task.sample(check_positive_int(size, "size"), seed))
    x, y = batch
    y_pred = predict(model, x)
    loss = float(_loss(task, torch.as_tensor(y_pred), torch.as_tensor(y)))
    if task.loss == "cross_entropy":
        acc = float(np.mean(y_pred.argmax(-1) == y))
    elif getattr(task, "tolerance", None) is not None:
        acc = task.accuracy(y_pred, y)
    else:
        acc = None
    return {"loss": loss, "accuracy": acc}


def _check_fits(model, task):
    """For a RecurrentNet, say at once (naming both) when it was built for another task."""
    from .models import RecurrentNet
    if not isinstance(model, RecurrentNet):
        return
    pairs = (("input_kind", model.input_kind, task.input_kind),
             ("input_size", model.input_size, task.input_size),
             ("output_size", model.output_size, task.output_size),
             ("output/target", model.output, task.target))
    bad = [f"{name} {m!r} vs {t!r}" for name, m, t in pairs if m != t]
    if bad:
        raise ValueError(f"the model does not fit {task!r} (model vs task: "
                         f"{'; '.join(bad)}); build it with "
                         f"rnn_tutor.models.for_task(task, ...)")


def _progress_mode(progress):
    if progress is False or progress is None:
        return None
    check_choice(progress, ("auto", "text"), "progress")
    if progress == "auto" and in_book_build():
        return "summary"
    return progress


def _check_optional_positive(value, name):
    return None if value is None else check_positive_float(value, name)


def train(model, task, *, steps: int = 500, batch_size: int = 64, lr: float = 1e-3,
          optimizer: str = "adam", momentum: float = 0.0, weight_decay: float = 0.0,
          clip_norm: float | None = None, clip_value: float | None = None,
          seq_len: int = 64, carry_state: bool = True, eval_every: int | None = None,
          eval_size: int = 1024, seed: int = 0, detect: bool = True,
          spike_factor: float = 100.0, spike_min: float = 10.0,
          growth_factor: float = 2.0, warmup: int = 20,
          time_limit: float | None = None, clock: str = "wall",
          stop_below: float | None = None, progress="auto", device=None,
          deterministic: bool = True, threads: int | None = 1) -> History:
    """Train ``model`` on ``task``; return a :class:`History`.

    Parameters
    ----------
    model : torch.nn.Module
        Called as ``model(x)`` (or ``model(x, h)`` for a language model) and returning
        ``(y, h_n)`` or just ``y``, e.g. ``rnn_tutor.models.for_task(task)``.
    task : rnn_tutor.tasks.Task or rnn_tutor.tasks.CharCorpus
        A fresh batch is drawn at every step; a CharCorpus is read in windows.
    steps, batch_size, lr : training length, batch size (streams for a corpus), step size.
    optimizer : {"adam", "sgd"}; ``momentum`` (SGD) and ``weight_decay`` pass through.
    clip_norm : float or None
        Rescale the gradient when its global norm exceeds this
        (``torch.nn.utils.clip_grad_norm_``).
    clip_value : float or None
        Clip every gradient entry to [-clip_value, clip_value] (min-char-rnn style).
    seq_len : int
        Window length of truncated BPTT (CharCorpus only).
    carry_state : bool
        CharCorpus only: carry the hidden state (detached) across windows, or reset
        it to zero for every window.
    eval_every : int or None
        Evaluate every this many steps (and always at the end) with :func:`evaluate`;
        synthetic tasks use one fixed batch of ``eval_size`` sequences.
    seed : int
        Seeds the batches and torch's RNG (dropout); the same seed, model
        initialisation and settings give the same history on the same machine.
    detect : bool
        Stop on the signs of exploding gradients (see below).
    spike_factor, spike_min, growth_factor, warmup :
        The detector stops when the loss or the gradient is NaN or inf; when, after
        ``warmup`` steps, the (clipped) gradient norm exceeds both ``spike_factor`` times
        its average over the last 50 steps and ``spike_min`` (a converged model has tiny
        gradients, and one hard batch then gives a harmless but relatively huge one);
        or when the weight norm grows more than
        ``growth_factor``-fold in one step while its root-mean-square entry exceeds 1
        (growth from a tiny initialisation is normal). NaN/inf are caught before the
        optimiser step; a weight jump after it.
    time_limit : float or None
        Stop after this many seconds of training (e.g. "what can 60 s of CPU do").
    clock : {"wall", "cpu"}
        What ``time_limit`` counts: wall-clock seconds, or this process's CPU seconds
        (fairer on a shared machine; with one thread it is the compute time).
    stop_below : float or None
        Stop early (``reason="target"``) once an evaluation's loss is below this value
        (needs ``eval_every``).
    progress : "auto", "text" or False
        "auto": tqdm.auto's bar (a one-line summary in book builds, see module doc);
        "text": a text bar; False: silent.
    device : None (CUDA if available, else CPU), "cpu", "cuda" or torch.device.
    deterministic : bool
        Ask torch for deterministic algorithms during the run (restored afterwards).
    threads : int or None, default 1
        Number of torch CPU threads during the run (restored afterwards). One thread is
        as fast for the book's small models and avoids oversubscribing a shared or
        busy CPU (two threads competing with other work can be many times slower);
        None keeps torch's current setting.
    """
    is_lm = isinstance(task, CharCorpus)
    if not (is_lm or isinstance(task, Task)):
        raise TypeError(f"task must be a task from rnn_tutor.tasks or a CharCorpus; "
                        f"got {type(task).__name__}")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    _check_fits(model, task)
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    lr = check_positive_float(lr, "lr")
    check_choice(optimizer, ("adam", "sgd"), "optimizer")
    momentum = check_positive_float(momentum, "momentum", allow_zero=True)
    weight_decay = check_positive_float(weight_decay, "weight_decay", allow_zero=True)
    clip_norm = _check_optional_positive(clip_norm, "clip_norm")
    clip_value = _check_optional_positive(clip_value, "clip_value")
    if clip_norm is not None and clip_value is not None:
        raise ValueError("give clip_norm or clip_value, not both")
    seq_len = check_positive_int(seq_len, "seq_len")
    for name, flag in (("carry_state", carry_state), ("detect", detect),
                       ("deterministic", deterministic)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False; got {flag!r}")
    if eval_every is not None:
        eval_every = check_positive_int(eval_every, "eval_every")
    eval_size = check_positive_int(eval_size, "eval_size")
    seed = check_nonnegative_int(seed, "seed")
    spike_factor = check_positive_float(spike_factor, "spike_factor")
    spike_min = check_positive_float(spike_min, "spike_min", allow_zero=True)
    growth_factor = check_positive_float(growth_factor, "growth_factor")
    if growth_factor <= 1:
        raise ValueError(f"growth_factor must be > 1; got {growth_factor}")
    warmup = check_nonnegative_int(warmup, "warmup")
    time_limit = _check_optional_positive(time_limit, "time_limit")
    check_choice(clock, ("wall", "cpu"), "clock")
    stop_below = _check_optional_positive(stop_below, "stop_below")
    if stop_below is not None and eval_every is None:
        raise ValueError("stop_below needs eval_every (it is checked at evaluations)")
    now = time.perf_counter if clock == "wall" else time.process_time
    mode = _progress_mode(progress)
    if threads is not None:
        threads = check_positive_int(threads, "threads")
    dev = _device(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")

    model.to(dev)
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    baseline = task.baselines()["bigram"] if is_lm else task.baseline
    hist = History(baseline=baseline, loss_name=task.loss, clip_norm=clip_norm)
    hist.config = dict(task=repr(task), steps=steps, batch_size=batch_size, lr=lr,
                       optimizer=optimizer, clip_norm=clip_norm, clip_value=clip_value,
                       seed=seed, seq_len=seq_len if is_lm else None,
                       carry_state=carry_state if is_lm else None, device=str(dev))

    data_rng = np.random.default_rng([seed, 0])
    eval_batch = None
    if not is_lm and not isinstance(task, SequentialDigits):
        eval_batch = task.sample(eval_size, np.random.default_rng([seed, 1]))
    stream = task.stream("train", batch_size) if is_lm else None
    n_params = sum(p.numel() for p in params)

    def run_eval(step):
        res = evaluate(model, task, batch=eval_batch)
        hist.eval_step.append(step)
        hist.eval_loss.append(res["loss"])
        hist.eval_accuracy.append(res["accuracy"])

    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    bar = None
    start, cpu_start, t0 = time.perf_counter(), time.process_time(), now()
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        if threads is not None:
            torch.set_num_threads(threads)
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            if mode in ("auto", "text"):
                if mode == "auto":
                    from tqdm.auto import tqdm
                else:
                    from tqdm.std import tqdm
                bar = tqdm(total=steps, desc="training", leave=True)
            model.train()
            recent = collections.deque(maxlen=50)
            w_prev = _total_norm(params)
            pos, state = 0, None
            for step in range(1, steps + 1):
                if is_lm:
                    if pos + seq_len + 1 > len(stream):  # wrap around: a new pass
                        pos, state = 0, None
                    x = torch.as_tensor(stream[pos:pos + seq_len], device=dev)
                    y = torch.as_tensor(stream[pos + 1:pos + seq_len + 1], device=dev)
                    pos += seq_len
                    hx = _detach(state) if carry_state else None
                    y_pred, state = _unpack(model(x, hx))
                else:
                    x, y = task.sample(batch_size, data_rng).torch(dev)
                    y_pred, _ = _unpack(model(x))
                loss = _loss(task, y_pred, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                grads = [p.grad for p in params]
                g = _total_norm(grads)
                loss_value = float(loss.detach())
                message = None
                if detect and not (math.isfinite(loss_value) and math.isfinite(g)):
                    message = (f"stopped at step {step}: the loss ({loss_value:.4g}) or the "
                               f"gradient norm ({g:.4g}) is NaN or infinite, so the weights "
                               f"were not updated. Lower the learning rate or the "
                               f"initial scale, or clip the gradient (clip_norm=...).")
                if clip_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, clip_norm)
                    g_used = min(g, clip_norm) if math.isfinite(g) else g
                elif clip_value is not None:
                    torch.nn.utils.clip_grad_value_(params, clip_value)
                    g_used = _total_norm(grads)
                else:
                    g_used = g
                if (detect and message is None and step > warmup and recent
                        and g_used > max(spike_factor * np.mean(recent), spike_min)):
                    message = (f"stopped at step {step}: the gradient norm {g_used:.4g} is "
                               f"{g_used / np.mean(recent):.0f} times its average over the "
                               f"last {len(recent)} steps ({np.mean(recent):.3g}), a sign of "
                               f"exploding gradients; the weights were not updated. Clip the "
                               f"gradient (clip_norm=...) or lower the learning rate.")
                if message is None:
                    opt.step()
                    recent.append(g_used)
                    w = _total_norm(params)
                    if (detect and w > growth_factor * w_prev
                            and w / math.sqrt(n_params) > 1.0):
                        message = (f"stopped at step {step}: the weight norm jumped from "
                                   f"{w_prev:.4g} to {w:.4g} in one step, a sign of exploding "
                                   f"gradients. Clip the gradient (clip_norm=...) or lower "
                                   f"the learning rate.")
                    w_prev = w
                hist.step.append(step)
                hist.loss.append(loss_value)
                hist.grad_norm.append(g)
                hist.grad_norm_clipped.append(g_used)
                hist.weight_norm.append(w_prev)
                if bar is not None:
                    bar.update(1)
                    if step % 10 == 0 or step == steps:
                        bar.set_postfix(loss=f"{loss_value:.4f}", refresh=False)
                if message is not None:
                    hist.stopped, hist.reason = message, "explosion"
                    break
                if eval_every is not None and step % eval_every == 0:
                    run_eval(step)
                    if stop_below is not None and hist.eval_loss[-1] < stop_below:
                        hist.reason = "target"
                        break
                if time_limit is not None and now() - t0 > time_limit:
                    hist.reason = "time_limit"
                    break
            if hist.reason != "explosion" and (not hist.eval_step
                                               or hist.eval_step[-1] != hist.step[-1]):
                run_eval(hist.step[-1])
        finally:
            if bar is not None:
                bar.close()
            torch.set_num_threads(old_threads)
            torch.use_deterministic_algorithms(old_det)
    hist.seconds = time.perf_counter() - start
    hist.cpu_seconds = time.process_time() - cpu_start
    if hist.stopped:
        warnings.warn(hist.stopped, GradientExplosionWarning, stacklevel=2)
    if mode == "summary":
        final = (f", eval loss {hist.final_eval_loss:.4f}" if hist.eval_loss else "")
        print(f"trained {len(hist.step)} steps in {hist.seconds:.1f} s: last loss "
              f"{hist.loss[-1]:.4f}{final} (baseline {baseline:.4f})")
    return hist

