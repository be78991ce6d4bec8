"""Benchmark: saving and loading a lab image in-process, CPU time.

Builds ``Lab(LabSpec(population={"users": N}))`` once per size, then times
``simlab.image.save_image`` (and its two big parts, ``capture_directory`` and the whole
``capture``) and ``load_image`` of the file it wrote, ``--repeat`` times each, with the cyclic GC
paused as ``Lab.start`` does (``--gc`` leaves it running: what a direct caller of ``save_image``
saw before it paused the GC itself). Process CPU time (``time.process_time``): steadier than wall
time on a shared machine. Prints min / median / max per size.

Run: ``python benchmarks/bench_image_save.py [--sizes 10000 100000] [--repeat 3] [--gc]``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simlab.image import capture, capture_directory, load_image, save_image, take_snapshot
from simlab.lab import Lab
from simlab.spec import LabSpec


def _cpu(run: Callable[[], object]) -> float:
    start = time.process_time()
    run()
    return time.process_time() - start


def measure(users: int, repeat: int, *, keep_gc: bool) -> dict[str, list[float]]:
    """CPU seconds of each step, ``repeat`` times, on one ``users``-user lab."""
    gc.disable()
    with Lab(LabSpec(population={"users": users})) as lab, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.simlab-image"
        times: dict[str, list[float]] = {}
        for _ in range(repeat):
            if keep_gc:
                gc.enable()
            snap = take_snapshot(lab, copy=False)
            steps = {
                "capture_directory": lambda snap=snap: capture_directory(lab.dc.directory, snap.directory),
                "capture": lambda: capture(lab),
                "save_image": lambda: save_image(lab, path, "bench"),
            }
            for name, step in steps.items():
                times.setdefault(name, []).append(_cpu(step))
            gc.disable()
            times.setdefault("load_image", []).append(_cpu(lambda: load_image(path, "bench")))
        times["image MiB"] = [path.stat().st_size / 2**20]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gc", action="store_true", help="leave the cyclic GC running while saving")
    args = parser.parse_args()
    print(f"{'users':>7}  {'step':<18} {'min':>7} {'median':>7} {'max':>7}  (CPU s)")
    for users in args.sizes:
        for name, values in measure(users, args.repeat, keep_gc=args.gc).items():
            low, mid, high = min(values), statistics.median(values), max(values)
            print(f"{users:>7}  {name:<18} {low:7.2f} {mid:7.2f} {high:7.2f}")


if __name__ == "__main__":
    main()
