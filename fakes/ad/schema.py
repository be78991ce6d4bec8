"""The AD schema the fake DC enforces: attribute types, object classes, property sets.

Data lives in :mod:`fakes.ad.schema_data`; this module turns it into typed, frozen
records with case-insensitive lookups. :func:`default_schema` builds it once.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from uuid import UUID

from fakes.ad import schema_data

__all__ = [
    "AttributeType",
    "ObjectClass",
    "Schema",
    "SchemaError",
    "Syntax",
    "default_schema",
]


class Syntax(Enum):
    """Attribute syntaxes (MS-ADTS 3.1.1.2.2.2), grouped by how the fake stores and matches them."""

    STRING = "2.5.5.12"  # Unicode string, case-insensitive match
    PRINTABLE = "2.5.5.5"  # IA5/printable string
    INTEGER = "2.5.5.9"
    LARGE_INTEGER = "2.5.5.16"
    BOOLEAN = "2.5.5.8"
    DN = "2.5.5.1"
    DN_BINARY = "2.5.5.7"  # B:<hexlen>:<hex>:<dn> (wellKnownObjects)
    OID = "2.5.5.2"
    OCTETS = "2.5.5.10"
    GUID = "guid"  # an octet string of exactly 16 bytes holding a GUID (objectGUID)
    SID = "2.5.5.17"
    GENERALIZED_TIME = "2.5.5.11"
    SECURITY_DESCRIPTOR = "2.5.5.15"
    UNICODE_PWD = "unicodePwd"  # write-only octet string, never returned

    @property
    def binary(self) -> bool:
        """True when values are stored as ``bytes`` rather than ``str``."""
        return self in _BINARY

    @property
    def numeric(self) -> bool:
        return self in (Syntax.INTEGER, Syntax.LARGE_INTEGER)


_BINARY = frozenset({Syntax.OCTETS, Syntax.GUID, Syntax.SID, Syntax.SECURITY_DESCRIPTOR, Syntax.UNICODE_PWD})
_SYNTAX_BY_OID = {s.value: s for s in Syntax}
# Attributes whose generic octet-string syntax has a more precise meaning for matching.
_SYNTAX_OVERRIDES = {"objectguid": Syntax.GUID, "unicodepwd": Syntax.UNICODE_PWD}


class SchemaError(Exception):
    """A name the schema does not know; ``name`` and ``kind`` ("attribute"/"class") say which."""

    def __init__(self, name: str, kind: str = "attribute") -> None:
        super().__init__(f"unknown {kind} {name!r}")
        self.name = name
        self.kind = kind


@dataclass(frozen=True, slots=True)
class AttributeType:
    """One attributeSchema object (the parts the fake uses)."""

    name: str
    oid: str
    syntax: Syntax
    single_valued: bool
    system_only: bool
    schema_id_guid: UUID
    property_set: UUID | None
    range_upper: int | None
    constructed: bool = False
    operational: bool = False


@dataclass(frozen=True, slots=True)
class ObjectClass:
    """One classSchema object; ``must``/``may`` are this class's own lists (not inherited)."""

    name: str
    oid: str
    schema_id_guid: UUID
    superior: str | None
    kind: str  # 'structural' | 'abstract' | 'auxiliary'
    must: frozenset[str]
    may: frozenset[str]
    possible_superiors: frozenset[str]
    default_sd: str
    default_object_category: str


