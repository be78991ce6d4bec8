"""A full import read in a forked helper process gives the same lab as the in-process read.

Each test builds served labs (the DC over LDAPS in the lab's own process) with the helper
forced on or off (``SIMLAB_SYNC_HELPER``) and compares what Connect imported and exported, or
the error it raised. Failures of the helper itself (it exits, is killed, hangs) must come back
as a clear error with no process or descriptor left behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest
from ldap3.core.exceptions import LDAPSocketReceiveError

from fakes.ad.api import LdapResult, SearchResult
from fakes.connect import import_helper
from fakes.connect import sync as sync_module
from fakes.connect.import_helper import ImportHelperError
from fakes.connect.ldapread import BerError
from fakes.connect.sync import SyncError
from simlab.lab import Lab
from simlab.spec import LabSpec
from tests.connect.helpers import record_connections

USERS = 300


def _lab(helper: str, monkeypatch: pytest.MonkeyPatch, **spec: object) -> Lab:
    monkeypatch.setenv("SIMLAB_SYNC_HELPER", helper)
    return Lab(LabSpec.model_validate({"seed": 5, "population": {"users": USERS}, **spec}))


def _synced(lab: Lab) -> tuple[list, dict, list]:
    """Connect's connector space (in order), its high USNs and the tenant's synced users."""
    users = [(u.id, u.user_principal_name, u.display_name, u.on_premises_immutable_id,
              u.on_premises_sam_account_name, u.account_enabled) for u in lab.tenant.users.values()]
    sync = lab.connect.sync
    return list(sync.connector_space.items()), dict(sync._high_usn), users


def _gone(pid: int) -> bool:
    """The child was reaped: no zombie, no process."""
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return not Path(f"/proc/{pid}").exists()


def _fds() -> set[str]:
    """This process's open descriptors other than sockets (the DC in this process closes its side
    of a dropped connection when its reactor gets to it): the helper's pipes show up here."""
    fds = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                fds.add(fd)
    return fds


def test_the_helper_imports_the_same_lab(monkeypatch: pytest.MonkeyPatch, forks: list[int]):
    with _lab("0", monkeypatch) as lab:
        without = _synced(lab)
    assert not forks
    with _lab("1", monkeypatch) as lab:
        assert forks and all(_gone(pid) for pid in forks)  # the initial sync used (and reaped) it
        assert _synced(lab) == without
        space, _, users = without
        assert len(space) >= USERS and len(users) > USERS  # every user, plus the tenant admin
        # A delta cycle after the helper's import picks up an on-premises change (from its USN).
        admin = lab.ldap()
        try:
            renamed = {"displayName": [(ldap3.MODIFY_REPLACE, ["Alice Renamed"])]}
            assert admin.modify(lab.user("alice").dn, renamed)
        finally:
            admin.unbind()
        report = lab.connect.run_sync_cycle("Delta")
        assert report.imported == 1 and report.exported == 1
        assert lab.tenant.get_user("alice@contoso.com").display_name == "Alice Renamed"


def test_the_lab_imports_its_graph_server_while_the_helper_reads(monkeypatch: pytest.MonkeyPatch,
                                                                 forks: list[int]):
    from simlab import lab as lab_module

    calls: list[tuple[int, int]] = []  # (forks so far, connector objects so far) at each call
    spaces: list[dict] = []

    def while_reading() -> None:
        calls.append((len(forks), len(spaces[0].connector_space)))

    monkeypatch.setattr(lab_module, "_import_graph_server", while_reading)
    monkeypatch.setattr(sync_module.SyncEngine, "run", _noting_engine(sync_module.SyncEngine.run, spaces))
    with _lab("1", monkeypatch) as lab:
        # Once, in this process, after the fork and before any object came back; then unset.
        assert calls == [(1, 0)] and lab.connect.sync.while_helper_reads is None
        assert len(lab.connect.sync.connector_space) >= USERS
    calls.clear()
    with _lab("0", monkeypatch):
        assert calls == []  # no helper process: nothing to overlap


def _noting_engine(run, spaces: list):
    def noted(self, *args, **kwargs):
        spaces.append(self)
        return run(self, *args, **kwargs)
    return noted


def test_the_helper_keeps_the_ou_filter(monkeypatch: pytest.MonkeyPatch):
    ou = "OU=Sales,OU=Staff,DC=contoso,DC=com"
    results = []
    for helper in ("0", "1"):
        with _lab(helper, monkeypatch, connect={"ou_filter": [ou]}) as lab:
            results.append(_synced(lab))
            space = lab.connect.sync.connector_space.values()
            assert space and all(o.dn.lower().endswith("," + ou.lower()) for o in space)
    assert results[0] == results[1]


def test_a_refused_bind_is_the_same_error(monkeypatch: pytest.MonkeyPatch, forks: list[int]):
    errors = []
    for helper in ("0", "1"):
        with _lab(helper, monkeypatch) as lab:
            directory = lab.connect.config.directories[0]
            lab.connect.update_directory(
                directory.domain, connector=dataclasses.replace(directory.connector, password="wrong"))
            with pytest.raises(SyncError) as caught:
                lab.connect.run_sync_cycle("Initial")
            errors.append((type(caught.value), caught.value.code, caught.value.message))
    assert errors[0] == errors[1] and errors[0][:2] == (SyncError, 49)
    assert len(forks) == 1  # the 300-user lab's initial sync; the refused bind never forked


