"""The build itself catches a blank figure: a tiny book built with the book's own
configuration fails on ``fig.show()`` (plotly's JSON MIME type only, which the book
cannot render) and succeeds with ``rnn_tutor.plots.show``.

Each case is a real Jupyter Book build (a notebook executed by a real kernel), run in a
subprocess because Sphinx patches docutils' global state."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import yaml

from conftest import ROOT

pytestmark = pytest.mark.slow

PAGE = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A figure

```{{code-cell}} ipython3
import plotly.graph_objects as go
from rnn_tutor.plots import show

fig = go.Figure(go.Scatter(y=[1, 3, 2]))
{display}
```
"""


def _build_tiny_book(tmp_path, display: str) -> subprocess.CompletedProcess:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config.pop("bibtex_bibfiles")
    config.pop("bibtex_reference_style")
    config["exclude_patterns"] = ["_build"]
    config["execute"]["cache"] = str(tmp_path / "_build" / ".jupyter_cache")
    config["sphinx"]["local_extensions"] = {
        name: str(ROOT / folder) for name, folder in config["sphinx"]["local_extensions"].items()}
    config["html"].pop("favicon")
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    (tmp_path / "page.md").write_text(PAGE.format(display=display))
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT / 'scripts')!r})
        import build_book
        tmp = Path({str(tmp_path)!r})
        sys.exit(build_book.build(tmp / "_config.yml", tmp / "_toc.yml",
                                  tmp / "_build" / "html", source=tmp))
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)


def test_fig_show_fails_the_build(tmp_path):
    result = _build_tiny_book(tmp_path, "fig.show()")
    assert result.returncode != 0, "a figure the book cannot render built without error"
    assert "mystnb.unknown_mime_type" in result.stderr, result.stderr[-2000:]


def test_plots_show_builds_cleanly(tmp_path):
    result = _build_tiny_book(tmp_path, "show(fig)")
    assert result.returncode == 0, result.stderr[-3000:]
    page = (tmp_path / "_build" / "html" / "page.html").read_text()
    assert page.count('class="plotly-graph-div') == 1
    assert "_static/vendor/plotly/plotly.min.js" in page
    assert "application/vnd.plotly.v1+json" not in page
