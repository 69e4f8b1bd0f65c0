"""The data of the JupyterLab extension (labextension/static/): current with the book's
bibliography and glossary, printing every citation exactly as the built book, and naming
a glossary entry of the built book for every {term} of the chapters."""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import lab_data  # noqa: E402

# One citation of the built book: sphinxcontrib-bibtex wraps each role in a span with an
# id; its labels are links to the references page with the full reference as title.
CITATION = re.compile(r'<span id="id\d+">((?:(?!</span>).)*?references\.html#.*?\])</span>', re.S)
LABEL = re.compile(r'<a class="reference internal" href="[^"]*references\.html#[^"]*" '
                   r'title="([^"]*)">([^<]*)</a>')


def _bib() -> dict:
    return json.loads(lab_data.CITATIONS.read_text(encoding="utf-8"))


def _glossary() -> dict:
    return json.loads(lab_data.TERMS.read_text(encoding="utf-8"))


def test_the_data_is_current():
    for path, text in lab_data.render().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(ROOT)} is older than book/references.bib or "
            "book/glossary.md: run .venv/bin/python scripts/lab_data.py")


def test_every_key_has_a_label_and_a_text():
    bib = _bib()
    assert len(bib) == len(re.findall(r"^@\w+\{", (ROOT / "book/references.bib").read_text(),
                                      re.M)), "a reference of the .bib is missing"
    labels = [ref["label"] for ref in bib.values()]
    assert len(set(labels)) == len(labels), f"labels repeat: {sorted(labels)}"
    for key, ref in bib.items():
        assert ref["label"] and ref["author"] and ref["text"], f"{key}: {ref}"
        assert ref["link"] is None or ref["link"].startswith("https://"), f"{key}: {ref['link']}"


def _shown(fragment: str) -> str:
    """An HTML fragment as the reader sees it: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def book_citations(page: Path) -> list[str]:
    """The citations of a built page as text, in order ("Pascanu et al. [PMB13]")."""
    return [_shown(m.group(1)) for m in CITATION.finditer(page.read_text(encoding="utf-8"))]


@pytest.mark.book
def test_labels_texts_and_authors_match_the_built_book(book_html):
    by_label = {ref["label"]: ref for ref in _bib().values()}
    checked = 0
    for page in sorted((book_html / "notebooks").glob("*.html")):
        for m in CITATION.finditer(page.read_text(encoding="utf-8")):
            labels = LABEL.findall(m.group(1))
            assert labels, f"{page.name}: no label in {m.group(1)[:200]}"
            for title, label in labels:
                ref = by_label.get(label)
                assert ref is not None, f"{page.name}: the book prints {label}, the extension has no such label"
                assert ref["text"] == html.unescape(title), f"{label}: book {title!r}, extension {ref['text']!r}"
            shown = _shown(m.group(1))
            if not shown.startswith("["):                       # {cite:t}: "Author [L]"
                ref = by_label[labels[0][1]]
                expected = ref["author"] + (" et al." if ref["et_al"] else "") + f" [{ref['label']}]"
                assert shown == expected, f"{page.name}: book {shown!r}, extension {expected!r}"
            checked += 1
    assert checked > 150, f"only {checked} citations found in the built chapters"


def _chapter_terms() -> set[str]:
    """The glossary entry of every {term} role in the chapters' markdown, lower-cased."""
    found = set()
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "markdown":
                for shown, target in lab_data.TERM_ROLE.findall("".join(cell["source"])):
                    found.add((target or shown).strip().lower())
    return found


def test_every_term_of_the_chapters_has_an_entry():
    terms, glossary = _chapter_terms(), _glossary()
    assert len(terms) > 30, f"only {len(terms)} distinct terms found in the chapters"
    assert terms <= set(glossary), f"no glossary entry for {sorted(terms - set(glossary))}"


def test_definitions_are_plain_text():
    for key, entry in _glossary().items():
        text = entry["text"]
        assert entry["link"].endswith("/book/glossary.html#" + entry["anchor"]), entry["link"]
        assert not re.search(r"[$`{}\\]", text), f"{key}: markup left in {text!r}"
    jacobian = _glossary()["jacobian"]["text"]
    assert "\u2202 h_t / \u2202 h_(t-1)" in jacobian, jacobian


@pytest.mark.book
def test_term_anchors_exist_in_the_built_glossary(book_html):
    page = (book_html / "book" / "glossary.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="(term-[^"]+)"', page))
    missing = {e["anchor"] for e in _glossary().values()} - anchors
    assert not missing, f"the built glossary has no {sorted(missing)}"


def test_the_extension_reads_terms_with_the_same_pattern():
    js = (ROOT / "labextension" / "static" / "remoteEntry.js").read_text(encoding="utf-8")
    found = re.search(r"const TERM = /(.*)/g;", js)
    assert found and found.group(1) == lab_data.TERM_ROLE.pattern, (
        f"remoteEntry.js's TERM {found and found.group(1)!r} differs from "
        f"lab_data.TERM_ROLE {lab_data.TERM_ROLE.pattern!r}")
