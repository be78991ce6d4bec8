"""Provision a fresh Windows Server 2016-style domain (and optionally a seeded user population).

The layout is what ``dcpromo``/``Install-ADDSForest`` leaves behind: the domain NC head
with the default DACL (Samba's copy of the Windows default, FACTS.md 5.5) and the
default domain password/lockout policy, CN=Users, CN=Computers, OU=Domain Controllers,
CN=System with CN=AdminSDHolder, CN=Builtin with the builtin groups, the well-known
domain groups and accounts (Administrator, Guest, krbtgt), the DC's computer account,
and — by default — an Express-style Entra Connect connector account ``MSOL_<12 hex>``
holding exactly the Express rights (FACTS.md 8.1, 5.5), *not* the tutorial's extras.

Everything random (SIDs, GUIDs, names, the connector password) comes from one
``random.Random(seed)``, so a seed always gives the same domain.

Default passwords: Administrator ``DEFAULT_ADMIN_PASSWORD``; every populated user
``DEFAULT_USER_PASSWORD`` (so scenarios can bind as anyone).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from fakes.ad import passwords
from fakes.ad.config_nc import build_config_nc
from fakes.ad.dc import DomainController
from fakes.ad.dc_write import create_entry
from fakes.ad.default_gpos import add_default_gpos
from fakes.ad.directory import Directory, Entry
from fakes.ad.schema import default_schema
from fakes.ad.sdprop import SDProp
from fakes.ad.security import constants as K
from fakes.ad.security.descriptor import Ace, Acl
from fakes.ad.sid import make_sid, sid_to_bytes
from fakes.clock import SimClock
from fakes.gc_pause import gc_paused
from fakes.oplog import OperationLog

DEFAULT_ADMIN_PASSWORD = "Pa$$w0rd-Admin1"
DEFAULT_USER_PASSWORD = "Winter2026!Lab"

# Domain root default DACL (FACTS.md 5.5; Samba get_domain_descriptor, Samba's copy of Windows).
_USER = "bf967aba-0de6-11d0-a285-00aa003049e2"
_INETORG = "4828cc14-1437-45bc-9b07-ad6f015e5f28"
_RU_SETS = (
    "4c164200-20c0-11d0-a768-00aa006e0529",
    "5f202010-79a5-11d0-9020-00c04fc2d4cf",
    "bc0ac240-79a9-11d0-9020-00c04fc2d4cf",
    "59ba2f42-79a2-11d0-9020-00c04fc2d3cf",
    "037088f8-0ae1-11d2-b422-00a0c968f939",
)
ROOT_SDDL = (
    "O:BAG:BAD:AI"
    + "".join(f"(OA;CIIO;RP;{ps};{cls};RU)" for cls in (_USER, _INETORG) for ps in _RU_SETS)
    + f"(OA;CIIO;RPLCLORC;;{_USER};RU)"
    + "".join(f"(OA;;CR;1131f6{x}-9c07-11d1-f79f-00c04fc2dcd2;;BA)" for x in ("aa", "ab", "ac", "ad"))
    + "(OA;;CR;05c74c5e-4deb-43b4-bd9f-86664c2a7fd5;;AU)"
    + "(OA;;CR;ccc2dc7d-a6ad-4a7a-8846-c04e3cc53501;;AU)"
    + "(OA;;CR;280f369c-67c7-438e-ae98-1d46f3c6f541;;AU)"
    + "(A;;RPWPCRCCLCLORCWOWDSW;;;DA)(A;CI;RPWPCRCCDCLCLORCWOWDSDDTSW;;;EA)(A;CI;RPWPCRCCLCLORCWOWDSDSW;;;BA)"
    + "(A;;RPRC;;;RU)(A;CI;LC;;;RU)(A;;RP;;;WD)(A;;RPLCLORC;;;ED)(A;;RPLCLORC;;;AU)"
    + "(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)"
)
# AdminSDHolder (FACTS.md 5.7, Windows 2000 list; exact 2016+ SDDL unconfirmed): protected, no Reset for
# anyone but the admin groups, Everyone/SELF keep Change Password.
ADMINSDHOLDER_SDDL = (
    "O:DAG:DAD:P(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPWPCRCCDCLCLORCWOWDSW;;;BA)"
    "(A;;RPWPCRCCDCLCLORCWOWDSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSW;;;EA)(A;;RPLCLORC;;;AU)"
    "(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)"
    f"(OA;;RP;037088f8-0ae1-11d2-b422-00a0c968f939;{_USER};RU)(OA;;RP;4c164200-20c0-11d0-a768-00aa006e0529;;RU)"
    "(A;;RPLCLORC;;;PS)"
)

# groupType values (MS-ADTS 2.2.12).
GLOBAL_SECURITY = "-2147483646"
DOMAIN_LOCAL_SECURITY = "-2147483644"
BUILTIN_LOCAL_SECURITY = "-2147483643"
UNIVERSAL_SECURITY = "-2147483640"

BUILTIN_GROUPS = (
    ("Administrators", 544),
    ("Users", 545),
    ("Guests", 546),
    ("Account Operators", 548),
    ("Server Operators", 549),
    ("Print Operators", 550),
    ("Backup Operators", 551),
    ("Replicator", 552),
    ("Pre-Windows 2000 Compatible Access", 554),
    ("Remote Desktop Users", 555),
)
DOMAIN_GROUPS = (
    ("Domain Admins", 512, GLOBAL_SECURITY),
    ("Domain Users", 513, GLOBAL_SECURITY),
    ("Domain Guests", 514, GLOBAL_SECURITY),
    ("Domain Computers", 515, GLOBAL_SECURITY),
    ("Domain Controllers", 516, GLOBAL_SECURITY),
    ("Cert Publishers", 517, DOMAIN_LOCAL_SECURITY),
    ("Schema Admins", 518, UNIVERSAL_SECURITY),
    ("Enterprise Admins", 519, UNIVERSAL_SECURITY),
    ("Group Policy Creator Owners", 520, GLOBAL_SECURITY),
    ("Read-only Domain Controllers", 521, GLOBAL_SECURITY),
    ("Protected Users", 525, GLOBAL_SECURITY),
)


@dataclass(frozen=True, slots=True)
class OuLayout:
    """Where populated users go: ``OU=<root>`` with one sub-OU per department."""

    root: str = "Staff"
    departments: tuple[str, ...] = ("Sales", "Engineering", "Finance", "HR", "IT", "Marketing", "Support")


DEFAULT_LAYOUT = OuLayout()


def provision(
    *,
    domain: str = "contoso.com",
    netbios: str | None = None,
    dc_name: str = "DC01",
    clock: SimClock | None = None,
    seed: int = 0,
    users: int = 0,
    admin_password: str = DEFAULT_ADMIN_PASSWORD,
    user_password: str = DEFAULT_USER_PASSWORD,
    ou_layout: OuLayout = DEFAULT_LAYOUT,
    oplog: OperationLog | None = None,
    connector_account: bool = True,
    connector_rights: str = "express",
    policy: dict[str, str] | None = None,
    population_started: Callable[[DomainController], None] | None = None,
    bare: bool = False,
) -> DomainController:
    """Build a domain controller for ``domain`` with ``users`` seeded users (see module docstring).

    ``connector_rights``: ``"express"`` grants the Express installation's rights (FACTS.md 8.1);
    ``"none"`` leaves a custom-install account that is a plain user (the tutorial then grants
    the writeback rights by hand). ``policy`` overrides domain policy attributes
    (e.g. ``{"minPwdAge": "0"}``). ``population_started(dc)``, with ``users``, runs once before
    the first user is made, while the population's helper process starts (see
    :func:`fakes.ad.population.populate`): a lab serves its DC then.

    ``bare=True`` makes the controller (schema, names, SID, counters, SDProp) without a single
    entry: a lab loaded from its image installs the image's directory in it (``simlab.image``).
    """
    if connector_rights not in ("express", "none"):
        raise ValueError(f"connector_rights must be 'express' or 'none', not {connector_rights!r}")
    clock = clock or SimClock()
    rng = random.Random(seed)
    labels = domain.lower().split(".")
    domain_dn = ",".join(f"DC={p}" for p in labels)
    netbios = (netbios or labels[0]).upper()[:15]
    domain_sid = "S-1-5-21-" + "-".join(str(rng.randint(1_000_000_000, 4_000_000_000)) for _ in range(3))
    schema = default_schema()
    dc = DomainController(
        directory=Directory(schema, guid_factory=lambda: dc.new_guid()),
        schema=schema,
        domain_dn=domain_dn,
        domain_sid=domain_sid,
        netbios_name=netbios,
        dns_domain=domain.lower(),
        dc_name=dc_name,
        clock=clock,
        oplog=oplog,
        rng=rng,
    )
    # The cyclic GC rescans the whole growing heap during bulk creation (superlinear build time);
    # entries are long-lived and acyclic garbage is freed by refcounting anyway, so pause it while building.
    if bare:
        dc.sdprop = SDProp(dc)
        return dc
    with gc_paused():
        rights = connector_rights if connector_account else None
        started = (lambda: population_started(dc)) if population_started is not None else None
        _build(dc, admin_password, user_password, policy or {}, rights, users, ou_layout, started)
    dc.directory.written.clear()  # a new domain: nothing has changed since its objects were made
    return dc


def _build(
    dc: DomainController,
    admin_password: str,
    user_password: str,
    policy: dict[str, str],
    connector_rights: str | None,
    users: int,
    ou_layout: OuLayout,
    started: Callable[[], None] | None = None,
) -> None:
    rng = dc.rng
    with dc.lock:
        _infrastructure(dc, admin_password, policy)
        build_config_nc(dc)
        if connector_rights is not None:
            _connector(dc, express=connector_rights == "express")
        dc.sdprop = SDProp(dc)
        if users:
            from fakes.ad.population import populate

            populate(dc, users, layout=ou_layout, password=user_password, rng=rng, started=started)
        dc.sdprop.run()


def _sid(dc: DomainController, rid: int) -> bytes:
    return sid_to_bytes(make_sid(dc.domain_sid, rid))


def _group(
    dc: DomainController, parent: Entry, name: str, sid: bytes, group_type: str, **extra: list
) -> Entry:
    attrs = {
        "cn": [name],
        "samaccountname": [name],
        "grouptype": [group_type],
        "iscriticalsystemobject": ["TRUE"],
        **extra,
    }
    return create_entry(dc, parent, f"CN={name}", attrs, "group", sid=sid)


def _user(
    dc: DomainController,
    parent: Entry,
    name: str,
    rid: int,
    uac: int,
    password: str | None,
    primary: int = 513,
) -> Entry:
    attrs = {
        "cn": [name],
        "samaccountname": [name],
        "useraccountcontrol": [str(uac)],
        "primarygroupid": [str(primary)],
        "accountexpires": [str(passwords.NEVER)],
        "badpwdcount": ["0"],
        "lockouttime": ["0"],
        "pwdlastset": [str(dc.clock.filetime()) if password else "0"],
    }
    if rid in (500, 501, 502):
        attrs["iscriticalsystemobject"] = ["TRUE"]
    entry = create_entry(dc, parent, f"CN={name}", attrs, "user", sid=_sid(dc, rid))
    if password is not None:
        digest = passwords.password_digest(password)
        dc.directory.set_values(entry, "unicodepwd", [digest])
        dc.directory.set_values(entry, "ntpwdhistory", [digest])
    return entry


def _dc_spns(name: str, fqdn: str, domain: str) -> list[str]:
    """The SPNs a DC's computer account registers (the ones tools and Kerberos clients look up)."""
    return [f"ldap/{fqdn}/{domain}", f"ldap/{fqdn}", f"ldap/{name}", f"ldap/{fqdn}/{name}",
            f"GC/{fqdn}/{domain}", f"HOST/{fqdn}/{domain}", f"HOST/{fqdn}", f"HOST/{name}",
            f"HOST/{fqdn}/{name}", f"RestrictedKrbHost/{fqdn}", f"RestrictedKrbHost/{name}",
            f"DNS/{fqdn}", f"Dfsr-12F9A27C-BF97-4787-9364-D31B6C55EB04/{fqdn}"]


