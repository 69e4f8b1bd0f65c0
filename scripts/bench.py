"""Benchmarks for rnn-tutor's speed budgets (DESIGN.md), measured in one run.

Run with ``make bench`` (or ``python scripts/bench.py [--quick] [--threads N]``). Prints:

(a) NumPy LSTM forward+backward (rnn_tutor.layers) vs torch.nn.LSTM forward+backward at
    B=64, T=50, H=128, as times and a ratio (budget: NumPy within 2x of torch);
(b) gradient_profile latency at T=200, H=64 for rnn, lstm and gru, CPU and wall
    (budget: a few ms);
(c) the explorer's live recompute and static-slider build, with the figures' HTML size.

Timings are medians over repeated calls after warm-up (time.perf_counter, and for (b)
and (c) also the process's CPU time, which waiting for a core does not inflate); the NumPy
and torch LSTMs are called alternately so both see the same background load. On a shared
machine they are noisy: the load average is printed before and after, and the minimum is
printed next to the median (the minimum is the least disturbed run).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch

import rnn_tutor
from rnn_tutor.gradients import gradient_profile


def measure_pair(f, g, repeat, warmup=3):
    """Median and minimum wall time (s) of ``f()`` and of ``g()``, called alternately
    (f, g, f, g, ...) after ``warmup`` calls of each.

    Interleaving exposes both to the same background load, so their ratio is fairer
    than two separate runs on a machine whose load changes from second to second.
    """
    for _ in range(warmup):
        f()
        g()
    tf, tg = [], []
    for _ in range(repeat):
        for fn, times in ((f, tf), (g, tg)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return (statistics.median(tf), min(tf)), (statistics.median(tg), min(tg))


def ms(seconds):
    return f"{1e3 * seconds:8.2f} ms"


# ----------------------------------------------------------------------------- (a) LSTM

def bench_lstm(repeat, B=64, T=50, H=128, D=128, dtype=torch.float32):
    """NumPy LSTM (a from_torch copy) vs torch.nn.LSTM, forward + backward, same numbers."""
    torch.manual_seed(0)
    module = torch.nn.LSTM(D, H, dtype=dtype)
    m = rnn_tutor.from_torch(module)
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((T, B, D)).astype(m.dtype)
    d_out_np = rng.standard_normal((T, B, H)).astype(m.dtype)
    x_t = torch.from_numpy(x_np.copy()).requires_grad_(True)
    d_out_t = torch.from_numpy(d_out_np.copy())

    def numpy_step():
        m.forward(x_np)
        return m.backward(d_out_np)

    def torch_step():
        module.zero_grad(set_to_none=True)
        x_t.grad = None
        out, _ = module(x_t)
        out.backward(d_out_t)

    # Same result before timing anything (a fast wrong answer is no benchmark).
    dx = numpy_step()
    torch_step()
    err = float(np.max(np.abs(dx - x_t.grad.numpy())))
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    assert err < tol, f"NumPy and torch LSTM gradients differ by {err}"

    (np_med, np_min), (t_med, t_min) = measure_pair(numpy_step, torch_step, repeat)
    name = str(dtype).removeprefix("torch.")
    return [
        f"LSTM fwd+bwd B={B} T={T} H={H} D={D} {name}  (max |dx diff| {err:.1e})",
        f"  numpy  median {ms(np_med)}   min {ms(np_min)}",
        f"  torch  median {ms(t_med)}   min {ms(t_min)}",
        f"  ratio numpy/torch: median {np_med / t_med:5.2f}x   min {np_min / t_min:5.2f}x"
        f"   (budget: <= 2x)",
    ]


# ----------------------------------------------------------------------------- (b) profiles

def measure_cpu(fn, repeat, warmup=3):
    """Median wall and CPU time (time.process_time) of ``fn()`` in seconds, and min wall.

    CPU time excludes waiting for a core, so on a shared machine it is what the same
    code would take on an idle one.
    """
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), min(wall), statistics.median(cpu)


def bench_profiles(repeat, T=200, H=64):
    """gradient_profile latency (it runs BLAS on one thread itself, see one_blas_thread).

    "drag": a new scale on every call with the same seed, as when the explorer's slider
    moves (the int seed's random draws are cached, so only the scale factor changes).
    "new seed": a different seed on every call, so W_hh's blocks (QR + SVD each), W_xh,
    the inputs and u are drawn afresh (the first call after changing seed, init, H or T).
    """
    import itertools
    lines = [f"gradient_profile T={T} H={H} (tanh, orthogonal; budget: a few ms)"]
    for cell in ("rnn", "lstm", "gru"):
        n = repeat if cell == "rnn" else max(repeat // 2, 5)
        scales = itertools.cycle(np.geomspace(0.25, 4.0, 97))
        seeds = itertools.count(1000)
        for label, fn in (
                ("drag", lambda: gradient_profile(cell, T, H, float(next(scales)), "tanh",
                                                  "orthogonal", 0)),
                ("new seed", lambda: gradient_profile(cell, T, H, 1.0, "tanh", "orthogonal",
                                                      next(seeds)))):
            wall, low, cpu = measure_cpu(fn, n)
            lines.append(f"  {cell:4s} {label:8s}  cpu median {ms(cpu)}   wall median "
                         f"{ms(wall)}   min {ms(low)}   ({n} calls)")
    return lines


# ----------------------------------------------------------------------------- (c) explorer

def bench_explorer(repeat, T=200, H=64):
    """Live recompute (while dragging the scale) and static slider build, with HTML size
    (wall and CPU time, as :func:`measure_cpu`)."""
    import itertools

    from rnn_tutor import explorer as ex, explorer_views as views, widgets
    from rnn_tutor.plots import figure_html

    def timed(fn, n, warmup=3):
        wall, low, cpu = measure_cpu(fn, n, warmup)
        return f"wall median {ms(wall)} min {ms(low)}   cpu median {ms(cpu)}"

    # Every call uses a new scale, as a drag does (nothing is reused from the last call).
    scales = itertools.cycle(np.geomspace(0.25, 4.0, 997))
    lines = [f"explorer T={T} H={H} (tanh, orthogonal; a new scale on every call)"]
    lines.append("  recompute (explore)           "
                 + timed(lambda: ex.explore(float(next(scales)), T, H), repeat * 5)
                 + "   (budget: a few ms)")
    e = widgets.gradient_explorer(T=T, hidden_size=H)

    def drag():
        e.controls["scale"].value = float(next(scales))
    lines.append("  live widget update (+figures) " + timed(drag, repeat * 5))
    for acts in (("tanh",), ex.ACTIVATION_CHOICES):
        def build():
            ex._SPECTRA.clear()             # start cold: no spectrum from the last build
            return views.static_explorer(T=T, hidden_size=H, activations=acts)
        fig = build()
        size = len(figure_html(fig).encode())
        lines.append(f"  static slider, {len(fig['frames'])} frames x {len(acts)} nonlinearit"
                     f"{'y' if len(acts) == 1 else 'ies'}  (HTML {size / 1e3:.0f} kB; budget:"
                     f" build well under 1 s)")
        lines.append("    build " + timed(build, max(repeat // 4, 3), warmup=1))
    size = len(figure_html(views.static_scalar_explorer()).encode())
    lines.append(f"  static scalar slider (41 frames): HTML {size / 1e3:.0f} kB")
    return lines


# ----------------------------------------------------------------------------- main

def blas_threads():
    from threadpoolctl import threadpool_info
    return ",".join(str(i["num_threads"]) for i in threadpool_info()
                    if i["user_api"] == "blas") or "?"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit torch and NumPy's BLAS to this many threads (default: "
                             "each library's own choice); 1 gives steadier numbers on a "
                             "busy machine")
    args = parser.parse_args(argv)
    repeat = 5 if args.quick else 20
    if args.threads is not None:
        from threadpoolctl import threadpool_limits
        torch.set_num_threads(args.threads)
        threadpool_limits(limits=args.threads, user_api="blas")

    print(f"rnn-tutor benchmarks  (python {platform.python_version()}, numpy {np.__version__},"
          f" torch {torch.__version__}, {os.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()}, BLAS threads {blas_threads()})")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    sections = [bench_lstm(repeat), bench_lstm(max(repeat // 2, 3), dtype=torch.float64),
                bench_profiles(10 * repeat), bench_explorer(repeat)]
    for lines in sections:
        print()
        print("\n".join(lines))
    print()
    print(f"load average after:  {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
          "  (a load above the CPU count means other work shared the cores)")


if __name__ == "__main__":
    main()
