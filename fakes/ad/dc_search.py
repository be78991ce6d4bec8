"""Search: rootDSE, access-filtered entries, attribute selection, SD flags, paging, constructed attributes.

Read access: an object is returned when the requester holds LIST_CONTENTS on its parent
(LIST_OBJECT is off by default, MS-ADTS 5.1.3.3.6); each attribute needs RP via the
object-type tree (property sets). Both checks are memoised per (descriptor bytes, ...)
for the duration of one search, so a 100k-user OU costs one evaluation.

Constructed attributes (only when asked by name, like AD): tokenGroups (base scope only),
canonicalName, msDS-User-Account-Control-Computed, msDS-UserPasswordExpiryTimeComputed,
allowedAttributesEffective (WP via ``property_access`` for every attribute the classes
allow). ``+`` returns the cheap constructed ones; ``*`` the stored ones plus
distinguishedName, objectGUID and memberOf; nTSecurityDescriptor is returned for ``*``
only with the SD flags control (MS-ADTS 3.1.1.3.4.1.11).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fakes.ad import controls as ctl
from fakes.ad import errors, passwords
from fakes.ad.api import Control, LdapResult, ResultCode, Scope, SearchEntry, SearchResult, Session
from fakes.ad.dc_modify import read_controls
from fakes.ad.filters import FilterError, parse_filter
from fakes.ad.schema import SchemaError
from fakes.ad.security import constants as K
from fakes.ad.security.access import check_access, property_access
from fakes.ad.sid import sid_to_bytes
from fakes.clock import to_generalized_time

if TYPE_CHECKING:
    from fakes.ad.dc import DomainController
    from fakes.ad.directory import Entry

_CONSTRUCTED = {
    "tokengroups": "tokenGroups",
    "canonicalname": "canonicalName",
    "msds-user-account-control-computed": "msDS-User-Account-Control-Computed",
    "msds-userpasswordexpirytimecomputed": "msDS-UserPasswordExpiryTimeComputed",
    "allowedattributeseffective": "allowedAttributesEffective",
}
_PLUS = ("canonicalname", "msds-user-account-control-computed", "msds-userpasswordexpirytimecomputed")
_cookies = itertools.count(1)


def root_dse(dc: DomainController, wanted: set[str] | None) -> SearchEntry:
    """The rootDSE of a Windows Server 2016 DC (functional levels 7)."""
    from fakes.ad.dc import text

    site = "Default-First-Site-Name"
    server = f"CN={dc.dc_name},CN=Servers,CN={site},CN=Sites,{dc.config_dn}"
    values: dict[str, list[str]] = {
        "currentTime": [to_generalized_time(dc.clock.now())],
        "subschemaSubentry": [f"CN=Aggregate,{dc.schema_dn}"],
        "dsServiceName": [f"CN=NTDS Settings,{server}"],
        "namingContexts": [dc.domain_dn, dc.config_dn, dc.schema_dn],
        "defaultNamingContext": [dc.domain_dn],
        "rootDomainNamingContext": [dc.domain_dn],
        "configurationNamingContext": [dc.config_dn],
        "schemaNamingContext": [dc.schema_dn],
        "serverName": [server],
        "supportedControl": list(ctl.SUPPORTED_CONTROLS),
        "supportedLDAPVersion": ["3", "2"],
        "supportedLDAPPolicies": [
            "MaxPoolThreads",
            "MaxPercentDirSyncRequests",
            "MaxDatagramRecv",
            "MaxReceiveBuffer",
            "InitRecvTimeout",
            "MaxConnections",
            "MaxConnIdleTime",
            "MaxPageSize",
            "MaxBatchReturnMessages",
            "MaxQueryDuration",
            "MaxDirSyncDuration",
            "MaxTempTableSize",
            "MaxResultSetSize",
            "MinResultSets",
            "MaxResultSetsPerConn",
            "MaxNotificationPerConn",
            "MaxValRange",
            "MaxValRangeTransitive",
            "ThreadMemoryLimit",
            "SystemMemoryLimitPercent",
        ],
        "highestCommittedUSN": [str(dc.usn)],
        "supportedSASLMechanisms": ["GSSAPI", "GSS-SPNEGO", "EXTERNAL", "DIGEST-MD5"],
        "dnsHostName": [dc.dns_host_name],
        "ldapServiceName": [f"{dc.dns_domain}:{dc.dc_name.lower()}$@{dc.dns_domain.upper()}"],
        "supportedCapabilities": [
            "1.2.840.113556.1.4.800",
            "1.2.840.113556.1.4.1670",
            "1.2.840.113556.1.4.1791",
            "1.2.840.113556.1.4.1935",
            "1.2.840.113556.1.4.2080",
            "1.2.840.113556.1.4.2237",
        ],
        "isSynchronized": ["TRUE"],
        "isGlobalCatalogReady": ["TRUE"],
        "domainFunctionality": ["7"],
        "forestFunctionality": ["7"],
        "domainControllerFunctionality": ["7"],
    }
    _ = text
    attrs = {k: [v.encode() for v in vs] for k, vs in values.items() if wanted is None or k.lower() in wanted}
    return SearchEntry("", attrs)


class _Reader:
    """Per-search memo of access decisions and attribute rendering."""

    def __init__(
        self,
        dc: DomainController,
        session: Session,
        rc: Any,
        wanted: set[str] | None,
        star: bool,
        plus: bool,
        base_scope: bool,
        types_only: bool,
        sd_control: bool,
    ) -> None:
        self.dc = dc
        self.session = session
        self.system = dc.is_system(session)
        self.wanted = wanted
        self.star = star
        self.plus = plus
        self.base_scope = base_scope
        self.types_only = types_only
        self.sd_flags = rc.sd_flags
        self.sd_control = sd_control
        self._list: dict[bytes, bool] = {}
        self._rp: dict[tuple[bytes, str, str, bool], bool] = {}
        self.policy = dc.policy()
        self.now = dc.clock.filetime()

    def visible(self, entry: Entry) -> bool:
        if self.system or entry.parent is None:
            return True
        psd = entry.parent.sd
        hit = self._list.get(psd)
        if hit is None:
            sd = self.dc.sds.parse(psd)
            hit = self._list[psd] = bool(check_access(sd, self.session.token, K.RIGHT_DS_LIST_CONTENTS))
        return hit

    def readable(self, entry: Entry, attr_lower: str) -> bool:
        if self.system:
            return True
        own = entry.attrs.get("objectsid")
        is_self = (
            bool(own)
            and self.session.principal_sid is not None
            and own[0] == sid_to_bytes(self.session.principal_sid)
        )
        key = (entry.sd, entry.object_class, attr_lower, is_self)
        hit = self._rp.get(key)
        if hit is None:
            try:
                at = self.dc.schema.attribute(attr_lower)
            except SchemaError:
                return False
            sd = self.dc.sds.parse(entry.sd)
            self_sid = self.session.principal_sid if is_self else None
            hit = property_access(
                sd,
                self.session.token,
                K.RIGHT_DS_READ_PROPERTY,
                class_guid=self.dc.class_guid(entry.object_class or "top"),
                attribute=at.schema_id_guid,
                property_set=at.property_set,
                self_sid=self_sid,
            )
            self._rp[key] = hit
        return hit

    def render(self, entry: Entry) -> SearchEntry:
        from fakes.ad.dc import SECRET_ATTRIBUTES, number
        from fakes.ad.dc import DomainController as _DC  # noqa: F401 - type only

        out: dict[str, list[bytes]] = {}
        schema = self.dc.schema
        wanted = self.wanted

        def put(name_lower: str, values: list[bytes]) -> None:
            if not values or not self.readable(entry, name_lower):
                return
            at = schema.find_attribute(name_lower)
            out[at.name if at else name_lower] = [] if self.types_only else values

        names: list[str] = []
        if self.star:
            names.extend(k for k in entry.attrs if k not in SECRET_ATTRIBUTES)
            names.extend(("distinguishedname", "objectguid", "memberof"))
        if wanted:
            names.extend(w for w in wanted if w not in ("*", "+", "1.1"))
        if self.plus:
            names.extend(_PLUS)
        seen: set[str] = set()
        for name in names:
            if name in seen or name in SECRET_ATTRIBUTES:
                continue
            seen.add(name)
            if name == "distinguishedname":
                put(name, [entry.dn.encode()])
            elif name == "objectguid":
                put(name, [entry.guid.bytes_le])
            elif name == "memberof":
                put(name, [g.dn.encode() for g in self.dc.directory.member_of(entry)])
            elif name == "ntsecuritydescriptor":
                continue
            elif name in _CONSTRUCTED:
                self._constructed(entry, name, put, number)
            else:
                values = entry.attrs.get(name)
                if values:
                    put(name, [v if isinstance(v, bytes) else v.encode() for v in values])
        if (wanted and "ntsecuritydescriptor" in wanted) or (self.star and self.sd_control):
            sd = self._security_descriptor(entry)
            if sd is not None:
                out["nTSecurityDescriptor"] = [] if self.types_only else [sd]
        return SearchEntry(entry.dn, out)

    def _constructed(self, entry: Entry, name: str, put: Any, number: Any) -> None:
        dc = self.dc
        if name == "canonicalname":
            put(name, [dc.directory.canonical_name(entry).encode()])
        elif name == "tokengroups":
            if self.base_scope and entry.object_class in ("user", "inetOrgPerson", "computer", "group"):
                token = dc.token_for(entry)
                own = dc.sid_of(entry)
                groups = [s for s in token if s.startswith("S-1-5-21-") or s.startswith("S-1-5-32-")]
                put(name, [sid_to_bytes(s) for s in sorted(groups) if s != own])
        elif name in ("msds-user-account-control-computed", "msds-userpasswordexpirytimecomputed"):
            if entry.object_class not in ("user", "inetOrgPerson", "computer"):
                return
            uac = number(entry, "useraccountcontrol")
            pls = number(entry, "pwdlastset")
            if name.endswith("computed") and "expiry" not in name:
                value = passwords.computed_uac(self.policy, uac, pls, number(entry, "lockouttime"), self.now)
            else:
                value = passwords.expiry_time(self.policy, uac, pls)
            put(name, [str(value).encode()])
        elif name == "allowedattributeseffective":
            classes = [v if isinstance(v, str) else v.decode() for v in entry.attrs.get("objectclass", ())]
            from fakes.ad.dc_modify import _may_write

            allowed = sorted(dc.schema.allowed_attributes(classes))
            names = [
                a
                for a in allowed
                if not dc.schema.attribute(a).system_only
                and _may_write(dc, self.session, entry, dc.schema.attribute(a))
            ]
            put(name, [a.encode() for a in names])

    def _security_descriptor(self, entry: Entry) -> bytes | None:
        dc = self.dc
        flags = self.sd_flags
        if not self.system:
            if flags & K.SACL_SECURITY_INFORMATION and not dc.has_security_privilege(self.session):
                return None
            if not dc.object_access(self.session, entry, K.RIGHT_READ_CONTROL):
                return None
        sd = dc.sds.parse(entry.sd)
        if flags == K.ALL_SECURITY_INFORMATION:
            return entry.sd
        from dataclasses import replace

        part = replace(
            sd,
            owner=sd.owner if flags & K.OWNER_SECURITY_INFORMATION else None,
            group=sd.group if flags & K.GROUP_SECURITY_INFORMATION else None,
            dacl=sd.dacl if flags & K.DACL_SECURITY_INFORMATION else None,
            sacl=sd.sacl if flags & K.SACL_SECURITY_INFORMATION else None,
        )
        return part.to_bytes()


def search(
    dc: DomainController,
    session: Session,
    base: str,
    scope: Scope,
    flt: Any,
    attributes: Sequence[str],
    *,
    size_limit: int,
    types_only: bool,
    controls: Sequence[Control],
) -> SearchResult:
    rc = read_controls(dc, controls)
    lowered = [a.lower() for a in attributes]
    wanted = set(lowered) if lowered else None
    if base == "" and scope == Scope.BASE:
        return SearchResult([root_dse(dc, None if wanted is None or "*" in wanted else wanted)])
    dc.require_bound(session)
    if isinstance(flt, str):
        try:
            flt = parse_filter(flt)
        except FilterError as exc:
            raise errors.LdapError(ResultCode.PROTOCOL_ERROR, str(exc)) from exc
    paged = next((c for c in controls if c.oid == ctl.PAGED_RESULTS), None)
    state: dict = session.state.setdefault("paged", {})  # type: ignore[assignment]
    if paged is not None:
        try:
            page_size, cookie = ctl.decode_paged(paged.value or b"")
        except ValueError as exc:
            raise errors.control_error() from exc
        if cookie:
            pending = state.pop(cookie, None)
            if pending is None:
                raise errors.LdapError(ResultCode.UNWILLING_TO_PERFORM, errors.ILLEGAL_MOD + "\n\x00")
            if page_size == 0:
                return SearchResult(
                    result=LdapResult(controls=(Control(ctl.PAGED_RESULTS, False, ctl.encode_paged(0, b"")),))
                )
            return _page(state, pending, page_size)
    base_entry = dc.entry_or_error(base)
    star = not lowered or "*" in lowered
    if lowered == ["1.1"]:
        star = False
    reader = _Reader(
        dc,
        session,
        rc,
        wanted,
        star,
        "+" in lowered,
        scope == Scope.BASE,
        types_only,
        any(c.oid == ctl.SD_FLAGS for c in controls),
    )
    matches = (e for e in dc.directory.search(base_entry, scope, flt) if e is base_entry or reader.visible(e))
    if paged is not None:
        pending = (reader, list(matches))
        return _page(state, pending, page_size or 1000)
    entries: list[SearchEntry] = []
    for e in matches:
        if size_limit and len(entries) >= size_limit:
            return SearchResult(
                entries, LdapResult(ResultCode.SIZE_LIMIT_EXCEEDED, errors.size_limit_message())
            )
        entries.append(reader.render(e))
    return SearchResult(entries)


def _page(state: dict, pending: tuple[_Reader, list], size: int) -> SearchResult:
    reader, remaining = pending
    chunk, rest = remaining[:size], remaining[size:]
    entries = [reader.render(e) for e in chunk if reader.dc.directory.by_guid(e.guid) is e]
    cookie = b""
    if rest:
        cookie = str(next(_cookies)).encode()
        state[cookie] = (reader, rest)
    control = Control(ctl.PAGED_RESULTS, False, ctl.encode_paged(0, cookie))
    return SearchResult(entries, LdapResult(controls=(control,)))
