"""RSA signing keys made ahead of need, on a background thread.

Each tenant signs its tokens with its own RSA-2048 key (``fakes.graph.auth``), and a served lab
mints tokens for its endpoint line. Generating the key is a prime search that took 25-250 ms
(about 100 ms on average) on the 2-core test machine, in the middle of every ``simlab serve``.
OpenSSL does that search without holding the GIL, so :func:`prepare` starts it on a thread as
early as a command knows it will need a key; the build goes on meanwhile, and :func:`take`
hands the key over (waiting for it only if it is not done yet).

Fork safety: a process must not fork while another of its threads is inside OpenSSL (the child
could inherit a lock held mid-operation, and the import helper's child talks TLS). The
project's forks go through :func:`fakes.forked.fork`, which calls :func:`settle` first: it waits
for a key being made.

Still one key per tenant and per process, as before: a prepared key is used once.
"""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives.asymmetric import rsa

_lock = threading.Lock()
_worker: threading.Thread | None = None
_ready: list[rsa.RSAPrivateKey] = []


def _generate() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def prepare() -> None:
    """Start making one key unless one is made or being made (returns at once)."""
    global _worker
    with _lock:
        if _ready or (_worker is not None and _worker.is_alive()):
            return
        _worker = threading.Thread(target=lambda: _ready.append(_generate()), name="simlab-keygen",
                                   daemon=True)
        _worker.start()


def settle() -> None:
    """Wait until no key is being made (before ``os.fork``)."""
    worker = _worker
    if worker is not None:
        worker.join()


def take() -> rsa.RSAPrivateKey:
    """A new RSA-2048 private key: the prepared one if there is one (waiting for it), else made now."""
    settle()
    with _lock:
        if _ready:
            return _ready.pop()
    return _generate()


__all__ = ["prepare", "settle", "take"]
