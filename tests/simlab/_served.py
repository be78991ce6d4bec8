"""Shared by the CLI tests that run `simlab serve` as a subprocess."""

from __future__ import annotations

import signal
import subprocess

import pytest


def stop_serve(proc: subprocess.Popen) -> None:
    """SIGTERM a served lab as a user's `kill` would; a lab that ignores it fails the test."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("simlab serve did not stop on SIGTERM")
