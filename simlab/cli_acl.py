"""``simlab acl``: dsacls for the served lab — show, grant, deny, remove, set, protect, inherit.

Every verb talks LDAPS to the served lab as its Administrator (credentials from the control
API's ``/lab``), reads the DACL with the SD flags control and writes the explicit ACEs back,
as ADUC and dsacls do, so the DC's checks, canonical ordering and re-propagation apply and
the doctor sees the change like any other. Wording follows ADUC's Advanced Security dialog.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click
from ldap3.utils.conv import escape_filter_chars

from simlab import acl
from simlab.cli import _admin_ldap, _control, lab_option

principal_option = click.option("--principal", "-p", required=True,
                                help="DOMAIN\\name, sAMAccountName, UPN, SID or a well-known name "
                                     "('Authenticated Users').")
right_option = click.option("--right", "-r", "rights", multiple=True, required=True,
                            help="ADUC permission, e.g. 'Reset password', 'Write pwdLastSet', "
                                 "'Unexpire Password', 'Full control' (repeatable).")
applies_option = click.option("--applies-to", "-a", default="This object only", show_default=True,
                              help="'This object only', 'This object and all descendant objects', "
                                   "'All descendant objects', 'Descendant User objects'...")

SHORTCUTS_HELP = ("DN is a distinguished name or a shortcut: root (the domain), AdminSDHolder, "
                  "user:NAME, ou:NAME.")


@dataclass
class Session:
    """An admin LDAP connection to the served lab plus what the messages need."""

    conn: Any
    base_dn: str
    domain_sid: str
    name: Callable[[str], str | None]

    def who(self, sid: str) -> str:
        return self.name(sid) or sid

    def dn(self, text: str) -> str:
        """Expand DN shortcuts and check the object exists (reading its DACL)."""
        low = text.strip().lower()
        if low == "root":
            return self.base_dn
        if low == "adminsdholder":
            return f"CN=AdminSDHolder,CN=System,{self.base_dn}"
        for prefix, flt in (("user:", "(&(objectCategory=person)(objectClass=user)(|(sAMAccountName={0})"
                                      "(userPrincipalName={0})(cn={0})))"),
                            ("ou:", "(&(objectClass=organizationalUnit)(ou={0}))")):
            if low.startswith(prefix):
                value = escape_filter_chars(text.strip()[len(prefix):])
                return self._unique(flt.format(value), text)
        return text.strip()

    def _unique(self, flt: str, text: str) -> str:
        import ldap3

        self.conn.search(self.base_dn, flt, ldap3.SUBTREE, attributes=["distinguishedName"])
        hits = [e["dn"] for e in self.conn.response or [] if e.get("type") == "searchResEntry"]
        if not hits:
            raise acl.AclError(f'Name Not Found: An object named "{text.split(":", 1)[1]}" cannot be found.')
        if len(hits) > 1:
            raise acl.AclError(f"{text} is ambiguous: " + "; ".join(hits) + " (give the DN)")
        return hits[0]


@contextmanager
def session(lab_url: str | None) -> Iterator[Session]:
    """Bind to the served lab as Administrator; errors become click errors, the lab stays as it was."""
    from simlab.doctor.adread import read_domain

    info = _control(lab_url, "GET", "/lab").json()
    try:
        conn = _admin_ldap(info)
    except Exception as exc:  # ldap3 raises many types for a refused bind or TLS failure
        url = info.get("ldaps_url")
        raise click.ClickException(f"cannot bind to {url} as Administrator: {exc}") from None
    try:
        domain = read_domain(conn, info["base_dn"], datetime.now(UTC))
        yield Session(conn, info["base_dn"], domain.sid, acl.name_resolver(conn, info["base_dn"]))
    except acl.AclError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        conn.unbind()


def _applies_words(ace: acl.Ace) -> str:
    text = acl.rows(acl.SecurityDescriptor(None, None, acl.Acl((ace,))))[0].applies_to
    return text[:1].lower() + text[1:]


def _access(ace: acl.Ace, s: Session) -> str:
    return acl.rows(acl.SecurityDescriptor(None, None, acl.Acl((ace,))), s.domain_sid)[0].access


def _width() -> int:
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    return os.get_terminal_size().columns if sys.stdout.isatty() else 0


@click.group("acl")
def acl_group() -> None:
    """dsacls for the served lab: read and edit permissions (DACLs) over LDAP as Administrator."""


@acl_group.command("show", epilog=SHORTCUTS_HELP)
@click.argument("dn")
@click.option("--sddl", "as_sddl", is_flag=True, help="Print the raw SDDL (owner, group, DACL).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable rows.")
@lab_option
def show(dn: str, as_sddl: bool, as_json: bool, lab_url: str | None) -> None:
    """Permissions of DN as ADUC's Advanced Security Settings list them."""
    with session(lab_url) as s:
        target = s.dn(dn)
        sd = acl.read(s.conn, target)
        if as_sddl:
            click.echo(acl.to_sddl(sd, s.domain_sid))
            return
        ancestors = acl.read_ancestors(s.conn, target, s.base_dn)
        rows = acl.rows(sd, s.domain_sid, resolve=s.name, ancestors=ancestors)
        if as_json:
            click.echo(json.dumps({"dn": target, "owner": s.who(sd.owner) if sd.owner else None,
                                   "inheritance": "disabled" if sd.protected else "enabled",
                                   "sddl": acl.to_sddl(sd, s.domain_sid),
                                   "entries": [r.to_dict() for r in rows]}, indent=2))
            return
        click.echo(f"Advanced Security Settings for {target}")
        click.echo(f"Owner: {s.who(sd.owner) if sd.owner else '(not read)'}")
        click.echo("Inheritance: " + ("disabled (this object does not inherit permissions from its parent)"
                                      if sd.protected else "enabled"))
        click.echo("")
        click.echo(acl.format_table(rows, width=_width()))


