"""ADUC user Properties: the Member Of and Account tabs, and "Reset Password..." on any user.

Every change is an LDAP modify as Administrator through the DC's operation API (what ADUC
sends): group ``member`` deletes, ``lockoutTime`` = 0, ``userAccountControl`` and
``pwdLastSet`` writes, a ``unicodePwd`` replace over an encrypted session. "User cannot
change password" is not an attribute: ADUC writes (or removes) Deny "Change password" ACEs
for Everyone and SELF on the user, so it goes through :meth:`Lab.edit_dacl`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fakes.ad.api import Change, LdapError, ModOp, Scope
from fakes.ad.passwords import encode_unicode_pwd
from fakes.ad.rights import right_by_name
from fakes.ad.security import constants as K
from fakes.ad.security.descriptor import Ace
from simlab.console.web import form, redirect, render, state_of, ticked

#: userAccountControl bits the Account tab shows (MS-ADTS 2.2.16).
UF_ACCOUNTDISABLE = 0x2
UF_DONT_EXPIRE_PASSWD = 0x10000
#: Everyone and SELF: the principals of ADUC's "User cannot change password" Deny ACEs.
CANNOT_CHANGE_SIDS = ("S-1-1-0", "S-1-5-10")


def cannot_change_aces() -> list[Ace]:
    """The two explicit Deny "Change password" object ACEs ADUC writes for the checkbox."""
    guid = right_by_name("Change Password").guid
    return [
        Ace(K.ACCESS_DENIED_OBJECT_ACE_TYPE, 0, K.RIGHT_DS_CONTROL_ACCESS, sid, guid)
        for sid in CANNOT_CHANGE_SIDS
    ]


def is_cannot_change_ace(ace: Ace) -> bool:
    """An explicit Deny Change password ACE for Everyone or SELF (what the checkbox reads back)."""
    return (
        ace.ace_type == K.ACCESS_DENIED_OBJECT_ACE_TYPE
        and not ace.inherited
        and ace.sid in CANNOT_CHANGE_SIDS
        and ace.object_type == right_by_name("Change Password").guid
    )


def _entry(lab: Any, dn: str) -> Any:
    attrs = ["sAMAccountName", "memberOf", "userAccountControl", "pwdLastSet", "lockoutTime", "adminCount"]
    return lab.dc.search(lab.dc.admin_session(), dn, Scope.BASE, "(objectClass=*)", attrs).entries[0]


def _q(dn: str) -> str:
    return quote(dn, safe="")


def _cn(dn: str) -> str:
    return dn.split(",", 1)[0].split("=", 1)[1]


async def user_properties(request: Request) -> Response:
    from simlab.console.pages_ad import _read_sd

    lab = state_of(request).lab
    dn = request.query_params.get("dn", "")
    try:
        entry = _entry(lab, dn)
    except (LdapError, IndexError):
        state_of(request).notify("error", f"Windows cannot find the object {dn}.")
        return redirect("/aduc")
    uac = int(entry.first("userAccountControl") or "512")
    sd = _read_sd(lab, dn)
    aces = sd.dacl.aces if sd.dacl else ()
    return render(
        request,
        "aduc_user.html",
        dn=dn,
        name=_cn(dn),
        sam=entry.first("sAMAccountName") or "",
        groups=sorted(entry.text("memberOf"), key=str.lower),
        locked=(entry.first("lockoutTime") or "0") != "0",
        never_expires=bool(uac & UF_DONT_EXPIRE_PASSWD),
        disabled=bool(uac & UF_ACCOUNTDISABLE),
        must_change=(entry.first("pwdLastSet") or "0") == "0",
        cannot_change=sum(is_cannot_change_ace(a) for a in aces) == len(CANNOT_CHANGE_SIDS),
        admin_count=entry.first("adminCount") or "",
        protected=sd.protected,
    )


async def remove_from_group(request: Request) -> Response:
    state = state_of(request)
    data = await form(request)
    dn, group = data.get("dn", ""), data.get("group", "")
    lab = state.lab
    try:
        lab.dc.modify(lab.dc.admin_session(), group, [Change(ModOp.DELETE, "member", (dn,))])
    except LdapError as err:
        state.notify("error", f"{err.code}: {err.message}")
    else:
        state.step(f"ADUC: removed {_cn(dn)} from {_cn(group)}")
        state.notify("ok", f"{_cn(dn)} was removed from {_cn(group)}.")
    return redirect(f"/aduc/user?dn={_q(dn)}#member-of")


async def account_save(request: Request) -> Response:
    """The Account tab's OK: unlock, and the account options as ADUC writes them."""
    state = state_of(request)
    lab = state.lab
    data = await form(request)
    dn = data.get("dn", "")
    entry = _entry(lab, dn)
    uac = int(entry.first("userAccountControl") or "512")
    changes: list[Change] = []
    done: list[str] = []
    if ticked(data, "unlock") and (entry.first("lockoutTime") or "0") != "0":
        changes.append(Change(ModOp.REPLACE, "lockoutTime", (b"0",)))
        done.append("unlocked")
    want_uac = (
        (uac | UF_DONT_EXPIRE_PASSWD) if ticked(data, "never_expires") else (uac & ~UF_DONT_EXPIRE_PASSWD)
    )
    if want_uac != uac:
        changes.append(Change(ModOp.REPLACE, "userAccountControl", (str(want_uac).encode(),)))
        done.append(f"Password never expires={ticked(data, 'never_expires')}")
    was_must = (entry.first("pwdLastSet") or "0") == "0"
    if ticked(data, "must_change") != was_must:
        # ADUC writes 0 to force a change and -1 ("now") to clear it.
        changes.append(Change(ModOp.REPLACE, "pwdLastSet", (b"0" if ticked(data, "must_change") else b"-1",)))
        done.append(f"User must change password at next logon={ticked(data, 'must_change')}")
    try:
        if changes:
            lab.dc.modify(lab.dc.admin_session(), dn, changes)
        _set_cannot_change(lab, dn, ticked(data, "cannot_change"), done)
    except LdapError as err:
        state.notify("error", f"Windows cannot complete the operation: {err.code} {err.message}")
        return redirect(f"/aduc/user?dn={_q(dn)}#account")
    if done:
        state.step(f"ADUC: {_cn(dn)} Account tab: {', '.join(done)}")
        state.notify("ok", f"{_cn(dn)}: {', '.join(done)}.")
    else:
        state.notify("info", "No changes.")
    return redirect(f"/aduc/user?dn={_q(dn)}#account")


