"""``simlab cache build|list|clear|path``: look after the lab image cache (docs/images.md)."""

from __future__ import annotations

import json

import click

from simlab.cli import _load_spec


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


@cache_group.command("build")
@click.option("--spec", "specs", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Lab spec YAML (repeat for several labs; none: the default lab).")
@click.option("--seed", type=int, help="Seed for names, GUIDs, SIDs (overrides each spec).")
@click.option("--users", type=int, help="Seeded users (overrides each spec).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per lab.")
def cache_build(specs: tuple[str, ...], seed: int | None, users: int | None, as_json: bool) -> None:
    """Build each lab and save its image, without serving it.

    The next `simlab serve`, `simlab run` or pytest fixture with the same spec (and seed and
    users) then loads the lab from its image: for a CI step before the tests, or a cache a CI
    system keeps between runs. A lab whose image is already there is loaded, not rebuilt.
    """
    import time

    from simlab.image_cache import disabled_by_env, image_path, remember_spec
    from simlab.image_file import image_key
    from simlab.lab import Lab
    from simlab.progress import build_progress
    from simlab.specfile import SpecError

    if disabled_by_env():
        raise click.ClickException("the lab image cache is off here (SIMLAB_NO_CACHE is set): "
                                   "nothing would be saved")
    try:
        labs = [(path, _load_spec(path, seed, users)) for path in specs or (None,)]
    except (SpecError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    for path, spec in labs:
        started = time.perf_counter()
        with build_progress(enabled=not as_json) as progress:
            lab = Lab(spec, cache=True, progress=progress).start()
        lab.close()
        seconds = time.perf_counter() - started
        file = image_path(image_key(spec))
        if not file.exists():  # (the cache is on: the save itself failed)
            raise click.ClickException(f"{path or 'the default lab'}: no image was saved "
                                       f"({lab.cache_status}: {lab.cache_message or 'see the log'})")
        remember_spec(path, seed, users, spec)  # `simlab serve` with the same options reads it back
        row = {"spec": path, "name": spec.name, "users": spec.population.users, "file": str(file),
               "bytes": file.stat().st_size, "status": "cached" if lab.cache_status == "hit" else "built",
               "seconds": round(seconds, 3)}
        if lab.cache_status == "rejected":
            row["rejected"] = lab.cache_message  # a bad image was there: deleted and rebuilt
        if as_json:
            click.echo(json.dumps(row))
        else:
            click.echo(f"{row['status']:<6}  {file.name[:16]}  {spec.name}  {row['users']} users  "
                       f"{row['bytes'] / 2**20:.1f} MiB  {seconds:.2f} s"
                       + (f"  (replaced a bad image: {lab.cache_message})" if "rejected" in row else ""))


@cache_group.command("clear")
@click.option("--stale", is_flag=True,
              help="Only the images this simlab cannot load (another version's or code's, or unreadable).")
def cache_clear(stale: bool) -> None:
    """Delete every image in the cache (or, with --stale, those no longer usable), and the spec
    notes that go with them."""
    from simlab.image_cache import cache_dir, clear

    click.echo(f"removed {clear(stale_only=stale)} file(s) from {cache_dir()}")


__all__ = ["cache_group"]
