"""Benchmark: where a cold ``simlab serve --no-cache`` spends its time, phase by phase.

Each run is its own process: ``simlab serve --users N --no-cache`` with the build's progress
phases timed (wall and process CPU: the CPU column is steadier on a shared machine, and it
counts the served DC's thread too) up to the endpoint JSON line ("ready"). ``--baseline DIR``
runs another checkout of simlab (e.g. ``git worktree add /tmp/base main``) interleaved with this
one, so before/after come from the same minutes of the same machine. Medians of ``--repeat``.

Run: ``python benchmarks/bench_cold_build.py [--sizes 10000 100000] [--repeat 3] [--baseline DIR]
[--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs inside the measured process: time BuildProgress phases, stop at the endpoint line.
_DRIVER = r"""
import json, os, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import simlab.progress as progress
marks = [("imports", t0, c0)]
def phase(self, description, total=None):
    marks.append((description, time.perf_counter(), time.process_time()))
progress.BuildProgress.phase = phase
import simlab.terminal as terminal
def ready(*args, **kwargs):
    marks.append(("ready", time.perf_counter(), time.process_time()))
    rows = [(a[0], b[1] - a[1], b[2] - a[2]) for a, b in zip(marks, marks[1:])]
    sys.stderr.write("PHASES " + json.dumps({"phases": [list(r) for r in rows],
                                             "ready": [marks[-1][1] - t0, marks[-1][2] - c0]}) + "\n")
    sys.stderr.flush()
    os._exit(0)
terminal.print_serve_summary = ready
from simlab.cli import main
sys.argv = ["simlab", *sys.argv[1:]]
main()
"""


def run_once(users: int, source: Path) -> dict:
    """One cold serve of ``source``'s simlab: {"phases": [[name, wall, cpu]...], "ready": [wall, cpu]}."""
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as cache:
        env = {**os.environ, "XDG_CACHE_HOME": cache, "PYTHONPATH": str(source)}
        proc = subprocess.run([sys.executable, "-c", _DRIVER, "serve", "--users", str(users), "--no-cache"],
                              cwd=tempfile.gettempdir(), env=env, capture_output=True, text=True,
                              timeout=900)
    line = next((x for x in proc.stderr.splitlines() if x.startswith("PHASES ")), None)
    if line is None:
        raise RuntimeError(f"simlab serve failed:\n{proc.stderr[-2000:]}")
    return json.loads(line[len("PHASES "):])


def summarise(runs: list[dict]) -> dict:
    """Median wall/CPU per phase (phases in the order of the first run) and of ready."""
    names = [p[0] for p in runs[0]["phases"]]
    out: dict = {"phases": {}}
    for name in names:
        walls = [p[1] for r in runs for p in r["phases"] if p[0] == name]
        cpus = [p[2] for r in runs for p in r["phases"] if p[0] == name]
        out["phases"][name] = (statistics.median(walls), statistics.median(cpus))
    out["ready"] = tuple(statistics.median(r["ready"][i] for r in runs) for i in (0, 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another simlab checkout to run interleaved")
    parser.add_argument("--json", type=Path, help="write the medians here")
    args = parser.parse_args()
    sources = {"this": ROOT} if args.baseline is None else {"baseline": args.baseline, "this": ROOT}
    results: dict = {}
    for users in args.sizes:
        runs: dict[str, list[dict]] = {name: [] for name in sources}
        for _ in range(args.repeat):
            for name, source in sources.items():
                runs[name].append(run_once(users, source))
        for name in sources:
            results[f"{name} {users}"] = summary = summarise(runs[name])
            print(f"\n{name}, {users} users, median of {args.repeat}: phase  wall s  cpu s")
            for phase, (wall, cpu) in summary["phases"].items():
                print(f"  {phase:<28} {wall:7.2f} {cpu:7.2f}")
            print(f"  {'ready (endpoint line)':<28} {summary['ready'][0]:7.2f} {summary['ready'][1]:7.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
