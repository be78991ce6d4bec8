"""Scenario catalogue and start-up timings: prints one table and, with ``--json``, the numbers.

    python benchmarks/bench_catalogue.py startup            # serve to endpoints, serve_dc first bind,
                                                            # and `python -X importtime` top entries
    python benchmarks/bench_catalogue.py catalogue          # shipped catalogue: serial vs -n 2
    python benchmarks/bench_catalogue.py generated --count 1000 [-n 2]   # generated catalogue

Run from the repository root on an otherwise idle machine. Wall times are single runs unless
``--repeat`` is given (then the median). Peak RSS is the largest single process (getrusage of
the children) and the largest sampled sum over the process tree (psutil, every 0.2 s).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Child processes cache bytecode as an installed simlab would (PYTHONDONTWRITEBYTECODE=1, set on
#: some machines, makes every start compile simlab and fakes from source); the first run warms it.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _median(fn, repeat: int) -> float:
    return statistics.median(fn() for _ in range(repeat))


# -- start-up ----------------------------------------------------------------------------------
def serve_to_endpoints(extra_env: dict[str, str] | None = None,
                       importtime: bool = False) -> tuple[float, float, str]:
    """Wall and CPU seconds from spawning ``simlab serve`` to its first line on stdout, and its stderr.

    CPU (user+sys of the serve process) is what a busy shared machine distorts least.
    """
    import psutil

    argv = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "simlab.cli", "serve"]
    env = {**ENV, **(extra_env or {})}
    with tempfile.TemporaryDirectory() as home:
        env["HOME"] = home  # serve remembers the lab in ~/.simlab; keep the real one
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
        err: list[str] = []
        reader = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
        reader.start()
        line = proc.stdout.readline()
        elapsed = time.perf_counter() - started
        cpu = psutil.Process(proc.pid).cpu_times()
        proc.terminate()
        proc.wait(timeout=30)
        reader.join(timeout=5)
    if not line:
        raise RuntimeError("simlab serve printed nothing:\n" + "".join(err)[-2000:])
    return elapsed, cpu.user + cpu.system, "".join(err)


def top_imports(importtime_text: str, n: int = 12) -> list[tuple[str, float]]:
    """The slowest top-level imports (cumulative seconds) from ``-X importtime`` output."""
    rows = []
    for line in importtime_text.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line)
        if m and len(m.group(3)) <= 2:  # top level and its direct imports
            rows.append((m.group(3) + m.group(4), int(m.group(2)) / 1e6))
    return sorted(rows, key=lambda r: -r[1])[:n]


def serve_dc_first_bind() -> dict[str, float]:
    """In-process: seconds from entering ``serve_dc`` (DC already provisioned) to the first LDAPS bind."""
    code = """
import time, json
t0 = time.perf_counter()
import ldap3, ssl
from fakes.ad.provision import provision
from fakes.ad.ldap.serve import serve_dc
t_import = time.perf_counter() - t0
dc = provision(users=10)
out = {"import_s": t_import}
for label in ("first", "second"):
    t0 = time.perf_counter()
    with serve_dc(dc) as ep:
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ep.ca_file)
        conn = ldap3.Connection(ldap3.Server(ep.ldaps_url, use_ssl=True, tls=tls, get_info=ldap3.NONE),
                                ep.admin_dn, ep.admin_password)
        assert conn.bind(), conn.result
        out[label + "_bind_s"] = time.perf_counter() - t0
        conn.unbind()
print(json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          env=ENV)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def startup(args: argparse.Namespace) -> dict:
    serve_to_endpoints()  # warm the bytecode cache
    runs = [serve_to_endpoints()[:2] for _ in range(args.repeat)]
    serve_s, serve_cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    imports = serve_to_endpoints(importtime=True)[2]
    cli_help = _median(lambda: _wall([sys.executable, "-m", "simlab.cli", "--help"]), args.repeat)
    result = {"serve_to_endpoints_s": round(serve_s, 3), "serve_cpu_s": round(serve_cpu, 3),
              "cli_help_s": round(cli_help, 3), "load_average": os.getloadavg()[0],
              "serve_dc": {k: round(v, 4) for k, v in serve_dc_first_bind().items()},
              "serve_importtime_top": [(name, round(s, 3)) for name, s in top_imports(imports)]}
    print(f"simlab serve -> endpoints      {result['serve_to_endpoints_s']:.3f} s wall, "
          f"{result['serve_cpu_s']:.3f} s CPU (load average {result['load_average']:.2f})")
    print(f"simlab --help                  {result['cli_help_s']:.3f} s")
    for key, value in result["serve_dc"].items():
        print(f"serve_dc {key:<22}{value:.4f} s")
    print("python -X importtime (simlab serve), top cumulative:")
    for name, seconds in result["serve_importtime_top"]:
        print(f"  {seconds:7.3f} s  {name}")
    return result


def _wall(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, capture_output=True, check=True, env=ENV)
    return time.perf_counter() - started


# -- catalogues --------------------------------------------------------------------------------
class PeakRss:
    """Samples the RSS summed over a process tree (psutil) while a command runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.wait(0.2):
            total = 0
            try:
                for proc in [root, *root.children(recursive=True)]:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                return
            self.peak = max(self.peak, total)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(argv: list[str]) -> dict:
    """Wall time, exit code, largest single child RSS and the sampled process-tree peak."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=ENV)
    with PeakRss(proc.pid) as rss:
        out, _ = proc.communicate()
    wall = time.perf_counter() - started
    child_max_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    tail = out.strip().splitlines()[-1] if out.strip() else ""
    return {"wall_s": round(wall, 2), "exit": proc.returncode,
            "max_process_rss_mb": round(child_max_kb / 1024),
            "tree_rss_peak_mb": round(rss.peak / 2**20), "last_line": tail}


def catalogue(args: argparse.Namespace) -> dict:
    simlab = [sys.executable, "-m", "simlab.cli", "run", "scenarios"]
    result = {"serial": timed(simlab)}
    if not args.serial_only:
        result["n2"] = timed([*simlab, "-n", "2"])
        result["pytest_n2"] = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                     "-n", "2", "scenarios"])
    for label, row in result.items():
        print(f"{label:<10} {row['wall_s']:8.2f} s  exit {row['exit']}  {row['last_line']}")
    return result


def generated(args: argparse.Namespace) -> dict:
    out = Path(tempfile.mkdtemp(prefix="simlab-generated-"))
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gen_catalogue.py"), "--count", str(args.count),
                    "--out", str(out)], check=True)
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", f"simlab_scenarios={out}",
            "--rootdir", str(out), "-c", os.devnull, str(out)]
    if args.workers:
        argv += ["-n", str(args.workers)]
    row = timed(argv)
    row.update(count=args.count, workers=args.workers)
    print(f"{args.count} generated scenarios, -n {args.workers}: {row['wall_s']:.1f} s, "
          f"max process RSS {row['max_process_rss_mb']} MB, tree peak {row['tree_rss_peak_mb']} MB; "
          f"{row['last_line']}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["startup", "catalogue", "generated"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("-n", "--workers", type=int, default=2)
    parser.add_argument("--serial-only", action="store_true", help="catalogue: skip the -n 2 runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = {"startup": startup, "catalogue": catalogue, "generated": generated}[args.what](args)
    if args.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
