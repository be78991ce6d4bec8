"""Loading YAML documents into pydantic models with errors that name file, line and field.

Used for lab specs and scenario files: a typo in a scenario should read
``scenarios/x.yaml:12: tenant.sspr.enabled: Input should be 'none', 'selected' or 'all'``,
not a stack trace.

PyYAML loads on the first file read (its import compiles large regexes): a lab built from
the default spec, as ``simlab serve`` without ``--spec``, never needs it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import yaml
    from pydantic import BaseModel

# (pydantic loads with the first validation: importing SpecError must not load it)
M = TypeVar("M", bound="BaseModel")


class SpecError(ValueError):
    """A spec or scenario file could not be read or did not validate."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(problems))


@functools.cache
def _loader() -> Any:
    """libyaml's parser when PyYAML was built with it (about ten times faster: thousands of scenario
    files are collected by every pytest-xdist worker), else the pure-Python one. Both keep marks."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str, source: str = "<string>") -> tuple[Any, yaml.Node | None]:
    """Parse YAML once, returning the data and its node tree (for line numbers)."""
    import yaml

    loader = _loader()(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(source, [f"{where}: invalid YAML: {problem}"]) from None
    finally:
        loader.dispose()
    return data, node


def validate(model: type[M], data: Any, node: yaml.Node | None, source: str, prefix: str = "") -> M:
    """Validate ``data`` against ``model``; map each error to the YAML line it came from.

    ``prefix`` names where ``data`` sits in a larger document (``lab.``) for the messages.
    """
    from pydantic import ValidationError

    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
            line = _line_of(node, loc)
            field = prefix + ".".join(str(p) for p in loc) if loc or prefix else "(top level)"
            where = f"{source}:{line}" if line else source
            problems.append(f"{where}: {field}: {err['msg']}")
        raise SpecError(source, problems) from None


def read_yaml_file(path: Path | str) -> tuple[Any, yaml.Node | None]:
    """Read and parse a YAML file; unreadable files and bad YAML become :class:`SpecError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(str(path), [f"{path}: cannot read: {exc.strerror}"]) from None
    return load_yaml(text, str(path))


def child_node(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The value node under ``key`` of a mapping node (None when absent)."""
    if node is None:
        return None
    import yaml

    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def load_model(model: type[M], path: Path | str) -> M:
    """Read and validate a YAML file."""
    data, node = read_yaml_file(path)
    return validate(model, data, node, str(path))


def _line_of(node: yaml.Node | None, loc: list[Any]) -> int | None:
    """1-based line of the deepest node along ``loc`` that exists in the document."""
    if node is None:
        return None
    import yaml

    best = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    nxt = value
                    best = key.start_mark.line + 1
                    break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            best = node.start_mark.line + 1
        else:
            break
        if node is None:
            break
    return best
