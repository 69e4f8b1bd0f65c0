"""A real JupyterLab, started and stopped from Python, for tests and benchmarks.

:func:`jupyterlab` starts ``jupyter lab`` from this environment on 127.0.0.1 (a free
port, a random token, settings and runtime files in a temporary folder, no news or
update checks, no autosave), waits until it answers and stops it afterwards.
:func:`open_notebook` opens a notebook in a Playwright page and :func:`run_all` runs
every cell. The kernel is
this environment's Python (its ``bin`` folder comes first on ``PATH``, so the
``python3`` kernelspec finds it), outside the book build.

Used by ``tests/test_jupyterlab.py`` and ``scripts/bench_lab.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Lab:
    url: str            # http://127.0.0.1:<port>
    token: str
    log: Path           # the server's (and its kernels') stdout and stderr

    def page_url(self, path: str) -> str:
        return f"{self.url}/lab/tree/{path}?token={self.token}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(root: Path = ROOT, timeout: float = 120.0, disabled=()):
    """Run ``jupyter lab`` serving ``root``; yield a :class:`Lab`; stop it on exit.

    ``disabled`` names JupyterLab extensions (or plugins) to switch off.
    """
    token, port = secrets.token_hex(16), _free_port()
    with tempfile.TemporaryDirectory(prefix="rnn-tutor-lab-") as tmp:
        tmp = Path(tmp)
        settings = tmp / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        # No autosave: a run must never write outputs into the repository's notebooks.
        docmanager = tmp / "settings" / "@jupyterlab" / "docmanager-extension"
        docmanager.mkdir(parents=True)
        (docmanager / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
        labconfig = tmp / "config" / "labconfig"
        labconfig.mkdir(parents=True)
        (labconfig / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {name: True for name in disabled}}))
        env = {k: v for k, v in os.environ.items() if k != "RNN_TUTOR_BOOK_BUILD"}
        env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
                   JUPYTER_CONFIG_DIR=str(tmp / "config"),
                   JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
                   OMP_NUM_THREADS="1")
        log = tmp / "server.log"
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               f"--LabApp.user_settings_dir={tmp / 'settings'}",
               f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
               "--LabApp.expose_app_in_browser=True"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")                # CI containers run as root
        with open(log, "w") as out:
            proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out,
                                    stderr=subprocess.STDOUT)
        lab = Lab(f"http://127.0.0.1:{port}", token, log)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n"
                                       f"{lab.log_text()[-3000:]}")
                try:
                    with urllib.request.urlopen(f"{lab.url}/api/status?token={token}",
                                                timeout=5) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"jupyter lab did not answer within {timeout:.0f} s:\n"
                                       f"{lab.log_text()[-3000:]}")
                time.sleep(0.5)
            yield lab
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def open_notebook(page, lab: Lab, path: str, timeout: float = 120.0) -> None:
    """Open ``path`` (relative to the served root) and wait for its kernel to be idle."""
    page.goto(lab.page_url(path))
    page.wait_for_function("() => window.jupyterapp?.shell?.currentWidget?.sessionContext"
                           "?.session?.kernel?.status === 'idle'", timeout=timeout * 1e3)
    # Record every error and stderr message of the kernel, also those of widget
    # callbacks, which JupyterLab shows in no cell.
    page.evaluate("""() => {
        window.kernelProblems = [];
        const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
        kernel.iopubMessage.connect((_, msg) => {
            const c = msg.content;
            if (msg.header.msg_type === 'error')
                window.kernelProblems.push(`error: ${c.ename}: ${c.evalue}`);
            else if (msg.header.msg_type === 'stream' && c.name === 'stderr')
                window.kernelProblems.push(`stderr: ${c.text.slice(0, 300)}`);
        });
    }""")


def run_all(page, timeout: float = 300.0) -> None:
    """Run every cell of the open notebook; wait until each has run and the kernel is idle."""
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("""() => {
        const nb = window.jupyterapp.shell.currentWidget;
        const cells = nb.content.widgets.filter(c => c.model.type === 'code');
        return nb.sessionContext.session.kernel.status === 'idle'
            && cells.every(c => c.model.executionCount !== null
                                && !c.node.querySelector('.jp-InputArea-prompt')
                                       .textContent.includes('*'));
    }""", timeout=timeout * 1e3, polling=500)


# When JupyterLab's widget manager connects to a new kernel it opens a comm to the
# target jupyter.widget.control (to restore widgets) and then messages it; if ipywidgets
# is not imported in the kernel yet, ipykernel writes these two lines to stderr. They are
# the front end's housekeeping, not the chapter's, and seen only on some runs.
_CONTROL_COMM = "No such comm target registered: jupyter.widget.control"


def kernel_problems(page) -> list[str]:
    """Every error and stderr message the kernel sent since :func:`open_notebook` (minus
    ipykernel's note on the widget manager's control comm and the one message to it)."""
    problems, excused = [], 0
    for line in (x for p in page.evaluate("window.kernelProblems")
                 for x in p.splitlines() if x.strip()):
        if line == f"stderr: {_CONTROL_COMM}" or line == _CONTROL_COMM:
            excused += 1
        elif excused and line.startswith(("stderr: No such comm: ", "No such comm: ")):
            excused -= 1
        else:
            problems.append(line)
    return problems


# ------------------------------------------------------------------ driving a live explorer

def widget_output(page, label: str):
    """The output area holding the widget whose slider is labelled ``label``."""
    return page.locator(".jp-OutputArea-output",
                        has=page.locator(".widget-slider", has_text=label)).first


def slider(output, label: str):
    return output.locator(".widget-slider", has_text=label).first


def watch_plots(output) -> int:
    """Record every redraw of the plots in ``output`` (time and a fingerprint of the
    plotted data); return how many plots there are."""
    return output.evaluate("""(root) => {
        const gds = [...root.querySelectorAll('.js-plotly-plot')];
        const fingerprint = gd => gd._fullData.map(t => {
            let s = 0;
            for (const key of ['x', 'y']) {
                const a = t[key] || [];
                for (let i = 0; i < a.length; i++) if (isFinite(a[i])) s += a[i] * (i + 1);
            }
            return s.toPrecision(12);
        }).join('|') + '#' + JSON.stringify(gd._fullLayout.yaxis.range);
        window.plotLog = [];
        window.plotted = () => gds.map(fingerprint);
        gds.forEach((gd, i) => gd.on('plotly_afterplot',
            () => window.plotLog.push({i, t: performance.now(), fp: fingerprint(gd)})));
        if (!window.keyWatch) {
            window.keyWatch = true;
            document.addEventListener('keydown', () => { window.lastKey = performance.now(); },
                                      true);
        }
        return gds.length;
    }""")


def plotted(page) -> list[str]:
    """Fingerprints of the watched plots' data as drawn now."""
    return page.evaluate("window.plotted()")


