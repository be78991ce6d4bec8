"""Scenario steps for the DC's LDAP bind hardening: edit the Default Domain Controllers Policy,
and run doctor the way an admin would (``simlab doctor``), as the scenario engine's actions.

Kept apart from :mod:`simlab.scenarios` so the engine only maps names to these functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simlab.lab import Lab


def dc_gpo(lab: Lab, **settings: Any) -> dict[str, Any]:
    """Edit the Default Domain Controllers Policy (``ldap_server_signing``, ``ldap_channel_binding``).

    Pending until the DC's Group Policy refresh (5 minutes) or a ``gpupdate`` step.
    """
    lab.dc_gpo.edit(**settings)
    return {"pending": lab.dc_gpo.pending}


def doctor(lab: Lab, user: str | None = None) -> dict[str, Any]:
    """Diagnose the lab: ``ok`` when healthy, ``message`` is the text report (finding ids included)."""
    from simlab.doctor import diagnose

    report = diagnose(lab, user=user)
    return {"ok": report.healthy, "findings": sorted(report.ids), "message": report.to_text()}
