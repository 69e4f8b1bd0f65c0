"""Write the bibliography that rnn-tutor's JupyterLab extension shows for ``{cite}`` roles.

jupyterlab-myst renders every citation as "Citation Not Found" (it has no bibliography;
jupyter-book/jupyterlab-myst#127). ``labextension/`` replaces each one with what the book
prints: ``{cite}`` as ``[BSF94, PMB13]``, ``{cite:t}`` as ``Pascanu et al. [PMB13]``, the
full reference as the label's tooltip. This script formats ``book/references.bib`` the way
the book's sphinxcontrib-bibtex does (pybtex's alpha style: the same labels and text) into
``labextension/static/citations.json``. Run it after editing the bibliography;
``tests/test_lab_citations.py`` fails while the file is stale and checks every citation
of the built book against it.

Usage: ``.venv/bin/python scripts/lab_citations.py``
"""

from __future__ import annotations

import json
from pathlib import Path

from pybtex.database import parse_file
from pybtex.plugin import find_plugin

ROOT = Path(__file__).resolve().parent.parent
BIB = ROOT / "book" / "references.bib"
OUT = ROOT / "labextension" / "static" / "citations.json"


def _authors(persons) -> tuple[str, bool]:
    """The narrative form sphinxcontrib-bibtex prints: one or two surnames, else the
    first with "et al." (returned as a flag: the book sets it in italics)."""
    surnames = [" ".join(p.prelast_names + p.last_names) for p in persons]
    if len(surnames) > 2:
        return surnames[0], True
    return " and ".join(surnames), False


def _link(fields) -> str | None:
    if "doi" in fields:
        return f"https://doi.org/{fields['doi']}"
    if "eprint" in fields:
        return f"https://arxiv.org/abs/{fields['eprint']}"
    return fields.get("url")


def citations(bib: Path = BIB) -> dict[str, dict]:
    """Each key of ``bib``: its label, narrative authors, full text and link."""
    entries = parse_file(str(bib)).entries
    style = find_plugin("pybtex.style.formatting", "alpha")()
    out = {}
    for formatted in style.format_entries(entries.values()):
        entry = entries[formatted.key]
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        author, et_al = _authors(persons)
        out[formatted.key] = {"label": formatted.label, "author": author, "et_al": et_al,
                              "text": formatted.text.render_as("text"),
                              "link": _link(entry.fields)}
    return dict(sorted(out.items()))


def render(bib: Path = BIB) -> str:
    """The file's content: stable order, one trailing newline."""
    return json.dumps(citations(bib), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {len(citations())} references to {OUT.relative_to(ROOT)}")
