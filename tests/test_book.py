"""Checks on the built book and its sources that need no browser: the student edition
has no solution, pages stay light, nothing points outside the book, docstrings rendered
cleanly, every module and chapter is in the book, and the reader's buttons are there.

The builds must exist (``make book``, ``make student``): missing builds fail these tests.
"""

from __future__ import annotations

import filecmp
import html
import importlib.util
import json
import pkgutil
import re
import sys
from pathlib import Path

import pytest
import yaml

import rnn_tutor
from conftest import ROOT, html_pages

sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import build_book  # noqa: E402
import offline_assets  # noqa: E402

MAX_CHAPTER_BYTES = 1_500_000   # DESIGN.md budget, shared static assets excluded
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"]


def _text(page: Path) -> str:
    """Reader-visible text of a built page: tags removed, entities decoded, spaces collapsed."""
    raw = page.read_text(errors="replace")
    raw = re.sub(r"<(script|style)\b.*?</\1>", " ", raw, flags=re.S | re.I)
    text = html.unescape(re.sub(r"<[^>]+>", " ", raw))
    # Sphinx's smart quotes turn the sources' ' and " into typographic ones.
    text = text.translate(str.maketrans({"\u2018": "'", "\u2019": "'",
                                         "\u201c": '"', "\u201d": '"'}))
    return re.sub(r"\s+", " ", text)


_FENCE = re.compile(r"^(?P<f>`{3,}|:{3,})\{solution\}[^\n]*\n(?P<body>.*?)^(?P=f)\s*$",
                    re.S | re.M)


def _book_sources() -> list[tuple[Path, str, str]]:
    """(file, markdown, code) of every page of the book (_toc.yml) the student edition has."""
    in_book = set(_toc_files()) - set(build_book.STUDENT_EXCLUDE)
    sources = [(p, p.read_text(), "") for p in sorted((ROOT / "book").glob("*.md"))
               if p.relative_to(ROOT).with_suffix("").as_posix() in in_book]
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if nb_path.relative_to(ROOT).with_suffix("").as_posix() not in in_book:
            continue
        cells = json.loads(nb_path.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        sources.append((nb_path, text, code))
    return sources


def _solution_blocks() -> list[tuple[str, str]]:
    """(source file, body) of every {solution} block in the pages of the book."""
    return [(path.relative_to(ROOT).as_posix(), m.group("body"))
            for path, text, _ in _book_sources() for m in _FENCE.finditer(text + "\n")]


def _outside_solutions() -> str:
    """Every source's text with the solution blocks cut out, spaces collapsed."""
    rest = " ".join(_FENCE.sub(" ", text + "\n") + " " + code
                    for _, text, code in _book_sources())
    return re.sub(r"\s+", " ", rest)


def _plain_phrase(body: str, elsewhere: str = "") -> str | None:
    """A phrase of the solution made only of plain words, to search the rendered HTML for.

    The phrase must not occur in ``elsewhere`` (the book outside its solutions): a common
    line such as an import would be found in the student edition without any leak.
    """
    for line in body.splitlines():
        line = line.strip()
        if line.startswith(":") or not line:
            continue  # directive options such as :label:
        for run in re.findall(r"[A-Za-z][A-Za-z ,.'-]{30,}", line):
            words = run.strip(" ,.-").split()
            if len(words) >= 5 and " ".join(words[:8]) not in elsewhere:
                return " ".join(words[:8])
    return None


# ---------------------------------------------------------------- student edition
@pytest.mark.book
def test_student_edition_has_no_solution(book_html, student_html):
    blocks = _solution_blocks()
    assert blocks, "the book has no {solution} block at all: the student edition is untested"
    elsewhere = _outside_solutions()
    phrases = [(src, p) for src, body in blocks if (p := _plain_phrase(body, elsewhere))]
    assert len(phrases) >= 0.9 * len(blocks), \
        f"only {len(phrases)} of {len(blocks)} solutions have a phrase of their own to look for"
    main_text = " ".join(_text(book_html / p) for p in html_pages(book_html))
    student_pages = html_pages(student_html)
    n_main = sum((book_html / p).read_text().count('class="solution') for p in
                 html_pages(book_html))
    assert n_main >= len(blocks), "the main book lost solutions"
    for p in student_pages:
        assert 'class="solution' not in (student_html / p).read_text(), \
            f"student edition page {p} contains a solution block"
    # Every file the student edition serves: pages, downloadable notebooks and sources
    # (_sources/), search index, scripts.
    served = {}
    for path in sorted(student_html.rglob("*")):
        if path.is_file() and path.suffix in (".html", ".ipynb", ".md", ".txt", ".js", ".json"):
            raw = path.read_text(errors="replace")
            served[path.relative_to(student_html).as_posix()] = (
                _text(path) if path.suffix == ".html" else html.unescape(raw))
    downloads = [f for f in served if f.startswith("_sources/") and f.endswith(".ipynb")]
    assert downloads, "the student edition offers no notebook to download"
    for src, phrase in phrases:
        assert phrase in main_text, f"solution text from {src} missing in the book: {phrase!r}"
        leaks = [f for f, text in served.items() if phrase in text]
        assert not leaks, f"solution text from {src} ({phrase!r}) is served by the student " \
                          f"edition in {leaks}"
    sources = [f for f, text in served.items() if f.startswith("_sources/")
               and "{solution}" in text]
    assert not sources, f"student edition sources with a solution directive: {sources}"
    # Same book otherwise: every page but the instructor's is in the student edition.
    left_out = {f"{f}.html" for f in build_book.STUDENT_EXCLUDE}
    assert set(html_pages(book_html)) - left_out == set(student_pages)
    assert not left_out & set(student_pages)


def test_student_config_only_hides_solutions():
    overrides = yaml.safe_load((ROOT / "student.yml").read_text())
    assert overrides["sphinx"]["config"]["hide_solutions"] is True
    merged = build_book.deep_merge(yaml.safe_load((ROOT / "_config.yml").read_text()),
                                   overrides)
    assert merged["sphinx"]["config"]["hide_solutions"] is True
    assert merged["sphinx"]["config"]["mathjax_path"] == \
        yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]["mathjax_path"]


