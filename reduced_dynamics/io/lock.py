"""One writer per output file, and the checks an output path passes before a job starts.

`check_output` refuses, before anything is computed, an output whose folder is missing or
not writable, whose path goes through a file, that is an input of the command, a folder,
or an existing file of another kind (unless ``overwrite``); every command's output paths
(files, figures, report folders) pass it. `output_lock` then holds ``<output>.lock`` while
a command writes ``<output>`` (and its ``.parts``/``.ckpt``): the file is created with
``O_CREAT | O_EXCL`` and holds the writer's pid, host and start time, so a second command
writing the same output is refused at once. The lock is removed when the block ends, also
on an error or Ctrl-C; a lock left by a killed process on this host (its pid no longer
runs) is taken over with a warning.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from reduced_dynamics.errors import InputError

_HELD: dict[tuple[str, int], int] = {}  # (lock path, thread) -> nesting depth
_YOUNG_S = 10.0  # an unreadable lock younger than this may be being written right now


def lock_path(output: str | os.PathLike) -> Path:
    output = Path(output)
    return output.with_name(output.name + ".lock")


def file_kind(path: str | os.PathLike) -> str | None:
    """The ``reduced_dynamics_file`` kind of an existing netCDF file of ours ("landscape",
    "trajectory", "validation"); "" for another netCDF file, None for a file that is not
    netCDF."""
    import xarray as xr

    from reduced_dynamics.io.schema import FILE_KIND_ATTR

    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            return str(ds.attrs.get(FILE_KIND_ATTR, ""))
    except Exception:  # netCDF4/HDF5 raise many types for a file that is not theirs
        return None


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists ('.' for a relative path with none)."""
    while not os.path.exists(path) and path != path.parent:
        path = path.parent
    return path if str(path) else Path(".")


def check_output(output: str | os.PathLike, kind: str | None, *,
                 inputs: Iterable[str | os.PathLike] = (), overwrite: bool = False,
                 option: str = "-o", folder: bool = False) -> Path:
    """Refuse an output path that cannot or should not be written; returns it as a Path.

    The one check of every output path (probe and train files, figures, report folders),
    run before any work. ``kind``: the file kind the command writes ("landscape",
    "trajectory"; None for a figure or CSV); an existing file of that kind is replaced
    (atomically, at the end), one of any other kind only with ``overwrite``. ``inputs``:
    files the command reads, which it must not overwrite. The output's folder must exist
    and be writable, and no part of the path may be a file. ``folder=True``: ``output`` is
    itself a folder (a report folder) that is created, with any missing parents, when
    written (as ``mkdir -p``); then the nearest existing folder on the way must be
    writable, and ``output`` must not be an existing file. ``option`` names the argument in
    messages.
    """
    text = os.fspath(output)
    out = Path(text)
    if not text.strip() or out.name in ("", ".", ".."):
        what = "a folder" if folder else "a file"
        raise InputError(f"`{option}` must name {what}, got {text!r}")
    if folder:
        if os.path.exists(out) and not os.path.isdir(out):
            raise InputError(f"`{option}` {text!r} is an existing file; the report goes into "
                             "a folder: give a new or existing folder name")
    elif os.path.isdir(out):
        raise InputError(f"`{option}` {text!r} is an existing folder; give a file name, e.g. "
                         f"{str(out / ('out' + (out.suffix or '.nc')))!r}")
    parent = out if folder else out.parent
    existing = _nearest_existing(parent)
    if not os.path.isdir(existing):
        raise InputError(f"`{option}` {text!r}: {str(existing)!r} is a file, not a folder; "
                         "give a path inside a folder")
    if not folder and existing != parent:
        raise InputError(f"`{option}` {text!r}: its folder {str(parent)!r} does not exist; "
                         "create it first or choose another path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"`{option}` {text!r}: the folder {str(existing)!r} is not writable; "
                         "choose a path in a folder you can write to")
    for source in inputs:
        try:
            same = (os.path.exists(out) and os.path.exists(source)
                    and os.path.samefile(source, out))
        except OSError:
            same = False
        if same:
            raise InputError(f"`{option}` {text!r} is the input file {str(source)!r}; write "
                             "the output to another path")
    if os.path.exists(out) and kind is not None and not overwrite:
        found = file_kind(out)
        if found != kind:
            what = ("not a netCDF file" if found is None else f"a {found} file" if found
                    else "a netCDF file not written by reduced-dynamics")
            raise InputError(f"`{option}` {text!r} exists and is not a {kind} file (it "
                             f"is {what}); choose another path, or add --overwrite to "
                             "replace it")
    return out


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except (OverflowError, ValueError):
        return False
    return True


