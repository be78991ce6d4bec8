"""``simlab run``: run scenario files in this process, or under pytest-xdist with ``-n``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-k", "keyword", help="Only scenarios whose name or tag contains this ('not x' excludes).")
@click.option("--seed", type=int, help="Override every scenario's lab seed.")
@click.option("--json", "json_out", type=click.Path(), help="Write results as JSON ('-' for stdout).")
@click.option("--junit", type=click.Path(dir_okay=False), help="Write JUnit XML results here.")
@click.option("-x", "--exitfirst", is_flag=True, help="Stop at the first failing scenario.")
@click.option("-n", "--numprocesses", "workers", type=click.IntRange(min=0), default=0,
              help="Run on N processes (pytest-xdist; 0 = in this process).")
@click.option("--no-cache", is_flag=True, help="Build every lab from scratch (no lab image cache).")
def run(paths, keyword, seed, json_out, junit, exitfirst, workers, no_cache) -> None:
    """Run scenario files (or directories of them); exit 1 if any fails."""
    if no_cache:
        os.environ["SIMLAB_NO_CACHE"] = "1"  # the scenario runner's labs read it
    from rich.console import Console
    from rich.progress import Progress

    from simlab import report
    from simlab.scenarios import Scenario, discover, run_scenario, select
    from simlab.specfile import SpecError

    console = Console(stderr=json_out == "-")
    try:
        scenarios = [Scenario.load(p) for p in discover(list(paths))]
    except SpecError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(2)
    scenarios = select(scenarios, keyword)
    if not scenarios:
        click.echo("simlab: no scenarios selected", err=True)
        sys.exit(5)
    results = []
    if workers:
        from simlab.parallel import ParallelRunError, run_parallel

        try:
            results = run_parallel([Path(p) for p in paths], scenarios, workers, keyword=keyword, seed=seed,
                                   exitfirst=exitfirst)
        except ParallelRunError as exc:
            raise click.ClickException(str(exc)) from None
    else:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("scenarios", total=len(scenarios))
            for scenario in scenarios:
                progress.update(task, description=scenario.name)
                results.append(run_scenario(scenario, seed=seed))
                progress.advance(task)
                if exitfirst and not results[-1].passed:
                    break
    from simlab import image_saver

    image_saver.finish_all(lambda line: click.echo(line, err=True))  # big labs' images still being written
    report.print_report(results, console)
    if json_out == "-":
        click.echo(report.to_json(results))
    elif json_out:
        Path(json_out).write_text(report.to_json(results))
    if junit:
        Path(junit).write_text(report.to_junit(results))
    sys.exit(0 if all(r.passed for r in results) else 1)


__all__ = ["run"]
