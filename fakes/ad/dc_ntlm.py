"""The DC side of an NTLM bind: find the account the AUTHENTICATE names, apply the policy and account rules.

The wire layer (:mod:`fakes.ad.ldap.ntlm_bind`) runs the NTLM/SPNEGO exchange and hands
over a parsed :class:`~fakes.ad.ntlm.NtlmLogon`; this module decides, with the same
:func:`fakes.ad.dc_bind.logon` path as a simple bind (525/52e/530/531/532/533/701/773/775,
bad-password counting, lockout and 4740, lastLogon), worded as SSPI answers
(``8009030C ... data 52e``).

Account names (MS-NLMP 3.3.2 / MS-APDS 3.1.5): ``DOMAIN\\user`` with the NetBIOS or DNS
domain name, ``user@upn`` with an empty domain, or a bare sAMAccountName with an empty
domain (the DC's own domain). An empty user with no responses is anonymous.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fakes.ad import bind_policy, errors
from fakes.ad.api import LdapResult, Session
from fakes.ad.dc_bind import logon, reset_identity
from fakes.ad.ntlm import F, NtlmLogon

if TYPE_CHECKING:
    from fakes.ad.dc import DomainController
    from fakes.ad.directory import Entry


def resolve_account(dc: DomainController, user: str, domain: str) -> Entry | None:
    """The account an AUTHENTICATE_MESSAGE names, or None (525)."""
    if not user:
        return None
    if not domain and "@" in user:
        return dc.resolve_principal(user)
    if domain and domain.lower() not in (dc.netbios_name.lower(), dc.dns_domain.lower()):
        return None
    hits = dc.directory.lookup("sAMAccountName", user)
    return hits[0] if len(hits) == 1 else None


def ntlm_bind(
    dc: DomainController,
    session: Session,
    auth: NtlmLogon,
    *,
    mechanism: str,
    expected_channel_binding: bytes | None = None,
) -> LdapResult:
    """Finish an NTLM bind (Sicily or GSS-SPNEGO) for ``session``; raises LdapError like a DC."""
    reset_identity(session)
    session.signing = session.sealing = False
    signing = bool(auth.flags & (F.sign | F.seal))
    bind_policy.check_sasl_bind(
        dc.ldap_policy,
        tls=session.tls,
        signing=signing,
        channel_binding=auth.channel_binding,
        expected_channel_binding=expected_channel_binding,
    )
    if auth.anonymous:
        return LdapResult()  # anonymous NTLM is an anonymous bind
    if not auth.ntlm_v2:
        # NTLMv1/LM: refused like a DC at "Send NTLMv2 response only. Refuse LM & NTLM".
        raise errors.ntlm_bind_failed(errors.BIND_INVALID_CREDENTIALS)
    entry = resolve_account(dc, auth.user, auth.domain)
    result = logon(dc, session, entry, auth.verify, mechanism=mechanism, fail=errors.ntlm_bind_failed)
    # Over TLS the DC adds no SASL layer (TLS already protects the session), so the flags
    # only matter on plain LDAP.
    session.signing = bool(auth.flags & (F.sign | F.seal)) and not session.tls
    session.sealing = bool(auth.flags & F.seal) and not session.tls
    if session.sealing and auth.flags & F.key_128:
        # MS-ADTS 3.1.1.3.1.5.1: a 128-bit SASL confidentiality layer counts as encrypted.
        session.encrypted = True
    return result
