"""Password semantics of an AD DS domain: policy, unicodePwd encoding, history, age, lockout.

Pure functions over plain values (FILETIME integers, policy dataclass); the DC
(:mod:`fakes.ad.dc`) decides *which* checks apply (reset vs change, policy hints) and
maps a :class:`Violation` to the catalogued error. Rules follow MS-SAMR 3.1.1.7
(FACTS.md 6): length <= 256, minPwdLength, no sAMAccountName / displayName tokens,
complexity = 3 of 5 character classes, history and minimum age only for changes and
hinted resets, lockout after ``lockoutThreshold`` bad passwords inside the observation
window.

Passwords are never stored: like a DC we keep the NT hash, MD4(UTF-16LE(password)), so
history and simple-bind checks can compare and NTLM binds can verify NTLMv2 responses;
identical passwords share one digest object so 100k users with the default password
cost one bytes value.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from functools import lru_cache
from typing import Any

from fakes.clock import interval_to_timedelta

# userAccountControl bits (MS-ADTS 2.2.16) the password rules read.
UF_ACCOUNTDISABLE = 0x0002
UF_LOCKOUT = 0x0010
UF_PASSWD_NOTREQD = 0x0020
UF_PASSWD_CANT_CHANGE = 0x0040
UF_NORMAL_ACCOUNT = 0x0200
UF_DONT_EXPIRE_PASSWD = 0x10000
UF_PASSWORD_EXPIRED = 0x800000

#: pwdProperties bit: DOMAIN_PASSWORD_COMPLEX.
DOMAIN_PASSWORD_COMPLEX = 0x1

#: accountExpires/maxPwdAge "never" values.
NEVER = 0x7FFFFFFFFFFFFFFF
MAX_PASSWORD_CHARS = 256

# Windows defaults of a new domain (FACTS 6.4), as raw domainDNS attribute values.
DEFAULT_POLICY_ATTRS: dict[str, str] = {
    "minPwdAge": "-864000000000",
    "maxPwdAge": "-36288000000000",
    "minPwdLength": "7",
    "pwdHistoryLength": "24",
    "pwdProperties": "1",
    "lockoutThreshold": "0",
    "lockoutDuration": "-18000000000",
    "lockOutObservationWindow": "-18000000000",
}

_TICKS_PER_SECOND = 10_000_000
# MS-SAMR 3.1.1.7.2: displayName is split on these delimiters.
_DISPLAY_DELIMS = re.compile(r"[,.\-_#\t ]+")
# The "special characters" class of the complexity rule.
_SPECIALS = set("~!@#$%^&*_-+=`|\\(){}[]:;\"'<>,.?/")


class Violation(Enum):
    """Why a new password was refused (all map to ERROR_PASSWORD_RESTRICTION 0x52D)."""

    TOO_LONG = "longer than 256 characters"
    TOO_SHORT = "shorter than minPwdLength"
    CONTAINS_ACCOUNT_NAME = "contains the sAMAccountName"
    CONTAINS_DISPLAY_NAME = "contains a displayName token"
    NOT_COMPLEX = "fewer than 3 character classes"
    IN_HISTORY = "matches a remembered password"
    TOO_YOUNG = "changed more recently than minPwdAge"


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """The domain policy read from the NC head; intervals as positive 100-ns tick counts."""

    min_length: int = 7
    history_length: int = 24
    complexity: bool = True
    min_age: int = 864_000_000_000
    max_age: int = 36_288_000_000_000
    lockout_threshold: int = 0
    lockout_duration: int = 18_000_000_000
    observation_window: int = 18_000_000_000

    @classmethod
    def from_attributes(cls, attrs: dict[str, list]) -> PasswordPolicy:
        """Build from a domainDNS entry's attributes (lower-case names -> value lists)."""

        def num(name: str, default: str) -> int:
            values = attrs.get(name.lower()) or [default]
            raw = values[0]
            return int(raw.decode() if isinstance(raw, bytes) else raw)

        d = DEFAULT_POLICY_ATTRS

        def ticks(name: str) -> int:
            value = num(name, d[name])
            # AD stores intervals as negative counts; NEVER/0x8000000000000000 means "no limit".
            if value in (NEVER, -NEVER - 1):
                return 0
            return abs(value)

        return cls(
            min_length=num("minPwdLength", d["minPwdLength"]),
            history_length=num("pwdHistoryLength", d["pwdHistoryLength"]),
            complexity=bool(num("pwdProperties", d["pwdProperties"]) & DOMAIN_PASSWORD_COMPLEX),
            min_age=ticks("minPwdAge"),
            max_age=ticks("maxPwdAge"),
            lockout_threshold=num("lockoutThreshold", d["lockoutThreshold"]),
            lockout_duration=ticks("lockoutDuration"),
            observation_window=ticks("lockOutObservationWindow"),
        )

    @property
    def min_age_delta(self) -> timedelta:
        """minPwdAge as a timedelta."""
        return interval_to_timedelta(-self.min_age)


