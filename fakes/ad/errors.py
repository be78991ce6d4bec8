"""The fake DC's catalogue of Windows LDAP result codes and diagnostic strings.

Every failure the DC reports comes from here, so the strings live in one place and
match what Windows Server sends (sources: FACTS.md section 7 and public captures).

Format rule (MS-ADTS 3.1.1.3.1.9): the first 8 characters are the Win32 error code in
hex; the rest is informational. On the wire Windows terminates the diagnostic text with
a NUL byte, and errors raised by the directory core (``SvcErr``, ``AtrErr``,
``NameErr``, ``SecErr``, ``UpdErr``, ``SysErr``) also carry a newline before it
(ldap3 shows ``...data 0\\n\\x00``), while errors from the LDAP head (``LdapErr``) end
in ``\\x00`` only. We keep that terminator in :attr:`LdapError.message` because clients
(ldap3, ldapsearch) display it and tools under test may depend on it; use
:func:`canonical` to compare against the FACTS.md text without it.

DSIDs vary by build; we keep one per case (Windows Server 2016/2019 captures).
"""

from __future__ import annotations

from fakes.ad.api import LdapError, ResultCode

# Windows appends these after the informational text (see module docstring).
_CORE_END = "\n\x00"
_HEAD_END = "\x00"


def canonical(message: str) -> str:
    """The diagnostic text without the Windows wire terminator (``\\n\\x00`` / ``\\x00``)."""
    return message.rstrip("\x00").rstrip("\n")


def _core(code: int, text: str) -> LdapError:
    return LdapError(code, text + _CORE_END)


def _head(code: int, text: str) -> LdapError:
    return LdapError(code, text + _HEAD_END)


def _att(code: str, dsid: str, problem: str, att: str) -> str:
    """An attribute error in Windows' multi-line layout (``#1:\\n\\t0: ...``)."""
    return f"{code}: AtrErr: {dsid}, #1:\n\t0: {code}: {dsid}, problem {problem}, data 0, Att {att}"


# --------------------------------------------------------------------------- bind
#: Bind ``data`` sub-codes (FACTS 7): the Win32 error behind AcceptSecurityContext.
BIND_USER_NOT_FOUND = "525"
BIND_INVALID_CREDENTIALS = "52e"
BIND_LOGON_HOURS = "530"
BIND_WORKSTATION = "531"
BIND_PASSWORD_EXPIRED = "532"
BIND_ACCOUNT_DISABLED = "533"
BIND_ACCOUNT_EXPIRED = "701"
BIND_MUST_RESET = "773"
BIND_ACCOUNT_LOCKED = "775"
#: SEC_E_BAD_BINDINGS: the NTLM channel binding token is missing or wrong (LDAP channel binding policy).
BIND_BAD_BINDINGS = "80090346"

BIND_TEMPLATE = "80090308: LdapErr: DSID-0C09042F, comment: AcceptSecurityContext error, data {data}, v4563"


# Channel-binding failures carry the SSPI status both as the leading code and as ``data``
# (public captures against hardened DCs: "80090346: LdapErr: DSID-0C09069E, comment:
# AcceptSecurityContext error, data 80090346, v2580"; v4563 is the Server 2019 build).
BIND_SSPI_TEMPLATE = (
    "{data}: LdapErr: DSID-0C0906B5, comment: AcceptSecurityContext error, data {data}, v4563"
)


def bind_failed(data: str = BIND_INVALID_CREDENTIALS, *, sspi: bool = False) -> LdapError:
    """49 invalidCredentials with the AcceptSecurityContext ``data`` code (525, 52e, 533, 775, ...).

    ``sspi=True`` is for SSPI status codes (0x80090346 bad bindings) that Windows reports
    as the leading code too.
    """
    template = BIND_SSPI_TEMPLATE if sspi else BIND_TEMPLATE
    return _head(ResultCode.INVALID_CREDENTIALS, template.format(data=data))


