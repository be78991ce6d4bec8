"""The ``simlab`` command line: serve a lab, run scenarios, break and diagnose a served lab."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from simlab import __version__

if TYPE_CHECKING:
    import httpx

# Start-up: commands import what they need inside their bodies (`simlab --help` and `simlab sspr`
# never load twisted, pydantic or the lab; `simlab serve` never loads respx or rich).


class _Commands(click.Group):
    """The ``simlab`` group. Commands kept in their own modules load only when run, so
    `simlab --help` and the quick commands do not pay for ldap3 and the ACL codec."""

    #: name -> (module, attribute, one-line help shown by `simlab --help`)
    lazy: dict[str, tuple[str, str, str]] = {
        "acl": ("simlab.cli_acl", "acl_group",
                "dsacls for the served lab: read and edit permissions (DACLs)."),
        "cache": ("simlab.cli_cache", "cache_group", "The lab image cache: build, list, clear, path."),
        "run": ("simlab.cli_run", "run", "Run scenario files (or directories of them); exit 1 if any fails."),
        "connect": ("simlab.cli_connect", "connect",
                    "Entra Connect helpers that act over LDAP like the AdSyncConfig module."),
        "serve": ("simlab.cli_serve", "serve",
                  "Start a lab and serve it until Ctrl-C, SIGTERM or `simlab stop`."),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            import importlib

            module, attribute, _ = self.lazy[name]
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RuntimeError as exc:
            # A lab the spec cannot build (a fault that does not apply, an LDIF that does not
            # load...) is the user's input: say so as click says any error, no traceback.
            from simlab.lab_types import LabError

            if isinstance(exc, LabError):
                raise click.ClickException(str(exc)) from exc
            raise

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)  # as click.Group does
        rows = []
        for name in names:
            if name in self.lazy and name not in self.commands:
                rows.append((name, self.lazy[name][2]))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="simlab")
def cli() -> None:
    """Offline lab for Entra SSPR with password writeback to Active Directory."""


def _load_spec(spec: str | None, seed: int | None, users: int | None, faults: tuple[str, ...] = ()):
    from simlab.spec import LabSpec
    from simlab.specfile import validate

    lab_spec = LabSpec.load(spec) if spec else LabSpec()
    if seed is None and users is None and not faults:
        return lab_spec
    data = lab_spec.model_dump()
    if seed is not None:
        data["seed"] = seed
    if users is not None:
        data["population"]["users"] = users
    data["faults"] += list(faults)
    # Validated like the file: `--users -3` is as wrong as `users: -3` (SpecError names the field).
    return validate(LabSpec, data, None, "command line")


# -- catalogue ---------------------------------------------------------------------------------
@cli.command("faults")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable catalogue.")
@click.option("--markdown", is_flag=True, help="The catalogue as docs/faults.md shows it.")
def faults_cmd(names: tuple[str, ...], as_json: bool, markdown: bool) -> None:
    """List the fault catalogue (or only NAMES): what each does, the symptom and the fix."""
    from simlab.faults import FAULTS, catalogue_markdown
    from simlab.terminal import console, fault_entry

    if markdown:
        click.echo(catalogue_markdown(), nl=False)
        return
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        raise click.UsageError(f"no fault named {', '.join(unknown)}; `simlab faults` lists all "
                               f"{len(FAULTS)}")
    chosen = [FAULTS[n] for n in names] if names else list(FAULTS.values())
    if as_json:
        click.echo(json.dumps([{
            "name": f.name, "category": f.category, "title": f.title, "description": f.description,
            "symptom": f.symptom.text, "action": f.symptom.action, "code": f.symptom.code,
            "events": list(f.symptom.events), "fix": f.fix, "params": f.params,
        } for f in chosen], indent=2))
        return
    out = console()
    for i, f in enumerate(chosen):
        if i:
            out.print()
        out.print(fault_entry(f))


@cli.command("schema")
def schema_cmd() -> None:
    """Print the lab spec's JSON Schema (for editors and validators)."""
    from simlab.spec import LabSpec

    click.echo(json.dumps(LabSpec.json_schema(), indent=2))


# -- talking to a served lab --------------------------------------------------------------------
lab_option = click.option("--lab", "lab_url", envvar="SIMLAB_CONTROL_URL",
                          help="Control URL of a served lab (default: the last `simlab serve`).")
json_option = click.option("--json", "as_json", is_flag=True, help="One JSON object (keys: docs/cli.md).")


def _say(text: Any, *, stderr: bool = False) -> None:
    from simlab.terminal import say  # rich loads only when a command prints for a person

    say(text, stderr=stderr)


def _emit(data: Any, as_json: bool, text: Any) -> None:
    """``--json``: the object on one line for tools; else the message for a person."""
    if as_json:
        click.echo(json.dumps(data, default=str))
    else:
        _say(text)


