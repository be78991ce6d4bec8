"""The ``simlab`` command line."""

from __future__ import annotations

import click

from simlab import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="simlab")
def cli() -> None:
    """Offline lab for Entra SSPR with password writeback to Active Directory."""


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
