"""The Entra Connect server (wizard pages, connector, service) and Event Viewer.

Wizard actions call :class:`~fakes.connect.server.ConnectServer` the way the wizard does
(tenant sign-in with the credentials typed on the page, onboarding/offboarding events);
Event Viewer reads the Connect server's Application log and the DC's Security log.
"""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fakes.connect.server import WizardError
from simlab.console.web import form, redirect, render, state_of, ticked

#: The Optional features page, in the wizard's order: (config field, label, simulated?).
FEATURES = (
    ("exchange_hybrid", "Exchange hybrid deployment", False),
    ("password_hash_sync", "Password hash synchronization", True),
    ("password_writeback", "Password writeback", True),
    ("group_writeback", "Group writeback", False),
    ("device_writeback", "Device writeback", False),
    ("directory_extensions", "Directory extension attribute sync", False),
)
LOGS = ("Application", "Security")
EVENT_LEVELS = ("Information", "Warning", "Error", "Audit Success", "Audit Failure")


async def configuration(request: Request) -> Response:
    connect = state_of(request).lab.connect
    return render(
        request,
        "connect.html",
        view=connect.view_configuration(),
        config=connect.config,
        running=connect.service_running,
    )


async def features(request: Request) -> Response:
    lab = state_of(request).lab
    return render(
        request,
        "connect_features.html",
        features=FEATURES,
        current=lab.connect.config.features,
        admin_upn=request.query_params.get("upn", ""),
        wizard_error=None,
    )


async def features_save(request: Request) -> Response:
    state = state_of(request)
    connect = state.lab.connect
    data = await form(request)
    upn, password = data.get("upn", "").strip(), data.get("password", "")
    current = connect.config.features
    want_writeback = ticked(data, "password_writeback")
    want_phs = ticked(data, "password_hash_sync")
    try:
        if want_phs != current.password_hash_sync:
            connect.update_config(
                features=dataclasses.replace(connect.config.features, password_hash_sync=want_phs)
            )
        if want_writeback != current.password_writeback:
            result = connect.configure_writeback(want_writeback, admin_upn=upn, admin_password=password)
            state.notify(
                "ok", f"Configuration complete. Events written: {', '.join(map(str, result.event_ids))}."
            )
        else:
            state.notify("info", "Configuration complete. Password writeback unchanged.")
    except WizardError as err:
        state.step(f"Connect wizard: optional features (failed: {err.message})")
        return render(
            request,
            "connect_features.html",
            status=400,
            features=FEATURES,
            current=connect.config.features,
            admin_upn=upn,
            wizard_error=f"{err.message} (events {', '.join(map(str, err.event_ids))})",
        )
    state.step(f"Connect wizard: password writeback={want_writeback}, password hash sync={want_phs}")
    return redirect("/connect")


async def staging(request: Request) -> Response:
    state = state_of(request)
    enabled = ticked(await form(request), "staging")
    state.lab.connect.set_staging_mode(enabled)
    state.step(f"Connect wizard: staging mode={enabled}")
    state.notify("ok", f"Staging mode {'enabled' if enabled else 'disabled'}.")
    return redirect("/connect")


async def connector(request: Request) -> Response:
    """Connector Properties > Connect to Active Directory Forest: signing and the account's password.

    A blank password keeps the stored one (the real page shows it masked); a typed one replaces
    what Connect binds with, which is the fix after someone reset the account in ADUC.
    """
    state = state_of(request)
    connect = state.lab.connect
    data = await form(request)
    domain = data.get("domain", "")
    sign = ticked(data, "sign_and_encrypt")
    password = data.get("password", "")
    try:
        current = next(d for d in connect.config.directories if d.domain.lower() == domain.lower())
        changes: dict[str, object] = {"sign_and_encrypt": sign}
        if password:
            changes["connector"] = dataclasses.replace(current.connector, password=password)
        connect.update_directory(domain, **changes)
    except (KeyError, StopIteration):
        state.notify("error", f"no synchronized directory {domain!r}")
    else:
        what = f"Sign and Encrypt LDAP Traffic={sign}" + (", connector account password" if password else "")
        state.step(f"Synchronization Service Manager: {domain} {what}")
        state.notify("ok", f"Connector {domain} saved.")
    return redirect("/connect")


