"""The command groups `simlab` loads on demand are the real ones, under their own names."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click
import pytest

from simlab.cli import _Commands, cli


@pytest.mark.parametrize("name", sorted(_Commands.lazy))
def test_lazy_group_resolves_to_its_module_group(name: str):
    module, attribute, _ = _Commands.lazy[name]
    group = getattr(importlib.import_module(module), attribute)
    assert isinstance(group, click.Command) and group.name == name
    with click.Context(cli) as ctx:
        assert cli.get_command(ctx, name) is group


def test_help_lists_lazy_groups_without_importing_them():
    code = ("import sys; from click.testing import CliRunner; from simlab.cli import cli; "
            "out = CliRunner().invoke(cli, ['--help']).output; "
            "print('acl' in out and 'cache' in out, 'simlab.cli_acl' in sys.modules, 'ldap3' in sys.modules)")
    shown, acl_loaded, ldap3_loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert (shown, acl_loaded, ldap3_loaded) == ("True", "False", "False")
