"""The tutorial's writeback permissions, granted as its ADUC steps do, and each documented failure.

The connector account (MSOL_...) gets, on the domain root, via an nTSecurityDescriptor modify
by a Domain Admin with the SD flags control (DACL only) — FACTS.md 5.4:
Reset password / Write lockoutTime / Write pwdLastSet on "Descendant User objects",
Unexpire Password on "This object and all descendant objects" (Change password too).
Then reset, change, pwdLastSet=0/-1 and lockoutTime=0 succeed for a normal user, and fail with
the exact Windows code and text when one piece is missing, when inheritance is disabled on the
user or its OU, when the user is protected by AdminSDHolder after SDProp, and with minPwdAge > 0
under policy hints.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from fakes.ad import controls as ctl
from fakes.ad import errors, passwords
from fakes.ad.api import Change, Control, LdapError, ModOp, Scope
from fakes.ad.dc import DomainController
from fakes.ad.provision import provision
from fakes.ad.security import constants as K
from fakes.ad.security.descriptor import Acl, SecurityDescriptor

RESET = "00299570-246d-11d0-a768-00aa006e0529"
CHANGE = "ab721a53-1e2f-11d0-9819-00aa0040529b"
UNEXPIRE = "ccc2dc7d-a6ad-4a7a-8846-c04e3cc53501"
LOCKOUT_TIME = "28630ebf-41d5-11d1-a9c1-0000f80367c1"
PWD_LAST_SET = "bf967a0a-0de6-11d0-a285-00aa003049e2"
USER = "bf967aba-0de6-11d0-a285-00aa003049e2"
TUTORIAL = {
    "reset": f"(OA;CIIO;CR;{RESET};{USER};{{sid}})",
    "lockout": f"(OA;CIIO;WP;{LOCKOUT_TIME};{USER};{{sid}})",
    "pwdlastset": f"(OA;CIIO;WP;{PWD_LAST_SET};{USER};{{sid}})",
    "unexpire": f"(OA;CI;CR;{UNEXPIRE};;{{sid}})",
    "change": f"(OA;CIIO;CR;{CHANGE};{USER};{{sid}})",
}
SD_DACL = Control(ctl.SD_FLAGS, True, ctl.encode_sd_flags(K.DACL_SECURITY_INFORMATION))
HINTS = Control(ctl.POLICY_HINTS, False, ctl.encode_policy_hints(1))
NEW = "Spring2026!Reset"


def pwd(value: str) -> bytes:
    return passwords.encode_unicode_pwd(value)


def read_sd(dc: DomainController, session, dn: str) -> SecurityDescriptor:
    r = dc.search(session, dn, Scope.BASE, "(objectClass=*)", ["nTSecurityDescriptor"], controls=[SD_DACL])
    return SecurityDescriptor.from_bytes(r.entries[0].get("nTSecurityDescriptor")[0])


def write_dacl(dc: DomainController, session, dn: str, sd: SecurityDescriptor) -> None:
    change = Change(ModOp.REPLACE, "nTSecurityDescriptor", (sd.to_bytes(),))
    dc.modify(session, dn, [change], controls=[SD_DACL])


def grant(dc: DomainController, admin, dn: str, sddl_aces: list[str]) -> None:
    """Add ACEs (SDDL) to ``dn``'s DACL the way ADUC does: read DACL, append, write back."""
    current = read_sd(dc, admin, dn)
    extra = SecurityDescriptor.from_sddl("D:" + "".join(sddl_aces), dc.domain_sid).dacl
    explicit = tuple(a for a in current.dacl.aces if not a.inherited)
    write_dacl(dc, admin, dn, replace(current, dacl=Acl(explicit + extra.aces)))


def remove_aces(dc: DomainController, admin, dn: str, predicate) -> None:
    current = read_sd(dc, admin, dn)
    keep = tuple(a for a in current.dacl.aces if not a.inherited and not predicate(a))
    write_dacl(dc, admin, dn, replace(current, dacl=Acl(keep)))