def press(page, key: str, timeout: float = 10.0) -> float:
    """Press ``key`` (focus must be on a control); wait until every watched plot has been
    redrawn with new data; return the milliseconds from key down to the last redraw."""
    before, n = plotted(page), page.evaluate("window.plotLog.length")
    page.keyboard.press(key)
    page.wait_for_function("(b) => window.plotted().every((f, i) => f !== b[i])",
                           arg=before, timeout=timeout * 1e3)
    page.wait_for_timeout(30)
    return page.evaluate(f"Math.max(...window.plotLog.slice({n}).map(e => e.t))"
                         " - window.lastKey")


def drag(page, handle, steps: int = 40, dx: float = 2.0, settle: float = 2.0) -> float:
    """Drag ``handle`` right by ``steps`` mouse moves of ``dx`` pixels (one per 60 Hz
    frame) and release; return the milliseconds from release to the first redraw that
    shows the final data (0 when it was already drawn at release)."""
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    n = page.evaluate("window.plotLog.length")
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(steps):
        page.mouse.move(x + (i + 1) * dx, y)
        page.wait_for_timeout(16)
    released = page.evaluate("performance.now()")
    page.mouse.up()
    page.wait_for_timeout(settle * 1e3)
    final = plotted(page)
    log = page.evaluate(f"window.plotLog.slice({n})")
    shown = [e["t"] for e in log if e["fp"] == final[e["i"]]]
    return max(0.0, min(shown) - released) if shown else float("nan")


def type_value(page, output, label: str, value) -> None:
    """Type ``value`` into the readout of the slider labelled ``label``."""
    readout = slider(output, label).locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")
