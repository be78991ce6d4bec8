"""The two Group Policy objects every new domain has, as directory objects.

dcpromo creates the Default Domain Policy and the Default Domain Controllers Policy under
``CN=Policies,CN=System`` (groupPolicyContainer objects named by their well-known GUIDs, each
with ``CN=User`` and ``CN=Machine`` children) and links them with ``gPLink`` on the domain head
and on ``OU=Domain Controllers``. AD tools list them (bloodhound-python's gpos.json, GPO
auditing scripts), so a lab without them looks like a damaged domain. The lab's policy
*settings* live in the DC's own model (password policy on the domain head, ``dc.ldap_policy``);
these objects carry no settings files (there is no SYSVOL), only what LDAP shows.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fakes.ad.dc_write import create_entry

DEFAULT_DOMAIN_POLICY = "{31B2F340-016D-11D2-945F-00C04FB984F9}"
DEFAULT_DC_POLICY = "{6AC1786C-016F-11D2-945F-00C04fB984F9}"


def gplink(guid: str, domain_dn: str) -> str:
    """One enabled, non-enforced link as Windows writes it (``[LDAP://<dn>;0]``, lowercase RDNs)."""
    return f"[LDAP://cn={guid},cn=policies,cn=system,{domain_dn};0]"


@contextmanager
def _own_guid_stream(dc: Any) -> Iterator[None]:
    """Draw these objects' GUIDs from a stream of their own (seeded by the domain SID, itself
    seeded), so adding them left every other object of a seeded lab as it was: tests, saved
    scenarios and tutorials name the users a seed generates."""
    main = dc.rng
    dc.rng = random.Random(f"default-gpos:{dc.domain_sid}")
    try:
        yield
    finally:
        dc.rng = main


def add_default_gpos(dc: Any, root: Any, system: Any, dc_ou: Any) -> None:
    """Create both default GPOs under ``system`` and link them on ``root`` and ``dc_ou``."""
    with _own_guid_stream(dc):
        _create(dc, root, system, dc_ou)


def _create(dc: Any, root: Any, system: Any, dc_ou: Any) -> None:
    policies = create_entry(dc, system, "CN=Policies", {"cn": ["Policies"]}, "container")
    for guid, name, target in ((DEFAULT_DOMAIN_POLICY, "Default Domain Policy", root),
                               (DEFAULT_DC_POLICY, "Default Domain Controllers Policy", dc_ou)):
        gpo = create_entry(
            dc,
            policies,
            f"CN={guid}",
            {
                "cn": [guid],
                "displayname": [name],
                "gpcfilesyspath": [f"\\\\{dc.dns_domain}\\sysvol\\{dc.dns_domain}\\Policies\\{guid}"],
                "gpcfunctionalityversion": ["2"],
                "flags": ["0"],
                "versionnumber": ["1"],
            },
            "groupPolicyContainer",
        )
        for child in ("User", "Machine"):
            create_entry(dc, gpo, f"CN={child}", {"cn": [child]}, "container")
        dc.directory.set_values(target, "gplink", [gplink(guid, root.dn)])