# NTLM binds (Sicily or GSS-SPNEGO) that fail in the account check answer SEC_E_LOGON_DENIED
# 0x8009030C as the leading code with the usual ``data`` values (public impacket and msldap
# output against Server 2016+: "8009030C: LdapErr: DSID-0C0906B5, comment: AcceptSecurityContext
# error, data 52e, v4563"; the same with data 52f).
SSPI_LOGON_DENIED = "8009030C"
#: SEC_E_INVALID_TOKEN for an NTLM/SPNEGO token the DC cannot parse (unconfirmed: no capture;
#: worded like the other SSPI statuses).
BIND_INVALID_TOKEN = "80090308"
NTLM_BIND_TEMPLATE = (
    SSPI_LOGON_DENIED + ": LdapErr: DSID-0C0906B5, comment: AcceptSecurityContext error, data {data}, v4563"
)


def ntlm_bind_failed(data: str = BIND_INVALID_CREDENTIALS) -> LdapError:
    """49 invalidCredentials for an NTLM bind refused by the account rules (525, 52e, 533, 775, ...)."""
    return _head(ResultCode.INVALID_CREDENTIALS, NTLM_BIND_TEMPLATE.format(data=data))


# 8 strongerAuthRequired when "LDAP server signing requirements" is "Require signing" and the
# bind would leave plain LDAP without integrity (captures: ldap3#1030 DSID-0C090259 v4563,
# Windows Server 2019; impacket#884 DSID-0C09026E v2580). The backslash is Windows' own.
STRONGER_AUTH_REQUIRED = (
    "00002028: LdapErr: DSID-0C090259, comment: The server requires binds to turn on integrity "
    "checking if SSL\\TLS are not already active on the connection, data 0, v4563"
)


def stronger_auth_required() -> LdapError:
    """8 strongerAuthRequired: signing required and the bind offers none (nor TLS)."""
    return _head(ResultCode.STRONGER_AUTH_REQUIRED, STRONGER_AUTH_REQUIRED)


# Windows Server 2016 capture (v3839 = build 14393).
OPERATIONS_ERROR_NO_BIND = (
    "000004DC: LdapErr: DSID-0C090A22, comment: In order to perform this operation a successful bind "
    "must be completed on the connection., data 0, v3839"
)


def bind_required() -> LdapError:
    """1 operationsError: anonymous request for anything but the rootDSE."""
    return _head(ResultCode.OPERATIONS_ERROR, OPERATIONS_ERROR_NO_BIND)


# MS-ADTS 3.1.1.3.4.1.22 gives the result code (operationsError) of a range retrieval past the
# last value of a linked attribute and leaves the text unrestricted; no capture of AD's text was
# found. The leading code is ERROR_DS_OPERATIONS_ERROR (MS-ERREF); the rest is simlab's own.
RANGE_PAST_END = "00002020: LdapErr: comment: Range retrieval past the last value of the attribute, data 0"


def range_past_end() -> LdapError:
    """1 operationsError: ``member;range=N-*`` with N at or past the number of values."""
    return _head(ResultCode.OPERATIONS_ERROR, RANGE_PAST_END)


UNKNOWN_EXTENDED = "0000203D: LdapErr: DSID-0C0911AA, comment: Unknown extended request OID, data 0, v3839"


def unknown_extended() -> LdapError:
    """2 protocolError: an extended operation the DC does not implement."""
    return _head(ResultCode.PROTOCOL_ERROR, UNKNOWN_EXTENDED)


# (unconfirmed) Windows answers an unsupported critical control with 12; the text below is the
# LDAP head's control-processing error, the closest capture found.
UNAVAILABLE_CRITICAL = "000020EF: LdapErr: DSID-0C090D7D, comment: Error processing control, data 0, v3839"


def unavailable_critical_extension(oid: str = "") -> LdapError:
    """12 unavailableCriticalExtension: a critical control the DC does not support."""
    return _head(ResultCode.UNAVAILABLE_CRITICAL_EXTENSION, UNAVAILABLE_CRITICAL)


