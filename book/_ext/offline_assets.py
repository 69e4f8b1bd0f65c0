"""Sphinx extension: serve every third-party script the book needs from its own origin,
and no more of it than the pages use.

The built book must work from a USB stick or behind a firewall, so nothing may be loaded
from a CDN; and a reader's first visit should stay light (at most 2 MB gzipped for any
page, checked by the browser tests). At build time this extension provides:

- plotly.js, added only to the pages that contain a plotly figure (see
  ``rnn_tutor.plots``): a bundle of plotly.js's own sources with only the trace types in
  ``PLOTLY_TRACES`` (the ones the book draws), made with esbuild from the npm packages that
  ``make book`` installs (``npm ci``: package.json, package-lock.json). Its version is the
  one bundled with the installed ``plotly`` Python package, which writes the figures'
  JSON; the build stops if they differ, or if a page draws a trace type the bundle lacks.
  About 0.4 MB gzipped instead of 1.5 MB for the full plotly.min.js;
- MathJax 3 (the ``django-static-mathjax`` package, which installs the ``mathjax``
  module with MathJax's ``es5`` build), used through Sphinx's ``mathjax_path``; Sphinx
  adds it only to pages with mathematics;
- the theme's icons: pydata-sphinx-theme loads Font Awesome's ``all.min.js`` (every free
  icon, 0.54 MB gzipped) on every page. After the build, ``_static/scripts/fontawesome.js``
  is replaced by Font Awesome's own core (same version, npm) with only the icons that the
  built pages and the theme's scripts name: the same inline SVG icons, about 0.02 MB.

Files are staged in ``<build dir>/.vendor_static/vendor/`` (outside Sphinx's output
folder, as ``html_static_path`` requires) and Sphinx copies them to ``_static/vendor/``.
Nothing third-party is committed to the repository. The folder is deliberately not called
``_static``: Jupyter Book adds every script found in a ``_static`` folder to every page.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

from rnn_tutor.book_build import BOOK_BUILD_ENV

logger = logging.getLogger(__name__)

PLOTLY_JS = "vendor/plotly/plotly.min.js"
# The trace types the served plotly.js bundle holds: every type the book's figures use
# (rnn_tutor's plots, explorer views, diagrams and gates; the chapters' go.Scatter, go.Bar,
# go.Heatmap and chapter 3's go.Table). A page with any other type stops the build.
PLOTLY_TRACES = ("scatter", "bar", "heatmap", "table")
# Build-time JavaScript from npm (package.json, installed by `make book` with npm ci).
ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"
FONTAWESOME_JS = "scripts/fontawesome.js"  # where pydata-sphinx-theme serves its icons
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
    """Map each file or folder served as installed (relative to ``_static``) to its
    installed source: MathJax. (plotly.js is a bundle made at build time.)"""
    mathjax = _package_dir("mathjax", "django-static-mathjax") / "static" / "mathjax" / "es5"
    out = {}
    for part in _MATHJAX_PARTS:
        out[f"vendor/mathjax/{part}"] = mathjax / part
    for target, src in out.items():
        if not src.exists():
            raise RuntimeError(f"expected {src} (for _static/{target}); is the installed "
                               "package the pinned version?")
    return out


def installed_plotly_js() -> Path:
    """The full plotly.min.js bundled with the installed ``plotly`` package (the file the
    CDN serves to live front ends; the book serves a bundle of fewer trace types)."""
    return _package_dir("plotly", "plotly") / "package_data" / "plotly.min.js"


def _npm_package(name: str) -> Path:
    folder = NODE_MODULES / name
    if not (folder / "package.json").is_file():
        raise RuntimeError(f"the book's build needs the npm package '{name}' in "
                           f"{NODE_MODULES}: run `make book` (or `npm ci` in {ROOT})")
    return folder


def _npm_version(name: str) -> str:
    return json.loads((_npm_package(name) / "package.json").read_text())["version"]


def build_plotly_js(dest: Path, traces: tuple[str, ...] = PLOTLY_TRACES) -> Path:
    """Bundle plotly.js (core and scatter, plus ``traces``) into ``dest`` with esbuild.

    The plotly.js sources are those of the version that the installed ``plotly`` package
    bundles: its figures' JSON is written for that version.
    """
    from plotly.offline import get_plotlyjs_version

    wanted, have = get_plotlyjs_version(), _npm_version("plotly.js")
    if wanted != have:
        raise RuntimeError(f"the plotly package draws with plotly.js {wanted}, but "
                           f"package.json installs plotly.js {have}: pin plotly.js {wanted} "
                           "in package.json and run npm install")
    esbuild = _npm_package("esbuild") / "bin" / "esbuild"  # native, or npm's node shim
    modules = [t for t in traces if t != "scatter"]  # core always registers scatter
    requires = ", ".join(f'require("plotly.js/lib/{t}")' for t in modules)
    entry = (f'var Plotly = require("plotly.js/lib/core");\nPlotly.register([{requires}]);\n'
             "module.exports = Plotly;\n")
    banner = (f"/* plotly.js v{have} (MIT licence, Plotly, Inc.): a bundle for rnn-tutor with "
              f"the trace types {', '.join(traces)} */")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # The options of plotly.js's own bundles (its esbuild-config.js); the only stylesheet
    # the sources import is maplibre's, for map traces, which this bundle does not hold.
    cmd = [str(esbuild), "--bundle", "--minify", "--format=iife",
           "--global-name=Plotly", "--define:global=window", "--define:define.amd=false",
           "--target=es2016", "--loader:.css=empty", "--log-level=error",
           f"--banner:js={banner}", f"--outfile={dest}"]
    done = subprocess.run(cmd, input=entry, text=True, cwd=ROOT, capture_output=True)
    if done.returncode != 0 or not dest.is_file():
        raise RuntimeError(f"esbuild could not bundle plotly.js:\n{done.stderr}")
    return dest


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
    build_plotly_js(stage / PLOTLY_JS)
    app.config.html_static_path.append(str(stage))


# The figure's JSON in the script that rnn_tutor.plots.figure_html writes.
_FIGURE_SPEC = re.compile(r"^  var spec = (\{.*\});$", re.M)


def trace_types(body: str) -> set[str]:
    """The plotly trace types drawn by the figures in a page's HTML body."""
    types = set()
    specs = list(_FIGURE_SPEC.finditer(body))
    n_divs = body.count('class="plotly-graph-div')
    if len(specs) < n_divs:
        raise ValueError(f"{n_divs} figures but only {len(specs)} written by "
                         "rnn_tutor.plots.figure_html")
    for m in specs:
        spec = json.loads(m.group(1))
        traces = list(spec.get("data", []))
        for frame in spec.get("frames", []):
            traces += [t for t in frame.get("data", []) if "type" in t]
        types.update(t.get("type", "scatter") for t in traces)
    return types


