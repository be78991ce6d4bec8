"""Fixtures shared by the simlab tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A lab image cache folder of the test's own, never the user's (the cache switched on)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SIMLAB_NO_CACHE", raising=False)
    return tmp_path / "xdg" / "simlab"
