"""Hypothesis strategies for lab specs and faults, for property tests of tooling and of simlab."""

from __future__ import annotations

from hypothesis import strategies as st

from simlab.faults import FAULTS
from simlab.spec import LabSpec


def fault_names(*, categories: tuple[str, ...] | None = None) -> st.SearchStrategy[str]:
    """One catalogue fault name (optionally from some categories only)."""
    names = sorted(n for n, f in FAULTS.items() if categories is None or f.category in categories)
    return st.sampled_from(names)


def fault_sets(max_size: int = 2, **kwargs) -> st.SearchStrategy[list[str]]:
    """Distinct fault names, up to ``max_size`` of them."""
    return st.lists(fault_names(**kwargs), min_size=1, max_size=max_size, unique=True)


def lab_specs(*, max_users: int = 20, with_faults: bool = False) -> st.SearchStrategy[LabSpec]:
    """Small, valid lab specs: seeds, population sizes, password policy, tenant toggles."""

    @st.composite
    def build(draw: st.DrawFn) -> LabSpec:
        min_age = draw(st.sampled_from([0, 0, 1]))
        data = {
            "seed": draw(st.integers(0, 2**16)),
            "population": {"users": draw(st.integers(0, max_users))},
            "password_policy": {
                "min_age_days": min_age,
                "min_length": draw(st.integers(7, 14)),
                "history": draw(st.integers(0, 24)),
                "complexity": draw(st.booleans()),
            },
            "connect": {"account": draw(st.sampled_from(["custom", "express"]))},
            "tenant": {
                "licence": draw(st.sampled_from(["P1", "P2"])),
                "unlock": draw(st.booleans()),
            },
        }
        if with_faults:
            data["faults"] = draw(fault_sets())
        return LabSpec.model_validate(data)

    return build()
