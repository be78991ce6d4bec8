"""Shared by the CLI tests that run `simlab serve` as a subprocess."""

from __future__ import annotations

import signal
import subprocess

import pytest


def stop_serve(proc: subprocess.Popen) -> str:
    """SIGTERM a served lab as a user's `kill` would; a lab that ignores it fails the test.

    Returns what the lab wrote to its stderr pipe since the test last read it, and closes the
    pipes (a stopped lab's pipes left open are unclosed files). Safe to call again.
    """
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("simlab serve did not stop on SIGTERM")
    return err or ""
