"""LDIF (RFC 2849) save/load of a lab's directory, and seeding a lab from a real directory's export.

Two kinds of file come in:

* **simlab exports** (:func:`export_ldif`): every stored attribute, objectGUID, objectSid and
  nTSecurityDescriptor as base64, plus lab-only password material AD never exports
  (``x-simlab-passwordDigest``, ``x-simlab-passwordHistory``, ``x-simlab-secret-<name>``).
  Loading one gives back exactly the same directory: same GUIDs, SIDs, DACLs, members,
  adminCount, lockout state, whenChanged/uSNChanged, and the same password digests, so the
  same passwords bind. The header comment ``# simlab LDIF export`` marks them.
* **foreign exports** (``ldifde -f`` or ``ldapsearch -LLL`` of a real AD): entries in any order,
  operational and constructed attributes (skipped, the lab stamps its own), no GUIDs/SIDs/SDs
  (generated as the DC would: SID from the RID pool, SD from the class default plus what the
  parent passes down), attributes the lab's schema lacks (skipped with a warning). Entries that
  already exist (the NC head, CN=Users, Administrator...) are merged: their attributes are
  replaced by the file's, never duplicated. SIDs of the exported domain are re-based onto the
  lab's domain SID (RIDs kept). Users without password material get the lab's default password.

Errors (:class:`LdifError`) name the file and line. Store-level writes only: no access checks and
no oplog records, like a DC restored from backup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from fakes.ad import passwords
from fakes.ad.dn import DNError, normalize_dn, parse_dn
from fakes.ad.provision import DEFAULT_USER_PASSWORD
from fakes.ad.schema import AttributeType
from fakes.ad.security.descriptor import Acl, SecurityDescriptor, SecurityDescriptorError
from fakes.ad.sid import sid_from_bytes, sid_to_bytes
from fakes.clock import to_generalized_time
from simlab.ldif_export import (
    PASSWORD_DIGEST,
    PASSWORD_HISTORY,
    SECRET_PREFIX,
    SECRETS,
    export_ldif,
    save_ldif,
)
from simlab.ldif_format import (
    HEADER,
    LdifDocument,
    LdifError,
    LdifRecord,
    format_line,
    format_record,
    parse_ldif,
)

if TYPE_CHECKING:
    from fakes.ad.dc import DomainController
    from fakes.ad.directory import Entry

Mode = Literal["merge", "replace"]
Flavor = Literal["auto", "simlab", "foreign"]

# Not stored by the DC (generated on read) or back links it derives from forward links.
_DERIVED = frozenset({"distinguishedname", "memberof", "directreports", "objectguid", "ntsecuritydescriptor"})
# Stamped by the DC on every write, or system-managed on create: a foreign value is meaningless here.
_STAMPED = frozenset({"whenchanged", "whencreated", "usnchanged", "usncreated", "dscorepropagationdata",
                      "samaccounttype", "objectcategory", "instancetype", "replpropertymetadata"})
_SECRET_KEYS = {PASSWORD_DIGEST.lower(): "unicodepwd", PASSWORD_HISTORY.lower(): "ntpwdhistory"}
_USER_CLASSES = frozenset({"user", "inetorgperson"})
_SAM_CLASSES = frozenset({"user", "inetorgperson", "computer", "group"})
_DOMAIN_SID = re.compile(r"^(S-1-5-21-\d+-\d+-\d+)-(\d+)$")


@dataclass(frozen=True, slots=True)
class LdifWarning:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class LdifImport:
    """What a load did: entries created and merged, and everything skipped, with lines."""

    source: str
    flavor: str
    created: int
    merged: int
    warnings: tuple[LdifWarning, ...] = field(default=())


# --------------------------------------------------------------------------- import
def load_ldif(dc: DomainController, path: str | Path, **kwargs: object) -> LdifImport:
    """:func:`import_ldif` of a file (errors name the file)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise LdifError(str(p), 0, f"cannot read: {exc.strerror or exc}") from exc
    return import_ldif(dc, data, source=str(p), **kwargs)  # type: ignore[arg-type]


