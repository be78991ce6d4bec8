"""The lab image file: its identity (cache key, code fingerprint), header and verified payload.

File layout (all integers big-endian)::

    b"SIMLABIMG\\n"                      magic
    u32 header length, header JSON      {"format", "simlab", "code", "key", "payload_bytes",
                                         "payload_sha256", "compression", "raw_bytes",
                                         "spec_name", "users"}
    payload                             zstd stream of msgpack values (simlab.image_codec) that
                                        simlab.image decodes; raw_bytes long decompressed

This module knows bytes only: no lab object, no codec, so what needs only an image's name,
key or header (the cache, ``simlab cache list``, a lab looking its key up) does not load the
codec and the lab's model.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from simlab import __version__
from simlab.spec_data import spec_json

if TYPE_CHECKING:
    from simlab.spec import LabSpec
    from simlab.spec_data import SpecData

MAGIC = b"SIMLABIMG\n"
#: Bump when the payload layout or the codec's extension codes change.
FORMAT_VERSION = 7
_HEADER_LEN = struct.Struct(">I")
_MAX_HEADER = 64 * 1024


class ImageError(Exception):
    """An image that cannot be used (missing, corrupt, truncated, other version, other spec)."""


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """The header of an image file (what ``simlab cache list`` shows)."""

    path: Path
    format: int
    simlab: str
    code: str
    key: str
    spec_name: str
    users: int
    payload_bytes: int
    payload_sha256: str
    file_bytes: int
    raw_bytes: int = 0  # the payload decompressed (0: not recorded)

    def foreign(self) -> str | None:
        """Why this simlab cannot load the image (another format, version or code), or None."""
        name = self.path.name
        if self.format != FORMAT_VERSION:
            return f"{name} has image format {self.format}, this simlab reads format {FORMAT_VERSION}"
        if self.simlab != __version__ or self.code != code_fingerprint():
            return f"{name} was written by another simlab version ({self.simlab}, code {self.code})"
        return None


# --------------------------------------------------------------------------- identity
@functools.cache
def code_fingerprint() -> str:
    """SHA-256 over simlab's and the fakes' source: an image from other code is never loaded.

    The version number alone is not enough in a development checkout, where the code changes
    under the same version.
    """
    digest = hashlib.sha256()
    root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    paths: list[str] = []
    for package in ("fakes", "simlab"):
        # os.walk rather than Path.rglob: half the time, and every start of a lab pays it.
        for folder, subfolders, names in os.walk(os.path.join(root, package)):
            subfolders[:] = [d for d in subfolders if d != "__pycache__"]
            paths += [os.path.join(folder, name) for name in names if name.endswith(".py")]
    skip = len(root) + 1
    for path in sorted(paths):
        with open(path, "rb") as source:
            digest.update(path[skip:].encode())
            digest.update(source.read())
    return digest.hexdigest()[:16]


def image_key(spec: LabSpec | SpecData, *, apply_faults: bool = True) -> str:
    """The cache key: a hash of the normalised spec (and a seeded LDIF's content), simlab's
    version and code fingerprint, and the image format."""
    normal = spec_json(spec)
    ldif_digest = None
    if spec.directory is not None:
        try:
            ldif_digest = _file_digest(spec.directory.ldif)
        except OSError:
            ldif_digest = "unreadable"  # the build will report the missing file itself
    material = json.dumps(
        {"spec": normal, "ldif": ldif_digest, "faults": apply_faults, "simlab": __version__,
         "code": code_fingerprint(), "format": FORMAT_VERSION},
        sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _file_digest(path: str) -> str:
    """SHA-256 of a file, read again only when its inode, size or mtime changed: a start asks for
    its key up to three times (the spec note, the prefetch, the lookup), and a seeded LDIF may be
    a whole domain's export."""
    stat = os.stat(path)
    return _digest_of(os.path.realpath(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _digest_of(path: str, _inode: int, _size: int, _mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --------------------------------------------------------------------------- write
def write_file(path: str | Path, key: str, payload: bytes, *, spec_name: str, users: int,
               raw_bytes: int = 0, tmp: Path | None = None) -> Path:
    """Write header and ``payload`` (``raw_bytes`` long decompressed) to ``path`` atomically
    (temp file + rename: concurrent writers never corrupt it). ``tmp`` names the temporary file
    (default: one unique to this process and thread)."""
    header = json.dumps({
        "format": FORMAT_VERSION, "simlab": __version__, "code": code_fingerprint(), "key": key,
        "payload_bytes": len(payload), "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "compression": "zstd", "raw_bytes": raw_bytes, "spec_name": spec_name, "users": users,
    }).encode()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp or target.with_name(f".{target.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(MAGIC + _HEADER_LEN.pack(len(header)) + header)
            fh.write(payload)
        tmp.replace(target)  # atomic on POSIX: readers see the old file or the whole new one
    finally:
        tmp.unlink(missing_ok=True)
    return target


# --------------------------------------------------------------------------- read
def read_info(path: str | Path) -> tuple[ImageInfo, int]:
    """The header of ``path`` and where its payload starts; :class:`ImageError` if it is not an image."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(len(MAGIC) + _HEADER_LEN.size)
            if len(head) < len(MAGIC) + _HEADER_LEN.size or not head.startswith(MAGIC):
                raise ImageError(f"{p.name} is not a simlab lab image (bad magic)")
            (length,) = _HEADER_LEN.unpack(head[len(MAGIC):])
            if length > _MAX_HEADER:
                raise ImageError(f"{p.name} has a corrupt header (length {length})")
            header_bytes = fh.read(length)
        size = p.stat().st_size
    except OSError as exc:
        raise ImageError(f"cannot read {p}: {exc.strerror or exc}") from exc
    if len(header_bytes) < length:
        raise ImageError(f"{p.name} is truncated (header cut short)")
    try:
        header = json.loads(header_bytes)
        info = ImageInfo(p, int(header["format"]), str(header["simlab"]), str(header["code"]),
                         str(header["key"]), str(header.get("spec_name", "")), int(header.get("users", 0)),
                         int(header["payload_bytes"]), str(header["payload_sha256"]), size,
                         int(header.get("raw_bytes", 0)))
    except (ValueError, KeyError, TypeError) as exc:
        raise ImageError(f"{p.name} has a corrupt header ({exc})") from exc
    return info, len(MAGIC) + _HEADER_LEN.size + length


def read_payload(path: str | Path, key: str) -> bytes:
    """The verified (still compressed) payload of the image written for ``key``.

    Checks magic, header, format, simlab version and code fingerprint, the key, and the
    payload's length and SHA-256; :class:`ImageError` on any mismatch.
    """
    return _read_verified(path, key)[1]


def read_raw_payload(path: str | Path, key: str) -> bytes:
    """:func:`read_payload`, decompressed in one call (which, unlike zstd's stream reads,
    releases the GIL: a thread can do all of this while another imports or decodes).

    :class:`ImageError` also for a payload whose decompressed size is not the header's
    ``raw_bytes`` (unrecorded, or implausible for the payload's size, is refused before any
    buffer is made)."""
    import zstandard

    info, payload = _read_verified(path, key)
    name = info.path.name
    if not 0 < info.raw_bytes <= min(_MAX_RATIO * len(payload) + 2**20, _MAX_RAW):
        raise ImageError(f"{name} has a corrupt header (raw_bytes {info.raw_bytes} for a payload "
                         f"of {len(payload)} bytes)")
    try:
        raw = zstandard.ZstdDecompressor().decompress(payload, max_output_size=info.raw_bytes)
    except zstandard.ZstdError as exc:
        raise ImageError(f"{name} cannot be decompressed ({exc})") from exc
    if len(raw) != info.raw_bytes:
        raise ImageError(f"{name} decompresses to {len(raw)} bytes, its header says {info.raw_bytes}")
    return raw


# Bounds on a header's raw_bytes, so a crafted header cannot make the reader allocate a huge
# buffer (zstd compresses a lab image about 2:1; 64:1 is far beyond any real one).
_MAX_RATIO = 64
_MAX_RAW = 8 * 2**30


def _read_verified(path: str | Path, key: str) -> tuple[ImageInfo, bytes]:
    info, offset = read_info(path)
    name = info.path.name
    foreign = info.foreign()
    if foreign is not None:
        raise ImageError(foreign)
    if info.key != key:
        raise ImageError(f"{name} was built from another spec (hash mismatch)")
    try:
        with open(info.path, "rb") as fh:
            fh.seek(offset)
            payload = fh.read()
    except OSError as exc:
        raise ImageError(f"cannot read {info.path}: {exc.strerror or exc}") from exc
    if len(payload) != info.payload_bytes:
        raise ImageError(f"{name} is truncated ({len(payload)} of {info.payload_bytes} payload bytes)")
    if hashlib.sha256(payload).hexdigest() != info.payload_sha256:
        raise ImageError(f"{name} is corrupt (checksum mismatch)")
    return info, payload


__all__ = ["FORMAT_VERSION", "MAGIC", "ImageError", "ImageInfo", "code_fingerprint", "image_key",
           "read_info", "read_payload", "read_raw_payload", "write_file"]
