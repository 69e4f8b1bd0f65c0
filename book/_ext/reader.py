"""Sphinx extension: the book's pages for every reader (dark mode, accessibility).

- ``reader.js`` gives every plotly figure the page's colours and re-colours it when the
  reader flips the light/dark switch (plotly draws on a white paper otherwise).
- ``reader.css`` darkens links inside exercises and solutions, whose tinted background
  leaves the theme's link blue at 4.3:1, below WCAG AA's 4.5:1.
- Bibliography entries get the ARIA role ``listitem``: docutils marks them
  ``doc-biblioentry``, a role deprecated in WPAI-ARIA 1.1 that breaks the list they are
  in for assistive technology (axe-core reports it as critical).

Figures get their text alternative and keyboard operation where they are made
(``rnn_tutor.plots.figure_html``), so they have them in notebooks too.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx

STATIC = Path(__file__).with_name("reader_static")


def _listitem_citations(app: Sphinx, pagename: str, templatename: str, context: dict,
                        doctree) -> None:
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def _add_static(app: Sphinx) -> None:
    app.config.html_static_path.append(str(STATIC))


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", _add_static)
    app.add_css_file("reader.css")
    app.add_js_file("reader.js", loading_method="defer")
    app.connect("html-page-context", _listitem_citations)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