def test_a_refused_bind_closes_its_connection(monkeypatch: pytest.MonkeyPatch):
    # Connect retries every cycle: a connection left open per refused bind is a socket per cycle.
    opened = record_connections(monkeypatch, sync_module)
    with _lab("0", monkeypatch) as lab:
        directory = lab.connect.config.directories[0]
        lab.connect.update_directory(
            directory.domain, connector=dataclasses.replace(directory.connector, password="wrong"))
        for _ in range(3):
            with pytest.raises(SyncError):
                lab.connect.run_sync_cycle("Delta")
    assert len(opened) == 4 and all(conn.closed and conn.socket is None for conn in opened)


def test_an_unreachable_dc_leaves_no_socket_behind(monkeypatch: pytest.MonkeyPatch):
    # A DC that refuses the connection: ldap3 keeps the socket it made for the attempt, and only
    # the garbage collector would close it. The sync closes it itself, cycle after cycle.
    opened = record_connections(monkeypatch, sync_module)
    with _lab("0", monkeypatch) as lab:
        directory = lab.connect.config.directories[0]
        lab.connect.update_directory(directory.domain, ldaps_port=_closed_port(), ldap_port=_closed_port())
        for _ in range(2):
            with pytest.raises(ldap3.core.exceptions.LDAPSocketOpenError):
                lab.connect.run_sync_cycle("Delta")
    refused = opened[1:]  # (the first is the build's initial sync)
    assert len(refused) == 2 and all(conn.socket is None for conn in refused)


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed: connecting to it is refused)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _refuse_second_page(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """The DC answers the connector's second page with an error (the search cannot go on)."""
    monkeypatch.setattr(sync_module, "PAGE_SIZE", 100)  # several pages at 300 users
    real_search = lab.dc.search
    pages = []

    def search(session, base, *args, **kwargs):
        if (session.principal_dn or "").lower() == lab.connect.config.directories[0].connector.dn.lower():
            pages.append(base)
            if len(pages) == 2:
                return SearchResult(result=LdapResult(51, "00002024: test: the server is busy"))
        return real_search(session, base, *args, **kwargs)

    monkeypatch.setattr(lab.dc, "search", search)


def test_a_search_refused_mid_import_is_the_same_error(monkeypatch: pytest.MonkeyPatch, forks: list[int]):
    errors = []
    for helper in ("0", "1"):
        with _lab(helper, monkeypatch) as lab, monkeypatch.context() as patch:
            before = _synced(lab)
            _refuse_second_page(lab, patch)
            fds = _fds()
            with pytest.raises(SyncError) as caught:
                lab.connect.run_sync_cycle("Initial")
            errors.append((type(caught.value), caught.value.code, caught.value.message))
            assert _synced(lab) == before and _fds() == fds  # nothing half-imported, nothing left open
    assert errors[0] == errors[1] == [(SyncError, 51, "00002024: test: the server is busy")][0]
    assert len(forks) == 2 and all(_gone(pid) for pid in forks)


@pytest.fixture(scope="module")
def helper_lab() -> Iterator[Lab]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIMLAB_SYNC_HELPER", "1")
        with Lab(LabSpec.model_validate({"seed": 5, "population": {"users": USERS}})) as lab:
            yield lab


def _in_the_child(monkeypatch: pytest.MonkeyPatch, action) -> None:
    """Run ``action`` in the helper when it converts its 50th object (never in this process)."""
    parent, real = os.getpid(), sync_module._object_from
    count = [0]

    def object_from(*args):
        count[0] += 1
        if os.getpid() != parent and count[0] == 50:
            action()
        return real(*args)

    monkeypatch.setattr(sync_module, "_object_from", object_from)


@pytest.mark.parametrize(("action", "idle_timeout", "expected"), [
    (lambda: os._exit(3), None, "exited with status 3 before it finished"),
    (lambda: os.kill(os.getpid(), signal.SIGKILL), None, "killed by signal 9 (SIGKILL) before it finished"),
    (lambda: time.sleep(3600), 0.5, "sent no data for 0.5 s and was killed"),
    (lambda: 1 / 0, None, "ZeroDivisionError: division by zero"),
])
def test_a_failed_helper_is_a_clear_error(helper_lab: Lab, monkeypatch: pytest.MonkeyPatch, forks: list[int],
                                           action, idle_timeout: float | None, expected: str):
    # Only the hung helper waits for the idle timeout, shortened so the test does not take a
    # minute. The others keep the default: on a slow machine a helper that dies at its 50th
    # object can take longer than 0.5 s to get there, and the parent would kill it as idle first.
    if idle_timeout is not None:
        monkeypatch.setattr(import_helper, "IDLE_TIMEOUT", idle_timeout)
    before, fds = _synced(helper_lab), _fds()
    with monkeypatch.context() as patch:
        _in_the_child(patch, action)
        with pytest.raises(ImportHelperError) as caught:
            helper_lab.connect.run_sync_cycle("Initial")
    assert caught.value.code == 80
    assert caught.value.message == f"the sync import helper process failed: {expected}"
    assert len(forks) == 1 and _gone(forks[0])
    assert _fds() == fds and _synced(helper_lab) == before
    # The lab is intact: the DC still serves, and the next cycle (helper again) imports everything.
    report = helper_lab.connect.run_sync_cycle("Initial")
    assert report.imported == len(before[0]) and _synced(helper_lab) == before


@pytest.mark.parametrize("error", [
    SyncError(51, "00002024: busy"),
    BerError("truncated searchResEntry"),
    LDAPSocketReceiveError("error receiving data: timed out"),
])
def test_the_childs_errors_come_back_as_they_were_raised(error: Exception):
    back = import_helper._error_from(import_helper._error_frame(error))
    assert type(back) is type(error) and str(back) == str(error)
