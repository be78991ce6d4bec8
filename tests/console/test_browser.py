"""The console in a real headless Chromium: the tutorial by clicking, one exercise fault -> fix, keyboard.

Every step is a click or a key press on the served console; the assertions then check
the lab itself (an LDAP bind with the new password, the Connect event log), so a page
that only *looked* right would fail.
"""

from __future__ import annotations

import re

import pytest

from simlab.console import serve_console
from simlab.console.training import exercises, score
from simlab.lab import Lab
from tests.console.conftest import VIEWPORT, shot, small_spec

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

NEW_PASSWORD = "Tutorial-Reset-2026!x"


def _connector_sam(lab: Lab) -> str:
    entry = lab.dc.directory.get(lab.dc.connector_dn)
    return entry.attrs["samaccountname"][0]


def _sspr(page, base: str, upn: str):
    page.goto(f"{base}/")
    page.get_by_role("link", name="Password reset (aka.ms/sspr)").click()
    page.get_by_label("Email or Username:").fill(upn)
    page.get_by_role("button", name="Next").click()


def _add_ace(page, principal: str, applies: str, permission: str) -> None:
    # hx-boost swaps pages in place: wait for the Advanced Security page before looking up its form,
    # or a loaded machine finds the previous page's "Principal" column instead.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Advanced Security Settings for")
    page.get_by_label("Principal").fill(principal)
    page.get_by_label("Applies to").select_option(label=applies)
    page.get_by_label("Permission", exact=True).select_option(label=permission)
    page.get_by_role("button", name="OK").click()
    expect(page.locator(".msg-ok")).to_contain_text(f"— {permission}.")


def test_tutorial_end_to_end_by_clicking(page) -> None:
    spec = small_spec(
        connect={"tutorial_permissions": False, "password_writeback": False}, tenant={"writeback": False}
    )
    with Lab(spec) as lab, serve_console(lab) as base:
        domain = lab.spec.domain.dns
        # Before the tutorial: the user gets the real writeback error.
        _sspr(page, base, f"alice@{domain}")
        expect(page.locator("#sspr-error")).to_contain_text("SSPR_0010")
        shot(page, "tutorial-00-sspr-before")

        # 1. ADUC: the tutorial's five permission entries on the domain root for the connector account.
        page.get_by_role("link", name="AD Users and Computers").click()
        page.get_by_role("link", name="Properties > Security > Advanced for this container").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Advanced Security Settings for")
        sam = _connector_sam(lab)
        for applies, permission in [
            ("Descendant User objects", "Reset password"),
            ("Descendant User objects", "Change password"),
            ("Descendant User objects", "Write lockoutTime"),
            ("Descendant User objects", "Write pwdLastSet"),
            ("This object and all descendant objects", "Unexpire password"),
        ]:
            _add_ace(page, sam, applies, permission)
        rows = page.locator("#aces tbody tr.explicit", has_text=sam)
        expect(rows).to_have_count(5)
        shot(page, "tutorial-01-aduc-permissions")

        # 2. Entra Connect: Optional features > Password writeback, with a Global Administrator.
        page.get_by_role("link", name="Entra Connect").click()
        page.get_by_role("link", name="Customize synchronization options: Optional features").click()
        page.get_by_label("USERNAME", exact=True).fill(lab.tenant.admin_upn)
        page.get_by_label("PASSWORD", exact=True).fill(lab.tenant.admin_password)
        page.get_by_label("Password writeback", exact=True).check()
        shot(page, "tutorial-02-connect-optional-features")
        page.get_by_role("button", name="Configure").click()
        expect(page.locator(".msg-ok")).to_contain_text("31005")
        assert lab.connect.config.features.password_writeback

        # 3. Admin center: On-premises integration, tick writeback and unlock, Save.
        page.get_by_role("link", name="Entra admin center").click()
        expect(page.locator("#connect-ok")).to_be_visible()
        page.get_by_label("Write back passwords to your on-premises directory").check()
        page.get_by_label("Allow users to unlock accounts without resetting their password").check()
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".msg-ok")).to_contain_text("Successfully updated")
        shot(page, "tutorial-03-onprem-integration")
        assert lab.tenant.onprem.writeback_enabled

        # 4. The user resets at aka.ms/sspr: verification code from the lab's phone, new password.
        _sspr(page, base, f"alice@{domain}")
        page.get_by_role("button", name="Send code").click()
        sms = page.locator(".device .sms").inner_text()
        code = re.search(r"\b(\d{6})\b", sms).group(1)
        page.get_by_label("Enter your verification code").fill(code)
        page.get_by_role("button", name="Next").click()
        page.get_by_label("Enter new password:").fill(NEW_PASSWORD)
        page.get_by_label("Confirm new password:").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Finish").click()
        expect(page.locator("#sspr-done")).to_have_text("Your password has been reset.")
        shot(page, "tutorial-04-sspr-done")
        assert lab.bind("alice", NEW_PASSWORD).ok, "the new password must work against the DC"

        # 5. The evidence an admin reads: Connect's 31002 and the audit entry.
        page.get_by_role("link", name="Event Viewer").click()
        page.get_by_label("Event IDs").fill("31002")
        page.get_by_role("button", name="Filter Current Log").click()
        expect(page.locator("#events tbody tr")).to_have_count(1)
        shot(page, "tutorial-05-event-31002")
        page.get_by_role("link", name="Entra admin center").click()
        page.get_by_role("link", name="Audit logs").click()
        page.get_by_label("Activity").select_option("Reset password (self-service)")
        page.get_by_role("button", name="Apply").click()
        expect(page.locator("#audit-results tbody tr.result-success").first).to_be_visible()
        shot(page, "tutorial-06-audit")


