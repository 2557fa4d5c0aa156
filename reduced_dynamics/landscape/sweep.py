"""A whole landscape: the (w, m, n_train, seed) grid probed chunk by chunk into one file.

The grid is ``w`` plus any of ``m`` (tasks with a representation line) and ``n_train``
(tasks with a data-size subset rule); seeds are restarts. Tasks without a representation
coordinate (teacher–student) are probed on the grid (w, m=(0,), seed) and written without
m (no dtrain_dm). The file's variables have dims (w), (w, m), (w, n_train) or
(w, m, n_train), with ``seed`` first in the ``*_by_seed`` ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import xarray as xr

from reduced_dynamics.checks import (
    MAX_SEEDS,
    check_ints,
    check_norms,
    check_reals,
    check_seeds,
    check_sweep_options,
    check_type,
)
from reduced_dynamics.config import ProbeConfig
from reduced_dynamics.errors import InputError
from reduced_dynamics.io.fingerprint import job_fingerprint
from reduced_dynamics.io.landscape_file import landscape_dataset, save_landscape
from reduced_dynamics.io.lock import check_output, finished_output, output_lock
from reduced_dynamics.io.parts import ChunkPlan, PartStore, run_chunks, save_merged
from reduced_dynamics.landscape.restarts import monotone_violation, reduce_over_seeds
from reduced_dynamics.names import PROBE_VARS
from reduced_dynamics.tasks import task_of

if TYPE_CHECKING:  # pragma: no cover
    from reduced_dynamics.executors import Executor

@dataclasses.dataclass(frozen=True)
class ProbeGrid:
    """The grid of a probe sweep: absolute norms ``w``, messiness ``m``, init ``seeds`` and
    optionally training-set sizes ``n_train`` (SPEC §11; None: the whole training set).

    For a task without m, ``m`` is the single dummy value ``(0.0,)`` (`no_m`)."""

    w: tuple[float, ...]
    m: tuple[float, ...]
    seeds: tuple[int, ...]
    n_train: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        # every axis a sequence of numbers (stored as a tuple), then its values
        w = check_reals("w", self.w, expected="a non-empty sequence of finite, increasing "
                        "norms > 0")
        m = check_reals("m", self.m, expected="a non-empty sequence of increasing values "
                        "within [0, 1] ((0.0,) without m)")
        seeds = check_ints("seeds", self.seeds, None, expected="a non-empty sequence of "
                           "distinct integers (init seeds)")
        object.__setattr__(self, "w", w)
        object.__setattr__(self, "m", m)
        object.__setattr__(self, "seeds", seeds)
        if min(w) <= 0 or np.any(np.diff(np.asarray(w, float)) <= 0):
            raise InputError(f"`w` must be finite, increasing and > 0, got {list(self.w)}")
        if min(m) < 0 or max(m) > 1 or np.any(np.diff(np.asarray(m, float)) <= 0):
            raise InputError(f"`m` must be increasing within [0, 1], got {list(self.m)}")
        if len(set(seeds)) != len(seeds):
            raise InputError(f"`seeds` must be distinct integers, got {list(self.seeds)}")
        check_seeds("seeds", self.seeds)
        if self.n_train is not None:
            n = check_ints("n_train", self.n_train, 1, expected="increasing integers >= 1 "
                           "(training-set sizes), or None")
            object.__setattr__(self, "n_train", n)
            if np.any(np.diff(n) <= 0):
                raise InputError(f"`n_train` must be increasing integers >= 1, got "
                                 f"{list(self.n_train)}")

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(seed, w, m, n_train); n_train is 1 long without an n_train axis."""
        n = 1 if self.n_train is None else len(self.n_train)
        return len(self.seeds), len(self.w), len(self.m), n

    @classmethod
    def no_m(cls, w, seeds, n_train=None) -> ProbeGrid:
        """The grid of a task without a representation coordinate."""
        return cls(tuple(map(float, w)), (0.0,), tuple(int(s) for s in seeds),
                   None if n_train is None else tuple(int(n) for n in n_train))

    def member_coords(self, members: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(w, m, seed) of flat member indices, C order over (seed, w, m, n_train)."""
        s, i, j, _ = np.unravel_index(members, self.shape)
        return np.asarray(self.w)[i], np.asarray(self.m)[j], np.asarray(self.seeds)[s]

    def member_n_train(self, members: np.ndarray) -> np.ndarray | None:
        """n_train of flat member indices (None without an n_train axis)."""
        if self.n_train is None:
            return None
        return np.asarray(self.n_train)[np.unravel_index(members, self.shape)[3]]

    def fingerprint(self) -> dict:
        """What identifies the grid in a resume fingerprint (no n_train key without one,
        as before the n_train axis existed)."""
        out = dataclasses.asdict(self)
        if self.n_train is None:
            del out["n_train"]
        return out


@dataclasses.dataclass(frozen=True)
class ProbeChunk:
    """The probe of some members of a grid: a pure function of (task, probe, grid, members).

    Picklable, so a dask worker computes a chunk exactly as this process would
    (`reduced_dynamics.executors`)."""

    task: Any
    probe: ProbeConfig
    grid: ProbeGrid
    device: str = "cpu"
    name: ClassVar[str] = "probe"

    def __call__(self, members: np.ndarray, progress: Callable[[int], None] | None = None
                 ) -> dict[str, np.ndarray]:
        from reduced_dynamics.landscape.probe import probe_batch

        w, m, seeds = self.grid.member_coords(members)
        extra: dict[str, Any] = {}  # only what differs from probe_batch's defaults
        if self.grid.n_train is not None:
            extra["n_train"] = self.grid.member_n_train(members)
        if self.device != "cpu":
            extra["device"] = self.device
        return probe_batch(self.task, self.probe, w, m, seeds, progress=progress, **extra)

    def work(self, members: np.ndarray) -> int:
        """Progress units of a chunk: member-steps."""
        return len(members) * self.probe.steps


def probe_fingerprint(task, probe: ProbeConfig, grid: ProbeGrid, *, torch_threads: int,
                      device: str = "cpu", device_name: str | None = None) -> dict:
    """Everything that determines a probe's numbers (`io.fingerprint.job_fingerprint`):
    task, probe settings (steps, lr, schedule, dtype, chunk size, ...), grid, threads,
    device (and its name, `batching.devices.device_record`)."""
    named = {} if device_name is None else {"device_name": device_name}
    return job_fingerprint(f"{task_of(task).name} probe", torch_threads=torch_threads,
                           device=device, task=task.to_dict(), probe=probe.to_dict(),
                           grid=grid.fingerprint(), **named)


def probe_landscape(
    task,
    probe: ProbeConfig,
    grid: ProbeGrid,
    output: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    history: str = "",
    executor: Executor | None = None,
    overwrite: bool = False,
    device: str = "cpu",
) -> xr.Dataset:
    """Probe every (w, m, n_train, seed) member, chunk by chunk, and write the landscape file.

    ``task`` is a task config (`reduced_dynamics.tasks`); a task without m needs
    ``grid.m == (0.0,)`` (`ProbeGrid.no_m`) and gives a landscape without m; ``grid.n_train``
    needs a task with a subset rule. ``executor`` (`reduced_dynamics.executors`): where the
    chunks are computed (default: here, one after another); every finished chunk is saved
    at once as a part file, and the parts are merged into ``output`` atomically at the end.
    ``device``: "cpu", "cuda" or "auto", recorded (with its name) in ``config_json`` and in
    the resume fingerprint.

    Before anything is computed or created, the grid and ``output`` are checked
    (`io.lock.check_output`: an existing file is replaced only with ``overwrite``). While
    it runs, the sweep holds ``<output>.lock`` (`io.lock`). ``resume`` reuses the finished
    chunks of the same sweep only (`probe_fingerprint`); onto a finished landscape file
    with no parts left it computes nothing and returns that file's Dataset.
    """
    from reduced_dynamics.batching.devices import device_record, resolve_device
    from reduced_dynamics.executors import torch_threads

    entry = task_of(task)
    check_type("probe", probe, ProbeConfig, "a ProbeConfig")
    check_type("grid", grid, ProbeGrid, "a ProbeGrid (`ProbeGrid(w, m, seeds)`, "
               "`ProbeGrid.no_m(w, seeds)`)")
    check_sweep_options(output, resume=resume, progress=progress, history=history,
                        overwrite=overwrite, executor=executor)
    if not entry.has_m_for(task) and tuple(grid.m) != (0.0,):
        raise InputError(f"task {entry.name!r} has no m coordinate: probe it on m = (0,) "
                         f"(ProbeGrid.no_m), got m = {list(grid.m)}")
    if grid.n_train is not None:
        entry.torch_task(task).check_n_train(np.asarray(grid.n_train))
    check_norms("w", grid.w, probe.dtype)
    from reduced_dynamics.batching.data import check_batch_size
    from reduced_dynamics.tasks.base import adapter_of

    check_batch_size("batch_size", probe.batch_size, adapter_of(task))  # the CLI: --n-train's too
    dev = device_record(resolve_device(device))
    if finished_output(output, "landscape", resume=resume) and not overwrite:
        from reduced_dynamics.io.landscape_file import open_landscape

        return open_landscape(output)  # finished: nothing to resume
    output = check_output(output, "landscape", overwrite=overwrite, resume=resume)
    fingerprint = probe_fingerprint(task, probe, grid, torch_threads=torch_threads(executor),
                                    **dev)
    with output_lock(output):
        return _probe_locked(task, probe, grid, output, fingerprint, resume=resume,
                             progress=progress, history=history, executor=executor,
                             device=dev)


def _probe_locked(task, probe: ProbeConfig, grid: ProbeGrid, output: Path, fingerprint: dict,
                  *, resume: bool, progress: bool, history: str,
                  executor: Executor | None, device: dict[str, str]) -> xr.Dataset:
    import torch

    has_m = task_of(task).has_m_for(task)
    names = PROBE_VARS if has_m else tuple(v for v in PROBE_VARS if v != "dtrain_dm")
    plan = ChunkPlan(int(np.prod(grid.shape)), probe.chunk_size)
    store = PartStore(output, fingerprint)
    store.open(resume)
    todo = [c for c in range(plan.n_chunks) if c not in store.done()]

    bar = _progress_bar(plan, probe.steps, todo, enabled=progress)
    try:
        run_chunks(plan, store, ProbeChunk(task, probe, grid, device["device"]), todo,
                   bar.update, executor)
    finally:
        bar.close()
    flat = store.read_all(plan)
    per_seed = {k: flat[k].reshape(grid.shape) for k in names}  # (seed, w, m, n_train)
    from reduced_dynamics.executors import torch_threads

    config = {"task": task.to_dict(), "probe": probe.to_dict(), "seeds": list(grid.seeds),
              "w0_seed": grid.seeds[0],
              "converged_means": _converged_doc(probe, bool(task.positively_homogeneous)),
              "torch_threads": torch_threads(executor),
              "flush_denormal": device["device"] == "cpu", **device}
    ds = landscape_of_restarts(task, probe, grid, per_seed, config, history=history,
                               torch_version=torch.__version__)
    save_merged(save_landscape, ds, output, store)
    return ds


def landscape_of_restarts(task, probe: ProbeConfig, grid: ProbeGrid,
                          per_seed: dict[str, np.ndarray], config: dict, *, history: str,
                          torch_version: str, w0: float | None = None) -> xr.Dataset:
    """The landscape Dataset of per-restart results ``per_seed`` (arrays (seed, w, m,
    n_train) in `ProbeGrid.shape`): the reduced value is the best restart
    (`reduce_over_seeds`), converged also needs the monotone test for a positively
    homogeneous task (`monotone_violation`); the ``*_by_seed`` arrays are kept. Shared by the
    probe, the continuation in w and the merge of restarts, so all three decide alike.
    ``w0`` (None: computed from the task at ``config["w0_seed"]``, which needs torch)."""

    entry = task_of(task)
    has_m = entry.has_m_for(task)
    if not has_m:
        per_seed = {k: v[:, :, 0] for k, v in per_seed.items()}
    if grid.n_train is None:
        per_seed = {k: v[..., 0] for k, v in per_seed.items()}
    reduced = reduce_over_seeds(per_seed)  # (w[, m][, n_train])
    if task.positively_homogeneous:
        reduced["converged"] = reduced["converged"] & ~monotone_violation(
            reduced["train_loss"], probe.monotone_tol, probe.monotone_abs_tol)
    variables = dict(reduced)
    variables.update({f"{k}_by_seed": v for k, v in per_seed.items()})
    config = dict(config)
    if grid.n_train is not None:
        config["n_train"] = list(grid.n_train)
    return landscape_dataset(
        np.asarray(grid.w), np.asarray(grid.m) if has_m else None, variables,
        task=entry.name, preset=task.preset, config=config,
        w0=_w0(task, config, grid) if w0 is None else w0, history=history,
        torch_version=torch_version, extra_dims={"seed": np.asarray(grid.seeds)},
        n_train=None if grid.n_train is None else np.asarray(grid.n_train, np.int64),
        loss_name=entry.loss_name_for(task), theta=entry.theta_for(task),
    )


def _w0(task, config: dict, grid: ProbeGrid) -> float:
    from reduced_dynamics.tasks.base import w0_of

    return w0_of(task, int(config.get("w0_seed", grid.seeds[0])))


def _converged_doc(probe: ProbeConfig, monotone: bool = True) -> str:
    settled = f"|l(T)-l(0.9T)| <= {probe.rel_change_tol} l(0.9T) + {probe.abs_change_tol}"
    if not monotone:  # tanh: l~_train(w) may rise with w, so no monotonicity test
        return settled
    return (f"{settled}, and train_loss <= (1 + {probe.monotone_tol}) x its minimum over "
            f"smaller w + {probe.monotone_abs_tol}")


def _progress_bar(plan: ChunkPlan, steps: int, todo: Sequence[int], enabled: bool):
    """points x steps, starting at what earlier runs already finished."""
    from tqdm.auto import tqdm

    total = plan.n_members * steps
    done = total - sum(len(plan.members(c)) for c in todo) * steps
    return tqdm(total=total, initial=done, unit="pt·step", unit_scale=True,
                disable=not enabled, desc="probe", smoothing=0.05)


def seeds_from_spec(spec: str | int | Sequence[int], first: int = 0) -> tuple[int, ...]:
    """``3`` -> (0, 1, 2), counting from ``first`` (`TaskEntry.first_seed`: 1 for
    teacher-student, whose seed 0 is the teacher); ``"0,5,7"`` -> (0, 5, 7)."""
    if isinstance(spec, int):
        values = _seed_count(spec, first)
    elif isinstance(spec, str):
        try:
            values = (_seed_count(int(spec), first) if "," not in spec
                      else tuple(int(v) for v in spec.split(",") if v.strip()))
        except InputError:
            raise
        except ValueError:
            raise InputError(f"`--seeds` must be a count like 3 or a list like 0,5,7, "
                             f"got {spec!r}") from None
    else:
        values = tuple(int(s) for s in spec)
    if len(values) > MAX_SEEDS:
        raise InputError(f"`--seeds` gives {len(values)} seeds; at most {MAX_SEEDS} are "
                         f"allowed, got {spec!r}")
    if not values or min(values) < 0:
        hint = (" (a single number is a count of seeds: `--seeds 1` is seed "
                f"{first}; a list like `0,` names seeds)" if str(spec).strip() == "0" else "")
        raise InputError(f"`--seeds` must give at least one seed >= 0, got {spec!r}{hint}")
    return check_seeds("--seeds", values)


def _seed_count(n: int, first: int = 0) -> tuple[int, ...]:
    """Seeds ``first .. first + n - 1``; a count above MAX_SEEDS is refused before allocating."""
    if n > MAX_SEEDS:
        raise InputError(f"`--seeds` as a count must be <= {MAX_SEEDS}, got {n}; give a "
                         "list like 0,5,7 for particular seeds")
    return tuple(range(first, first + n))