def _read_lock(path: Path) -> dict | None:
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _stale(path: Path, holder: dict | None) -> bool:
    """A lock nobody holds any more: its pid is dead on this host (or it is an unreadable
    leftover older than a few seconds)."""
    if holder is None:
        try:
            return time.time() - path.stat().st_mtime > _YOUNG_S
        except OSError:
            return False
    return (holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int)
            and not _pid_alive(holder["pid"]))


def _create(path: Path) -> tuple[int, int]:
    """Create the lock file exclusively; returns its (device, inode)."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    try:
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "command": " ".join(sys.argv)}
        os.write(fd, json.dumps(info).encode())
        st = os.fstat(fd)
    finally:
        os.close(fd)
    return st.st_dev, st.st_ino


def _acquire(path: Path, output: Path) -> tuple[int, int]:
    for _ in range(3):
        try:
            return _create(path)
        except FileExistsError:
            holder = _read_lock(path)
            if not _stale(path, holder):
                who = (f"pid {holder.get('pid')} on host {holder.get('host')}, started "
                       f"{holder.get('started')}: {holder.get('command')}" if holder else
                       "a process that is just starting")
                raise InputError(f"`-o` {str(output)!r} is being written by another command "
                                 f"({who}); wait for it to finish or write to another path. "
                                 f"If that command is no longer running, delete {path}"
                                 ) from None
            # take over: move the stale lock aside first, so that two commands taking it
            # over at once cannot both succeed (only one rename finds it)
            aside = path.with_name(f"{path.name}.stale.{os.getpid()}")
            try:
                os.rename(path, aside)
            except FileNotFoundError:
                continue
            if _read_lock(aside) != holder:  # another command took it over meanwhile
                with contextlib.suppress(OSError):
                    os.link(aside, path)
                os.remove(aside)
                continue
            os.remove(aside)
            whose = f"pid {holder.get('pid')}" if holder else "an unreadable lock"
            warnings.warn(f"took over the lock {path} left by a command that no longer runs "
                          f"({whose}); its finished work, if any, is reused only with "
                          "--resume", RuntimeWarning, stacklevel=4)
        except OSError as exc:
            raise InputError(f"`-o` {str(output)!r}: could not create the lock file {path} "
                             f"({exc.strerror or exc})") from None
    raise InputError(f"`-o` {str(output)!r}: could not take the lock {path}: other commands "
                     "keep taking it")


@contextlib.contextmanager
def output_lock(output: str | os.PathLike) -> Iterator[Path]:
    """Hold ``<output>.lock`` for the duration of the block (re-entrant within a thread).

    Raises `InputError` at once, naming the holder, when another command holds it.
    """
    output = Path(output)
    path = lock_path(output)
    key = (os.path.abspath(path), threading.get_ident())
    if key in _HELD:  # the same command, one level further in (CLI -> probe_landscape)
        _HELD[key] += 1
        try:
            yield path
        finally:
            _HELD[key] -= 1
        return
    ident = _acquire(path, output)
    _HELD[key] = 1
    try:
        yield path
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            st = path.stat()
            if (st.st_dev, st.st_ino) == ident:  # still ours
                path.unlink()