CONTROL_DECODE = "00000057: LdapErr: DSID-0C090D7D, comment: Error processing control, data 0, v3839"


def control_error() -> LdapError:
    """2 protocolError: a control value that does not decode (unconfirmed code)."""
    return _head(ResultCode.PROTOCOL_ERROR, CONTROL_DECODE)


def dirsync_not_nc_head() -> LdapError:
    """53 for a DirSync search whose base is no naming context head, asked with
    LDAP_DIRSYNC_OBJECT_SECURITY (the code Samba gives; Windows' text unconfirmed: its control
    error's). Without the flag the same base is 50 (:func:`insufficient_access`)."""
    return _head(ResultCode.UNWILLING_TO_PERFORM, CONTROL_DECODE)


SIZE_LIMIT = "00000000: LdapErr: DSID-0C0911AE, comment: Size limit exceeded, data 0, v3839"


def size_limit_message() -> str:
    """Diagnostic text of a searchResDone with 4 sizeLimitExceeded (partial results)."""
    return SIZE_LIMIT + _HEAD_END


ATTRIBUTE_CONVERSION = (
    "00000057: LdapErr: DSID-0C090D8A, comment: Error in attribute conversion operation, data 0, v3839"
)


def attribute_conversion(code: int = ResultCode.UNDEFINED_ATTRIBUTE_TYPE) -> LdapError:
    """17 undefinedAttributeType (or 21): an attribute unknown to the schema in add/modify."""
    return _head(code, ATTRIBUTE_CONVERSION)


# --------------------------------------------------------------------------- names
NO_OBJECT = "0000208D: NameErr: DSID-03100245, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'{match}'"


def no_such_object(best_match: str = "") -> LdapError:
    """32 noSuchObject; ``best_match`` is the closest existing ancestor ('' if none)."""
    return LdapError(ResultCode.NO_SUCH_OBJECT, NO_OBJECT.format(match=best_match) + _CORE_END, best_match)


INVALID_DN = "00002081: NameErr: DSID-03050F42, problem 2003 (BAD_NAME), data 8350, best match of:\n\t'{dn}'"


def invalid_dn(dn: str) -> LdapError:
    """34 invalidDNSyntax."""
    return _core(ResultCode.INVALID_DN_SYNTAX, INVALID_DN.format(dn=dn))


ENTRY_EXISTS = "00002071: UpdErr: DSID-030503A7, problem 6005 (ENTRY_EXISTS), data 0"
USER_EXISTS = "00000524: UpdErr: DSID-031A11E0, problem 6005 (ENTRY_EXISTS), data 0"


def entry_exists() -> LdapError:
    """68 entryAlreadyExists: the DN is taken."""
    return _core(ResultCode.ENTRY_ALREADY_EXISTS, ENTRY_EXISTS)


def account_exists() -> LdapError:
    """68: sAMAccountName (or UPN) already used by another account (ERROR_USER_EXISTS)."""
    return _core(ResultCode.ENTRY_ALREADY_EXISTS, USER_EXISTS)


NOT_ALLOWED_ON_NON_LEAF = "0000208C: UpdErr: DSID-030505CA, problem 6003 (CANT_ON_NON_LEAF), data 0"


def non_leaf() -> LdapError:
    """66 notAllowedOnNonLeaf: delete of an object with children (no tree-delete control)."""
    return _core(ResultCode.NOT_ALLOWED_ON_NON_LEAF, NOT_ALLOWED_ON_NON_LEAF)


# --------------------------------------------------------------------------- security
ACCESS_DENIED = "00000005: SecErr: DSID-031A11B9, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0"
INSUFF_ACCESS = "00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0"


def access_denied() -> LdapError:
    """50 with ERROR_ACCESS_DENIED: a missing control access right (Reset/Unexpire password)."""
    return _core(ResultCode.INSUFFICIENT_ACCESS_RIGHTS, ACCESS_DENIED)