def _add_member(dc: DomainController, group: Entry, member: Entry) -> None:
    dc.directory.set_values(group, "member", [*group.attrs.get("member", ()), member.dn])


def _infrastructure(dc: DomainController, admin_password: str, policy: dict[str, str]) -> None:
    root_attrs = {
        "dc": [dc.domain_dn.split(",")[0][3:]],
        **{k.lower(): [v] for k, v in passwords.DEFAULT_POLICY_ATTRS.items()},
    }
    root_attrs.update({k.lower(): [v] for k, v in policy.items()})
    root_attrs.update(
        {"msds-behavior-version": ["7"], "ntmixeddomain": ["0"], "systemflags": ["-1946157056"],
         # Windows' default: any authenticated user may join 10 computers (tools report it).
         "ms-ds-machineaccountquota": ["10"],
         # IT_NC_HEAD | IT_WRITE (MS-ADTS 2.2.26): the head of a writable naming context, as every
         # DC's domain NC root (DirSync searches need one as their base).
         "instancetype": ["5"]}
    )
    root_attrs = {k: v for k, v in root_attrs.items() if dc.schema.find_attribute(k) is not None}
    root = create_entry(
        dc,
        None,
        dc.domain_dn,
        root_attrs,
        "domainDNS",
        explicit_sd=dc.sds.from_sddl(ROOT_SDDL),
        sid=sid_to_bytes(dc.domain_sid),
    )
    users = create_entry(
        dc,
        root,
        "CN=Users",
        {"cn": ["Users"], "description": ["Default container for upgraded user accounts"]},
        "container",
    )
    create_entry(
        dc,
        root,
        "CN=Computers",
        {"cn": ["Computers"], "description": ["Default container for upgraded computer accounts"]},
        "container",
    )
    dcs = create_entry(
        dc,
        root,
        "OU=Domain Controllers",
        {"ou": ["Domain Controllers"], "description": ["Default container for domain controllers"]},
        "organizationalUnit",
    )
    system = create_entry(
        dc, root, "CN=System", {"cn": ["System"], "description": ["Builtin system settings"]}, "container"
    )
    create_entry(
        dc,
        system,
        "CN=AdminSDHolder",
        {"cn": ["AdminSDHolder"]},
        "container",
        explicit_sd=dc.sds.from_sddl(ADMINSDHOLDER_SDDL),
    )
    add_default_gpos(dc, root, system, dcs)
    builtin = create_entry(
        dc, root, "CN=Builtin", {"cn": ["Builtin"]}, "builtinDomain", sid=sid_to_bytes("S-1-5-32")
    )
    groups: dict[int, Entry] = {}
    for name, rid in BUILTIN_GROUPS:
        groups[rid] = _group(dc, builtin, name, sid_to_bytes(f"S-1-5-32-{rid}"), BUILTIN_LOCAL_SECURITY)
    for name, rid, gtype in DOMAIN_GROUPS:
        groups[rid] = _group(dc, users, name, _sid(dc, rid), gtype)
    admin = _user(dc, users, "Administrator", 500, 0x10200, admin_password)
    guest = _user(dc, users, "Guest", 501, 0x10222, None, primary=514)
    krbtgt = _user(dc, users, "krbtgt", 502, 0x202, None)
    dc.directory.set_values(krbtgt, "serviceprincipalname", ["kadmin/changepw"])
    dcname = dc.dc_name.upper()
    create_entry(
        dc,
        dcs,
        f"CN={dcname}",
        {
            "cn": [dcname],
            "samaccountname": [f"{dcname}$"],
            "useraccountcontrol": ["532480"],
            "primarygroupid": ["516"],
            "dnshostname": [dc.dns_host_name],
            # What GetADComputers/ldapdomaindump/bloodhound read from a DC's account.
            "operatingsystem": ["Windows Server 2022 Standard"],
            "operatingsystemversion": ["10.0 (20348)"],
            "msds-supportedencryptiontypes": ["28"],
            "serviceprincipalname": _dc_spns(dcname, dc.dns_host_name, dc.dns_domain),
        },
        "computer",
        sid=_sid(dc, 1000),
    )
    for rid in (512, 518, 519, 520):
        _add_member(dc, groups[rid], admin)
    for member in (admin, groups[512], groups[519]):
        _add_member(dc, groups[544], member)
    _add_member(dc, groups[545], groups[513])
    _add_member(dc, groups[546], guest)
    _add_member(dc, groups[546], groups[514])
    # Well-known principals appear in group membership as foreignSecurityPrincipal objects. Since
    # Windows Server 2003, Authenticated Users is in Pre-Windows 2000 Compatible Access (which can
    # read users: the root's (OA;CIIO;RPLCLORC;;<user>;RU) ACE) and, with Interactive, in Users.
    fsps = create_entry(
        dc,
        root,
        "CN=ForeignSecurityPrincipals",
        {"cn": ["ForeignSecurityPrincipals"], "description": ["Default container for security identifiers "
                                                              "(SIDs) associated with objects from external, "
                                                              "trusted domains"]},
        "container",
    )
    for sid, member_of in (("S-1-5-11", (545, 554)), ("S-1-5-4", (545,)), ("S-1-5-9", ())):
        fsp = create_entry(dc, fsps, f"CN={sid}", {"cn": [sid]}, "foreignSecurityPrincipal",
                           sid=sid_to_bytes(sid))
        for rid in member_of:
            _add_member(dc, groups[rid], fsp)
    # MS-ADTS 6.1.1.4: the domain head names its well-known containers by GUID; tools find the
    # computers container this way (bloodyAD's "add computer").
    dc.directory.set_values(root, "wellknownobjects",
                            [f"B:32:{guid}:{rdn},{dc.domain_dn}" for guid, rdn in WELL_KNOWN_CONTAINERS])
    dc.admin_dn = admin.dn
    dc.admin_password = admin_password


