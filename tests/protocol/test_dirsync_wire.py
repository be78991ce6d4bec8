"""The DirSync control (MS-ADTS 3.1.1.3.4.1.3) over the wire: ldap3's dir_sync and ldapsearch -E dirSync.

Each test serves a freshly provisioned DC (changes made by one test would be another's delta).
"""

from __future__ import annotations

import base64
import os
import struct
import subprocess
from collections.abc import Iterator

import ldap3
import pytest
from ldap3.core.exceptions import LDAPExtensionError
from ldap3.protocol.microsoft import dir_sync_control

from fakes.ad import controls as ctl
from fakes.ad.ldap import DcEndpoints, serve_dc
from fakes.ad.provision import DEFAULT_USER_PASSWORD, provision

ASKED = ["sAMAccountName", "description", "displayName", "pwdLastSet", "name", "badPwdCount", "cn",
         "canonicalName"]
USERS = "(&(objectClass=user)(!(objectClass=computer)))"


@pytest.fixture
def lab(tmp_path) -> Iterator[tuple[object, DcEndpoints]]:
    dc = provision(users=12, seed=24)
    with serve_dc(dc, workdir=tmp_path) as ep:
        yield dc, ep


def _bind(ep: DcEndpoints, who: str, password: str) -> ldap3.Connection:
    conn = ldap3.Connection(ldap3.Server(ep.host, port=ep.ldap_port), who, password, auto_bind=True,
                            receive_timeout=10)
    return conn


def _admin(ep: DcEndpoints) -> ldap3.Connection:
    return _bind(ep, ep.admin_dn, ep.admin_password)


def _staff(dc) -> list:
    return [e for e in dc.directory.lookup("objectclass", "user") if ",OU=Staff," in e.dn]


def _all(sync) -> list[dict]:
    """Every entry of a DirSync run, following MoreResults."""
    found = []
    while True:
        found += sync.loop()
        if not sync.more_results:
            return found


def test_first_dirsync_returns_every_user_with_guid_instance_type_and_parent(lab) -> None:
    dc, ep = lab
    conn = _admin(ep)
    sync = conn.extend.microsoft.dir_sync(dc.domain_dn, sync_filter=USERS, attributes=ASKED)
    entries = _all(sync)
    users = {e.dn for e in dc.directory.lookup("objectclass", "user") if e.object_class == "user"}
    assert {e["dn"] for e in entries} == users
    alice = next(e for e in entries if e["dn"] in {u.dn for u in _staff(dc)})
    raw = alice["raw_attributes"]
    stored = dc.directory.get(alice["dn"])
    assert raw["objectGUID"] == [stored.guid.bytes_le]
    assert raw["instanceType"] == [b"4"]
    assert raw["parentGUID"] == [stored.parent.guid.bytes_le]  # returned with name
    assert raw["sAMAccountName"] == [stored.attrs["samaccountname"][0].encode()]
    assert raw["cn"] == [] and raw["badPwdCount"] == []  # the RDN attribute, a non-replicated one
    assert raw["canonicalName"] == []  # a constructed one (the schema says which)
    cookie = sync.cookie
    assert cookie[:4] == b"MSDS" and len(cookie) == 68
    assert struct.unpack_from("<q", cookie, 28)[0] == dc.usn  # everything up to now was seen
    assert sync.loop() == []  # nothing changed since


def test_a_delta_has_only_the_attributes_written_since(lab) -> None:
    dc, ep = lab
    conn = _admin(ep)
    sync = conn.extend.microsoft.dir_sync(dc.domain_dn, sync_filter=USERS, attributes=ASKED)
    _all(sync)
    target, other = _staff(dc)[:2]
    assert conn.modify(target.dn, {"description": [(ldap3.MODIFY_REPLACE, ["moved desk"])]})
    delta = sync.loop()
    assert [e["dn"] for e in delta] == [target.dn]
    got = {k: v for k, v in delta[0]["raw_attributes"].items() if v}
    assert got == {"description": [b"moved desk"], "objectGUID": [target.guid.bytes_le],
                   "instanceType": [b"4"]}
    # Removing it: the attribute comes back with no values; a bind (lastLogon, not replicated) is no change.
    assert conn.modify(target.dn, {"description": [(ldap3.MODIFY_DELETE, [])]})
    _bind(ep, other.dn, DEFAULT_USER_PASSWORD).unbind()
    delta = sync.loop()
    assert [e["dn"] for e in delta] == [target.dn]
    assert "description" in delta[0]["raw_attributes"] and not delta[0]["raw_attributes"]["description"]
    assert sync.loop() == []


