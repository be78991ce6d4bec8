"""Active Directory Users and Computers (Advanced Security) and the Default Domain Policy GPO.

Reads are LDAP searches as Administrator through the DC's operation API; DACL writes go
through :meth:`Lab.edit_dacl`, which does what ADUC does (read the DACL with the SD flags
control, keep the explicit ACEs, write the DACL back), so the DC's own checks, canonical
ordering and re-propagation to descendants all apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fakes.ad.api import Control, LdapError, Scope
from fakes.ad.controls import PAGED_RESULTS, SD_FLAGS, decode_paged, encode_paged, encode_sd_flags
from fakes.ad.rights import AppliesTo, RightsError, describe_ace, make_ace
from fakes.ad.security import constants as K
from fakes.ad.security.descriptor import Ace, SecurityDescriptor
from fakes.ad.security.sddl import format_ace
from fakes.ad.sid import sid_from_bytes
from simlab.console.web import form, redirect, render, state_of, ticked

CONTAINER_FILTER = "(|(objectClass=organizationalUnit)(objectClass=container)(objectClass=builtinDomain))"
WELL_KNOWN = {
    "S-1-1-0": "Everyone",
    "S-1-5-10": "SELF",
    "S-1-5-11": "Authenticated Users",
    "S-1-5-18": "SYSTEM",
    "S-1-3-0": "CREATOR OWNER",
    "S-1-5-9": "ENTERPRISE DOMAIN CONTROLLERS",
    "S-1-5-32-544": "Administrators",
    "S-1-5-32-548": "Account Operators",
    "S-1-5-32-554": "Pre-Windows 2000 Compatible Access",
    "S-1-5-32-560": "Windows Authorization Access Group",
    "S-1-5-32-561": "Terminal Server License Servers",
}
#: ADUC's "Applies to" list as offered in the Permission Entry dialog: (value, label).
APPLIES_CHOICES = (
    ("this", AppliesTo.THIS_OBJECT_ONLY.value),
    ("tree", AppliesTo.THIS_OBJECT_AND_DESCENDANTS.value),
    ("descendants", AppliesTo.ALL_DESCENDANTS.value),
    ("class:user", "Descendant User objects"),
    ("class:inetOrgPerson", "Descendant inetOrgPerson objects"),
    ("class:computer", "Descendant Computer objects"),
    ("class:group", "Descendant Group objects"),
    ("class:organizationalUnit", "Descendant Organizational Unit objects"),
)
#: Permission choices, grouped as ADUC's Permissions and Properties lists name them: (group, value, label).
PERMISSION_CHOICES = (
    ("Permissions", "mask:full", "Full control"),
    ("Permissions", "mask:readall", "Read all properties"),
    ("Permissions", "mask:writeall", "Write all properties"),
    ("Permissions", "right:Reset Password", "Reset password"),
    ("Permissions", "right:Change Password", "Change password"),
    ("Permissions", "right:Unexpire Password", "Unexpire password"),
    ("Permissions", "right:Replicating Directory Changes", "Replicating Directory Changes"),
    ("Permissions", "right:Replicating Directory Changes All", "Replicating Directory Changes All"),
    ("Properties", "write:lockoutTime", "Write lockoutTime"),
    ("Properties", "write:pwdLastSet", "Write pwdLastSet"),
    ("Properties", "read:lockoutTime", "Read lockoutTime"),
    ("Properties", "read:pwdLastSet", "Read pwdLastSet"),
    ("Properties", "write:userAccountControl", "Write userAccountControl"),
    ("Properties", "write:mS-DS-ConsistencyGuid", "Write mS-DS-ConsistencyGuid"),
    ("Properties", "right:User-Account-Restrictions", "Write Account Restrictions"),
)
_MASKS = {
    "full": K.DS_GENERIC_ALL,
    "readall": K.RIGHT_DS_READ_PROPERTY,
    "writeall": K.RIGHT_DS_WRITE_PROPERTY,
}
OWNER_AND_DACL = 0x1 | 0x4


@dataclass(frozen=True, slots=True)
class TreeNode:
    dn: str
    name: str
    children: tuple[TreeNode, ...]


def build_tree(root_dn: str, container_dns: list[str]) -> TreeNode:
    """Nest container DNs under the domain root by their parent DN (case-insensitive)."""
    by_parent: dict[str, list[str]] = {}
    for dn in container_dns:
        by_parent.setdefault(dn.split(",", 1)[1].lower() if "," in dn else "", []).append(dn)

    def node(dn: str) -> TreeNode:
        kids = sorted(by_parent.get(dn.lower(), []), key=lambda d: _rdn_value(d).lower())
        return TreeNode(dn, _rdn_value(dn), tuple(node(k) for k in kids))

    return node(root_dn)


def _rdn_value(dn: str) -> str:
    if dn.upper().startswith("DC="):
        return ".".join(p.split("=", 1)[1] for p in dn.split(",") if p.strip().upper().startswith("DC="))
    return dn.split(",", 1)[0].split("=", 1)[1]


def parse_permission(value: str) -> dict[str, Any]:
    """Map a Permission Entry choice (``right:Reset Password``) to :func:`make_ace` keywords."""
    kind, _, arg = value.partition(":")
    if kind == "right" and arg:
        return {"right": arg}
    if kind == "write" and arg:
        return {"write_property": arg}
    if kind == "read" and arg:
        return {"read_property": arg}
    if kind == "mask" and arg in _MASKS:
        return {"mask": _MASKS[arg]}
    raise RightsError(f"unknown permission {value!r}")


def parse_applies(value: str) -> tuple[AppliesTo, str | None]:
    """Map an Applies to choice (``class:user``) to the :class:`AppliesTo` and descendant class."""
    simple = {
        "this": AppliesTo.THIS_OBJECT_ONLY,
        "tree": AppliesTo.THIS_OBJECT_AND_DESCENDANTS,
        "descendants": AppliesTo.ALL_DESCENDANTS,
    }
    if value in simple:
        return simple[value], None
    if value.startswith("class:") and len(value) > 6:
        return AppliesTo.DESCENDANT_CLASS, value[6:]
    raise RightsError(f"unknown Applies to {value!r}")


# -- directory reads --------------------------------------------------------------------------
def _admin_search(lab: Any, base: str, scope: Scope, flt: str, attrs: list[str], sd_flags: int = 0) -> list:
    """Every entry found, a page at a time as ADUC asks (the DC stops a search without paging
    at MaxPageSize, 1000 entries: an OU of a big lab holds more)."""
    controls: tuple[Control, ...] = (Control(SD_FLAGS, True, encode_sd_flags(sd_flags)),) if sd_flags else ()
    session, cookie, entries = lab.dc.admin_session(), b"", []
    while True:
        paged = Control(PAGED_RESULTS, False, encode_paged(lab.dc.max_page_size, cookie))
        result = lab.dc.search(session, base, scope, flt, attrs, controls=(*controls, paged))
        entries.extend(result.entries)
        cookie = decode_paged(result.result.controls[0].value)[1]
        if not cookie:
            return entries


def _account_name(lab: Any, sid: str) -> str:
    if sid in WELL_KNOWN:
        return WELL_KNOWN[sid]
    entry = lab.dc.directory.by_sid(sid)  # ADUC resolves SIDs through LSA; this is the lab's lookup
    if entry is None:
        return sid
    sam = (entry.attrs.get("samaccountname") or [""])[0]
    cn = entry.dn.split(",", 1)[0].split("=", 1)[1]
    return f"{cn} ({lab.dc.netbios_name}\\{sam})" if sam else cn


def resolve_principal(lab: Any, name: str) -> str:
    """sAMAccountName, DOMAIN\\name or a well-known name -> SID (as the object picker does)."""
    text = name.strip().split("\\")[-1]
    for sid, label in WELL_KNOWN.items():
        if label.lower() == text.lower():
            return sid
    hits = _admin_search(
        lab, lab.dc.domain_dn, Scope.SUBTREE, f"(sAMAccountName={_escape(text)})", ["objectSid"]
    )
    if not hits:
        raise RightsError(f'Name Not Found: An object named "{name}" cannot be found.')
    return sid_from_bytes(hits[0].get("objectSid")[0])


def _escape(value: str) -> str:
    return "".join(f"\\{ord(c):02x}" if c in "*()\\\0" else c for c in value)


def _read_sd(lab: Any, dn: str) -> SecurityDescriptor:
    entries = _admin_search(lab, dn, Scope.BASE, "(objectClass=*)", ["nTSecurityDescriptor"], OWNER_AND_DACL)
    return SecurityDescriptor.from_bytes(entries[0].get("nTSecurityDescriptor")[0])


# -- pages -------------------------------------------------------------------------------------
async def aduc(request: Request) -> Response:
    lab = state_of(request).lab
    root = lab.dc.domain_dn
    dn = request.query_params.get("dn") or root
    containers = [e.dn for e in _admin_search(lab, root, Scope.SUBTREE, CONTAINER_FILTER, ["name"])]
    try:
        children = _admin_search(
            lab,
            dn,
            Scope.ONELEVEL,
            "(objectClass=*)",
            ["name", "objectClass", "description", "sAMAccountName"],
        )
    except LdapError as err:
        return render(
            request,
            "aduc.html",
            status=404,
            tree=build_tree(root, containers),
            dn=root,
            rows=[],
            error=f"{err.code}: {err.message}",
        )
    rows = []
    for e in children:
        classes = [c.lower() for c in e.text("objectClass")]
        kind = next(
            (k for k in ("user", "computer", "group", "organizationalunit", "container") if k in classes),
            classes[-1] if classes else "",
        )
        rows.append(
            {
                "dn": e.dn,
                "name": _rdn_value(e.dn),
                "type": _TYPE_LABEL.get(kind, kind),
                "description": e.first("description") or "",
            }
        )
    rows.sort(key=lambda r: (r["type"] != "Organizational Unit", r["name"].lower()))
    return render(request, "aduc.html", tree=build_tree(root, containers), dn=dn, rows=rows, error=None)


_TYPE_LABEL = {
    "user": "User",
    "computer": "Computer",
    "group": "Security Group",
    "organizationalunit": "Organizational Unit",
    "container": "Container",
}


async def security(request: Request) -> Response:
    lab = state_of(request).lab
    dn = request.query_params.get("dn") or lab.dc.domain_dn
    sd = _read_sd(lab, dn)
    sid = lab.dc.domain_sid
    rows = []
    for ace in sd.dacl.aces if sd.dacl else ():
        row = describe_ace(ace, sid, lambda s: _account_name(lab, s))
        row["sddl"] = format_ace(ace, sid)
        rows.append(row)
    principals = ["Everyone", "SELF", "Authenticated Users", "Domain Admins", "Domain Users"]
    if lab.dc.connector_dn:
        connector = lab.dc.directory.get(lab.dc.connector_dn)
        if connector is not None:
            principals.insert(0, connector.attrs["samaccountname"][0])
    return render(
        request,
        "aduc_security.html",
        dn=dn,
        name=_rdn_value(dn),
        rows=rows,
        protected=sd.protected,
        owner=_account_name(lab, sd.owner) if sd.owner else "",
        principals=principals,
        applies=APPLIES_CHOICES,
        permissions=PERMISSION_CHOICES,
    )


async def security_add(request: Request) -> Response:
    state = state_of(request)
    lab = state.lab
    data = await form(request)
    dn = data.get("dn", "")
    try:
        sid = resolve_principal(lab, data.get("principal", ""))
        applies, cls = parse_applies(data.get("applies", ""))
        ace = make_ace(
            sid,
            applies_to=applies,
            descendant_class=cls,
            deny=data.get("type") == "deny",
            **parse_permission(data.get("permission", "")),
        )
        lab.edit_dacl(dn, lambda aces: [*aces, ace])
    except (RightsError, KeyError) as err:
        state.notify("error", str(err).strip("'\""))
    except LdapError as err:
        state.notify("error", f"Windows can't set the permissions: {err.code} {err.message}")
    else:
        label = next((lbl for _, v, lbl in PERMISSION_CHOICES if v == data.get("permission")), "?")
        state.step(f"ADUC: added {data.get('type', 'allow')} '{label}' for {data.get('principal')} on {dn}")
        state.notify("ok", f"Added: {data.get('type', 'allow').title()} {data.get('principal')} — {label}.")
    return redirect(f"/aduc/security?dn={_q(dn)}")


async def security_remove(request: Request) -> Response:
    state = state_of(request)
    lab = state.lab
    data = await form(request)
    dn, target = data.get("dn", ""), data.get("sddl", "")
    sid = lab.dc.domain_sid
    removed: list[Ace] = []

    def drop(aces: list[Ace]) -> list[Ace]:
        out = []
        for ace in aces:
            if not removed and format_ace(ace, sid) == target:
                removed.append(ace)
                continue
            out.append(ace)
        return out

    try:
        lab.edit_dacl(dn, drop)
    except LdapError as err:
        state.notify("error", f"Windows can't set the permissions: {err.code} {err.message}")
        return redirect(f"/aduc/security?dn={_q(dn)}")
    if removed:
        state.step(f"ADUC: removed {target} on {dn}")
        state.notify("ok", "Permission entry removed.")
    else:
        state.notify(
            "error", "That permission entry is no longer there (inherited entries can't be removed)."
        )
    return redirect(f"/aduc/security?dn={_q(dn)}")


async def security_inheritance(request: Request) -> Response:
    state = state_of(request)
    lab = state.lab
    data = await form(request)
    dn, action = data.get("dn", ""), data.get("action", "")
    try:
        if action == "enable":
            lab.edit_dacl(dn, lambda aces: aces, protect=False)
        elif action == "convert":
            sd = _read_sd(lab, dn)
            everything = [
                a.replace(flags=a.flags & ~K.INHERITED_ACE) for a in (sd.dacl.aces if sd.dacl else ())
            ]
            lab.edit_dacl(dn, lambda aces: everything, protect=True)
        elif action == "remove":
            lab.edit_dacl(dn, lambda aces: aces, protect=True)
        else:
            raise RightsError(f"unknown inheritance action {action!r}")
    except (LdapError, RightsError) as err:
        state.notify("error", str(err))
    else:
        state.step(f"ADUC: inheritance {action} on {dn}")
        state.notify("ok", "Enabled inheritance." if action == "enable" else "Disabled inheritance.")
    return redirect(f"/aduc/security?dn={_q(dn)}")


def _q(dn: str) -> str:
    from urllib.parse import quote

    return quote(dn, safe="")


# -- Group Policy ---------------------------------------------------------------------------------
#: Default Domain Policy > Computer Configuration > ... > Account Policies, as the GPO editor labels them.
GPO_FIELDS = (
    ("history", "Enforce password history", "passwords remembered"),
    ("max_age_days", "Maximum password age", "days"),
    ("min_age_days", "Minimum password age", "days"),
    ("min_length", "Minimum password length", "characters"),
    ("complexity", "Password must meet complexity requirements", ""),
    ("lockout_duration_minutes", "Account lockout duration", "minutes"),
    ("lockout_threshold", "Account lockout threshold", "invalid logon attempts"),
    ("lockout_window_minutes", "Reset account lockout counter after", "minutes"),
)


#: Default Domain Controllers Policy > ... > Local Policies > Security Options: (key, label, choices).
DC_GPO_FIELDS = (
    ("ldap_server_signing", "Domain controller: LDAP server signing requirements",
     (("none", "None"), ("require", "Require signing"))),
    ("ldap_channel_binding", "Domain controller: LDAP server channel binding token requirements",
     (("never", "Never"), ("when_supported", "When supported"), ("always", "Always"))),
)


async def gpo(request: Request) -> Response:
    lab = state_of(request).lab
    return render(
        request,
        "gpo.html",
        fields=GPO_FIELDS,
        settings=lab.gpo.settings.model_dump(),
        applied=lab.gpo.applied.model_dump() if lab.gpo.applied else {},
        pending=lab.gpo.pending,
        dc_fields=DC_GPO_FIELDS,
        dc_settings=lab.dc_gpo.settings.model_dump(),
        dc_applied=lab.dc_gpo.applied.model_dump() if lab.dc_gpo.applied else {},
        dc_pending=lab.dc_gpo.pending,
        output=request.query_params.get("output"),
    )


async def dc_gpo_save(request: Request) -> Response:
    state = state_of(request)
    data = await form(request)
    try:
        state.lab.dc_gpo.edit(**{key: data[key] for key, _, _ in DC_GPO_FIELDS if key in data})
    except ValidationError as err:
        first = err.errors()[0]
        state.notify("error", f"{first['loc'][0] if first['loc'] else 'value'}: {first['msg']}")
    else:
        state.step("Group Policy: edited Default Domain Controllers Policy security options")
        state.notify("ok", "Default Domain Controllers Policy saved. Domain controllers apply it at the next "
                     "refresh.")
    return redirect("/gpo")


async def gpo_save(request: Request) -> Response:
    state = state_of(request)
    data = await form(request)
    changes: dict[str, Any] = {"complexity": ticked(data, "complexity")}
    for key, _, _ in GPO_FIELDS:
        if key != "complexity" and key in data:
            changes[key] = data[key]
    try:
        state.lab.gpo.edit(**changes)
    except ValidationError as err:
        first = err.errors()[0]
        state.notify("error", f"{first['loc'][0] if first['loc'] else 'value'}: {first['msg']}")
    else:
        state.step("Group Policy: edited Default Domain Policy password settings")
        state.notify("ok", "Default Domain Policy saved. Domain controllers apply it at the next refresh.")
    return redirect("/gpo")


async def gpupdate(request: Request) -> Response:
    state = state_of(request)
    state.lab.gpupdate()
    state.step("DC01: gpupdate /force")
    return redirect("/gpo?output=done")


def routes() -> list[Route]:
    return [
        Route("/aduc", aduc),
        Route("/aduc/security", security),
        Route("/aduc/security/add", security_add, methods=["POST"]),
        Route("/aduc/security/remove", security_remove, methods=["POST"]),
        Route("/aduc/security/inheritance", security_inheritance, methods=["POST"]),
        Route("/gpo", gpo),
        Route("/gpo", gpo_save, methods=["POST"]),
        Route("/gpo/gpupdate", gpupdate, methods=["POST"]),
        Route("/gpo/dc", dc_gpo_save, methods=["POST"]),
    ]
