"""The fixed cost of every lab start: `simlab serve --users 0` to its endpoint JSON line.

Run: ``python benchmarks/bench_base_start.py [--repeat N] [--users N] [--tree DIR ...]``.

Each run starts ``python -m simlab.cli serve --users 0`` in a subprocess (own ``HOME`` and
``XDG_CACHE_HOME``, so the image cache is warm after the first run of each tree, as it is for a
user; bytecode is cached there too, as for an installed simlab, unless ``--no-bytecode``), times
process start -> the JSON line on stdout, then stops it with SIGTERM. Also times ``simlab
--help``. Prints the median, min and max of each, and of the serving process's CPU time
(user + system) at the endpoint line, which other load on the machine disturbs less.

``--tree DIR`` (repeatable) runs the same measurement with ``PYTHONPATH=DIR``: a checkout of
another commit (e.g. ``git archive main | tar -x -C /tmp/before``), so before and after are
measured interleaved in one run on the same (noisy) machine. Without it, the installed simlab.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_catalogue import top_imports  # sibling benchmark script


def _env(tree: str | None, home: str, bytecode: bool = True) -> dict[str, str]:
    env = {**os.environ, "HOME": home, "XDG_CACHE_HOME": os.path.join(home, "cache"),
           "SIMLAB_FORCE_TERMINAL": "0"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if bytecode:  # as an installed simlab runs: compiled once, then read from the .pyc files
        env["PYTHONPYCACHEPREFIX"] = os.path.join(home, "pycache")
    else:  # every module compiled from source at every start (PYTHONDONTWRITEBYTECODE=1)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    if tree:
        env["PYTHONPATH"] = tree
    return env


def serve_once(tree: str | None, home: str, users: int, bytecode: bool = True,
               importtime: bool = False) -> tuple[float, float, str]:
    """Seconds from process start to the endpoint JSON line of `simlab serve --users N`, the CPU
    seconds the process used until then, and its stderr (``-X importtime`` output if asked)."""
    args = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "simlab.cli", "serve",
            "--users", str(users)]
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        # cwd=home: `python -m` puts the working directory first on sys.path, so run from a
        # checkout it would import that checkout's simlab whatever --tree says.
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True,
                                env=_env(tree, home, bytecode), cwd=home)
        try:
            line = proc.stdout.readline()
            elapsed = time.perf_counter() - start
            times = psutil.Process(proc.pid).cpu_times()  # less disturbed by other load than wall time
            json.loads(line)  # a real endpoint line, not a traceback
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        err.seek(0)
        return elapsed, times.user + times.system, err.read()


def help_once(tree: str | None, home: str, bytecode: bool = True) -> float:
    """Seconds for `simlab --help` (python -m simlab.cli --help)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simlab.cli", "--help"], env=_env(tree, home, bytecode), check=True,
                   stdout=subprocess.DEVNULL, cwd=home)
    return time.perf_counter() - start


def _line(label: str, values: list[float]) -> str:
    return (f"{label:44} median {statistics.median(values):.3f} s  min {min(values):.3f} s  "
            f"max {max(values):.3f} s  (n={len(values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--users", type=int, default=0)
    parser.add_argument("--tree", action="append", default=[],
                        help="PYTHONPATH of a simlab checkout to compare (repeatable)")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="compile every module at every start (PYTHONDONTWRITEBYTECODE=1)")
    parser.add_argument("--importtime", type=int, default=0, metavar="N",
                        help="then one `-X importtime` start per tree: its N slowest top-level imports")
    opts = parser.parse_args()
    trees: list[str | None] = opts.tree or [None]
    bytecode = not opts.no_bytecode
    serve: dict[str | None, list[tuple[float, float]]] = {t: [] for t in trees}
    helps: dict[str | None, list[float]] = {t: [] for t in trees}
    with tempfile.TemporaryDirectory() as home:
        homes = {t: tempfile.mkdtemp(dir=home) for t in trees}
        for tree in trees:  # the first start of each tree builds and caches the lab image: not timed
            serve_once(tree, homes[tree], opts.users, bytecode)
            time.sleep(3)  # the image is written by a forked child after the endpoint line
        for _ in range(opts.repeat):  # interleaved, so machine noise hits every tree alike
            for tree in trees:
                serve[tree].append(serve_once(tree, homes[tree], opts.users, bytecode)[:2])
                helps[tree].append(help_once(tree, homes[tree], bytecode))
        imports = {tree: serve_once(tree, homes[tree], opts.users, bytecode, importtime=True)[2]
                   for tree in trees if opts.importtime}
    for tree in trees:
        name = tree or "installed simlab"
        print(_line(f"serve --users {opts.users} -> JSON line [{name}]", [s[0] for s in serve[tree]]))
        print(_line(f"  its CPU time until then [{name}]", [s[1] for s in serve[tree]]))
        print(_line(f"simlab --help [{name}]", helps[tree]))
        if tree in imports:
            print(f"  -X importtime, top cumulative [{name}]:")
            for module, seconds in top_imports(imports[tree], opts.importtime):
                print(f"    {seconds:7.3f} s  {module}")


if __name__ == "__main__":
    main()