def _edit(s: Session, dn: str, change: Callable[[acl.SecurityDescriptor], acl.SecurityDescriptor]) -> None:
    sd = acl.read(s.conn, dn, flags=acl.constants.DACL_SECURITY_INFORMATION)
    acl.write(s.conn, dn, change(sd))


def _add(dn: str, principal: str, rights: tuple[str, ...], applies_to: str, deny: bool,
         lab_url: str | None) -> None:
    with session(lab_url) as s:
        target = s.dn(dn)
        sid = acl.resolve_principal(s.conn, principal, s.base_dn)
        aces = [acl.build_ace(sid, r, applies_to, deny=deny) for r in rights]  # all parsed before writing
        sd = acl.read(s.conn, target, flags=acl.constants.DACL_SECURITY_INFORMATION)
        new = sd
        for ace in aces:
            new = acl.add_ace(new, ace)
        verb = "Denied" if deny else "Granted"
        if new != sd:
            acl.write(s.conn, target, new)
        for ace in aces:
            if ace in (sd.dacl.aces if sd.dacl else ()):
                click.echo(f"{s.who(sid)} already has {'Deny' if deny else 'Allow'} {_access(ace, s)} on "
                           f"{target} ({_applies_words(ace)}): nothing changed")
            else:
                click.echo(f"{verb} {_access(ace, s)} to {s.who(sid)} on {target}: applies to "
                           f"{_applies_words(ace)}")


def _add_command(name: str, deny: bool, doc: str) -> None:
    """Register ``grant`` / ``deny``: the same Permission Entry, Allow or Deny."""

    def command(dn: str, principal: str, rights: tuple[str, ...], applies_to: str, lab_url: str | None
                ) -> None:
        _add(dn, principal, rights, applies_to, deny, lab_url)

    command.__doc__ = doc
    for option in (lab_option, applies_option, right_option, principal_option, click.argument("dn")):
        command = option(command)
    acl_group.command(name, epilog=SHORTCUTS_HELP)(command)


_add_command("grant", False, "Add an Allow entry (dsacls DN /G), like ADUC's Add > Permission Entry.")
_add_command("deny", True, "Add a Deny entry (dsacls DN /D).")


