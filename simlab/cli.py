"""The ``simlab`` command line: serve a lab, run scenarios, break and diagnose a served lab."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click
import httpx

from simlab import __version__
from simlab.specfile import SpecError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="simlab")
def cli() -> None:
    """Offline lab for Entra SSPR with password writeback to Active Directory."""


def _load_spec(spec: str | None, seed: int | None, users: int | None, faults: tuple[str, ...] = ()):
    from simlab.spec import LabSpec

    lab_spec = LabSpec.load(spec) if spec else LabSpec()
    updates: dict[str, Any] = {}
    if seed is not None:
        updates["seed"] = seed
    if users is not None:
        updates["population"] = lab_spec.population.model_copy(update={"users": users})
    if faults:
        data = lab_spec.model_dump()
        data["faults"] = data["faults"] + list(faults)
        lab_spec = LabSpec.model_validate(data)
    return lab_spec.model_copy(update=updates)


# -- serve ----------------------------------------------------------------------------------
@cli.command()
@click.option("--spec", type=click.Path(exists=True, dir_okay=False), help="Lab spec YAML.")
@click.option("--seed", type=int, help="Seed for names, GUIDs, SIDs (overrides the spec).")
@click.option("--users", type=int, help="Seeded users (overrides the spec).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address, e.g. 127.0.0.2.")
@click.option("--ldap-port", type=int, default=0, show_default=True, help="0 = ephemeral; or 389.")
@click.option("--ldaps-port", type=int, default=0, show_default=True, help="0 = ephemeral; or 636.")
@click.option("--allow-non-loopback", is_flag=True, help="Allow a non-loopback --host (you asked for it).")
@click.option("--ui", is_flag=True, help="Also serve the training console.")
@click.option("--workdir", type=click.Path(file_okay=False), help="Where the CA and server files go.")
@click.option("--no-cache", is_flag=True, help="Build the lab from scratch (no lab image cache).")
def serve(spec, seed, users, host, ldap_port, ldaps_port, allow_non_loopback, ui, workdir, no_cache) -> None:
    """Start a lab and serve it until Ctrl-C / SIGTERM; prints one JSON line of endpoints."""
    from fakes.ad.ldap.serve import check_host
    from simlab.control import remember, serve_control
    from simlab.lab import Lab

    try:
        check_host(host, allow_non_loopback)
        lab_spec = _load_spec(spec, seed, users)
    except (SpecError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    stop = threading.Event()

    def on_signal(*_: object) -> None:
        # A second Ctrl-C / SIGTERM while shutting down means "now": don't wait for cleanup.
        if stop.is_set():
            click.echo("simlab: forced exit", err=True)
            os._exit(130)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    from simlab.progress import build_progress

    with build_progress() as progress:
        lab = Lab(lab_spec, host=host, ldap_port=ldap_port, ldaps_port=ldaps_port, workdir=workdir,
                  cache=not no_cache, progress=progress).start()
    with lab:
        graph = lab.serve_graph()
        # The lab's CA file outlives the Graph server's temporary copy: keep the lab's.
        endpoints: dict[str, Any] = {**graph.to_json(), **lab.endpoints()}
        with serve_control(lab) as (control_url, token):
            endpoints.update(control_url=control_url, control_token=token)
            console = None
            if ui:
                from simlab.console import serve_console

                console = serve_console(lab, host="127.0.0.1")
                endpoints["ui_url"] = console.__enter__()
            try:
                remember(endpoints)
                click.echo(json.dumps(endpoints), nl=True)
                sys.stdout.flush()
                while not stop.wait(0.5):
                    pass
            finally:
                if console is not None:
                    console.__exit__(None, None, None)
    click.echo("simlab: lab stopped", err=True)


# -- scenarios -------------------------------------------------------------------------------
@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-k", "keyword", help="Only scenarios whose name or tag contains this ('not x' excludes).")
@click.option("--seed", type=int, help="Override every scenario's lab seed.")
@click.option("--json", "json_out", type=click.Path(), help="Write results as JSON ('-' for stdout).")
@click.option("--junit", type=click.Path(dir_okay=False), help="Write JUnit XML results here.")
@click.option("-x", "--exitfirst", is_flag=True, help="Stop at the first failing scenario.")
@click.option("--no-cache", is_flag=True, help="Build every lab from scratch (no lab image cache).")
def run(paths, keyword, seed, json_out, junit, exitfirst, no_cache) -> None:
    """Run scenario files (or directories of them); exit 1 if any fails."""
    if no_cache:
        os.environ["SIMLAB_NO_CACHE"] = "1"  # the scenario runner's labs read it
    from rich.console import Console
    from rich.progress import Progress

    from simlab import report
    from simlab.scenarios import Scenario, discover, run_scenario, select

    console = Console(stderr=json_out == "-")
    try:
        scenarios = [Scenario.load(p) for p in discover(list(paths))]
    except SpecError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(2)
    scenarios = select(scenarios, keyword)
    if not scenarios:
        click.echo("simlab: no scenarios selected", err=True)
        sys.exit(5)
    results = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("scenarios", total=len(scenarios))
        for scenario in scenarios:
            progress.update(task, description=scenario.name)
            results.append(run_scenario(scenario, seed=seed))
            progress.advance(task)
            if exitfirst and not results[-1].passed:
                break
    report.print_report(results, console)
    if json_out == "-":
        click.echo(report.to_json(results))
    elif json_out:
        Path(json_out).write_text(report.to_json(results))
    if junit:
        Path(junit).write_text(report.to_junit(results))
    sys.exit(0 if all(r.passed for r in results) else 1)


# -- catalogue ---------------------------------------------------------------------------------
@cli.command("faults")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable catalogue.")
@click.option("--markdown", is_flag=True, help="The catalogue as docs/faults.md shows it.")
def faults_cmd(as_json: bool, markdown: bool) -> None:
    """List the fault catalogue: name, what it does, the symptom and the fix."""
    from rich.console import Console
    from rich.table import Table

    from simlab.faults import FAULTS, catalogue_markdown

    if markdown:
        click.echo(catalogue_markdown(), nl=False)
        return
    if as_json:
        click.echo(json.dumps([{
            "name": f.name, "category": f.category, "title": f.title, "description": f.description,
            "symptom": f.symptom.text, "action": f.symptom.action, "code": f.symptom.code,
            "events": list(f.symptom.events), "fix": f.fix, "params": f.params,
        } for f in FAULTS.values()], indent=2))
        return
    table = Table(title=f"simlab fault catalogue ({len(FAULTS)})", show_lines=True)
    for column in ("name", "what", "symptom", "fix"):
        table.add_column(column, overflow="fold")
    for f in FAULTS.values():
        table.add_row(f"{f.name}\n[dim]{f.category}[/dim]", f.description, f.symptom.text, f.fix)
    Console().print(table)


@cli.command("schema")
def schema_cmd() -> None:
    """Print the lab spec's JSON Schema (for editors and validators)."""
    from simlab.spec import LabSpec

    click.echo(json.dumps(LabSpec.json_schema(), indent=2))


