"""The chapter notebooks as files: valid nbformat 4.5 (every cell has a unique id, which
nbformat will soon require), stored without outputs, and run by the same kernel name."""

from __future__ import annotations

import json
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
