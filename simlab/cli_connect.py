"""``simlab connect``: the Entra Connect server's admin tasks against a served lab.

The wizard, the ADSync service and sync cycles go through the control API; the AdSyncConfig
equivalents (Set-ADSyncPasswordWritebackPermissions, Get-ADSyncObjectsWithInheritanceDisabled)
talk LDAPS to the DC as the lab's Administrator, as the PowerShell module does.
"""

from __future__ import annotations

import json
import sys

import click

from simlab.cli import _admin_ldap, _control, _emit, json_option, lab_option


@click.group("connect")
def connect() -> None:
    """Entra Connect helpers that act over LDAP like the AdSyncConfig PowerShell module."""


@connect.command("set-writeback-permissions")
@click.option("--account", help="Connector account sAMAccountName (default: the lab's).")
@click.option("--object-dn", help="Grant on this OU/object instead of the domain root (-ADobjectDN).")
@click.option("--include-adminsdholder", is_flag=True, help="Also on AdminSDHolder (not recommended).")
@json_option
@lab_option
def set_writeback_permissions(account, object_dn, include_adminsdholder, as_json, lab_url) -> None:
    """Set-ADSyncPasswordWritebackPermissions: Reset password, WP lockoutTime, WP pwdLastSet."""
    from fakes.connect.adsyncconfig import set_password_writeback_permissions

    info = _control(lab_url, "GET", "/lab").json()
    conn = _admin_ldap(info)
    sam = account or info["connector_dn"].split(",", 1)[0].split("=", 1)[1]
    try:
        grants = set_password_writeback_permissions(conn, base_dn=info["base_dn"], account=sam,
                                                    ad_object_dn=object_dn, netbios=info.get("netbios"),
                                                    include_admin_sd_holder=include_adminsdholder)
    finally:
        conn.unbind()
    keys = ("type", "access", "applies_to")
    data = [{"dn": g.dn, "account": g.account, "added": g.added,
             "aces": [{k: r[k] for k in keys} for r in g.rights()]} for g in grants]
    _emit(data, as_json, "\n".join(g.describe() for g in grants))


@connect.command("wizard")
@click.option("--writeback/--no-writeback", required=True, help="Optional features > Password writeback.")
@click.option("--admin-upn", required=True, help="A Global (or Hybrid Identity) Administrator.")
@click.option("--admin-password", required=True, prompt=True, hide_input=True)
@json_option
@lab_option
def wizard(writeback: bool, admin_upn: str, admin_password: str, as_json: bool, lab_url: str | None) -> None:
    """Configure > Customize synchronization options > Optional features, then Configure."""
    from simlab.terminal import wizard_result

    data = _control(lab_url, "POST", "/connect/wizard", json={"writeback": writeback, "admin_upn": admin_upn,
                                                               "admin_password": admin_password}).json()
    _emit(data, as_json, wizard_result(data))
    if not data["ok"]:
        sys.exit(1)


@connect.command("config")
@lab_option
def connect_config(lab_url: str | None) -> None:
    """View current configuration (JSON, as the wizard's "View or export" task exports it)."""
    click.echo(json.dumps(_control(lab_url, "GET", "/connect/config").json(), indent=2, default=str))


@connect.command("service")
@click.argument("state", type=click.Choice(["start", "stop"]))
@json_option
@lab_option
def connect_service(state: str, as_json: bool, lab_url: str | None) -> None:
    """Start-Service / Stop-Service ADSync on the Connect server."""
    data = _control(lab_url, "POST", f"/connect/{state}_service").json()
    _emit(data, as_json, f"Microsoft Azure AD Sync (ADSync): {data['service']}")


@connect.command("sync")
@click.option("--initial", is_flag=True, help="Full (Initial) instead of Delta.")
@json_option
@lab_option
def connect_sync(initial: bool, as_json: bool, lab_url: str | None) -> None:
    """Start-ADSyncSyncCycle -PolicyType Delta|Initial."""
    _control(lab_url, "POST", "/connect/full_sync" if initial else "/connect/sync")
    data = {"result": "Success", "policy_type": "Initial" if initial else "Delta"}
    _emit(data, as_json, "Result\n------\nSuccess")


@connect.command("inheritance-disabled")
@click.option("--search-base", help="Default: the domain.")
@click.option("--object-class", default="organizationalUnit", show_default=True, help="Or * for all.")
@json_option
@lab_option
def inheritance_disabled(search_base: str | None, object_class: str, as_json: bool,
                         lab_url: str | None) -> None:
    """Get-ADSyncObjectsWithInheritanceDisabled, over LDAPS as the lab's Administrator."""
    from fakes.connect.adsyncconfig import get_objects_with_inheritance_disabled

    info = _control(lab_url, "GET", "/lab").json()
    conn = _admin_ldap(info)
    try:
        found = get_objects_with_inheritance_disabled(conn, search_base or info["base_dn"], object_class)
    finally:
        conn.unbind()
    _emit(found, as_json, "\n".join(found) or "No objects with inheritance disabled.")
