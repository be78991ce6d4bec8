"""Benchmark: how fast a served lab is ready, cold and from its image, next to slapd.

For each size N (default 0, 1k, 10k, 100k seeded users) it measures, each in its own process:
  * ``no-cache``: ``simlab serve --users N --no-cache``: process start -> the endpoint JSON line
    on stdout (the lab is served and its initial sync done), and the server's RSS then (psutil);
  * ``cold``: the same with an empty image cache (build + save the image);
  * ``warm``: the same again (the lab comes from the image); then, on that served lab, the first
    requests a client makes: an LDAP bind and a search for the sample user's attributes, a
    Graph read of that user's authentication methods (a loaded image decodes the tenant's methods
    on that first read), and a Graph list of users (what a loaded lab decodes lazily is paid by
    these first requests, so they are timed too);
  * the initial sync inside the build (``SyncReport.seconds`` of the build's "Initial" cycle), with
    the old ldap3-decoded reader (``SIMLAB_SYNC_READER=ldap3``) and with the lean reader, for N >= 10k;
  * slapd: ``slapadd`` of the same number of users/OUs (ad-lite schema, as bench_ldap.py) and
    ``slapd`` start -> first successful bind;
  * the import floor: a fresh interpreter importing only the libraries a served lab uses
    (:data:`LIBRARY_IMPORTS`), run right after each warm start; the median warm-minus-floor (what
    simlab's own modules and work and the image cost) and warm over slapd's time hold still
    better than seconds when the machine's speed drifts.

Run: ``python benchmarks/bench_startup.py [--sizes 0 1000 10000 100000] [--sync-sizes 10000 100000]
[--runs 3] [--json out.json]``. Slow at 100k (the ldap3 sync alone takes about a minute).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT))  # the checkout's fakes/simlab, installed or not (slapd_ldif)

from bench_ldap import start_slapd, stop  # noqa: E402  (sibling benchmark script)

SIMLAB = [sys.executable, "-m", "simlab.cli"]


def serve_ready(users: int, cache_home: Path, *, no_cache: bool = False,
                wait_for_image: bool = False, first_requests: bool = False) -> dict[str, float]:
    """Start ``simlab serve``, time it to the endpoint line, read its RSS, stop it.

    ``wait_for_image``: a cold start writes its image in the background after the endpoint
    line; wait for the file (and time it) before stopping, so the next start finds it.
    ``first_requests``: also time the first LDAP and Graph requests (:func:`first_requests`).
    """
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home), "PYTHONPATH": str(ROOT)}
    env.pop("SIMLAB_NO_CACHE", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # time a normal install: compiled modules are cached
    cmd = [*SIMLAB, "serve", "--users", str(users), *(["--no-cache"] if no_cache else [])]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    ready = time.perf_counter() - started
    if not line.startswith("{"):
        proc.kill()
        raise RuntimeError(f"simlab serve failed: {proc.stderr.read() if proc.stderr else ''}")
    rss = psutil.Process(proc.pid).memory_info().rss / 2**20
    out = {"ready_s": ready, "rss_mib": rss}
    if first_requests:
        out.update(time_first_requests(json.loads(line)))
    if wait_for_image:
        folder = cache_home / "simlab"
        while not list(folder.glob("*.simlab-image")) and proc.poll() is None:
            time.sleep(0.05)
        out["image_written_s"] = time.perf_counter() - started
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return out


def time_first_requests(endpoints: dict) -> dict[str, float]:
    """Seconds of the first requests a client makes to a lab just served (see the docstring)."""
    import httpx
    import ldap3

    timed: dict[str, float] = {}
    started = time.perf_counter()
    conn = ldap3.Connection(ldap3.Server(endpoints["ldap_url"], get_info=ldap3.NONE),
                            user=endpoints["admin_dn"], password=endpoints["admin_password"], auto_bind=True)
    conn.search(endpoints["base_dn"], f"(userPrincipalName={endpoints['sample_user']})", attributes=["*"])
    conn.unbind()
    timed["first_ldap_s"] = time.perf_counter() - started
    headers = {"Authorization": f"Bearer {endpoints['tokens']['global_admin']}"}
    with httpx.Client(base_url=endpoints["graph_base_url"], headers=headers,
                      verify=endpoints["ca_file"]) as graph:
        started = time.perf_counter()
        graph.get(f"/users/{endpoints['sample_user']}/authentication/methods").raise_for_status()
        timed["first_graph_methods_s"] = time.perf_counter() - started
        started = time.perf_counter()
        graph.get("/users", params={"$top": "999"}).raise_for_status()
        timed["first_graph_users_s"] = time.perf_counter() - started
    return timed


def initial_sync_seconds(users: int, reader: str) -> float:
    """The build's own Initial sync cycle, in a fresh process with the given reader."""
    code = ("from simlab.lab import Lab; from simlab.spec import LabSpec\n"
            f"lab = Lab(LabSpec(population={{'users': {users}}})).start()\n"
            "print(lab.connect.sync.history[0].seconds); lab.close()")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SIMLAB_SYNC_READER": reader, "SIMLAB_NO_CACHE": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def slapd_ldif(users: int) -> tuple[str, str]:
    """The provisioned directory's domain, OUs, containers and users as slapd LDIF (like bench_ldap)."""
    from fakes.ad.provision import provision

    dc = provision(users=users)
    suffix = dc.domain_dn
    out = [f"dn: {suffix}\nobjectClass: domain\ndc: {suffix.split(',')[0].split('=')[1]}\n"]
    emitted = {suffix.lower()}
    for entry in dc.directory.walk(dc.root()):
        if entry is dc.root() or "CN=Configuration" in entry.dn:
            continue
        # slapadd refuses an entry whose parent is missing (e.g. the containers under the default
        # GPOs, whose groupPolicyContainer class has no ad-lite equivalent): skip such subtrees.
        if entry.dn.split(",", 1)[1].lower() not in emitted:
            continue
        size_before = len(out)
        rdn_attr, rdn_val = entry.dn.split(",")[0].split("=", 1)
        if entry.object_class == "organizationalUnit":
            out.append(f"dn: {entry.dn}\nobjectClass: organizationalUnit\nou: {rdn_val}\n")
        elif entry.object_class == "user" and entry.first("sAMAccountName"):
            sam = entry.first("sAMAccountName")
            lines = [f"dn: {entry.dn}", "objectClass: user", f"cn: {rdn_val}",
                     f"sn: {entry.first('sn') or sam}",
                     f"sAMAccountName: {sam}", "userPassword: Winter2026!Lab"]
            if entry.first("userPrincipalName"):
                lines.append(f"userPrincipalName: {entry.first('userPrincipalName')}")
            out.append("\n".join(lines) + "\n")
        elif rdn_attr.upper() == "CN" and entry.object_class == "container":
            out.append(f"dn: {entry.dn}\nobjectClass: organizationalRole\ncn: {rdn_val}\n")
        if len(out) > size_before:
            emitted.add(entry.dn.lower())
    return "\n".join(out), suffix


