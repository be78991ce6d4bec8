"""simlab's pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:
    ``lab``          a fresh :class:`~simlab.lab.Lab` per test (DC served on loopback, ephemeral ports)
    ``shared_lab``   one lab per distinct spec for the whole session, restored to its built state
                     (a snapshot) before every test: as isolated as ``lab``, much cheaper
    ``served_lab``   the same with Graph also served over HTTPS (``lab.graph_endpoints``)
    ``ldap_conn``    an ldap3 connection bound as Administrator over LDAPS to ``lab``
    ``graph_client`` an httpx client for https://graph.microsoft.com/v1.0 with a Global
                     Administrator token, answered in-process by the lab's tenant

Marker:
    ``@pytest.mark.simlab(spec=..., faults=[...])`` where ``spec`` is a LabSpec, a dict of spec
    fields or a path to a YAML file, and ``faults`` names catalogue faults (or
    ``{"name": ..., "params": {...}}``). ``standard_ports=True`` serves the DC on 389/636 of a
    loopback address of its own (``lab.endpoints()["host"]``), for tools that hard-code the ports.

Each test gets its own lab, ports and temporary directory, so tests are independent and safe
to run in parallel with pytest-xdist.

Labs come from the lab image cache when it has their spec (docs/images.md) and are saved
there after a cold build; ``--simlab-no-cache``, the ini option ``simlab_cache = false`` or
``SIMLAB_NO_CACHE=1`` turn that off. A big lab (10k directory entries or more) is
saved by a forked child while the test runs, and after it: the session waits at its end for the
images still being written (Ctrl-C skips them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--simlab-no-cache", action="store_true", default=False,
                     help="simlab: build every lab from scratch (no lab image cache)")
    parser.addini("simlab_cache", "simlab: load/save labs through the lab image cache", type="bool",
                  default=True)


def _use_cache(config: pytest.Config) -> bool:
    return bool(config.getini("simlab_cache")) and not config.getoption("--simlab-no-cache")


def pytest_configure(config: pytest.Config) -> None:
    if not _use_cache(config):
        # Off for the whole session: also for labs the scenario runner and `simlab` subprocesses build.
        os.environ["SIMLAB_NO_CACHE"] = "1"
    config.addinivalue_line(
        "markers", "simlab(spec=None, faults=(), standard_ports=False): build the test's lab from this spec"
    )


def spec_from_marker(marker: pytest.Mark | None) -> Any:
    """The LabSpec a ``simlab`` marker asks for (a healthy default lab without one)."""
    from simlab.spec import LabSpec

    spec: Any = None
    faults: list[Any] = []
    if marker is not None:
        spec = marker.kwargs.get("spec", marker.args[0] if marker.args else None)
        faults = list(marker.kwargs.get("faults", ()))
    if spec is None:
        data: dict[str, Any] = {}
    elif isinstance(spec, LabSpec):
        data = spec.model_dump()
    elif isinstance(spec, (str, Path)):
        data = LabSpec.load(spec).model_dump()
    elif isinstance(spec, dict):
        data = dict(spec)
    else:
        raise TypeError(f"simlab marker: spec must be a LabSpec, dict or path, not {type(spec).__name__}")
    data["faults"] = list(data.get("faults", [])) + faults
    return LabSpec.model_validate(data)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Wait for the lab images still being written (so the next run loads them), unless the
    session was interrupted: then they are skipped."""
    import sys

    saver = sys.modules.get("simlab.image_saver")  # not imported: no lab saved in the background
    if saver is None:
        return
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        saver.cancel_all()
        return
    terminal = session.config.pluginmanager.has_plugin("terminalreporter")  # (not with -p no:terminal)
    writer = session.config.get_terminal_writer() if terminal else None

    def say(line: str) -> None:
        if writer is not None:
            if writer.width_of_current_line:  # after the progress dots
                writer.line()
            writer.line(line)

    saver.finish_all(say)


def _start_lab(spec: Any, config: pytest.Config, **kwargs: Any) -> Any:
    """A started Lab, through the cache as the session asks. A big one's image is saved in the
    background, and that save outlives the lab (the session waits for it at its end)."""
    from simlab.lab import Lab

    built = Lab(spec, cache=_use_cache(config), save_in_background="big", **kwargs).start()
    built.release_image_save()
    return built


@pytest.fixture
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A lab built from the test's ``simlab`` marker (or a healthy default lab)."""
    marker = request.node.get_closest_marker("simlab")
    standard = bool(marker.kwargs.get("standard_ports")) if marker is not None else False
    with _start_lab(spec_from_marker(marker), request.config, workdir=tmp_path / "lab",
                    standard_ports=standard) as built:
        yield built


@pytest.fixture(scope="session")
def _simlab_shared_labs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Any, Any]]]:
    labs: dict[str, tuple[Any, Any]] = {}
    yield labs
    for built, _ in labs.values():
        built.close()


@pytest.fixture
def shared_lab(request: pytest.FixtureRequest, _simlab_shared_labs: dict, tmp_path_factory) -> Any:
    """A lab shared by every test asking for the same spec, restored to its built state first."""
    spec = spec_from_marker(request.node.get_closest_marker("simlab"))
    key = spec.model_dump_json()
    if key not in _simlab_shared_labs:
        built = _start_lab(spec, request.config, workdir=tmp_path_factory.mktemp("shared-lab"))
        _simlab_shared_labs[key] = (built, built.snapshot())
    else:
        built, snap = _simlab_shared_labs[key]
        built.restore(snap)
    return _simlab_shared_labs[key][0]


@pytest.fixture
def served_lab(lab: Any) -> Any:
    """``lab`` with Graph served over HTTPS on loopback (see ``lab.graph_endpoints``)."""
    lab.serve_graph()
    return lab


@pytest.fixture
def ldap_conn(lab: Any) -> Iterator[Any]:
    """ldap3 connection bound as the domain Administrator over LDAPS."""
    conn = lab.ldap()
    if not conn.bound:
        raise RuntimeError(f"could not bind as Administrator: {conn.result}")
    yield conn
    conn.unbind()


@pytest.fixture
def graph_client(lab: Any) -> Iterator[Any]:
    """httpx.Client for Graph v1.0 as the tenant's Global Administrator (answered in-process)."""
    import httpx

    from fakes.graph.auth import make_token

    token = make_token(lab.tenant, lab.tenant.admin_upn)
    with lab.graph_mock(), httpx.Client(base_url="https://graph.microsoft.com/v1.0",
                                        headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


# Scenario YAML files as test items: collection, options and failure reports live there.
pytest_plugins = ["simlab.pytest_scenarios"]
