"""``simlab serve``: build or load a lab, serve it, print its endpoints, wait for the stop."""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from simlab import cli
from simlab.cli import _load_spec


@click.command()
@click.option("--spec", type=click.Path(exists=True, dir_okay=False), help="Lab spec YAML.")
@click.option("--seed", type=int, help="Seed for names, GUIDs, SIDs (overrides the spec).")
@click.option("--users", type=int, help="Seeded users (overrides the spec).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address, e.g. 127.0.0.2.")
@click.option("--ldap-port", type=int, default=0, show_default=True, help="0 = ephemeral; or 389.")
@click.option("--ldaps-port", type=int, default=0, show_default=True, help="0 = ephemeral; or 636.")
@click.option("--standard-ports", is_flag=True,
              help="LDAP on 389 and LDAPS on 636 of a free loopback address of the lab's own (127.0.0.x).")
@click.option("--allow-non-loopback", is_flag=True, help="Allow a non-loopback --host (you asked for it).")
@click.option("--ui", is_flag=True, help="Also serve the training console.")
@click.option("--workdir", type=click.Path(file_okay=False), help="Where the CA and server files go.")
@click.option("--endpoints-file", type=click.Path(dir_okay=False),
              help="Also write the JSON line here (default: endpoints.json in the workdir).")
@click.option("--no-cache", is_flag=True, help="Build the lab from scratch (no lab image cache).")
def serve(spec, seed, users, host, ldap_port, ldaps_port, standard_ports, allow_non_loopback, ui,
          workdir, endpoints_file, no_cache) -> None:
    """Start a lab and serve it until Ctrl-C, SIGTERM or `simlab stop`.

    Prints one JSON line of endpoints on stdout (and in --endpoints-file); on a terminal,
    also a short summary on stderr.
    """
    from fakes import keys

    keys.prepare()  # the tokens of the endpoint line need an RSA key: made while the lab builds
    with _StartupGc() as startup_gc:
        _serve(startup_gc, spec, seed, users, host, ldap_port, ldaps_port, standard_ports, allow_non_loopback,
               ui, workdir, endpoints_file, no_cache)


class _StartupGc:
    """The cyclic garbage collector is off while a served lab starts, then its objects are frozen.

    A start creates hundreds of thousands of long-lived objects (modules, classes, the lab):
    the collector would rescan them again and again while they are made (~0.1 s of a 0-user
    start), and its first pass after the start would walk them all in the middle of the first
    request. :meth:`ready` moves them to the permanent generation (``gc.freeze``; only in the
    ``simlab`` program, whose objects all belong to the lab) and turns the collector back on
    for what the running lab allocates. The tables a lab loaded from its image decodes on first
    use are frozen the same way when made (``fakes.deferred.freeze_after_load``). The price: a
    cycle among those objects that is dropped later is not collected; the process serves one lab
    until it exits (it is never rebuilt).
    """

    def __enter__(self) -> _StartupGc:
        self.enabled = gc.isenabled()
        gc.disable()
        return self

    def ready(self) -> None:
        if self.enabled and not gc.isenabled():
            if cli.as_program():
                gc.freeze()
                from fakes import deferred

                deferred.freeze_after_load = True  # what a loaded image decodes later: the same
            gc.enable()

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            gc.enable()


class _ImageSave:
    """A cold build's image, still being written by its forked child when the lab stops.

    Stopping used to kill that child: a 100k-user lab takes about 10 s to save after it is
    ready, so a session shorter than that never left an image, and every start stayed cold. Now
    the servers close first (the ports are free, ``simlab stop`` returns), then the process waits
    for the image; a Ctrl-C or SIGTERM during that wait skips it (the child is killed, its
    temporary file removed). The child ignores the terminal's Ctrl-C, which reaches the whole
    process group: this process decides.
    """

    def __init__(self) -> None:
        self.save: Any = None
        self.finishing = threading.Event()
        self.skip = threading.Event()

    def take(self, lab: Any) -> None:
        """Own the lab's save: closing the lab no longer cancels it."""
        self.save = lab.release_image_save()

    def cancel(self) -> None:
        if self.save is not None:
            self.save.cancel()

    def finish(self) -> None:
        save = self.save
        if save is None or save.done:
            return
        self.finishing.set()
        click.echo("simlab: finishing the lab image for the next start (Ctrl-C skips it)", err=True)
        while save.wait(0.2) is None:
            if self.skip.is_set():
                save.cancel()
                click.echo("simlab: lab image not saved (skipped)", err=True)
                return
        if save.status == 0:
            click.echo(f"simlab: lab image saved ({save.target})", err=True)
        else:
            click.echo("simlab: lab image not saved (its writer failed; the next start builds the lab)",
                       err=True)


