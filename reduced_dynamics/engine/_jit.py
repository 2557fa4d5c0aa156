"""Numba flags, in one place (STYLE: never fastmath; cache compiled kernels on disk).

``njit`` compiles a kernel; every kernel is serial and releases the GIL (``nogil``), so a
batch of paths runs on threads side by side (`solve.run_kernel`) without numba's parallel
backend, which would compile every kernel a second time.
Every kernel takes plain C-contiguous float64/int64 arrays and scalars, never closures over
data, so one signature compiles once and the on-disk cache is reused by later processes.
Set ``NUMBA_DISABLE_JIT=1`` to run every kernel as plain Python (slow; used by the tests).

The compiled kernels are cached in a user cache folder, ``$XDG_CACHE_HOME/reduced_dynamics/
numba`` (default ``~/.cache/reduced_dynamics/numba``), not in the installed package's
``__pycache__``: a cache inside ``site-packages`` outlives an uninstall and then shadows an
editable install of the same package. ``NUMBA_CACHE_DIR`` overrides the folder (numba's own
variable: it then holds every numba library's cache). Where no user cache folder can be
written, numba's default (next to the source) is used.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/reduced_dynamics/numba``, else ``~/.cache/reduced_dynamics/numba``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "reduced_dynamics" / "numba"


def _use_user_cache() -> None:
    """Point numba's cache at `user_cache_dir` unless ``NUMBA_CACHE_DIR`` is set; called
    before numba is imported, so numba reads it as its own setting."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    folder = user_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    if os.access(folder, os.W_OK | os.X_OK):
        os.environ["NUMBA_CACHE_DIR"] = str(folder)


_use_user_cache()

import numba  # noqa: E402  (after the cache folder is chosen)

if not numba.config.CACHE_DIR and os.environ.get("NUMBA_CACHE_DIR"):
    numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]  # numba was imported before us

njit = functools.partial(numba.njit, cache=True, fastmath=False, nogil=True)


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
