"""The student edition's sources: every {solution} block removed, nothing else changed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import student_sources as ss  # noqa: E402

PAGE = """Intro.

```{exercise}
:label: ex-a

Question A?
```

```{solution} ex-a
:class: dropdown

Answer A.
```

Between.

````{solution} ex-b
Answer B with code:

```python
print("nested fence")
```
````

:::{solution} ex-c
Answer C.
:::
Outro.
"""


def test_strip_solutions_removes_every_fence_style_and_keeps_the_rest():
    out = ss.strip_solutions(PAGE)
    for answer in ("Answer A", "Answer B", "nested fence", "Answer C", "{solution}"):
        assert answer not in out
    for kept in ("Intro.", "```{exercise}", "Question A?", "Between.", "Outro."):
        assert kept in out
    assert "\n\n\n" not in out and out.endswith("\n")
    assert ss.strip_solutions(out) == out, "stripping twice changes nothing more"


def test_strip_solutions_keeps_text_without_solutions():
    text = "A page.\n\n```python\nx = 1\n```\n"
    assert ss.strip_solutions(text) == text


def _nb(*cells):
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": list(cells)}


def _cell(kind, text, **extra):
    cell = {"cell_type": kind, "id": f"c{abs(hash(text)) % 10**6}", "metadata": {},
            "source": text.splitlines(keepends=True), **extra}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


def test_strip_notebook_drops_emptied_cells_and_never_touches_code():
    code = _cell("code", "# {solution} in a comment stays: code is never changed\nx = 1\n")
    nb = _nb(_cell("markdown", "Text.\n\n```{solution} e\nA.\n```\n"),
             _cell("markdown", "```{solution} f\nB.\n```\n"), code)
    out = ss.strip_notebook(nb)
    assert [c["cell_type"] for c in out["cells"]] == ["markdown", "code"]
    assert "".join(out["cells"][0]["source"]) == "Text.\n"
    assert out["cells"][1] == code
    assert len(nb["cells"]) == 3, "the input notebook is not modified"


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")),
                         ids=lambda p: p.stem)
def test_every_chapter_strips_to_the_same_code_and_exercises(path, tmp_path):
    ss.strip_file(path, tmp_path / path.name)
    before = json.loads(path.read_text())
    after = json.loads((tmp_path / path.name).read_text())
    text = lambda nb, kind: ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]  # noqa: E731
    assert text(after, "code") == text(before, "code"), "code cells must hash the same"
    md_before, md_after = "\n".join(text(before, "markdown")), "\n".join(text(after, "markdown"))
    assert "{solution}" in md_before and "{solution}" not in md_after
    assert md_before.count("{exercise}") == md_after.count("{exercise}")


def test_write_student_sources_copies_book_and_notebooks(tmp_path):
    dest = ss.write_student_sources(tmp_path / "src")
    for folder in ss.SOURCE_DIRS:
        originals = {p.relative_to(ROOT) for p in (ROOT / folder).rglob("*") if p.is_file()
                     and not {"__pycache__", ".ipynb_checkpoints"} & set(p.parts)}
        copies = {p.relative_to(dest) for p in (dest / folder).rglob("*") if p.is_file()}
        assert copies == originals
    for page in list((dest / "notebooks").glob("*.ipynb")) + list((dest / "book").glob("*.md")):
        if page.name != "instructor.md":  # the guide shows how to write one; not in the edition
            assert "{solution}" not in page.read_text(), page
    assert (dest / "book" / "references.bib").read_bytes() == \
        (ROOT / "book" / "references.bib").read_bytes()
