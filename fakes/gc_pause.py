"""The cyclic garbage collector paused around bulk work.

Building, importing or decoding a big lab makes hundreds of thousands of long-lived objects and
no cycles: the collector's passes in the middle rescan an ever larger heap and cost more than
the work itself (each caller says by how much). Garbage is freed by reference counting
meanwhile; the collector resumes as it was when the block ends.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic GC off (process-wide), then put it back as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


__all__ = ["gc_paused"]
