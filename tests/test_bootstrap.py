"""Every chapter runs where rnn_tutor is not installed (Colab and other hosted notebooks):
its first code cell installs the package from the book's repository if it is missing,
does nothing (and prints nothing) where it is installed, and is hidden in the book."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
SPEC = f'rnn_tutor @ git+{REPOSITORY["url"].rstrip("/")}@{REPOSITORY["branch"]}'


def _code_cells(path):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def _source(cell):
    return "".join(cell["source"])


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_first_code_cell_is_the_hidden_bootstrap_then_the_parameters(path):
    first, second = _code_cells(path)[:2]
    assert "remove-cell" in first["metadata"].get("tags", []), "bootstrap must be hidden"
    assert f'%pip install --quiet "{SPEC}"' in _source(first), "install from the repository"
    assert "parameters" in second["metadata"].get("tags", []), "parameters cell follows"
    assert "seed" in _source(second)


def _run(source, monkeypatch, importable):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    calls = []
    monkeypatch.setattr(shell, "run_line_magic", lambda *args: calls.append(args))
    if not importable:
        monkeypatch.setitem(sys.modules, "rnn_tutor", None)   # import raises ImportError
    with capture_output() as captured:
        result = shell.run_cell(source)
    assert result.success, result.error_in_exec
    return calls, captured.stdout


@pytest.mark.parametrize("path", CHAPTERS[:1] + CHAPTERS[-1:], ids=lambda p: p.stem)
def test_bootstrap_installs_only_when_the_package_is_missing(path, monkeypatch):
    source = _source(_code_cells(path)[0])
    calls, out = _run(source, monkeypatch, importable=True)
    assert calls == [] and out == "", "must do nothing, silently, where rnn_tutor imports"
    calls, out = _run(source, monkeypatch, importable=False)
    assert calls == [("pip", f'install --quiet "{SPEC}"')]
    assert len(out.strip().splitlines()) == 1 and "rnn_tutor" in out


def test_every_chapter_has_the_same_bootstrap():
    assert len({_source(_code_cells(p)[0]) for p in CHAPTERS}) == 1