def test_exercise_from_fault_to_fix(page) -> None:
    exercise = next(e for e in exercises() if e.fault == "missing-reset")
    with Lab(small_spec()) as lab, serve_console(lab) as base:
        page.goto(f"{base}/training")
        page.get_by_label("Exercise", exact=True).select_option(str(exercise.number))
        page.get_by_role("button", name="Start exercise").click()
        expect(page.locator("#ticket")).to_contain_text("alice")
        assert lab.applied_faults == ["missing-reset"]

        # The symptom, as the checker sees it.
        page.get_by_role("button", name="Check my fix").click()
        expect(page.locator(".msg-error")).to_contain_text("SSPR_0029")
        page.get_by_role("button", name="Show a hint").click()
        expect(page.locator("li.hint")).to_have_count(1)
        expect(page.locator("li.hint")).to_contain_text("33004")
        shot(page, "exercise-01-symptom-and-hint")

        # Investigate: the Connect server logged ADPermissionsError.
        page.get_by_role("link", name="Event Viewer").click()
        page.get_by_label("Event IDs").fill("33004")
        page.get_by_role("button", name="Filter Current Log").click()
        expect(page.locator("#events tbody tr").first).to_contain_text("33004")
        shot(page, "exercise-02-event-33004")

        # Fix: grant Reset password on Descendant User objects at the domain root.
        page.get_by_role("link", name="AD Users and Computers").click()
        page.get_by_role("link", name="Properties > Security > Advanced for this container").click()
        _add_ace(page, _connector_sam(lab), "Descendant User objects", "Reset password")
        shot(page, "exercise-03-fixed-acl")

        page.get_by_role("link", name="Training").click()
        page.get_by_role("button", name="Check my fix").click()
        expect(page.locator("#status")).to_have_text("Solved")
        expected = score(solved=True, steps=1, hints_used=1, failed_checks=1)
        expect(page.locator("#score")).to_have_text(f"{expected} / 100")
        expect(page.locator("#steps")).to_have_text("1")
        shot(page, "exercise-04-solved")