#: What a served lab imports from its libraries (the DC's Twisted, TLS and ldaptor, Graph's uvicorn
#: and Starlette, tokens, CLI, image codec), and none of simlab's modules: a process that does only
#: this is the floor a warm start cannot go under without importing less, and warm minus floor is
#: simlab's own (its modules, the image, serving; docs/images.md). Until stop 22 the list held
#: ``simlab.spec``, which hid about 60 ms of simlab's own import in the floor; until stop 27 it held
#: pydantic, which a warm start no longer imports (simlab/spec_data.py), so the floor is lower now.
LIBRARY_IMPORTS = ", ".join((
    "twisted.internet.reactor", "twisted.internet.ssl", "ldaptor.protocols.ldap.ldapserver", "uvicorn",
    "uvicorn.protocols.http.h11_impl", "starlette.applications", "starlette.responses",
    "cryptography.x509", "jwt", "click", "msgpack", "zstandard"))


def import_floor_s() -> float:
    """A fresh interpreter importing :data:`LIBRARY_IMPORTS`: seconds from start to exit."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {LIBRARY_IMPORTS}"], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


def warm_over_floor(users: int, cache_home: Path, runs: int) -> dict[str, float]:
    """Warm starts, each followed by an import floor run (same minutes: this machine's speed
    drifts): the median warm run, and the median of the runs' warm-minus-floor seconds."""
    results: list[dict[str, float]] = []

    def both() -> dict[str, float]:
        results.append({**serve_ready(users, cache_home, first_requests=True), "floor_s": import_floor_s()})
        return results[-1]

    chosen = median_run(runs, both)
    return {**chosen, "floor_s": statistics.median_high(r["floor_s"] for r in results),
            "over_floor_s": statistics.median_high(r["ready_s"] - r["floor_s"] for r in results)}


