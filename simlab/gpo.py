"""The Default Domain Policy GPO's password and lockout settings.

Admins change password policy in the GPO editor, not on the domain object: the DC
applies the GPO to the domain NC head at its next Group Policy refresh (every 5
minutes on domain controllers, no random offset — Microsoft's "Group Policy refresh
interval for domain controllers" and KB 203607) or at ``gpupdate /force``. Until then
the old values stay in force, which is why a lowered *Minimum password age* does not
fix writeback at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fakes.ad.api import Change, ModOp
from fakes.clock import timedelta_to_interval
from simlab.spec import PasswordPolicySpec

DC_REFRESH = timedelta(minutes=5)


class DomainPolicyGpo:
    """Pending GPO edits for one DC, applied on the refresh timer or by :meth:`apply_now`."""

    def __init__(self, dc: Any, settings: PasswordPolicySpec) -> None:
        self.dc = dc
        self.settings = settings
        self.applied: PasswordPolicySpec | None = None
        self._timer = dc.clock.schedule(DC_REFRESH, self.apply_now, every=DC_REFRESH, name="GPO refresh")

    @property
    def pending(self) -> bool:
        return self.applied != self.settings

    def edit(self, **changes: Any) -> PasswordPolicySpec:
        """Change settings in the GPO editor (validated like the spec); takes effect at refresh."""
        self.settings = PasswordPolicySpec.model_validate({**self.settings.model_dump(), **changes})
        return self.settings

    def apply_now(self) -> None:
        """Write the GPO's values onto the domain object (as the DC's SYSTEM does)."""
        if not self.pending:
            return
        s = self.settings
        values = {
            "minPwdAge": timedelta_to_interval(timedelta(days=s.min_age_days)),
            "maxPwdAge": timedelta_to_interval(timedelta(days=s.max_age_days)),
            "minPwdLength": s.min_length,
            "pwdHistoryLength": s.history,
            "pwdProperties": 1 if s.complexity else 0,
            "lockoutThreshold": s.lockout_threshold,
            "lockoutDuration": timedelta_to_interval(timedelta(minutes=s.lockout_duration_minutes)),
            "lockOutObservationWindow": timedelta_to_interval(timedelta(minutes=s.lockout_window_minutes)),
        }
        changes = [Change(ModOp.REPLACE, name, (str(v).encode(),)) for name, v in values.items()]
        self.dc.modify(self.dc.system_session(), self.dc.domain_dn, changes)
        self.applied = s

    def stop(self) -> None:
        self._timer.cancel()
