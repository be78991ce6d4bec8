"""Benchmark: the served lab DC vs Debian's slapd, same data, same ldap3 SYNC client.

Both servers run in their own process on loopback, started by this script:
  * lab:   ``python -m fakes.ad.ldap --users N`` (provision + serve)
  * slapd: ``slapd -f <tmp>/slapd.conf`` over an mdb database loaded with ``slapadd``
           from the lab's own OUs/containers/users (ad-lite schema, benchmarks/slapd/).

Measured: start -> first successful bind (process spawn to bind, polling the TCP port
with a raw socket first), bind+base-search pairs/s (rebind as a user, read own entry),
and modify/s (admin replaces ``description`` on users). Prints a table and the ratios.

Run: ``python benchmarks/bench_ldap.py [--users 1000] [--seconds 3] [--json out.json]``

``--dc-side N`` instead measures the DC's side of an initial sync in process (no slapd, no
client): the agent's paged search (``USER_FILTER``, ``SYNC_ATTRIBUTES``, 1000 per page) over N
users plus encoding every SearchResultEntry, per entry, rendered straight to wire bytes (what
every attribute-list search does) and through the dict renderer + the encoder's dict walk (what
``*`` and types-only searches do, and every search did before), interleaved, best of 5.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ldap3

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
USER_PASSWORD = "Winter2026!Lab"  # fakes.ad.provision.DEFAULT_USER_PASSWORD
SLAPD_ROOTPW = "bench-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, deadline: float) -> None:
    while time.perf_counter() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.002)
    raise TimeoutError(f"port {port} never opened")


def first_bind(port: int, dn: str, password: str, started: float, timeout: float = 60) -> float:
    deadline = started + timeout
    wait_port(port, deadline)
    while time.perf_counter() < deadline:
        c = ldap3.Connection(ldap3.Server("127.0.0.1", port=port), user=dn, password=password)
        try:
            if c.bind():
                c.unbind()
                return time.perf_counter() - started
        except ldap3.core.exceptions.LDAPException:
            pass
        time.sleep(0.002)
    raise TimeoutError("no successful bind")


def bindable(port: int, users: list[str], password: str) -> list[str]:
    c = ldap3.Connection(ldap3.Server("127.0.0.1", port=port))
    c.open()
    ok = [dn for dn in users if c.rebind(user=dn, password=password)]
    c.unbind()
    return ok


def bench_pairs(port: int, users: list[str], password: str, seconds: float) -> float:
    c = ldap3.Connection(ldap3.Server("127.0.0.1", port=port), user=users[0], password=password)
    c.open()
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        dn = users[n % len(users)]
        assert c.rebind(user=dn, password=password), (dn, c.result)
        c.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["sAMAccountName", "cn"])
        assert c.response and c.response[0]["dn"].lower() == dn.lower(), c.result
        n += 1
    c.unbind()
    return n / seconds


def bench_search(port: int, users: list[str], password: str, seconds: float) -> float:
    """Base searches on one bound connection (isolates search from bind cost)."""
    c = ldap3.Connection(ldap3.Server("127.0.0.1", port=port), user=users[0], password=password)
    assert c.bind(), c.result
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        c.search(users[n % len(users)], "(objectClass=*)", search_scope=ldap3.BASE, attributes=["cn"])
        n += 1
    c.unbind()
    return n / seconds


def bench_modify(port: int, admin_dn: str, admin_pw: str, users: list[str], seconds: float) -> float:
    c = ldap3.Connection(ldap3.Server("127.0.0.1", port=port), user=admin_dn, password=admin_pw)
    assert c.bind(), c.result
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        ok = c.modify(users[n % len(users)], {"description": [(ldap3.MODIFY_REPLACE, [f"bench {n}"])]})
        assert ok, c.result
        n += 1
    c.unbind()
    return n / seconds


def start_lab(users: int, workdir: Path) -> tuple[subprocess.Popen, dict, float]:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakes.ad.ldap", "--users", str(users), "--ldap-port", str(port),
         "--workdir", str(workdir)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    info = json.loads(proc.stdout.readline())
    t_bind = first_bind(port, info["admin_dn"], info["admin_password"], started)
    info["start_to_first_bind"] = t_bind
    return proc, info, t_bind


def export_ldif(port: int, info: dict) -> tuple[str, list[str]]:
    """The lab's OUs/containers and users as slapd LDIF (ad-lite schema); returns (ldif, user DNs)."""
    c = ldap3.Connection(ldap3.Server("127.0.0.1", port=port), user=info["admin_dn"],
                         password=info["admin_password"])
    assert c.bind()
    base = info["base_dn"]
    entries = c.extend.standard.paged_search(
        base, "(|(objectClass=organizationalUnit)(objectClass=container)(objectCategory=person))",
        attributes=["objectClass", "sAMAccountName", "userPrincipalName", "userAccountControl", "sn", "cn"],
        paged_size=500, generator=False)
    c.unbind()
    rows = [e for e in entries if e.get("type") == "searchResEntry"]
    rows.sort(key=lambda e: len(e["dn"].split(",")))
    out = [f"dn: {base}\nobjectClass: domain\ndc: {base.split(',')[0].split('=')[1]}\n"]
    users: list[str] = []
    emitted = {base.lower()}
    for e in rows:
        # slapadd refuses an entry whose parent is missing (the containers under the default GPOs,
        # whose groupPolicyContainer class is not exported): skip such subtrees.
        if e["dn"].split(",", 1)[1].lower() not in emitted:
            continue
        emitted.add(e["dn"].lower())
        a = {k: (v[0] if isinstance(v, list) and v and k != "objectClass" else v or None)
             for k, v in e["attributes"].items()}
        classes = [x.lower() for x in a.get("objectClass") or []]
        rdn_attr, rdn_val = e["dn"].split(",")[0].split("=", 1)
        if "organizationalunit" in classes:
            out.append(f"dn: {e['dn']}\nobjectClass: organizationalUnit\nou: {rdn_val}\n")
        elif "user" in classes and a.get("sAMAccountName"):
            sam = a["sAMAccountName"]
            lines = [f"dn: {e['dn']}", "objectClass: user", f"cn: {rdn_val}", f"sn: {a.get('sn') or sam}",
                     f"sAMAccountName: {sam}", f"userPassword: {USER_PASSWORD}"]
            if a.get("userPrincipalName"):
                lines.append(f"userPrincipalName: {a['userPrincipalName']}")
            out.append("\n".join(lines) + "\n")
            uac = int(a.get("userAccountControl") or 0)
            ordinary = not sam.lower().startswith(("msol_", "krbtgt", "guest", "administrator"))
            if ordinary and not uac & 0x2:  # enabled accounts only: they must be able to bind
                users.append(e["dn"])
        elif rdn_attr.upper() == "CN":
            out.append(f"dn: {e['dn']}\nobjectClass: organizationalRole\ncn: {rdn_val}\n")
    return "\n".join(out), users