# --------------------------------------------------------------------------- unicodePwd
class PasswordEncodingError(ValueError):
    """A unicodePwd value that is not a double-quoted UTF-16LE string."""

    def __init__(self, message: str, *, quotes: bool) -> None:
        super().__init__(message)
        #: True when the value decoded but lacks the surrounding quotes (ERROR_DS_UNICODEPWD_NOT_IN_QUOTES).
        self.quotes = quotes


def encode_unicode_pwd(password: str) -> bytes:
    """The wire form of a unicodePwd value: ``"password"`` in UTF-16LE."""
    return f'"{password}"'.encode("utf-16-le")


def decode_unicode_pwd(value: bytes | str) -> str:
    """Decode a unicodePwd value; raise :class:`PasswordEncodingError` when it is malformed."""
    if isinstance(value, str):
        # Text arriving as str was never UTF-16LE on the wire: Windows rejects it as garbled.
        raise PasswordEncodingError("unicodePwd must be UTF-16LE octets", quotes=False)
    if len(value) % 2:
        raise PasswordEncodingError("odd length UTF-16LE value", quotes=False)
    try:
        text = value.decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise PasswordEncodingError("not UTF-16LE", quotes=False) from exc
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise PasswordEncodingError("unicodePwd value is not enclosed in double quotes", quotes=True)
    return text[1:-1]


@lru_cache(maxsize=4096)
def password_digest(password: str) -> bytes:
    """The NT hash MD4(UTF-16LE(password)); identical passwords give the identical (shared) bytes object."""
    data = password.encode("utf-16-le", errors="surrogatepass")
    try:
        return hashlib.new("md4", data).digest()
    except ValueError:
        # OpenSSL 3 drops MD4 from its default provider; pyspnego ships a pure-Python MD4.
        return _pyspnego_md4()(data)


