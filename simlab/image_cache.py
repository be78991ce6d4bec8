"""The lab image cache folder: ``$XDG_CACHE_HOME/simlab/`` (default ``~/.cache/simlab/``).

One file per cache key (:func:`simlab.image.image_key`), named ``<key>.simlab-image``. A lab
built with ``cache=True`` looks its key up here; a usable image is loaded, an unusable one
(corrupt, truncated, other version, hash mismatch) is reported, deleted and rebuilt, and a
cold build is saved. ``SIMLAB_NO_CACHE=1`` turns the cache off everywhere.

Beside the images, *spec notes* (``<hash>.simlab-spec``, small JSON files) remember what the
inputs of a ``simlab serve`` (spec file, ``--seed``, ``--users``) validated to, so the next
start from the same inputs reads its spec back as :class:`~simlab.spec_data.SpecData` and
skips pydantic (:func:`recall_spec`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simlab import __version__
from simlab.image_file import (
    FORMAT_VERSION,
    ImageError,
    ImageInfo,
    code_fingerprint,
    image_key,
    read_info,
    read_raw_payload,
)
from simlab.spec_data import SpecData, from_tree, tree

if TYPE_CHECKING:
    from simlab.lab import Lab
    from simlab.spec import LabSpec

SUFFIX = ".simlab-image"
SPEC_SUFFIX = ".simlab-spec"
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


def prefetch(spec: LabSpec | SpecData, *, apply_faults: bool = True) -> None:
    """Start reading and verifying the image a lab of ``spec`` would load, on a thread of its own.

    For a process that has modules to import before it builds the lab (``simlab serve``): the
    file read, the SHA-256 and a one-call decompression release the GIL, so at 100k users (40
    MiB read, 80 MiB decompressed: about 0.2 s) they run on the other core meanwhile.
    :func:`lookup` waits for the thread and decodes what it read, so nothing is decoded before
    then, and a bad file is rejected there as without prefetching.
    Does nothing when the cache is off (``SIMLAB_NO_CACHE``) or holds no image for the spec.
    """
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


# --------------------------------------------------------------------------- spec notes
def _note_path(spec_file: str | None, seed: int | None, users: int | None) -> Path | None:
    """Where the note for these ``simlab serve`` inputs lives (None: the spec file is unreadable,
    and the normal path reports that)."""
    material: dict[str, Any] = {"simlab": __version__, "code": code_fingerprint(), "format": FORMAT_VERSION,
                                "seed": seed, "users": users, "file": None, "file_sha256": None}
    if spec_file is not None:
        # The spec's own folder resolves its relative LDIF path, so the file's place counts too.
        material["file"] = os.path.realpath(spec_file)
        try:
            material["file_sha256"] = hashlib.sha256(Path(spec_file).read_bytes()).hexdigest()
        except OSError:
            return None
    digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
    return cache_dir() / f"{digest}{SPEC_SUFFIX}"


def recall_spec(spec_file: str | None, seed: int | None, users: int | None) -> SpecData | None:
    """The spec a ``simlab serve`` from these inputs validated to, when an earlier start noted
    it and the cache holds its image (so the lab will load, not build); else None.

    A seeded LDIF that changed since gives another image key, so no image, so None: the note
    never stands for a spec the files no longer make.
    """
    if disabled_by_env():
        return None
    path = _note_path(spec_file, seed, users)
    if path is None:
        return None
    try:
        note = json.loads(path.read_bytes())
        spec = from_tree(note["spec"])
        if not isinstance(spec, SpecData) or note["image"] != image_key(spec):
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # (no note, or one this code did not write: the start validates the spec)
    return spec if image_path(note["image"]).exists() else None


def remember_spec(spec_file: str | None, seed: int | None, users: int | None, spec: LabSpec) -> None:
    """Note what these inputs validated to, for :func:`recall_spec` (a failed write is only logged)."""
    path = _note_path(spec_file, seed, users)
    if path is None:
        return
    body = json.dumps({"image": image_key(spec), "spec": tree(spec)}).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(body)
        tmp.replace(path)
    except OSError as exc:
        log.debug("simlab: spec note not written: %s", exc)
        tmp.unlink(missing_ok=True)


def _stale_note(path: Path) -> bool:
    """A note whose image is gone or that this simlab did not write."""
    try:
        key = json.loads(path.read_bytes())["image"]
        return not image_path(key).exists()
    except (OSError, ValueError, KeyError, TypeError):
        return True


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
    """Delete every image and spec note (and leftover temp files) in the cache, or with
    ``stale_only`` only the images this simlab cannot load (another simlab's code or format,
    unreadable files) and the notes whose image is gone: every code change or upgrade leaves
    its images behind under keys nothing asks for again. Returns how many image files went
    (images and temp files; the notes are not counted)."""
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
    notes = [path for path in folder.glob(f"*{SPEC_SUFFIX}") if not stale_only or _stale_note(path)]
    for path in [*notes, *folder.glob(f".*{SPEC_SUFFIX}.*.tmp")]:
        path.unlink(missing_ok=True)
    return len(doomed)


__all__ = ["Lookup", "cache_dir", "clear", "disabled_by_env", "image_path", "list_images", "lookup",
           "prefetch", "recall_spec", "remember_spec", "store", "usable"]
