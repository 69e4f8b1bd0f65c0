"""The long-range showdown: four cells, four memory tasks, one CPU budget per run.

Chapter 10 and ``make reproduce`` (scripts/reproduce.py, experiment ``showdown``) train
the same four recipes on the same tasks at growing lengths and ask one question: how far
back can each cell reach within a fixed amount of CPU time?

- ``CELLS``: the recipes, name -> keyword arguments of :func:`rnn_tutor.models.for_task`
  (tanh RNN with PyTorch's initialisation, the IRNN of Le et al. (2015): ReLU with
  ``W_hh = I``, the LSTM with forget bias 1, the GRU).
- ``TASKS``: name -> function of the length (the adding problem's T, the copy task's
  delay T, the temporal-order T, the subject-verb distance of the agreement task).
- :func:`run` trains one recipe on one task for at most ``budget`` CPU seconds and returns
  a row (a plain dict); :func:`sweep` runs many; :func:`reach` reads off the longest length
  each cell solved.

A run is *solved* when its best held-out loss is below ``SOLVED`` (a quarter) of the
task's memoryless baseline: it removed at least three quarters of the loss that a
predictor with no memory must make.
"""

from __future__ import annotations

import time

import torch

from . import models, tasks
from .train import train
from .validate import check_choice, check_nonnegative_int, check_positive_float, check_positive_int

CELLS = {
    "tanh RNN": dict(cell="rnn"),
    "IRNN": dict(cell="rnn_relu", init="identity"),
    "LSTM": dict(cell="lstm", forget_bias=1.0),
    "GRU": dict(cell="gru"),
}

TASKS = {
    "adding": lambda n: tasks.AddingProblem(T=n, variant="le"),
    "copy": lambda n: tasks.CopyTask(T=n, K=3, alphabet_size=8),
    "temporal order": lambda n: tasks.TemporalOrder(T=n),
    "agreement": lambda n: tasks.Agreement(distance=n, attractors=(0, 3)),
}

#: A run is solved when its best held-out loss is below this fraction of the baseline.
SOLVED = 0.25

#: The training settings every run shares (Adam, clipped; ``budget`` CPU seconds at most).
TRAIN_SETTINGS = dict(batch_size=64, lr=5e-3, clip_norm=1.0, eval_every=25, eval_size=500,
                      detect=False)


def make_task(name: str, length: int):
    """The task ``name`` (a key of ``TASKS``) at ``length`` steps of memory."""
    check_choice(name, tuple(TASKS), "task")
    return TASKS[name](check_positive_int(length, "length"))


def run(task_name: str, length: int, cell: str, *, seed: int = 0, budget: float = 2.0,
        hidden_size: int = 32, max_steps: int = 5000, keep_history: bool = False) -> dict:
    """Train recipe ``cell`` on ``make_task(task_name, length)`` for ``budget`` CPU seconds.

    The run stops at the budget, at ``max_steps`` or as soon as an evaluation (every 25
    steps, 500 held-out sequences) is below a tenth of the baseline. Returns a row:
    task, length, cell, seed, ``ratio`` (best held-out loss / baseline), ``solved``
    (``ratio < SOLVED``), steps, CPU seconds, baseline and the parameter count; with
    ``keep_history`` also ``history``, the run's :class:`rnn_tutor.train.History` (for
    learning curves; not JSON).
    """
    check_choice(cell, tuple(CELLS), "cell")
    check_nonnegative_int(seed, "seed")
    budget = check_positive_float(budget, "budget")
    task = make_task(task_name, length)
    model = models.for_task(task, hidden_size=hidden_size, seed=seed, **CELLS[cell])
    h = train(model, task, steps=max_steps, time_limit=budget, clock="cpu", seed=seed,
              progress=False, stop_below=task.baseline / 10, **TRAIN_SETTINGS)
    ratio = min(h.eval_loss) / task.baseline
    row = {"task": task_name, "length": int(length), "cell": cell, "seed": int(seed),
            "ratio": float(ratio), "solved": bool(ratio < SOLVED), "steps": len(h.step),
            "cpu_seconds": round(h.cpu_seconds, 2), "seconds": round(h.seconds, 2),
            "reason": h.reason, "final_eval_loss": h.final_eval_loss,
            "final_eval_accuracy": h.final_eval_accuracy,
            "baseline": float(task.baseline), "parameters": parameter_count(model)}
    if keep_history:
        row["history"] = h
    return row


def sweep(lengths: dict, cells=tuple(CELLS), seeds=(0,), log=None, **run_kwargs) -> list:
    """:func:`run` for every task in ``lengths`` (name -> list of lengths), cell and seed.

    ``log``, if given, is called with each row as it is finished (e.g. ``print``).
    """
    rows = []
    for task_name, task_lengths in lengths.items():
        for length in task_lengths:
            for cell in cells:
                for seed in seeds:
                    rows.append(run(task_name, length, cell, seed=seed, **run_kwargs))
                    if log is not None:
                        log(rows[-1])
    return rows


def success_rate(rows: list, task: str, cell: str, length: int) -> float:
    """Fraction of the runs of ``cell`` on ``task`` at ``length`` that were solved."""
    hits = [r["solved"] for r in rows
            if r["task"] == task and r["cell"] == cell and r["length"] == length]
    if not hits:
        raise ValueError(f"no runs of {cell!r} on {task!r} at length {length}")
    return sum(hits) / len(hits)


def reach(rows: list, task: str, cell: str, rate: float = 0.5) -> int:
    """The longest length at which at least ``rate`` of ``cell``'s runs on ``task`` solved it.

    Lengths are taken in increasing order and the count stops at the first one that
    fails (so a lucky long run after a failure does not count); 0 if even the shortest
    failed.
    """
    lengths = sorted({r["length"] for r in rows if r["task"] == task and r["cell"] == cell})
    best = 0
    for length in lengths:
        if success_rate(rows, task, cell, length) < rate:
            break
        best = length
    return best


def parameter_count(model: torch.nn.Module) -> int:
    """Number of trainable scalars in ``model``."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def step_time(task, cell: str, hidden_size: int = 32, batch_size: int = 64,
              repeats: int = 20, seed: int = 0) -> float:
    """Median CPU seconds of one forward + backward pass of recipe ``cell`` on ``task``.

    Two untimed passes come first (PyTorch's first calls allocate and dispatch more).
    """
    model = models.for_task(task, hidden_size=hidden_size, seed=seed, **CELLS[cell])
    inputs, _ = task.sample(batch_size, seed=seed).torch()
    times = []
    for i in range(check_positive_int(repeats, "repeats") + 2):
        t0 = time.process_time()
        y, _ = model(inputs)
        y.float().sum().backward()
        if i >= 2:
            times.append(time.process_time() - t0)
    return float(sorted(times)[len(times) // 2])