def _add_plotly(app: Sphinx, pagename: str, templatename: str, context: dict,
                doctree) -> None:
    # Only pages with a figure pay for plotly.js; it is loaded synchronously in the head,
    # before the figures' inline scripts run.
    body = context.get("body", "")
    # The attribute itself, not the words: the API page quotes them (HTML-escaped) in a
    # docstring and has no figure.
    if 'class="plotly-graph-div' in body:
        app.builder.add_js_file(PLOTLY_JS)
        try:
            missing = trace_types(body) - set(PLOTLY_TRACES)
        except ValueError as err:
            logger.warning(f"{pagename}: cannot read the trace types of its figures ({err})",
                           type="offline_assets", subtype="plotly")
            return
        if missing:
            logger.warning(f"{pagename} draws plotly trace types that the book's plotly.js "
                           f"bundle does not hold: {sorted(missing)}; add them to "
                           "PLOTLY_TRACES in book/_ext/offline_assets.py",
                           type="offline_assets", subtype="plotly")


# Font Awesome's class prefixes and modifiers are not icons; anything else named fa-<x>
# in a page or a theme script is looked up in the packs.
_FA_NAME = re.compile(r"\bfa-([a-z0-9]+(?:-[a-z0-9]+)*)")
_FA_PACKS = ("solid", "regular", "brands")
_FA_ICON_LINE = re.compile(r'^    "([^"]+)": \[\d+, \d+, \[([^\]]*)\], ')


def icon_names(outdir: Path) -> set[str]:
    """Every ``fa-<name>`` in the built pages and in the scripts the theme serves."""
    names = set()
    static = outdir / "_static"
    files = [p for p in outdir.rglob("*.html") if static not in p.parents]
    files += [p for p in static.rglob("*.js")
              if "vendor" not in p.relative_to(static).parts
              and p != static / FONTAWESOME_JS]
    for path in files:
        names.update(_FA_NAME.findall(path.read_text(errors="replace")))
    return names


def fontawesome_subset(names: set[str]) -> tuple[str, set[str]]:
    """Font Awesome's icon packs cut to ``names`` (an icon is kept when its name or an
    alias is named) followed by its core, as one script; and the icon names kept."""
    fa = _npm_package("@fortawesome/fontawesome-free")
    parts, kept = [], set()
    for pack in _FA_PACKS:
        lines = (fa / "js" / f"{pack}.js").read_text().splitlines(keepends=True)
        out, inside = [], False
        for line in lines:
            if line.startswith("  var icons = {"):
                inside = True
            elif inside and line.startswith("  };"):
                inside = False
            elif inside:
                m = _FA_ICON_LINE.match(line)
                if m is None:
                    raise RuntimeError(f"unexpected line in {pack}.js: {line[:80]}")
                aliases = {a.strip().strip('"') for a in m.group(2).split(",")}
                if not ({m.group(1)} | aliases) & names:
                    continue
                kept.add(m.group(1))
            out.append(line)
        parts.append("".join(out))
    parts.append((fa / "js" / "fontawesome.min.js").read_text())
    return "\n".join(parts), kept


def _theme_fontawesome_version(path: Path) -> str | None:
    licence = path.with_name(path.name + ".LICENSE.txt")
    text = licence.read_text() if licence.is_file() else path.read_text()[:4000]
    m = re.search(r"Font Awesome Free (\d+\.\d+\.\d+)", text)
    return m.group(1) if m else None


def _slim_icons(app: Sphinx, exception: Exception | None) -> None:
    """Replace the theme's every-icon Font Awesome script with the icons the book uses."""
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    target = outdir / "_static" / FONTAWESOME_JS
    if not target.is_file():
        return
    theirs = _theme_fontawesome_version(target)
    ours = _npm_version("@fortawesome/fontawesome-free")
    if theirs != ours:
        raise RuntimeError(f"the theme serves Font Awesome {theirs}, package.json installs "
                           f"{ours}: pin @fortawesome/fontawesome-free {theirs}")
    script, kept = fontawesome_subset(icon_names(outdir))
    if not kept:
        raise RuntimeError("no Font Awesome icon named in the built pages: the theme's "
                           "markup changed?")
    target.write_text(script, encoding="utf-8")
    target.with_name(target.name + ".map").unlink(missing_ok=True)  # maps the old file
    logger.info(f"fontawesome.js: {len(kept)} icons ({', '.join(sorted(kept))})")


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
    app.connect("build-finished", _slim_icons)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