def test_a_user_created_after_the_cookie_comes_whole(lab) -> None:
    dc, ep = lab
    conn = _admin(ep)
    sync = conn.extend.microsoft.dir_sync(dc.domain_dn, sync_filter=USERS, attributes=ASKED)
    _all(sync)
    ou = _staff(dc)[0].parent.dn
    dn = f"CN=Nina New,{ou}"
    assert conn.add(dn, ["top", "person", "organizationalPerson", "user"],
                    {"sAMAccountName": "nnew", "displayName": "Nina New", "description": "hired"})
    delta = sync.loop()
    assert [e["dn"] for e in delta] == [dn]
    raw = delta[0]["raw_attributes"]
    assert raw["sAMAccountName"] == [b"nnew"] and raw["description"] == [b"hired"]
    assert raw["name"] == [b"Nina New"] and raw["parentGUID"] == [dc.directory.get(ou).guid.bytes_le]


def test_a_password_reset_shows_as_pwd_last_set(lab) -> None:
    dc, ep = lab
    conn = _admin(ep)
    sync = conn.extend.microsoft.dir_sync(dc.domain_dn, sync_filter=USERS, attributes=ASKED)
    _all(sync)
    user = _staff(dc)[3]
    assert conn.modify(user.dn, {"pwdLastSet": [(ldap3.MODIFY_REPLACE, ["0"])]})
    delta = sync.loop()
    assert [(e["dn"], e["raw_attributes"]["pwdLastSet"]) for e in delta] == [(user.dn, [b"0"])]
    assert not delta[0]["raw_attributes"]["description"]


def test_a_lockout_is_a_change_and_the_wrong_passwords_before_it_are_not(lab) -> None:
    dc, ep = lab
    conn = _admin(ep)
    assert conn.modify(dc.domain_dn, {"lockoutThreshold": [(ldap3.MODIFY_REPLACE, ["2"])]})
    sync = conn.extend.microsoft.dir_sync(dc.domain_dn, sync_filter=USERS,
                                          attributes=["sAMAccountName", "lockoutTime", "badPwdCount"])
    _all(sync)
    user = _staff(dc)[5]

    def usn_changed() -> int:
        assert conn.search(user.dn, "(objectClass=*)", ldap3.BASE, attributes=["uSNChanged"])
        return int(conn.entries[0].uSNChanged.value)

    def bind(password: str) -> bool:
        return ldap3.Connection(ldap3.Server(ep.host, port=ep.ldap_port), user.dn, password,
                                receive_timeout=10).bind()

    before = usn_changed()
    assert not bind("Wrong-Passw0rd")  # badPwdCount 1: this DC's own count, not replicated
    assert sync.loop() == [] and usn_changed() == before
    assert not bind("Wrong-Passw0rd")  # the threshold: locked out, an originating write
    delta = sync.loop()
    assert [e["dn"] for e in delta] == [user.dn]
    raw = delta[0]["raw_attributes"]
    assert raw["lockoutTime"] == [str(dc.clock.filetime()).encode()] and not raw["badPwdCount"]
    assert usn_changed() > before
    # Once the lockout has elapsed, the next good logon clears lockoutTime: a change again.
    dc.clock.advance(minutes=31)
    assert bind(DEFAULT_USER_PASSWORD)
    assert [(e["dn"], e["raw_attributes"]["lockoutTime"]) for e in sync.loop()] == [(user.dn, [b"0"])]


def test_sdprop_protecting_a_user_is_one_change_with_admin_count(lab) -> None:
    dc, ep = lab
    conn = _admin(ep)
    sync = conn.extend.microsoft.dir_sync(dc.domain_dn, sync_filter=USERS,
                                          attributes=["sAMAccountName", "adminCount"])
    _all(sync)
    user = _staff(dc)[6]
    admins = f"CN=Domain Admins,CN=Users,{dc.domain_dn}"
    assert conn.modify(admins, {"member": [(ldap3.MODIFY_ADD, [user.dn])]})
    assert sync.loop() == []  # a group's member is the group's change; the user is not protected yet
    before = int(user.attrs["usnchanged"][0])
    dc.sdprop.run()  # the AdminSDHolder pass: the holder's SD and adminCount, one originating update
    delta = sync.loop()
    assert [(e["dn"], e["raw_attributes"]["adminCount"]) for e in delta] == [(user.dn, [b"1"])]
    now = int(user.attrs["usnchanged"][0])
    assert now > before  # both attributes carry the one update's USN
    assert dc.attr_stamps.changed_since(user, now - 1) == {"ntsecuritydescriptor", "admincount"}


def test_without_replicating_directory_changes_only_object_security_works(lab) -> None:
    dc, ep = lab
    user = _staff(dc)[0]
    conn = _bind(ep, user.dn, DEFAULT_USER_PASSWORD)
    with pytest.raises(LDAPExtensionError, match="insufficientAccessRights"):
        conn.extend.microsoft.dir_sync(dc.domain_dn, attributes=ASKED).loop()
    assert "INSUFF_ACCESS_RIGHTS" in conn.result["message"]
    own = _all(conn.extend.microsoft.dir_sync(dc.domain_dn, sync_filter=USERS, attributes=ASKED,
                                              object_security=True))
    assert user.dn in {e["dn"] for e in own}