def _target(lab_url: str | None) -> tuple[str, str | None]:
    """(control URL, bearer token) of the lab to talk to: --lab / env, else the last `simlab serve`."""
    from simlab.lastlab import NO_LAB, NoServedLab, recall

    try:
        last = recall()
    except NoServedLab:
        if not lab_url:
            raise click.ClickException(NO_LAB) from None
        last = {}
    url = lab_url or last.get("control_url")
    token = last.get("control_token") if (not lab_url or lab_url == last.get("control_url")) else None
    return url, os.environ.get("SIMLAB_CONTROL_TOKEN", token)


def _control(lab_url: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
    import httpx

    url, token = _target(lab_url)
    try:
        response = httpx.request(method, f"{url}{path}", headers={"Authorization": f"Bearer {token}"},
                                 timeout=120, **kwargs)
    except httpx.ConnectError:
        raise click.ClickException(f"No served lab answers at {url} (it was stopped?): start one with "
                                   "`simlab serve`.") from None
    except httpx.HTTPError as exc:
        raise click.ClickException(f"The lab at {url} did not answer: {exc}") from None
    if response.status_code == 401:
        raise click.ClickException(f"The lab at {url} refused the control token: use the control_token "
                                   "`simlab serve` printed (SIMLAB_CONTROL_TOKEN).")
    if response.status_code >= 400:
        try:
            message = response.json().get("error", response.text)
        except ValueError:
            message = f"{response.status_code} {response.reason_phrase} for {path}"
        raise click.ClickException(message)
    return response


@cli.command()
@click.argument("name")
@click.argument("params", nargs=-1)
@json_option
@lab_option
def fault(name: str, params: tuple[str, ...], as_json: bool, lab_url: str | None) -> None:
    """Apply fault NAME to the served lab (PARAMS as key=value; `simlab faults` lists them)."""
    from simlab.terminal import fault_applied

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
    _emit(data, as_json, fault_applied(data))


@cli.command()
@click.option("--minutes", type=float, default=0)
@click.option("--hours", type=float, default=0)
@click.option("--days", type=float, default=0)
@json_option
@lab_option
def advance(minutes: float, hours: float, days: float, as_json: bool, lab_url: str | None) -> None:
    """Move the served lab's simulated clock (SDProp, sync, GPO refresh fire as they fall due)."""
    from simlab.terminal import clock_advanced

    data = _control(lab_url, "POST", "/clock/advance", json={"minutes": minutes, "hours": hours,
                                                              "days": days}).json()
    _emit(data, as_json, clock_advanced(data))


@cli.command()
@json_option
@lab_option
def gpupdate(as_json: bool, lab_url: str | None) -> None:
    """gpupdate /force on the served lab's DC."""
    data = _control(lab_url, "POST", "/gpupdate").json()
    _emit(data, as_json, "Updating policy...\n\nComputer Policy update has completed successfully.")


@cli.command("stop")
@lab_option
def stop_cmd(lab_url: str | None) -> None:
    """Stop the served lab, as Ctrl-C in its terminal would."""
    import socket
    from urllib.parse import urlsplit

    url, _ = _target(lab_url)
    info = _control(lab_url, "GET", "/lab").json()
    data = _control(lab_url, "POST", "/stop").json()
    # The lab has stopped when none of its listeners (control API, LDAP, LDAPS) accepts a connection.
    places = [urlsplit(u) for u in (url, info.get("ldap_url"), info.get("ldaps_url")) if u]
    deadline = time.monotonic() + 10
    while places and time.monotonic() < deadline:
        try:
            socket.create_connection((places[0].hostname, places[0].port), timeout=1).close()
            time.sleep(0.02)
        except OSError:
            places.pop(0)
    if places:
        pid = data["pid"]
        raise click.ClickException(f"the lab (pid {pid}) is still stopping; `kill {pid}` ends it")
    if not data.get("saving_image"):
        _say(f"Lab stopped (pid {data['pid']}).")
        return
    # As Ctrl-C in the lab's terminal: done when the process is, its image written (or not).
    _say(f"Lab stopped (pid {data['pid']}); it is finishing the lab image for the next start...")
    image = Path(data["image_file"])
    while _alive(data["pid"]) and not image.exists():
        time.sleep(0.1)
    _say(f"Lab image saved ({image})." if image.exists() else "Lab image not saved.")


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs. One this process cannot see counts as ended, and so
    does a zombie (ended, not yet reaped by the program that started it)."""
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): the signal check is all there is
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


@cli.group()
def sspr() -> None:
    """Act as a user at the SSPR portal of the served lab."""


def _attempt(action: str, data: dict, as_json: bool) -> None:
    from simlab.terminal import sspr_result

    _emit(data, as_json, sspr_result(action, data))
    if not data["ok"]:
        sys.exit(1)


@sspr.command("reset")
@click.argument("user")
@click.argument("password")
@click.option("--unlock", is_flag=True, help="Also unlock the account.")
@json_option
@lab_option
def sspr_reset(user: str, password: str, unlock: bool, as_json: bool, lab_url: str | None) -> None:
    """Reset USER's password to PASSWORD through SSPR (exit 1 with the SSPR code if it fails)."""
    _attempt("reset", _control(lab_url, "POST", "/sspr/reset", json={"user": user, "password": password,
                                                                      "unlock": unlock}).json(), as_json)


@sspr.command("unlock")
@click.argument("user")
@json_option
@lab_option
def sspr_unlock(user: str, as_json: bool, lab_url: str | None) -> None:
    """Unlock USER's on-premises account through SSPR."""
    _attempt("unlock", _control(lab_url, "POST", "/sspr/unlock", json={"user": user}).json(), as_json)


@sspr.command("change")
@click.argument("user")
@click.argument("current")
@click.argument("new")
@json_option
@lab_option
def sspr_change(user: str, current: str, new: str, as_json: bool, lab_url: str | None) -> None:
    """Change USER's password in the cloud (written back for synced users)."""
    _attempt("change", _control(lab_url, "POST", "/sspr/change", json={"user": user, "current": current,
                                                                        "new": new}).json(), as_json)


def _event_ids(_ctx: Any, _param: Any, values: tuple[str, ...]) -> str:
    """``--id 31001,6329 --id 4724`` -> ``31001,6329,4724``, refusing what is not an event ID."""
    ids = [part.strip() for value in values for part in value.split(",") if part.strip()]
    bad = [i for i in ids if not i.isdigit()]
    if bad:
        raise click.BadParameter(f"event IDs are numbers like 31001,6329, not {', '.join(bad)}")
    return ",".join(ids)


@cli.command()
@click.option("--id", "ids", multiple=True, callback=_event_ids,
              help="Event IDs (comma-separated or repeated).")
@click.option("--level", type=click.Choice(["Information", "Warning", "Error", "Critical", "Audit Success",
                                            "Audit Failure"], case_sensitive=False), help="Only this level.")
@click.option("--source", help="PasswordResetService, ADSync, Directory Synchronization...")
@click.option("--security", is_flag=True, help="The DC's Security log instead of Connect's Application log.")
@click.option("--after", type=int, default=0, help="Only records after this record ID.")
@click.option("--since", help="Only events at or after this simulated time (ISO 8601, UTC if no zone).")
@click.option("--tail", type=click.IntRange(min=0),
              help="The newest N events [default: a screenful (--full: 10) on a terminal, all when piped; "
                   "0 = all].")
@click.option("--full", is_flag=True, help="Whole messages instead of one line per event.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines.")
@click.option("--xml", "as_xml", is_flag=True, help="wevtutil-style XML.")
@lab_option
def events(ids, level, source, security, after, since, tail, full, as_json, as_xml, lab_url) -> None:
    """Read the served lab's Connect Application log (or the DC's Security log), newest last."""
    from simlab.terminal import console, is_terminal

    out = console()
    if tail is None:  # a screenful on a terminal (header, note and prompt included); all for tools
        tail = 0 if (as_json or as_xml or not is_terminal()) else 10 if full else max(out.height - 4, 5)
    params = {"id": ids, "source": source or "", "after": after, "log": "security" if security else "",
              "format": "xml" if as_xml else "json", "since": since or "", "level": level or "", "tail": tail}
    response = _control(lab_url, "GET", "/events", params=params)
    if as_json or as_xml:
        click.echo(response.text, nl=False)
        return
    from simlab.event_view import compact_lines, full_blocks, tail_note

    found = [json.loads(line) for line in response.text.splitlines()]
    log = "Security log (DC)" if security else "Application log (Entra Connect server)"
    if not found:
        _say(f"No events in the {log} match.", stderr=True)
        return
    if full:
        out.print(full_blocks(found))
    else:
        for line in compact_lines(found, out.width):
            out.print(line, no_wrap=True, overflow="ellipsis", crop=True, soft_wrap=False)
    note = tail_note(len(found), int(response.headers.get("x-simlab-total", len(found))))
    if note:
        _say(note, stderr=True)


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


def _admin_ldap(info: dict[str, Any]) -> Any:
    import ssl

    import ldap3

    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=info["ca_file"])
    server = ldap3.Server(info["ldaps_url"], use_ssl=True, tls=tls, get_info=ldap3.NONE)
    return ldap3.Connection(server, info["admin_dn"], info["admin_password"], auto_bind=True)


#: True when the process is the ``simlab`` program itself (not a test calling ``cli``).
_AS_PROGRAM = False


def as_program() -> bool:
    """Whether this process is the ``simlab`` program itself (see :data:`_AS_PROGRAM`)."""
    return _AS_PROGRAM


def main() -> None:
    global _AS_PROGRAM
    _AS_PROGRAM = True
    # pydantic looks for plugins in every installed distribution's entry points when the spec's
    # models are first built (15-25 ms of every start with a few hundred installed); simlab's own
    # program uses none. A value the user set stays.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    cli()




if __name__ == "__main__":
    # `python -m simlab.cli`: the command modules import simlab.cli; they must find this module,
    # not load a second copy (whose _AS_PROGRAM main() would not set).
    sys.modules.setdefault("simlab.cli", sys.modules[__name__])
    main()