def _serve(startup_gc, spec, seed, users, host, ldap_port, ldaps_port, standard_ports, allow_non_loopback, ui,
           workdir, endpoints_file, no_cache) -> None:
    from fakes.hosts import check_host
    from simlab import image_cache
    from simlab.specfile import SpecError

    try:
        check_host(host, allow_non_loopback)
        # Inputs a cached lab was started from before skip validation (and pydantic: ~0.2 s).
        recalled = None if no_cache else image_cache.recall_spec(spec, seed, users)
        lab_spec = recalled or _load_spec(spec, seed, users)
    except (SpecError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    if standard_ports and (ldap_port or ldaps_port or host != "127.0.0.1"):
        raise click.UsageError("--standard-ports picks the address and ports itself: "
                               "drop --host/--ldap-port/--ldaps-port")
    if not no_cache:
        image_cache.prefetch(lab_spec)  # read on another core while the servers' modules load
    from simlab.control import close_together, serve_control
    from simlab.lab import Lab
    from simlab.lastlab import forget, remember, write_private
    from simlab.terminal import print_serve_summary, serve_facts

    stop = threading.Event()
    interrupted: list[int] = []
    image = _ImageSave()

    def on_signal(signum: int, _frame: object) -> None:
        if image.finishing.is_set():  # the servers are closed, the image is being written
            image.skip.set()
            return
        # A second Ctrl-C / SIGTERM while shutting down means "now": don't wait for cleanup.
        if stop.is_set():
            image.cancel()
            click.echo("simlab: forced exit", err=True)
            os._exit(130)
        interrupted.append(signum)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    from simlab.progress import build_progress

    with build_progress() as progress:
        lab = Lab(lab_spec, host=host, ldap_port=ldap_port, ldaps_port=ldaps_port, workdir=workdir,
                  standard_ports=standard_ports, cache=not no_cache, progress=progress,
                  # A cold build's image is written by a forked child while the lab serves.
                  save_in_background=True).start()
    image.save = lab.image_save  # (a forced exit kills it: the writer ignores Ctrl-C)
    with lab:
        graph = lab.serve_graph()
        # The lab's CA file outlives the Graph server's temporary copy: keep the lab's.
        endpoints: dict[str, Any] = {**graph.to_json(), **lab.endpoints(), **serve_facts(lab)}
        control = serve_control(lab, on_stop=stop.set)
        control_url, token = control.__enter__()
        closers = [lab.close, lambda: control.__exit__(None, None, None)]
        try:
            endpoints.update(control_url=control_url, control_token=token)
            if ui:
                from simlab.console import serve_console

                console = serve_console(lab, host="127.0.0.1")
                endpoints["ui_url"] = console.__enter__()
                closers.append(lambda: console.__exit__(None, None, None))
            path = Path(endpoints_file) if endpoints_file else Path(lab.workdir) / "endpoints.json"
            endpoints["endpoints_file"] = str(path.resolve())
            try:
                write_private(path, json.dumps(endpoints) + "\n")
            except OSError as exc:
                raise click.ClickException(f"cannot write the endpoints file {path}: {exc.strerror}") \
                    from None
            remember(endpoints)
            click.echo(json.dumps(endpoints), nl=True)
            sys.stdout.flush()
            startup_gc.ready()
            if recalled is None and lab.cache_status != "off":
                image_cache.remember_spec(spec, seed, users, lab_spec)
            print_serve_summary(endpoints, pid=os.getpid())
            while not stop.wait(0.5):
                pass
        finally:
            forget(control_url)
            image.take(lab)  # closing the lab would cancel its image save: finished below instead
            close_together(*closers)  # every server at once: a stop takes the slowest, not the sum
    # After a Ctrl-C the terminal shows "^C": start the last line on a line of its own.
    newline = "\n" if interrupted[:1] == [signal.SIGINT] and sys.stderr.isatty() else ""
    click.echo(f"{newline}simlab: lab stopped", err=True)
    image.finish()
    if cli.as_program():
        # Everything is closed and flushed; tearing down the interpreter's object graph (the
        # directory, schema, tenant) would add ~0.5 s to every Ctrl-C / kill for nothing.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


__all__ = ["serve"]