class Schema:
    """Case-insensitive access to attributes, classes and property sets."""

    def __init__(self, attributes: Iterable[AttributeType], classes: Iterable[ObjectClass]) -> None:
        self._attrs: dict[str, AttributeType] = {}
        self._attrs_by_guid: dict[UUID, AttributeType] = {}
        self._attrs_by_oid: dict[str, AttributeType] = {}
        self._sets: dict[UUID, set[str]] = {}
        for a in attributes:
            self._attrs[a.name.lower()] = a
            self._attrs_by_guid[a.schema_id_guid] = a
            self._attrs_by_oid[a.oid] = a
            if a.property_set is not None:
                self._sets.setdefault(a.property_set, set()).add(a.name)
        self._classes: dict[str, ObjectClass] = {c.name.lower(): c for c in classes}
        self._classes_by_guid = {c.schema_id_guid: c for c in self._classes.values()}
        self._chains: dict[str, tuple[ObjectClass, ...]] = {}
        for c in self._classes.values():
            if c.superior is not None and c.superior.lower() not in self._classes:
                raise SchemaError(c.superior, "class")

    # attributes -------------------------------------------------------------------------
    def attribute(self, name: str) -> AttributeType:
        """The attribute called ``name`` (lDAPDisplayName or OID, any case); raises SchemaError."""
        found = self.find_attribute(name)
        if found is None:
            raise SchemaError(name, "attribute")
        return found

    def find_attribute(self, name: str) -> AttributeType | None:
        return self._attrs.get(name.lower()) or self._attrs_by_oid.get(name)

    def attribute_by_guid(self, guid: UUID) -> AttributeType | None:
        return self._attrs_by_guid.get(guid)

    def attributes(self) -> list[AttributeType]:
        return list(self._attrs.values())

    def canonical_name(self, name: str) -> str:
        """The schema's spelling of ``name`` (``"samaccountname"`` -> ``"sAMAccountName"``)."""
        return self.attribute(name).name

    # classes ----------------------------------------------------------------------------
    def object_class(self, name: str) -> ObjectClass:
        """The class called ``name`` (any case); raises SchemaError."""
        found = self._classes.get(name.lower())
        if found is None:
            raise SchemaError(name, "class")
        return found

    def find_class(self, name: str) -> ObjectClass | None:
        return self._classes.get(name.lower())

    def class_by_guid(self, guid: UUID) -> ObjectClass | None:
        return self._classes_by_guid.get(guid)

    def classes(self) -> list[ObjectClass]:
        return list(self._classes.values())

    def class_chain(self, name: str) -> list[ObjectClass]:
        """``top`` ... ``name``: the class and all its superclasses, most specific last."""
        key = name.lower()
        chain = self._chains.get(key)
        if chain is None:
            out: list[ObjectClass] = []
            cls: ObjectClass | None = self.object_class(name)
            while cls is not None:
                out.append(cls)
                cls = self.object_class(cls.superior) if cls.superior else None
            chain = tuple(reversed(out))
            self._chains[key] = chain
        return list(chain)

    def object_class_values(self, name: str) -> list[str]:
        """The objectClass values AD stores for a structural class (``top``, ..., ``user``)."""
        return [sys.intern(c.name) for c in self.class_chain(name)]

    def structural_class(self, object_classes: Iterable[str]) -> ObjectClass:
        """The most specific structural class among ``object_classes`` (raises SchemaError)."""
        best: ObjectClass | None = None
        best_depth = -1
        for name in object_classes:
            cls = self.object_class(name)
            if cls.kind != "structural":
                continue
            depth = len(self.class_chain(cls.name))
            if depth > best_depth:
                best, best_depth = cls, depth
        if best is None:
            raise SchemaError(",".join(object_classes) or "(none)", "structural class")
        return best

    def _closure(self, object_classes: Iterable[str]) -> list[ObjectClass]:
        seen: dict[str, ObjectClass] = {}
        for name in object_classes:
            for cls in self.class_chain(name):
                seen[cls.name] = cls
        return list(seen.values())

    def allowed_attributes(self, object_classes: Iterable[str]) -> set[str]:
        """Every attribute (schema spelling) an object of these classes may hold."""
        out: set[str] = set()
        for cls in self._closure(object_classes):
            out |= cls.must
            out |= cls.may
        return out

    def required_attributes(self, object_classes: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for cls in self._closure(object_classes):
            out |= cls.must
        return out

    # property sets ----------------------------------------------------------------------
    def property_set_members(self, guid: UUID) -> set[str]:
        """Attributes whose attributeSecurityGUID is ``guid`` (empty for unknown GUIDs)."""
        return set(self._sets.get(guid, ()))

    def property_sets(self) -> dict[str, UUID]:
        return {name: UUID(g) for name, g in schema_data.PROPERTY_SETS.items()}


def _build() -> Schema:
    attrs = []
    for name, oid, syn, single, sysonly, guid, sec, upper, flags in schema_data.ATTRIBUTES:
        syntax = _SYNTAX_OVERRIDES.get(name.lower(), _SYNTAX_BY_OID[syn])
        attrs.append(
            AttributeType(
                name=sys.intern(name), oid=oid, syntax=syntax, single_valued=single, system_only=sysonly,
                schema_id_guid=UUID(guid), property_set=UUID(sec) if sec else None, range_upper=upper,
                constructed="c" in flags, operational="o" in flags,
            )
        )
    classes = [
        ObjectClass(
            name=sys.intern(name), oid=oid, schema_id_guid=UUID(guid), superior=sup, kind=kind,
            must=frozenset(must), may=frozenset(may), possible_superiors=frozenset(poss),
            default_sd=sd, default_object_category=cat,
        )
        for name, oid, guid, sup, kind, must, may, poss, sd, cat in schema_data.CLASSES
    ]
    return Schema(attrs, classes)


@lru_cache(maxsize=1)
def default_schema() -> Schema:
    """The shared built-in schema (built on first use, then cached)."""
    return _build()
