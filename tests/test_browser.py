"""Every page of the built book, opened in headless Chromium as a reader would.

Per page: every resource loads (no 4xx/5xx, no failed request), nothing is requested
from any host but the book's own, no console error, math is typeset (no raw TeX left),
every plotly figure has data and a non-zero size, every static slider changes the
plotted data when dragged with the mouse and when moved with the arrow keys, every
internal link resolves, axe-core finds no serious or critical accessibility violation,
and every figure has a text alternative. Every trace is drawn as the type it asks for
(the book serves a plotly.js bundle of only the trace types it uses), and the cold first
visit (everything the page loads, gzipped as a web server sends it) stays within 2 MB.
The page is opened again on a phone-sized screen in dark mode: figures are dark (and
light again after the switch), nothing scrolls sideways, no figure text is cut off.
Screenshots of each page (desktop light, phone dark) are saved under _build/screenshots/
for a person to look at.

The build must exist: if it does not, these tests fail (they never skip).
"""

from __future__ import annotations

import gzip
import html.parser
import re
import sys
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import BOOK_HTML, BUILD_HINT, ROOT, SCREENSHOTS, html_pages

pytestmark = pytest.mark.browser

PAGES = html_pages(BOOK_HTML) or ["<book not built>"]

# axe-core, the accessibility engine of the browsers' own audits, from its Python wheel.
AXE_JS = (Path(__import__("axe_playwright_python").__file__).parent
          / "axe.min.js").read_text()

# Console messages that are not errors of the book, each with its reason. Keep empty
# unless a message is understood and harmless.
ALLOWED_CONSOLE = {
    # (substring of the message): "why it is harmless"
}

# DESIGN.md: a cold first visit of any page at most 2 MB gzipped (every resource the page
# loads until the network is idle, MathJax's fonts and extensions included).
MAX_FIRST_VISIT_BYTES = 2_000_000
# What a web server compresses (nginx's gzip_types, Apache's mod_deflate setups): text.
# Fonts (woff2) and images are sent as they are; level 6 is gzip's and servers' default.
_GZIPPED = {".html", ".js", ".mjs", ".css", ".json", ".svg", ".txt", ".xml", ".map"}

# Text that must not survive MathJax in the reader-visible text of a page.
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\frac\{")


class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)


@lru_cache(maxsize=None)
def _anchors(path: Path) -> frozenset:
    parser = _Ids()
    parser.feed(path.read_text(errors="replace"))
    return frozenset(parser.ids)


@lru_cache(maxsize=None)
def _sent_bytes(path: Path) -> int:
    """Bytes a web server sends for a file of the book: gzip level 6 for text types."""
    data = path.read_bytes()
    if path.suffix.lower() in _GZIPPED:
        return len(gzip.compress(data, compresslevel=6, mtime=0))
    return len(data)


def first_visit_bytes(urls: list[str], base: str) -> dict[str, int]:
    """The book's files that ``urls`` fetched (each once, query strings dropped) and the
    bytes a web server sends for each, gzip-compressed as it would."""
    sizes = {}
    for url in urls:
        if not url.startswith(base):
            continue
        rel = unquote(urlsplit(url).path[len(urlsplit(base).path):])
        target = BOOK_HTML / rel
        if target.is_dir():
            target = target / "index.html"
        if target.is_file():
            sizes[target.relative_to(BOOK_HTML).as_posix()] = _sent_bytes(target)
    return sizes


def _broken_internal_links(hrefs: list[str], base: str) -> list[str]:
    """Links into the book whose file, or whose #fragment in that file, does not exist."""
    broken = []
    for href in sorted(set(hrefs)):
        if not href.startswith(base):
            continue  # other schemes/hosts are links only (launch buttons, repository)
        parts = urlsplit(href)
        rel = unquote(parts.path[len(urlsplit(base).path):])
        target = BOOK_HTML / rel
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"{href} (no file {rel})")
        elif parts.fragment and target.suffix == ".html" \
                and unquote(parts.fragment) not in _anchors(target):
            broken.append(f"{href} (no id {parts.fragment!r} in {rel})")
    return broken


