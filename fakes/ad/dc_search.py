"""Search: the rootDSE, the request's checks and controls, and paging (a cursor per cookie).

What each entry found returns, after its read checks, is :mod:`fakes.ad.dc_read`'s job.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from fakes.ad import controls as ctl
from fakes.ad import errors
from fakes.ad.api import Control, LdapResult, ResultCode, Scope, SearchEntry, SearchResult, Session
from fakes.ad.dc_modify import read_controls
from fakes.ad.dc_read import Reader
from fakes.ad.filters import FilterError, parse_filter
from fakes.ad.server_sort import SUCCESS, SortRefused, sorted_entries
from fakes.clock import to_generalized_time

if TYPE_CHECKING:
    from fakes.ad.dc import DomainController
    from fakes.ad.directory import Entry

_cookies = itertools.count(1)
STARTTLS_OID = "1.3.6.1.4.1.1466.20037"
WHOAMI_OID = "1.3.6.1.4.1.4203.1.11.3"


def root_dse(dc: DomainController, wanted: Collection[str] | None) -> SearchEntry:
    """The rootDSE of a Windows Server 2016 DC (functional levels 7)."""
    from fakes.ad.dc_access import text

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
        # A Windows DC also lists TTL refresh, fast concurrent bind and batch request; only the
        # extended operations this DC answers are advertised.
        "supportedExtension": [STARTTLS_OID, WHOAMI_OID],
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
        "supportedSASLMechanisms": ["GSS-SPNEGO"],
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
    # DirSync is a search control only: read_controls refuses it (critical) on other operations.
    dirsync = next((c for c in controls if c.oid == ctl.DIRSYNC), None)
    rc = read_controls(dc, [c for c in controls if c is not dirsync])
    lowered = [a.lower() for a in attributes]
    # In request order (a dict, not a set): the attributes come back in one order, run after run.
    wanted = dict.fromkeys(lowered) if lowered else None
    if base == "" and scope == Scope.BASE:
        return SearchResult([root_dse(dc, None if wanted is None or "*" in wanted else wanted)])
    dc.require_bound(session)
    if isinstance(flt, str):
        try:
            flt = parse_filter(flt)
        except FilterError as exc:
            raise errors.LdapError(ResultCode.PROTOCOL_ERROR, str(exc)) from exc
    if dirsync is not None:
        from fakes.ad import dirsync as dirsync_search

        return dirsync_search.search(dc, session, base, flt, attributes, dirsync, rc, types_only)
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
            return _page(state, pending, min(page_size, dc.max_page_size))
    base_entry = dc.entry_or_error(base)
    star = not lowered or "*" in lowered
    if lowered == ["1.1"]:
        star = False
    reader = Reader(
        dc,
        session,
        rc,
        wanted,
        star,
        "+" in lowered,
        scope == Scope.BASE,
        types_only,
        any(c.oid == ctl.SD_FLAGS for c in controls),
        range_no_error=any(c.oid == ctl.RANGE_RETRIEVAL_NOERR for c in controls),
    )
    matches = (e for e in dc.directory.search(base_entry, scope, flt) if e is base_entry or reader.visible(e))
    answer: tuple[Control, ...] = ()
    sort = next((c for c in controls if c.oid == ctl.SORT), None)
    if sort is not None:
        answer, matches = _sorted(dc, sort, matches, reader)
    # MaxPageSize (LDAP policy, MS-ADTS 3.1.1.3.4.6; 1000 by default) bounds a page, and a search
    # without paging: past it AD returns the entries so far and sizeLimitExceeded, as for the
    # client's own size limit. A tool that forgets to page meets that here as on a real DC.
    most = dc.max_page_size
    if paged is not None:
        return _page(state, (reader, matches, None, answer), min(page_size or most, most))
    if size_limit:
        most = min(size_limit, most)
    entries: list[SearchEntry] = []
    for e in matches:
        if len(entries) >= most:
            done = LdapResult(ResultCode.SIZE_LIMIT_EXCEEDED, errors.size_limit_message(), controls=answer)
            return SearchResult(entries, done)
        entries.append(reader.render(e))
    return SearchResult(entries, LdapResult(controls=answer))


def _sorted(dc: DomainController, request: Control, matches: Iterator[Entry], reader: Reader,
            ) -> tuple[tuple[Control, ...], Iterator[Entry]]:
    """A sort request's SortResult control and the matches in its order (server_sort.py). A
    critical request that cannot be sorted is 12 unavailableCriticalExtension; a non-critical
    one gets the matches as found, with the reason in the SortResult (RFC 2891 section 1.2)."""
    try:
        keys = ctl.decode_sort(request.value)
    except ValueError as exc:
        raise errors.control_error() from exc
    found = list(matches)  # sorting needs them all (AD fills a temporary table too)
    try:
        ordered = sorted_entries(found, keys, dc.schema, reader.readable)
    except SortRefused as refused:
        if request.critical:
            raise errors.unavailable_critical_extension(ctl.SORT) from refused
        result = ctl.encode_sort_result(refused.code, refused.attribute)
        return (Control(ctl.SORT_RESPONSE, False, result),), iter(found)
    return (Control(ctl.SORT_RESPONSE, False, ctl.encode_sort_result(SUCCESS)),), iter(ordered)


def _page(state: dict, pending: tuple[Reader, Iterator[Entry], Entry | None, tuple[Control, ...]],
          size: int) -> SearchResult:
    """The next ``size`` matches of a paged search, found as the page is made (AD keeps a cursor
    too, not a list of every match): the first page of a 100k-user search no longer waits for
    the filter and the read checks to run over every user. One match past the page is looked
    for, so the last page comes with an empty cookie exactly when nothing follows, as before."""
    reader, matches, ahead, answer = pending  # answer: the sort's result control, on every page
    first = [ahead] if ahead is not None else []
    chunk = [*first, *itertools.islice(matches, size - len(first))]
    ahead = next(matches, None)
    by_guid, render = reader.dc.directory.by_guid, reader.render
    entries = [render(e) for e in chunk if by_guid(e.guid) is e]
    cookie = b""
    if ahead is not None:
        cookie = str(next(_cookies)).encode()
        state[cookie] = (reader, matches, ahead, answer)
    control = Control(ctl.PAGED_RESULTS, False, ctl.encode_paged(0, cookie))
    return SearchResult(entries, LdapResult(controls=(control, *answer)))