# -- talking to a served lab --------------------------------------------------------------------
lab_option = click.option("--lab", "lab_url", envvar="SIMLAB_CONTROL_URL",
                          help="Control URL of a served lab (default: the last `simlab serve`).")


def _control(lab_url: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
    from simlab.control import recall
    from simlab.lab import LabError

    try:
        last = recall()
    except LabError as exc:
        if not lab_url:
            raise click.ClickException(str(exc)) from None
        last = {}
    url = lab_url or last.get("control_url")
    token = last.get("control_token") if (not lab_url or lab_url == last.get("control_url")) else None
    token = os.environ.get("SIMLAB_CONTROL_TOKEN", token)
    try:
        response = httpx.request(method, f"{url}{path}", headers={"Authorization": f"Bearer {token}"},
                                 timeout=120, **kwargs)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the lab at {url}: {exc}") from None
    if response.status_code >= 400:
        try:
            message = response.json().get("error", response.text)
        except ValueError:
            message = response.text
        raise click.ClickException(message)
    return response


@cli.command()
@click.argument("name")
@click.argument("params", nargs=-1)
@lab_option
def fault(name: str, params: tuple[str, ...], lab_url: str | None) -> None:
    """Apply fault NAME to the served lab (PARAMS as key=value)."""
    body: dict[str, Any] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.UsageError(f"parameters are key=value, not {item!r}")
        try:
            body[key] = json.loads(value)
        except ValueError:
            body[key] = value
    data = _control(lab_url, "POST", f"/faults/{name}", json=body).json()
    click.echo(f"applied {data['applied']}\n  symptom: {data['symptom']}\n  fix: {data['fix']}")


@cli.command()
@click.option("--minutes", type=float, default=0)
@click.option("--hours", type=float, default=0)
@click.option("--days", type=float, default=0)
@lab_option
def advance(minutes: float, hours: float, days: float, lab_url: str | None) -> None:
    """Move the served lab's simulated clock (SDProp, sync, GPO refresh fire as they fall due)."""
    data = _control(lab_url, "POST", "/clock/advance", json={"minutes": minutes, "hours": hours,
                                                              "days": days}).json()
    click.echo(f"now {data['now']}; fired: {', '.join(data['fired']) or 'nothing'}")


@cli.command()
@lab_option
def gpupdate(lab_url: str | None) -> None:
    """gpupdate /force on the served lab's DC."""
    _control(lab_url, "POST", "/gpupdate")
    click.echo("Computer Policy update has completed successfully.")


@cli.group()
def sspr() -> None:
    """Act as a user at the SSPR portal of the served lab."""


def _attempt(data: dict) -> None:
    if data["ok"]:
        click.echo("success")
        return
    message = data["message"] or ""
    click.echo(message if message.startswith(str(data["code"])) else f"{data['code']}: {message}")
    sys.exit(1)


@sspr.command("reset")
@click.argument("user")
@click.argument("password")
@click.option("--unlock", is_flag=True, help="Also unlock the account.")
@lab_option
def sspr_reset(user: str, password: str, unlock: bool, lab_url: str | None) -> None:
    """Reset USER's password to PASSWORD through SSPR."""
    _attempt(_control(lab_url, "POST", "/sspr/reset", json={"user": user, "password": password,
                                                             "unlock": unlock}).json())


@sspr.command("unlock")
@click.argument("user")
@lab_option
def sspr_unlock(user: str, lab_url: str | None) -> None:
    """Unlock USER's on-premises account through SSPR."""
    _attempt(_control(lab_url, "POST", "/sspr/unlock", json={"user": user}).json())


@sspr.command("change")
@click.argument("user")
@click.argument("current")
@click.argument("new")
@lab_option
def sspr_change(user: str, current: str, new: str, lab_url: str | None) -> None:
    """Change USER's password in the cloud (written back for synced users)."""
    _attempt(_control(lab_url, "POST", "/sspr/change", json={"user": user, "current": current,
                                                              "new": new}).json())


@cli.command()
@click.option("--id", "ids", help="Comma-separated event IDs.")
@click.option("--source", help="PasswordResetService, ADSync, Directory Synchronization...")
@click.option("--security", is_flag=True, help="The DC's Security log instead of Connect's Application log.")
@click.option("--after", type=int, default=0, help="Only records after this record ID.")
@click.option("--since", help="Only events at or after this simulated time (ISO 8601, UTC if no zone).")
@click.option("--json", "as_json", is_flag=True, help="JSON lines.")
@click.option("--xml", "as_xml", is_flag=True, help="wevtutil-style XML.")
@lab_option
def events(ids, source, security, after, since, as_json, as_xml, lab_url) -> None:
    """Read the served lab's Connect Application log (or the DC's Security log)."""
    params = {"id": ids or "", "source": source or "", "after": after, "log": "security" if security else "",
              "format": "xml" if as_xml else "json", "since": since or ""}
    text = _control(lab_url, "GET", "/events", params=params).text
    if as_json or as_xml:
        click.echo(text, nl=False)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Security" if security else "Application (Entra Connect server)")
    for column in ("time", "level", "source", "id", "message"):
        table.add_column(column, overflow="fold")
    for line in text.splitlines():
        e = json.loads(line)
        table.add_row(e["time"][:19], e["level"], e["source"], str(e["event_id"]), e["message"][:300])
    Console().print(table)


@cli.command()
@click.option("--user", help="Also diagnose why this user's writeback fails.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text")
@click.option("--spec", type=click.Path(exists=True, dir_okay=False), help="Build this lab and diagnose it.")
@click.option("--fault", "faults", multiple=True, help="With --spec (or alone): apply these faults first.")
@click.option("--ldap-url", help="Diagnose any DC at ldaps://host:port.")
@click.option("--admin-dn", help="A Domain Admin's DN or UPN, for --ldap-url.")
@click.option("--admin-password", envvar="SIMLAB_DOCTOR_PASSWORD", help="Its password.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="CA for LDAPS (and Graph).")
@click.option("--base-dn", help="Domain DN (default: the rootDSE's defaultNamingContext).")
@click.option("--graph-url", help="Graph base URL ending in /v1.0.")
@click.option("--token", envvar="SIMLAB_GRAPH_TOKEN", help="Bearer token for Graph and the portal blades.")
@click.option("--events", "events_file", type=click.Path(exists=True, dir_okay=False),
              help="Connect Application log as JSON lines (simlab events --json).")
@click.option("--connector", help="The AD DS connector account (default: the MSOL_ account).")
@lab_option
def doctor(user, fmt, spec, faults, ldap_url, admin_dn, admin_password, ca_file, base_dn, graph_url, token,
           events_file, connector, lab_url) -> None:
    """Diagnose password writeback: findings with evidence and the fix (exit 1 if any finding)."""
    from simlab.doctor import EndpointSource, diagnose

    if ldap_url:
        if not (admin_dn and admin_password):
            raise click.UsageError("--ldap-url needs --admin-dn and --admin-password")
        source = EndpointSource(ldap_url=ldap_url, admin_dn=admin_dn, admin_password=admin_password,
                                ca_file=ca_file, base_dn=base_dn, graph_url=graph_url, token=token,
                                events_file=events_file, connector=connector)
        _print_report(diagnose(source, user=user), fmt)
    elif spec or faults:
        from simlab.lab import Lab

        with Lab(_load_spec(spec, None, None, faults)) as lab:
            _print_report(diagnose(lab, user=user), fmt)
    else:
        response = _control(lab_url, "GET", "/doctor", params={"user": user or "", "format": fmt})
        click.echo(response.text)
        sys.exit(1 if int(response.headers.get("x-simlab-findings", "0")) else 0)


def _print_report(report: Any, fmt: str) -> None:
    click.echo({"text": report.to_text, "json": report.to_json, "markdown": report.to_markdown}[fmt]())
    sys.exit(1 if report.findings else 0)


@cli.group()
def connect() -> None:
    """Entra Connect helpers that act over LDAP like the AdSyncConfig PowerShell module."""


@connect.command("set-writeback-permissions")
@click.option("--account", help="Connector account sAMAccountName (default: the lab's).")
@click.option("--object-dn", help="Grant on this OU/object instead of the domain root (-ADobjectDN).")
@click.option("--include-adminsdholder", is_flag=True, help="Also on AdminSDHolder (not recommended).")
@lab_option
def set_writeback_permissions(account, object_dn, include_adminsdholder, lab_url) -> None:
    """Set-ADSyncPasswordWritebackPermissions: Reset password, WP lockoutTime, WP pwdLastSet."""
    from fakes.connect.adsyncconfig import set_password_writeback_permissions

    info = _control(lab_url, "GET", "/lab").json()
    conn = _admin_ldap(info)
    sam = account or info["connector_dn"].split(",", 1)[0].split("=", 1)[1]
    grants = set_password_writeback_permissions(conn, base_dn=info["base_dn"], account=sam,
                                                ad_object_dn=object_dn,
                                                include_admin_sd_holder=include_adminsdholder)
    for grant in grants:
        click.echo(str(grant))
    conn.unbind()


@connect.command("wizard")
@click.option("--writeback/--no-writeback", required=True, help="Optional features > Password writeback.")
@click.option("--admin-upn", required=True, help="A Global (or Hybrid Identity) Administrator.")
@click.option("--admin-password", required=True, prompt=True, hide_input=True)
@lab_option
def wizard(writeback: bool, admin_upn: str, admin_password: str, lab_url: str | None) -> None:
    """Configure > Customize synchronization options > Optional features, then Configure."""
    data = _control(lab_url, "POST", "/connect/wizard", json={"writeback": writeback, "admin_upn": admin_upn,
                                                               "admin_password": admin_password}).json()
    events = ", ".join(map(str, data["events"])) or "none"
    if not data["ok"]:
        click.echo(f"Configuration failed: {data['message']} (events: {events})")
        sys.exit(1)
    click.echo(f"Configuration complete. Password writeback: {data['password_writeback']} (events: {events})")


@connect.command("config")
@lab_option
def connect_config(lab_url: str | None) -> None:
    """View current configuration."""
    click.echo(json.dumps(_control(lab_url, "GET", "/connect/config").json(), indent=2, default=str))


@connect.command("service")
@click.argument("state", type=click.Choice(["start", "stop"]))
@lab_option
def connect_service(state: str, lab_url: str | None) -> None:
    """Start-Service / Stop-Service ADSync on the Connect server."""
    data = _control(lab_url, "POST", f"/connect/{state}_service").json()
    click.echo(f"ADSync: {data['service']}")


@connect.command("sync")
@click.option("--initial", is_flag=True, help="Full (Initial) instead of Delta.")
@lab_option
def connect_sync(initial: bool, lab_url: str | None) -> None:
    """Start-ADSyncSyncCycle -PolicyType Delta|Initial."""
    _control(lab_url, "POST", "/connect/full_sync" if initial else "/connect/sync")
    click.echo("Result: Success")


@connect.command("inheritance-disabled")
@click.option("--search-base", help="Default: the domain.")
@click.option("--object-class", default="organizationalUnit", show_default=True, help="Or * for all.")
@lab_option
def inheritance_disabled(search_base: str | None, object_class: str, lab_url: str | None) -> None:
    """Get-ADSyncObjectsWithInheritanceDisabled, over LDAPS as the lab's Administrator."""
    from fakes.connect.adsyncconfig import get_objects_with_inheritance_disabled

    info = _control(lab_url, "GET", "/lab").json()
    conn = _admin_ldap(info)
    for dn in get_objects_with_inheritance_disabled(conn, search_base or info["base_dn"], object_class):
        click.echo(dn)
    conn.unbind()


def _admin_ldap(info: dict[str, Any]) -> Any:
    import ssl

    import ldap3

    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=info["ca_file"])
    server = ldap3.Server(info["ldaps_url"], use_ssl=True, tls=tls, get_info=ldap3.NONE)
    return ldap3.Connection(server, info["admin_dn"], info["admin_password"], auto_bind=True)


def main() -> None:
    cli()


from simlab.cli_cache import cache_group  # noqa: E402  (registered after the group exists)

cli.add_command(cache_group)


if __name__ == "__main__":
    main()
