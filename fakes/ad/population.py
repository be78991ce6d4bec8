"""Seeded user population: N users in an OU tree with departmental groups and a few special cases.

Names come from Faker's en_US name lists drawn with the lab's seeded ``random.Random``
(calling Faker per user would dominate a 100k build). Every user shares one password
(``provision.DEFAULT_USER_PASSWORD`` unless overridden), so one digest object serves all.
Special cases, chosen deterministically from the seed: ~1% disabled, ~0.5% locked out,
~2% with an expired password, and two IT admins: one in Domain Admins, one in Account
Operators (both protected by AdminSDHolder after SDProp runs).

What is drawn for each user is a row of :func:`_rows`; a big population draws its rows in a
forked helper process while this one creates the users (:func:`_rows_from_helper`), with the
same result and the same RNG state after.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from functools import cache
from typing import TYPE_CHECKING

from fakes import forked
from fakes.ad import passwords
from fakes.ad.dc_write import BulkCreator, create_entry
from fakes.ad.dn import rdn_with_key
from fakes.ad.guid import random_uuid4

if TYPE_CHECKING:
    from fakes.ad.dc import DomainController
    from fakes.ad.directory import Entry
    from fakes.ad.provision import OuLayout

_DAY = 86_400 * 10_000_000


def populate(
    dc: DomainController, count: int, *, layout: OuLayout, password: str, rng: random.Random,
    started: Callable[[], None] | None = None,
) -> list[Entry]:
    """Create ``count`` users under ``OU=<layout.root>``; returns them in creation order.

    ``started()``, if given, runs once before the first user is made: when a helper process
    draws the rows, while it starts (it loads Faker's name lists then, about 50 ms), so the
    caller's own work there (a lab serves its DC) costs no time."""
    root = dc.root()
    staff = create_entry(dc, root, f"OU={layout.root}", {"ou": [layout.root]}, "organizationalUnit")
    ous = [
        create_entry(
            dc, staff, f"OU={d}", {"ou": [d], "description": [f"{d} department"]}, "organizationalUnit"
        )
        for d in layout.departments
    ]
    makers = [BulkCreator(dc, ou, "user") for ou in ous]
    digest = passwords.password_digest(password)
    now = dc.clock.filetime()
    max_age = dc.policy().max_age or 42 * _DAY
    members: list[list[str]] = [[] for _ in ous]
    created: list[Entry] = []
    domain = dc.dns_domain
    # Value lists common to many users are shared (the store never mutates value lists in place).
    never, group_513, secret = [str(passwords.NEVER)], ["513"], [digest]
    departments = [[dept] for dept in layout.departments]
    common: dict[str, list[str]] = {}

    def shared(value: str) -> list[str]:
        found = common.get(value)
        if found is None:
            found = common[value] = [value]
        return found

    known = common.get  # the hit, inline: seven lookups per user, nearly all hits
    rows = _rows(rng, count, len(ous), now, max_age)
    if _helper_wanted(count):
        rows = _rows_from_helper(rows, rng, started)
    elif started is not None:
        started()
    for d, first, last, sam, cn, rdn, rdn_key, title, uac, pls, lockout, bad, guid in rows:
        upn = f"{sam}@{domain}"
        # Lists and strings that repeat across users (first/last names, titles, pwdLastSet days)
        # are shared (one list each: the store never mutates a value list in place), and the
        # display name is the cn list when they match: about 40 MiB less at 100k users.
        cn_list = [cn]
        display = f"{first} {last}"
        attrs = {
            "cn": cn_list,
            "givenname": known(first) or shared(first),
            "sn": known(last) or shared(last),
            "displayname": cn_list if display == cn else [display],
            "samaccountname": [sam],
            "userprincipalname": [upn],
            "mail": [upn],
            "department": departments[d],
            "title": known(title) or shared(title),
            "useraccountcontrol": known(uac) or shared(uac),
            "pwdlastset": known(pls) or shared(pls),
            "primarygroupid": group_513,
            "accountexpires": never,
            "badpwdcount": known(bad) or shared(bad),
            "lockouttime": known(lockout) or shared(lockout),
            "unicodepwd": secret,
            "ntpwdhistory": secret,
        }
        entry = makers[d].create(rdn, attrs, rdn_key=rdn_key, guid=random_uuid4(int.from_bytes(guid)))
        members[d].append(entry.dn)
        created.append(entry)
    for ou, dept, dns in zip(ous, layout.departments, members):
        create_entry(
            dc,
            ou,
            f"CN=GG-{dept}",
            {
                "cn": [f"GG-{dept}"],
                "samaccountname": [f"GG-{dept}"],
                "grouptype": ["-2147483646"],
                "member": dns,
            },
            "group",
        )
    _admins(dc, created, layout)
    return created


def _rows(rng: random.Random, count: int, ous: int, now: int, max_age: int) -> Iterator[list]:
    """Each user's drawn values, in creation order: ``[department number, first name, last name,
    sAMAccountName, cn, its RDN and normalized RDN, title, userAccountControl, pwdLastSet,
    lockoutTime, badPwdCount, the 16 bytes of its objectGUID]``.

    Every draw from ``rng`` happens here, in the order the lab has always made them (two names,
    the special-case roll, the password age, the title, then the GUID the DC would draw while
    creating the user), so the population and ``rng``'s final state are the same whether the
    rows are made here or in the helper process (:func:`_rows_from_helper`).
    """
    firsts, lasts, jobs = _names()
    used_sam: set[str] = set()
    next_n: dict[str, int] = {}
    used_cn: set[tuple[int, str]] = set()
    locked_at = str(now - 60 * 10_000_000)
    days = max_age // _DAY - 2
    for i in range(count):
        first, last = rng.choice(firsts), rng.choice(lasts)
        d = i % ous
        base = f"{first[0]}{last}".lower()[:17]
        # base, base2, base3, ...: the first unused. Everything below next_n[base] was taken when
        # we last looked and names are never freed, so start there: popular initials+surnames
        # would otherwise rescan a growing chain at 100k users.
        n = next_n.get(base, 1)
        sam = base if n == 1 else f"{base}{n}"
        while sam in used_sam:
            n += 1
            sam = f"{base}{n}"
        next_n[base] = n + 1
        used_sam.add(sam)
        cn = f"{first} {last}"
        if (d, cn.lower()) in used_cn:
            cn = f"{first} {last} ({sam})"
        used_cn.add((d, cn.lower()))
        roll = rng.random()
        uac, pls, lockout, bad = "512", now - rng.randrange(1, days) * _DAY, "0", "0"
        if roll < 0.01:
            uac = "514"
        elif roll < 0.015:
            lockout, bad = locked_at, "5"
        elif roll < 0.035:
            pls = now - max_age - rng.randrange(1, 30) * _DAY
        title = rng.choice(jobs)[:64]
        yield [d, first, last, sam, cn, *rdn_with_key("CN", cn), title, uac, str(pls), lockout, bad,
               rng.getrandbits(128).to_bytes(16)]


#: A population this big draws its rows in a helper process (see :func:`_helper_wanted`).
HELPER_MIN_USERS = 10_000


def _helper_wanted(count: int) -> bool:
    """``SIMLAB_POPULATION_HELPER`` (``0``/``1``) if set, else: big enough, and forking pays here."""
    return forked.usable_or_forced("SIMLAB_POPULATION_HELPER", count >= HELPER_MIN_USERS)


def _rows_from_helper(rows: Iterator[list], rng: random.Random,
                      started: Callable[[], None] | None = None) -> Iterator[list]:
    """``rows`` made in a forked child while this process creates the users from them (the
    draws are a quarter of a big population's build; the two cores share the work). ``rng``
    ends in the state the child's copy ended in, as if the rows had been drawn here.
    ``started()`` runs once the child is forked (see :func:`populate`)."""
    try:
        state = yield from forked.forked_items(lambda: rows, lambda: _state_out(rng),
                                               "drawing the population", started)
    except OSError:  # no process to spare: draw them here
        if started is not None:
            started()
        yield from rows
        return
    rng.setstate(_state_in(state))


def _state_out(rng: random.Random) -> list:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _state_in(state: list) -> tuple:
    version, internal, gauss = state
    return version, tuple(internal), gauss


@cache
def _names() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Faker's en_US first names, last names and job titles (read once per process). Imported
    here: drawing a big population's rows runs in a helper process, which then loads Faker
    itself while this one goes on (:func:`populate`)."""
    from faker.providers.job.en_US import Provider as JobProvider
    from faker.providers.person.en_US import Provider as PersonProvider

    return tuple(PersonProvider.first_names), tuple(PersonProvider.last_names), tuple(JobProvider.jobs)


def _admins(dc: DomainController, created: list[Entry], layout: OuLayout) -> None:
    """Put the first two IT users into Domain Admins and Account Operators (protected groups)."""
    if "IT" not in layout.departments:
        return
    # Users were dealt round-robin to the departments, so IT's are every len(departments)-th one.
    step = len(layout.departments)
    it = [
        e
        for e in created[layout.departments.index("IT") :: step]
        if e.attrs.get("department") == ["IT"]
        and e.attrs["useraccountcontrol"] == ["512"]
        and e.attrs["lockouttime"] == ["0"]
    ]
    targets = [f"CN=Domain Admins,CN=Users,{dc.domain_dn}", "S-1-5-32-548"]
    for user, group_ref in zip(it[:2], targets):
        group = dc.directory.get(group_ref) if group_ref.startswith("CN=") else dc.directory.by_sid(group_ref)
        if group is not None:
            dc.directory.set_values(group, "member", [*group.attrs.get("member", ()), user.dn])
