"""How long `simlab serve` takes to stop: SIGTERM (or `simlab stop`) to process exit.

Run: ``python benchmarks/bench_serve_stop.py [--repeat N] [--ui]``. Each run starts a served lab
(5 users) in a subprocess, waits for its JSON line, then measures from the signal to the
"lab stopped" message on stderr and to the exit; prints the median and max of each.
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


def once(ui: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "HOME": home, "SIMLAB_FORCE_TERMINAL": "0"}
        args = [sys.executable, "-m", "simlab.cli", "serve", "--users", "5", *(["--ui"] if ui else [])]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        json.loads(proc.stdout.readline())
        time.sleep(0.5)
        start = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        proc.stderr.readline()
        message = time.perf_counter() - start
        proc.wait(timeout=30)
        return message, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--ui", action="store_true", help="also serve the console")
    opts = parser.parse_args()
    runs = [once(opts.ui) for _ in range(opts.repeat)]
    for label, values in (("SIGTERM -> 'lab stopped'", [r[0] for r in runs]),
                          ("SIGTERM -> process exit", [r[1] for r in runs])):
        median, worst = statistics.median(values), max(values)
        print(f"{label:26} median {median:.3f} s  max {worst:.3f} s  (n={len(values)})")


if __name__ == "__main__":
    main()
