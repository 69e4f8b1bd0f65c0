"""The live explorer's latency in a real JupyterLab (part of ``make bench``).

Starts JupyterLab from this environment, opens chapter 5 in headless Chromium, runs
every cell, and then, for the RNN, LSTM and GRU at T = 500 (H = 64):

- **key press to redrawn plot**: the scale slider focused, ``--presses`` arrow-key
  presses (right, left, ...); for each, the milliseconds from the browser's keydown to
  the plot's redraw with the new data (plotly's ``plotly_afterplot``), one at a time;
  median and 90th percentile (budget: median at most 100 ms);
- **after a drag**: ``--drags`` drags of the scale handle, 40 mouse moves each at 60 Hz;
  the milliseconds from the release to the first redraw showing the final value (0 when
  it was already drawn), and how many redraws the drag caused (budget: 200 ms).

Usage: ``python scripts/bench_lab.py [--presses 20] [--drags 3]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from jupyterlab_session import (drag, jupyterlab, kernel_problems, open_notebook,  # noqa: E402
                                press, run_all, slider, type_value, watch_plots,
                                widget_output)

CHAPTER = "notebooks/05_vanishing_exploding.ipynb"


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presses", type=int, default=20)
    parser.add_argument("--drags", type=int, default=3)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    print(f"JupyterLab, {CHAPTER}, headless Chromium; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    rows = []
    with jupyterlab() as lab, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                     headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        start = time.perf_counter()
        open_notebook(page, lab, CHAPTER)
        run_all(page)
        print(f"opened and ran every cell in {time.perf_counter() - start:.1f} s")
        out = widget_output(page, "weight scale")
        out.scroll_into_view_if_needed()
        watch_plots(out)
        type_value(page, out, "sequence length T", 500)
        page.wait_for_timeout(1000)
        for cell in ("RNN", "LSTM", "GRU"):
            out.locator(".widget-toggle-button", has_text=cell).first.click()
            type_value(page, out, "weight scale", 1.0)
            page.wait_for_timeout(1000)
            handle = slider(out, "weight scale").locator(".noUi-handle")
            handle.focus()
            keys = [press(page, "ArrowRight" if i % 2 == 0 else "ArrowLeft")
                    for i in range(args.presses)]
            after, redraws = [], []
            for _ in range(args.drags):
                type_value(page, out, "weight scale", 1.0)
                page.wait_for_timeout(1000)
                n = page.evaluate("window.plotLog.length")
                after.append(drag(page, handle, steps=40, dx=2.0))
                redraws.append(page.evaluate(f"window.plotLog.length - {n}"))
            rows.append((cell, statistics.median(keys), percentile(keys, 0.9), max(after),
                         statistics.median(redraws)))
            print(f"{cell}: after each drag {', '.join(f'{a:.0f}' for a in after)} ms")
        problems = kernel_problems(page)
        browser.close()
    print(f"\n{'cell':>5} {'key->plot median':>17} {'p90':>7} {'after drag (worst)':>19} "
          f"{'redraws/drag':>13}")
    for cell, med, p90, worst, redraws in rows:
        print(f"{cell:>5} {med:14.0f} ms {p90:4.0f} ms {worst:16.0f} ms {redraws:13.0f}")
    print("budgets: median key press to redrawn plot <= 100 ms; final value drawn "
          "<= 200 ms after release")
    if problems:
        print("kernel errors or stderr:", *problems, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