# (GUID_*_CONTAINER_W from ntdsapi.h, as Samba's provision writes them, the containers the lab has).
WELL_KNOWN_CONTAINERS = (
    ("22B70C67D56E4EFB91E9300FCA3DC1AA", "CN=ForeignSecurityPrincipals"),
    ("AB1D30F3768811D1ADED00C04FD8D5CD", "CN=System"),
    ("A361B2FFFFD211D1AA4B00C04FD7D83A", "OU=Domain Controllers"),
    ("AA312825768811D1ADED00C04FD8D5CD", "CN=Computers"),
    ("A9D1CA15768811D1ADED00C04FD8D5CD", "CN=Users"),
)


def _connector(dc: DomainController, *, express: bool) -> None:
    """The Express connector account and its rights on the domain root (FACTS.md 8.1)."""
    users = dc.directory.get(f"CN=Users,{dc.domain_dn}")
    assert users is not None
    name = f"MSOL_{dc.rng.getrandbits(48):012x}"
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%+-=?"
    password = "".join(dc.rng.choice(alphabet) for _ in range(60)) + "aA1!"
    rid = dc.next_rid
    dc.next_rid += 1
    entry = _user(dc, users, name, rid, 0x10200, password)
    dc.directory.set_values(
        entry,
        "description",
        [
            "Account created by Microsoft Azure Active Directory Connect with installation identifier "
            f"{dc.new_guid().hex} running on computer {dc.dc_name} configured to synchronize to tenant "
            "contoso.onmicrosoft.com. This account must have directory replication permissions in the "
            "local Active Directory and write permission on certain attributes to enable Hybrid Deployment."
        ],
    )
    sid = make_sid(dc.domain_sid, rid)
    guid = {c: dc.class_guid(c) for c in ("user", "inetOrgPerson", "group", "contact")}
    aces = [
        Ace(
            K.ACCESS_ALLOWED_OBJECT_ACE_TYPE,
            0,
            K.RIGHT_DS_CONTROL_ACCESS,
            sid,
            _uuid("1131f6aa-9c07-11d1-f79f-00c04fc2dcd2"),
        ),
        Ace(
            K.ACCESS_ALLOWED_OBJECT_ACE_TYPE,
            0,
            K.RIGHT_DS_CONTROL_ACCESS,
            sid,
            _uuid("1131f6ad-9c07-11d1-f79f-00c04fc2dcd2"),
        ),
        *(
            Ace(
                K.ACCESS_ALLOWED_OBJECT_ACE_TYPE,
                K.CONTAINER_INHERIT_ACE | K.INHERIT_ONLY_ACE,
                K.RIGHT_DS_READ_PROPERTY | K.RIGHT_DS_WRITE_PROPERTY,
                sid,
                None,
                g,
            )
            for g in guid.values()
        ),
        Ace(
            K.ACCESS_ALLOWED_OBJECT_ACE_TYPE,
            K.CONTAINER_INHERIT_ACE | K.INHERIT_ONLY_ACE,
            K.RIGHT_DS_CONTROL_ACCESS,
            sid,
            _uuid("00299570-246d-11d0-a768-00aa006e0529"),
            guid["user"],
        ),
    ]
    if express:
        grant_on(dc, dc.domain_dn, aces)
    dc.connector_dn = entry.dn
    dc.connector_password = password


def grant_on(dc: DomainController, dn: str, aces: list[Ace]) -> None:
    """Append explicit ACEs to an object's DACL as SYSTEM and re-propagate (provisioning/labs helper)."""
    entry = dc.directory.get(dn)
    if entry is None:
        raise KeyError(dn)
    sd = dc.sds.parse(entry.sd)
    explicit = tuple(a for a in (sd.dacl.aces if sd.dacl else ()) if not a.inherited)
    new = replace(sd, dacl=Acl(explicit + tuple(aces)))
    parent = entry.parent.sd if entry.parent is not None else None
    entry.sd = dc.sds.compute(parent, new, dc.class_guid(entry.object_class))
    dc._propagate_now(entry)


def _uuid(text: str):
    from uuid import UUID

    return UUID(text)