class Lab:
    def __init__(self, pieces: tuple[str, ...] = tuple(TUTORIAL), **kw) -> None:
        # A custom-install connector account (no Express rights): the tutorial's ADUC steps grant them.
        self.dc = provision(users=40, seed=7, connector_rights="none", **kw)
        self.admin = self.dc.admin_session()
        self.msol_sid = self.dc.sid_of(self.dc.get_entry(self.dc.connector_dn))
        grant(self.dc, self.admin, self.dc.domain_dn, [TUTORIAL[p].format(sid=self.msol_sid) for p in pieces])
        self.msol = self.dc.bind_session(self.dc.connector_dn, self.dc.connector_password)
        r = self.dc.search(
            self.admin,
            f"OU=Sales,OU=Staff,{self.dc.domain_dn}",
            Scope.ONELEVEL,
            "(&(objectClass=user)(userAccountControl=512)(lockoutTime=0))",
            ["pwdLastSet"],
        )
        fresh = [
            e for e in r.entries if int(e.first("pwdLastSet")) < self.dc.clock.filetime() - 2 * 864 * 10**9
        ]
        self.user = fresh[0].dn
        self.user2 = fresh[1].dn

    def reset(self, dn: str | None = None, value: str = NEW, controls=(HINTS,)):
        return self.dc.modify(
            self.msol,
            dn or self.user,
            [Change(ModOp.REPLACE, "unicodePwd", (pwd(value),))],
            controls=list(controls),
        )

    def change(self, dn: str, old: str, new: str):
        return self.dc.modify(
            self.msol,
            dn,
            [Change(ModOp.DELETE, "unicodePwd", (pwd(old),)), Change(ModOp.ADD, "unicodePwd", (pwd(new),))],
            controls=[HINTS],
        )

    def write(self, attr: str, value: str, dn: str | None = None):
        return self.dc.modify(self.msol, dn or self.user, [Change(ModOp.REPLACE, attr, (value,))])


@pytest.fixture(scope="module")
def healthy() -> Lab:
    return Lab()


def expect(code: int, text: str, fn, *args, **kw) -> None:
    with pytest.raises(LdapError) as info:
        fn(*args, **kw)
    assert info.value.code == code
    assert errors.canonical(info.value.message) == text


def test_tutorial_aces_land_on_root_and_inherit_to_user(healthy: Lab) -> None:
    dc = healthy.dc
    root = dc.sds.parse(dc.get_entry(dc.domain_dn).sd).to_sddl(dc.domain_sid)
    assert f"(OA;CIIO;CR;{RESET};{USER};" in root
    user = dc.sds.parse(dc.get_entry(healthy.user).sd).to_sddl(dc.domain_sid)
    assert f"(OA;CIID;CR;{RESET};{USER};{healthy.msol_sid})" in user


def test_healthy_reset_pwdlastset_lockout_and_change() -> None:
    lab = Lab()
    dc = lab.dc
    lab.reset()
    entry = dc.get_entry(lab.user)
    # MSOL holds Unexpire on the domain object, so pwdLastSet = now (MS-SAMR 3.1.1.8.7).
    assert entry.attrs["pwdlastset"] == [str(dc.clock.filetime())]
    dc.bind_session(lab.user, NEW)
    lab.write("pwdLastSet", "0")
    assert dc.get_entry(lab.user).attrs["pwdlastset"] == ["0"]
    lab.write("pwdLastSet", "-1")
    assert dc.get_entry(lab.user).attrs["pwdlastset"] == [str(dc.clock.filetime())]
    lab.write("lockoutTime", "0")
    lab.change(lab.user2, dc.policy and "Winter2026!Lab", "Summer2026!Change")
    dc.bind_session(lab.user2, "Summer2026!Change")
    events = [(e.event_id, e.level) for e in dc.security_log.query(log="Security")]
    assert (
        (4724, "Audit Success") in events
        and (4723, "Audit Success") in events
        and (4767, "Audit Success") in events
    )