async def ou_filtering(request: Request) -> Response:
    """Customize synchronization options > Domain and OU filtering."""
    lab = state_of(request).lab
    from fakes.ad.api import Scope
    from simlab.console.pages_ad import CONTAINER_FILTER, _admin_search

    root = lab.dc.domain_dn
    ous = sorted(
        (e.dn for e in _admin_search(lab, root, Scope.SUBTREE, CONTAINER_FILTER, ["name"])),
        key=lambda dn: list(reversed(dn.lower().split(","))),
    )
    directory = lab.connect.config.directories[0]
    return render(
        request,
        "connect_ou.html",
        domain=directory.domain,
        ous=ous,
        root=root,
        selected={dn.lower() for dn in directory.ou_filter},
        all_ous=not directory.ou_filter,
    )


async def ou_filtering_save(request: Request) -> Response:
    state = state_of(request)
    connect = state.lab.connect
    body = (await request.body()).decode("utf-8", "replace")
    from urllib.parse import parse_qsl

    pairs = parse_qsl(body, keep_blank_values=True)
    data = dict(pairs)
    domain = data.get("domain", "")
    chosen = tuple(v for k, v in pairs if k == "ou")
    everything = data.get("scope") == "all"
    if not everything and not chosen:
        state.notify("error", "Select at least one organizational unit, or Sync all domains and OUs.")
        return redirect("/connect/ou-filtering")
    try:
        connect.update_directory(domain, ou_filter=() if everything else chosen)
    except KeyError as err:
        state.notify("error", str(err).strip("'\""))
        return redirect("/connect/ou-filtering")
    state.step(f"Connect wizard: Domain and OU filtering ({'all' if everything else len(chosen)} OUs)")
    if ticked(data, "start_sync"):
        # "Start the synchronization process when configuration completes": a full (Initial) cycle.
        try:
            report = connect.run_sync_cycle("Initial")
        except RuntimeError as err:
            state.notify("error", f"Configuration complete, but the synchronization did not run: {err}")
            return redirect("/connect")
        state.notify("ok", f"Configuration complete. Initial synchronization: {_summary(report)}")
    else:
        state.notify("ok", "Configuration complete. Changes apply at the next synchronization cycle.")
    return redirect("/connect")


async def service(request: Request) -> Response:
    state = state_of(request)
    action = (await form(request)).get("action")
    connect = state.lab.connect
    if action == "start":
        connect.start_service()
    elif action == "stop":
        connect.stop_service()
    else:
        state.notify("error", f"Unknown service action {action!r}.")
        return redirect("/connect")
    state.step(f"Services: {action} Microsoft Azure AD Sync")
    state.notify("ok", f"Microsoft Azure AD Sync {'started' if action == 'start' else 'stopped'}.")
    return redirect("/connect")


async def sync_cycle(request: Request) -> Response:
    state = state_of(request)
    try:
        report = state.lab.connect.run_sync_cycle("Delta")
    except RuntimeError as err:
        state.notify("error", f"Start-ADSyncSyncCycle: {err}")
    else:
        state.step("Start-ADSyncSyncCycle -PolicyType Delta")
        state.notify("ok", f"Result: Success ({_summary(report)})")
    return redirect("/connect")


def _summary(report: object) -> str:
    fields = dataclasses.asdict(report) if dataclasses.is_dataclass(report) else {}
    parts = [f"{k}={v}" for k, v in fields.items() if isinstance(v, int | str) and not isinstance(v, bool)]
    return ", ".join(parts[:6]) or "done"


async def events(request: Request) -> Response:
    lab = state_of(request).lab
    q = request.query_params
    log_name = q.get("log") if q.get("log") in LOGS else "Application"
    log = lab.connect.eventlog if log_name == "Application" else lab.dc.security_log
    ids = {int(x) for x in q.get("ids", "").replace(" ", "").split(",") if x.isdigit()} or None
    level = q.get("level") if q.get("level") in EVENT_LEVELS else None
    found = log.query(log=log_name, event_ids=ids, level=level, source=q.get("source") or None)
    return render(
        request,
        "events.html",
        events=list(reversed(found)),
        log_name=log_name,
        logs=LOGS,
        levels=EVENT_LEVELS,
        computer=log.computer,
        q=q,
        sources=sorted({e.source for e in log.query(log=log_name)}),
    )


def routes() -> list[Route]:
    return [
        Route("/connect", configuration),
        Route("/connect/features", features),
        Route("/connect/features", features_save, methods=["POST"]),
        Route("/connect/staging", staging, methods=["POST"]),
        Route("/connect/connector", connector, methods=["POST"]),
        Route("/connect/ou-filtering", ou_filtering),
        Route("/connect/ou-filtering", ou_filtering_save, methods=["POST"]),
        Route("/connect/service", service, methods=["POST"]),
        Route("/connect/sync", sync_cycle, methods=["POST"]),
        Route("/events", events),
    ]