def test_protected_user_exercise_by_clicking(page) -> None:
    """protected-user: Member Of > remove from Domain Admins, then Enable inheritance (adminCount stays 1)."""
    exercise = next(e for e in exercises() if e.fault == "protected-user")
    with Lab(small_spec()) as lab, serve_console(lab) as base:
        page.goto(f"{base}/training")
        page.get_by_label("Exercise", exact=True).select_option(str(exercise.number))
        page.get_by_role("button", name="Start exercise").click()
        expect(page.locator("#ticket")).to_contain_text("alice")
        page.get_by_role("button", name="Check my fix").click()
        expect(page.locator(".msg-error")).to_contain_text("SSPR_0029")

        # ADUC: Staff > Sales > Alice Adams > Properties: Member Of shows Domain Admins and adminCount 1.
        page.get_by_role("link", name="AD Users and Computers").click()
        tree = page.get_by_role("navigation", name="Directory tree")
        tree.get_by_role("link", name="Sales", exact=True).click()
        page.get_by_role("link", name="Properties of Alice Adams").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Alice Adams Properties")
        expect(page.locator("#admincount")).to_contain_text("1")
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
        assert page.evaluate(_UNLABELLED) == []
        shot(page, "protected-user-01-member-of")
        page.get_by_role("button", name="Remove Alice Adams from Domain Admins").click()
        expect(page.locator(".msg-ok")).to_contain_text("removed from Domain Admins")
        expect(page.locator("#groups")).not_to_contain_text("Domain Admins")

        # Still failing: adminCount=1 kept the AdminSDHolder DACL with inheritance off.
        page.get_by_role("link", name="Security > Advanced…").click()
        expect(page.locator("#inheritance-state")).to_contain_text("Inheritance is disabled")
        page.get_by_role("button", name="Enable inheritance").click()
        expect(page.locator("#inheritance-state")).to_contain_text("Inheritance is enabled")
        shot(page, "protected-user-02-inheritance-enabled")

        page.get_by_role("link", name="Training").click()
        page.get_by_role("button", name="Check my fix").click()
        expect(page.locator("#status")).to_have_text("Solved")
        expect(page.locator("#steps")).to_have_text("2")
        expected = score(solved=True, steps=2, hints_used=0, failed_checks=1)
        expect(page.locator("#score")).to_have_text(f"{expected} / 100")
        shot(page, "protected-user-03-solved")


PAGES = [
    "/",
    "/entra/password-reset/onprem",
    "/entra/password-reset/properties",
    "/entra/audit",
    "/sspr",
    "/aduc",
    "/aduc/security",
    "/gpo",
    "/connect",
    "/connect/features",
    "/connect/ou-filtering",
    "/entra/licences",
    "/events",
    "/training",
]

_UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map(el => el.outerHTML.slice(0, 80))"""
_CLICK_ONLY = """() => [...document.querySelectorAll(
    '[onclick], div[hx-post], span[hx-post], div[hx-get], span[hx-get], td[hx-get], tr[hx-get]')]
  .map(el => el.outerHTML.slice(0, 80))"""


def test_pages_keyboard_usable_and_fit_1280x800(page, lab) -> None:
    with serve_console(lab) as base:
        for path in PAGES:
            page.goto(base + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"], path
            assert page.evaluate(_UNLABELLED) == [], path
            assert page.evaluate(_CLICK_ONLY) == [], path
            assert page.locator("h1").count() == 1, path
        shot(page, "keyboard-00-training")

        # Keyboard only: skip link first, then the header links in order; Enter follows a link.
        page.goto(base + "/")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", "focus must be visible"
        for _ in range(7):
            page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Training"
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/training$"))
        # Reach the exercise picker and start one without a mouse.
        page.get_by_label("Exercise", exact=True).focus()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Start exercise"
        page.keyboard.press("Enter")
        expect(page.locator("#ticket")).to_be_visible()
        shot(page, "keyboard-01-exercise-started")
