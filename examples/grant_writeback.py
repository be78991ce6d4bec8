#!/usr/bin/env python3
"""Grant the Entra Connect account the tutorial's password writeback permissions.

An example of the configuration tooling simlab is for: written against plain Active
Directory with nothing but ldap3, it reads the domain root's DACL with the SD flags
control, appends the tutorial's five ACEs for the connector account, and writes the DACL
back. simlab's "verify-my-tooling" scenario runs it against a lab that lacks the
permissions and checks that SSPR writeback works afterwards and that it wrote exactly
those ACEs and nothing else.

Settings come from the environment (a served lab sets them for scenario commands):
SIMLAB_LDAPS_URL, SIMLAB_CA_FILE, SIMLAB_ADMIN_DN, SIMLAB_ADMIN_PASSWORD,
SIMLAB_BASE_DN, SIMLAB_CONNECTOR_DN.
"""

from __future__ import annotations

import os
import ssl
import struct
import sys
from uuid import UUID

import ldap3
from ldap3.protocol.microsoft import security_descriptor_control

RESET_PASSWORD = UUID("00299570-246d-11d0-a768-00aa006e0529")
CHANGE_PASSWORD = UUID("ab721a53-1e2f-11d0-9819-00aa0040529b")
UNEXPIRE_PASSWORD = UUID("ccc2dc7d-a6ad-4a7a-8846-c04e3cc53501")
LOCKOUT_TIME = UUID("28630ebf-41d5-11d1-a9c1-0000f80367c1")
PWD_LAST_SET = UUID("bf967a0a-0de6-11d0-a285-00aa003049e2")
USER_CLASS = UUID("bf967aba-0de6-11d0-a285-00aa003049e2")

ACCESS_ALLOWED_OBJECT = 0x05
CONTAINER_INHERIT, INHERIT_ONLY = 0x02, 0x08
CONTROL_ACCESS, WRITE_PROPERTY = 0x100, 0x20


def object_ace(mask: int, flags: int, sid: bytes, object_type: UUID, inherited: UUID | None) -> bytes:
    """ACCESS_ALLOWED_OBJECT_ACE (MS-DTYP 2.4.4.3)."""
    present = 0x1 | (0x2 if inherited else 0)
    body = struct.pack("<II", mask, present) + object_type.bytes_le
    body += (inherited.bytes_le if inherited else b"") + sid
    return struct.pack("<BBH", ACCESS_ALLOWED_OBJECT, flags, 4 + len(body)) + body


def with_aces(sd: bytes, new_aces: list[bytes]) -> bytes:
    """A self-relative SD holding only the DACL (SD flags = DACL), with ``new_aces`` appended."""
    control, dacl_offset = struct.unpack_from("<H", sd, 2)[0], struct.unpack_from("<I", sd, 16)[0]
    revision, _, size, count, _ = struct.unpack_from("<BBHHH", sd, dacl_offset)
    aces = sd[dacl_offset + 8: dacl_offset + size]
    aces += b"".join(new_aces)
    dacl = struct.pack("<BBHHH", max(revision, 4), 0, 8 + len(aces), count + len(new_aces), 0) + aces
    header = struct.pack("<BBHIIII", 1, 0, control & ~0x0030 | 0x8004, 0, 0, 0, 20)
    return header + dacl


def main() -> int:
    env = os.environ
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=env["SIMLAB_CA_FILE"])
    server = ldap3.Server(env["SIMLAB_LDAPS_URL"], use_ssl=True, tls=tls, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, env["SIMLAB_ADMIN_DN"], env["SIMLAB_ADMIN_PASSWORD"], auto_bind=True)
    base, account = env["SIMLAB_BASE_DN"], env["SIMLAB_CONNECTOR_DN"]

    conn.search(account, "(objectClass=user)", ldap3.BASE, attributes=["objectSid"])
    sid = conn.response[0]["raw_attributes"]["objectSid"][0]

    sd_flags = security_descriptor_control(sdflags=0x04)
    conn.search(base, "(objectClass=*)", ldap3.BASE, attributes=["nTSecurityDescriptor"], controls=sd_flags)
    sd = conn.response[0]["raw_attributes"]["nTSecurityDescriptor"][0]

    descendant_users = CONTAINER_INHERIT | INHERIT_ONLY
    aces = [
        object_ace(CONTROL_ACCESS, descendant_users, sid, RESET_PASSWORD, USER_CLASS),
        object_ace(CONTROL_ACCESS, descendant_users, sid, CHANGE_PASSWORD, USER_CLASS),
        object_ace(WRITE_PROPERTY, descendant_users, sid, LOCKOUT_TIME, USER_CLASS),
        object_ace(WRITE_PROPERTY, descendant_users, sid, PWD_LAST_SET, USER_CLASS),
        object_ace(CONTROL_ACCESS, CONTAINER_INHERIT, sid, UNEXPIRE_PASSWORD, None),
    ]
    conn.modify(base, {"nTSecurityDescriptor": [(ldap3.MODIFY_REPLACE, [with_aces(sd, aces)])]},
                controls=sd_flags)
    if conn.result["result"] != 0:
        print(f"failed: {conn.result['result']} {conn.result['message']}", file=sys.stderr)
        return 1
    print(f"granted {len(aces)} ACEs to {account} on {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