def import_ldif(
    dc: DomainController,
    data: str | bytes | LdifDocument,
    *,
    source: str = "<string>",
    mode: Mode = "merge",
    flavor: Flavor = "auto",
    default_password: str = DEFAULT_USER_PASSWORD,
) -> LdifImport:
    """Load LDIF into ``dc``'s directory.

    ``mode="replace"`` empties the directory first (the file must then hold the domain NC head);
    ``"merge"`` adds new entries and replaces the attributes of existing ones. ``flavor`` says how
    to read the file: ``"simlab"`` keeps every attribute exactly, ``"foreign"`` treats it as a real
    directory's export, ``"auto"`` picks by the simlab header comment.
    """
    doc = data if isinstance(data, LdifDocument) else parse_ldif(data, source)
    if mode not in ("merge", "replace"):
        raise ValueError(f"mode must be 'merge' or 'replace', not {mode!r}")
    simlab = doc.is_simlab_export if flavor == "auto" else flavor == "simlab"
    with dc.lock:
        loader = _Loader(dc, doc.source, simlab, default_password)
        loader.has_secrets = any(_secret_target(n) for r in doc.records for n, _ in r.attrs)
        records = sorted(doc.records, key=lambda r: _depth(r, doc.source))  # parents first, stable
        if mode == "replace":
            loader.replace_domain(records)
        if not simlab:
            loader.scan_domains(records)
        for rec in records:
            loader.load(rec)
        loader.finish()
        if mode == "replace":
            loader.reconcile_accounts()
        dc.directory.written.clear()  # what the file set is the objects' state, not a change to stamp
    return LdifImport(doc.source, "simlab" if simlab else "foreign", loader.created, loader.merged,
                      tuple(loader.warnings))


def _secret_target(name: str) -> str | None:
    """The stored attribute a lab-only secret attribute carries (None for ordinary attributes)."""
    key = name.lower()
    return _SECRET_KEYS.get(key) or (key[len(SECRET_PREFIX):] if key.startswith(SECRET_PREFIX) else None)


def _depth(rec: LdifRecord, source: str) -> int:
    try:
        return len(_split_rdns(rec.dn))
    except DNError as exc:
        raise LdifError(source, rec.line, f"invalid DN {rec.dn!r}: {exc}") from exc


def _split_rdns(dn: str) -> list[str]:
    """RDN texts exactly as written (escapes kept), so stored DNs round-trip byte for byte."""
    out, start, i = [], 0, 0
    while i < len(dn):
        c = dn[i]
        if c == "\\":
            i += 2
            continue
        if c == ",":
            out.append(dn[start:i])
            start = i + 1
        i += 1
    out.append(dn[start:])
    if not all("=" in r for r in out):
        raise DNError(f"not a DN: {dn!r}")
    normalize_dn(dn)  # raises DNError for anything the DC would not accept
    return out


@dataclass(slots=True)
class _Parsed:
    """One record's attributes, sorted into what the store needs."""

    attrs: dict[str, list]
    guid: UUID | None = None
    sd: bytes | None = None
    secrets: dict[str, list] = field(default_factory=dict)


