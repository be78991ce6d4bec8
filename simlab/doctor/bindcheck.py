"""The DC's LDAP bind hardening, observed the way an admin can: by binding like the tools do.

Two probes, neither of which risks a real secret or an account:

* **Signing** — on plain LDAP (389): read the rootDSE anonymously (always allowed, so tools
  can discover what to negotiate), then a *simple bind as a throwaway principal that does
  not exist* with a random password. A DC with "LDAP server signing requirements" =
  Require signing refuses it with 8 strongerAuthRequired before looking at the name;
  otherwise it answers 49 (unknown user). No account is touched, no real password leaves
  in clear.
* **Channel binding** — over LDAPS: an NTLM bind as the admin *without* a channel binding
  token (ldap3 sends none). "Always" refuses it with 49 ``80090346`` (SEC_E_BAD_BINDINGS);
  "Never" and "When supported" accept it (the two cannot be told apart from outside).
  NTLM sends no password, and TLS protects the rest.

Where the source can show the Default Domain Controllers Policy as the GPO editor does
(a lab), its values are quoted too, and an edit still pending refresh is named before it
bites. Doctor itself reads the directory over LDAPS/StartTLS, so it keeps working.
"""

from __future__ import annotations

import secrets
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import ldap3
from ldap3.core.exceptions import LDAPException

from fakes.connect.ldapconn import close_quietly
from simlab.doctor.catalogue import ev, finding
from simlab.doctor.model import Check, Evidence, Finding

_AD = "Active Directory (LDAP)"
_GPO = "Group Policy Management > Default Domain Controllers Policy > Security Options"
SIGNING = "ldap-signing-required"
CBT = "ldap-channel-binding-always"
STRONGER_AUTH_REQUIRED = 8
SEC_E_BAD_BINDINGS = "80090346"


@dataclass(frozen=True, slots=True)
class BindTargets:
    """Where and as whom the probes bind (any field None: that probe is skipped)."""

    plain_url: str | None
    ldaps_url: str | None
    ca_file: str | None
    dns_domain: str | None
    ntlm_user: str | None  # DOMAIN\\sam, as ldap3's NTLM takes it
    ntlm_password: str | None


@dataclass(frozen=True, slots=True)
class Probe:
    """One bind attempt: the LDAP result code (None: no answer) and the server's message."""

    what: str
    code: int | None
    message: str

    def shown(self) -> str:
        if self.code is None:
            return f"no answer: {self.message}"
        return f"{self.code} {ldap3.core.results.RESULT_CODES.get(self.code, '')}: {self.message}".strip()


def _server(url: str, ca_file: str | None) -> ldap3.Server:
    parsed = urlparse(url)
    secure = parsed.scheme == "ldaps"
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file) if ca_file else None
    port = parsed.port or (636 if secure else 389)
    return ldap3.Server(parsed.hostname or "127.0.0.1", port=port, use_ssl=secure, tls=tls,
                        get_info=ldap3.NONE, connect_timeout=10)


def _attempt(what: str, server: ldap3.Server, **kwargs: Any) -> tuple[Probe, list[str]]:
    """Bind once (after an anonymous rootDSE read); returns the probe and the advertised SASL mechanisms."""
    conn = ldap3.Connection(server, raise_exceptions=False, receive_timeout=30, **kwargs)
    mechanisms: list[str] = []
    try:
        conn.open()
        if conn.search("", "(objectClass=*)", ldap3.BASE, attributes=["supportedSASLMechanisms"]):
            mechanisms = [str(m) for m in conn.entries[0]["supportedSASLMechanisms"].values]
        conn.bind()
        result = conn.result or {}
        probe = Probe(what, result.get("result"), str(result.get("message", "")).rstrip("\x00"))
    except (LDAPException, ValueError) as exc:  # ValueError: no MD4 for ldap3's NTLM (pycryptodome)
        probe = Probe(what, None, f"{type(exc).__name__}: {exc}")
    finally:
        close_quietly(conn)  # (also the socket of a connection that never opened)
    return probe, mechanisms


def probe_signing(t: BindTargets) -> tuple[Probe, list[str]]:
    """Simple bind over plain LDAP as a principal that does not exist (see the module docstring)."""
    assert t.plain_url is not None
    who = f"simlab-doctor-probe-{secrets.token_hex(4)}@{t.dns_domain or 'invalid'}"
    return _attempt(f"simple bind as {who} (does not exist) over {t.plain_url}, no TLS",
                    _server(t.plain_url, None), user=who, password=secrets.token_urlsafe(18))


def probe_channel_binding(t: BindTargets) -> tuple[Probe, list[str]]:
    """NTLM bind over LDAPS without a channel binding token, as the admin."""
    assert t.ldaps_url is not None
    return _attempt(f"NTLM bind as {t.ntlm_user} over {t.ldaps_url} without a channel binding token",
                    _server(t.ldaps_url, t.ca_file), user=t.ntlm_user, password=t.ntlm_password,
                    authentication=ldap3.NTLM)


def _gpo_evidence(gpo: Any, key: str, label: str, values: dict[str, str]) -> tuple[list[Evidence], bool]:
    """The GPO editor's value for ``key`` (and whether it is pending), if the source has the GPO."""
    if gpo is None:
        return [], False
    value = gpo.settings.get(key)
    pending = bool(gpo.pending) and value != (gpo.applied or {}).get(key)
    shown = values.get(str(value), str(value)) + (" (edited; pending until the DCs' next Group Policy "
                                                  "refresh or gpupdate /force)" if pending else "")
    where = f"Default Domain Controllers Policy > Security Options > {label}"
    return [ev("Group Policy Management", where, shown)], pending