def median_run(runs: int, measure: Callable[[], dict[str, float]]) -> dict[str, float]:
    """``measure`` ``runs`` times: the run with the median ready time, plus every ready time."""
    results = sorted((measure() for _ in range(max(1, runs))), key=lambda r: r["ready_s"])
    return {**results[len(results) // 2], "all_ready_s": [round(r["ready_s"], 3) for r in results]}


def slapd_start(users: int, workdir: Path) -> dict[str, float]:
    ldif, suffix = slapd_ldif(users)
    proc, _port, first_bind, load = start_slapd(ldif, suffix, workdir)
    stop(proc)
    return {"slapadd_s": load, "start_to_bind_s": first_bind, "ready_s": load + first_bind,
            "entries": ldif.count("dn: ")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[0, 1000, 10000, 100000])
    ap.add_argument("--sync-sizes", type=int, nargs="*", default=[10000, 100000])
    ap.add_argument("--no-slapd", action="store_true")
    ap.add_argument("--runs", type=int, default=3,
                    help="no-cache and warm starts are timed this many times; the median is reported")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        for n in args.sizes:
            row: dict[str, object] = {}
            none = Path(tmp) / f"none-{n}"
            row["no_cache"] = median_run(args.runs, functools.partial(serve_ready, n, none, no_cache=True))
            cache = Path(tmp) / f"cache-{n}"
            row["cold"] = serve_ready(n, cache, wait_for_image=True)
            row["warm"] = warm_over_floor(n, cache, args.runs)
            images = list((cache / "simlab").glob("*.simlab-image"))
            row["image_mib"] = images[0].stat().st_size / 2**20 if images else None
            if not args.no_slapd and shutil.which("slapd") and shutil.which("slapadd"):
                work = Path(tmp) / f"slapd-{n}"
                work.mkdir()
                row["slapd"] = slapd_start(n, work)
            if n in args.sync_sizes:
                row["sync_ldap3_s"] = initial_sync_seconds(n, "ldap3")
                row["sync_lean_s"] = initial_sync_seconds(n, "lean")
            results[str(n)] = row
            print(json.dumps({"users": n, **row}), file=sys.stderr)
    print(f"{'users':>7} | {'no-cache s':>10} {'MiB':>5} | {'cold s':>7} {'MiB':>5} {'saved s':>7} | "
          f"{'warm s':>7} {'MiB':>5} | {'image MiB':>9} | {'slapd s':>7} | "
          f"{'sync ldap3 s':>12} {'sync lean s':>11}")
    for n, row in results.items():
        slapd = row.get("slapd") or {}
        print(f"{int(n):>7} | {row['no_cache']['ready_s']:>10.2f} {row['no_cache']['rss_mib']:>5.0f} | "
              f"{row['cold']['ready_s']:>7.2f} {row['cold']['rss_mib']:>5.0f} "
              f"{row['cold'].get('image_written_s', float('nan')):>7.2f} | "
              f"{row['warm']['ready_s']:>7.2f} {row['warm']['rss_mib']:>5.0f} | "
              f"{row['image_mib'] or 0:>9.1f} | "
              f"{slapd.get('ready_s', float('nan')):>7.2f} | {row.get('sync_ldap3_s', float('nan')):>12.2f} "
              f"{row.get('sync_lean_s', float('nan')):>11.2f}")
    # This machine's speed drifts by more than most changes: same-minute yardsticks say how fast it was.
    print("warm start against the import floor (a process importing only the libraries a served lab uses,")
    print("run after each warm start) and against slapd: floor s | warm minus floor s | warm / slapd")
    for n, row in results.items():
        slapd_s = (row.get("slapd") or {}).get("ready_s", float("nan"))
        print(f"{int(n):>7} | {row['warm']['floor_s']:.2f} | {row['warm']['over_floor_s']:+.2f} | "
              f"{row['warm']['ready_s'] / slapd_s:.2f}")
    print("first requests on the warm lab (median run), s: LDAP bind + search | Graph methods | Graph users")
    for n, row in results.items():
        warm = row["warm"]
        print(f"{int(n):>7} | {warm['first_ldap_s']:.3f} | {warm['first_graph_methods_s']:.3f} | "
              f"{warm['first_graph_users_s']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