class _Loader:
    def __init__(self, dc: DomainController, source: str, simlab: bool, default_password: str) -> None:
        self.dc, self.source, self.simlab = dc, source, simlab
        self.default_digest = passwords.password_digest(default_password)
        self.warnings: list[LdifWarning] = []
        self.created = self.merged = 0
        self._warned: set[tuple[str, str]] = set()
        self._foreign_prefixes: set[str] = set()
        self.has_secrets = False

    def default_secrets(self, rec: LdifRecord) -> dict[str, list]:
        """Password material for a user the file carries none for: the lab's default password."""
        self.warn(rec.line, "users without password material get the lab's default user password", ("pw", ""))
        return {"unicodepwd": [self.default_digest], "ntpwdhistory": [self.default_digest]}

    def warn(self, line: int, message: str, key: tuple[str, str] | None = None) -> None:
        if key is not None:
            if key in self._warned:
                return
            self._warned.add(key)
        self.warnings.append(LdifWarning(line, message))

    def error(self, line: int, message: str) -> LdifError:
        return LdifError(self.source, line, message)

    # -- replace mode --------------------------------------------------------------------
    def replace_domain(self, records: list[LdifRecord]) -> None:
        dc = self.dc
        head = next((r for r in records if _same_dn(r.dn, dc.domain_dn)), None)
        if head is None:
            first = records[0] if records else None
            raise self.error(first.line if first else 0,
                             f"replace needs the domain NC head {dc.domain_dn} in the file"
                             + (f" (it starts at {first.dn})" if first else " (it has no entries)"))
        sid = next((v for n, v in head.attrs if n.lower() == "objectsid"), None)
        if sid is not None and sid_from_bytes(sid) != dc.domain_sid:
            _adopt_domain_sid(dc, sid_from_bytes(sid))
        dc.directory.restore([])

    # -- one record ---------------------------------------------------------------------
    def load(self, rec: LdifRecord) -> None:
        dc = self.dc
        rdns = _split_rdns(rec.dn)
        parsed = self.parse(rec)
        existing = dc.directory.get(rec.dn)
        if existing is not None:
            self.merge(existing, parsed, rec)
            return
        if len(rdns) == 1 or _is_nc_head(dc, rec.dn, parsed):
            # Naming-context heads (the domain, Configuration, Schema) are roots of their own tree.
            parent = None
            if not _is_nc_head(dc, rec.dn, parsed):
                raise self.error(rec.line, f"{rec.dn} is outside the lab's domain {dc.domain_dn}")
            rdn = rec.dn
        else:
            parent = dc.directory.get(",".join(rdns[1:]))
            if parent is None:
                raise self.error(rec.line, f"no parent entry for {rec.dn} in the lab or earlier in the file "
                                 f"(the lab's domain is {dc.domain_dn})")
            rdn = rdns[0]
        classes = [v for v in parsed.attrs.get("objectclass", ()) if isinstance(v, str)]
        try:
            cls = dc.schema.structural_class(classes)
        except Exception as exc:  # SchemaError: unknown or no structural class
            raise self.error(rec.line, f"{rec.dn}: no object class the lab knows among {classes}") from exc
        if self.simlab:
            attrs = parsed.attrs
            attrs.update(parsed.secrets)
            if not self.has_secrets and cls.name.lower() in _USER_CLASSES:
                attrs.update(self.default_secrets(rec))
            sd = dc.sds.intern(parsed.sd) if parsed.sd else b""
        else:
            attrs, sd = self.foreign_create(parent, rdn, cls.name, parsed, rec)
        dc.directory.add(parent, rdn, attrs, guid=parsed.guid or dc.new_guid(), sd=sd, object_class=cls.name)
        self.created += 1

    def parse(self, rec: LdifRecord) -> _Parsed:
        schema = self.dc.schema
        out = _Parsed({})
        for raw_name, value in rec.attrs:
            name, _, options = raw_name.partition(";")
            key = name.lower()
            if options and "range=" in options.lower():
                self.warn(rec.line, f"{rec.dn}: {raw_name} is a ranged (partial) value list; only the values "
                          "in the file are loaded", ("range", rec.dn + key))
            secret = _secret_target(key)
            if secret is not None:
                out.secrets.setdefault(secret, []).append(value)
                continue
            if key == "objectguid":
                if len(value) != 16:
                    raise self.error(rec.line, f"{rec.dn}: objectGUID must be 16 bytes, got {len(value)}")
                out.guid = UUID(bytes_le=value)
                continue
            if key == "ntsecuritydescriptor":
                out.sd = value
                continue
            if not self.simlab and (key in _DERIVED or key in _STAMPED):
                continue
            at = schema.find_attribute(name)
            if at is None:
                self.warn(rec.line, f"{rec.dn}: attribute {name} is not in the lab's schema; skipped",
                          ("attr", key) if not self.simlab else None)
                continue
            if not self.simlab and at.constructed:
                continue
            converted = self.convert(at, value, rec)
            if converted is not None:
                out.attrs.setdefault(at.name.lower() if not self.simlab else key, []).append(converted)
        return out

    def convert(self, at: AttributeType, value: bytes, rec: LdifRecord) -> bytes | str | None:
        if at.syntax.binary:
            return value
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            self.warn(rec.line, f"{rec.dn}: {at.name} value is not UTF-8 text; skipped")
            return None

    # -- foreign entries ----------------------------------------------------------------
    def foreign_create(self, parent: Entry | None, rdn: str, class_name: str, parsed: _Parsed,
                       rec: LdifRecord) -> tuple[dict[str, list], bytes]:
        """Fill in what the DC would have generated on an add (create_entry's rules)."""
        dc = self.dc
        cls = dc.schema.object_class(class_name)
        attrs = parsed.attrs
        now = to_generalized_time(dc.clock.now())
        usn = str(dc.next_usn())
        attrs["objectclass"] = dc.schema.object_class_values(cls.name)
        attrs["objectcategory"] = [f"CN={cls.default_object_category},{dc.schema_dn}"]
        attrs["instancetype"] = ["4"]
        attrs.update(whencreated=[now], whenchanged=[now], usncreated=[usn], usnchanged=[usn])
        if "name" not in attrs:
            attrs["name"] = [_rdn_value(rdn)]
        low = cls.name.lower()
        if "objectsid" in attrs:
            attrs["objectsid"] = [self.rebase_sid(attrs["objectsid"][0], rec)]
        elif low in _SAM_CLASSES:
            attrs["objectsid"] = [dc.allocate_sid()]
        if low in _SAM_CLASSES:
            attrs["samaccounttype"] = [{"computer": "805306369", "group": "268435456"}.get(low, "805306368")]
        if low in _USER_CLASSES:
            for k, v in (("useraccountcontrol", "512"), ("primarygroupid", "513"),
                         ("pwdlastset", str(dc.clock.filetime())), ("accountexpires", str(passwords.NEVER)),
                         ("badpwdcount", "0"), ("lockouttime", "0")):
                attrs.setdefault(k, [v])
            if not parsed.secrets:
                attrs.update(self.default_secrets(rec))
                if attrs["pwdlastset"] != ["0"]:  # the lab just set it (0 = must change at next logon stays)
                    attrs["pwdlastset"] = [str(dc.clock.filetime())]
            attrs.update(parsed.secrets)
        return attrs, self.inherit(parent, cls.name, parsed.sd, rec)

    def inherit(self, parent: Entry | None, class_name: str, sd: bytes | None, rec: LdifRecord) -> bytes:
        dc = self.dc
        cls = dc.schema.object_class(class_name)
        if sd:
            try:
                explicit = dc.sds.parse(sd)
            except (SecurityDescriptorError, ValueError) as exc:
                raise self.error(rec.line, f"{rec.dn}: nTSecurityDescriptor is not a descriptor") from exc
        else:
            explicit = dc.sds.from_sddl(cls.default_sd)
        da = dc.domain_admins_sid
        return dc.sds.compute(parent.sd if parent is not None else None, _rebased_sd(self, explicit),
                              cls.schema_id_guid, owner=da, group=da)

    def rebase_sid(self, raw: bytes, rec: LdifRecord) -> bytes:
        """A SID of the exported domain, moved onto the lab's domain (same RID) unless that RID is taken."""
        dc = self.dc
        sid = sid_from_bytes(raw)
        m = _DOMAIN_SID.match(sid)
        if m is None or m.group(1) == dc.domain_sid:
            return raw
        self.learn_domain(m.group(1), rec)
        new = sid_to_bytes(f"{dc.domain_sid}-{m.group(2)}")
        if dc.directory.by_sid(new) is not None:
            fresh = dc.allocate_sid()
            self.warn(rec.line, f"{rec.dn}: RID {m.group(2)} is already used in the lab; "
                      f"given {sid_from_bytes(fresh)}")
            return fresh
        return new

    def learn_domain(self, domain_sid: str, rec: LdifRecord) -> None:
        if domain_sid != self.dc.domain_sid and domain_sid not in self._foreign_prefixes:
            self._foreign_prefixes.add(domain_sid)
            self.warn(rec.line, f"SIDs of domain {domain_sid} are re-based onto the lab's "
                      f"{self.dc.domain_sid}")

    def scan_domains(self, records: list[LdifRecord]) -> None:
        """Learn the exported domain's SID up front, so SDs naming its accounts are re-based in any order."""
        for rec in records:
            for name, value in rec.attrs:
                if name.lower() != "objectsid":
                    continue
                try:
                    sid = sid_from_bytes(value)
                except Exception:  # a malformed SID is reported when the entry itself loads
                    continue
                m = _DOMAIN_SID.match(sid)
                if m is not None:
                    self.learn_domain(m.group(1), rec)
                elif sid.startswith("S-1-5-21-") and sid.count("-") == 6:  # the NC head: the domain SID
                    self.learn_domain(sid, rec)

    # -- existing entries ---------------------------------------------------------------
    def merge(self, entry: Entry, parsed: _Parsed, rec: LdifRecord) -> None:
        dc, directory = self.dc, self.dc.directory
        if parsed.guid is not None and parsed.guid != entry.guid and self.simlab:
            self.warn(rec.line, f"{rec.dn}: exists in the lab with objectGUID {entry.guid}; kept")
        if self.simlab:
            keep = set(parsed.attrs) | (set(parsed.secrets) if self.has_secrets else SECRETS)
            for key in [k for k in entry.attrs if k not in keep]:
                directory.set_values(entry, key, [])
            for key, values in {**parsed.attrs, **parsed.secrets}.items():
                directory.set_values(entry, key, values)
            if parsed.sd:
                entry.sd = dc.sds.intern(parsed.sd)
                dc._propagate_now(entry)
        else:
            parsed.attrs.pop("objectclass", None)
            parsed.attrs.pop("objectsid", None)  # the lab's SID identifies the existing object
            for key, values in parsed.attrs.items():
                directory.set_values(entry, key, values)
            for key, values in parsed.secrets.items():
                directory.set_values(entry, key, values)
            if parsed.sd:
                parent = entry.parent
                entry.sd = self.inherit(parent, entry.object_class, parsed.sd, rec)
                dc._propagate_now(entry)
            dc.stamp(entry)
        self.merged += 1

    def reconcile_accounts(self) -> None:
        """After a replace: the lab must still sign in as Administrator and as the connector account."""
        dc = self.dc
        admin = dc.directory.get(dc.admin_dn)
        if admin is None:
            raise self.error(0, f"the file has no {dc.admin_dn}; the lab needs its Administrator")
        self.adopt_password(admin, dc.admin_password, "Administrator")
        connector = dc.directory.get(dc.connector_dn) if dc.connector_dn else None
        if connector is None:
            msol = [e for e in dc.directory.walk() if e.object_class == "user"
                    and str((e.attrs.get("samaccountname") or [""])[0]).startswith("MSOL_")]
            if not msol:
                self.warn(0, "the file has no MSOL_ connector account: password writeback cannot sign in")
                return
            connector = msol[0]
            dc.connector_dn = connector.dn
        if dc.connector_password:
            self.adopt_password(connector, dc.connector_password, "the connector account")

    def adopt_password(self, entry: Entry, password: str, who: str) -> None:
        if entry.attrs.get("unicodepwd") == [passwords.password_digest(password)]:
            return
        self.warn(0, f"{entry.dn}: {who}'s password in the file is not the lab's; reset to the lab's")
        self.dc.set_password(entry.dn, password)

    def finish(self) -> None:
        """Move the DC's counters past everything loaded (the RID pool and the USN)."""
        dc = self.dc
        prefix = dc.domain_sid + "-"
        top_rid, top_usn = dc.next_rid - 1, dc.usn
        for e in dc.directory.walk():
            sid = e.attrs.get("objectsid")
            if sid:
                text = sid_from_bytes(sid[0])
                if text.startswith(prefix):
                    top_rid = max(top_rid, int(text[len(prefix):]))
            for key in ("usnchanged", "usncreated"):
                v = e.attrs.get(key)
                if v and str(v[0]).isdigit():
                    top_usn = max(top_usn, int(v[0]))
        dc.next_rid, dc.usn = max(dc.next_rid, top_rid + 1), top_usn


