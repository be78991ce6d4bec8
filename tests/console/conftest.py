"""Fixtures for the console tests: labs, the served console, and a headless Debian Chromium."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from simlab.lab import Lab
from simlab.spec import LabSpec

# Found on PATH (so a PATH without it skips the browser tests); SIMLAB_CHROMIUM names another binary.
CHROMIUM = os.environ.get("SIMLAB_CHROMIUM") or shutil.which("chromium") or ""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}


def small_spec(**changes: object) -> LabSpec:
    """A quick lab (few seeded users); ``changes`` is a nested dict merged into the spec."""
    data: dict = {"population": {"users": 5}}
    for key, value in changes.items():
        data[key] = value
    return LabSpec.model_validate(data)


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab(small_spec()) as built:
        yield built


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright; skipped (with the reason) only when it is missing.

    Module scope, not session: Playwright's sync API keeps an asyncio loop running in the main
    thread while it is open, which would break every later test that calls asyncio.run().
    """
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        where = CHROMIUM or "chromium on PATH"
        pytest.skip(f"not installed: chromium (apt-get install chromium); looked for {where}")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def shot(page, name: str) -> Path:
    """Save a full-page screenshot under artifacts/screenshots/ (a CI artefact)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
