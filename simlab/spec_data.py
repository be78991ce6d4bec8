"""A validated spec as plain data: how a cached lab starts without importing pydantic.

Importing pydantic and building the spec's models costs ``simlab serve`` about 0.2 s, a
quarter of a warm start. A spec that was validated once (a lab image was built from it) need
not be validated again: :class:`SpecData` holds its values and reads like the model
(``spec.population.users``), and turns into the pydantic model it stands for only when asked
for anything else (``model_dump``, ``model_copy``, ...). The image cache keeps specs in this
form (:func:`simlab.image_cache.recall_spec`), and lab images keep the GPO settings in it.

The plain form, a *tree*, tags every node, so reading it back needs no schema:
``{"model": [name, {field: node}]}`` for a model (``name`` is ``module:qualname``),
``{"list": [node, ...]}`` for a list, ``{"value": v}`` for anything else (a JSON value, so a
fault's ``params`` stay a dict).
"""

from __future__ import annotations

from typing import Any

#: The packages whose classes the cache's files (lab images, spec notes) may name.
ALLOWED_PACKAGES = ("fakes.", "simlab.")


class SpecData:
    """A validated spec model (LabSpec or one of its parts) as read-only plain data.

    Its fields read as the model's do; lists of models hold SpecData. Any other attribute is
    the real model's, made (validated again, pydantic imported) on first use. It compares equal
    to the model it stands for, and to another SpecData of the same model and values.
    """

    __slots__ = ("_fields", "_model", "_real")
    __hash__ = None  # type: ignore[assignment]  # (pydantic models are not hashable either)

    def __init__(self, model: str, fields: dict[str, Any]) -> None:
        if not model.startswith(ALLOWED_PACKAGES) or ":" not in model:
            raise ValueError(f"{model!r} is not a simlab spec model")
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_fields", fields)
        object.__setattr__(self, "_real", None)

    @property
    def model_name(self) -> str:
        """The ``module:qualname`` of the model this stands for."""
        return self._model

    def __getattr__(self, name: str) -> Any:
        # Only called for names the slots and the class do not have: a field, else the model's.
        fields = object.__getattribute__(self, "_fields")
        if name in fields:
            return fields[name]
        if name.startswith("__"):  # (copy, pickle and friends probe these: not the model's)
            raise AttributeError(name)
        return getattr(self.real(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a spec read from the image cache is read-only ({name}): "
                             "use model_copy(update=...) for a changed copy")

    def real(self) -> Any:
        """The pydantic model this stands for (made once, from :meth:`json`)."""
        if self._real is None:
            object.__setattr__(self, "_real", model_class(self._model).model_validate(self.json()))
        return self._real

    def json(self) -> dict[str, Any]:
        """What the model's ``model_dump(mode="json")`` returns."""
        return {name: _json(value) for name, value in self._fields.items()}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SpecData):
            return self._model == other._model and self.json() == other.json()
        if _is_model(other):
            return self._model == class_name(type(other)) and self.json() == other.model_dump(mode="json")  # type: ignore[attr-defined]
        return NotImplemented

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self._fields.items())
        return f"{self._model.rpartition(':')[2]}({shown})"

    def __copy__(self) -> SpecData:
        return self  # read-only: a copy would be the same

    def __deepcopy__(self, memo: dict[int, Any]) -> SpecData:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return from_tree, (tree(self),)


def tree(spec: Any) -> dict[str, Any]:
    """The plain tagged form of a validated pydantic model or a :class:`SpecData` (JSON-ready)."""
    return _tag(spec, spec_json(spec))


def _tag(value: Any, dumped: Any) -> dict[str, Any]:
    if isinstance(value, SpecData):
        return {"model": [value.model_name, {k: _tag(v, dumped[k]) for k, v in value._fields.items()}]}
    if _is_model(value):
        names = type(value).model_fields
        return {"model": [class_name(type(value)), {k: _tag(getattr(value, k), dumped[k]) for k in names}]}
    if isinstance(value, list | tuple):
        return {"list": [_tag(v, d) for v, d in zip(value, dumped, strict=True)]}
    return {"value": dumped}


def from_tree(node: Any) -> Any:
    """The value a :func:`tree` node stands for (a :class:`SpecData` for a model).

    Raises ValueError on anything :func:`tree` does not make."""
    if type(node) is not dict or len(node) != 1:
        raise ValueError(f"a spec tree node must be a one-key map, not {node!r:.80}")
    ((kind, body),) = node.items()
    if kind == "value":
        return body
    if kind == "list" and type(body) is list:
        return [from_tree(item) for item in body]
    if kind == "model" and type(body) is list and len(body) == 2 and type(body[0]) is str \
            and type(body[1]) is dict:
        name, fields = body
        return SpecData(name, {str(field): from_tree(value) for field, value in fields.items()})
    raise ValueError(f"not a spec tree node: {node!r:.80}")


def spec_json(spec: Any) -> dict[str, Any]:
    """``model_dump(mode="json")`` of a pydantic spec model or a :class:`SpecData`, without pydantic
    for the latter."""
    return spec.json() if isinstance(spec, SpecData) else spec.model_dump(mode="json")


def model_class(spec: Any) -> Any:
    """The pydantic class of a model, of a :class:`SpecData`, or named ``module:qualname``."""
    if isinstance(spec, SpecData):
        spec = spec.model_name
    if not isinstance(spec, str):
        return type(spec)
    # The one resolver of class names read from the cache (images and notes: which packages,
    # does it exist); imported here, not at the top, because the codec imports this module.
    from simlab.image_codec import _class_named

    cls = _class_named(spec)
    if not hasattr(cls, "model_validate"):
        raise ValueError(f"{spec!r} is not a pydantic model")
    return cls


def _json(value: Any) -> Any:
    if isinstance(value, SpecData):
        return value.json()
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def _is_model(value: Any) -> bool:
    # Duck-typed so this module never imports pydantic (a model class has model_fields).
    return hasattr(type(value), "model_fields") and hasattr(type(value), "model_validate")


def class_name(cls: type) -> str:
    """How the cache's files name a class: ``module:qualname`` (what ``image_codec`` resolves)."""
    return f"{cls.__module__}:{cls.__qualname__}"


__all__ = ["ALLOWED_PACKAGES", "SpecData", "class_name", "from_tree", "model_class", "spec_json", "tree"]
