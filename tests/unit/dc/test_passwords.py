"""Password rules (MS-SAMR 3.1.1.7) and the error catalogue's wire format."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakes.ad import errors, passwords
from fakes.ad.passwords import PasswordPolicy, Violation

POLICY = PasswordPolicy()


@given(st.text(max_size=40))
def test_unicode_pwd_round_trip(password: str) -> None:
    assert passwords.decode_unicode_pwd(passwords.encode_unicode_pwd(password)) == password


def test_unicode_pwd_without_quotes_is_flagged_as_quotes_problem() -> None:
    with pytest.raises(passwords.PasswordEncodingError) as info:
        passwords.decode_unicode_pwd("Secret1!".encode("utf-16-le"))
    assert info.value.quotes


def test_unicode_pwd_not_utf16_is_an_encoding_problem() -> None:
    with pytest.raises(passwords.PasswordEncodingError) as info:
        passwords.decode_unicode_pwd(b'"abc"')
    assert not info.value.quotes


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("Ab1!", Violation.TOO_SHORT),
        ("abcdefgh1", Violation.NOT_COMPLEX),
        ("Abcdefgh1", None),
        ("jsmithXX1!", Violation.CONTAINS_ACCOUNT_NAME),
        ("Smithy-Pass1", Violation.CONTAINS_DISPLAY_NAME),
        ("x" * 257, Violation.TOO_LONG),
        ("ΑΒΓδεζ12", None),  # Greek capitals and small letters count as upper and lower case
        ("漢字漢字abc", Violation.NOT_COMPLEX),
    ],
)
def test_check_password(password: str, expected: Violation | None) -> None:
    got = passwords.check_password(POLICY, password, sam_account_name="jsmith", display_name="John Smithy")
    assert got == expected


def test_complexity_off_only_checks_length() -> None:
    policy = PasswordPolicy(complexity=False, min_length=3)
    assert passwords.check_password(policy, "aaa", sam_account_name="aaa") is None


def test_min_age_then_history() -> None:
    now = 1_000_000_000_000_000
    day = passwords.seconds_to_ticks(86_400)
    hist = (passwords.password_digest("Old-Pass1"),)

    def check(pw: str, last: int) -> Violation | None:
        return passwords.check_history_and_age(POLICY, pw, history=hist, pwd_last_set=last, now=now)

    assert check("New-Pass1", now - day // 2) is Violation.TOO_YOUNG
    assert check("Old-Pass1", now - 2 * day) is Violation.IN_HISTORY
    assert check("New-Pass1", now - 2 * day) is None
    # pwdLastSet = 0 (must change) lifts the minimum age.
    assert passwords.check_history_and_age(POLICY, "New-Pass1", history=hist, pwd_last_set=0, now=now) is None


@given(st.lists(st.text(min_size=1, max_size=5), max_size=30), st.integers(0, 30))
def test_history_keeps_newest_first_bounded(pws: list[str], length: int) -> None:
    hist: tuple[bytes, ...] = ()
    for pw in pws:
        hist = passwords.push_history(hist, passwords.password_digest(pw), length)
    assert len(hist) <= max(length, 1)
    if pws:
        assert hist[0] == passwords.password_digest(pws[-1])


def test_digest_is_shared_for_equal_passwords() -> None:
    assert passwords.password_digest("P@ssw0rd!") is passwords.password_digest("P@ssw" + "0rd!")


def test_lockout_counting_and_window() -> None:
    policy = PasswordPolicy(lockout_threshold=3, observation_window=600 * 10_000_000, lockout_duration=0)
    t, state = 10**15, passwords.BadPasswordState(0, 0, 0)
    for i in range(3):
        state = passwords.register_bad_password(
            policy, bad_pwd_count=state.bad_pwd_count, bad_password_time=state.bad_password_time,
            lockout_time=state.lockout_time, now=t + i,
        )
    assert state.locked and passwords.is_locked_out(policy, state.lockout_time, t + 10**12)
    # Outside the observation window the count restarts.
    s = passwords.register_bad_password(
        policy, bad_pwd_count=2, bad_password_time=t, lockout_time=0, now=t + 601 * 10_000_000
    )
    assert s.bad_pwd_count == 1 and not s.locked


def test_policy_from_domain_attributes() -> None:
    attrs = {k.lower(): [v] for k, v in passwords.DEFAULT_POLICY_ATTRS.items()}
    attrs["minpwdage"] = ["0"]
    policy = PasswordPolicy.from_attributes(attrs)
    assert policy.min_age == 0 and policy.history_length == 24 and policy.complexity
    assert policy.max_age == 42 * 86_400 * 10_000_000


def test_error_wire_format() -> None:
    e = errors.password_policy_reset()
    assert e.code == 53 and e.message.endswith("\n\x00")
    assert errors.canonical(e.message) == errors.POLICY_RESET
    assert errors.POLICY_RESET == "0000052D: SvcErr: DSID-031A126C, problem 5003 (WILL_NOT_PERFORM), data 0"
    b = errors.bind_failed(errors.BIND_ACCOUNT_LOCKED)
    assert b.code == 49 and b.message.endswith("data 775, v4563\x00") and "\n" not in b.message
    nso = errors.no_such_object("DC=contoso,DC=com")
    assert nso.matched_dn == "DC=contoso,DC=com" and "best match of:\n\t'DC=contoso,DC=com'" in nso.message
