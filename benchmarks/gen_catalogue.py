"""Generate a large scenario catalogue: every shipped fault scenario x lab specs x seeds.

    python benchmarks/gen_catalogue.py --count 1000 --out /tmp/catalogue
    python -m pytest -p no:cacheprovider -o simlab_scenarios=/tmp/catalogue --rootdir /tmp/catalogue \
        -c /dev/null /tmp/catalogue -n 2 --splits 4 --group 1

Each generated file is a shipped ``scenarios/faults/*.yaml`` with its ``lab`` section varied
(population size, departments) and a fixed seed, named ``<scenario>--<spec>--s<seed>``. The
expectations are the shipped ones: a fault's symptom does not depend on the population or the
seed, so every generated scenario must pass. Files are written in a stable order and the same
``--count`` always gives the same files (deterministic sharding needs a stable item list).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

#: Lab spec variations (merged into each scenario's ``lab``).
SPECS: dict[str, dict] = {
    "small": {"population": {"users": 5}},
    "medium": {"population": {"users": 25, "departments": ["Sales", "IT", "HR", "Finance"]}},
    "wide": {"population": {"users": 60, "departments": ["Sales", "IT", "HR", "Finance", "Legal"]}},
}


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def generate(count: int, out: Path, sources: list[Path] | None = None) -> list[Path]:
    """Write ``count`` scenario files to ``out`` (cycling faults fastest, then specs, then seeds)."""
    sources = sources or sorted((ROOT / "scenarios" / "faults").glob("*.yaml"))
    documents = [(p.stem, yaml.safe_load(p.read_text())) for p in sources]
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    combos = ((seed, spec, doc) for seed in itertools.count(1) for spec in SPECS for doc in documents)
    for seed, spec, (stem, doc) in itertools.islice(combos, count):
        name = f"{doc.get('name', stem)}--{spec}--s{seed}"
        data = {**doc, "name": name, "lab": _merge(doc.get("lab") or {}, {**SPECS[spec], "seed": seed})}
        data["tags"] = [*doc.get("tags", []), f"spec-{spec}"]
        path = out / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    written = generate(args.count, args.out)
    print(f"wrote {len(written)} scenarios to {args.out}")


if __name__ == "__main__":
    main()
