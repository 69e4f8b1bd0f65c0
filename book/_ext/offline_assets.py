"""Sphinx extension: serve every third-party script the book needs from its own origin.

The built book must work from a USB stick or behind a firewall, so nothing may be loaded
from a CDN. At build time this extension copies, from installed Python packages:

- plotly.js (the ``plotly`` package's bundled ``plotly.min.js``), added only to the pages
  that contain a plotly figure (see ``rnn_tutor.plots``);
- MathJax 3 (the ``django-static-mathjax`` package, which installs the ``mathjax``
  module with MathJax's ``es5`` build), used through Sphinx's ``mathjax_path``.

Files are staged in ``<build dir>/.vendor_static/vendor/`` (outside Sphinx's output
folder, as ``html_static_path`` requires) and Sphinx copies them to ``_static/vendor/``.
Nothing third-party is committed to the repository. The folder is deliberately not called
``_static``: Jupyter Book adds every script found in a ``_static`` folder to every page.
"""

from __future__ import annotations

import html
import importlib.util
import os
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

from rnn_tutor.book_build import BOOK_BUILD_ENV

logger = logging.getLogger(__name__)

PLOTLY_JS = "vendor/plotly/plotly.min.js"
MATHJAX_JS = "vendor/mathjax/tex-mml-chtml.js"
# The parts of MathJax's es5 build that tex-mml-chtml.js loads on demand: TeX extensions,
# CHTML fonts, the context menu and its accessibility tools (which need the speech rule
# engine, sre). The other combined components (svg output, ...) are not copied.
_MATHJAX_PARTS = ("tex-mml-chtml.js", "input", "output", "ui", "a11y", "sre", "adaptors")


def _package_dir(module: str, hint: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the book needs the Python package that provides '{module}' "
                           f"({hint}); install the pinned requirements.txt")
    return Path(spec.origin).parent


def sources() -> dict[str, Path]:
    """Map each served file or folder (relative to ``_static``) to its installed source."""
    plotly_js = _package_dir("plotly", "plotly") / "package_data" / "plotly.min.js"
    mathjax = _package_dir("mathjax", "django-static-mathjax") / "static" / "mathjax" / "es5"
    out = {PLOTLY_JS: plotly_js}
    for part in _MATHJAX_PARTS:
        out[f"vendor/mathjax/{part}"] = mathjax / part
    for target, src in out.items():
        if not src.exists():
            raise RuntimeError(f"expected {src} (for _static/{target}); is the installed "
                               "package the pinned version?")
    return out


def _stage(app: Sphinx) -> None:
    if app.builder.format != "html":
        return
    stage = Path(app.outdir).parent / ".vendor_static"
    if stage.exists():
        shutil.rmtree(stage)
    for target, src in sources().items():
        dest = stage / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest)
        else:
            shutil.copy2(src, dest)
    app.config.html_static_path.append(str(stage))


def _add_plotly(app: Sphinx, pagename: str, templatename: str, context: dict,
                doctree) -> None:
    # Only pages with a figure pay for plotly.js; it is loaded synchronously in the head,
    # before the figures' inline scripts run.
    if "plotly-graph-div" in context.get("body", ""):
        app.builder.add_js_file(PLOTLY_JS)


def _dedupe_inline_scripts(app: Sphinx, pagename: str, templatename: str, context: dict,
                           doctree) -> None:
    # An inline script added after the builder started (sphinx-thebe's configuration) is
    # registered twice, once with filename None and once with "", which Sphinx does not
    # see as equal; the page then declares `const THEBE_JS_URL` twice: a SyntaxError.
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for js in scripts:
        attrs = getattr(js, "attributes", {})
        key = (getattr(js, "filename", js) or "", getattr(js, "priority", 500),
               tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


_ROOT_REDIRECT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
{icon}
<meta http-equiv="Refresh" content="0; url={target}">
</head>
<body><p><a href="{target}">{title}</a></p></body>
</html>
"""


def _write_root_redirect(app: Sphinx, exception: Exception | None) -> None:
    """Write the site's root ``index.html``: a redirect to the first page.

    Runs before sphinx-external-toc's own (a bare ``<meta>`` line, which it writes only when
    the file is missing). Naming the book's icon keeps browsers from requesting
    ``/favicon.ico``, which does not exist, while they follow the redirect; the title,
    language and link serve readers whose browser does not follow it.
    """
    if exception is not None or app.builder.format != "html" or app.config.root_doc == "index":
        return
    favicon = app.config.html_favicon
    icon = f'<link rel="icon" href="_static/{Path(favicon).name}">' if favicon else ""
    page = _ROOT_REDIRECT.format(title=html.escape(app.config.html_title or app.config.project),
                                 icon=icon, target=f"{app.config.root_doc}.html")
    Path(app.outdir, "index.html").write_text(page, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    # Notebook kernels started by this build inherit the environment: rnn_tutor.plots.show
    # then emits only HTML (see its docstring), not plotly's JSON MIME type, which myst-nb
    # cannot render.
    os.environ[BOOK_BUILD_ENV] = "1"
    app.connect("builder-inited", _stage)
    app.connect("html-page-context", _add_plotly)
    app.connect("html-page-context", _dedupe_inline_scripts, priority=900)
    app.connect("build-finished", _write_root_redirect, priority=400)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