def start_slapd(ldif: str, suffix: str, workdir: Path) -> tuple[subprocess.Popen, int, float, float]:
    shutil.copy(HERE / "slapd" / "ad-lite.schema", workdir / "ad-lite.schema")
    (workdir / "db").mkdir()
    template = (HERE / "slapd" / "slapd.conf.in").read_text()
    conf = template.format(dir=workdir, suffix=suffix, rootpw=SLAPD_ROOTPW)
    (workdir / "slapd.conf").write_text(conf)
    (workdir / "data.ldif").write_text(ldif)
    t = time.perf_counter()
    subprocess.run(["slapadd", "-q", "-f", str(workdir / "slapd.conf"), "-l", str(workdir / "data.ldif")],
                   check=True, capture_output=True)
    load = time.perf_counter() - t
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(["slapd", "-f", str(workdir / "slapd.conf"), "-h", f"ldap://127.0.0.1:{port}/",
                             "-d", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t_bind = first_bind(port, f"cn=admin,{suffix}", SLAPD_ROOTPW, started)
    return proc, port, t_bind, load


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def dc_side(users: int, repeats: int = 5) -> dict[str, float]:
    """µs per entry of the sync's paged search + SearchResultEntry encoding, both renderers."""
    import gc

    from fakes.ad import controls as ctl
    from fakes.ad import dc_read
    from fakes.ad.api import Control, Scope
    from fakes.ad.ldap import encode
    from fakes.ad.provision import provision
    from fakes.connect.sync import SYNC_ATTRIBUTES, USER_FILTER

    dc = provision(users=users, seed=1)
    session = dc.bind_session(dc.connector_dn, dc.connector_password)

    def run() -> int:
        cookie, count = b"", 0
        while True:
            r = dc.search(session, dc.domain_dn, Scope.SUBTREE, USER_FILTER, SYNC_ATTRIBUTES,
                          controls=[Control(ctl.PAGED_RESULTS, False, ctl.encode_paged(1000, cookie))])
            for e in r.entries:
                encode.encode_entry(7, e.dn, e.attributes)
            count += len(r.entries)
            cookie = ctl.decode_paged(r.result.controls[0].value)[1]
            if not cookie:
                return count

    fused = dc_read.Reader.render
    best = {"wire": float("inf"), "dict": float("inf")}
    gc.disable()  # as the lab's build does
    for _ in range(repeats):
        for mode in best:
            dc_read.Reader.render = fused if mode == "wire" else dc_read.Reader._render_dict  # type: ignore[method-assign]
            t = time.perf_counter()
            count = run()
            best[mode] = min(best[mode], (time.perf_counter() - t) / count * 1e6)
    dc_read.Reader.render = fused  # type: ignore[method-assign]
    gc.enable()
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--json", default=None)
    ap.add_argument("--dc-side", type=int, default=0, metavar="N",
                    help="only time the DC side of an N-user initial sync, in process")
    args = ap.parse_args()
    if args.dc_side:
        sys.path.insert(0, str(ROOT))
        r = dc_side(args.dc_side)
        print(f"DC side of the sync's paged search, {args.dc_side} users, us per entry (best of 5): "
              f"wire renderer {r['wire']:.2f}, dict renderer {r['dict']:.2f} "
              f"({r['wire'] / r['dict']:.0%})")
        return 0
    if shutil.which("slapd") is None:
        print("slapd not installed (apt-get install slapd ldap-utils)", file=sys.stderr)
        return 2
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ldap-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "lab").mkdir()
        lab, info, lab_first = start_lab(args.users, tmpdir / "lab")
        try:
            port = info["ldap_port"]
            ldif, users = export_ldif(port, info)
            users = bindable(port, users[:300], USER_PASSWORD)[:200]  # the lab seeds some expired/locked
            results["lab"] = {
                "start_to_first_bind_s": lab_first,
                "in_process_startup_s": info.get("startup_seconds"),
                "bind_search_pairs_per_s": bench_pairs(port, users, USER_PASSWORD, args.seconds),
                "search_per_s": bench_search(port, users, USER_PASSWORD, args.seconds),
                "modify_per_s": bench_modify(port, info["admin_dn"], info["admin_password"], users,
                                             args.seconds),
            }
        finally:
            stop(lab)
        (tmpdir / "slapd").mkdir()
        suffix = info["base_dn"]
        slapd, sport, slapd_first, load = start_slapd(ldif, suffix, tmpdir / "slapd")
        try:
            results["slapd"] = {
                "start_to_first_bind_s": slapd_first,
                "slapadd_s": load,
                "bind_search_pairs_per_s": bench_pairs(sport, users, USER_PASSWORD, args.seconds),
                "search_per_s": bench_search(sport, users, USER_PASSWORD, args.seconds),
                "modify_per_s": bench_modify(sport, f"cn=admin,{suffix}", SLAPD_ROOTPW, users, args.seconds),
            }
        finally:
            stop(slapd)
    lab_r, slapd_r = results["lab"], results["slapd"]
    results["ratio_lab_to_slapd"] = {
        "bind_search": lab_r["bind_search_pairs_per_s"] / slapd_r["bind_search_pairs_per_s"],
        "search": lab_r["search_per_s"] / slapd_r["search_per_s"],
        "modify": lab_r["modify_per_s"] / slapd_r["modify_per_s"],
    }
    results["params"] = {"users": args.users, "seconds": args.seconds, "entries_loaded": ldif.count("dn: ")}
    print(f"{'metric':32} {'lab':>12} {'slapd':>12} {'ratio':>8}")
    for key, label in (("start_to_first_bind_s", "start -> first bind (s)"),
                       ("bind_search_pairs_per_s", "bind+search pairs/s"), ("search_per_s", "base search/s"),
                       ("modify_per_s", "modify/s")):
        ratio = lab_r[key] / slapd_r[key]
        print(f"{label:32} {lab_r[key]:12.3f} {slapd_r[key]:12.3f} {ratio:8.2f}")
    print(f"lab in-process startup (provision+serve): {lab_r['in_process_startup_s']} s; "
          f"slapadd {slapd_r['slapadd_s']:.3f} s; entries {results['params']['entries_loaded']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
