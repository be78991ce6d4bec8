"""What a search returns for one entry: its read checks and its attributes, rendered.

A :class:`Reader` serves one search request. An object is returned when the requester holds
LIST_CONTENTS on its parent (LIST_OBJECT is off by default, MS-ADTS 5.1.3.3.6); each attribute
needs RP via the object-type tree (property sets). Both checks are memoised per access context
(descriptor, class, whether the requester is the object) for the duration of the search, with
the plan of what to render: a 100k-user OU costs one evaluation. A search that names its
attributes renders each entry straight to its PartialAttributeList bytes; ``*``, types-only and
the rare ambiguous request go through the result dict (:meth:`Reader.render`).

Constructed attributes (only when asked by name, like AD): tokenGroups (base scope only),
canonicalName, msDS-User-Account-Control-Computed, msDS-UserPasswordExpiryTimeComputed,
allowedAttributesEffective (WP via ``property_access`` for every attribute the classes
allow). ``+`` returns the cheap constructed ones; ``*`` the stored ones plus
distinguishedName, objectGUID and memberOf; nTSecurityDescriptor is returned for ``*``
only with the SD flags control (MS-ADTS 3.1.1.3.4.1.11).
"""

from __future__ import annotations

import struct
from collections.abc import Collection
from functools import cache
from typing import TYPE_CHECKING, Any

from fakes.ad import errors, passwords
from fakes.ad.api import SearchEntry, Session
from fakes.ad.ldap import encode
from fakes.ad.schema import SchemaError
from fakes.ad.security import constants as K
from fakes.ad.security.access import check_access, property_access
from fakes.ad.sid import sid_to_bytes
from fakes.ad.value_range import (
    LINKED_VALUES,
    RangePastEnd,
    ValueRange,
    ranged,
    split_description,
)

if TYPE_CHECKING:
    from fakes.ad.dc import DomainController
    from fakes.ad.directory import Entry

_CONSTRUCTED = {
    "createtimestamp": "createTimeStamp",
    "modifytimestamp": "modifyTimeStamp",
    "attributetypes": "attributeTypes",
    "objectclasses": "objectClasses",
    "tokengroups": "tokenGroups",
    "canonicalname": "canonicalName",
    "msds-user-account-control-computed": "msDS-User-Account-Control-Computed",
    "msds-userpasswordexpirytimecomputed": "msDS-UserPasswordExpiryTimeComputed",
    "allowedattributeseffective": "allowedAttributesEffective",
}
# Names render() computes rather than reads from the entry (even if an entry stored them).
_SPECIAL = frozenset(("distinguishedname", "objectguid", "memberof", "ntsecuritydescriptor", *_CONSTRUCTED))
_PLUS = ("canonicalname", "msds-user-account-control-computed", "msds-userpasswordexpirytimecomputed")


@cache
def _dc_helpers() -> tuple[frozenset[str], Any]:
    # fakes.ad.dc imports this module lazily; importing it back at module level would be circular.
    from fakes.ad.dc import SECRET_ATTRIBUTES
    from fakes.ad.dc_access import number

    return SECRET_ATTRIBUTES, number


class _Context:
    """Per-search memo for one access context: read-property decisions and the rendering plans."""

    __slots__ = ("plan", "rights", "wire_plan")

    def __init__(self) -> None:
        self.rights: dict[str, bool] = {}
        self.plan: list[tuple[str, str | None]] | None = None
        self.wire_plan: _WirePlan | None = None


# What a wire plan step renders besides a stored attribute (see Reader._make_wire_plan).
_GUID, _DN, _COMPUTED = range(1, 4)
#: One step: (lowercase name, result spelling, value headers, kind). ``kind`` is None for a
#: stored attribute (the common case, tested first) and the headers are then the codec's
#: per-size tuple for values under 128 bytes; objectGUID has its one 16-byte header; the DN
#: the per-size tuple; a computed attribute (rendered through ``_special``) None.
_WireStep = tuple[str, str, Any, int | None]
#: The steps, or False when this request cannot be rendered straight to bytes (two names
#: that resolve to one result spelling: the dict keeps one, so the general path decides).
_WirePlan = list[_WireStep] | bool
# objectGUID's little-endian form (what UUID.bytes_le makes) from its big-endian bytes.
_GUID_BE = struct.Struct(">IHH8s")
_GUID_LE = struct.Struct("<IHH8s")


class _Ranged(Exception):
    """An attribute has more values than MaxValRange: the entry is rendered through the dict,
    where ranges are applied (:meth:`Reader._with_ranges`)."""