def insufficient_access() -> LdapError:
    """50 with ERROR_DS_INSUFF_ACCESS_RIGHTS: a missing WP/CC/DC/WD/WO right."""
    return _core(ResultCode.INSUFFICIENT_ACCESS_RIGHTS, INSUFF_ACCESS)


# --------------------------------------------------------------------------- passwords
POLICY_RESET = "0000052D: SvcErr: DSID-031A126C, problem 5003 (WILL_NOT_PERFORM), data 0"

_CAT = "1005 (CONSTRAINT_ATT_TYPE)"
_PWD = "9005a (unicodePwd)"
POLICY_CHANGE = _att("0000052D", "DSID-03190F80", _CAT, _PWD)
WRONG_OLD_PASSWORD = _att("00000056", "DSID-03191083", _CAT, _PWD)
CHANGE_DENIED = _att("00000005", "DSID-03190F80", _CAT, _PWD)
NOT_IN_QUOTES = _att("0000216C", "DSID-03190EB0", _CAT, _PWD)
RESET_UNENCRYPTED = "0000001F: SvcErr: DSID-031A126A, problem 5003 (WILL_NOT_PERFORM), data 0"
CHANGE_UNENCRYPTED = "00002077: SvcErr: DSID-03190F9E, problem 5003 (WILL_NOT_PERFORM), data 0"
PWDLASTSET_VALUE = "00000057: SysErr: DSID-031A1260, problem 22 (Invalid argument), data 0"
#: ldifde/MS-ERREF text of ERROR_PASSWORD_RESTRICTION (for tooling that explains 0x52D).
PASSWORD_RESTRICTION_TEXT = (
    "Unable to update the password. The value provided for the new password does not meet the length, "
    "complexity, or history requirements of the domain."
)


def password_policy_reset() -> LdapError:
    """53: a reset (replace) fails policy (length/complexity; history/min age when hinted)."""
    return _core(ResultCode.UNWILLING_TO_PERFORM, POLICY_RESET)


def password_policy_change() -> LdapError:
    """19: a change (delete+add) fails policy."""
    return _core(ResultCode.CONSTRAINT_VIOLATION, POLICY_CHANGE)


def wrong_old_password() -> LdapError:
    """19: a change whose deleted value is not the current password."""
    return _core(ResultCode.CONSTRAINT_VIOLATION, WRONG_OLD_PASSWORD)


def change_denied() -> LdapError:
    """19: a change without User-Change-Password (Samba and one Windows capture answer 19)."""
    return _core(ResultCode.CONSTRAINT_VIOLATION, CHANGE_DENIED)


def password_not_in_quotes() -> LdapError:
    """19: unicodePwd change value not wrapped in double quotes."""
    return _core(ResultCode.CONSTRAINT_VIOLATION, NOT_IN_QUOTES)


def reset_needs_encryption() -> LdapError:
    """53: reset over an unencrypted connection, or a reset value that is not quoted UTF-16LE."""
    return _core(ResultCode.UNWILLING_TO_PERFORM, RESET_UNENCRYPTED)


def change_needs_encryption() -> LdapError:
    """53: change over an unencrypted connection."""
    return _core(ResultCode.UNWILLING_TO_PERFORM, CHANGE_UNENCRYPTED)


def invalid_parameter() -> LdapError:
    """80 other: pwdLastSet other than 0/-1 (ERROR_INVALID_PARAMETER)."""
    return _core(ResultCode.OTHER, PWDLASTSET_VALUE)


# --------------------------------------------------------------------------- attributes / schema
# (the following are Windows formats with codes from MS-ERREF; captures for these exact cases unconfirmed)
ILLEGAL_MOD = "00002077: SvcErr: DSID-03152D2C, problem 5003 (WILL_NOT_PERFORM), data 0"


