"""A full import's LDAP read in a forked helper process, so the DC and the agent use two cores.

The lab serves its DC from a thread of the same process as the Connect agent, so a big initial
sync had the DC encoding pages and the agent decoding them take turns on one GIL. A real Entra
Connect server is a separate machine from the DC; a helper process is closer to that, and lets
both work at once.

The parent has opened and bound the connector account's connection (bind errors are raised as
before). :func:`import_in_child` then forks: the child reads over that same connection with the
same lean reader (paging at 1000, filter, attributes and OU filtering unchanged), packs the
connector-space objects' fields as columns (msgpack; the child never makes the objects) into a
pipe a page at a time, unbinds and ends with ``os._exit``: it never returns into the parent's
stack. The parent reads the pipe as the child writes it, rebuilds the objects in the child's
order and reaps the child. It closes its own copy of the socket without sending anything on it:
the TLS state it holds is stale once the child has used the connection.

Errors keep their in-process form: a :class:`~fakes.connect.sync.SyncError` (a refused search),
:class:`~fakes.connect.ldapread.BerError` or an ldap3 exception raised in the child is raised
again in the parent with the same code and message. A child that dies, hangs (no data for
:data:`IDLE_TIMEOUT` seconds: killed) or fails otherwise raises :class:`ImportHelperError`.

Fork safety: only the forking thread exists in the child. Everything it runs is imported before
the fork; the one lock it takes that another thread could hold (ldap3's class-wide message-id
lock) is held across the fork; the child resets its signal handlers, closes every descriptor
but the connection's socket and its end of the pipe (the DC's listening sockets and the other
clients' connections among them), turns the cyclic GC off and ends with ``os._exit``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import fields
from itertools import repeat
from typing import Any

import ldap3
from ldap3.core import exceptions as ldap3_errors
from ldap3.core.server import Server

from fakes.connect.ldapread import BerError
from fakes.connect.sync import ConnectorObject, SyncError, collect
from fakes.forked import begin_child, fork, frames, send

#: The parent gives up on (and kills) a child that sent nothing for this long. The child's own
#: socket reads time out after the connection's receive timeout (10 s), so a live child that
#: waits on a silent DC reports that error well before.
IDLE_TIMEOUT = 60.0
#: The child ends itself (SIGALRM's default action) if the import takes longer than this.
CHILD_DEADLINE_SECONDS = 900
#: Objects per frame: one page of the paged search.
FRAME_OBJECTS = 1000
_PIPE_SIZE = 1 << 20  # F_SETPIPE_SZ: fewer wake-ups than the default 64 KiB (best effort)

# ConnectorObject's fields as sent: every one but ``domain`` (the parent knows it), ``mail``
# as True when it is the UPN (the reader shares that string; so does the rebuilt object).
_FIELDS = tuple(f.name for f in fields(ConnectorObject))
_SENT = _FIELDS[:-1]
_MAIL = _SENT.index("mail")
_UPN = _SENT.index("upn")
_USN = _SENT.index("usn")
assert _FIELDS[-1] == "domain"

_ROWS, _DONE, _ERROR = 0, 1, 2  # frame kinds
_SYNC_ERROR, _BER_ERROR, _LDAP3_ERROR, _OTHER_ERROR = 0, 1, 2, 3


class ImportHelperError(SyncError):
    """The helper process failed in a way the in-process import has no error for (it died, was
    killed, hung or crashed). A :class:`SyncError` (LDAP ``other``, 80) so callers that handle a
    failed import handle this too; the message says what happened to the helper."""

    def __init__(self, message: str) -> None:
        super().__init__(80, f"the sync import helper process failed: {message}")


Objects = Callable[[], Iterable[tuple[tuple, bool]]]  # sync.lean_import's (row, in OU filter) pairs


def import_in_child(conn: ldap3.Connection, objects: Objects, high: int, domain: str,
                    started: Callable[[], None] | None = None) -> tuple[dict[str, ConnectorObject], int]:
    """Run ``objects()`` (the import's ``(row, under the OU filter)`` pairs, read over the bound
    ``conn``) in a forked child; return what the in-process loop returns: the objects under the
    OU filter by anchor (in the child's order) and the highest ``uSNChanged`` seen, from ``high`` up.

    ``conn`` belongs to this function from the call: the child unbinds it, the parent closes its
    copy of the socket (sending nothing) whatever happens.
    """
    fds: tuple[int, int] | None = None
    try:
        fds = os.pipe()
        if hasattr(fcntl, "F_SETPIPE_SZ"):  # Linux; the default size works too, with more wake-ups
            with contextlib.suppress(OSError):
                fcntl.fcntl(fds[1], fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        with Server._message_id_lock:  # the only shared lock the child takes: each process gets it released
            pid = fork()
    except OSError:  # no descriptor or process to spare (EMFILE, EAGAIN): read here, as without
        for fd in fds or ():
            os.close(fd)
        try:
            return collect(objects(), high)
        finally:
            conn.unbind()
    read_fd, write_fd = fds
    if pid == 0:  # the child: never returns
        _child(conn, objects, high, write_fd)
    os.close(write_fd)  # the child's end: EOF on ours when it exits
    try:
        if started is not None:
            started()  # (work to overlap with the child's start: it binds nothing, reads no pipe)
        return _receive(pid, read_fd, domain)
    finally:
        os.close(read_fd)
        _forget(conn)


# -- the child ---------------------------------------------------------------------------
def _child(conn: ldap3.Connection, objects: Objects, high: int, write_fd: int) -> None:
    code = 1
    try:
        begin_child(CHILD_DEADLINE_SECONDS)
        keep = sorted({0, 1, 2, conn.socket.fileno(), write_fd})
        for low, up in zip([-1, *keep], [*keep, os.sysconf("SC_OPEN_MAX")]):
            if low + 1 < up:  # never an empty range: os.closerange(0, 0) closes every descriptor
                os.closerange(low + 1, up)  # listening sockets, other clients' connections, files
        try:
            high = _send_objects(objects(), high, write_fd)
        finally:
            conn.unbind()  # as the in-process import does, error or not
        send(write_fd, [_DONE, high])
        code = 0
    except BaseException as exc:  # the child must reach os._exit whatever happens
        with contextlib.suppress(BaseException):
            send(write_fd, [_ERROR, *_error_frame(exc)])
    finally:
        # No atexit handlers, no flushing of the parent's buffered output, no Twisted shutdown.
        os._exit(code)


def _send_objects(rows: Iterable[tuple[tuple, bool]], high: int, fd: int) -> int:
    """Send the rows under the OU filter a frame at a time; the highest uSNChanged seen."""
    frame: list[tuple] = []
    for row, in_filter in rows:
        if row[_USN] > high:
            high = row[_USN]
        if not in_filter:
            continue
        frame.append(row)
        if len(frame) == FRAME_OBJECTS:
            send(fd, [_ROWS, _columns(frame)])
            frame = []
    if frame:
        send(fd, [_ROWS, _columns(frame)])
    return high


def _columns(frame: list[tuple]) -> list[list[Any]]:
    """A frame's rows as the sent columns (one transposition in C)."""
    columns = list(map(list, zip(*frame, strict=True)))[:len(_SENT)]
    columns[_MAIL] = [True if mail is upn else mail for upn, mail in zip(columns[_UPN], columns[_MAIL])]
    return columns


def _error_frame(exc: BaseException) -> list[Any]:
    if isinstance(exc, SyncError):
        return [_SYNC_ERROR, exc.code, exc.message]
    if isinstance(exc, BerError):
        return [_BER_ERROR, str(exc)]
    name = type(exc).__name__
    if isinstance(exc, ldap3_errors.LDAPException) and getattr(ldap3_errors, name, None) is type(exc):
        return [_LDAP3_ERROR, name, str(exc)]
    return [_OTHER_ERROR, name, str(exc)]


# -- the parent --------------------------------------------------------------------------
def _receive(pid: int, fd: int, domain: str) -> tuple[dict[str, ConnectorObject], int]:
    """Read the child's frames as they come; the objects and high USN, or the child's error."""
    found: dict[str, ConnectorObject] = {}
    arriving = frames(pid, fd, last=lambda frame: frame[0] != _ROWS, died=ImportHelperError,
                      idle_timeout=IDLE_TIMEOUT)
    with contextlib.closing(arriving):  # leaving early (an error, Ctrl-C): no helper outlives the import
        for frame in arriving:
            if frame[0] == _ROWS:
                found.update(_rebuild(frame[1], domain))
            elif frame[0] == _DONE:
                return found, frame[1]
            else:
                raise _error_from(frame[1:])
    raise ImportHelperError("ended without a last frame")  # (frames() only ends by raising)


def _rebuild(columns: list[list[Any]], domain: str) -> dict[str, ConnectorObject]:
    """ConnectorObjects from one frame's columns: each field's slot set column by column (C loops,
    no dataclass ``__init__`` per object; the objects are the same as ``ConnectorObject(...)``'s)."""
    count = len(columns[0])
    upns = columns[_UPN]
    columns[_MAIL] = [upn if mail is True else mail for upn, mail in zip(upns, columns[_MAIL])]
    objects = list(map(object.__new__, repeat(ConnectorObject, count)))
    for name, values in zip(_FIELDS, [*columns, repeat(domain, count)]):
        deque(map(_SETTERS[name], objects, values), maxlen=0)
    return dict(zip(columns[0], objects))


_SETTERS = {name: ConnectorObject.__dict__[name].__set__ for name in _FIELDS}


def _error_from(frame: list[Any]) -> Exception:
    kind, *details = frame
    if kind == _SYNC_ERROR:
        return SyncError(details[0], details[1])
    if kind == _BER_ERROR:
        return BerError(details[0])
    if kind == _LDAP3_ERROR:
        return getattr(ldap3_errors, details[0])(details[1])
    return ImportHelperError(f"{details[0]}: {details[1]}")


def _forget(conn: ldap3.Connection) -> None:
    """Drop this process's copy of the connection: close the socket without a TLS close_notify,
    an unbind or a shutdown() (which would end the child's use of the same socket)."""
    sock, conn.socket = conn.socket, None
    conn.closed, conn.bound, conn.listening = True, False, False
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()  # SSLSocket.close() frees the TLS state and closes the fd; it sends nothing


__all__ = ["IDLE_TIMEOUT", "ImportHelperError", "import_in_child"]
