"""Running the book elsewhere: Binder's environment, the CI and publish workflows, and
one public address for the repository and the published book."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"].rstrip("/")
BOOK_URL = CONFIG["html"]["baseurl"].rstrip("/")
WORKFLOWS = ROOT / ".github" / "workflows"


def _pins(path: Path) -> dict:
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", line.strip())
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def test_binder_takes_cpu_torch_of_the_pinned_version_and_every_other_pin():
    text = (ROOT / "binder" / "requirements.txt").read_text()
    root_torch = _pins(ROOT / "requirements.txt")["torch"]
    assert _pins(ROOT / "binder" / "requirements.txt")["torch"] == f"{root_torch}+cpu"
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    assert re.search(r"^-r \.\./requirements\.txt$", text, re.M), "binder skips the pins"


def test_binder_installs_the_package():
    post = ROOT / "binder" / "postBuild"
    assert post.stat().st_mode & 0o111, "postBuild must be executable"
    assert re.search(r"pip install .*--no-deps.* \.$", post.read_text(), re.M)


def test_workflows_are_valid_and_run_the_readme_commands():
    ci = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    steps = [s.get("run", "") for job in ci["jobs"].values() for s in job["steps"]]
    assert "bash .ci/run" in steps
    # YAML reads the key `on` as True.
    assert {"push", "pull_request"} <= set(ci[True])
    publish = yaml.safe_load((WORKFLOWS / "publish.yml").read_text())
    runs = " ".join(s.get("run", "") for job in publish["jobs"].values()
                    for s in job["steps"])
    assert "make book student" in runs and "_build/html/student" in runs
    # The student edition's launch buttons open the branch this workflow fills with the
    # stripped sources (student.yml names it).
    branch = yaml.safe_load((ROOT / "student.yml").read_text())["repository"]["branch"]
    assert "scripts/student_sources.py --in-place" in runs
    assert f"git push --force origin {branch}" in runs
    assert publish["permissions"]["contents"] == "write"
    uses = [s.get("uses", "") for job in publish["jobs"].values() for s in job["steps"]]
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_one_public_address_everywhere():
    """Every repository or book address in the project's files is the one in _config.yml."""
    files = [ROOT / "README.md", ROOT / "_config.yml", *sorted((ROOT / "binder").iterdir()),
             *sorted(WORKFLOWS.iterdir()), *sorted((ROOT / "book").glob("*.md"))]
    found = {}
    for path in files:
        for url in re.findall(r"https://(?:github\.com|[\w-]+\.github\.io|mybinder\.org/v2/gh)"
                              r"/[\w./?=&%-]*", path.read_text()):
            found.setdefault(url, path.name)
    owner_repo = REPO_URL.split("github.com/")[1]
    for url, where in found.items():
        assert owner_repo in url or url.startswith(BOOK_URL), f"{where}: {url}"
    assert "example.org" not in (ROOT / "_config.yml").read_text()
