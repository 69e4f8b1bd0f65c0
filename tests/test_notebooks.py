"""The chapter notebooks as files: valid nbformat 4.5 (every cell has a unique id, which
nbformat will soon require), stored without outputs, and run by the same kernel name."""

from __future__ import annotations

import ast
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


def _silent_asserts(source: str) -> list[str]:
    """The asserts in a code cell that carry no message (IPython magics read as `pass`)."""
    lines = [line[:len(line) - len(line.lstrip())] + "pass"
             if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
    code = "\n".join(lines)
    return [ast.get_source_segment(code, node).split("\n")[0]
            for node in ast.walk(ast.parse(code))
            if isinstance(node, ast.Assert) and node.msg is None]


def test_silent_assert_check_finds_them():
    cell = "try:\n    import x\nexcept ImportError:\n    %pip install x\nassert a\nassert b, 'b'"
    assert _silent_asserts(cell) == ["assert a"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_assert_says_what_failed(path):
    """A reader who changes the seed and breaks a claim learns what was claimed and what
    was measured, not a bare AssertionError."""
    cells = json.loads(path.read_text())["cells"]
    silent = [f"cell {k}: {line}" for k, c in enumerate(cells) if c["cell_type"] == "code"
              for line in _silent_asserts("".join(c["source"]))]
    assert not silent, "asserts without a message:\n" + "\n".join(silent)
