"""SDProp: the AdminSDHolder protection task (MS-ADTS 3.1.1.6.1), driven by the simulated clock.

Every ``period`` (60 simulated minutes by default) the PDC emulator computes the
protected set — transitive members of the protected groups plus those groups and the
special accounts (Administrator, krbtgt) — and, for each object whose
nTSecurityDescriptor differs from AdminSDHolder's, replaces it wholesale and sets
``adminCount`` = 1. ``adminCount`` alone never triggers protection, and nothing ever
clears it (like Windows). dSHeuristics' 16th character (dwAdminSDExMask) can exclude
Account/Server/Print/Backup Operators; it is read from the directory object
(``CN=Directory Service,CN=Windows NT,CN=Services,<config NC>``) on every run, so an
administrator's LDAP modify takes effect at the next pass. Protected objects are visited in a
fixed order (protected groups in MS-ADTS order, then members depth-first in ``member`` order), so
the uSNs a run assigns are the same for every lab built from one seed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from fakes.ad import sid as S

if TYPE_CHECKING:
    from fakes.ad.dc import DomainController
    from fakes.ad.directory import Entry

# Protected groups (MS-ADTS 3.1.1.6.1.2) by well-known SID / domain RID, with their dwAdminSDExMask bit.
_BUILTIN = {
    S.BUILTIN_ADMINISTRATORS: 0,
    S.BUILTIN_ACCOUNT_OPERATORS: 0x1,
    S.BUILTIN_SERVER_OPERATORS: 0x2,
    S.BUILTIN_PRINT_OPERATORS: 0x4,
    S.BUILTIN_BACKUP_OPERATORS: 0x8,
    S.BUILTIN_REPLICATOR: 0,
}
_DOMAIN_GROUP_RIDS = (
    S.RID_DOMAIN_ADMINS,
    S.RID_SCHEMA_ADMINS,
    S.RID_ENTERPRISE_ADMINS,
    S.RID_DOMAIN_CONTROLLERS,
    S.RID_READONLY_DOMAIN_CONTROLLERS,
)
_ACCOUNT_RIDS = (S.RID_ADMINISTRATOR, S.RID_KRBTGT)


class SDProp:
    """The periodic task; ``run()`` may also be called directly (like ``RunProtectAdminGroupsTask``)."""

    def __init__(self, dc: DomainController, *, period: timedelta = timedelta(minutes=60)) -> None:
        self.dc = dc
        self.period = period
        self.runs = 0
        self._timer = dc.clock.schedule(period, self._tick, every=period, name="SDProp")

    def stop(self) -> None:
        self._timer.cancel()

    def _tick(self) -> None:
        with self.dc.lock:
            self.run()

    @property
    def ds_heuristics(self) -> str:
        """dSHeuristics as stored on CN=Directory Service ("" when unset or the object is absent)."""
        from fakes.ad.config_nc import directory_service_dn

        entry = self.dc.directory.get(directory_service_dn(self.dc))
        values = entry.attrs.get("dsheuristics") if entry is not None else None
        if not values:
            return ""
        v = values[0]
        return v.decode() if isinstance(v, bytes) else v

    @ds_heuristics.setter
    def ds_heuristics(self, value: str) -> None:
        # Kept for callers that restore a snapshot: writes the directory object without an
        # originating-update stamp (the snapshot's uSNs are restored separately).
        from fakes.ad.config_nc import directory_service_dn

        entry = self.dc.directory.get(directory_service_dn(self.dc))
        if entry is None:
            if not value:
                return
            raise LookupError("CN=Directory Service is missing: this DC was provisioned without a config NC")
        self.dc.directory.set_values(entry, "dsheuristics", [value] if value else [])

    def exclusion_mask(self) -> int:
        h = self.ds_heuristics
        if len(h) >= 16:
            try:
                return int(h[15], 16)
            except ValueError:
                return 0
        return 0

    def protected(self) -> list[Entry]:
        """The objects SDProp stamps right now, in the order it stamps them."""
        dc = self.dc
        mask = self.exclusion_mask()
        roots: list[Entry] = []
        for sid, bit in _BUILTIN.items():
            if bit and mask & bit:
                continue
            e = dc.directory.by_sid(sid)
            if e is not None:
                roots.append(e)
        for rid in (*_DOMAIN_GROUP_RIDS, *_ACCOUNT_RIDS):
            e = dc.directory.by_sid(S.make_sid(dc.domain_sid, rid))
            if e is not None:
                roots.append(e)
        # A dict keeps discovery order (a set of Entry would iterate in memory-address order).
        out: dict[Entry, None] = {}
        stack = list(reversed(roots))
        while stack:
            e = stack.pop()
            if e in out:
                continue
            out[e] = None
            if e.object_class == "group":
                stack.extend(reversed(dc.directory.members(e)))
        return list(out)

    def run(self) -> int:
        """One pass; returns how many objects were re-stamped."""
        dc = self.dc
        holder = dc.directory.get(f"CN=AdminSDHolder,CN=System,{dc.domain_dn}")
        if holder is None:
            return 0
        changed = 0
        for entry in self.protected():
            wrote = False
            if entry.sd is not holder.sd and entry.sd != holder.sd:
                entry.sd = holder.sd
                changed += 1
                dc.directory.note_written(entry, "ntsecuritydescriptor")
                wrote = True
            if entry.attrs.get("admincount") != ["1"]:
                dc.directory.set_values(entry, "admincount", ["1"])
                wrote = True
            if wrote:  # one originating update for both (adminCount is replicated too)
                dc.stamp(entry)
        self.runs += 1
        return changed
