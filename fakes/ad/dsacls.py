"""dsacls's view of an ACE: parsing ``/G`` grants and writing the grant that makes an ACE.

``dsacls "<dn>" /G "DOM\\acct:CA;Reset Password;user" /I:S`` is how admins (and Microsoft's
tutorial) grant the writeback rights from a command line; :func:`parse_dsacls_grant` reads
those arguments, :func:`format_dsacls` writes them for an ACE (doctor's fix commands). Rights
are named as :mod:`fakes.ad.rights` names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from fakes.ad.rights import AppliesTo, RightsError, applies_to_of, property_guid, right_by_guid, right_by_name
from fakes.ad.schema import Schema, default_schema
from fakes.ad.security import constants as c
from fakes.ad.security.descriptor import Ace

__all__ = ["AceTemplate", "format_dsacls", "parse_dsacls_grant"]


_DSACLS_BITS = {
    "GR": c.GENERIC_READ,
    "GE": c.GENERIC_EXECUTE,
    "GW": c.GENERIC_WRITE,
    "GA": c.GENERIC_ALL,
    "SD": c.RIGHT_DELETE,
    "DT": c.RIGHT_DS_DELETE_TREE,
    "RC": c.RIGHT_READ_CONTROL,
    "WD": c.RIGHT_WRITE_DAC,
    "WO": c.RIGHT_WRITE_OWNER,
    "LC": c.RIGHT_DS_LIST_CONTENTS,
    "WS": c.RIGHT_DS_WRITE_PROPERTY_EXTENDED,
    "WP": c.RIGHT_DS_WRITE_PROPERTY,
    "RP": c.RIGHT_DS_READ_PROPERTY,
    "CC": c.RIGHT_DS_CREATE_CHILD,
    "DC": c.RIGHT_DS_DELETE_CHILD,
    "LO": c.RIGHT_DS_LIST_OBJECT,
    "CA": c.RIGHT_DS_CONTROL_ACCESS,
}


@dataclass(frozen=True, slots=True)
class AceTemplate:
    """A dsacls grant before the account name is resolved to a SID."""

    mask: int
    object_type: UUID | None
    inherited_object_type: UUID | None
    flags: int

    def to_ace(self, sid: str, *, deny: bool = False) -> Ace:
        obj = self.object_type is not None or self.inherited_object_type is not None
        t = (
            (c.ACCESS_DENIED_OBJECT_ACE_TYPE if deny else c.ACCESS_ALLOWED_OBJECT_ACE_TYPE)
            if obj
            else (c.ACCESS_DENIED_ACE_TYPE if deny else c.ACCESS_ALLOWED_ACE_TYPE)
        )
        return Ace(t, self.flags, self.mask, sid, self.object_type, self.inherited_object_type)


def parse_dsacls_grant(text: str, schema: Schema | None = None) -> list[tuple[str, AceTemplate]]:
    """Parse dsacls ``/G`` arguments: ``"DOM\\acct:CA;Reset Password;user" ... /I:S``.

    Returns (account, template) pairs; the account is resolved by the caller.
    """
    schema = schema or default_schema()
    tokens, inherit = _split_args(text)
    flags = {
        "T": c.CONTAINER_INHERIT_ACE,
        "S": c.CONTAINER_INHERIT_ACE | c.INHERIT_ONLY_ACE,
        "P": c.CONTAINER_INHERIT_ACE | c.NO_PROPAGATE_INHERIT_ACE,
        None: 0,
    }[inherit]
    out: list[tuple[str, AceTemplate]] = []
    for tok in tokens:
        account, sep, perm = tok.rpartition(":")
        if not sep or not account:
            raise RightsError(f"expected <account>:<perms>[;<object>[;<class>]], got {tok!r}")
        fields = perm.split(";")
        bits_text = fields[0].upper()
        mask = 0
        for i in range(0, len(bits_text), 2):
            code = bits_text[i : i + 2]
            if code not in _DSACLS_BITS:
                raise RightsError(f"unknown dsacls permission {code!r} in {tok!r}")
            mask |= _DSACLS_BITS[code]
        object_type = None
        if len(fields) > 1 and fields[1]:
            if mask & c.RIGHT_DS_CONTROL_ACCESS or mask & c.RIGHT_DS_WRITE_PROPERTY_EXTENDED:
                object_type = right_by_name(fields[1]).guid
            else:
                object_type = property_guid(schema, fields[1])
        inherited = schema.object_class(fields[2]).schema_id_guid if len(fields) > 2 and fields[2] else None
        out.append((account, AceTemplate(mask, object_type, inherited, flags)))
    return out


def _split_args(text: str) -> tuple[list[str], str | None]:
    tokens: list[str] = []
    inherit: str | None = None
    buf, quoted = "", False
    for ch in text + " ":
        if ch == '"':
            quoted = not quoted
        elif ch == " " and not quoted:
            if buf:
                if buf.upper().startswith("/I:"):
                    inherit = buf[3:].upper() or None
                    if inherit not in ("S", "T", "P"):
                        raise RightsError(f"unknown dsacls inheritance {buf!r}")
                elif buf.upper() != "/G":
                    tokens.append(buf)
            buf = ""
        else:
            buf += ch
    return tokens, inherit


def format_dsacls(ace: Ace, account: str, schema: Schema | None = None) -> str:
    """The dsacls ``/G`` argument that would create ``ace`` (plus ``/I:`` switch when inherited)."""
    schema = schema or default_schema()
    codes = "".join(code for code, bit in _DSACLS_BITS.items() if code[0] != "G" and ace.mask & bit == bit)
    obj = ""
    if ace.object_type is not None:
        r = right_by_guid(ace.object_type)
        at = schema.attribute_by_guid(ace.object_type)
        obj = at.name if (at and not ace.mask & c.RIGHT_DS_CONTROL_ACCESS) else (r.display_name if r else "")
    cls = ""
    if ace.inherited_object_type is not None:
        k = schema.class_by_guid(ace.inherited_object_type)
        cls = k.name if k else str(ace.inherited_object_type)
    perm = codes + (f";{obj}" if obj or cls else "") + (f";{cls}" if cls else "")
    applies, _ = applies_to_of(ace, schema)
    switch = {AppliesTo.THIS_OBJECT_ONLY: "", AppliesTo.THIS_OBJECT_AND_DESCENDANTS: " /I:T"}.get(
        applies, " /I:S"
    )
    if ace.flags & c.NO_PROPAGATE_INHERIT_ACE:
        switch = " /I:P"
    return f'"{account}:{perm}"{switch}'