_JS_FIGURES = """() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(gd => {
  const r = gd.getBoundingClientRect();
  const data = gd._fullData || [];  // decoded arrays (gd.data may hold base64 'bdata')
  const points = data.map(t => {
    for (const k of ['y', 'x', 'z', 'values']) {
      if (t[k] && t[k].length !== undefined) { return t[k].length; }
    }
    return 0;
  });
  // plotly draws a trace type it does not hold as a scatter: compare with what was asked
  const wrong = data.filter(t => t.type !== ((t._input && t._input.type) || 'scatter'))
                    .map(t => `${t._input && t._input.type} drawn as ${t.type}`);
  return {id: gd.id, width: r.width, height: r.height, traces: data.length, wrong: wrong,
          points: points.reduce((a, b) => a + b, 0),
          svg: gd.querySelectorAll('.main-svg').length,
          slider: !!(gd.layout && gd.layout.sliders && gd.layout.sliders.length)};
})"""

_JS_VISIBLE_TEXT = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('pre, code, script, style, mjx-container, .highlight, textarea, '
                        + 'input, .plotly-graph-div').forEach(e => e.remove());
  return body.textContent;
}"""

_JS_TRACE_STATE = """(id) => {
  const gd = document.getElementById(id);
  const data = gd._fullData.map(t => Array.from(t.y || t.z || t.x || []).map(Number));
  const paths = Array.from(gd.querySelectorAll('.scatterlayer path.js-line, .barlayer path,'
                                               + ' .heatmaplayer image'))
                    .map(p => p.getAttribute('d') || p.getAttribute('href') || '');
  // Only what is plotted: the slider's own label changes even when the data does not.
  return JSON.stringify({data: data, paths: paths});
}"""


def _drag_slider(page, fig_id: str) -> None:
    """Drag the figure's slider grip with the mouse to the other end of its rail."""
    rail = page.locator(f"#{fig_id} .slider-rail-rect").first
    grip = page.locator(f"#{fig_id} .slider-grip-rect").first
    rail.scroll_into_view_if_needed()
    rb, gb = rail.bounding_box(), grip.bounding_box()
    assert rb and gb and rb["width"] > 0, f"slider of {fig_id} has no visible rail"
    y = gb["y"] + gb["height"] / 2
    start_x = gb["x"] + gb["width"] / 2
    middle = rb["x"] + rb["width"] / 2
    end_x = rb["x"] + rb["width"] * (0.9 if start_x < middle else 0.1)
    page.mouse.move(start_x, y)
    page.mouse.down()
    page.mouse.move((start_x + end_x) / 2, y, steps=5)
    page.mouse.move(end_x, y, steps=5)
    page.mouse.up()