@pytest.mark.parametrize(
    ("missing", "action", "code", "text"),
    [
        ("reset", "reset", 50, errors.ACCESS_DENIED),
        ("lockout", "lockout", 50, errors.INSUFF_ACCESS),
        ("pwdlastset", "pls0", 50, errors.INSUFF_ACCESS),
        ("pwdlastset", "pls-1", 50, errors.INSUFF_ACCESS),
    ],
)
def test_each_missing_piece_fails_exactly(missing: str, action: str, code: int, text: str) -> None:
    lab = Lab(tuple(p for p in TUTORIAL if p != missing))
    run = {
        "reset": lab.reset,
        "lockout": lambda: lab.write("lockoutTime", "0"),
        "pls0": lambda: lab.write("pwdLastSet", "0"),
        "pls-1": lambda: lab.write("pwdLastSet", "-1"),
    }[action]
    expect(code, text, run)
    if action == "reset":
        fails = [e for e in lab.dc.security_log.query(event_ids=[4724]) if e.level == "Audit Failure"]
        assert fails and fails[-1].data["SubjectUserName"].startswith("MSOL_")


def test_express_account_can_reset_without_tutorial_extras() -> None:
    dc = provision(users=10, seed=3)
    msol = dc.bind_session(dc.connector_dn, dc.connector_password)
    user = (
        dc.search(
            msol,
            f"OU=Staff,{dc.domain_dn}",
            Scope.SUBTREE,
            "(&(objectClass=user)(userAccountControl=512))",
            ["1.1"],
        )
        .entries[0]
        .dn
    )
    dc.modify(msol, user, [Change(ModOp.REPLACE, "unicodePwd", (pwd(NEW),))])
    dc.modify(msol, user, [Change(ModOp.REPLACE, "lockoutTime", ("0",))])  # Express: Write all properties


def test_missing_unexpire_everywhere() -> None:
    lab = Lab(tuple(p for p in TUTORIAL if p != "unexpire"))
    dc = lab.dc
    # With only the default (OA;;CR;Unexpire;;AU) on the root, MSOL still holds Unexpire: -1 works.
    lab.write("pwdLastSet", "-1")
    remove_aces(
        dc, lab.admin, dc.domain_dn, lambda a: a.object_type is not None and str(a.object_type) == UNEXPIRE
    )
    expect(50, errors.ACCESS_DENIED, lab.write, "pwdLastSet", "-1")
    lab.write("pwdLastSet", "0")  # 0 needs only WP
    lab.reset()
    # A reset by a requester without Unexpire on the domain object leaves the password expired.
    assert dc.get_entry(lab.user).attrs["pwdlastset"] == ["0"]


def test_change_without_change_right_is_19() -> None:
    lab = Lab()
    dc = lab.dc
    # Deny Change Password for Everyone on the user (the "user cannot change password" checkbox).
    grant(dc, lab.admin, lab.user2, [f"(OD;;CR;{CHANGE};;WD)"])
    expect(19, errors.CHANGE_DENIED, lab.change, lab.user2, "Winter2026!Lab", "Summer2026!Change")


def test_inheritance_disabled_on_user() -> None:
    lab = Lab()
    dc = lab.dc
    sd = read_sd(dc, lab.admin, lab.user)
    # "Disable inheritance" and remove the inherited permissions (the tutorial tip's case).
    write_dacl(
        dc,
        lab.admin,
        lab.user,
        replace(
            sd,
            control=sd.control | K.SE_DACL_PROTECTED,
            dacl=Acl(tuple(a for a in sd.dacl.aces if not a.inherited)),
        ),
    )
    expect(50, errors.ACCESS_DENIED, lab.reset)
    expect(50, errors.INSUFF_ACCESS, lab.write, "lockoutTime", "0")
    lab.reset(lab.user2)  # a sibling is unaffected


