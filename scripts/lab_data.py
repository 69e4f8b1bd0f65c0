"""Write the bibliography and the glossary that rnn-tutor's JupyterLab extension shows.

jupyterlab-myst has no bibliography and sees no glossary outside the notebook: it renders
every ``{cite}`` as "Citation Not Found" (jupyter-book/jupyterlab-myst#127) and every
``{term}`` as a link whose hover card reports a missing target. ``labextension/`` replaces
them with what the book prints: ``{cite}`` as ``[BSF94, PMB13]``, ``{cite:t}`` as
``Pascanu et al. [PMB13]`` (the full reference as the label's tooltip), and each term as a
link to its entry in the online glossary with the definition as its tooltip.

This script writes the data, from the book's own sources:

- ``labextension/static/citations.json`` from ``book/references.bib``, formatted as the
  book's sphinxcontrib-bibtex does (pybtex's alpha style: the same labels and text);
- ``labextension/static/glossary.json`` from ``book/glossary.md``: every term (aliases
  too) with its anchor on the book's glossary page and its definition as plain text.

Run it after editing either file; ``tests/test_lab_data.py`` fails while the data is stale
and checks it against the built book.

Usage: ``.venv/bin/python scripts/lab_data.py``
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from pybtex.database import parse_file
from pybtex.plugin import find_plugin

ROOT = Path(__file__).resolve().parent.parent
BIB = ROOT / "book" / "references.bib"
GLOSSARY = ROOT / "book" / "glossary.md"
STATIC = ROOT / "labextension" / "static"
CITATIONS = STATIC / "citations.json"
TERMS = STATIC / "glossary.json"
# {term}`text` or {term}`text <Glossary entry>` (labextension/static/remoteEntry.js has
# the same pattern as TERM).
TERM_ROLE = re.compile(r"\{term\}`([^`<]*?)\s*(?:<([^>]*)>)?`")


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


# TeX in definitions, as tooltip text (a tooltip shows no math): the commands the glossary
# uses, then any other command loses its backslash and groups lose their braces.
_TEX = {r"^\top": "\u1d40", r"\partial": "\u2202", r"\phi": "\u03c6", r"\odot": "\u2299",
        r"\sigma": "\u03c3", r"\gamma": "\u03b3", r"\rho": "\u03c1", r"\lambda": "\u03bb",
        r"\alpha": "\u03b1", r"\tau": "\u03c4", r"\dots": "\u2026", r"\cdot": "\u00b7",
        r"\le": "\u2264", r"\ge": "\u2265", r"\to": "\u2192", r"\lVert": "\u2016",
        r"\rVert": "\u2016", r"\sum": "\u03a3", r"\,": " ", r"\;": " "}


def _tex(math: str) -> str:
    for command, char in _TEX.items():
        math = re.sub(re.escape(command) + r"(?![A-Za-z])", char, math)
    math = re.sub(r"\\(?:operatorname|text|mathrm)\{([^}]*)\}", r"\1", math)
    math = re.sub(r"_\{([^{}]*)\}",                 # h_{t-1} -> h_(t-1), W_{xh} -> W_xh
                  lambda m: "_" + (m[1] if m[1].isalnum() else f"({m[1]})"), math)
    return re.sub(r"\\([A-Za-z]+)", r"\1", math).replace("{", "").replace("}", "")


def _plain(text: str, bib: dict) -> str:
    """A definition's MyST as tooltip text: roles resolved, markup dropped, TeX as text."""
    def cite(m):
        refs = [bib[k.strip()] for k in m.group(2).split(",")]
        if m.group(1) == ":t":
            return ", ".join(f"{r['author']}{' et al.' if r['et_al'] else ''} [{r['label']}]"
                             for r in refs)
        return "[" + ", ".join(r["label"] for r in refs) + "]"

    text = re.sub(r"\{cite(:t|:p)?\}`([^`]*)`", cite, text)
    text = TERM_ROLE.sub(r"\1", text)
    text = re.sub(r"\*\*?([^*]+)\*\*?|`([^`]*)`",
                  lambda m: m.group(1) or m.group(2), text)
    text = re.sub(r"\$([^$]*)\$", lambda m: _tex(m.group(1)), text)
    return " ".join(text.split())


def glossary(path: Path = GLOSSARY, bib: dict | None = None) -> dict[str, dict]:
    """Each term of the book's glossary, lower-cased (as ``{term}`` matches it): the term
    as written, its anchor on the glossary page (Sphinx's ``term-`` id) and a link to it in
    the published book, and its definition as plain text."""
    bib = citations() if bib is None else bib
    body = re.search(r"```\{glossary\}\n(.*?)\n```", path.read_text(encoding="utf-8"), re.S)
    base = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["baseurl"]
    out = {}
    for block in re.split(r"\n\s*\n", body.group(1).strip()):
        lines = block.splitlines()
        names = [line.strip() for line in lines if not line.startswith(" ")]
        definition = _plain(" ".join(line.strip() for line in lines if line.startswith(" ")),
                            bib)
        for name in names:
            anchor = "term-" + re.sub(r"\s+", "-", name)
            out[name.lower()] = {"term": name, "anchor": anchor,
                                 "link": f"{base.rstrip('/')}/book/glossary.html#{anchor}",
                                 "text": f"{names[0]}: {definition}"}
    return dict(sorted(out.items()))


def _json(data) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def render() -> dict[Path, str]:
    """Each file's content: stable order, one trailing newline."""
    bib = citations()
    return {CITATIONS: _json(bib), TERMS: _json(glossary(bib=bib))}


if __name__ == "__main__":
    for path, text in render().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {len(json.loads(text))} entries to {path.relative_to(ROOT)}")
