"""A real browser for the console's end-to-end tests: Debian's chromium, headless,
driven by Playwright (browsers cannot be downloaded here; ``.ci/run`` installs the
``chromium`` package when it is missing).

Every step of a test keeps a screenshot in ``test-artifacts/console/<test>/``, so that a
page that works but looks broken can be seen.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = os.environ.get("SPARKSTUDIO_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A browser for one test. Playwright's synchronous API runs an event loop in this
    thread while it is open: kept for the whole session, it would break every later test
    that runs a loop of its own (asyncio.run)."""
    if not Path(CHROMIUM).exists():
        message = f"no chromium at {CHROMIUM}: install Debian's chromium package"
        if os.environ.get("CI"):  # CI must drive the browser: never skip silently there
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Screens:
    """Numbered screenshots of one test's steps."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.count = folder, 0
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)

    def shoot(self, page: Page, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower())}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def screens(request: pytest.FixtureRequest) -> Screens:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    return Screens(ARTIFACTS / name)


class BrowserErrors:
    """Uncaught script errors and console errors of the pages of one context."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.seen.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                self.seen.append(f"console: {message.text}")
                if message.type == "error" and "status of 4" not in message.text
                else None
            ),
        )


def new_context(browser: Browser, errors: BrowserErrors) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.on("page", errors.watch)
    return context