def test_deep_merge_recurses_without_mutating():
    base = {"a": {"b": 1, "c": 2}, "d": 3}
    out = build_book.deep_merge(base, {"a": {"b": 10}, "e": 4})
    assert out == {"a": {"b": 10, "c": 2}, "d": 3, "e": 4}
    assert base == {"a": {"b": 1, "c": 2}, "d": 3}


# ---------------------------------------------------------------- weight and origin
@pytest.mark.book
def test_chapter_pages_are_light(book_html):
    weights = dict(build_book.page_weights(book_html))
    chapters = {p: w for p, w in weights.items() if p.startswith("notebooks/")}
    assert chapters, "no chapter page was built"
    heavy = {p: w for p, w in weights.items() if w > MAX_CHAPTER_BYTES}
    assert not heavy, f"pages over {MAX_CHAPTER_BYTES / 1e6} MB: {heavy}"


_EXTERNAL_LOAD = re.compile(
    r"""<(?:script|img|iframe|source|audio|video|embed)\b[^>]*\bsrc=["']\s*(?:https?:)?//"""
    r"""|<link\b[^>]*\bhref=["']\s*(?:https?:)?//[^"']*["'][^>]*>"""
    r"""|@import\s+(?:url\()?["']?\s*(?:https?:)?//""", re.I)


@pytest.mark.book
@pytest.mark.parametrize("edition", ["book", "student"])
def test_no_page_loads_anything_from_another_host(edition, book_html, student_html):
    html_dir = book_html if edition == "book" else student_html
    offenders = []
    for p in html_pages(html_dir):
        for m in _EXTERNAL_LOAD.finditer((html_dir / p).read_text(errors="replace")):
            tag = m.group(0)
            # <link rel="canonical"/"alternate"> and similar are links, not loads.
            if tag.lower().startswith("<link") and not re.search(
                    r"rel=[\"'](?:stylesheet|preload|modulepreload|icon|shortcut icon)",
                    tag, re.I):
                continue
            offenders.append(f"{p}: {tag[:120]}")
    assert not offenders, "pages load resources from other hosts:\n" + "\n".join(offenders)


@pytest.mark.book
def test_vendor_assets_are_the_installed_packages(book_html):
    served = book_html / "_static"
    for target, src in offline_assets.sources().items():
        dest = served / target
        if src.is_dir():
            for path in src.rglob("*"):
                if path.is_file():
                    copy = dest / path.relative_to(src)
                    assert copy.is_file() and copy.stat().st_size == path.stat().st_size, \
                        f"{copy} is missing or differs from {path}"
        else:
            assert filecmp.cmp(src, dest, shallow=False), f"{dest} differs from {src}"
    mathjax = [p for p in html_pages(book_html)
               if "vendor/mathjax/tex-mml-chtml.js" in (book_html / p).read_text()]
    assert mathjax, "no page loads the book's own MathJax"


@pytest.mark.book
def test_pages_with_figures_load_plotly_from_the_book(book_html):
    with_figures = {p for p in html_pages(book_html)
                    if 'class="plotly-graph-div' in (book_html / p).read_text()}
    assert with_figures, "no page has a plotly figure (the landing page should)"
    assert "api.html" not in with_figures, "the API page has no figure"
    for p in html_pages(book_html):
        text = (book_html / p).read_text()
        m = re.search(r'<script src="[^"]*_static/vendor/plotly/plotly\.min\.js[^"]*"', text)
        if p not in with_figures:
            assert not m, f"{p} has no figure but loads plotly.js"
            continue
        assert m, f"{p} has figures but does not load the book's plotly.js"
        assert m.start() < text.index('class="plotly-graph-div'), \
            f"{p} loads plotly.js after its first figure"
        assert not re.search(r"<script[^>]+src=\"[^\"]*require(\.min)?\.js", text), \
            f"{p} loads require.js (plotly.js would register as an AMD module, not Plotly)"