@acl_group.command("remove", epilog=SHORTCUTS_HELP)
@click.argument("dn")
@click.option("--principal", "-p", help="Remove this principal's explicit entries (all, as dsacls /R).")
@click.option("--right", "-r", "rights", multiple=True, help="Only the entries for these permissions.")
@click.option("--applies-to", "-a", help="With --right: the entry's Applies to (default: any).")
@click.option("--type", "kind", type=click.Choice(["allow", "deny"]), help="Only Allow or only Deny entries.")
@click.option("--ace", "ace_text", help="Exactly this SDDL ACE, e.g. '(OD;;WP;bf967a0a-...;;S-1-5-21-...)'.")
@lab_option
def remove(dn: str, principal: str | None, rights: tuple[str, ...], applies_to: str | None, kind: str | None,
           ace_text: str | None, lab_url: str | None) -> None:
    """Remove explicit permission entries (inherited ones are removed where they are set)."""
    if not (principal or ace_text):
        raise click.UsageError("give --principal (optionally with --right/--applies-to/--type) or --ace")
    with session(lab_url) as s:
        target = s.dn(dn)
        want_deny = None if kind is None else kind == "deny"
        if ace_text:
            template = acl.parse_one_ace(ace_text, s.domain_sid)
            tests = [lambda a, t=template: acl.matches(a, template=t)]
        else:
            sid = acl.resolve_principal(s.conn, principal or "", s.base_dn)
            if rights:
                scopes = [applies_to] if applies_to else [
                    "This object only", "This object and all descendant objects", "All descendant objects",
                    *(f"Descendant {c} objects" for c in ("User", "inetOrgPerson", "Computer", "Group",
                                                          "Organizational Unit"))]
                templates = [acl.build_ace(sid, r, a, deny=d) for r in rights for a in scopes
                             for d in ((want_deny,) if want_deny is not None else (False, True))]
                tests = [lambda a, t=t: acl.matches(a, template=t) for t in templates]
            else:
                tests = [lambda a, sid=sid: acl.matches(a, sid=sid, deny=want_deny)]
        sd = acl.read(s.conn, target, flags=acl.constants.DACL_SECURITY_INFORMATION)
        new, removed = acl.remove_aces(sd, lambda a: any(t(a) for t in tests))
        if not removed:
            inherited = [a for a in (sd.dacl.aces if sd.dacl else ()) if a.inherited
                         and any(t(as_set) for t in tests for as_set in _as_set_on_parent(a))]
            where = ""
            if inherited:
                found = acl.find_origin(inherited[0], acl.read_ancestors(s.conn, target, s.base_dn))
                origin = found[0] if found else "the parent object"
                where = (f" The matching entry is inherited from {origin}: remove it there "
                         f"(simlab acl remove \"{origin}\" ...).")
            raise click.ClickException(f"No explicit permission entry on {target} matches.{where}")
        acl.write(s.conn, target, new)
        for ace in removed:
            click.echo(f"Removed {acl.describe(ace, s.who(ace.sid))} from {target}")


def _as_set_on_parent(ace: acl.Ace) -> list[acl.Ace]:
    """The explicit forms an inherited ACE may have on its parent (with or without Inherit only)."""
    k = acl.constants
    explicit = ace.flags & ~k.INHERITED_ACE
    return [ace.replace(flags=explicit), ace.replace(flags=explicit | k.INHERIT_ONLY_ACE)]


@acl_group.command("set", epilog=SHORTCUTS_HELP)
@click.argument("dn")
@click.option("--sddl", "sddl", required=True, help="A DACL in SDDL ('D:P(A;;GA;;;DA)...' or a whole SD).")
@lab_option
def set_cmd(dn: str, sddl: str, lab_url: str | None) -> None:
    """Replace DN's explicit entries (and the inheritance switch) with an SDDL DACL."""
    with session(lab_url) as s:
        target = s.dn(dn)
        new = acl.parse(sddl, s.domain_sid)
        if new.dacl is None:
            raise click.ClickException("the SDDL has no D: part (a DACL) to set")
        acl.read(s.conn, target, flags=acl.constants.DACL_SECURITY_INFORMATION)  # the object must exist
        acl.write(s.conn, target, new)
        explicit = [a for a in new.dacl.aces if not a.inherited]
        state = "disabled" if new.protected else "enabled"
        click.echo(f"Set the permissions of {target}: {len(explicit)} explicit entries, inheritance {state}")


@acl_group.command("protect", epilog=SHORTCUTS_HELP)
@click.argument("dn")
@click.option("--remove-inherited", is_flag=True,
              help="'Remove all inherited permissions' instead of converting them to explicit ones.")
@lab_option
def protect(dn: str, remove_inherited: bool, lab_url: str | None) -> None:
    """Disable inheritance on DN (ADUC: Advanced > Disable inheritance)."""
    with session(lab_url) as s:
        target = s.dn(dn)
        sd = acl.read(s.conn, target, flags=acl.constants.DACL_SECURITY_INFORMATION)
        inherited = sum(1 for a in (sd.dacl.aces if sd.dacl else ()) if a.inherited)
        acl.write(s.conn, target, acl.protect(sd, keep_inherited=not remove_inherited))
        what = f"removed {inherited}" if remove_inherited else f"converted {inherited}"
        click.echo(f"Disabled inheritance on {target}: {what} inherited entries"
                   + ("" if remove_inherited else " into explicit entries"))


@acl_group.command("inherit", epilog=SHORTCUTS_HELP)
@click.argument("dn")
@lab_option
def inherit(dn: str, lab_url: str | None) -> None:
    """Enable inheritance on DN again (ADUC: Advanced > Enable inheritance)."""
    with session(lab_url) as s:
        target = s.dn(dn)
        _edit(s, target, acl.unprotect)
        sd = acl.read(s.conn, target, flags=acl.constants.DACL_SECURITY_INFORMATION)
        inherited = sum(1 for a in (sd.dacl.aces if sd.dacl else ()) if a.inherited)
        click.echo(f"Enabled inheritance on {target}: it inherits {inherited} entries from its parent")