@pytest.mark.parametrize("rights", ["express", "none"])
def test_the_connector_may_dirsync_with_the_express_rights_only(tmp_path, rights) -> None:
    dc = provision(users=3, seed=1, connector_rights=rights)
    with serve_dc(dc, workdir=tmp_path) as ep:
        conn = _bind(ep, dc.connector_dn, dc.connector_password)
        sync = conn.extend.microsoft.dir_sync(dc.domain_dn, sync_filter=USERS, attributes=ASKED)
        if rights == "express":  # Replicating Directory Changes (and All) on the domain root
            assert _all(sync)
        else:
            with pytest.raises(LDAPExtensionError, match="insufficientAccessRights"):
                sync.loop()


@pytest.mark.parametrize(("object_security", "code"), [(False, "insufficientAccessRights"),
                                                       (True, "unwillingToPerform")])
def test_a_base_below_the_naming_context_head_is_refused(lab, object_security, code) -> None:
    dc, ep = lab
    conn = _admin(ep)
    ou = _staff(dc)[0].parent.dn
    with pytest.raises(LDAPExtensionError, match=code):
        conn.extend.microsoft.dir_sync(ou, attributes=ASKED, object_security=object_security).loop()


def test_max_bytes_splits_the_answer_and_more_results_resumes(lab) -> None:
    dc, ep = lab
    conn = _admin(ep)
    whole = _all(conn.extend.microsoft.dir_sync(dc.domain_dn, sync_filter=USERS, attributes=ASKED))
    sync = conn.extend.microsoft.dir_sync(dc.domain_dn, sync_filter=USERS, attributes=ASKED, max_length=300)
    first = sync.loop()
    assert sync.more_results and 0 < len(first) < len(whole)
    rest = _all(sync)
    assert [e["dn"] for e in first + rest] == [e["dn"] for e in whole]


def test_ancestors_first_puts_an_ou_before_its_users(lab) -> None:
    dc, ep = lab
    conn = _admin(ep)
    sync = conn.extend.microsoft.dir_sync(dc.domain_dn, attributes=["ou", "name"], ancestors_first=True)
    order = [e["dn"] for e in _all(sync)]
    for dn in order:
        parent = dn.split(",", 1)[1]
        if parent in order:
            assert order.index(parent) < order.index(dn)


def test_a_malformed_cookie_is_a_control_error_and_the_dc_goes_on(lab) -> None:
    dc, ep = lab
    conn = _admin(ep)
    bad = dir_sync_control(criticality=True, object_security=False, ancestors_first=False,
                           public_data_only=False, incremental_values=True, max_length=0,
                           cookie=b"MSDS" + bytes(9))
    conn.search(dc.domain_dn, USERS, attributes=["name"], controls=[bad])
    assert conn.result["result"] == 2 and "Error processing control" in conn.result["message"]
    assert _all(conn.extend.microsoft.dir_sync(dc.domain_dn, sync_filter=USERS, attributes=["name"]))


def test_dirsync_on_a_modify_is_unavailable_critical_extension(lab) -> None:
    dc, ep = lab
    conn = _admin(ep)
    user = _staff(dc)[0]
    control = (ctl.DIRSYNC, True, ctl.encode_dirsync_response(False, b""))
    conn.modify(user.dn, {"description": [(ldap3.MODIFY_REPLACE, ["x"])]}, controls=[control])
    assert conn.result["result"] == 12
    assert "description" not in user.attrs


@pytest.mark.needs_tool("ldapsearch")
def test_ldapsearch_dirsync_then_its_cookie_gets_only_the_change(lab) -> None:
    dc, ep = lab

    def ldapsearch(control: str) -> subprocess.CompletedProcess:
        cmd = ["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", ep.ldap_url, "-D", ep.admin_dn,
               "-w", ep.admin_password, "-b", dc.domain_dn, "-E", control, USERS, "sAMAccountName",
               "description"]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=dict(os.environ))

    first = ldapsearch("!dirSync=0/0")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("\ndn: ") + first.stdout.startswith("dn: ") == len(
        [e for e in dc.directory.lookup("objectclass", "user") if e.object_class == "user"])
    cookie = next(line.split(":: ", 1)[1] for line in first.stdout.splitlines()
                  if line.startswith("# cookie:: "))
    assert base64.b64decode(cookie)[:4] == b"MSDS"
    user = _staff(dc)[5]
    conn = _admin(ep)
    assert conn.modify(user.dn, {"description": [(ldap3.MODIFY_REPLACE, ["on leave"])]})
    delta = ldapsearch(f"!dirSync=0/0/{cookie}")
    assert delta.returncode == 0, delta.stderr
    entries = [block for block in delta.stdout.split("\n\n") if block.startswith("dn: ")]
    assert len(entries) == 1 and entries[0].startswith(f"dn: {user.dn}\n")
    assert "description: on leave" in entries[0] and "sAMAccountName" not in entries[0]
