"""Atomic writing: every file the package writes (netCDF, checkpoints, figures, CSV, text)
goes through `atomic_path`: a temporary file beside its path, flushed to disk (fsync) and
renamed into place, so readers see the old file or the new one, never a partial one.

A failed write (disk full, no permission, a library's own error such as netCDF's "HDF
error" or torch's "PytorchStreamWriter failed") removes the temporary file and raises
`WriteError` on one line: the cause, whether a previous file is intact, and how much space
the file needs against what is free there (`needed_bytes`, an estimate from the data).

netCDF files are written with HDF5's Fletcher-32 checksum on every variable
(`CHECKSUM_ENCODING`), so a damaged chunk is refused when read (`schema.read_dataset`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from reduced_dynamics.errors import WriteError

CHECKSUM_ENCODING = {"fletcher32": True, "contiguous": False}
"""The netCDF4 encoding of every variable we write: HDF5's Fletcher-32 checksum per chunk
(it needs chunked storage, hence ``contiguous=False``). A 0-d variable cannot be chunked
in HDF5, so it cannot carry one; the package writes none."""

_HEADER_BYTES = 64 * 1024  # netCDF/HDF5 metadata, a zip directory: a generous allowance


def _umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def human_size(n: float) -> str:
    """``123 B``, ``4.5 kB``, ``6.7 MB``, ``1.2 GB`` (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def needed_bytes(data: Any) -> int:
    """An estimate of the bytes a file of ``data`` takes: the arrays, tensors, text and
    attributes in it (nested dicts, lists, Datasets) plus a header allowance."""
    seen: set[int] = set()

    def size(obj: Any) -> int:
        if id(obj) in seen:
            return 0
        seen.add(id(obj))
        if isinstance(obj, xr.Dataset):
            return int(obj.nbytes) + size(dict(obj.attrs)) + sum(
                size(dict(v.attrs)) + 256 for v in obj.variables.values())
        if isinstance(obj, np.ndarray):
            return int(obj.nbytes)
        if hasattr(obj, "element_size") and hasattr(obj, "nelement"):  # a torch tensor
            return int(obj.element_size() * obj.nelement())
        if isinstance(obj, (str, bytes)):
            return len(obj)
        if isinstance(obj, dict):
            return sum(size(k) + size(v) for k, v in obj.items())
        if isinstance(obj, (list, tuple, set)):
            return sum(size(v) for v in obj)
        return 8

    return size(data) + _HEADER_BYTES


def _space_note(folder: Path, needed: int | None) -> str:
    """``it needs about 1.2 MB, 0 B are free in /data`` (what is known of the two)."""
    try:
        free = human_size(shutil.disk_usage(folder).free)
    except OSError:
        free = None
    need = f"about {human_size(needed)}" if needed is not None else "an unknown size"
    return f"it needs {need}" + (f", {free} are free in {folder}" if free else "")


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, needed: int | None = None,
                what: str = "") -> Iterator[Path]:
    """A temporary file beside ``path`` to write to; flushed to disk and renamed onto
    ``path`` when the block ends without an exception, removed otherwise.

    The file gets the mode a plain ``open()`` would give (0o666 minus the umask), not the
    0o600 of `tempfile.mkstemp`. Any exception of the block or of the rename (disk full,
    no permission, a library's error) becomes one `WriteError` saying whether a previous
    file at ``path`` is intact and how much space is needed (``needed``: bytes, an
    estimate; None: unknown) and free. ``what`` ("checkpoint") names the file's kind there.
    An interrupt (KeyboardInterrupt) removes the temporary file and goes on as it is.
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
        _fsync(tmp)
        os.replace(tmp, path)
        tmp = None
    except WriteError:
        raise
    except Exception as exc:
        if tmp is not None and os.path.exists(tmp):
            with contextlib.suppress(OSError):
                os.remove(tmp)
            tmp = None
        state = ("the previous file is intact" if os.path.exists(path)
                 else "no file was written")
        cause = (exc.strerror if isinstance(exc, OSError) and exc.strerror
                 else f"{type(exc).__name__}: {exc}")
        named = f"the {what} {path}" if what else str(path)
        raise WriteError(f"could not write {named}: {' '.join(str(cause).split())}; "
                         f"{state}; {_space_note(folder, needed)}") from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            with contextlib.suppress(OSError):
                os.remove(tmp)


def write_atomic(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` as netCDF4, every variable with a Fletcher-32 checksum
    (`CHECKSUM_ENCODING`), to a temporary file beside ``path``, then rename it into place
    (`atomic_path`): readers see the old file or the new one, never a partial one.

    A failure (disk full, no permission) leaves any previous file at ``path`` intact and
    raises `WriteError` saying so and how much space the file needs.
    """
    with atomic_path(path, needed=needed_bytes(ds)) as tmp:
        with_checksums(ds).to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
    return Path(path)


def with_checksums(ds: xr.Dataset) -> xr.Dataset:
    """A shallow copy of ``ds`` whose variables' encodings ask for `CHECKSUM_ENCODING`; the
    rest of each encoding (dtype, fill value, chunk sizes of a file it was read from) is
    kept, so the values written are the same."""
    out = ds.copy(deep=False)
    for var in out.variables.values():
        if var.ndim:
            var.encoding = {**var.encoding, **CHECKSUM_ENCODING}
    return out


def _figure_bytes(fig: Any, dpi: int) -> int | None:
    """Uncompressed RGBA size of ``fig`` at ``dpi``: more than its PNG or PDF takes."""
    try:
        width, height = fig.get_size_inches()
        return int(width * dpi * height * dpi * 4) + _HEADER_BYTES
    except Exception:  # not a matplotlib figure: size unknown
        return None


def write_figure(fig: Any, path: str | os.PathLike, *, dpi: int = 130) -> Path:
    """Save a matplotlib figure atomically; the format is the suffix of ``path``."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    with atomic_path(path, needed=_figure_bytes(fig, dpi)) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)
    return path


def write_csv(frame: Any, path: str | os.PathLike) -> Path:
    """Write a pandas DataFrame as CSV atomically (the text is made first, so the space it
    needs is known exactly)."""
    return write_text(frame.to_csv(), path)


def write_npz(arrays: dict[str, np.ndarray], path: str | os.PathLike, *,
              what: str = "") -> Path:
    """Write numpy arrays as one uncompressed ``.npz`` atomically (e.g. a data cache)."""
    with atomic_path(path, needed=needed_bytes(arrays), what=what) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return Path(path)


def write_text(text: str, path: str | os.PathLike, *, what: str = "") -> Path:
    """Write ``text`` (UTF-8) atomically."""
    data = text.encode()
    with atomic_path(path, needed=len(data), what=what) as tmp:
        tmp.write_bytes(data)
    return Path(path)

