"""A tiny stand-in for the DomainController, used only to test the wire adapter in isolation.

It records every call so tests can assert what the adapter handed over (filters as text,
raw controls, the session's ``encrypted`` flag). It has no directory semantics worth the name.
"""

from __future__ import annotations

import threading
from typing import Any

from fakes.ad.api import Control, LdapError, LdapResult, ResultCode, SearchEntry, SearchResult, Session


class DoubleDC:
    domain_dn = "DC=lab,DC=test"
    admin_dn = "CN=Administrator,CN=Users,DC=lab,DC=test"
    admin_upn = "Administrator@lab.test"
    admin_password = "Adm1n!Pass"
    connector_dn = None
    connector_password = None
    dns_host_name = "dc01.lab.test"

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.entries: dict[str, dict[str, list[bytes]]] = {
            self.domain_dn.lower(): {"objectClass": [b"top", b"domain"], "dc": [b"lab"]},
        }
        self.dns: dict[str, str] = {self.domain_dn.lower(): self.domain_dn}
        self.threads: set[str] = set()
        self.raise_on: str | None = None

    def _note(self, name: str, *args: Any) -> None:
        self.threads.add(threading.current_thread().name)
        self.calls.append((name, args))
        if self.raise_on == name:
            raise RuntimeError("boom from the double")

    def new_session(self, peer: str = "", encrypted: bool = False) -> Session:
        return Session(peer=peer, encrypted=encrypted)

    def bind(self, session: Session, name: str, password: str) -> LdapResult:
        self._note("bind", name, password, session.encrypted)
        if name == "" and password == "":
            session.principal_dn = None
            return LdapResult()
        if name in (self.admin_dn, self.admin_upn) and password == self.admin_password:
            session.principal_dn = self.admin_dn
            return LdapResult()
        raise LdapError(ResultCode.INVALID_CREDENTIALS, "80090308: LdapErr: DSID-0C09042F, comment: "
                        "AcceptSecurityContext error, data 52e, v4563\x00")

    def search(self, session: Session, base: str, scope: int, filter: Any, attributes: list[str],
               size_limit: int = 0, types_only: bool = False,
               controls: tuple[Control, ...] = ()) -> SearchResult:
        if not isinstance(filter, str):  # the adapter hands over the DC's filter AST when it exists
            from fakes.ad.filters import filter_to_string

            filter = filter_to_string(filter)
        self._note("search", base, int(scope), filter, list(attributes), controls, session.encrypted)
        if base == "":
            return SearchResult([SearchEntry("", {"defaultNamingContext": [self.domain_dn.encode()]})])
        key = base.lower()
        if key not in self.entries:
            raise LdapError(ResultCode.NO_SUCH_OBJECT, "0000208D: NameErr: DSID-03100245, problem 2001 "
                            "(NO_OBJECT), data 0, best match of:\n\t''\n\x00")
        if int(scope) == 0:
            found = [key]
        else:
            found = [k for k in self.entries if k.endswith(key) and (int(scope) == 2 or k != key)]
        entries = [SearchEntry(self.dns[k], dict(self.entries[k])) for k in found]
        resp = tuple(Control(c.oid, False, b"0\x05\x02\x01\x00\x04\x00") for c in controls
                     if c.oid == "1.2.840.113556.1.4.319")
        return SearchResult(entries, LdapResult(controls=resp))

    def add(self, session: Session, dn: str, attrs: dict[str, list[bytes]], controls: Any = ()) -> LdapResult:
        self._note("add", dn, attrs)
        if dn.lower() in self.entries:
            raise LdapError(ResultCode.ENTRY_ALREADY_EXISTS, "exists")
        self.entries[dn.lower()] = {k: list(v) for k, v in attrs.items()}
        self.dns[dn.lower()] = dn
        return LdapResult()

    def modify(self, session: Session, dn: str, changes: list, controls: Any = ()) -> LdapResult:
        self._note("modify", dn, changes, controls, session.encrypted)
        entry = self.entries[dn.lower()]
        for ch in changes:
            vals = [v if isinstance(v, bytes) else v.encode() for v in ch.values]
            if ch.op == 2:
                entry[ch.attribute] = vals
            elif ch.op == 0:
                entry.setdefault(ch.attribute, []).extend(vals)
            elif ch.op == 1:
                entry.pop(ch.attribute, None)
        return LdapResult()

    def delete(self, session: Session, dn: str, controls: Any = ()) -> LdapResult:
        self._note("delete", dn)
        self.entries.pop(dn.lower())
        return LdapResult()

    def modify_dn(self, session: Session, dn: str, new_rdn: str, delete_old_rdn: bool,
                  new_superior: str | None, controls: Any = ()) -> LdapResult:
        self._note("modify_dn", dn, new_rdn, delete_old_rdn, new_superior)
        raise NotImplementedError("modify_dn in the double")

    def compare(self, session: Session, dn: str, attr: str, value: bytes, controls: Any = ()) -> LdapResult:
        self._note("compare", dn, attr, value)
        ok = value in self.entries.get(dn.lower(), {}).get(attr, [])
        return LdapResult(ResultCode.COMPARE_TRUE if ok else ResultCode.COMPARE_FALSE)

    def extended(self, session: Session, oid: str, value: bytes | None, controls: Any = ()) -> LdapResult:
        self._note("extended", oid, value)
        if oid == "1.3.6.1.4.1.4203.1.11.3":
            who = f"dn:{session.principal_dn}" if session.principal_dn else ""
            return LdapResult(value=who.encode())
        raise LdapError(ResultCode.PROTOCOL_ERROR, "0000203D: unknown extended\x00")
