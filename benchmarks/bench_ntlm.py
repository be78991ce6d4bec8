"""Benchmark: NTLM bind + search pairs per second on the lab DC, next to simple binds on the lab
and next to Samba's AD DC doing the same NTLM bind, all with the same ldap3 client, in one run.

Servers, each in its own process, started and stopped by this script:
  * lab:   ``python -m fakes.ad.ldap`` (provision + serve on 127.0.0.1, ephemeral port)
  * Samba: Debian's ``samba`` AD DC, provisioned into a temporary directory
           (``samba-tool domain provision --host-ip A``) and run as ``samba -i`` with only the
           LDAP service, ``interfaces = A`` and ``bind interfaces only``, on a loopback address A
           of its own (127.0.0.x with 389/636 free). Samba listens only on addresses an
           interface carries, so A is added to ``lo`` for the run (``ip addr add A/32 dev lo``,
           root) and removed afterwards.

A *pair* is what a tool does per task: TCP connect, bind, one base search, unbind.
Variants (ldap3's sync client throughout):
  * ``simple``          ldap3 SIMPLE bind on plain LDAP (lab only: Samba refuses it on 389
                        by default, "ldap server require strong auth = yes")
  * ``ntlm-sicily``     ldap3 ``authentication=NTLM`` (the Sicily bind; unsigned). Lab only:
                        Samba does not implement Sicily and drops the connection.
  * ``ntlm-spnego``     SASL GSS-SPNEGO carrying NTLM (pyspnego builds the tokens and ldap3
                        sends them), signed and sealed: every PDU after the bind travels in the
                        SASL security layer (ldap3's socket is wrapped). Lab and Samba.

Run (as root, for port 389 and the loopback alias):
    python benchmarks/bench_ntlm.py [--seconds 3] [--json out.json]
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ldap3
import spnego
from bench_ldap import stop  # the same terminate-then-kill as the slapd benchmark
from ldap3.protocol.sasl.sasl import send_sasl_negotiation

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

SAMBA_PASSWORD = "Bench-Samba-Passw0rd-2026!"
SAMBA_REALM, SAMBA_DOMAIN = "SAMBA.TEST", "SAMBA"


# -- the client ------------------------------------------------------------------------------------
class SaslSocket:
    """ldap3's socket after a sign/seal bind: each PDU goes out as a SASL buffer (4-byte length +
    the NTLM-sealed message) and comes back unwrapped, so ldap3's own search code runs unchanged."""

    def __init__(self, sock: Any, ctx: Any) -> None:
        self._sock, self._ctx, self._buf = sock, ctx, b""

    def sendall(self, data: bytes) -> None:
        wrapped = self._ctx.wrap(data, encrypt=True).data
        self._sock.sendall(len(wrapped).to_bytes(4, "big") + wrapped)

    def _exact(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self._sock.recv(n - len(out))
            if not chunk:
                return out
            out += chunk
        return out

    def recv(self, n: int) -> bytes:
        if not self._buf:
            head = self._exact(4)
            if len(head) < 4:
                return b""
            self._buf = self._ctx.unwrap(self._exact(int.from_bytes(head, "big"))).data
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def spnego_bind(conn: ldap3.Connection, user: str, domain: str, password: str, host: str) -> None:
    """SASL GSS-SPNEGO (NTLM inside) with sign+seal, then switch ldap3 onto the security layer."""
    ctx = spnego.client(f"{domain}\\{user}", password, hostname=host, service="ldap", protocol="negotiate",
                        options=spnego.NegotiateOptions.use_ntlm)
    conn.sasl_mechanism = "GSS-SPNEGO"
    token = ctx.step()
    while True:
        result = send_sasl_negotiation(conn, None, token)
        if result["result"] != 14:  # saslBindInProgress
            break
        token = ctx.step(result["saslCreds"])
    if result["result"] != 0:
        raise RuntimeError(f"GSS-SPNEGO bind failed: {result['result']} {result['message']}")
    if result.get("saslCreds"):
        ctx.step(result["saslCreds"])  # SPNEGO's final mechListMIC
    conn.bound = True
    conn.socket = SaslSocket(conn.socket, ctx)


def pair(variant: str, target: dict[str, Any]) -> None:
    """One connect + bind + base search + unbind, the way ``variant`` binds."""
    server = ldap3.Server(target["host"], port=target["port"], get_info=ldap3.NONE)
    if variant == "simple":
        conn = ldap3.Connection(server, user=target["admin_dn"], password=target["password"])
        assert conn.bind(), conn.result
    elif variant == "ntlm-sicily":
        conn = ldap3.Connection(server, user=f"{target['netbios']}\\{target['sam']}",
                                password=target["password"], authentication=ldap3.NTLM)
        assert conn.bind(), conn.result
    else:
        conn = ldap3.Connection(server, raise_exceptions=False)
        conn.open()
        spnego_bind(conn, target["sam"], target["netbios"], target["password"], target["fqdn"])
    conn.search(target["admin_dn"], "(objectClass=*)", search_scope=ldap3.BASE, attributes=["sAMAccountName"])
    assert conn.response and conn.response[0]["dn"].lower() == target["admin_dn"].lower(), conn.result
    conn.unbind()


def rate(fn: Callable[[], None], seconds: float) -> float:
    fn()  # warm-up (and proof that it works at all)
    n, start = 0, time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


# -- the servers -------------------------------------------------------------------------------------
def wait_port(host: str, port: int, deadline: float) -> None:
    while time.perf_counter() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} never opened")


