"""A small directory shared by the filter and directory tests."""

from __future__ import annotations

from uuid import UUID

import pytest

from fakes.ad.directory import Directory, Entry
from fakes.ad.schema import default_schema
from fakes.ad.sid import sid_to_bytes

DOMAIN_SID = "S-1-5-21-1004336348-1177238915-682003330"
CATEGORY = "CN={},CN=Schema,CN=Configuration,DC=contoso,DC=com"


def make_user(d: Directory, parent: Entry, name: str, rid: int, **extra: list) -> Entry:
    attrs: dict[str, list] = {
        "objectClass": d.schema.object_class_values("user"),
        "objectCategory": [CATEGORY.format("Person")],
        "cn": [name], "name": [name], "sAMAccountName": [name.lower().replace(" ", ".")],
        "userPrincipalName": [f"{name.lower().replace(' ', '.')}@contoso.com"],
        "objectSid": [sid_to_bytes(f"{DOMAIN_SID}-{rid}")],
        "userAccountControl": ["512"],
    }
    attrs.update(extra)
    return d.add(parent, f"CN={name}", attrs, guid=UUID(int=rid))


def make_group(d: Directory, parent: Entry, name: str, rid: int, members: list[Entry]) -> Entry:
    return d.add(parent, f"CN={name}", {
        "objectClass": ["top", "group"], "objectCategory": [CATEGORY.format("Group")], "cn": [name],
        "sAMAccountName": [name], "groupType": ["-2147483646"],
        "objectSid": [sid_to_bytes(f"{DOMAIN_SID}-{rid}")], "member": [m.dn for m in members],
    }, guid=UUID(int=rid))


@pytest.fixture
def lab() -> tuple[Directory, dict[str, Entry]]:
    d = Directory(default_schema())
    root = d.add(None, "DC=contoso,DC=com",
                 {"objectClass": ["top", "domain", "domainDNS"], "dc": ["contoso"]}, guid=UUID(int=1))
    staff = d.add(root, "OU=Staff", {"objectClass": ["top", "organizationalUnit"], "ou": ["Staff"]},
                  guid=UUID(int=2))
    sales = d.add(staff, "OU=Sales", {"objectClass": ["top", "organizationalUnit"], "ou": ["Sales"]},
                  guid=UUID(int=3))
    john = make_user(d, staff, "John Smith", 1101, mail=["John.Smith@contoso.com"], adminCount=["1"])
    jane = make_user(d, sales, "Jane Doe", 1102, manager=[john.dn], userAccountControl=["514"])
    bob = make_user(d, sales, "Bob Stone", 1103, manager=[jane.dn])
    inner = make_group(d, staff, "Inner", 1201, [jane])
    outer = make_group(d, staff, "Outer", 1202, [inner, john])
    loop = make_group(d, staff, "Loop", 1203, [outer])
    d.set_values(inner, "member", [jane.dn, loop.dn])  # a cycle: inner -> loop -> outer -> inner
    return d, {"root": root, "staff": staff, "sales": sales, "john": john, "jane": jane, "bob": bob,
               "inner": inner, "outer": outer, "loop": loop}
