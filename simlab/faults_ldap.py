"""Fault catalogue entries for the DC's LDAP bind hardening (Default Domain Controllers Policy).

Both are what an admin meets after applying a hardening baseline (Microsoft's ADV190023 /
KB4520412 guidance, CIS and the Security Compliance Toolkit set them): the GPO edit is
made in the Default Domain Controllers Policy and the DCs refresh (``gpupdate /force``).
Tools that bind the old way then fail; the Entra Connect agent keeps writing back because
it binds over LDAPS with a simple bind, which neither setting touches.

:data:`TOOL_BINDS` says how the affected tool binds, so training checks and scenarios can
replay exactly that bind (:func:`tool_bind`). Registered into :data:`simlab.faults.FAULTS`
when :mod:`simlab.faults` is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simlab.faults import Symptom, _fault
from simlab.lab_types import BindResult

if TYPE_CHECKING:
    from simlab.lab import Lab

_GPO = ("Group Policy Management > Default Domain Controllers Policy > Computer Configuration > Policies > "
        "Windows Settings > Security Settings > Local Policies > Security Options")

#: fault -> (authentication, transport) of the tool whose bind the fault breaks.
TOOL_BINDS: dict[str, tuple[str, str]] = {
    "ldap-signing-required": ("simple", "ldap"),
    "ldap-channel-binding-always": ("ntlm", "ldaps"),
}


@_fault("ldap-signing-required", "policy", "LDAP signing required; a tool still simple-binds over 389",
        symptom=Symptom("ldap_bind", "strongerAuthRequired", (),
                        text="Simple binds with a password over plain LDAP (389) fail with 8 "
                             "strongerAuthRequired, '00002028: LdapErr: DSID-0C090259, comment: The server "
                             "requires binds to turn on integrity checking if SSL\\TLS are not already "
                             "active on the connection'; unsigned NTLM binds on 389 too. LDAPS, StartTLS "
                             "and signed NTLM/Negotiate binds work, so SSPR writeback (LDAPS) still "
                             "succeeds."),
        fix="Move the tool to LDAPS (636) or StartTLS, or to a signed SASL bind (Negotiate/NTLM with "
            "signing). Only as a stopgap: " + _GPO + " > 'Domain controller: LDAP server signing "
            "requirements' = None, then gpupdate /force on the DCs.")
def _signing_required(lab: Lab) -> None:
    """A hardening GPO sets 'Domain controller: LDAP server signing requirements' to Require signing
    in the Default Domain Controllers Policy; the DCs apply it (gpupdate /force)."""
    lab.dc_gpo.edit(ldap_server_signing="require")
    lab.gpupdate()


@_fault("ldap-channel-binding-always", "policy", "LDAP channel binding 'Always'; a tool's NTLM over LDAPS "
                                                  "sends no channel binding token",
        symptom=Symptom("ldap_bind", "80090346", (),
                        text="NTLM/Negotiate binds over LDAPS (or after StartTLS) without a channel binding "
                             "token fail with 49 invalidCredentials, '80090346: LdapErr: ... "
                             "AcceptSecurityContext error, data 80090346' (SEC_E_BAD_BINDINGS). Simple binds "
                             "over LDAPS, including the Connect agent's, are not affected."),
        fix="Update the tool to send the tls-server-end-point channel binding token (e.g. ldap3 with "
            "channel binding support, or a Windows client with the CBT update), or use signed NTLM on "
            "389. Until then: " + _GPO + " > 'Domain controller: LDAP server channel binding token "
            "requirements' = When supported, then gpupdate /force on the DCs.")
def _channel_binding_always(lab: Lab) -> None:
    """A hardening GPO sets 'Domain controller: LDAP server channel binding token requirements' to
    Always in the Default Domain Controllers Policy; the DCs apply it (gpupdate /force)."""
    lab.dc_gpo.edit(ldap_channel_binding="always")
    lab.gpupdate()


def tool_bind(lab: Lab, fault: str, user: str, password: str) -> BindResult:
    """Bind as the tool broken by ``fault`` does (its authentication over its transport)."""
    authentication, transport = TOOL_BINDS[fault]
    return lab.bind(user, password, transport=transport, authentication=authentication)  # type: ignore[arg-type]
