"""``simlab run -n N``: the scenarios as pytest items, spread over N processes by pytest-xdist.

The engine is the same as a serial ``simlab run`` (each item calls
:func:`simlab.scenarios.run_scenario`); pytest-xdist only schedules. Results come back through
the plugin's ``--simlab-results`` JSON file and are rendered by :mod:`simlab.report` as usual.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from simlab.scenarios import Scenario, ScenarioResult


class ParallelRunError(RuntimeError):
    """pytest could not run the scenarios (not a failing scenario: a usage or internal error)."""


def pytest_argv(paths: list[Path], workers: int, *, keyword: str | None, seed: int | None,
                exitfirst: bool, results: Path, inifile: Path) -> list[str]:
    """The pytest command line ``simlab run -n`` runs (absolute paths; the user's conftests stay out)."""
    # Plugin autoload is off (see run_parallel): only xdist and simlab's plugin load, in every process.
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "xdist.plugin", "-p", "simlab.pytest_plugin",
            "-p", "no:cacheprovider", "--noconftest", "-c", str(inifile),
            "--rootdir", str(Path.cwd()), "-n", str(workers), "--simlab-results", str(results)]
    if keyword:
        argv += ["--simlab-select", keyword]
    if seed is not None:
        argv += ["--simlab-seed", str(seed)]
    if exitfirst:
        argv.append("-x")
    return [*argv, *map(str, paths)]


def _inifile(paths: list[Path]) -> str:
    # Only simlab's own settings: the user's pytest configuration is not this run's business, and
    # Python test files under the given directories are not scenarios.
    listed = " ".join(shlex.quote(str(p)) for p in paths)
    return ("[pytest]\nsimlab_scenarios = " + listed + "\npython_files = simlab-collects-no-python-files\n"
            "filterwarnings = ignore::DeprecationWarning\n")


def run_parallel(paths: list[Path], scenarios: list[Scenario], workers: int, *, keyword: str | None = None,
                 seed: int | None = None, exitfirst: bool = False) -> list[ScenarioResult]:
    """Run ``scenarios`` (loaded from ``paths`` and selected by ``keyword``) on ``workers`` processes.

    Results come in the order of ``scenarios``, each with its scenario's ``source`` as given.
    pytest's progress goes to stderr; raises :class:`ParallelRunError` when pytest itself failed
    (interrupted, internal or usage error), with its output.
    """
    absolute = [Path(p).resolve() for p in paths]
    with tempfile.TemporaryDirectory(prefix="simlab-run-") as tmp:
        inifile = Path(tmp) / "pytest.ini"
        inifile.write_text(_inifile(absolute))
        results_file = Path(tmp) / "results.json"
        argv = pytest_argv(absolute, workers, keyword=keyword, seed=seed, exitfirst=exitfirst,
                           results=results_file, inifile=inifile)
        # Other installed pytest plugins (faker, respx, hypothesis, ...) have nothing to do with
        # scenario files and cost ~0.5 s of start-up in each of the N+1 processes.
        env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        output = []
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env) as proc:
            for line in proc.stdout or ():
                output.append(line)
                if _is_progress(line):  # the dots; failures are shown by simlab's own report
                    sys.stderr.write(line)
        if proc.returncode not in (0, 1, 5) or not results_file.exists():
            raise ParallelRunError(f"pytest exited {proc.returncode}:\n{''.join(output)[-4000:]}")
        ran = {(str(Path(d["source"]).resolve()), d["name"]): d for d in json.loads(results_file.read_text())}
    results = []
    for scenario in scenarios:
        data = ran.get((str(Path(scenario.source).resolve()), scenario.name))
        if data is not None:
            results.append(ScenarioResult.from_dict({**data, "source": scenario.source}))
    return results


def _is_progress(line: str) -> bool:
    dots = line.split("[")[0].strip()
    return bool(dots) and set(dots) <= set(".FEsx")
