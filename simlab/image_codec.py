"""A safe value codec for lab images: msgpack plus a closed set of extension types.

Loading an image must be safe even when the file comes from a shared CI cache, so nothing
here can name an arbitrary callable (unlike pickle). The only types that come back are
msgpack's own (None, bool, int, float, str, bytes, list, dict), plus:

* tuple, set, frozenset, deque, datetime, timedelta, UUID;
* a :class:`random.Random` state (returned as :class:`simlab.snapshot.RngState`, never a live object);
* dataclasses, enums and pydantic models **defined in simlab's own packages** (``fakes.*`` or
  ``simlab.*``), rebuilt field by field without running arbitrary code: a class outside
  those packages, or a name that does not resolve to such a class, is a :class:`CodecError`.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import random
from collections import deque
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgpack

from simlab.snapshot import RngState

_ALLOWED_PACKAGES = ("fakes.", "simlab.")

# Extension type codes (part of the image format: changing one needs a FORMAT_VERSION bump).
_TUPLE, _SET, _FROZENSET, _DEQUE, _DATETIME, _TIMEDELTA, _UUID, _RNG, _DATACLASS, _ENUM, _MODEL = range(1, 12)


class CodecError(ValueError):
    """A value that cannot be stored in (or was not allowed back out of) an image."""


def _name_of(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _class_named(name: str) -> type:
    module_name, _, qualname = name.partition(":")
    if not module_name.startswith(_ALLOWED_PACKAGES) or not qualname:
        raise CodecError(f"class {name!r} is not one simlab images may contain")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise CodecError(f"class {name!r} does not exist in this simlab version") from exc
    if not isinstance(obj, type):
        raise CodecError(f"{name!r} is not a class")
    return obj


def _pack(obj: Any) -> bytes:
    return msgpack.packb(obj, default=_default, use_bin_type=True, strict_types=True)


def _default(obj: Any) -> msgpack.ExtType:
    """msgpack hook: encode the allowed non-native types (strict_types makes tuples come here)."""
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return msgpack.ExtType(_TUPLE, _pack(list(obj)))
    if isinstance(obj, frozenset):
        return msgpack.ExtType(_FROZENSET, _pack(list(obj)))
    if isinstance(obj, set):
        return msgpack.ExtType(_SET, _pack(list(obj)))
    if isinstance(obj, deque):
        return msgpack.ExtType(_DEQUE, _pack(list(obj)))
    if isinstance(obj, datetime):
        return msgpack.ExtType(_DATETIME, obj.isoformat().encode())
    if isinstance(obj, timedelta):
        return msgpack.ExtType(_TIMEDELTA, _pack([obj.days, obj.seconds, obj.microseconds]))
    if isinstance(obj, UUID):
        return msgpack.ExtType(_UUID, obj.bytes)
    if isinstance(obj, random.Random):
        obj = RngState(obj.getstate())
    if isinstance(obj, RngState):
        version, internal, gauss = obj.state  # type: ignore[misc]
        return msgpack.ExtType(_RNG, _pack([version, list(internal), gauss]))
    cls = type(obj)
    if not cls.__module__.startswith(_ALLOWED_PACKAGES):
        raise CodecError(f"a {_name_of(cls)} cannot be stored in a lab image")
    if isinstance(obj, enum.Enum):
        return msgpack.ExtType(_ENUM, _pack([_name_of(cls), obj.value]))
    if dataclasses.is_dataclass(obj):
        values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if hasattr(obj, f.name)}
        return msgpack.ExtType(_DATACLASS, _pack([_name_of(cls), values]))
    if hasattr(obj, "model_dump") and hasattr(cls, "model_validate"):
        return msgpack.ExtType(_MODEL, _pack([_name_of(cls), obj.model_dump(mode="python")]))
    raise CodecError(f"a {_name_of(cls)} cannot be stored in a lab image")


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _TUPLE:
        return tuple(_unpack(data))
    if code == _SET:
        return set(_unpack(data))
    if code == _FROZENSET:
        return frozenset(_unpack(data))
    if code == _DEQUE:
        return deque(_unpack(data))
    if code == _DATETIME:
        return datetime.fromisoformat(data.decode())
    if code == _TIMEDELTA:
        days, seconds, micro = _unpack(data)
        return timedelta(days=days, seconds=seconds, microseconds=micro)
    if code == _UUID:
        return UUID(bytes=data)
    if code == _RNG:
        version, internal, gauss = _unpack(data)
        return RngState((version, tuple(internal), gauss))
    if code in (_DATACLASS, _ENUM, _MODEL):
        name, payload = _unpack(data)
        cls = _class_named(name)
        if code == _ENUM:
            if not issubclass(cls, enum.Enum):
                raise CodecError(f"{name!r} is not an enum")
            return cls(payload)
        if code == _MODEL:
            if not hasattr(cls, "model_validate"):
                raise CodecError(f"{name!r} is not a pydantic model")
            return cls.model_validate(payload)  # type: ignore[attr-defined]
        return _dataclass(cls, name, payload)
    raise CodecError(f"unknown extension type {code} in a lab image")


def _dataclass(cls: type, name: str, values: dict[str, Any]) -> Any:
    if not dataclasses.is_dataclass(cls):
        raise CodecError(f"{name!r} is not a dataclass")
    fields = {f.name for f in dataclasses.fields(cls)}
    if set(values) - fields:
        raise CodecError(f"{name!r} has no field(s) {sorted(set(values) - fields)}")
    # Rebuilt without __init__/__post_init__: the values were valid when saved, and nothing runs.
    obj = object.__new__(cls)
    for key, value in values.items():
        object.__setattr__(obj, key, value)
    return obj


def encode(value: Any) -> bytes:
    """``value`` as msgpack bytes; :class:`CodecError` for a type images may not hold."""
    try:
        return _pack(value)
    except (TypeError, OverflowError) as exc:  # msgpack's own refusal of a native type
        raise CodecError(str(exc)) from exc


def decode(data: bytes) -> Any:
    """Inverse of :func:`encode`; :class:`CodecError` (or ValueError) on anything unexpected."""
    try:
        return _unpack(data)
    except CodecError:
        raise
    except (msgpack.UnpackException, ValueError, TypeError, KeyError) as exc:
        raise CodecError(f"undecodable image data: {exc}") from exc


__all__ = ["CodecError", "decode", "encode"]
