"""Chapter 5 in a real JupyterLab, as a reader runs it: headless Chromium, Run All, then
every kind of control of the live gradient explorer by keyboard and by mouse.

Checks that the plotted data follow the controls (read from what plotly drew), that the
figures follow JupyterLab's dark theme (static ones keep their size through the switch),
that citations read as in the built book and glossary terms link to their entry
(labextension/), and that the kernel reports
no error and writes nothing to stderr, in any cell or widget callback.
"""

from __future__ import annotations

import pytest

from jupyterlab_session import (ROOT, drag, jupyterlab, kernel_problems, open_notebook, plotted,
                                press, run_all, slider, type_value, watch_plots,
                                widget_output)
from test_lab_data import book_citations

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHAPTER = "notebooks/05_vanishing_exploding.ipynb"
# JupyterLab 4.6's cell toolbar measures a markdown cell's rendered node, which
# jupyterlab-myst's markdown cells do not have: one uncaught TypeError per run, in
# JupyterLab's own code, with no effect on what is shown. Every other page error fails.
_KNOWN_PAGE_ERRORS = ("_markdownOverlapsToolbar",)


@pytest.fixture(scope="module")
def lab():
    with jupyterlab() as lab:
        yield lab


@pytest.fixture(scope="module")
def page(lab, browser):
    stored = (ROOT / CHAPTER).read_bytes()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    console_errors = []
    page.on("pageerror", lambda err: None if any(k in (err.stack or "") for k in _KNOWN_PAGE_ERRORS)
            else console_errors.append(f"{err}\n{err.stack}"))
    open_notebook(page, lab, CHAPTER)
    run_all(page)
    page.console_errors = console_errors
    yield page
    context.close()
    assert (ROOT / CHAPTER).read_bytes() == stored, f"the run changed {CHAPTER} on disk"


def _drawn(page, expr: str):
    """Evaluate ``expr`` with ``gd`` bound to the gradient explorer's plot."""
    return widget_output(page, "weight scale").evaluate(
        f"(root) => {{ const gd = root.querySelector('.js-plotly-plot'); return {expr}; }}")


def _scale_circle_radius(page) -> float:
    # Trace 6 is the circle of radius sigma_max = scale (explorer_views.live_explorer_spec).
    return _drawn(page, "Math.max(...gd._fullData[6].x)")


def test_run_all_draws_the_explorers_without_errors(page):
    assert kernel_problems(page) == [], "the kernel reported errors or wrote to stderr"
    out = widget_output(page, "weight scale")
    assert watch_plots(out) == 1, "the gradient explorer draws one plot"
    assert _drawn(page, "gd._fullData.length") == 8, "profile (5 traces) + eigenvalues (3)"
    assert _drawn(page, "gd._fullLayout.xaxis.title.text").startswith("k ")
    assert "log scale" in _drawn(page, "gd._fullLayout.yaxis.title.text")


def test_keyboard_moves_the_scale_and_the_plot_follows(page):
    out = widget_output(page, "weight scale")
    watch_plots(out)
    slider(out, "weight scale").locator(".noUi-handle").focus()
    before = plotted(page)
    for _ in range(3):
        press(page, "ArrowRight")
    readout = float(slider(out, "weight scale").locator(".widget-readout").text_content())
    assert plotted(page) != before
    assert _scale_circle_radius(page) == pytest.approx(readout, abs=2e-3), \
        "the plot shows the slider's value"


def test_mouse_drag_ends_on_the_released_value(page):
    out = widget_output(page, "weight scale")
    watch_plots(out)
    handle = slider(out, "weight scale").locator(".noUi-handle")
    start = float(slider(out, "weight scale").locator(".widget-readout").text_content())
    after_release = drag(page, handle, steps=20, dx=3)
    end = float(slider(out, "weight scale").locator(".widget-readout").text_content())
    assert end > start, f"dragging right raises the scale: {start} -> {end}"
    assert after_release == after_release, "the final value was never drawn"   # not NaN
    assert _scale_circle_radius(page) == pytest.approx(end, abs=2e-3)