def test_inheritance_disabled_on_ou_after_replication_delay() -> None:
    lab = Lab()
    dc = lab.dc
    dc.replication_delay = 15 * 60
    ou = f"OU=Sales,OU=Staff,{dc.domain_dn}"
    sd = read_sd(dc, lab.admin, ou)
    write_dacl(
        dc,
        lab.admin,
        ou,
        replace(
            sd,
            control=sd.control | K.SE_DACL_PROTECTED,
            dacl=Acl(tuple(a for a in sd.dacl.aces if not a.inherited)),
        ),
    )
    lab.reset()  # not replicated to the children yet
    dc.clock.advance(minutes=16)
    expect(50, errors.ACCESS_DENIED, lab.reset, lab.user2)


def test_protected_user_after_sdprop() -> None:
    lab = Lab()
    dc = lab.dc
    da = f"CN=Domain Admins,CN=Users,{dc.domain_dn}"
    dc.modify(lab.admin, da, [Change(ModOp.ADD, "member", (lab.user,))])
    lab.reset()  # SDProp has not run yet
    dc.clock.advance(minutes=60)
    assert dc.get_entry(lab.user).attrs["admincount"] == ["1"]
    expect(50, errors.ACCESS_DENIED, lab.reset, value="Autumn2026!Reset")
    # Change still works for the user themselves (Everyone/SELF keep Change Password on AdminSDHolder).
    dc.clock.advance(days=2)
    user = dc.bind_session(lab.user, NEW)
    dc.modify(
        user,
        lab.user,
        [
            Change(ModOp.DELETE, "unicodePwd", (pwd(NEW),)),
            Change(ModOp.ADD, "unicodePwd", (pwd("Winter2027!Own"),)),
        ],
    )


def test_min_password_age_with_policy_hints() -> None:
    lab = Lab()
    dc = lab.dc
    lab.reset()
    # Second reset the same day: with hints it hits minPwdAge (53); without hints it goes through.
    expect(53, errors.POLICY_RESET, lab.reset, value="Another2026!Pw")
    lab.reset(value="Another2026!Pw", controls=())
    # History under hints (after the min age has passed).
    dc.clock.advance(days=2)
    expect(53, errors.POLICY_RESET, lab.reset, value=NEW)
    # minPwdAge = 0 (the tutorial's advice) lets hinted resets through again.
    dc.modify(lab.admin, dc.domain_dn, [Change(ModOp.REPLACE, "minPwdAge", ("0",))])
    lab.reset(value="Third2026!Pw")
    lab.reset(value="Fourth2026!Pw")


def test_bind_lockout_and_unlock_via_lockout_time() -> None:
    lab = Lab()
    dc = lab.dc
    dc.modify(lab.admin, dc.domain_dn, [Change(ModOp.REPLACE, "lockoutThreshold", ("3",))])
    for _ in range(3):
        expect(49, errors.BIND_TEMPLATE.format(data="52e"), dc.bind_session, lab.user, "wrong")
    expect(49, errors.BIND_TEMPLATE.format(data="775"), dc.bind_session, lab.user, "Winter2026!Lab")
    assert dc.security_log.query(event_ids=[4740])
    r = dc.search(lab.admin, lab.user, Scope.BASE, "(objectClass=*)", ["msDS-User-Account-Control-Computed"])
    assert int(r.entries[0].first("msDS-User-Account-Control-Computed")) & passwords.UF_LOCKOUT
    lab.write("lockoutTime", "0")
    dc.bind_session(lab.user, "Winter2026!Lab")
    # Lockout also ends by itself after lockoutDuration (30 min) on the clock.
    for _ in range(3):
        expect(49, errors.BIND_TEMPLATE.format(data="52e"), dc.bind_session, lab.user, "wrong")
    dc.clock.advance(minutes=31)
    dc.bind_session(lab.user, "Winter2026!Lab")


def test_reset_over_plain_ldap_is_refused() -> None:
    lab = Lab()
    plain = lab.dc.bind_session(lab.dc.connector_dn, lab.dc.connector_password, encrypted=False)
    expect(
        53,
        errors.RESET_UNENCRYPTED,
        lab.dc.modify,
        plain,
        lab.user,
        [Change(ModOp.REPLACE, "unicodePwd", (pwd(NEW),))],
    )