class Reader:
    """Per-search memo of access decisions and attribute rendering."""

    def __init__(
        self,
        dc: DomainController,
        session: Session,
        rc: Any,
        wanted: Collection[str] | None,
        star: bool,
        plus: bool,
        base_scope: bool,
        types_only: bool,
        sd_control: bool,
        *,
        range_no_error: bool = False,
    ) -> None:
        """``range_no_error``: the request carries LDAP_SERVER_RANGE_RETRIEVAL_NOERR_OID."""
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
        # (descriptor bytes, structural class, requester is the object) -> {attribute: may read}.
        # Thousands of entries share one descriptor, so a page costs a few access checks.
        self._rp: dict[tuple[bytes, str, bool], _Context] = {}
        self._system_context = _Context()  # SYSTEM's plans (its rights are never consulted)
        self._self_sid = sid_to_bytes(session.principal_sid) if session.principal_sid is not None else None
        self._display: dict[str, str] = {}  # lowercase name -> schema spelling used in results
        self.policy = dc.policy()
        self.now = dc.clock.filetime()
        # Without '*' the attribute list is the same for every entry: resolve it once. A range
        # option (member;range=1500-*) names its attribute; the range is applied to the result.
        names: list[str] = []
        self._ranges: dict[str, ValueRange] = {}  # result spelling -> the range asked for it
        for w in wanted or ():
            if w in ("*", "+", "1.1"):
                continue
            split = split_description(w) if ";" in w else (w, None)
            if split is None:
                continue  # a malformed range option: not returned (value_range.py)
            name, asked = split
            if asked is not None:
                self._ranges[self._name(name)] = asked
            names.append(name)
        if plus:
            names.extend(_PLUS)
        self._fixed_names = names
        self._max_values = dc.max_val_range
        self._past_end_ok = range_no_error
        # An attribute list with values (not '*', not types-only, no range) renders straight to
        # wire bytes.
        self._wire = not star and not types_only and not self._ranges
        self._want_sd = bool(wanted) and "ntsecuritydescriptor" in wanted  # type: ignore[operator]

    def visible(self, entry: Entry) -> bool:
        if self.system or entry.parent is None:
            return True
        psd = entry.parent.sd
        hit = self._list.get(psd)
        if hit is None:
            sd = self.dc.sds.parse(psd)
            hit = self._list[psd] = bool(check_access(sd, self.session.token, K.RIGHT_DS_LIST_CONTENTS))
        return hit

    def _context(self, entry: Entry) -> _Context:
        """The memo for ``entry``'s (descriptor, class, requester-is-the-object) access context."""
        own = entry.attrs.get("objectsid") if self._self_sid is not None else None
        key = (entry.sd, entry.object_class, bool(own) and own[0] == self._self_sid)
        ctx = self._rp.get(key)
        if ctx is None:
            ctx = self._rp[key] = _Context()
        return ctx

    def _rights(self, entry: Entry) -> dict[str, bool]:
        return self._context(entry).rights

    def readable(self, entry: Entry, attr_lower: str) -> bool:
        if self.system:
            return True
        return self._readable(self._rights(entry), entry, attr_lower)

    def _readable(self, memo: dict[str, bool], entry: Entry, attr_lower: str) -> bool:
        hit = memo.get(attr_lower)
        if hit is None:
            try:
                at = self.dc.schema.attribute(attr_lower)
            except SchemaError:
                return False
            own = entry.attrs.get("objectsid")
            is_self = bool(own) and self._self_sid is not None and own[0] == self._self_sid
            hit = memo[attr_lower] = property_access(
                self.dc.sds.parse(entry.sd),
                self.session.token,
                K.RIGHT_DS_READ_PROPERTY,
                class_guid=self.dc.class_guid(entry.object_class or "top"),
                attribute=at.schema_id_guid,
                property_set=at.property_set,
                self_sid=self.session.principal_sid if is_self else None,
            )
        return hit

    def _name(self, name_lower: str) -> str:
        shown = self._display.get(name_lower)
        if shown is None:
            at = self.dc.schema.find_attribute(name_lower)
            shown = self._display[name_lower] = at.name if at else name_lower
        return shown

    def render(self, entry: Entry) -> SearchEntry:
        if self._wire:
            ctx = self._system_context if self.system else self._context(entry)
            plan = ctx.wire_plan
            if plan is None:
                plan = ctx.wire_plan = self._make_wire_plan(entry, None if self.system else ctx.rights)
            if plan is not False:
                try:
                    return self._render_wire(entry, plan)  # type: ignore[arg-type]
                except _Ranged:
                    pass
        return self._render_dict(entry)

    def _render_dict(self, entry: Entry) -> SearchEntry:
        """render() into a plain dict: '*', types-only, and what a wire plan cannot express."""
        SECRET_ATTRIBUTES, number = _dc_helpers()
        out: dict[str, list[bytes]] = {}
        rights = None if self.system else self._rights(entry)
        types_only = self.types_only

        def put(name_lower: str, values: list[bytes]) -> None:
            if not values or (rights is not None and not self._readable(rights, entry, name_lower)):
                return
            out[self._name(name_lower)] = [] if types_only else values

        if not self.star:
            self._render_fixed(entry, out, rights, put, number)
            names: list[str] = []
        else:
            names = [k for k in entry.attrs if k not in SECRET_ATTRIBUTES]
            names.extend(("distinguishedname", "objectguid", "memberof"))
            names.extend(self._fixed_names)
        seen: set[str] = set()
        for name in names:
            if name in seen or name in SECRET_ATTRIBUTES:
                continue
            seen.add(name)
            values = entry.attrs.get(name)
            if values and name not in _SPECIAL:
                # A stored attribute (the common case): put() inlined.
                if rights is not None:
                    hit = rights.get(name)
                    if hit is None:
                        hit = self._readable(rights, entry, name)
                    if not hit:
                        continue
                out[self._name(name)] = (
                    [] if types_only else [v if type(v) is bytes else v.encode() for v in values]
                )
            elif name in _SPECIAL:
                self._special(entry, name, put, number)
        wanted = self.wanted
        if (wanted and "ntsecuritydescriptor" in wanted) or (self.star and self.sd_control):
            sd = self._security_descriptor(entry)
            if sd is not None:
                out["nTSecurityDescriptor"] = [] if types_only else [sd]
        if not types_only and (self._ranges or max(map(len, out.values()), default=0) > self._max_values):
            out = self._with_ranges(out)
        return SearchEntry(entry.dn, out)

    def _with_ranges(self, out: dict[str, list[bytes]]) -> dict[str, list[bytes]]:
        """``out`` with range retrieval applied (value_range.py), in the same order."""
        limit = self._max_values
        result: dict[str, list[bytes]] = {}
        for shown, values in out.items():
            wanted = self._ranges.get(shown)
            if wanted is None and len(values) <= limit:
                result[shown] = values
                continue
            try:
                result.update(ranged(shown, values, wanted, limit, linked=shown.lower() in LINKED_VALUES,
                                     past_end_ok=self._past_end_ok))
            except RangePastEnd as exc:
                raise errors.range_past_end() from exc
        return result

    def _render_fixed(self, entry: Entry, out: dict[str, list[bytes]], rights: dict[str, bool] | None,
                      put: Any, number: Any) -> None:
        """render() for an explicit attribute list: one precomputed plan per access context."""
        ctx = self._system_context if rights is None else self._context(entry)
        plan = ctx.plan
        if plan is None:
            plan = ctx.plan = self._make_plan(entry, rights)
        attrs = entry.attrs
        types_only = self.types_only
        for name, shown in plan:
            if shown is None:
                self._special(entry, name, put, number)
                continue
            values = attrs.get(name)
            if not values:
                continue
            if types_only:
                out[shown] = []
            elif len(values) == 1:
                v = values[0]
                out[shown] = [v if type(v) is bytes else v.encode()]
            else:
                out[shown] = [v if type(v) is bytes else v.encode() for v in values]

    def _make_plan(self, entry: Entry, rights: dict[str, bool] | None) -> list[tuple[str, str | None]]:
        """(name, result spelling) for each readable stored attribute asked for, in request order;
        (name, None) for computed ones, which check access when they have values."""
        SECRET_ATTRIBUTES, _ = _dc_helpers()
        plan: list[tuple[str, str | None]] = []
        seen: set[str] = set()
        for name in self._fixed_names:
            if name in seen or name in SECRET_ATTRIBUTES:
                continue
            seen.add(name)
            if name in _SPECIAL:
                plan.append((name, None))
            elif rights is None or self._readable(rights, entry, name):
                plan.append((name, self._name(name)))
        return plan

    def _make_wire_plan(self, entry: Entry, rights: dict[str, bool] | None) -> _WirePlan:
        """The steps of :meth:`_render_wire` for ``entry``'s access context, in the order
        :meth:`_render_fixed` puts attributes in the dict (the same readability decisions,
        made once: they depend only on the context), or False (see ``_WirePlan``)."""
        steps: list[_WireStep] = []
        shown_names: set[str] = {"nTSecurityDescriptor"} if self._want_sd else set()
        for name, shown in self._make_plan(entry, rights):
            if name == "ntsecuritydescriptor":  # added after the steps, as render() does
                continue
            kind: int | None = None
            if shown is None:
                shown = self._name(name)
                if name == "objectguid" or name == "distinguishedname":
                    if rights is not None and not self._readable(rights, entry, name):
                        continue
                    kind = _GUID if name == "objectguid" else _DN
                else:
                    kind = _COMPUTED
            if shown in shown_names:
                return False
            shown_names.add(shown)
            heads = (
                None if kind == _COMPUTED
                else encode.value_head(shown, 16) if kind == _GUID
                else encode.short_value_heads(shown)
            )
            steps.append((name, shown, heads, kind))
        return steps

    def _render_wire(self, entry: Entry, plan: list[_WireStep]) -> SearchEntry:
        """render() for an attribute list: the dict and its PartialAttributeList bytes in one
        pass (:class:`encode.EncodedAttributes`), the same bytes :func:`encode.encode_entry`
        makes from the dict :meth:`_render_fixed` fills."""
        out: dict[str, list[bytes]] = {}
        parts: list[bytes] = []
        add = parts.append
        attrs = entry.attrs
        put = None
        for name, shown, heads, kind in plan:
            if kind is None:  # a stored attribute
                values = attrs.get(name)
                if not values:
                    continue
                if len(values) == 1:
                    v = values[0]
                    if type(v) is not bytes:
                        v = v.encode()
                    out[shown] = [v]
                    n = len(v)
                    add(heads[n] if n < 0x80 else encode.value_head(shown, n))
                    add(v)
                else:
                    if len(values) > self._max_values:
                        raise _Ranged
                    vs = out[shown] = [v if type(v) is bytes else v.encode() for v in values]
                    add(encode.partial_attribute(shown, vs))
            elif kind == _GUID:
                v = _GUID_LE.pack(*_GUID_BE.unpack(entry.guid.int.to_bytes(16, "big")))
                out[shown] = [v]
                add(heads)
                add(v)
            elif kind == _DN:
                v = entry.dn.encode()
                out[shown] = [v]
                n = len(v)
                add(heads[n] if n < 0x80 else encode.value_head(shown, n))
                add(v)
            else:
                if put is None:
                    put = self._wire_put(entry, out, add)
                self._special(entry, name, put, _dc_helpers()[1])
        if self._want_sd:
            sd = self._security_descriptor(entry)
            if sd is not None:
                out["nTSecurityDescriptor"] = [sd]
                add(encode.partial_attribute("nTSecurityDescriptor", [sd]))
        rendered = encode.EncodedAttributes(out)
        rendered.wire = b"".join(parts)
        return SearchEntry(entry.dn, rendered)

    def _wire_put(self, entry: Entry, out: dict[str, list[bytes]], add: Any) -> Any:
        """render()'s ``put`` for :meth:`_render_wire`: the dict entry and its bytes."""
        rights = None if self.system else self._context(entry).rights

        def put(name_lower: str, values: list[bytes]) -> None:
            if not values or (rights is not None and not self._readable(rights, entry, name_lower)):
                return
            if len(values) > self._max_values:
                raise _Ranged
            shown = self._name(name_lower)
            out[shown] = values
            add(encode.partial_attribute(shown, values))

        return put

    def _special(self, entry: Entry, name: str, put: Any, number: Any) -> None:
        if name == "distinguishedname":
            put(name, [entry.dn.encode()])
        elif name == "objectguid":
            put(name, [entry.guid.bytes_le])
        elif name == "memberof":
            put(name, [g.dn.encode() for g in self.dc.directory.member_of(entry)])
        elif name in _CONSTRUCTED:
            self._constructed(entry, name, put, number)
        # nTSecurityDescriptor is added after the loop (it depends on the SD flags control)

    def _constructed(self, entry: Entry, name: str, put: Any, number: Any) -> None:
        dc = self.dc
        if name == "canonicalname":
            put(name, [dc.directory.canonical_name(entry).encode()])
        elif name in ("createtimestamp", "modifytimestamp"):
            stored = entry.attrs.get("whencreated" if name == "createtimestamp" else "whenchanged")
            if stored:
                put(name, [v if isinstance(v, bytes) else v.encode() for v in stored])
        elif name in ("attributetypes", "objectclasses"):
            # Constructed on the subSchema object only (MS-ADTS 3.1.1.3.1.1.4), from the live schema.
            if entry.object_class == "subSchema":
                from fakes.ad.config_nc import subschema_values

                key = "attributeTypes" if name == "attributetypes" else "objectClasses"
                put(name, [v.encode() for v in subschema_values(dc.schema)[key]])
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
