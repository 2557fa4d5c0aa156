"""Chunked sweeps that lose nothing when interrupted.

A sweep is a list of members cut into fixed chunks. Each finished chunk is written at once,
atomically, as ``<output>.parts/chunk_NNNNN.nc``; ``sweep.json`` beside the parts records what
the sweep is (its fingerprint, `reduced_dynamics.io.fingerprint`). Re-running with
``resume=True`` computes only the missing chunks, and only for the same fingerprint. Chunks
are fixed by the plan, never by what happened to run, so a resumed sweep does the same
arithmetic as an uninterrupted one and gives the same file.

Where the chunks are computed is the executor's business (`reduced_dynamics.executors`):
one after another in this process, or as tasks on a dask.distributed cluster; either way
this process writes each part as soon as its chunk is back.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from reduced_dynamics.errors import FileCheckError, InputError, WriteError
from reduced_dynamics.io.atomic import write_atomic, write_text
from reduced_dynamics.io.fingerprint import check_resume
from reduced_dynamics.io.schema import read_dataset

if TYPE_CHECKING:  # pragma: no cover
    from reduced_dynamics.executors import Executor


@dataclass(frozen=True)
class ChunkPlan:
    """Members ``0..n_members-1`` cut into consecutive chunks of ``chunk_size``."""

    n_members: int
    chunk_size: int

    @property
    def n_chunks(self) -> int:
        return -(-self.n_members // self.chunk_size)

    def members(self, chunk: int) -> np.ndarray:
        start = chunk * self.chunk_size
        return np.arange(start, min(start + self.chunk_size, self.n_members))


class PartStore:
    """The folder of finished chunks of one sweep."""

    def __init__(self, output: str | Path, fingerprint: dict) -> None:
        self.output = Path(output)
        self.folder = self.output.with_name(self.output.name + ".parts")
        self.fingerprint = json.loads(json.dumps(fingerprint, sort_keys=True))

    def part_path(self, chunk: int) -> Path:
        return self.folder / f"chunk_{chunk:05d}.nc"

    def open(self, resume: bool) -> None:
        """Start or resume. A folder with finished chunks is reused only with ``resume``
        and only by the same sweep: any difference of the fingerprint is refused, naming
        each differing field (`fingerprint.check_resume`). A folder without finished
        chunks (an earlier command failed before its first) holds nothing to keep and is
        started afresh."""
        manifest = self.folder / "sweep.json"
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"{self.folder} is a file, but the finished chunks of "
                             f"{self.output} go to a folder of that name; move it away")
        n = len(self.done())
        if n:
            if not resume:
                raise InputError(
                    f"found {n} finished chunk(s) of an earlier run in {self.folder}; "
                    "rerun the same command with --resume to reuse them, or delete that folder"
                )
            stored = _read_manifest(manifest)
            check_resume(stored, self.fingerprint,
                         f"the finished chunks in {self.folder} belong to a different sweep",
                         self.folder)
            return
        try:
            write_text(json.dumps(self.fingerprint, sort_keys=True, indent=1), manifest,
                       what="sweep record")
        except WriteError as exc:
            raise WriteError(f"could not create {self.folder}: {exc}; nothing was computed: "
                             "free space (or fix permissions) and rerun") from exc

    def discard_if_empty(self) -> None:
        """Remove the folder if it holds no finished chunk (a sweep that failed or was
        stopped before its first chunk leaves nothing behind to block the next command)."""
        if self.folder.is_dir() and not self.done():
            shutil.rmtree(self.folder, ignore_errors=True)

    def done(self) -> set[int]:
        if not self.folder.exists():
            return set()
        return {int(p.stem.split("_")[1]) for p in self.folder.glob("chunk_*.nc")}

    def write(self, chunk: int, members: np.ndarray, results: dict[str, np.ndarray]) -> None:
        """Save one finished chunk atomically; arrays have the members along axis 0.

        A failure (disk full, no permission) raises `WriteError`: no part of this chunk is
        left behind and the parts written before are intact.
        """
        data = {}
        for k, v in results.items():
            v = np.asarray(v)
            data[k] = (("member", *(f"{k}_dim{i}" for i in range(1, v.ndim))), v)
        ds = xr.Dataset(data, coords={"member": members})
        ds.attrs["chunk"] = chunk
        try:
            write_atomic(ds, self.part_path(chunk))
        except WriteError as exc:
            kept = len(self.done())
            raise WriteError(f"{exc}; the {kept} finished chunk(s) are kept in {self.folder}: "
                             "free space (or fix permissions) and rerun with --resume to "
                             "finish") from exc

    def read_all(self, plan: ChunkPlan) -> dict[str, np.ndarray]:
        """All members' results in member order; every chunk must be present."""
        pieces = []
        for chunk in range(plan.n_chunks):
            path = self.part_path(chunk)
            try:
                ds = read_dataset(path, "sweep part")
            except FileCheckError as exc:
                raise FileCheckError(f"{exc}; delete it and rerun with --resume") from None
            if not np.array_equal(ds["member"].values, plan.members(chunk)):
                raise FileCheckError(f"sweep part {path} holds the wrong members; delete it "
                                     "and rerun with --resume")
            pieces.append(ds)
        merged = xr.concat(pieces, dim="member")
        return {k: merged[k].values for k in merged.data_vars}

    @staticmethod
    def stored_fingerprint(output: str | Path) -> dict | None:
        """The fingerprint recorded by an earlier, unfinished sweep to ``output`` (or None)."""
        output = Path(output)
        return _read_manifest(output.with_name(output.name + ".parts") / "sweep.json")

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _read_manifest(path: Path) -> dict | None:
    """The fingerprint in ``sweep.json`` (None: missing or unreadable)."""
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return stored if isinstance(stored, dict) else None


def run_chunks(
    plan: ChunkPlan,
    store: PartStore,
    compute: Callable[[np.ndarray, Callable[[int], None]], dict[str, np.ndarray]],
    todo: Iterable[int],
    progress: Callable[[int], None],
    executor: Executor | None = None,
) -> None:
    """Compute each chunk in ``todo`` and save it as soon as it is done.

    ``executor`` (`reduced_dynamics.executors`) decides where: None or `LocalExecutor`
    computes the chunks one after another in this process; `DaskExecutor` on a cluster,
    where ``compute`` must be a picklable chunk function (`executors.ChunkFunction`).
    """
    if executor is None:
        from reduced_dynamics.executors import LocalExecutor

        executor = LocalExecutor()
    finished = executor.map(compute, [(c, plan.members(c)) for c in todo], progress)
    try:
        for chunk, members, results in finished:
            store.write(chunk, members, results)
    except BaseException:
        store.discard_if_empty()
        raise
    finally:  # stop the chunks still running elsewhere (interrupt, failed write)
        finished.close()


def save_merged(save: Callable, ds: xr.Dataset, output: str | Path, store: PartStore) -> None:
    """Write the merged file atomically, then drop the parts; a failed write keeps them."""
    try:
        save(ds, output)
    except WriteError as exc:
        raise WriteError(f"{exc}; the finished chunks are kept in {store.folder}: free "
                         "space (or fix permissions) and rerun with --resume") from exc
    store.remove()