# ---------------------------------------------------------------- rendering problems
@pytest.mark.book
def test_no_docutils_problems_in_pages(book_html):
    """Docstring or markup errors that docutils renders inline instead of warning."""
    bad = []
    for p in html_pages(book_html):
        text = (book_html / p).read_text(errors="replace")
        for cls in ("problematic", "system-message"):
            for m in re.finditer(rf'class="{cls}"[^>]*>(.{{0,80}})', text):
                bad.append(f"{p}: {cls}: {html.unescape(re.sub('<[^>]+>', '', m.group(1)))}")
    assert not bad, ("markup errors rendered into pages (in docstrings: escape |x| as "
                     "``|x|``):\n" + "\n".join(bad))


@pytest.mark.book
def test_no_widget_manager_needed(book_html):
    """Live widgets are not rendered in the static book; nothing may try to load them."""
    for p in html_pages(book_html):
        text = (book_html / p).read_text(errors="replace")
        assert "@jupyter-widgets/html-manager" not in text, p
        assert "embed-amd.js" not in text, p


# ---------------------------------------------------------------- completeness
def _public_modules() -> list[str]:
    return sorted(f"rnn_tutor.{m.name}" for m in pkgutil.iter_modules(rnn_tutor.__path__)
                  if not m.name.startswith("_"))


def test_api_reference_documents_every_public_module():
    api = (ROOT / "book" / "api.md").read_text()
    documented = set(re.findall(r"automodule::\s*(rnn_tutor[\w.]*)", api))
    missing = [m for m in _public_modules() if m not in documented]
    assert not missing, f"add these modules to book/api.md: {missing}"
    for m in documented:
        assert importlib.util.find_spec(m) is not None, f"book/api.md documents missing {m}"


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        assert part.get("chapters"), f"empty part in _toc.yml: {part.get('caption')}"
        files += [c["file"] for c in part["chapters"]]
    return files


def test_toc_lists_existing_pages_and_every_chapter():
    files = _toc_files()
    for f in files:
        assert any((ROOT / f).with_suffix(s).is_file() for s in (".md", ".ipynb")), \
            f"_toc.yml lists {f}, which does not exist"
    chapters = sorted(p.relative_to(ROOT).with_suffix("").as_posix()
                      for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    missing = [c for c in chapters if c not in files]
    assert not missing, f"chapters missing from _toc.yml: {missing}"


@pytest.mark.book
def test_every_toc_page_was_built(book_html):
    for f in _toc_files():
        assert (book_html / f"{f}.html").is_file(), f"{f} is in _toc.yml but was not built"


# ---------------------------------------------------------------- reader features
@pytest.mark.book
@pytest.mark.parametrize("edition", ["book", "student"])
def test_chapters_have_launch_download_and_repository_buttons(edition, book_html, student_html):
    """Launch buttons open the edition's branch: main for the book, the stripped `student`
    branch (pushed by the publish workflow) for the student edition."""
    book_html = book_html if edition == "book" else student_html
    branch = CONFIG["repository"]["branch"]
    if edition == "student":
        branch = yaml.safe_load((ROOT / "student.yml").read_text())["repository"]["branch"]
        assert branch != CONFIG["repository"]["branch"], "students would open the solutions"
    org_repo = REPO_URL.rstrip("/").split("github.com/")[1]
    chapters = [p for p in html_pages(book_html) if p.startswith("notebooks/")]
    assert chapters
    for p in chapters:
        text = (book_html / p).read_text()
        nb = Path(p).with_suffix(".ipynb").as_posix()
        assert f"https://mybinder.org/v2/gh/{org_repo}/{branch}?urlpath=lab/tree/{nb}" in text
        assert f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/{nb}" in text
        # A JupyterHub button only where _config.yml names a real hub (none by default).
        hub = bool(CONFIG["launch_buttons"].get("jupyterhub_url"))
        assert ("hub/user-redirect/git-pull?repo=" in text) == hub, f"{p}: JupyterHub button"
        assert "example.org" not in text, f"{p}: a placeholder address"
        assert f'href="{REPO_URL}"' in text and f"{REPO_URL}/issues/new" in text
        download = re.search(r'href="([^"]*_sources/[^"]*\.ipynb)"', text)
        assert download, f"{p}: no .ipynb download button"
        assert (book_html / p).parent.joinpath(download.group(1)).resolve().is_file()
        assert "theme-switch-button" in text, f"{p}: no dark-mode switch"
        assert "search" in text and (book_html / "searchindex.js").is_file()


@pytest.mark.book
@pytest.mark.parametrize("edition", ["book", "student"])
def test_root_page_redirects_with_the_books_icon(edition, book_html, student_html):
    """The site's root index.html sends the reader to the first page and names an icon that
    exists, so a browser following it never asks for the missing /favicon.ico."""
    root = book_html if edition == "book" else student_html
    page = (root / "index.html").read_text()
    first = yaml.safe_load((ROOT / "_toc.yml").read_text())["root"] + ".html"
    assert f'content="0; url={first}"' in page and f'href="{first}"' in page, page
    icons = re.findall(r'<link rel="icon" href="([^"]+)"', page)
    assert icons and all((root / icon).is_file() for icon in icons), \
        f"root index.html should name the book's icon; it names {icons}"
    assert '<html lang="en">' in page and "<title>" in page, page
