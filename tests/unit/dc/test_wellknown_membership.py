"""Authenticated Users is a member of Pre-Windows 2000 Compatible Access (Windows Server 2003+),
so any signed-in user reads other users, as on a real DC; the Connect sync then sees
isCriticalSystemObject and leaves Administrator, Guest and krbtgt out of the tenant."""

from fakes.ad.api import Scope
from fakes.ad.provision import DEFAULT_USER_PASSWORD, provision
from fakes.ad.sid import AUTHENTICATED_USERS
from simlab.lab import Lab
from simlab.spec import LabSpec


def test_token_of_a_plain_user_holds_pre_windows_2000_through_authenticated_users():
    dc = provision(users=5, seed=3)
    user = next(e for e in dc.directory.walk() if e.object_class == "user" and "OU=Staff" in e.dn)
    token = dc.token_for(user)
    assert AUTHENTICATED_USERS in token and "S-1-5-32-554" in token and "S-1-5-32-545" in token


def test_a_plain_user_reads_other_users_but_not_their_secrets():
    dc = provision(users=5, seed=3)
    users = [
        e
        for e in dc.directory.walk()
        if e.object_class == "user"
        and "OU=Staff" in e.dn
        and e.attrs["useraccountcontrol"] == ["512"]
        and e.attrs["lockouttime"] == ["0"]
    ]
    me, other = users[0], users[1]
    session = dc.bind_session(me.dn, DEFAULT_USER_PASSWORD)
    found = dc.search(session, other.dn, Scope.BASE, "(objectClass=*)", ["*", "unicodePwd"]).entries[0]
    assert found.first("mail") and found.first("userAccountControl") == "512"
    assert not found.get("unicodePwd")


def test_critical_system_objects_are_not_synchronised():
    with Lab(LabSpec(population={"users": 3})) as lab:
        synced = {u.on_premises_sam_account_name for u in lab.tenant.users.values() if u.synced}
        assert {"alice", "bob"} <= synced
        assert not synced & {"Administrator", "Guest", "krbtgt", lab.connector_sam}
