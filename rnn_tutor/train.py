"""One training loop for every chapter, with the diagnostics the book talks about.

:func:`train` fits a model from :mod:`rnn_tutor.models` to a task from
:mod:`rnn_tutor.tasks` with Adam or SGD and records, at every step, the loss, the
gradient norm before and after clipping and the weight norm, in a :class:`History`
(``rnn_tutor.plots.history_figure`` draws it). Its settings form a :class:`TrainConfig`.
An :class:`ExplosionDetector` watches for the signs of exploding gradients (a NaN or inf
loss or gradient, a gradient norm far above its recent average, weights that jump in
size); the run then stops with a clear message, keeping the history, instead of
training on garbage.

The loop reads every task through the batch-source protocol
(:class:`rnn_tutor.tasks.BatchSource`): the task yields one training loss after another
(a :class:`~rnn_tutor.tasks.CharCorpus` by truncated backpropagation through time,
:func:`rnn_tutor.tasks.truncated_bptt`), gives its held-out data and evaluates on it.

Progress bars: ``progress="auto"`` shows ``tqdm.auto``'s bar (a widget under a Jupyter
kernel, text in a terminal), except when the environment variable
``RNN_TUTOR_BOOK_BUILD=1`` is set (the book build sets it): a widget bar would pull a
widget manager from a CDN into the static book, so a one-line summary is printed instead.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import math
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from .validate import (check_choice, check_nonnegative_int, check_positive_float,
                        check_positive_int)
from .book_build import in_book_build
from .models import RecurrentNet, predict  # noqa: F401  (``train.predict`` is kept)
from .tasks import BatchSource

__all__ = ["train", "evaluate", "TrainConfig", "ExplosionDetector", "History",
           "GradientExplosionWarning"]


class GradientExplosionWarning(UserWarning):
    """Issued when :func:`train` stops because it detected exploding gradients."""


def _optional_positive(value, name):
    return None if value is None else check_positive_float(value, name)


def _device(device) -> torch.device:
    """``device`` as a ``torch.device``; None means CUDA if available, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be None, 'cpu', 'cuda' or a torch.device; "
                         f"got {device!r} ({err})") from None


class ExplosionDetector:
    """Watch a run for the signs of exploding gradients; say why it must stop.

    Three rules. (1) The loss or the gradient norm is NaN or inf. (2) After ``warmup``
    steps, the (clipped) gradient norm exceeds both ``spike_factor`` times its average
    over the last ``window`` updates and ``spike_min`` (a converged model has tiny
    gradients, and one hard batch then gives a harmless but relatively huge one).
    (3) The weight norm grows more than ``growth_factor``-fold in one update while its
    root-mean-square entry exceeds 1 (growth from a tiny initialisation is normal).
    Rules 1 and 2 are checked before the optimiser step (:meth:`before_update`), rule
    3 after it (:meth:`after_update`). Each check returns the message to stop with, or
    None.
    """

    def __init__(self, spike_factor: float = 100.0, spike_min: float = 10.0,
                 growth_factor: float = 2.0, warmup: int = 20, window: int = 50):
        self.spike_factor = check_positive_float(spike_factor, "spike_factor")
        self.spike_min = check_positive_float(spike_min, "spike_min", allow_zero=True)
        self.growth_factor = check_positive_float(growth_factor, "growth_factor")
        if self.growth_factor <= 1:
            raise ValueError(f"growth_factor must be > 1; got {growth_factor}")
        self.warmup = check_nonnegative_int(warmup, "warmup")
        self.recent = collections.deque(maxlen=check_positive_int(window, "window"))

    def before_update(self, step: int, loss: float, grad_norm: float,
                      clipped_norm: float) -> str | None:
        """Rules 1 (``loss``, ``grad_norm``) and 2 (``clipped_norm``) at ``step``."""
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            return (f"stopped at step {step}: the loss ({loss:.4g}) or the gradient norm "
                    f"({grad_norm:.4g}) is NaN or infinite, so the weights were not "
                    f"updated. Lower the learning rate or the initial scale, or clip the "
                    f"gradient (clip_norm=...).")
        if step <= self.warmup or not self.recent:
            return None
        average = np.mean(self.recent)
        if clipped_norm > max(self.spike_factor * average, self.spike_min):
            return (f"stopped at step {step}: the gradient norm {clipped_norm:.4g} is "
                    f"{clipped_norm / average:.0f} times its average over the last "
                    f"{len(self.recent)} steps ({average:.3g}), a sign of exploding "
                    f"gradients; the weights were not updated. Clip the gradient "
                    f"(clip_norm=...) or lower the learning rate.")
        return None

    def after_update(self, step: int, clipped_norm: float, weight_norm_before: float,
                     weight_norm: float, n_weights: int) -> str | None:
        """Record the update's gradient norm; rule 3 on the weight norms around it."""
        self.recent.append(clipped_norm)
        if (weight_norm > self.growth_factor * weight_norm_before
                and weight_norm / math.sqrt(n_weights) > 1.0):
            return (f"stopped at step {step}: the weight norm jumped from "
                    f"{weight_norm_before:.4g} to {weight_norm:.4g} in one step, a sign of "
                    f"exploding gradients. Clip the gradient (clip_norm=...) or lower the "
                    f"learning rate.")
        return None


