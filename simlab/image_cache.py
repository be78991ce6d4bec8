"""The lab image cache folder: ``$XDG_CACHE_HOME/simlab/`` (default ``~/.cache/simlab/``).

One file per cache key (:func:`simlab.image.image_key`), named ``<key>.simlab-image``. A lab
built with ``cache=True`` looks its key up here; a usable image is loaded, an unusable one
(corrupt, truncated, other version, hash mismatch) is reported, deleted and rebuilt, and a
cold build is saved. ``SIMLAB_NO_CACHE=1`` turns the cache off everywhere.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simlab.image_file import ImageError, ImageInfo, read_info

if TYPE_CHECKING:
    from simlab.lab import Lab

SUFFIX = ".simlab-image"
log = logging.getLogger("simlab.image")


def cache_dir() -> Path:
    """Where images live: ``$XDG_CACHE_HOME/simlab`` or ``~/.cache/simlab``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "simlab"


def disabled_by_env() -> bool:
    """``SIMLAB_NO_CACHE`` set to anything but ``""``/``0``/``false``/``no``."""
    return os.environ.get("SIMLAB_NO_CACHE", "").strip().lower() not in ("", "0", "false", "no")


def image_path(key: str) -> Path:
    return cache_dir() / f"{key}{SUFFIX}"


@dataclass(frozen=True, slots=True)
class Lookup:
    """What the cache had for a key: decoded image data, or why there is none."""

    key: str
    path: Path
    data: Any = None
    status: str = "miss"  # "hit", "miss" or "rejected"
    message: str = ""


def lookup(key: str) -> Lookup:
    """Load the image for ``key`` if there is a usable one; a bad file is reported and removed."""
    from simlab.image import load_image

    path = image_path(key)
    if not path.exists():
        return Lookup(key, path)
    try:
        return Lookup(key, path, load_image(path, key), "hit")
    except ImageError as exc:
        message = f"simlab: lab image rejected ({exc}); rebuilding the lab"
        log.warning(message)
        path.unlink(missing_ok=True)
        return Lookup(key, path, status="rejected", message=message)


def store(lab: Lab, key: str, *, tmp: Path | None = None) -> Path | None:
    """Save a freshly built lab under ``key``; a lab that cannot be imaged is only reported."""
    from simlab.image import save_image

    try:
        return save_image(lab, image_path(key), key, tmp=tmp)
    except (ImageError, OSError) as exc:
        log.warning("simlab: lab image not saved: %s", exc)
        return None


def list_images() -> list[ImageInfo | tuple[Path, str]]:
    """Every file in the cache: its header, or ``(path, reason)`` for one that is not readable."""
    folder = cache_dir()
    out: list[ImageInfo | tuple[Path, str]] = []
    for path in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []:
        try:
            out.append(read_info(path)[0])
        except ImageError as exc:
            out.append((path, str(exc)))
    return out


def clear() -> int:
    """Delete every image (and stale temp files) in the cache; returns how many files went."""
    folder = cache_dir()
    if not folder.is_dir():
        return 0
    gone = 0
    for path in [*folder.glob(f"*{SUFFIX}"), *folder.glob(f".*{SUFFIX}.*.tmp")]:
        path.unlink(missing_ok=True)
        gone += 1
    return gone


__all__ = ["Lookup", "cache_dir", "clear", "disabled_by_env", "image_path", "list_images", "lookup", "store"]
