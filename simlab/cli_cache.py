"""``simlab cache list|clear|path``: look after the lab image cache (docs/images.md)."""

from __future__ import annotations

import json

import click


@click.group("cache")
def cache_group() -> None:
    """The lab image cache ($XDG_CACHE_HOME/simlab): built labs saved for a fast start."""


@cache_group.command("path")
def cache_path() -> None:
    """Print the cache folder."""
    from simlab.image_cache import cache_dir

    click.echo(str(cache_dir()))


@cache_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image.")
def cache_list(as_json: bool) -> None:
    """List the images: spec name, users, size, and whether this simlab can load them."""
    from simlab.image_cache import list_images, usable
    from simlab.image_file import ImageInfo

    rows = []
    for item in list_images():
        if isinstance(item, ImageInfo):
            rows.append({"file": item.path.name, "spec": item.spec_name, "users": item.users,
                         "bytes": item.file_bytes, "simlab": item.simlab, "usable": usable(item)})
        else:
            path, reason = item
            rows.append({"file": path.name, "usable": False, "error": reason})
    if not rows and not as_json:  # (on stderr: stdout stays one line per image, for scripts)
        from simlab.image_cache import cache_dir

        click.echo(f"no lab images in {cache_dir()}", err=True)
    width = max((len(row["spec"]) for row in rows if "spec" in row), default=0)  # (columns line up)
    for row in rows:
        if as_json:
            click.echo(json.dumps(row))
        elif "error" in row:
            click.echo(f"{row['file'][:16]}  unreadable: {row['error']}")
        else:
            state = "ok" if row["usable"] else "stale (other simlab code or format: `cache clear --stale`)"
            click.echo(f"{row['file'][:16]}  {row['spec']:<{width}}  {row['users']:>7} users "
                       f"{row['bytes'] / 2**20:7.1f} MiB  {state}")


@cache_group.command("clear")
@click.option("--stale", is_flag=True,
              help="Only the images this simlab cannot load (another version's or code's, or unreadable).")
def cache_clear(stale: bool) -> None:
    """Delete every image in the cache (or, with --stale, those no longer usable)."""
    from simlab.image_cache import cache_dir, clear

    click.echo(f"removed {clear(stale_only=stale)} file(s) from {cache_dir()}")


__all__ = ["cache_group"]
