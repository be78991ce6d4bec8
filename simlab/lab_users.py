"""The cloud side of a lab: what users and admins do in Entra (SSPR, change, admin reset).

A mixin of :class:`simlab.lab.Lab`; the flows run through the tenant's SSPR code, the same
code the Graph fake's HTTP endpoints use.
"""

from __future__ import annotations

from typing import Any

from fakes.graph import sspr
from fakes.graph.errors import SsprCode, SsprError
from simlab.lab_types import Attempt, LabError


class CloudActions:
    """User-facing actions of a lab (needs ``tenant``, ``spec`` and ``user()``)."""

    tenant: Any
    spec: Any

    def _tenant_user(self, name: str):
        upn = self.upn(name)
        user = self.tenant.get_user(upn)
        if user is None:
            raise LabError(f"{upn} is not in the tenant (not synced?)")
        return user

    def upn(self, name: str) -> str:
        """The sign-in name for ``name``: as given if it has an @, else from AD, else name@domain."""
        if "@" in name:
            return name
        try:
            return self.user(name).upn
        except LabError:
            return f"{name}@{self.spec.domain.dns}"

    def sspr_reset(self, user: str, new_password: str, *, unlock: bool = False) -> Attempt:
        """The end-user flow at the SSPR portal: identify, verify, set a new password."""
        upn = self.upn(user)
        try:
            flow = sspr.begin(self.tenant, upn)
            self._verify(flow)
            sspr.submit(self.tenant, flow, new_password, unlock=unlock)
        except SsprError as err:
            return Attempt.from_error(err)
        return Attempt(True)

    def sspr_unlock(self, user: str) -> Attempt:
        """The end-user flow's "unlock my account" path (no new password)."""
        upn = self.upn(user)
        try:
            flow = sspr.begin(self.tenant, upn)
            self._verify(flow)
            sspr.unlock_account(self.tenant, flow)
        except SsprError as err:
            return Attempt.from_error(err)
        return Attempt(True)

    def _verify(self, flow: Any) -> None:
        for method in flow.methods[: flow.methods_required]:
            sspr.send_code(self.tenant, flow, method.id)
            code = self.tenant.outbox[-1][1]
            sspr.verify(self.tenant, flow, method.id, code)
        if len(flow.methods) < flow.methods_required:
            raise SsprError("UserNotProperlyConfigured", reason="not enough registered methods")

    def change_password(self, user: str, current: str, new: str) -> Attempt:
        """A voluntary change in the cloud (My Account / /me/changePassword)."""
        try:
            sspr.change_password(self.tenant, self._tenant_user(user), current, new)
        except SsprError as err:
            return Attempt.from_error(err)
        return Attempt(True)

    def admin_reset(self, user: str, new_password: str | None = None) -> Attempt:
        """An admin reset in the Entra admin center (writes back for synced users)."""
        op = sspr.admin_reset(self.tenant, self.tenant.admin_upn, self._tenant_user(user), new_password)
        if op.status == "succeeded":
            return Attempt(True)
        # The operation reports "<enum name>: <message>"; answer like sspr_reset does.
        name, _, message = op.status_detail.partition(": ")
        known = SsprCode.__members__.get(name)
        return Attempt(False, known.code if known else name, message, name)
