"""The pytest plugin as a user's test suite uses it."""

pytest_plugins = ["pytester"]


def test_fixtures_and_marker(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.simlab(spec={"population": {"users": 5}}, faults=["missing-reset"])
        def test_broken_lab(lab):
            attempt = lab.sspr_reset("alice", "Fresh-Passw0rd-2026!")
            assert attempt.code == "SSPR_0029"
            assert lab.applied_faults == ["missing-reset"]

        def test_default_lab_is_healthy(lab):
            assert lab.sspr_reset("alice", "Fresh-Passw0rd-2026!").ok

        def test_ldap_conn(ldap_conn, lab):
            assert ldap_conn.search(lab.dc.domain_dn, "(sAMAccountName=alice)", attributes=["cn"])
            assert ldap_conn.entries[0].cn.value == "Alice Adams"

        def test_graph_client(graph_client):
            query = {"$filter": "userPrincipalName eq 'alice@contoso.com'",
                     "$select": "id,onPremisesSamAccountName"}
            response = graph_client.get("/users", params=query)
            assert response.status_code == 200
            assert response.json()["value"][0]["onPremisesSamAccountName"] == "alice"

        def test_served_lab(served_lab):
            assert served_lab.graph_endpoints.base_url.startswith("https://127.0.0.1:")
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def test_labs_are_isolated_under_xdist(pytester):
    """Two workers, labs built side by side: separate ports, separate state."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(4))
        @pytest.mark.simlab(spec={"population": {"users": 3}})
        def test_each_worker_owns_its_lab(lab, n):
            assert lab.sspr_reset("alice", f"Fresh-Passw0rd-2026!{n}").ok
            assert lab.bind("alice", f"Fresh-Passw0rd-2026!{n}").ok
            # no other test's reset reached this lab
            assert len(lab.connect.eventlog.query(event_ids=[31002])) == 1
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=4)


def test_shared_lab_is_restored_between_tests(pytester):
    pytester.makepyfile(
        """
        import pytest

        SPEC = {"population": {"users": 3}}
        seen = []

        @pytest.mark.simlab(spec=SPEC)
        def test_first_breaks_it(shared_lab):
            seen.append(id(shared_lab))
            from simlab.faults import apply_fault
            apply_fault(shared_lab, "missing-reset")
            assert shared_lab.sspr_reset("alice", "Fresh-Passw0rd-2026!").code == "SSPR_0029"

        @pytest.mark.simlab(spec=SPEC)
        def test_second_gets_it_back_healthy(shared_lab):
            assert id(shared_lab) in seen  # the same lab object, not a rebuild
            assert shared_lab.applied_faults == []
            assert shared_lab.sspr_reset("alice", "Fresh-Passw0rd-2026!").ok
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


#: An inner conftest: every lab counts as big, and its image writer waits at a pipe the tests open.
GATED_CONFTEST = """
import os
from simlab import image_cache, image_saver

image_saver.BACKGROUND_MIN_ENTRIES = 0
GATE_READ, GATE_WRITE = os.pipe()
real_store = image_cache.store

def gated_store(lab, key, *, tmp=None):
    os.read(GATE_READ, 1)  # (in the writer: blocks until a test opens the gate)
    return real_store(lab, key, tmp=tmp)

image_cache.store = gated_store
"""


def test_a_big_labs_image_is_saved_while_the_tests_run_and_the_session_waits_for_it(
        pytester, tmp_path, monkeypatch):
    from simlab.lab import Lab
    from simlab.spec import LabSpec

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SIMLAB_NO_CACHE", raising=False)
    pytester.makeconftest(GATED_CONFTEST)
    pytester.makepyfile(
        """
        import os
        import pytest
        import conftest
        from simlab import image_saver

        SPEC = {"seed": 21, "population": {"users": 5}}

        @pytest.mark.simlab(spec=SPEC)
        def test_first_is_not_kept_waiting(lab):
            assert lab.cache_status == "miss" and lab.image_save is None  # the session's now
            [save] = image_saver.unfinished()
            assert not save.done

        @pytest.mark.simlab(spec=SPEC)
        def test_second_builds_without_a_second_writer(lab):
            [save] = image_saver.unfinished()  # the first test's lab is closed, its save is not
            assert not save.done and lab.image_save is None
            assert lab.cache_message == "simlab: this lab's image is being saved by an earlier build"
            os.write(conftest.GATE_WRITE, b"x")  # the writer goes on: the session's end waits for it
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["simlab: finishing 1 lab image(s) for the next run (Ctrl-C skips)"])
    cache = tmp_path / "xdg" / "simlab"
    assert len(list(cache.glob("*.simlab-image"))) == 1 and not list(cache.glob(".*.tmp"))
    with Lab(LabSpec.model_validate({"seed": 21, "population": {"users": 5}}), cache=True) as lab:
        assert lab.cache_status == "hit"


def test_an_interrupted_session_skips_the_images_still_being_written(pytester, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SIMLAB_NO_CACHE", raising=False)
    pytester.makeconftest(GATED_CONFTEST)
    pytester.makepyfile(
        """
        def test_interrupted(lab):
            assert lab.cache_status == "miss"
            raise KeyboardInterrupt  # as a Ctrl-C: the gate is never opened
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    assert result.ret == 2  # pytest.ExitCode.INTERRUPTED, not stuck waiting for the writer
    assert "finishing" not in result.stdout.str()
    cache = tmp_path / "xdg" / "simlab"
    assert not list(cache.glob("*.simlab-image")) and not list(cache.glob(".*.tmp"))
