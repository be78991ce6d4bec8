"""Types shared by the DC operation API (:mod:`fakes.ad.dc`) and its protocol adapters.

The LDAP server (:mod:`fakes.ad.ldap`) turns wire messages into these values, calls
the :class:`~fakes.ad.dc.DomainController`, and encodes what comes back. Python users
and unit tests call the same methods directly. Failures are raised as
:class:`LdapError` carrying the exact Windows result code and diagnostic string (from
:mod:`fakes.ad.errors`); the adapter encodes them as an LDAPResult.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class Scope(IntEnum):
    BASE = 0
    ONELEVEL = 1
    SUBTREE = 2


class ModOp(IntEnum):
    """RFC 4511 modify operation codes (4525 increment included)."""

    ADD = 0
    DELETE = 1
    REPLACE = 2
    INCREMENT = 3


class ResultCode(IntEnum):
    """The RFC 4511 result codes the fake DC answers with."""

    SUCCESS = 0
    OPERATIONS_ERROR = 1
    PROTOCOL_ERROR = 2
    TIME_LIMIT_EXCEEDED = 3
    SIZE_LIMIT_EXCEEDED = 4
    COMPARE_FALSE = 5
    COMPARE_TRUE = 6
    AUTH_METHOD_NOT_SUPPORTED = 7
    STRONGER_AUTH_REQUIRED = 8
    REFERRAL = 10
    ADMIN_LIMIT_EXCEEDED = 11
    UNAVAILABLE_CRITICAL_EXTENSION = 12
    CONFIDENTIALITY_REQUIRED = 13
    SASL_BIND_IN_PROGRESS = 14
    NO_SUCH_ATTRIBUTE = 16
    UNDEFINED_ATTRIBUTE_TYPE = 17
    INAPPROPRIATE_MATCHING = 18
    CONSTRAINT_VIOLATION = 19
    ATTRIBUTE_OR_VALUE_EXISTS = 20
    INVALID_ATTRIBUTE_SYNTAX = 21
    NO_SUCH_OBJECT = 32
    ALIAS_PROBLEM = 33
    INVALID_DN_SYNTAX = 34
    INAPPROPRIATE_AUTHENTICATION = 48
    INVALID_CREDENTIALS = 49
    INSUFFICIENT_ACCESS_RIGHTS = 50
    BUSY = 51
    UNAVAILABLE = 52
    UNWILLING_TO_PERFORM = 53
    LOOP_DETECT = 54
    NAMING_VIOLATION = 64
    OBJECT_CLASS_VIOLATION = 65
    NOT_ALLOWED_ON_NON_LEAF = 66
    NOT_ALLOWED_ON_RDN = 67
    ENTRY_ALREADY_EXISTS = 68
    OBJECT_CLASS_MODS_PROHIBITED = 69
    AFFECTS_MULTIPLE_DSAS = 71
    OTHER = 80


@dataclass(frozen=True, slots=True)
class Control:
    """An LDAP control as it travels: OID, criticality and the raw BER value (or None)."""

    oid: str
    critical: bool = False
    value: bytes | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One modification of a modify request. Values are wire bytes or ``str`` (UTF-8)."""

    op: ModOp
    attribute: str
    values: tuple[bytes | str, ...] = ()


@dataclass(slots=True)
class LdapResult:
    """What an operation answers: code, diagnostic message, matched DN, response controls.

    ``name``/``value`` are set for extended operations (responseName, responseValue).
    """

    code: int = ResultCode.SUCCESS
    message: str = ""
    matched_dn: str = ""
    controls: tuple[Control, ...] = ()
    name: str | None = None
    value: bytes | None = None


class LdapError(Exception):
    """An operation failed; carries the LDAP result exactly as Windows would send it."""

    def __init__(self, code: int, message: str = "", matched_dn: str = "") -> None:
        name = ResultCode(code).name if code in ResultCode._value2member_map_ else "UNKNOWN"
        super().__init__(f"{int(code)} {name}: {message}")
        self.code = int(code)
        self.message = message
        self.matched_dn = matched_dn

    def to_result(self) -> LdapResult:
        return LdapResult(self.code, self.message, self.matched_dn)


@dataclass(slots=True)
class SearchEntry:
    """One search result entry. Attribute names as the schema spells them; values as wire bytes."""

    dn: str
    attributes: dict[str, list[bytes]] = field(default_factory=dict)

    def get(self, name: str) -> list[bytes]:
        """Values of ``name`` (case-insensitive), ``[]`` when absent."""
        lowered = name.lower()
        for key, values in self.attributes.items():
            if key.lower() == lowered:
                return values
        return []

    def text(self, name: str) -> list[str]:
        """Values of ``name`` decoded as UTF-8 (for string-syntax attributes)."""
        return [v.decode("utf-8") for v in self.get(name)]

    def first(self, name: str) -> str | None:
        values = self.text(name)
        return values[0] if values else None


@dataclass(slots=True)
class SearchResult:
    """Entries plus the final SearchResultDone (which may carry a paged-results cookie)."""

    entries: list[SearchEntry] = field(default_factory=list)
    result: LdapResult = field(default_factory=LdapResult)
    referrals: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Session:
    """One client connection's state as the DC sees it.

    ``encrypted`` is True on LDAPS, after StartTLS, or once an NTLM/SPNEGO bind turned
    on sealing (MS-ADTS 3.1.1.3.1.5.1: a 128-bit SASL confidentiality layer counts as
    an encrypted connection); unicodePwd writes need it. ``tls`` is the transport alone
    (LDAPS or StartTLS). ``signing``/``sealing`` describe the SASL security layer after
    an NTLM bind (Sicily or GSS-SPNEGO); ``mechanism`` names how the session bound
    ("SIMPLE", "SICILY", "GSS-SPNEGO", or "" while anonymous).
    ``principal_dn``/``principal_sid`` are None while anonymous. ``token`` holds the
    principal's SID and every (transitive) group SID plus well-known ones
    (Everyone, Authenticated Users, ...), computed at bind time.
    ``state`` is scratch space for per-connection protocol state (paged-search cookies).
    """

    peer: str = ""
    encrypted: bool = False
    tls: bool = False
    signing: bool = False
    sealing: bool = False
    mechanism: str = ""
    principal_dn: str | None = None
    principal_sid: str | None = None
    token: frozenset[str] = frozenset()
    state: dict[str, object] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return self.principal_dn is None