def check_page(page_path, browser, book_server):
    """Open one page in a fresh browser context and check everything a reader relies on."""
    if page_path == "<book not built>":
        pytest.fail(f"_build/html has no pages: {BUILD_HINT}")
    host = urlsplit(book_server).netloc
    requests, foreign, bad_status, failed, console = [], [], [], [], []
    # The document each request came from: a request the browser cancels because its
    # document was left (the root page's redirect) is not a failure of the site.
    requested_by, cancelled = {}, []

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        def on_request(req):
            requests.append(req.url)
            requested_by[req] = req.frame.url
            parts = urlsplit(req.url)
            if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != host:
                foreign.append(req.url)

        def on_failed(req):
            if req.failure == "net::ERR_ABORTED":
                cancelled.append((f"{req.url}: {req.failure}", requested_by.get(req)))
            else:
                failed.append(f"{req.url}: {req.failure}")

        def on_response(resp):
            if resp.status >= 400:
                bad_status.append(f"{resp.status} {resp.url}")

        def on_console(msg):
            if msg.type == "error":
                text = msg.text
                if not any(allowed in text for allowed in ALLOWED_CONSOLE):
                    console.append(f"{text} (at {msg.location.get('url')})")

        page.on("request", on_request)
        page.on("response", on_response)
        page.on("requestfailed", on_failed)
        page.on("console", on_console)
        page.on("pageerror", lambda err: console.append(f"uncaught: {err}"))

        page.goto(book_server + page_path, wait_until="load", timeout=60_000)
        # MathJax 3 typesets asynchronously after load; its promise settles when done.
        page.wait_for_function(
            "() => !window.MathJax || (window.MathJax.startup && "
            "window.MathJax.startup.promise && window.MathJax.typesetPromise)",
            timeout=30_000)
        page.evaluate("() => window.MathJax && window.MathJax.startup ? "
                      "window.MathJax.startup.promise : null")
        page.wait_for_load_state("networkidle", timeout=30_000)
        final_url = page.url
        first_visit = first_visit_bytes(requests, book_server)

        # Screenshot first, as the reader sees the page before touching anything.
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / (page_path.replace("/", "__") + ".png")),
                        full_page=True)

        # --- math typeset, no raw TeX left
        n_math = page.locator(".math").count()
        if n_math:
            n_typeset = page.locator("mjx-container").count()
            assert n_typeset >= n_math, (
                f"{n_math} math elements but only {n_typeset} typeset by MathJax")
            assert page.locator("mjx-merror").count() == 0, "MathJax reported TeX errors"
        raw = sorted(set(RAW_TEX.findall(page.evaluate(_JS_VISIBLE_TEXT))))
        assert not raw, f"raw TeX left in the page text: {raw}"

        # --- plotly figures: data, size, and sliders that respond to the mouse
        figures = page.evaluate(_JS_FIGURES)
        n_divs = page.locator(".plotly-graph-div").count()
        assert len(figures) == n_divs
        for fig in figures:
            assert fig["traces"] > 0 and fig["points"] > 0, f"figure without data: {fig}"
            assert fig["width"] > 0 and fig["height"] > 0, f"figure of zero size: {fig}"
            assert fig["svg"] > 0, f"figure not drawn by plotly.js: {fig}"
            assert not fig["wrong"], f"trace types the page's plotly.js lacks: {fig}"
        for fig in (f for f in figures if f["slider"]):
            before = page.evaluate(_JS_TRACE_STATE, fig["id"])
            _drag_slider(page, fig["id"])
            page.wait_for_function(f"(b) => ({_JS_TRACE_STATE})({fig['id']!r}) !== b",
                                   arg=before, timeout=5_000)
            after = page.evaluate(_JS_TRACE_STATE, fig["id"])
            assert after != before, f"moving the slider of {fig['id']} changed nothing"

        # --- internal links
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        broken = _broken_internal_links(hrefs, book_server)
        assert not broken, "broken internal links:\n" + "\n".join(broken)

        # --- accessibility: axe-core, every figure described, sliders by keyboard
        bad = _axe_serious(page)
        assert not bad, "axe-core, light mode:\n" + "\n".join(bad)
        for fig in figures:
            label = page.get_attribute(f"#{fig['id']}", "aria-label") or ""
            assert label.startswith("Figure: ") and len(label) > 20, \
                f"figure {fig['id']} has no text alternative: {label!r}"
        for fig in (f for f in figures if f["slider"]):
            _check_keyboard_slider(page, fig["id"])
    finally:
        context.close()

    _check_dark_and_phone(page_path, browser, book_server)

    failed += [what for what, document in cancelled if document == final_url]

    assert not foreign, "requests to other hosts:\n" + "\n".join(foreign)
    assert not bad_status, "resources with an error status:\n" + "\n".join(bad_status)
    assert not failed, "failed requests:\n" + "\n".join(failed)
    assert not console, "console errors:\n" + "\n".join(console)
    assert requests, "the page made no request at all (not even itself)"
    total = sum(first_visit.values())
    heaviest = sorted(first_visit.items(), key=lambda kv: -kv[1])[:6]
    assert total <= MAX_FIRST_VISIT_BYTES, (
        f"cold first visit of {page_path}: {total / 1e6:.2f} MB gzipped, over "
        f"{MAX_FIRST_VISIT_BYTES / 1e6:.0f} MB; heaviest: "
        + ", ".join(f"{name} {size / 1e3:.0f} kB" for name, size in heaviest))


