"""The GPOs a domain controller applies: Default Domain Policy and Default Domain Controllers Policy.

Admins change these in the Group Policy editor, not on the objects they end up on: the
DC applies its GPOs at its next Group Policy refresh (every 5 minutes on domain
controllers, no random offset — Microsoft's "Group Policy refresh interval for domain
controllers" and KB 203607) or at ``gpupdate /force``. Until then the old values stay in
force, which is why a lowered *Minimum password age* does not fix writeback at once, and
why "Require signing" set in a hardening GPO breaks plain simple binds only minutes later.

- :class:`DomainPolicyGpo`: password and lockout settings, written onto the domain NC head.
- :class:`DcPolicyGpo`: the LDAP server signing and channel binding requirements, which
  land in the DC's registry (``LDAPServerIntegrity``, ``LdapEnforceChannelBinding``) and so
  become :attr:`DomainController.ldap_policy`.
- :class:`GpoRefresh`: the one refresh timer (and ``gpupdate``) that applies them all.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from fakes.ad.api import Change, ModOp
from fakes.ad.bind_policy import LdapServerPolicy
from fakes.clock import timedelta_to_interval
from simlab.spec_data import model_class

if TYPE_CHECKING:  # (pydantic loads only when a setting is edited: a cached lab starts without it)
    from simlab.spec import DcPolicySpec, PasswordPolicySpec

DC_REFRESH = timedelta(minutes=5)

S = TypeVar("S")


class _Gpo(Generic[S]):
    """Settings as the GPO editor shows them (``settings``) and as the DC last applied them.

    Each is the spec's model, or its :class:`~simlab.spec_data.SpecData` in a lab loaded from
    an image: they read and compare alike."""

    def __init__(self, dc: Any, settings: S) -> None:
        self.dc = dc
        self.settings: S = settings
        self.applied: S | None = None

    @property
    def pending(self) -> bool:
        """True while the editor holds values the DC has not applied yet."""
        return self.applied != self.settings

    def edit(self, **changes: Any) -> S:
        """Change settings in the GPO editor (validated like the spec); takes effect at refresh."""
        self.settings = model_class(self.settings).model_validate({**self.settings.model_dump(), **changes})
        return self.settings

    def apply_now(self) -> None:
        """Apply the editor's values on the DC (as its SYSTEM does at a refresh); no-op if nothing changed."""
        if not self.pending:
            return
        self._write(self.settings)
        self.applied = self.settings

    def _write(self, settings: S) -> None:
        raise NotImplementedError


class DomainPolicyGpo(_Gpo["PasswordPolicySpec"]):
    """Default Domain Policy: password and account lockout policy, on the domain object."""

    def _write(self, s: PasswordPolicySpec) -> None:
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


def ldap_server_policy(s: DcPolicySpec) -> LdapServerPolicy:
    """The DC-side policy object for the GPO's two Security Options."""
    return LdapServerPolicy(signing=s.ldap_server_signing, channel_binding=s.ldap_channel_binding)


class DcPolicyGpo(_Gpo["DcPolicySpec"]):
    """Default Domain Controllers Policy: LDAP server signing and channel binding requirements."""

    def _write(self, s: DcPolicySpec) -> None:
        self.dc.ldap_policy = ldap_server_policy(s)


class GpoRefresh:
    """The DC's Group Policy refresh: every 5 simulated minutes, or now (``gpupdate /force``)."""

    def __init__(self, dc: Any, *gpos: _Gpo[Any]) -> None:
        self.gpos = gpos
        self._timer = dc.clock.schedule(DC_REFRESH, self.apply_now, every=DC_REFRESH, name="GPO refresh")

    def apply_now(self) -> None:
        for gpo in self.gpos:
            gpo.apply_now()

    def stop(self) -> None:
        self._timer.cancel()
