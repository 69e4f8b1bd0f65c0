"""Shared fixtures: where the built books are, and a local server plus headless Chromium
for the browser tests (tests marked ``browser``)."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK_HTML = ROOT / "_build" / "html"
STUDENT_HTML = ROOT / "_build_student" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
BUILD_HINT = "run `make book` (scripts/build_book.py) first"

# Debian's Chromium (Playwright cannot download its own browser here); flags: no sandbox
# (containers), no GPU, and no background traffic of the browser's own that would show
# up as requests to other hosts.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Run torch on one thread in every test: the tests use tiny tensors, and on a busy
    2-core machine torch's idle OpenMP threads spin-wait against the other pytest worker
    (a 2-thread float32 LSTM call on 3x2x3 inputs took 1 s instead of 5 ms)."""
    import torch

    torch.set_num_threads(1)
    yield


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "book: reads the built book (_build/html, _build_student/html); "
        "fails when a build is missing")


def html_pages(html_dir: Path) -> list[str]:
    """Every built page, as a path relative to ``html_dir`` (assets excluded)."""
    if not html_dir.is_dir():
        return []
    return sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
                  if p.relative_to(html_dir).parts[0] not in ("_static", "_sources"))


def require_build(html_dir: Path) -> Path:
    """Fail (never skip) when a build the test needs is missing."""
    if not (html_dir / "index.html").is_file():
        pytest.fail(f"{html_dir.relative_to(ROOT)} has not been built: {BUILD_HINT}")
    return html_dir


@pytest.fixture(scope="session")
def book_html() -> Path:
    return require_build(BOOK_HTML)


@pytest.fixture(scope="session")
def student_html() -> Path:
    return require_build(STUDENT_HTML)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


@pytest.fixture(scope="session")
def book_server(book_html):
    """Serve _build/html on 127.0.0.1 (a free port) from a thread; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(book_html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session; each test opens its own context."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                     headless=True)
        yield browser
        browser.close()