def start_lab(users: int, workdir: Path) -> tuple[subprocess.Popen, dict[str, Any]]:
    proc = subprocess.Popen([sys.executable, "-m", "fakes.ad.ldap", "--users", str(users), "--workdir",
                             str(workdir)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    info = json.loads(proc.stdout.readline())
    target = {"host": info["host"], "port": info["ldap_port"], "admin_dn": info["admin_dn"],
              "password": info["admin_password"], "sam": "Administrator", "netbios": "CONTOSO",
              "fqdn": "dc01.contoso.com"}
    return proc, target


class SambaUnavailable(RuntimeError):
    """Samba cannot be run here; the message says exactly why."""


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SambaUnavailable(f"{what} failed ({' '.join(cmd[:3])} ...): "
                               f"{(done.stderr or done.stdout).strip()[-400:]}")


def start_samba(workdir: Path) -> tuple[subprocess.Popen, dict[str, Any], Callable[[], None]]:
    """Provision and start a throwaway Samba AD DC; returns (process, target, cleanup)."""
    for tool in ("samba", "samba-tool", "ip"):
        if shutil.which(tool) is None:
            raise SambaUnavailable(f"{tool} not found (apt-get install samba iproute2)")
    if os.geteuid() != 0:
        raise SambaUnavailable("needs root: Samba binds 389/636 and the script adds a loopback address")
    from simlab.loopback import free_loopback_hosts

    addr = next(free_loopback_hosts(ports=(389, 636, 3268, 3269)))
    _run(["ip", "addr", "add", f"{addr}/32", "dev", "lo"], f"adding {addr} to lo")
    cleanups: list[Callable[[], None]] = [lambda: _run(["ip", "addr", "del", f"{addr}/32", "dev", "lo"],
                                                       f"removing {addr} from lo")]

    def cleanup() -> None:
        for fn in reversed(cleanups):
            try:
                fn()
            except SambaUnavailable as exc:
                print(f"warning: {exc}", file=sys.stderr)

    try:
        target_dir = workdir / "samba"
        t = time.perf_counter()
        _run(["samba-tool", "domain", "provision", f"--targetdir={target_dir}", f"--realm={SAMBA_REALM}",
              f"--domain={SAMBA_DOMAIN}", "--server-role=dc", "--dns-backend=NONE",
              f"--adminpass={SAMBA_PASSWORD}", f"--host-ip={addr}", "--host-name=SDC01",
              f"--option=interfaces={addr}", "--option=bind interfaces only=yes"],
             "samba-tool domain provision")
        provision_s = time.perf_counter() - t
        log = open(workdir / "samba.log", "w")  # noqa: SIM115 - closed by the cleanup
        cleanups.append(log.close)
        proc = subprocess.Popen(["samba", "-i", "-s", str(target_dir / "etc" / "smb.conf"),
                                 "--option=server services=ldap"], stdout=log, stderr=subprocess.STDOUT)
        cleanups.append(lambda: stop(proc))
        wait_port(addr, 389, time.perf_counter() + 60)
    except BaseException:
        cleanup()
        raise
    base = ",".join(f"DC={p}" for p in SAMBA_REALM.lower().split("."))
    target = {"host": addr, "port": 389, "admin_dn": f"CN=Administrator,CN=Users,{base}",
              "password": SAMBA_PASSWORD, "sam": "Administrator", "netbios": SAMBA_DOMAIN,
              "fqdn": f"sdc01.{SAMBA_REALM.lower()}", "provision_seconds": provision_s}
    return proc, target, cleanup


def samba_version() -> str:
    done = subprocess.run(["samba", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


# -- the run -----------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100, help="seeded users in the lab (default 100)")
    ap.add_argument("--seconds", type=float, default=3.0, help="per measurement (default 3)")
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args()

    results: dict[str, float] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-ntlm-") as tmp:
        work = Path(tmp)
        lab_proc, lab = start_lab(args.users, work)
        try:
            for variant in ("simple", "ntlm-sicily", "ntlm-spnego"):
                results[f"lab {variant}"] = rate(lambda v=variant: pair(v, lab), args.seconds)
        finally:
            stop(lab_proc)
        try:
            _, samba, cleanup = start_samba(work)
        except SambaUnavailable as exc:
            notes.append(f"Samba not measured: {exc}")
        else:
            try:
                notes.append(f"{samba_version()} on {samba['host']} (provisioned in "
                             f"{samba['provision_seconds']:.1f} s)")
                results["samba ntlm-spnego"] = rate(lambda: pair("ntlm-spnego", samba), args.seconds)
            finally:
                cleanup()

    print(f"\nbind + base search pairs per second (new TCP connection each, {args.seconds:g} s each)\n")
    print(f"{'server / bind':32} {'pairs/s':>9}")
    for name, value in results.items():
        print(f"{name:32} {value:9.1f}")
    ratios = {
        "lab NTLM (Sicily) / lab simple": ("lab ntlm-sicily", "lab simple"),
        "lab NTLM (GSS-SPNEGO, sealed) / lab simple": ("lab ntlm-spnego", "lab simple"),
        "lab NTLM / Samba NTLM (GSS-SPNEGO, sealed)": ("lab ntlm-spnego", "samba ntlm-spnego"),
    }
    print()
    shown = {}
    for label, (a, b) in ratios.items():
        if a in results and b in results:
            shown[label] = results[a] / results[b]
            print(f"{label:48} {shown[label]:6.2f}")
    for note in notes:
        print(f"\nnote: {note}")
    if args.json:
        Path(args.json).write_text(json.dumps({"pairs_per_second": results, "ratios": shown, "notes": notes},
                                              indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
