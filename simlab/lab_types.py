"""Value types shared by the lab's modules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fakes.graph.errors import SsprError

Transport = Literal["ldap", "ldaps", "starttls"]
Authentication = Literal["simple", "ntlm"]


class LabError(RuntimeError):
    """A lab could not be built or an action could not be carried out."""


@dataclass(frozen=True)
class UserRef:
    """A directory user as scenarios name it."""

    sam: str
    dn: str
    upn: str


@dataclass(frozen=True)
class Attempt:
    """How a user-facing action ended: ``code`` is the SSPR code (``SSPR_0029``) or error name."""

    ok: bool
    code: str | None = None
    message: str = ""
    reason: str = ""

    @classmethod
    def from_error(cls, err: SsprError) -> Attempt:
        return cls(False, err.code, err.message, err.reason)


@dataclass(frozen=True)
class BindResult:
    """The outcome of a test bind: the LDAP result code and diagnostic message."""
    code: int
    message: str

    @property
    def ok(self) -> bool:
        return self.code == 0
