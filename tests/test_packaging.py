"""The package as a user gets it: a wheel and an sdist built from the sources, installed
into a fresh virtual environment with no editable install, import every module."""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import rnn_tutor

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for p in (ROOT / "rnn_tutor").rglob("*.py"))

SMOKE = """
import importlib, sys
import numpy as np
import torch
import rnn_tutor
for name in sys.argv[1:]:
    importlib.import_module(name)
assert rnn_tutor.__file__.startswith(sys.prefix), rnn_tutor.__file__
module = torch.nn.LSTM(3, 4, num_layers=2, dtype=torch.float64)
x = np.random.default_rng(0).standard_normal((5, 2, 3))
out, _ = rnn_tutor.from_torch(module).forward(x)
expected, _ = module(torch.from_numpy(x))
assert np.allclose(out, expected.detach().numpy()), "NumPy mirror differs from torch"
print(rnn_tutor.__version__, len(sys.argv) - 1, "modules")
"""


def _build(source: Path, out: Path, kind: str) -> Path:
    """Build a wheel or an sdist of ``source`` into ``out`` with setuptools' PEP 517
    backend, as pip and ``python -m build`` do (no network: the backend is installed)."""
    code = ("import sys; from setuptools import build_meta as b; "
            f"print(b.build_{kind}(sys.argv[1]))")
    name = subprocess.run([sys.executable, "-c", code, str(out)], cwd=source, check=True,
                          capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return out / name


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """A wheel built from the sdist, which is built from a copy of the sources."""
    tmp = tmp_path_factory.mktemp("dist")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "rnn_tutor", src / "rnn_tutor",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "labextension", src / "labextension")
    sdist = _build(src, tmp, "sdist")
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", filter="data")
    (unpacked,) = (tmp / "unpacked").iterdir()
    wheel = _build(unpacked, tmp, "wheel")
    return sdist, wheel


def _module_files(names):
    return sorted(n.split("rnn_tutor/", 1)[1] for n in names
                  if "rnn_tutor/" in n and n.endswith(".py") and ".egg-info" not in n)


def test_sdist_and_wheel_hold_every_module(dists):
    sdist, wheel = dists
    expected = sorted(str(p.relative_to(ROOT / "rnn_tutor"))
                      for p in (ROOT / "rnn_tutor").rglob("*.py"))
    with tarfile.open(sdist) as tar:
        assert _module_files(tar.getnames()) == expected
    with zipfile.ZipFile(wheel) as zf:
        assert _module_files(zf.namelist()) == expected
    assert f"-{rnn_tutor.__version__}-" in wheel.name, wheel.name


LABEXTENSION = sorted(str(p.relative_to(ROOT / "labextension"))
                      for p in (ROOT / "labextension").rglob("*") if p.is_file())
LAB_DIR = "share/jupyter/labextensions/rnn-tutor-lab"


def test_wheel_carries_the_jupyterlab_extension(dists):
    _, wheel = dists
    prefix = f"rnn_tutor-{rnn_tutor.__version__}.data/data/{LAB_DIR}/"
    with zipfile.ZipFile(wheel) as zf:
        held = {n.removeprefix(prefix): zf.read(n) for n in zf.namelist() if n.startswith(prefix)}
    assert sorted(held) == LABEXTENSION, f"wheel has {sorted(held)}, repository {LABEXTENSION}"
    for name in LABEXTENSION:
        assert held[name] == (ROOT / "labextension" / name).read_bytes(), f"{name} differs"


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_runs(dists, tmp_path):
    _, wheel = dists
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Dependencies (numpy, torch, ...) come from this environment's site-packages, added
    # as a plain path: .pth files there, such as the editable install's finder, are not run.
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                    str(wheel)], check=True)
    result = subprocess.run([str(python), "-c", SMOKE, *MODULES], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{len(MODULES)} modules" in result.stdout
    installed = venv / LAB_DIR
    for name in LABEXTENSION:
        assert (installed / name).is_file(), f"the wheel did not install {LAB_DIR}/{name}"
