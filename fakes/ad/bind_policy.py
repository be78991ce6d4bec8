"""The DC's LDAP bind hardening: "LDAP server signing requirements" and channel binding.

Two Default Domain Controllers Policy settings decide which binds a Windows DC accepts:

- *Domain controller: LDAP server signing requirements* (registry ``LDAPServerIntegrity``:
  1 = None, the default; 2 = Require signing). With signing required, a bind that leaves
  the connection without integrity protection is refused with 8 strongerAuthRequired:
  a simple bind, or a SASL (NTLM/Negotiate) bind that did not negotiate signing, on a
  connection without TLS. Over LDAPS or after StartTLS, TLS already protects the
  session and every bind is accepted.
- *Domain controller: LDAP server channel binding token requirements* (registry
  ``LdapEnforceChannelBinding``: 0 = Never, 1 = When supported, 2 = Always). It only
  concerns NTLM/Negotiate binds over TLS: with "Always" the client must send the
  tls-server-end-point channel binding in its NTLM AUTHENTICATE (MsvAvChannelBindings);
  with "When supported" a client that sends one must send the right one. A wrong or
  missing token fails as AcceptSecurityContext error 0x80090346 (SEC_E_BAD_BINDINGS).

The rules are pure functions of the policy and what the bind negotiated, so the LDAP
head calls :func:`check_bind` once the mechanism is known and the directory never sees
a refused bind. Texts: :mod:`fakes.ad.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fakes.ad import errors

Signing = Literal["none", "require"]
ChannelBinding = Literal["never", "when_supported", "always"]


@dataclass(frozen=True, slots=True)
class LdapServerPolicy:
    """The two settings as the DC has applied them (not pending GPO edits)."""

    signing: Signing = "none"
    channel_binding: ChannelBinding = "never"

    @property
    def ldap_server_integrity(self) -> int:
        """The registry value Windows stores for the signing setting."""
        return 2 if self.signing == "require" else 1

    @property
    def ldap_enforce_channel_binding(self) -> int:
        """The registry value Windows stores for the channel binding setting."""
        return {"never": 0, "when_supported": 1, "always": 2}[self.channel_binding]


def check_simple_bind(policy: LdapServerPolicy, *, tls: bool, anonymous: bool) -> None:
    """Refuse a simple bind with credentials on plain LDAP when signing is required.

    An anonymous bind (empty password) is still accepted, as on Windows, where the
    rootDSE must stay readable so that clients can discover what to negotiate.
    """
    if policy.signing == "require" and not tls and not anonymous:
        raise errors.stronger_auth_required()


def check_sasl_bind(
    policy: LdapServerPolicy,
    *,
    tls: bool,
    signing: bool,
    channel_binding: bytes | None,
    expected_channel_binding: bytes | None,
) -> None:
    """Refuse an NTLM (Sicily or GSS-SPNEGO) bind the policy does not allow.

    ``channel_binding`` is the MD5 hash the client put in MsvAvChannelBindings (None or
    16 zero bytes when it sent none); ``expected_channel_binding`` is the hash of the
    server's own tls-server-end-point binding (None without TLS).
    """
    if not tls:
        if policy.signing == "require" and not signing:
            raise errors.stronger_auth_required()
        return
    sent = channel_binding if channel_binding and any(channel_binding) else None
    if policy.channel_binding == "always" and sent is None:
        raise errors.bind_failed(errors.BIND_BAD_BINDINGS, sspi=True)
    if policy.channel_binding != "never" and sent is not None and sent != expected_channel_binding:
        raise errors.bind_failed(errors.BIND_BAD_BINDINGS, sspi=True)