def _rebased_sd(loader: _Loader, sd: SecurityDescriptor) -> SecurityDescriptor:
    """The descriptor with trustees of the exported domain moved onto the lab's (SIDs were re-based too)."""
    prefixes = loader._foreign_prefixes
    if not prefixes:
        return sd
    lab = loader.dc.domain_sid

    def move(sid: str | None) -> str | None:
        m = _DOMAIN_SID.match(sid or "")
        return f"{lab}-{m.group(2)}" if m and m.group(1) in prefixes else sid

    def acl(a: Acl | None) -> Acl | None:
        return None if a is None else replace(a, aces=tuple(replace(x, sid=move(x.sid)) for x in a.aces))

    return replace(sd, owner=move(sd.owner), group=move(sd.group), dacl=acl(sd.dacl), sacl=acl(sd.sacl))


def _adopt_domain_sid(dc: DomainController, domain_sid: str) -> None:
    """Make the DC the domain whose directory is being restored (its SID, SID prefix and SD aliases)."""
    from fakes.ad.sdstore import SdStore
    from fakes.ad.sid import make_sid

    dc.domain_sid = domain_sid
    dc.sds = SdStore(domain_sid)
    dc._sid_prefix = None
    dc.domain_admins_sid = make_sid(domain_sid, 512)


def _same_dn(a: str, b: str) -> bool:
    try:
        return normalize_dn(a) == normalize_dn(b)
    except (DNError, ValueError):
        return False


def _rdn_value(rdn: str) -> str:
    return parse_dn(rdn)[0][0][1]


def _is_nc_head(dc: DomainController, dn: str, parsed: Any) -> bool:
    """The domain NC head, or another NC the DC holds (Configuration, Schema) flagged as a head."""
    if _same_dn(dn, dc.domain_dn):
        return True
    known = [getattr(dc, "config_dn", ""), getattr(dc, "schema_dn", "")]
    if not any(k and _same_dn(dn, k) for k in known):
        return False
    instance_type = (parsed.attrs.get("instancetype") or ["0"])[0]
    return bool(int(instance_type) & 1)  # IT_NC_HEAD


__all__ = ["HEADER", "PASSWORD_DIGEST", "PASSWORD_HISTORY", "LdifDocument", "LdifError", "LdifImport",
           "LdifRecord", "LdifWarning", "export_ldif", "format_line", "format_record", "import_ldif",
           "load_ldif", "parse_ldif", "save_ldif"]