def test_sequence_length_cell_and_clipping_change_the_plot(page):
    out = widget_output(page, "weight scale")
    watch_plots(out)
    type_value(page, out, "sequence length T", 300)
    page.wait_for_function("(root) => root.querySelector('.js-plotly-plot')"
                           "._fullLayout.xaxis.range[1] === 300",
                           arg=out.element_handle(), timeout=10_000)

    out.locator(".widget-toggle-button", has_text="LSTM").first.click()
    # four gate blocks: the eigenvalue panel draws one trace per block
    page.wait_for_function("(root) => root.querySelector('.js-plotly-plot')"
                           "._fullData.length === 11", arg=out.element_handle(),
                           timeout=10_000)

    assert _drawn(page, "gd._fullData[1].y.length") == 0, "no clipped curve before clipping"
    out.locator(".widget-checkbox", has_text="clip per step").locator("input").check()
    page.wait_for_function("(root) => root.querySelector('.js-plotly-plot')"
                           "._fullData[1].y.length === 301", arg=out.element_handle(),
                           timeout=10_000)


def _lab_citations(page) -> list[str]:
    """The citations of the notebook as JupyterLab shows them, one string per role."""
    return page.evaluate("""() => {
        const groups = [];
        for (const mark of document.querySelectorAll('.jp-MarkdownCell .rnn-tutor-cite')) {
            const parent = mark.parentElement;
            const group = parent.classList.contains('rnn-tutor-cites') ? parent : mark;
            if (groups.at(-1) !== group) groups.push(group);
        }
        return groups.map((group) => group.textContent);
    }""")


def test_citations_read_as_in_the_book(page, book_html):
    # After Run All: jupyterlab-myst renders every markdown cell again once cells ran.
    page.wait_for_function("!document.querySelector('[title=\"Citation Not Found\"]')",
                           timeout=10_000)
    book = book_citations(book_html / "notebooks" / (CHAPTER.split("/")[-1][:-6] + ".html"))
    assert len(book) >= 10, f"the built chapter has {len(book)} citations"
    assert _lab_citations(page) == book, "JupyterLab prints the citations otherwise than the book"
    label = page.locator(".rnn-tutor-cite a", has_text="BSF94").first
    assert label.get_attribute("href") == "https://doi.org/10.1109/72.279181"
    assert label.get_attribute("title").startswith("Yoshua Bengio, Patrice Simard, and Paolo "
                                                   "Frasconi. Learning long-term dependencies")


def test_glossary_terms_link_to_their_entry_with_the_definition(page):
    page.wait_for_function("!document.querySelector('.jp-MarkdownCell a.hover-link[href=\"#\"]')",
                           timeout=10_000)
    terms = page.locator(".jp-MarkdownCell a.rnn-tutor-term")
    assert terms.count() >= 10, f"{terms.count()} glossary terms in chapter 5"
    jacobian = terms.filter(has_text="Jacobian").first
    assert jacobian.get_attribute("href").endswith("/book/glossary.html#term-Jacobian")
    assert jacobian.get_attribute("title").startswith("Jacobian: The matrix of partial")
    jacobian.scroll_into_view_if_needed()
    jacobian.hover()
    page.wait_for_timeout(1000)                          # the hover card opens after 300 ms
    assert page.locator(".rnn-tutor-term-trigger[data-state=open]").count() == 1, "not hovered"
    assert page.locator(".hover-card-content:visible").count() == 0, \
        "the hover card, which can only report a missing target, is shown"


def _static_figure_filter(page) -> str:
    return page.evaluate("getComputedStyle(document.querySelector('.jp-RenderedPlotly')).filter")


def _static_figure_heights(page) -> list[float]:
    return page.evaluate("[...document.querySelectorAll('.jp-RenderedPlotly')]"
                         ".map((gd) => gd.getBoundingClientRect().height)")


def test_the_figure_follows_jupyterlabs_dark_theme(page):
    paper = lambda: _drawn(page, "gd._fullLayout.paper_bgcolor")
    assert paper() in ("#fff", "#ffffff", "white", "rgb(255, 255, 255)")
    heights = _static_figure_heights(page)
    assert heights and min(heights) >= 300, f"static figures drawn: {heights}"
    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme',"
                  " {theme: 'JupyterLab Dark'})")
    page.wait_for_function("document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    page.wait_for_timeout(500)
    dark = paper()
    assert dark not in ("#fff", "#ffffff", "white", "rgb(255, 255, 255)"), dark
    # Static figures (plotly's own renderer, white paper) are drawn inverted in the dark.
    assert "invert" in _static_figure_filter(page), _static_figure_filter(page)
    assert _static_figure_heights(page) == heights, "a theme change resized static figures"
    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme',"
                  " {theme: 'JupyterLab Light'})")
    page.wait_for_function("document.body.dataset.jpThemeLight === 'true'", timeout=30_000)
    assert _static_figure_filter(page) == "none", "static figures drawn as they are in light"


def test_no_error_or_warning_anywhere_after_all_that(page):
    assert kernel_problems(page) == []
    assert page.console_errors == [], "uncaught errors in the page"
