"""The lab image cache folder: ``$XDG_CACHE_HOME/simlab/`` (default ``~/.cache/simlab/``).

One file per cache key (:func:`simlab.image.image_key`), named ``<key>.simlab-image``. A lab
built with ``cache=True`` looks its key up here; a usable image is loaded, an unusable one
(corrupt, truncated, other version, hash mismatch) is reported, deleted and rebuilt, and a
cold build is saved. ``SIMLAB_NO_CACHE=1`` turns the cache off everywhere.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simlab.image_file import ImageError, ImageInfo, read_info, read_raw_payload

if TYPE_CHECKING:
    from simlab.lab import Lab
    from simlab.spec import LabSpec

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
    """Load the image for ``key`` if there is a usable one; a bad file is reported and removed.

    Uses what :func:`prefetch` read for ``key``, if it was called."""
    from simlab.image import load_image

    path = image_path(key)
    try:
        raw = _take_prefetched(key)
        if raw is None and not path.exists():
            return Lookup(key, path)
        return Lookup(key, path, load_image(path, key, raw=raw), "hit")
    except ImageError as exc:
        message = f"simlab: lab image rejected ({exc}); rebuilding the lab"
        log.warning(message)
        path.unlink(missing_ok=True)
        return Lookup(key, path, status="rejected", message=message)


# key -> (the reading thread, [its payload or ImageError]); taken by lookup().
_prefetched: dict[str, tuple[threading.Thread, list[bytes | ImageError]]] = {}


def prefetch(spec: LabSpec, *, apply_faults: bool = True) -> None:
    """Start reading and verifying the image a lab of ``spec`` would load, on a thread of its own.

    For a process that has modules to import before it builds the lab (``simlab serve``): the
    file read, the SHA-256 and a one-call decompression release the GIL, so at 100k users (40
    MiB read, 80 MiB decompressed: about 0.2 s) they run on the other core meanwhile.
    :func:`lookup` waits for the thread and decodes what it read, so nothing is decoded before
    then, and a bad file is rejected there as without prefetching.
    Does nothing when the cache is off (``SIMLAB_NO_CACHE``) or holds no image for the spec.
    """
    from simlab.image_file import image_key

    if disabled_by_env():
        return
    key = image_key(spec, apply_faults=apply_faults)
    path = image_path(key)
    if key in _prefetched or not path.exists():
        return
    box: list[bytes | ImageError] = []

    def read() -> None:
        try:
            box.append(read_raw_payload(path, key))
        except ImageError as exc:
            box.append(exc)

    thread = threading.Thread(target=read, name="simlab-image-prefetch", daemon=True)
    _prefetched[key] = (thread, box)
    thread.start()


def _take_prefetched(key: str) -> bytes | None:
    """The verified, decompressed payload :func:`prefetch` read for ``key`` (None: none was, or
    the thread died of something else, and the caller reads the file itself); its ImageError is
    raised here."""
    found = _prefetched.pop(key, None)
    if found is None:
        return None
    thread, box = found
    thread.join()
    if box and isinstance(box[0], ImageError):
        raise box[0]
    return box[0] if box else None


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


def usable(item: ImageInfo | tuple[Path, str]) -> bool:
    """Whether this simlab can load a :func:`list_images` item (see :meth:`ImageInfo.foreign`)."""
    return isinstance(item, ImageInfo) and item.foreign() is None


def clear(*, stale_only: bool = False) -> int:
    """Delete every image (and leftover temp files) in the cache, or with ``stale_only`` only the
    images this simlab cannot load (another simlab's code or format, unreadable files): every
    code change or upgrade leaves its images behind under keys nothing asks for again.
    Returns how many files went."""
    folder = cache_dir()
    if not folder.is_dir():
        return 0
    if stale_only:
        doomed = [item.path if isinstance(item, ImageInfo) else item[0]
                  for item in list_images() if not usable(item)]
    else:
        doomed = list(folder.glob(f"*{SUFFIX}"))
    doomed += folder.glob(f".*{SUFFIX}.*.tmp")  # (a save is atomic: a temp file is one that died)
    for path in doomed:
        path.unlink(missing_ok=True)
    return len(doomed)


__all__ = ["Lookup", "cache_dir", "clear", "disabled_by_env", "image_path", "list_images", "lookup",
           "prefetch", "store", "usable"]
