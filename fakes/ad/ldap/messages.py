"""Diagnostic strings for failures the LDAP head answers itself, before the DC sees a request.

Everything the directory decides comes from :mod:`fakes.ad.errors`; these few cover
what only the wire layer can see (malformed BER, SASL, TLS state). Texts follow the
Windows ``LdapErr`` layout (8-hex-digit Win32 code first, NUL terminator); the exact
DSIDs and comments are not confirmed from captures (FACTS.md has none for these
cases), so they are marked (unconfirmed) and kept to the Windows format only.
"""

from __future__ import annotations

from fakes.ad.api import ResultCode

_END = "\x00"

# (unconfirmed) AD drops a client that sends undecodable BER after a notice of disconnection.
DECODING_ERROR = (
    ResultCode.PROTOCOL_ERROR,
    "00000057: LdapErr: DSID-0C090F2A, comment: Error decoding ldap message, data 0, v3839" + _END,
)
MESSAGE_TOO_LARGE = (
    ResultCode.PROTOCOL_ERROR,
    "00000057: LdapErr: DSID-0C090F2B, comment: Request exceeds MaxReceiveBuffer, data 0, v3839" + _END,
)
UNKNOWN_OPERATION = (
    ResultCode.PROTOCOL_ERROR,
    "00000057: LdapErr: DSID-0C090F2C, comment: Unknown protocol operation, data 0, v3839" + _END,
)
# (unconfirmed) AD supports GSSAPI/GSS-SPNEGO/EXTERNAL/DIGEST-MD5; the lab implements GSS-SPNEGO (NTLM) only,
# so every other mechanism gets this answer (see fakes.ad.ldap.ntlm_bind).
SASL_UNSUPPORTED = (
    ResultCode.AUTH_METHOD_NOT_SUPPORTED,
    "00002027: LdapErr: DSID-0C0906B6, comment: Unknown authentication mechanism, data 0, v3839" + _END,
)
BAD_VERSION = (
    ResultCode.PROTOCOL_ERROR,
    "00000057: LdapErr: DSID-0C0906B7, comment: Unsupported LDAP version, data 0, v3839" + _END,
)
BAD_ENUM = (
    ResultCode.PROTOCOL_ERROR,
    "00000057: LdapErr: DSID-0C090F2D, comment: Error decoding ldap message, data 0, v3839" + _END,
)
# (unconfirmed) StartTLS on a connection that already runs TLS / on a DC without a certificate.
TLS_ALREADY = (
    ResultCode.OPERATIONS_ERROR,
    "00000000: LdapErr: DSID-0C09107C, comment: TLS or SSL already in effect, data 0, v3839" + _END,
)
# (unconfirmed wording) RFC 4511 4.14.1: StartTLS once a SASL security layer is installed is operationsError.
TLS_AFTER_SASL_LAYER = (
    ResultCode.OPERATIONS_ERROR,
    "00000000: LdapErr: DSID-0C09107D, comment: A SASL security layer is already in effect, data 0, v3839"
    + _END,
)
TLS_UNAVAILABLE = (
    ResultCode.UNAVAILABLE,
    "00000000: LdapErr: DSID-0C090E09, comment: Error initializing SSL/TLS, data 0, v3839" + _END,
)


def internal_error(exc: BaseException) -> tuple[int, str]:
    """Result for a bug in the lab itself: code 80 and a message that says so plainly."""
    return ResultCode.OTHER, f"simlab internal error: {type(exc).__name__}: {exc}"


def not_implemented(exc: BaseException) -> tuple[int, str]:
    """Result for a DC feature the lab does not implement (53, with the reason)."""
    return ResultCode.UNWILLING_TO_PERFORM, f"not implemented in simlab: {exc}"