@lru_cache(maxsize=1)
def _pyspnego_md4() -> Any:
    """pyspnego's pure-Python ``md4`` function, read from its own file.

    ``import spnego._ntlm_raw.md4`` would first run the ``spnego`` package's ``__init__``, which
    loads all of pyspnego (~0.1 s); every lab start hashes its built-in accounts' passwords but
    needs nothing else of pyspnego until an NTLM bind.
    """
    import sys

    loaded = sys.modules.get("spnego._ntlm_raw.md4")
    if loaded is not None:
        return loaded.md4
    import importlib.util
    from pathlib import Path

    package = importlib.util.find_spec("spnego")  # finds the package without running it
    path = Path(package.origin).parent / "_ntlm_raw" / "md4.py" if package and package.origin else None
    if path is None or not path.is_file():  # not installed, or laid out otherwise: the plain import
        from spnego._ntlm_raw.md4 import md4

        return md4
    spec = importlib.util.spec_from_file_location("fakes.ad._pyspnego_md4", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.md4


# --------------------------------------------------------------------------- policy
def char_classes(password: str) -> int:
    """How many of the five MS-SAMR complexity classes the password uses."""
    upper = lower = digit = special = other = False
    for ch in password:
        if "0" <= ch <= "9":
            digit = True
        elif ch in _SPECIALS:
            special = True
        else:
            # Upper/lower case include Greek, Cyrillic and accented letters (MS-SAMR 3.1.1.7.2);
            # letters without case (CJK, ...) form the fifth class.
            category = unicodedata.category(ch)
            if category == "Lu":
                upper = True
            elif category == "Ll":
                lower = True
            elif category in ("Lt", "Lm", "Lo"):
                other = True
    return upper + lower + digit + special + other


def check_password(
    policy: PasswordPolicy,
    password: str,
    *,
    sam_account_name: str = "",
    display_name: str = "",
    password_not_required: bool = False,
) -> Violation | None:
    """Length, name and complexity rules (applied to every reset and change)."""
    if len(password) > MAX_PASSWORD_CHARS:
        return Violation.TOO_LONG
    if password_not_required and not password:
        return None
    if len(password) < policy.min_length:
        return Violation.TOO_SHORT
    if policy.complexity:
        lowered = password.lower()
        if len(sam_account_name) > 2 and sam_account_name.lower() in lowered:
            return Violation.CONTAINS_ACCOUNT_NAME
        for token in _DISPLAY_DELIMS.split(display_name):
            if len(token) > 2 and token.lower() in lowered:
                return Violation.CONTAINS_DISPLAY_NAME
        if char_classes(password) < 3:
            return Violation.NOT_COMPLEX
    return None


def check_history_and_age(
    policy: PasswordPolicy,
    password: str,
    *,
    history: tuple[bytes, ...],
    pwd_last_set: int,
    now: int,
) -> Violation | None:
    """Minimum age then history (MS-SAMR order), for changes and hinted resets.

    ``history`` holds digests, newest first, current password included. ``pwd_last_set``
    of 0 means "must change at next logon": no minimum age applies then.
    """
    if policy.min_age and pwd_last_set and pwd_last_set + policy.min_age > now:
        return Violation.TOO_YOUNG
    if policy.history_length:
        digest = password_digest(password)
        if digest in history[: policy.history_length]:
            return Violation.IN_HISTORY
    return None


def push_history(history: tuple[bytes, ...], digest: bytes, length: int) -> tuple[bytes, ...]:
    """New history after setting a password: newest first, at most ``max(length, 1)`` kept."""
    return (digest, *history)[: max(length, 1)]


# --------------------------------------------------------------------------- state
def is_locked_out(policy: PasswordPolicy, lockout_time: int, now: int) -> bool:
    """Locked while ``lockoutTime`` is set and (duration 0 = until an admin unlocks) not elapsed."""
    if not lockout_time:
        return False
    if policy.lockout_duration == 0:
        return True
    return lockout_time + policy.lockout_duration > now


def is_password_expired(policy: PasswordPolicy, uac: int, pwd_last_set: int, now: int) -> bool:
    """pwdLastSet = 0 means "must change"; else expired after maxPwdAge unless DONT_EXPIRE."""
    if pwd_last_set == 0:
        return True
    if uac & UF_DONT_EXPIRE_PASSWD or policy.max_age == 0:
        return False
    return pwd_last_set + policy.max_age <= now


def expiry_time(policy: PasswordPolicy, uac: int, pwd_last_set: int) -> int:
    """msDS-UserPasswordExpiryTimeComputed: 0 when must-change, NEVER when it does not expire."""
    if uac & UF_DONT_EXPIRE_PASSWD or policy.max_age == 0:
        return NEVER
    if pwd_last_set == 0:
        return 0
    return pwd_last_set + policy.max_age


def computed_uac(policy: PasswordPolicy, uac: int, pwd_last_set: int, lockout_time: int, now: int) -> int:
    """msDS-User-Account-Control-Computed: the LOCKOUT and PASSWORD_EXPIRED bits from clock + policy."""
    flags = 0
    if is_locked_out(policy, lockout_time, now):
        flags |= UF_LOCKOUT
    if is_password_expired(policy, uac, pwd_last_set, now):
        flags |= UF_PASSWORD_EXPIRED
    return flags


@dataclass(frozen=True, slots=True)
class BadPasswordState:
    """badPwdCount / badPasswordTime / lockoutTime after a failed bind."""

    bad_pwd_count: int
    bad_password_time: int
    lockout_time: int

    @property
    def locked(self) -> bool:
        return self.lockout_time != 0


def register_bad_password(
    policy: PasswordPolicy, *, bad_pwd_count: int, bad_password_time: int, lockout_time: int, now: int
) -> BadPasswordState:
    """Count a wrong password: restart the count outside the observation window, lock at threshold."""
    if policy.observation_window and bad_password_time + policy.observation_window <= now:
        bad_pwd_count = 0
    count = bad_pwd_count + 1
    if policy.lockout_threshold and count >= policy.lockout_threshold and not lockout_time:
        lockout_time = now
    return BadPasswordState(count, now, lockout_time)


def seconds_to_ticks(seconds: float) -> int:
    """Seconds as 100-ns ticks (policy values in tests)."""
    return int(seconds * _TICKS_PER_SECOND)
