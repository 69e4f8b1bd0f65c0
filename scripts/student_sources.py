"""The student edition's sources: the book's pages and chapters with every solution removed.

    python scripts/student_sources.py DEST        # write stripped copies under DEST
    python scripts/student_sources.py --in-place  # strip this working tree (publish workflow)

sphinx-exercise's ``hide_solutions`` only keeps solutions out of the HTML; the notebooks a
reader downloads (``_sources/``) or opens with a launch button are the sources themselves.
So the student edition is built from copies in which every ``{solution}`` block is gone
from every markdown cell and page; the exercises stay. Code cells are not touched, so the
copies hash like the originals in the execution cache and the student build reuses the
main build's execution.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: What the student edition's sources are made of, relative to the repository root.
SOURCE_DIRS = ("book", "notebooks")
STRIPPED_SUFFIXES = (".md", ".ipynb")

# A {solution} directive fenced with backticks or colons (three or more), up to the
# closing fence of the same length, or to the end of the cell where it is left open (as
# Markdown closes it there); nested shorter fences stay inside.
_SOLUTION = re.compile(r"^(?P<fence>`{3,}|:{3,})\{solution\}[^\n]*(?:\n.*?^(?P=fence)[ \t]*$|.*\Z)"
                       r"\n?", re.S | re.M)


def strip_solutions(markdown: str) -> str:
    """``markdown`` without its ``{solution}`` blocks (and the blank lines they leave)."""
    text = _SOLUTION.sub("", markdown)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + ("\n" if markdown.endswith("\n")
                                                          else "")


def strip_notebook(nb: dict) -> dict:
    """A copy of notebook ``nb`` (nbformat JSON) whose markdown cells hold no solution;
    cells left empty are dropped."""
    out = dict(nb)
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            text = strip_solutions("".join(cell["source"]))
            if not text.strip():
                continue
            cell = dict(cell, source=text.splitlines(keepends=True))
        cells.append(cell)
    out["cells"] = cells
    return out


def strip_file(src: Path, dest: Path) -> None:
    """Write ``src`` to ``dest``, solutions removed if it is a page or a notebook."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.suffix == ".ipynb":
        nb = strip_notebook(json.loads(src.read_text(encoding="utf-8")))
        dest.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    elif src.suffix == ".md":
        dest.write_text(strip_solutions(src.read_text(encoding="utf-8")), encoding="utf-8")
    elif src != dest:
        shutil.copy2(src, dest)


def write_student_sources(dest: Path, root: Path = ROOT) -> Path:
    """Copy ``SOURCE_DIRS`` of ``root`` to ``dest`` (or strip them in place when ``dest`` is
    ``root``), every solution removed; return ``dest``."""
    for folder in SOURCE_DIRS:
        for src in sorted((root / folder).rglob("*")):
            if not src.is_file() or {"__pycache__", ".ipynb_checkpoints"} & set(src.parts):
                continue
            target = dest / src.relative_to(root)
            if src.suffix in STRIPPED_SUFFIXES or target != src:
                strip_file(src, target)
    return dest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("dest", nargs="?", type=Path, help="folder for the stripped copies")
    where.add_argument("--in-place", action="store_true",
                       help="strip book/ and notebooks/ of this working tree")
    args = parser.parse_args(argv)
    dest = write_student_sources(ROOT if args.in_place else args.dest.resolve())
    print(f"student sources (no solutions) in {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
