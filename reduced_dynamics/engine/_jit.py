"""Numba flags, in one place (STYLE: never fastmath; cache compiled kernels on disk).

``njit`` compiles a serial kernel; ``njit_parallel`` one whose outer loop is a ``prange``.
Every kernel takes plain C-contiguous float64/int64 arrays and scalars, never closures over
data, so one signature compiles once and the on-disk cache is reused by later processes.
Set ``NUMBA_DISABLE_JIT=1`` to run every kernel as plain Python (slow; used by the tests).
"""

from __future__ import annotations

import functools

import numba

njit = functools.partial(numba.njit, cache=True, fastmath=False, nogil=True)
njit_parallel = functools.partial(numba.njit, cache=True, fastmath=False, nogil=True,
                                  parallel=True)
prange = numba.prange


def cache_is_warm(*kernels: object) -> bool:
    """True when every kernel has a compiled version in numba's on-disk cache that matches
    its current source (numba's own index file, ``__pycache__/<module>.<name>-*.nbi``).

    False means the next call compiles (seconds to tens of seconds). Kernels without a
    readable cache (JIT disabled, no ``cache=True``) count as warm: nothing to announce.
    """
    for kernel in kernels:
        cache = getattr(kernel, "_cache", None)
        load = getattr(getattr(cache, "_cache_file", None), "_load_index", None)
        if load is None:
            continue
        try:
            if not load():
                return False
        except Exception:  # an unreadable index: numba recompiles, as on a cold cache
            return False
    return True