# ERROR_DS_MACHINE_ACCOUNT_QUOTA_EXCEEDED: a user without Create Child adding a computer past
# ms-DS-MachineAccountQuota (as NetSetup.log quotes it: Microsoft Learn, "Error 0x216d when
# joining computers", ldap_add_s failed: 0x35 0x216d).
MACHINE_QUOTA = "0000216D: SvcErr: DSID-031A124C, problem 5003 (WILL_NOT_PERFORM), data 0"


def unwilling(text: str = ILLEGAL_MOD) -> LdapError:
    """53 unwillingToPerform (delete of pwdLastSet/lockoutTime, lockoutTime != 0, ...)."""
    return _core(ResultCode.UNWILLING_TO_PERFORM, text)


SYSTEM_ONLY = "0000209A: SvcErr: DSID-031E1532, problem 5003 (WILL_NOT_PERFORM), data 0"


def system_only() -> LdapError:
    """53: write of a system-only attribute (ERROR_DS_CANT_MOD_SYSTEM_ONLY)."""
    return _core(ResultCode.UNWILLING_TO_PERFORM, SYSTEM_ONLY)


def single_value(att_id: str, name: str) -> LdapError:
    """19: more than one value for a single-valued attribute (ERROR_DS_SINGLE_VALUE_CONSTRAINT)."""
    return _core(
        ResultCode.CONSTRAINT_VIOLATION,
        _att("00002082", "DSID-031519B1", "1005 (CONSTRAINT_ATT_TYPE)", f"{att_id} ({name})"),
    )


def no_such_attribute(att_id: str, name: str) -> LdapError:
    """16: deleting a value or attribute that is not there."""
    return _core(
        ResultCode.NO_SUCH_ATTRIBUTE,
        _att("0000200F", "DSID-03152D2C", "1001 (NO_ATTRIBUTE_OR_VAL)", f"{att_id} ({name})"),
    )


def value_exists(att_id: str, name: str) -> LdapError:
    """20: adding a value already present."""
    return _core(
        ResultCode.ATTRIBUTE_OR_VALUE_EXISTS,
        _att("0000200B", "DSID-03152D2C", "1006 (ATT_OR_VALUE_EXISTS)", f"{att_id} ({name})"),
    )


def invalid_syntax(att_id: str, name: str) -> LdapError:
    """21 invalidAttributeSyntax."""
    return _core(
        ResultCode.INVALID_ATTRIBUTE_SYNTAX,
        _att("0000200B", "DSID-0315158D", "1001 (INVALID_ATT_SYNTAX)", f"{att_id} ({name})"),
    )


OBJ_CLASS_VIOLATION = "00002014: UpdErr: DSID-030511E5, problem 6002 (OBJ_CLASS_VIOLATION), data 0"


def object_class_violation() -> LdapError:
    """65: missing mandatory attribute / attribute not allowed for the class."""
    return _core(ResultCode.OBJECT_CLASS_VIOLATION, OBJ_CLASS_VIOLATION)


NAMING_VIOLATION = (
    "00002099: NameErr: DSID-0305109C, problem 2005 (NAMING_VIOLATION), data 0, best match of:\n\t'{dn}'"
)


def naming_violation(dn: str) -> LdapError:
    """64: class not allowed under this parent (possSuperiors)."""
    return _core(ResultCode.NAMING_VIOLATION, NAMING_VIOLATION.format(dn=dn))


def compare_undefined() -> LdapError:
    """16 for a compare on an attribute the entry does not have (AD answers noSuchAttribute)."""
    text = _att("00002080", "DSID-03080155", "1001 (NO_ATTRIBUTE_OR_VAL)", "0 (unknown)")
    return _core(ResultCode.NO_SUCH_ATTRIBUTE, text)


INVALID_OWNER = "0000051B: SecErr: DSID-031A1190, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0"


def invalid_owner() -> LdapError:
    """53 (ERROR_INVALID_OWNER) writing an owner the requester may not assign (MS-ADTS 6.1.3.5)."""
    return _core(ResultCode.UNWILLING_TO_PERFORM, INVALID_OWNER)
