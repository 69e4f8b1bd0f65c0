"""The chapter notebooks as files: valid nbformat 4.5 (every cell has a unique id, which
nbformat will soon require), stored without outputs, and run by the same kernel name."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_valid_and_stored_clean(path):
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)  # raises on a missing id in nbformat >= 4.5
    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5), "cell ids need nbformat 4.5"
    # From the file itself: nbformat.read fills in missing ids with a warning.
    ids = [cell.get("id") for cell in json.loads(path.read_text())["cells"]]
    assert all(ids) and len(set(ids)) == len(ids), f"cell ids missing or repeated: {ids}"
    stored = [i for i, c in enumerate(nb.cells)
              if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not stored, f"cells {stored} are stored with outputs; clear them before committing"
    assert nb.metadata.kernelspec.name == "python3"


def _directive_problems(markdown: str) -> list[str]:
    """MyST directive blocks (```{name} or :::{name}) that are never closed, or that hold
    another directive opened with the same fence (which then ends up inside them: an
    exercise swallowed by the solution before it disappears from the student edition)."""
    problems, lines, i = [], markdown.split("\n"), 0
    while i < len(lines):
        m = re.match(r"^(`{3,}|:{3,})\{([\w-]+)\}", lines[i])
        if not m:
            i += 1
            continue
        fence, j = m.group(1), i + 1
        while j < len(lines) and not re.fullmatch(re.escape(fence) + r"[ \t]*", lines[j]):
            if re.match(re.escape(fence) + r"\{", lines[j]):
                problems.append(f"{lines[i]!r} holds {lines[j]!r}; close it first")
            j += 1
        if j == len(lines):
            problems.append(f"{lines[i]!r} is never closed")
        i = j + 1
    return problems


def test_directive_check_catches_open_and_swallowing_blocks():
    assert _directive_problems("```{exercise}\nQ\n```\n\n```{solution} a\nA\n```\n") == []
    assert _directive_problems("````{solution} a\n```python\nx\n```\n````") == []
    assert len(_directive_problems("```{solution} a\nA\n")) == 1
    assert len(_directive_problems("```{solution} a\nA\n\n```{exercise}\nQ\n```")) == 1


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_directive_is_closed(path):
    cells = json.loads(path.read_text())["cells"]
    problems = [f"cell {k}: {p}" for k, c in enumerate(cells) if c["cell_type"] == "markdown"
                for p in _directive_problems("".join(c["source"]))]
    assert not problems, "\n".join(problems)
