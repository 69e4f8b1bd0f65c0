"""scripts/claims.py (``make claims``): a chapter executed under several seeds, with the
seed injected into its parameters cell, and a report that says which seed broke which
claim. Runs on a tiny notebook (two kernels of about a second each), not on the chapters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "claims.py"
CLAIM = "claim: the seed is even; measured seed % 2 = "


def _notebook(path: Path, parameters: bool = True) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    params = nbformat.v4.new_code_cell("seed = 0")
    params.id = "tiny-01"
    if parameters:
        params.metadata["tags"] = ["parameters"]
    claim = nbformat.v4.new_code_cell(
        "import os\n"
        "measured = seed % 2\n"
        f"assert measured == 0, f'{CLAIM}{{measured}}'\n"
        "assert os.environ['OMP_NUM_THREADS'] == '1', 'one thread per kernel'\n"
        "assert os.environ['RNN_TUTOR_BOOK_BUILD'] == '1', 'the book build code paths'\n")
    claim.id = "tiny-02"
    nb.cells = [params, claim]
    nbformat.write(nb, path)
    return path


def test_report_says_which_seed_broke_which_claim(tmp_path):
    tiny = _notebook(tmp_path / "tiny.ipynb")
    bare = _notebook(tmp_path / "bare.ipynb", parameters=False)
    out = tmp_path / "claims"
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--seeds", "2", "3", "--timeout", "60",
         "--out", str(out), str(tiny), str(bare)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)

    report = (out / "report.md").read_text()
    assert report in proc.stdout  # printed as well as written
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in report.splitlines() if line.startswith("| ")}
    assert rows["chapter"] == ["seed 2", "seed 3"]
    passed, failed = rows["tiny"]
    assert passed.startswith("pass ("), report
    assert failed.startswith("**FAIL** in `tiny-02`"), report
    assert failed.endswith(f"AssertionError: {CLAIM}1"), report
    assert all("no cell tagged `parameters`" in cell for cell in rows["bare"]), report
    assert "1 of 4 runs passed" in report

    records = {(r["chapter"], r["seed"]): r
               for r in json.loads((out / "results.json").read_text())}
    assert records[("tiny", 2)]["passed"] and not records[("tiny", 3)]["passed"]
    assert records[("tiny", 3)]["cell"] == "tiny-02"
    # The executed notebooks are kept, with the injected seed after the parameters cell.
    executed = nbformat.read(out / "tiny-seed3.ipynb", as_version=4)
    injected = [c for c in executed.cells
                if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "seed = 3" in injected[0].source