def _set_cannot_change(lab: Any, dn: str, want: bool, done: list[str]) -> None:
    from simlab.console.pages_ad import _read_sd

    sd = _read_sd(lab, dn)
    present = sum(is_cannot_change_ace(a) for a in (sd.dacl.aces if sd.dacl else ()))
    have = present == len(CANNOT_CHANGE_SIDS)
    if want == have:
        return
    if want:
        lab.edit_dacl(
            dn, lambda aces: [*cannot_change_aces(), *[a for a in aces if not is_cannot_change_ace(a)]]
        )
    else:
        lab.edit_dacl(dn, lambda aces: [a for a in aces if not is_cannot_change_ace(a)])
    done.append(f"User cannot change password={want}")


async def reset_password(request: Request) -> Response:
    """Reset Password...: a unicodePwd replace as Administrator over an encrypted session."""
    state = state_of(request)
    lab = state.lab
    data = await form(request)
    dn, new, confirm = data.get("dn", ""), data.get("password", ""), data.get("confirm", "")
    back = f"/aduc/user?dn={_q(dn)}#reset"
    if new != confirm:
        state.notify("error", "The passwords do not match.")
        return redirect(back)
    changes = [Change(ModOp.REPLACE, "unicodePwd", (encode_unicode_pwd(new),))]
    if ticked(data, "must_change"):
        changes.append(Change(ModOp.REPLACE, "pwdLastSet", (b"0",)))
    if ticked(data, "unlock"):
        changes.append(Change(ModOp.REPLACE, "lockoutTime", (b"0",)))
    try:
        lab.dc.modify(lab.dc.admin_session(encrypted=True), dn, changes)
    except LdapError as err:
        state.notify(
            "error", f"Windows cannot complete the password change for {_cn(dn)}: {err.code} {err.message}"
        )
    else:
        state.step(f"ADUC: reset the password of {_cn(dn)}")
        state.notify("ok", f"The password for {_cn(dn)} has been changed.")
    return redirect(back)


def routes() -> list[Route]:
    return [
        Route("/aduc/user", user_properties),
        Route("/aduc/user/memberof/remove", remove_from_group, methods=["POST"]),
        Route("/aduc/user/account", account_save, methods=["POST"]),
        Route("/aduc/user/reset", reset_password, methods=["POST"]),
    ]