def ldap_bind_policy(source: Any) -> tuple[list[Finding], list[Check]]:
    """Signing and channel binding requirements, from bind probes (and the GPO where readable)."""
    targets: BindTargets | None = getattr(source, "bind_targets", lambda: None)()
    gpo = getattr(source, "dc_gpo", lambda: None)()
    if targets is None:
        return [], [Check("LDAP signing / channel binding", "skipped", "no LDAP URLs to probe")]
    findings: list[Finding] = []
    checks: list[Check] = []
    _signing(targets, gpo, findings, checks)
    _channel_binding(targets, gpo, findings, checks)
    return findings, checks


def _signing(t: BindTargets, gpo: Any, findings: list[Finding], checks: list[Check]) -> None:
    name = "LDAP server signing requirements"
    if t.plain_url is None:
        checks.append(Check(name, "skipped", "no plain LDAP URL to probe"))
        return
    probe, mechanisms = probe_signing(t)
    settings, pending = _gpo_evidence(gpo, "ldap_server_signing", "Domain controller: LDAP server signing "
                                      "requirements", {"none": "None", "require": "Require signing"})
    required = probe.code == STRONGER_AUTH_REQUIRED
    if probe.code not in (STRONGER_AUTH_REQUIRED, 49):
        checks.append(Check(name, "skipped", f"unexpected answer to the probe bind: {probe.shown()}"))
        return
    if not required and not pending:
        checks.append(Check(name, "ok", "simple binds over plain LDAP are accepted"))
        return
    evidence = [ev(_AD, probe.what, probe.shown())]
    if mechanisms:
        evidence.append(ev(_AD, "rootDSE supportedSASLMechanisms (anonymous read)", ", ".join(mechanisms)))
    evidence += settings
    detail = "plain simple binds refused (8)" if required else "Require signing pending GPO refresh"
    checks.append(Check(name, "finding", detail))
    findings.append(finding(SIGNING, "warning", evidence, [
        "Point tools that simple-bind over 389 at LDAPS (636) or StartTLS, or use a signed SASL bind "
        "(Negotiate/NTLM with signing); SSPR writeback is not affected (the Connect agent uses LDAPS).",
        f"Stopgap only: {_GPO} > Domain controller: LDAP server signing requirements = None, then "
        "gpupdate /force on the DCs.",
    ]))


def _channel_binding(t: BindTargets, gpo: Any, findings: list[Finding], checks: list[Check]) -> None:
    name = "LDAP channel binding token requirements"
    if t.ldaps_url is None or not t.ntlm_user or not t.ntlm_password:
        checks.append(Check(name, "skipped", "no LDAPS URL or NTLM credentials to probe"))
        return
    probe, _ = probe_channel_binding(t)
    settings, pending = _gpo_evidence(gpo, "ldap_channel_binding", "Domain controller: LDAP server channel "
                                      "binding token requirements",
                                      {"never": "Never", "when_supported": "When supported",
                                       "always": "Always"})
    refused = probe.code == 49 and SEC_E_BAD_BINDINGS in probe.message
    if probe.code != 0 and not refused:
        checks.append(Check(name, "skipped", f"the NTLM probe over LDAPS did not bind: {probe.shown()}"))
        return
    if not refused and not (pending and gpo.settings.get("ldap_channel_binding") == "always"):
        checks.append(Check(name, "ok", "NTLM over LDAPS without a channel binding token is accepted"))
        return
    detail = "NTLM over LDAPS without CBT refused (80090346)" if refused else "Always pending GPO refresh"
    checks.append(Check(name, "finding", detail))
    findings.append(finding(CBT, "warning", [ev(_AD, probe.what, probe.shown()), *settings], [
        "Update tools that bind with NTLM/Negotiate over LDAPS to send the tls-server-end-point channel "
        "binding token (or use signed NTLM on 389); SSPR writeback is not affected (simple bind over LDAPS).",
        f"Until then: {_GPO} > Domain controller: LDAP server channel binding token requirements = When "
        "supported, then gpupdate /force on the DCs.",
    ]))


def endpoint_targets(ldap_url: str, ca_file: str | None, base_dn: str | None, admin_dn: str,
                     admin_password: str, ntlm_user: str | None = None) -> BindTargets:
    """Probe targets for an endpoint pair: the other scheme on its standard port, names from the DNs."""
    parsed = urlparse(ldap_url)
    host = parsed.hostname or "127.0.0.1"
    url_host = f"[{host}]" if ":" in host else host
    secure = parsed.scheme == "ldaps"
    plain = None if secure else ldap_url
    ldaps = ldap_url if secure else (f"ldaps://{url_host}:636" if parsed.port in (None, 389) else None)
    if secure and parsed.port in (None, 636):
        plain = f"ldap://{url_host}:389"
    labels = [rdn.split("=", 1)[1] for rdn in (base_dn or "").split(",") if rdn.lower().startswith("dc=")]
    dns = ".".join(labels) or None
    if ntlm_user is None and labels and admin_dn.lower().startswith("cn="):
        ntlm_user = f"{labels[0].upper()}\\{admin_dn.split(',', 1)[0].split('=', 1)[1]}"
    return BindTargets(plain, ldaps, ca_file, dns, ntlm_user, admin_password)
