"""One writer per output file, and the checks an output path passes before a job starts.

`check_output` refuses, before anything is computed, an output whose folder is missing or
not writable, whose path goes through a file, that is an input of the command, a folder,
or an existing file (unless ``overwrite``); every command's output paths
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
from reduced_dynamics.names import REPORT_FILES

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


OVERWRITE_HINT = "add --overwrite (overwrite=True in Python) to replace it"


def _describe(path: Path, found: str | None, task: bool = False) -> str:
    """What an existing file of `file_kind` ``found`` is, for a message: "a landscape file
    of task 'toy-addition'", "a netCDF file not written by reduced-dynamics", "not a netCDF
    file"."""
    if found is None:
        return "not a netCDF file"
    if not found:
        return "a netCDF file not written by reduced-dynamics"
    name = _task_of(path) if task else ""
    return f"a {found} file" + (f" of task {name!r}" if name else "")


def _task_of(path: Path) -> str:
    import xarray as xr

    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            return str(ds.attrs.get("task", ""))
    except Exception:  # as in file_kind
        return ""


def unfinished_work(output: str | os.PathLike) -> bool:
    """Whether an earlier command left work to resume beside ``output``: finished chunks in
    ``<output>.parts`` or a checkpoint ``<output>.ckpt``."""
    out = Path(output)
    parts = out.with_name(out.name + ".parts")
    return (out.with_name(out.name + ".ckpt").exists()
            or (parts.is_dir() and any(parts.glob("chunk_*.nc"))))


def finished_output(output: str | os.PathLike, kind: str, *, resume: bool) -> bool:
    """True for ``--resume`` onto a finished file: ``output`` is a ``kind`` file and no
    parts or checkpoint are left beside it, so there is nothing to resume (the caller says
    so instead of recomputing it)."""
    return (bool(resume) and os.path.isfile(output) and not unfinished_work(output)
            and file_kind(output) == kind)


def check_output(output: str | os.PathLike, kind: str | None, *,
                 inputs: Iterable[str | os.PathLike] = (), overwrite: bool = False,
                 option: str = "-o", folder: bool = False, resume: bool = False,
                 contents: Iterable[str] = REPORT_FILES) -> Path:
    """Refuse an output path that cannot or should not be written; returns it as a Path.

    The one check of every output path (probe and train files, figures, report folders),
    run before any work. An existing output file is never replaced without ``overwrite``
    (whatever it holds); with ``resume``, an existing ``kind`` file ("landscape",
    "trajectory"; None for a figure or CSV) is accepted when an earlier command left
    parts or a checkpoint to finish beside it (`unfinished_work`; a finished one is the
    caller's to report, `finished_output`). ``inputs``: files the command reads, which it
    never overwrites, not even with ``overwrite``. The output's folder must exist and be
    writable, no part of the path may be a file, and a name ending in "/" names a folder.
    ``folder=True``: ``output`` is itself a folder (a report folder) that is created,
    with any missing parents, when written (as ``mkdir -p``); then the nearest existing
    folder on the way must be writable, ``output`` must not be an existing file, and it
    must not already hold one of the ``contents`` it is written (earlier report files)
    or one of the ``inputs``, unless ``overwrite``. ``option`` names the argument in
    messages.
    """
    text = os.fspath(output)
    out = Path(text)
    if not text.strip() or out.name in ("", ".", ".."):
        what = "a folder" if folder else "a file"
        raise InputError(f"`{option}` must name {what}, got {text!r}")
    if not folder and text.endswith(("/", os.sep)):
        raise InputError(f"`{option}` {text!r} ends in '/', so it names a folder; give a "
                         f"file name, e.g. {str(out / ('out' + (out.suffix or '.nc')))!r}")
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
    targets = [out / name for name in contents] if folder else [out]
    for source in inputs:
        for target in targets:
            if _same_file(source, target):
                where = f"{text!r} is" if target == out else f"{text!r}: {str(target)!r} is"
                raise InputError(f"`{option}` {where} the input file {str(source)!r}; write "
                                 "the output to another path")
    if folder:
        if not overwrite and os.path.isdir(out):
            _check_report_folder(out, text, option, inputs, contents)
    elif os.path.exists(out) and not overwrite:
        if not (resume and kind is not None and file_kind(out) == kind
                and unfinished_work(out)):
            found = file_kind(out) if kind is not None else None
            what = ("exists" if kind is None else
                    f"exists and is not a {kind} file (it is {_describe(out, found)})"
                    if found != kind else f"exists (it is {_describe(out, found, task=True)})")
            raise InputError(f"`{option}` {text!r} {what}; choose another path, or "
                             f"{OVERWRITE_HINT}")
    lock = lock_path(out)
    if not folder and (os.path.isdir(lock) or (os.path.lexists(lock)
                                               and not os.path.isfile(lock))):
        raise InputError(f"`{option}` {text!r}: its lock path {str(lock)!r} is a folder or "
                         "not a regular file; move it away or choose another output path")
    return out


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    except OSError:
        return False


def _check_report_folder(out: Path, text: str, option: str,
                         inputs: Iterable[str | os.PathLike], contents: Iterable[str]) -> None:
    """Refuse a report folder that holds earlier report files or one of the inputs."""
    earlier = [name for name in contents if os.path.lexists(out / name)]
    if earlier:
        raise InputError(f"`{option}` {text!r} already holds report files "
                         f"({', '.join(earlier)}); choose another folder, or add "
                         "--overwrite (overwrite=True in Python) to replace them")
    for source in inputs:
        try:
            inside = Path(source).resolve().parent == out.resolve()
        except OSError:
            inside = False
        if inside:
            raise InputError(f"`{option}` {text!r} holds the input file {str(source)!r}; "
                             "write the report to another folder, or add --overwrite to "
                             "write it beside its input")


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
        if os.path.isdir(path) or (os.path.lexists(path) and not os.path.isfile(path)):
            raise InputError(f"`-o` {str(output)!r}: its lock path {str(path)!r} is a folder "
                             "or not a regular file; move it away or choose another output "
                             "path")
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
            except OSError as exc:
                whose = f"pid {holder.get('pid')}" if holder else "an unreadable lock"
                raise InputError(f"`-o` {str(output)!r}: the lock {path} was left by a "
                                 f"command that no longer runs ({whose}), but it cannot be "
                                 f"taken over ({exc.strerror or exc}); delete {path} "
                                 "yourself, or write to another path") from None
            if _read_lock(aside) != holder:  # another command took it over meanwhile
                with contextlib.suppress(OSError):
                    os.link(aside, path)
                with contextlib.suppress(OSError):
                    os.remove(aside)
                continue
            with contextlib.suppress(OSError):
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