@dataclass(frozen=True)
class TrainConfig:
    """The settings of a training run, checked when it is made.

    Parameters
    ----------
    steps, batch_size, lr : int, int, float
        Training length, batch size (parallel streams for a corpus), step size.
    optimizer : {"adam", "sgd"}
        ``momentum`` (SGD) and ``weight_decay`` pass through to torch.
    clip_norm : float or None
        Rescale the gradient when its global norm exceeds this
        (``torch.nn.utils.clip_grad_norm_``).
    clip_value : float or None
        Clip every gradient entry to [-clip_value, clip_value] (min-char-rnn style).
    seq_len, carry_state : int, bool
        Text only (:func:`rnn_tutor.tasks.truncated_bptt`): window length, and whether
        the hidden state is carried (detached) across windows or reset to zero.
    eval_every, eval_size : int or None, int
        Evaluate every this many steps (and always at the end) on the task's held-out
        data; synthetic tasks use one fixed batch of ``eval_size`` sequences.
    seed : int
        Seeds the batches and torch's RNG (dropout); the same seed, model
        initialisation and settings give the same history on the same machine.
    detect : bool
        Stop on the signs of exploding gradients, with an :class:`ExplosionDetector`
        made from ``spike_factor``, ``spike_min``, ``growth_factor`` and ``warmup``.
    time_limit : float or None
        Stop after this many seconds of training (e.g. "what can 60 s of CPU do").
    clock : {"wall", "cpu"}
        What ``time_limit`` counts: wall-clock seconds, or this process's CPU seconds
        (fairer on a shared machine; with one thread it is the compute time).
    stop_below : float or None
        Stop early (``reason="target"``) once an evaluation's loss is below this value
        (needs ``eval_every``).
    progress : "auto", "text" or False
        "auto": tqdm.auto's bar (a one-line summary in book builds, see the module
        doc); "text": a text bar; False: silent.
    device : None, "cpu", "cuda" or torch.device
        None: CUDA if available, else the CPU.
    deterministic : bool
        Ask torch for deterministic algorithms during the run (restored afterwards).
    threads : int or None
        Torch CPU threads during the run (restored afterwards). One thread is as fast
        for the book's small models and does not oversubscribe a shared or busy CPU;
        None keeps torch's current setting.
    """

    steps: int = 500
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.0
    weight_decay: float = 0.0
    clip_norm: float | None = None
    clip_value: float | None = None
    seq_len: int = 64
    carry_state: bool = True
    eval_every: int | None = None
    eval_size: int = 1024
    seed: int = 0
    detect: bool = True
    spike_factor: float = 100.0
    spike_min: float = 10.0
    growth_factor: float = 2.0
    warmup: int = 20
    time_limit: float | None = None
    clock: str = "wall"
    stop_below: float | None = None
    progress: str | bool = "auto"
    device: str | None = None
    deterministic: bool = True
    threads: int | None = 1

    def __post_init__(self):
        def keep(name, value):  # a frozen dataclass keeps the checked, converted value
            object.__setattr__(self, name, value)

        for name in ("steps", "batch_size", "seq_len", "eval_size"):
            keep(name, check_positive_int(getattr(self, name), name))
        keep("lr", check_positive_float(self.lr, "lr"))
        check_choice(self.optimizer, ("adam", "sgd"), "optimizer")
        for name in ("momentum", "weight_decay"):
            keep(name, check_positive_float(getattr(self, name), name, allow_zero=True))
        for name in ("clip_norm", "clip_value", "time_limit", "stop_below"):
            keep(name, _optional_positive(getattr(self, name), name))
        if self.clip_norm is not None and self.clip_value is not None:
            raise ValueError("give clip_norm or clip_value, not both")
        for name in ("carry_state", "detect", "deterministic"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False; got {getattr(self, name)!r}")
        if self.eval_every is not None:
            keep("eval_every", check_positive_int(self.eval_every, "eval_every"))
        keep("seed", check_nonnegative_int(self.seed, "seed"))
        ExplosionDetector(self.spike_factor, self.spike_min, self.growth_factor,
                          self.warmup)  # checks its four settings
        check_choice(self.clock, ("wall", "cpu"), "clock")
        if self.stop_below is not None and self.eval_every is None:
            raise ValueError("stop_below needs eval_every (it is checked at evaluations)")
        if not (self.progress is False or self.progress is None):
            check_choice(self.progress, ("auto", "text"), "progress")
        if self.threads is not None:
            keep("threads", check_positive_int(self.threads, "threads"))
        _device(self.device)

    def updated(self, **settings) -> TrainConfig:
        """A checked copy with ``settings`` (field names) replaced.

        Raises TypeError, naming the fields, for a name that is not one.
        """
        names = [f.name for f in dataclasses.fields(self)]
        unknown = sorted(set(settings) - set(names))
        if unknown:
            raise TypeError(f"unknown training setting(s) {', '.join(unknown)}; the "
                            f"settings (fields of TrainConfig) are {', '.join(names)}")
        return dataclasses.replace(self, **settings)

    def explosion_detector(self) -> ExplosionDetector | None:
        """A fresh :class:`ExplosionDetector` with these settings (None unless detect)."""
        if not self.detect:
            return None
        return ExplosionDetector(self.spike_factor, self.spike_min, self.growth_factor,
                                 self.warmup)


@dataclass
class History:
    """Per-step record of a training run (lists indexed like ``step``).

    ``loss`` is the training loss (MSE, or nats per target); ``grad_norm`` the global
    gradient norm before clipping, ``grad_norm_clipped`` after; ``weight_norm`` the
    global norm of all parameters after the step. ``eval_*`` are recorded every
    ``eval_every`` steps and at the end. ``baseline`` is the task's reference loss.
    ``stopped`` is the explosion message, or None; ``reason`` is "steps",
    "time_limit", "target" (``stop_below`` reached) or "explosion". ``seconds`` and
    ``cpu_seconds`` are the run's wall-clock and CPU (this process) times, evaluations
    included. Draw it with ``rnn_tutor.plots.history_figure``.
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

    def record_step(self, step: int, loss: float, grad_norm: float,
                    grad_norm_clipped: float, weight_norm: float) -> None:
        """Append one training step."""
        self.step.append(step)
        self.loss.append(loss)
        self.grad_norm.append(grad_norm)
        self.grad_norm_clipped.append(grad_norm_clipped)
        self.weight_norm.append(weight_norm)

    def record_evaluation(self, step: int, result: dict) -> None:
        """Append one evaluation (a ``{"loss", "accuracy"}`` dict) made after ``step``."""
        self.eval_step.append(step)
        self.eval_loss.append(result["loss"])
        self.eval_accuracy.append(result["accuracy"])

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


def evaluate(model, task, batch=None, size: int = 1024, seed=0) -> dict:
    """Loss and accuracy of ``model`` on held-out data of ``task``.

    The data: ``batch`` if given, else ``task.evaluation_data(size, seed)`` (fresh
    sequences of a synthetic task, the test split of SequentialDigits, the validation
    split of a CharCorpus, in nats per character). Returns ``{"loss": float,
    "accuracy": float or None}`` (accuracy is None for regression, except the "hs"
    adding problem's tolerance criterion).
    """
    if not isinstance(task, BatchSource):
        raise TypeError(f"task must be a task from rnn_tutor.tasks; got {type(task).__name__}")
    return task.evaluate(model, task.evaluation_data(size, seed) if batch is None else batch)


def _total_norm(tensors) -> float:
    norms = [t.detach().norm() for t in tensors if t is not None]
    return float(torch.linalg.vector_norm(torch.stack(norms))) if norms else 0.0


def _clip_gradients(params, grad_norm: float, config: TrainConfig) -> float:
    """Clip the gradients of ``params`` in place as configured; return their new norm."""
    if config.clip_norm is not None:
        torch.nn.utils.clip_grad_norm_(params, config.clip_norm)
        return min(grad_norm, config.clip_norm) if math.isfinite(grad_norm) else grad_norm
    if config.clip_value is not None:
        torch.nn.utils.clip_grad_value_(params, config.clip_value)
        return _total_norm(p.grad for p in params)
    return grad_norm


def _optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay)


def _check_fits(model, task):
    """For a RecurrentNet, say at once (naming both) when it was built for another task."""
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


def _run_record(config: TrainConfig, task, device) -> dict:
    """The settings ``History.config`` keeps (``seq_len``, ``carry_state``: text only)."""
    used = task.training_options
    return dict(task=repr(task), steps=config.steps, batch_size=config.batch_size,
                lr=config.lr, optimizer=config.optimizer, clip_norm=config.clip_norm,
                clip_value=config.clip_value, seed=config.seed,
                seq_len=config.seq_len if "seq_len" in used else None,
                carry_state=config.carry_state if "carry_state" in used else None,
                device=str(device))


class _Progress:
    """A run's progress display: a tqdm bar, a one-line summary (book build) or nothing."""

    def __init__(self, setting, steps: int):
        self.mode = None if setting is False or setting is None else setting
        if self.mode == "auto" and in_book_build():
            self.mode = "summary"
        self.steps, self.bar = steps, None
        if self.mode == "auto":
            from tqdm.auto import tqdm
            self.bar = tqdm(total=steps, desc="training", leave=True)
        elif self.mode == "text":
            from tqdm.std import tqdm
            self.bar = tqdm(total=steps, desc="training", leave=True)

    def update(self, step: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if step % 10 == 0 or step == self.steps:
                self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def summarise(self, history: History) -> None:
        if self.mode == "summary":
            final = (f", eval loss {history.final_eval_loss:.4f}" if history.eval_loss else "")
            print(f"trained {len(history.step)} steps in {history.seconds:.1f} s: last loss "
                  f"{history.loss[-1]:.4f}{final} (baseline {history.baseline:.4f})")


@contextlib.contextmanager
def _torch_settings(config: TrainConfig, device: torch.device):
    """Seed torch's RNG and set its threads and determinism for a run; restore them after."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        try:
            if config.threads is not None:
                torch.set_num_threads(config.threads)
            if config.deterministic:
                torch.use_deterministic_algorithms(True, warn_only=True)
            yield
        finally:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(deterministic)


def train(model, task, config: TrainConfig | None = None, **settings) -> History:
    """Train ``model`` on ``task``; return a :class:`History`.

    Parameters
    ----------
    model : torch.nn.Module
        Called as ``model(x)`` (``model(x, h0)`` on a text) and returning ``(y, h_n)``
        or just ``y``, e.g. ``rnn_tutor.models.for_task(task)``.
    task : rnn_tutor.tasks.BatchSource
        A task from ``rnn_tutor.tasks`` or a ``CharCorpus``.
    config : TrainConfig, optional
        The settings; ``TrainConfig()`` by default.
    **settings
        Fields of :class:`TrainConfig` to override, e.g. ``steps=200, lr=1e-2``.

    Returns
    -------
    History
        Also when the :class:`ExplosionDetector` stopped the run (with a
        :class:`GradientExplosionWarning`).
    """
    if not isinstance(task, BatchSource):
        raise TypeError(f"task must be a task from rnn_tutor.tasks or a CharCorpus; "
                        f"got {type(task).__name__}")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    _check_fits(model, task)
    if config is not None and not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
    config = (config or TrainConfig()).updated(**settings)
    device = _device(config.device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    model.to(device)
    history = History(baseline=task.reference_loss, loss_name=task.loss,
                      clip_norm=config.clip_norm, config=_run_record(config, task, device))
    start, cpu_start = time.perf_counter(), time.process_time()
    progress = _Progress(config.progress, config.steps)
    try:
        with _torch_settings(config, device):
            _fit(model, task, params, config, history, progress)
    finally:
        progress.close()
    history.seconds = time.perf_counter() - start
    history.cpu_seconds = time.process_time() - cpu_start
    if history.stopped:
        warnings.warn(history.stopped, GradientExplosionWarning, stacklevel=2)
    progress.summarise(history)
    return history


def _fit(model, task, params, config: TrainConfig, history: History, progress) -> None:
    """The training loop: step, record, check, evaluate, until a stopping rule holds."""
    optimizer = _optimizer(params, config)
    detector = config.explosion_detector()
    train_rng, eval_rng = (np.random.default_rng([config.seed, i]) for i in (0, 1))
    held_out = task.evaluation_data(config.eval_size, eval_rng)
    options = {name: getattr(config, name) for name in task.training_options}
    losses = task.training_losses(model, config.batch_size, train_rng, **options)
    clock = time.perf_counter if config.clock == "wall" else time.process_time
    started, n_weights = clock(), sum(p.numel() for p in params)
    weight_norm = _total_norm(params)
    model.train()
    for step, loss in zip(range(1, config.steps + 1), losses):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        loss_value = float(loss.detach())
        grad_norm = _total_norm(p.grad for p in params)
        clipped_norm = _clip_gradients(params, grad_norm, config)
        alarm = detector and detector.before_update(step, loss_value, grad_norm, clipped_norm)
        if not alarm:
            optimizer.step()
            weight_norm_before, weight_norm = weight_norm, _total_norm(params)
            alarm = detector and detector.after_update(step, clipped_norm, weight_norm_before,
                                                       weight_norm, n_weights)
        history.record_step(step, loss_value, grad_norm, clipped_norm, weight_norm)
        progress.update(step, loss_value)
        if alarm:
            history.stopped, history.reason = alarm, "explosion"
            return
        if config.eval_every is not None and step % config.eval_every == 0:
            history.record_evaluation(step, task.evaluate(model, held_out))
            if config.stop_below is not None and history.eval_loss[-1] < config.stop_below:
                history.reason = "target"
                break
        if config.time_limit is not None and clock() - started > config.time_limit:
            history.reason = "time_limit"
            break
    if not history.eval_step or history.eval_step[-1] != history.step[-1]:
        history.record_evaluation(history.step[-1], task.evaluate(model, held_out))