def _axe_serious(page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    page.evaluate(AXE_JS)
    found = page.evaluate("""async () => {
      // preload: false - axe would fetch @import'ed stylesheets from a wrong base URL (a 404)
      const r = await axe.run(document, {resultTypes: ['violations'], preload: false});
      return r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
        .map(v => `${v.impact} ${v.id}: ${v.help} (${v.nodes.length} nodes, e.g. `
                  + `${v.nodes[0].target.join(' ')})`);
    }""")
    return found


def _check_keyboard_slider(page, fig_id: str) -> None:
    """Focus the figure, press an arrow key: the slider moves and the plotted data change."""
    gd = page.locator(f"#{fig_id}")
    gd.scroll_into_view_if_needed()
    gd.focus()
    assert page.evaluate("id => document.activeElement.id === id", fig_id), \
        f"figure {fig_id} cannot take the keyboard focus"
    before = page.evaluate(_JS_TRACE_STATE, fig_id)
    active = page.evaluate("id => document.getElementById(id)._fullLayout.sliders[0].active",
                           fig_id)
    n = page.evaluate("id => document.getElementById(id).layout.sliders[0].steps.length",
                      fig_id)
    page.keyboard.press("ArrowLeft" if active == n - 1 else "ArrowRight")
    page.wait_for_function(f"(b) => ({_JS_TRACE_STATE})({fig_id!r}) !== b", arg=before,
                           timeout=5_000)
    moved = page.evaluate("id => document.getElementById(id)._fullLayout.sliders[0].active",
                          fig_id)
    assert moved != active, f"the arrow key did not move the slider of {fig_id}"


# The figure colours and layout that the dark and phone checks read.
_JS_FIGURE_LOOK = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => {
  const canvas = document.createElement('canvas').getContext('2d');
  const css = c => { canvas.fillStyle = '#000'; canvas.fillStyle = c; return canvas.fillStyle; };
  const box = gd.getBoundingClientRect();
  const texts = Array.from(gd.querySelectorAll('.gtitle, .slider-container text,'
      + ' .updatemenu-container text, .legendtext, .g-xtitle text, .g-ytitle text'))
    .map(t => t.getBoundingClientRect())
    .filter(r => r.width > 0)
    .filter(r => r.left < box.left - 2 || r.right > box.right + 2);
  const title = gd.querySelector('.gtitle');
  const menus = Array.from(gd.querySelectorAll('.updatemenu-header-group'));
  const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom
                            && b.top < a.bottom;
  const t = title && title.getBoundingClientRect();
  return {id: gd.id, paper: css(gd._fullLayout.paper_bgcolor), font: css(gd._fullLayout.font.color),
          clipped: texts.length,
          titleUnderMenu: !!t && t.width > 0 && menus.some(m => overlap(t, m.getBoundingClientRect()))};
})"""


def _transparent(colour: str) -> bool:
    """Whether a CSS colour is fully transparent (the page shows through)."""
    c = colour.replace(" ", "").lower()
    return c == "transparent" or (c.startswith("rgba(") and float(c[5:-1].split(",")[3]) == 0)


def _luminance(colour: str) -> float:
    """Relative luminance (0 black .. 1 white) of '#rrggbb', '#rgb' or 'rgb(a)(...)'."""
    c = colour.strip().lower()
    if c.startswith("#"):
        c = c[1:]
        if len(c) == 3:
            c = "".join(ch * 2 for ch in c)
        rgb = [int(c[i:i + 2], 16) for i in (0, 2, 4)]
    else:
        rgb = [float(v) for v in re.findall(r"[\d.]+", c)[:3]]
    lin = [(v / 255) / 12.92 if v / 255 <= 0.03928 else ((v / 255 + 0.055) / 1.055) ** 2.4
           for v in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _check_dark_and_phone(page_path, browser, book_server) -> None:
    """The page in dark mode (figures dark, then light again after the switch; axe-core)
    and on a phone (390 x 844: no sideways scroll, no figure text outside its figure)."""
    context = browser.new_context(viewport={"width": 390, "height": 844},
                                  color_scheme="dark", device_scale_factor=1)
    try:
        page = context.new_page()
        page.goto(book_server + page_path, wait_until="load", timeout=60_000)
        page.wait_for_load_state("networkidle", timeout=30_000)
        page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'",
                               timeout=10_000)
        page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                               ".every(gd => gd.__rnnDark === true && gd.__rnnFitted)",
                               timeout=10_000)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / (page_path.replace("/", "__")
                                                + ".phone-dark.png")))
        wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 1, f"the page scrolls sideways by {wide} px at 390 px"
        for fig in page.evaluate(_JS_FIGURE_LOOK):
            assert _luminance(fig["paper"]) < 0.1 and _luminance(fig["font"]) > 0.4, \
                f"figure {fig['id']} is not dark in dark mode: {fig}"
            assert not fig["clipped"], f"{fig['clipped']} texts cut off in {fig['id']} at 390 px"
            assert not fig["titleUnderMenu"], f"title under a dropdown in {fig['id']} at 390 px"
        bad = _axe_serious(page)
        assert not bad, "axe-core, dark mode:\n" + "\n".join(bad)
        # The reader flips the switch to light: the figures follow.
        page.evaluate("() => { document.documentElement.dataset.theme = 'light'; }")
        page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                               ".every(gd => gd.__rnnDark === false)", timeout=10_000)
        for fig in page.evaluate(_JS_FIGURE_LOOK):
            assert _transparent(fig["paper"]) or _luminance(fig["paper"]) > 0.8, \
                f"figure {fig['id']} stayed dark: {fig}"
    finally:
        context.close()


# pytest-xdist's --dist loadscope sends each class to one worker: two classes, half the
# pages each, so the two workers (each with its own server and Chromium) share the pages.
class TestPagesEven:
    @pytest.mark.parametrize("page_path", PAGES[0::2])
    def test_page(self, page_path, browser, book_server):
        check_page(page_path, browser, book_server)


class TestPagesOdd:
    @pytest.mark.parametrize("page_path", PAGES[1::2] or ["<book not built>"])
    def test_page(self, page_path, browser, book_server):
        check_page(page_path, browser, book_server)



def test_live_frontend_without_plotly_loads_it_once_and_draws(browser):
    """Colab and the classic notebook show our HTML with no plotly.js on the page: the
    fragment loads plotly.js itself, once for several figures. The request is answered
    here with the installed plotly.min.js, so the test needs no network."""
    import numpy as np
    import plotly.graph_objects as go

    from rnn_tutor import plots

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import offline_assets

    plotly_js = offline_assets.installed_plotly_js().read_bytes()
    figs = [plots.figure_html(plots.slider_figure(
        [0.5, 1.5], lambda w: [go.Scatter(x=np.arange(9), y=w ** np.arange(9))],
        label="w")) for _ in range(2)]
    context = browser.new_context()
    loads = []

    def serve(route):
        loads.append(route.request.url)
        route.fulfill(status=200, body=plotly_js, content_type="application/javascript")

    try:
        context.route(plots._PLOTLY_JS_FALLBACK_URL, serve)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_content("<html><head></head><body>" + "".join(figs) + "</body></html>")
        page.wait_for_function(
            "() => document.querySelectorAll('.plotly-graph-div .main-svg').length >= 2",
            timeout=30_000)
        n_frames = page.evaluate("() => Array.from(document.querySelectorAll("
                                 "'.plotly-graph-div')).map(gd => gd._transitionData"
                                 " ? gd._transitionData._frames.length : 0)")
    finally:
        context.close()
    assert loads == [plots._PLOTLY_JS_FALLBACK_URL], loads
    assert n_frames == [2, 2]
    assert not errors, errors


@pytest.mark.parametrize("frames_differ", [True, False])
def test_slider_check_detects_a_slider_that_changes_nothing(browser, frames_differ):
    """The slider check above can fail: with identical frames, dragging changes no data."""
    import numpy as np
    import plotly.graph_objects as go

    from rnn_tutor import plots

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import offline_assets

    t = np.arange(10.0)
    fig = plots.slider_figure(
        [0.5, 1.0, 1.5], lambda w: [go.Scatter(x=t, y=(w if frames_differ else 1.0) ** t)],
        label="w")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content("<html><head></head><body></body></html>")
        page.add_script_tag(path=str(offline_assets.installed_plotly_js()))
        page.evaluate("html => { document.body.innerHTML = html; }",
                      plots.figure_html(fig, div_id="probe").split("<script")[0])
        spec = plots._spec(fig)
        page.evaluate("spec => Plotly.newPlot('probe', spec.data, spec.layout, spec.config)"
                      ".then(() => Plotly.addFrames('probe', spec.frames))", spec)
        before = page.evaluate(_JS_TRACE_STATE, "probe")
        _drag_slider(page, "probe")
        page.wait_for_timeout(1000)
        after = page.evaluate(_JS_TRACE_STATE, "probe")
        active = page.evaluate("() => document.getElementById('probe')"
                               "._fullLayout.sliders[0].active")
    finally:
        context.close()
    assert active != 0, "the drag did not move the slider"
    assert (after != before) == frames_differ


def test_trace_type_check_detects_a_type_the_bundle_lacks(browser, book_html):
    """The figure check above can fail: the book's plotly.js holds no pie trace, and a
    figure asking for one is reported (plotly quietly draws it as a scatter)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content('<html><head></head><body><div id="probe" class="plotly-graph-div"'
                         ' style="width:600px;height:400px"></div></body></html>')
        page.add_script_tag(path=str(book_html / "_static" / "vendor" / "plotly"
                                     / "plotly.min.js"))
        page.evaluate("() => Plotly.newPlot('probe', [{type: 'pie', values: [1, 2]},"
                      " {type: 'table', cells: {values: [['a']]}}, {y: [1, 2]}])")
        figures = page.evaluate(_JS_FIGURES)
    finally:
        context.close()
    assert [f["wrong"] for f in figures] == [["pie drawn as scatter"]], figures


def test_search_and_dark_mode_work_offline(browser, book_server):
    """Sphinx's search runs in the page from searchindex.js; the theme switch sets dark."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(book_server + "search.html?q=gradient", wait_until="load")
        page.wait_for_function(
            "() => document.querySelectorAll('#search-results li').length > 0",
            timeout=30_000)
        hits = page.eval_on_selector_all("#search-results li a", "els => els.map(e => e.href)")
        assert any("notebooks/" in h or "book/" in h for h in hits), hits

        page.goto(book_server + "book/intro.html", wait_until="load")
        modes = []
        for _ in range(3):  # the switch cycles through light, dark and system settings
            page.locator(".theme-switch-button").first.click()
            modes.append(page.evaluate("() => document.documentElement.dataset.mode"))
        assert "dark" in modes, modes
        page.locator(".theme-switch-button").first.click()
    finally:
        context.close()
