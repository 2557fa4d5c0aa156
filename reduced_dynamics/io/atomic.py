"""Atomic writing: every file the package writes (netCDF, figures, CSV) goes to a temporary
file beside its path and is renamed into place, so readers see the old file or the new one,
never a partial one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import xarray as xr

from reduced_dynamics.errors import WriteError


def _umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary file beside ``path`` to write to; renamed onto ``path`` when the block
    ends without an exception, removed otherwise.

    The file gets the mode a plain ``open()`` would give (0o666 minus the umask), not the
    0o600 of `tempfile.mkstemp`. An `OSError` (disk full, no permission) becomes a
    `WriteError` saying whether a previous file at ``path`` is intact.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())
        yield Path(tmp)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        state = ("the previous file is intact" if os.path.exists(path)
                 else "no file was written")
        raise WriteError(f"could not write {path}: {exc.strerror or exc}; {state}") from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def write_atomic(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` as netCDF to a temporary file beside ``path``, then rename it into place
    (`atomic_path`): readers see the old file or the new one, never a partial one.

    A failure (disk full, no permission) leaves any previous file at ``path`` intact and
    raises `WriteError` saying so.
    """
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
    return Path(path)


def write_figure(fig: Any, path: str | os.PathLike, *, dpi: int = 130) -> Path:
    """Save a matplotlib figure atomically; the format is the suffix of ``path``."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)
    return path


def write_csv(frame: Any, path: str | os.PathLike) -> Path:
    """Write a pandas DataFrame as CSV atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp)
    return Path(path)
