"""The one test command (./run-tests) and the optional-tool skips, without installing anything.

``run-tests`` runs here with a PATH of a few symlinked basics: no apt-get, no ldap-utils, no
chromium, and a stand-in ``python`` that records what it was asked to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASICS = ("bash", "sed", "id", "dirname", "cat", "dpkg")

FAKE_PYTHON = """#!/bin/bash
# Stand-in interpreter: records its arguments; `-m pytest` exits with $FAKE_PYTEST_EXIT.
echo "$*" >> "$FAKE_LOG"
case "$1 $2" in
  "- ") cat >/dev/null; exit 1 ;;          # the externally-managed probe: "no"
  "-m pip") exit 0 ;;
  "-m pytest") exit "$FAKE_PYTEST_EXIT" ;;
esac
exit 0
"""


def _bin_without_tools(tmp_path: Path) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir(parents=True)
    for name in BASICS:
        found = shutil.which(name)
        if found:
            (bindir / name).symlink_to(found)
    return bindir


def _run_tests(tmp_path: Path, pytest_exit: int, *args: str) -> tuple[subprocess.CompletedProcess, str]:
    bindir = _bin_without_tools(tmp_path)
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    log = tmp_path / "calls.log"
    env = {"PATH": str(bindir), "PYTHON": str(fake), "FAKE_LOG": str(log),
           "FAKE_PYTEST_EXIT": str(pytest_exit), "HOME": str(tmp_path)}
    proc = subprocess.run([str(bindir / "bash"), str(ROOT / "run-tests"), *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    return proc, log.read_text() if log.exists() else ""


def test_run_tests_names_missing_packages_installs_extras_and_passes_pytest_arguments(tmp_path: Path):
    proc, calls = _run_tests(tmp_path, 0, "-k", "tutorial")
    assert proc.returncode == 0, proc.stderr
    assert "missing Debian packages: ldap-utils chromium" in proc.stderr
    assert "-m pip install -q .[test]" in calls
    assert "-m pytest -q -p no:cacheprovider -k tutorial" in calls


def test_run_tests_returns_pytests_exit_status_including_no_tests(tmp_path: Path):
    assert _run_tests(tmp_path / "a", 1)[0].returncode == 1
    assert _run_tests(tmp_path / "b", 5)[0].returncode == 5  # nothing collected fails the command


def test_ci_runs_the_readme_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = ci.split("# --- README test command (keep identical) ---\n", 1)[1].strip()
    assert command == "./run-tests" and f"```sh\n{command}\n```" in readme


def test_tests_needing_absent_tools_skip_naming_the_package(tmp_path: Path):
    """ldap-utils and chromium hidden from PATH: those tests skip with the package name; none fails."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(bindir)}
    env.pop("SIMLAB_CHROMIUM", None)
    proc = subprocess.run(
        [str(bindir / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
         "tests/protocol/test_tool_compat.py", "tests/protocol/test_openldap_cli.py",
         "tests/console/test_browser.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:]
    assert "failed" not in out.splitlines()[-1]
    assert "not installed: ldapsearch (apt-get install ldap-utils)" in out
    assert "not installed: chromium (apt-get install chromium)" in out
