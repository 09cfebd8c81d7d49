"""Browser tests: Playwright (async API) drives Debian's Chromium against a real server.

The server is `uvicorn outreach.asgi:app` in a subprocess on a fresh SQLite data dir,
seeded by `tests/e2e/seed.py`: one per test process (each xdist worker that draws a
browser test starts its own, on a free port). Without /usr/bin/chromium (or npm for
axe-core) the tests skip on a developer's machine and fail on CI (CI=true).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import require_service

ROOT = Path(__file__).resolve().parents[2]
E2E = Path(__file__).resolve().parent
ARTIFACTS = ROOT / "tests" / "artifacts"
# The README's screenshots: docs/screenshots is rewritten only when asked
# (`SCREENSHOTS=docs ./scripts/test tests/e2e`); otherwise they go beside the other
# artifacts, so that a test run leaves the tracked files as they were.
DOCS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("SCREENSHOTS") == "docs"
    else ARTIFACTS / "screenshots"
)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = E2E / "node_modules" / "axe-core" / "axe.min.js"
# The running server's data folder (its SQLite file and the .eml mails it writes).
SERVER_DATA: dict[str, Path] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core from npm, installed from the committed package-lock.json on first use.

    Each xdist worker that runs a browser test asks for it: the first installs, under a
    lock, and the others wait for it and read the same file.
    """
    with (E2E / ".npm-install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not AXE.exists():
            npm = shutil.which("npm")
            if npm is None:
                require_service("npm (for axe-core)", "npm is not installed")
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"], cwd=E2E, check=True, capture_output=True
            )
    return AXE.read_text()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install -y chromium)")
    data_dir = tmp_path_factory.mktemp("e2e-data")
    SERVER_DATA["dir"] = data_dir
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "SMTP_URL", "PYTEST_CURRENT_TEST")
    }
    env |= {
        "OUTREACH_DATA_DIR": str(data_dir),
        "SECRET_KEY": "e2e-secret-key-that-is-long-enough-0123456789",
        "BASE_URL": base,
        "PYTHONPATH": str(ROOT),
        "RATE_LIMIT_PER_MINUTE": "1000",
    }
    subprocess.run(
        [sys.executable, "-m", "tests.e2e.seed"], cwd=ROOT, env=env, check=True, timeout=300
    )
    log = (data_dir / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "outreach.asgi:app", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120  # a loaded machine (2 cores, many suites) is slow
        while True:
            try:
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {data_dir / 'server.log'}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
async def browser(server: str) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        await browser.close()


@pytest.fixture
async def context(browser, server: str) -> AsyncIterator[object]:
    """A fresh browser profile per test (German, as most visitors), with the server's base."""
    ctx = await browser.new_context(
        base_url=server, locale="de-DE", viewport={"width": 1280, "height": 900}
    )
    yield ctx
    await ctx.close()


@pytest.fixture(scope="session")
def mail_dir(server: str) -> Path:
    """Where the server (embedded, no SMTP_URL) writes each mail as an .eml file."""
    return SERVER_DATA["dir"] / "mail"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
