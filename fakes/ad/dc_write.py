"""Add, delete, modify DN and compare (the non-modify write paths of the DC)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from fakes.ad import errors, machine_quota, passwords
from fakes.ad.api import Change, Control, LdapResult, ModOp, ResultCode, Session
from fakes.ad.dc_modify import read_controls
from fakes.ad.directory import EntryExists
from fakes.ad.dn import DNError, first_rdn, parent_dn, parse_dn
from fakes.ad.schema import SchemaError
from fakes.ad.security import constants as K
from fakes.ad.security.descriptor import SecurityDescriptor, SecurityDescriptorError
from fakes.ad.sid import make_sid
from fakes.clock import to_generalized_time

if TYPE_CHECKING:
    from fakes.ad.dc import DomainController
    from fakes.ad.directory import Entry

DOMAIN_ADMINS_RID = 512
# sAMAccountType values (MS-ADTS 6.4) for new security principals.
_SAM_TYPE = {"user": "805306368", "inetorgperson": "805306368", "computer": "805306369", "group": "268435456"}


def create_entry(
    dc: DomainController,
    parent: Entry | None,
    rdn: str,
    attrs: dict[str, list],
    class_name: str,
    *,
    explicit_sd: SecurityDescriptor | None = None,
    owner: str | None = None,
    sid: bytes | None = None,
) -> Entry:
    """System-level create: operational attributes, SID, GUID and the inherited SD. No access checks."""
    cls = dc.schema.object_class(class_name)
    now = _generalized_now(dc)
    usn = str(dc.next_usn())
    out = {k.lower(): list(v) for k, v in attrs.items()}
    out["objectclass"] = dc.schema.object_class_values(cls.name)
    out.setdefault("objectcategory", [f"CN={cls.default_object_category},{dc.schema_dn}"])
    out.setdefault("instancetype", ["4"])
    out["whencreated"] = [now]
    out["whenchanged"] = [now]
    out["usncreated"] = [usn]
    out["usnchanged"] = [usn]
    if "name" not in out:
        naming = cls.name.lower()
        key = "ou" if naming == "organizationalunit" else "dc" if naming == "domaindns" else "cn"
        out["name"] = list(out.get(key) or [first_rdn(rdn).split("=", 1)[1]])
    if sid is not None:
        out["objectsid"] = [sid]
    elif cls.name.lower() in _SAM_TYPE and "objectsid" not in out:
        out["objectsid"] = [dc.allocate_sid()]
    if cls.name.lower() in _SAM_TYPE:
        out.setdefault("samaccounttype", [_SAM_TYPE[cls.name.lower()]])
    explicit = explicit_sd or dc.sds.from_sddl(cls.default_sd)
    da = dc.domain_admins_sid
    sd = dc.sds.compute(
        parent.sd if parent is not None else None, explicit, cls.schema_id_guid, owner=owner or da, group=da
    )
    return dc.directory.add(parent, rdn, out, guid=dc.new_guid(), sd=sd, object_class=cls.name)


class BulkCreator:
    """:func:`create_entry` for many objects of one class under one parent (provisioning).

    The per-class and per-parent work (objectClass chain, objectCategory, sAMAccountType, the
    inherited security descriptor) is done once; :meth:`create` only adds each object's own
    operational values and hands the dict to :meth:`Directory.add_prepared` without copying.
    The stored result is identical to ``create_entry(dc, parent, rdn, attrs, class_name, ...)``.
    """

    __slots__ = ("_category", "_classes", "_explicit", "_four", "_naming", "_now", "_owner", "_parent_sd",
                 "_sam_type", "_sd", "cls", "dc", "parent")

    def __init__(
        self,
        dc: DomainController,
        parent: Entry,
        class_name: str,
        *,
        explicit_sd: SecurityDescriptor | None = None,
        owner: str | None = None,
    ) -> None:
        self.dc = dc
        self.parent = parent
        self.cls = cls = dc.schema.object_class(class_name)
        # Value lists every object of the batch has in common are shared, not copied: the store
        # never mutates a value list in place (set_values replaces it), and at 100k users the
        # copies would cost ~80 MB.
        self._classes = dc.schema.object_class_values(cls.name)
        self._category = [f"CN={cls.default_object_category},{dc.schema_dn}"]
        self._four = ["4"]
        self._now: list[str] = [""]
        sam_type = _SAM_TYPE.get(cls.name.lower())
        self._sam_type = [sam_type] if sam_type is not None else None
        naming = cls.name.lower()
        self._naming = "ou" if naming == "organizationalunit" else "dc" if naming == "domaindns" else "cn"
        self._explicit = explicit_sd or dc.sds.from_sddl(cls.default_sd)
        self._owner = owner
        self._parent_sd: bytes | None = None
        self._sd = b""

    def create(self, rdn: str, attrs: dict[str, list], *, sid: bytes | None = None,
               rdn_key: str | None = None, guid: UUID | None = None) -> Entry:
        """Create ``rdn`` under the parent; ``attrs`` is taken over (not copied).

        ``attrs`` must be a fresh dict keyed by lowercase attribute names (string literals or
        :meth:`Directory.attr_key`) with non-empty list values. Lists may be shared between
        objects (the store never mutates them in place); the dict itself may not. ``rdn_key``
        is the normalised RDN when the caller has it (:func:`fakes.ad.dn.rdn_with_key`); ``guid``
        the objectGUID when the caller drew it from the DC's RNG itself (else drawn here).
        """
        dc = self.dc
        parent = self.parent
        if parent.sd is not self._parent_sd:  # the parent's DACL changed: inherit again
            da = dc.domain_admins_sid
            self._sd = dc.sds.compute(parent.sd, self._explicit, self.cls.schema_id_guid,
                                      owner=self._owner or da, group=da)
            self._parent_sd = parent.sd
        now = self._now
        if now[0] != (text := _generalized_now(dc)):
            now = self._now = [text]
        usn = [str(dc.next_usn())]
        # Same keys, values and key order as create_entry() builds.
        attrs["objectclass"] = self._classes
        if "objectcategory" not in attrs:
            attrs["objectcategory"] = self._category
        if "instancetype" not in attrs:
            attrs["instancetype"] = self._four
        attrs["whencreated"] = now
        attrs["whenchanged"] = now
        attrs["usncreated"] = usn
        attrs["usnchanged"] = usn
        if "name" not in attrs:
            attrs["name"] = attrs.get(self._naming) or [first_rdn(rdn).split("=", 1)[1]]
        if sid is not None:
            attrs["objectsid"] = [sid]
        elif self._sam_type is not None and "objectsid" not in attrs:
            attrs["objectsid"] = [dc.allocate_sid()]
        if self._sam_type is not None and "samaccounttype" not in attrs:
            attrs["samaccounttype"] = self._sam_type
        return dc.directory.add_prepared(parent, rdn, attrs, guid=guid or dc.new_guid(), sd=self._sd,
                                         object_class=self.cls.name, rdn_key=rdn_key)


_time_cache: dict[object, str] = {}


def _generalized_now(dc: DomainController) -> str:
    # Bulk provisioning creates thousands of objects at one simulated instant; format it once.
    moment = dc.clock.now()
    text = _time_cache.get(moment)
    if text is None:
        if len(_time_cache) > 1024:
            _time_cache.clear()
        text = _time_cache[moment] = to_generalized_time(moment)
    return text


def add(
    dc: DomainController,
    session: Session,
    dn: str,
    attributes: Mapping[str, Sequence[bytes | str]],
    controls: Sequence[Control],
) -> LdapResult:
    from fakes.ad.dc_modify import _check_syntax, _normalise, store_password

    dc.require_bound(session)
    read_controls(dc, controls)  # the SD flags control is ignored on add (MS-ADTS 3.1.1.3.4.1.11)
    try:
        rdns = parse_dn(dn)
    except DNError as exc:
        raise errors.invalid_dn(dn) from exc
    if not rdns:
        raise errors.invalid_dn(dn)
    parent = dc.entry_or_error(parent_dn(dn))
    rdn = dn.split(",", 1)[0] if "\\," not in dn.split("=", 2)[1] else first_rdn(dn)
    attrs: dict[str, list] = {}
    password: bytes | str | None = None
    explicit: SecurityDescriptor | None = None
    for name, values in attributes.items():
        key = name.lower()
        if key == "unicodepwd":
            password = values[0] if values else None
            continue
        if key == "ntsecuritydescriptor":
            try:
                raw = values[0]
                explicit = SecurityDescriptor.from_bytes(
                    raw if isinstance(raw, bytes) else raw.encode("latin-1")
                )
            except (SecurityDescriptorError, ValueError, IndexError) as exc:
                raise errors.invalid_syntax("20119", "nTSecurityDescriptor") from exc
            continue
        try:
            at = dc.schema.attribute(key)
        except SchemaError as exc:
            raise errors.attribute_conversion() from exc
        if (at.system_only or at.constructed) and key != "objectclass" and not dc.is_system(session):
            raise errors.system_only()
        vals = [_normalise(at, v) for v in values]
        if at.single_valued and len(vals) > 1:
            raise errors.single_value(at.oid.rsplit(".", 1)[-1], at.name)
        for v in vals:
            _check_syntax(at, v, at.oid.rsplit(".", 1)[-1])
        attrs[key] = vals
    # The naming attribute takes its value from the DN when the client leaves it out (AD does this).
    rdn_attr, rdn_value = rdns[0][0]
    attrs.setdefault(rdn_attr.lower(), [rdn_value])
    classes = [v if isinstance(v, str) else v.decode() for v in attrs.pop("objectclass", [])]
    if not classes:
        raise errors.object_class_violation()
    try:
        cls = dc.schema.structural_class(classes)
        required = dc.schema.required_attributes(classes)
        allowed = dc.schema.allowed_attributes(classes)
    except SchemaError as exc:
        raise errors.object_class_violation() from exc
    auto = {
        "objectclass",
        "objectcategory",
        "instancetype",
        "ntsecuritydescriptor",
        "objectsid",
        "samaccountname",
        "cn",
        "ou",
        "dc",
        "name",
    }
    if any(r.lower() not in attrs and r.lower() not in auto for r in required):
        raise errors.object_class_violation()
    if any(a not in {x.lower() for x in allowed} for a in attrs):
        raise errors.object_class_violation()
    poss = {p.lower() for p in cls.possible_superiors}
    if poss and parent.object_class.lower() not in poss:
        parent_chain = {c.name.lower() for c in dc.schema.class_chain(parent.object_class)}
        if not poss & parent_chain:
            raise errors.naming_violation(parent.dn)
    creator: bytes | None = None  # set when the add goes ahead on ms-DS-MachineAccountQuota
    if not dc.can_create(session, parent, cls.name):
        if not machine_quota.applies(dc, session, cls.name):
            raise errors.insufficient_access()
        creator = machine_quota.check(dc, session)
    if cls.name.lower() in _SAM_TYPE:
        sam = attrs.get("samaccountname")
        if not sam:
            sam = [f"$ {dc.next_rid:06X}-{dc.rng.getrandbits(40):010X}"[:20].replace(" ", "")]
            attrs["samaccountname"] = sam
        if dc.directory.lookup("sAMAccountName", sam[0]):
            raise errors.account_exists()
    if cls.name.lower() in ("user", "inetorgperson", "computer"):
        attrs.setdefault("useraccountcontrol", [str(0x222 if password is None else 0x200)])
        attrs.setdefault("primarygroupid", ["513" if cls.name.lower() != "computer" else "515"])
        attrs.setdefault("pwdlastset", ["0"])
        attrs.setdefault("accountexpires", [str(passwords.NEVER)])
        attrs.setdefault("badpwdcount", ["0"])
        attrs.setdefault("lockouttime", ["0"])
    if password is not None and not session.encrypted:
        raise errors.reset_needs_encryption()
    new_password = None
    if password is not None:
        try:
            new_password = passwords.decode_unicode_pwd(password)
        except passwords.PasswordEncodingError as exc:
            raise errors.reset_needs_encryption() from exc
        if (
            passwords.check_password(
                dc.policy(),
                new_password,
                sam_account_name=attrs["samaccountname"][0],
                display_name=(attrs.get("displayname") or [""])[0],
            )
            is not None
        ):
            raise errors.password_policy_reset()
    owner = None
    da = make_sid(dc.domain_sid, DOMAIN_ADMINS_RID)
    if not dc.is_system(session) and da not in session.token:
        owner = session.principal_sid
    if creator is not None:
        attrs["ms-ds-creatorsid"] = [creator]
        owner = da
    try:
        entry = create_entry(dc, parent, rdn, attrs, cls.name, explicit_sd=explicit, owner=owner)
    except EntryExists as exc:
        raise errors.entry_exists() from exc
    if new_password is not None:
        store_password(dc, entry, new_password, pwd_last_set=0)
    return LdapResult()


def delete(dc: DomainController, session: Session, dn: str, controls: Sequence[Control]) -> LdapResult:
    dc.require_bound(session)
    rc = read_controls(dc, controls)
    entry = dc.entry_or_error(dn)
    if entry.children and not rc.tree_delete:
        raise errors.non_leaf()
    if not dc.is_system(session):
        allowed = dc.object_access(session, entry, K.RIGHT_DELETE)
        if not allowed and entry.parent is not None:
            from fakes.ad.security.access import child_access

            allowed = child_access(
                dc.sds.parse(entry.parent.sd),
                session.token,
                K.RIGHT_DS_DELETE_CHILD,
                child_class=dc.class_guid(entry.object_class),
            )
        if rc.tree_delete and entry.children:
            allowed = allowed and dc.object_access(session, entry, K.RIGHT_DS_DELETE_TREE)
        if not allowed:
            raise errors.insufficient_access()
    victims = list(dc.directory.walk(entry))
    for e in reversed(victims):
        dc.directory.remove(e)
        dc.attr_stamps.forget(e)
    return LdapResult()


def modify_dn(
    dc: DomainController,
    session: Session,
    dn: str,
    new_rdn: str,
    delete_old_rdn: bool,
    new_superior: str | None,
    controls: Sequence[Control],
) -> LdapResult:
    dc.require_bound(session)
    read_controls(dc, controls)
    entry = dc.entry_or_error(dn)
    target_parent = dc.entry_or_error(new_superior) if new_superior else entry.parent
    if target_parent is None:
        raise errors.unwilling()
    if not dc.is_system(session):
        from fakes.ad.dc_modify import _attribute, _may_write

        if not _may_write(dc, session, entry, _attribute(dc, "name")):
            raise errors.insufficient_access()
        if target_parent is not entry.parent and not dc.can_create(
            session, target_parent, entry.object_class
        ):
            raise errors.insufficient_access()
    try:
        attr, _, value = new_rdn.partition("=")
        dc.directory.move(entry, target_parent, new_rdn)
    except EntryExists as exc:
        raise errors.entry_exists() from exc
    except DNError as exc:
        raise errors.invalid_dn(new_rdn) from exc
    dc.directory.set_values(entry, "name", [value])
    dc.directory.set_values(entry, attr.lower(), [value])
    entry.sd = dc.sds.recompute(target_parent.sd, entry.sd, dc.class_guid(entry.object_class))
    dc._propagate_now(entry)
    dc.stamp(entry)
    return LdapResult()


def compare(
    dc: DomainController,
    session: Session,
    dn: str,
    attribute: str,
    value: bytes | str,
    controls: Sequence[Control],
) -> LdapResult:
    from fakes.ad.dc_modify import _same
    from fakes.ad.dc_read import Reader

    dc.require_bound(session)
    rc = read_controls(dc, controls)
    entry = dc.entry_or_error(dn)
    key = attribute.lower()
    try:
        at = dc.schema.attribute(key)
    except SchemaError as exc:
        raise errors.attribute_conversion() from exc
    reader = Reader(dc, session, rc, {key}, False, False, True, False, False)
    if key in ("unicodepwd", "userpassword") or not reader.readable(entry, key):
        raise errors.insufficient_access()
    values = entry.attrs.get(key)
    if not values:
        raise errors.compare_undefined()
    probe = value if at.syntax.binary else (value.decode() if isinstance(value, bytes) else value)
    if isinstance(probe, str) and at.syntax.binary:
        probe = probe.encode()
    code = ResultCode.COMPARE_TRUE if any(_same(v, probe) for v in values) else ResultCode.COMPARE_FALSE
    return LdapResult(code)


__all__ = ["BulkCreator", "Change", "ModOp", "add", "compare", "create_entry", "delete", "modify_dn"]
