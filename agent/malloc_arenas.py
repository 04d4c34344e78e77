"""Keep glibc from giving every camera thread its own malloc arena.

glibc creates up to 8 x cores arenas, one per thread that allocates concurrently, and a
freed block goes back to its own arena, not to the system. Each camera thread handles
upscaled frames (a 960 x 720 float tensor is 8 MB), so each kept about 16 MB of its own:
25 MB per camera instead of 8 (``./dev.sh bench vision``). Two arenas serve the agent's
threads with no measurable cost in speed. ``mallopt`` applies to arenas made from now
on, so it is called before the camera threads start. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2
_done = False


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process; False where it cannot (not glibc)."""
    global _done
    if _done:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        ok = bool(libc is not None and libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        ok = False
    _done = ok
    log.debug("malloc.arenas max=%d applied=%s", arenas, ok)
    return ok
