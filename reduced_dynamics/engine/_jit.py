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
