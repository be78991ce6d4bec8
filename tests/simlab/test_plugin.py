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
