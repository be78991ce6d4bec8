"""FACTS 9: LDAP outcomes -> Connect events, outcome error and detail."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakes.connect.classify import (
    ADMIN_ACTION_REQUIRED,
    INCORRECT_PASSWORD,
    POLICY_VIOLATION,
    Observation,
    classify,
    windows_code,
)
from fakes.connect.events import ADSYNC_NO_POLICY_CONTROL, ADSYNC_NOT_SECURE_HR, ADSYNC_POLICY_RESTRICTION

# Canonical Windows diagnostics from FACTS 7.
RESET_POLICY = "0000052D: SvcErr: DSID-031A126C, problem 5003 (WILL_NOT_PERFORM), data 0\n\x00"
CHANGE_POLICY = (
    "0000052D: AtrErr: DSID-03190F80, #1:\n\t0: 0000052D: DSID-03190F80, problem 1005 "
    "(CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)\n\x00"
)
WRONG_OLD = (
    "00000056: AtrErr: DSID-03191083, #1:\n\t0: 00000056: DSID-03191083, problem 1005 "
    "(CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)\n\x00"
)
NO_RESET_RIGHT = "00000005: SecErr: DSID-031A11B9, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0\n\x00"
NO_WP = "00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0\n\x00"
PLAIN_RESET = "0000001F: SvcErr: DSID-031A126A, problem 5003 (WILL_NOT_PERFORM), data 0\n\x00"
PLAIN_CHANGE = "00002077: SvcErr: DSID-03190F9E, problem 5003 (WILL_NOT_PERFORM), data 0\n\x00"


@pytest.mark.parametrize(
    ("obs", "ids", "error"),
    [
        (Observation("reset", "done"), (31001, 31002), None),
        (Observation("change", "done"), (31006, 31007), None),
        (Observation("admin_reset", "done"), (31009, 31010), None),
        (
            Observation("reset", "password", 50, NO_RESET_RIGHT),
            (31001, 6329, 33004, 31003),
            ADMIN_ACTION_REQUIRED,
        ),
        (Observation("reset", "password", 53, RESET_POLICY), (31001, 6329, 33008, 31003), POLICY_VIOLATION),
        (Observation("change", "password", 19, CHANGE_POLICY), (31006, 6329, 33008, 31008), POLICY_VIOLATION),
        (Observation("change", "password", 19, WRONG_OLD), (31006, 33007, 31008), INCORRECT_PASSWORD),
        (
            Observation("change", "password", 19, "00000005: AtrErr: x"),
            (31006, 33004, 31008),
            ADMIN_ACTION_REQUIRED,
        ),
        (Observation("unlock", "lockoutTime", 50, NO_WP), (31001, 33004, 31003), ADMIN_ACTION_REQUIRED),
        (Observation("admin_reset", "pwdLastSet", 50, NO_WP), (31009, 33004, 31011), ADMIN_ACTION_REQUIRED),
        (
            Observation("reset", "password", 53, PLAIN_RESET),
            (31001, 6329, 33009, 31003),
            ADMIN_ACTION_REQUIRED,
        ),
        (
            Observation("change", "password", 53, PLAIN_CHANGE),
            (31006, 6329, 33009, 31008),
            ADMIN_ACTION_REQUIRED,
        ),
        (Observation("reset", "password", 12, "x"), (31001, 6329, 33009, 31003), ADMIN_ACTION_REQUIRED),
        (Observation("reset", "lookup", 0, matches=0), (31001, 33002, 31003), ADMIN_ACTION_REQUIRED),
        (Observation("reset", "lookup", 0, matches=2), (31001, 6329, 33003, 31003), ADMIN_ACTION_REQUIRED),
        (Observation("reset", "precheck", disabled=True), (31001, 33005, 31003), ADMIN_ACTION_REQUIRED),
        (Observation("change", "precheck", locked=True), (31006, 33006, 31008), ADMIN_ACTION_REQUIRED),
        (
            Observation("reset", "bind", 49, "80090308: LdapErr: ..., data 52e, v4563"),
            (31001, 33009, 31003),
            ADMIN_ACTION_REQUIRED,
        ),
        (Observation("reset", "config", message="m"), (31001, 6329, 33009, 31003), ADMIN_ACTION_REQUIRED),
        (Observation("reset", "agent", exception="boom"), (31001, 32000, 31003), ADMIN_ACTION_REQUIRED),
    ],
)
def test_fact_table_rows(obs: Observation, ids: tuple[int, ...], error: str | None) -> None:
    verdict = classify(obs)
    assert verdict.event_ids(obs.kind) == ids
    assert verdict.error == error
    assert verdict.status == ("success" if obs.step == "done" else "failure")


def test_adsync_texts_match_the_cause() -> None:
    assert (
        classify(Observation("reset", "password", 53, RESET_POLICY)).adsync_text == ADSYNC_POLICY_RESTRICTION
    )
    assert classify(Observation("reset", "password", 53, PLAIN_RESET)).adsync_text == ADSYNC_NOT_SECURE_HR
    assert classify(Observation("reset", "password", 12, "")).adsync_text == ADSYNC_NO_POLICY_CONTROL


def test_admin_count_is_named_in_the_detail() -> None:
    v = classify(Observation("reset", "password", 50, NO_RESET_RIGHT, admin_count=True))
    assert "AdminCount is set to 1" in v.detail
    assert "AdminCount" not in classify(Observation("reset", "password", 50, NO_RESET_RIGHT)).detail


def test_windows_code() -> None:
    assert windows_code(RESET_POLICY) == 0x52D
    assert windows_code("no code here") is None


STEPS = ["agent", "config", "connect", "bind", "lookup", "precheck", "password", "pwdLastSet", "lockoutTime"]


@given(
    kind=st.sampled_from(["reset", "change", "unlock", "admin_reset"]),
    step=st.sampled_from(STEPS),
    code=st.one_of(st.none(), st.integers(0, 90)),
    message=st.text(max_size=40),
    matches=st.integers(0, 3),
)
def test_nothing_but_done_is_success(kind, step, code, message, matches) -> None:
    verdict = classify(Observation(kind, step, code, message, matches=matches))
    assert verdict.status == "failure"
    assert verdict.error is not None
    ids = verdict.event_ids(kind)
    assert ids[-1] in (31003, 31008, 31011)
    assert any(i in ids for i in (32000, *range(33001, 33010)))


@given(
    code=st.integers(0, 90).filter(lambda c: c not in (0, 12, 19, 32, 50, 53)), message=st.text(max_size=20)
)
def test_unrecognised_ldap_answers_are_logged_unknown(code, message) -> None:
    assert classify(Observation("reset", "password", code, message)).reason_event == 33001
