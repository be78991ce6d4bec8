"""Adding computer accounts under ms-DS-MachineAccountQuota (MS-ADTS 3.1.1.5.2.1.1 / 6.1.1.4).

A requester without Create Child for computers on the parent may still add a computer object
when it holds SeMachineAccountPrivilege ("Add workstations to domain", which the Default
Domain Controllers Policy grants to Authenticated Users) and fewer objects carry its SID in
mS-DS-CreatorSID than the domain head's ms-DS-MachineAccountQuota (10 by default). Such an
object gets mS-DS-CreatorSID = the requester and Domain Admins as owner. Past the quota the
add fails with 53 unwillingToPerform ``0000216D`` (ERROR_DS_MACHINE_ACCOUNT_QUOTA_EXCEEDED);
without the privilege it stays 50 insufficientAccessRights. impacket's addcomputer.py and
every "join a machine as a plain user" workflow depend on this.
"""

from __future__ import annotations

from typing import Any

from fakes.ad import errors
from fakes.ad.sid import AUTHENTICATED_USERS, sid_to_bytes

# Holders of SeMachineAccountPrivilege in the Default Domain Controllers Policy.
MACHINE_ACCOUNT_PRIVILEGE_HOLDERS = frozenset({AUTHENTICATED_USERS})


def applies(dc: Any, session: Any, class_name: str) -> bool:
    """True when this add may go ahead on the quota (computer class, privilege held)."""
    chain = {c.name.lower() for c in dc.schema.class_chain(class_name)}
    return "computer" in chain and bool(MACHINE_ACCOUNT_PRIVILEGE_HOLDERS & session.token)


def quota(dc: Any) -> int:
    """The domain's ms-DS-MachineAccountQuota (absent or unreadable counts as 0)."""
    try:
        return int(dc.get_entry(dc.domain_dn).attrs.get("ms-ds-machineaccountquota", ["0"])[0])
    except (ValueError, IndexError):
        return 0


def check(dc: Any, session: Any) -> bytes:
    """The requester's SID (for mS-DS-CreatorSID) if it has quota left, else the 0x216D error."""
    creator = sid_to_bytes(session.principal_sid)
    used = len(dc.directory.lookup("mS-DS-CreatorSID", creator))
    if used >= quota(dc):
        raise errors.unwilling(errors.MACHINE_QUOTA)
    return creator
