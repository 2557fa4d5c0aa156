"""A γ sweep of full runs written as one trajectory file (dims run, step).

Two ways to run it. A batched member trains as it would alone, so how the runs are grouped
into batched models changes only the rounding (batched matrix products of another batch
size), never the method. Training amplifies rounding differences, though: measured on toy
addition (4 runs, alpha0 5, m0 0.12, gamma 0.1..3), one model vs one run per model, the
largest relative difference of train_loss was ~1e-7 up to step 100, 2e-6 at step 300 and
1.5e-4 at step 1000 in float32; ~1e-15 up to step 1000 and 3e-5 at step 1700 in float64;
6-7 % at step 3000 in both. Results are bit-for-bit reproducible for the same grouping
(recorded as ``runs_per_model`` in ``config_json``) and torch thread count, on a worker
or here:

* one batched model of all runs, checkpointed every ``checkpoint_every`` steps beside the
  output (``<output>.ckpt``; ``--resume`` continues from it) — the default;
* chunks of ``chunk_size`` runs, each its own batched model, each saved as a part file as
  soon as it is trained (`io.parts.PartStore`; ``--resume`` trains only the missing chunks)
  and merged along ``run`` at the end. This is how a cluster trains them
  (`reduced_dynamics.executors`); the resume unit is then a whole chunk.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_int, check_norms, check_sweep_options, check_type
from reduced_dynamics.config import RunSet, TrainConfig
from reduced_dynamics.engine.thresholds import describe_grok, task_grok_threshold
from reduced_dynamics.errors import InputError, WriteError
from reduced_dynamics.io.lock import check_output, finished_output, output_lock
from reduced_dynamics.io.schema import provenance_attrs
from reduced_dynamics.io.trajectory_file import save_trajectories
from reduced_dynamics.names import (
    NOT_APPLICABLE,
    TRAJECTORY_COORD_META,
    TRAJECTORY_VAR_META,
    RunStatus,
    flag_attrs,
    long_name_of,
)
from reduced_dynamics.tasks import task_of
from reduced_dynamics.training.fingerprint import train_fingerprint

if TYPE_CHECKING:  # pragma: no cover
    from reduced_dynamics.executors import Executor



def trajectory_dataset(task, cfg: TrainConfig, runs: RunSet,
                       logs: dict[str, np.ndarray], *, history: str = "",
                       runs_per_model: int | None = None,
                       torch_threads: int | None = None,
                       device: dict[str, str] | None = None) -> xr.Dataset:
    """Wrap the logs of `train_runs` with SPEC §9 conventions (``task``: a task config).

    ``runs_per_model`` (default: all runs) and ``torch_threads`` (default: this process's)
    are recorded in ``config_json``: both change the rounding, which long runs amplify
    (module docstring); so is ``device`` (`batching.devices.device_record`; default: CPU).
    """
    import torch

    from reduced_dynamics.tasks.base import w0_of

    entry = task_of(task)
    has_m = entry.has_m_for(task)
    loss, theta = entry.loss_name_for(task), entry.theta_for(task)

    def meta(table: dict, name: str) -> dict[str, str]:
        long_name, units = long_name_of(table, name, loss=loss, theta=theta)
        if not has_m and name in ("m", "residual", "m0"):
            long_name = NOT_APPLICABLE
        return {"long_name": long_name, "units": units}

    data_vars = {}
    for name, values in logs.items():
        dims = ("run",) if np.ndim(values) == 1 else ("run", "step")
        flags = flag_attrs(RunStatus) if name == "status" else {}
        data_vars[name] = (dims, values, {**meta(TRAJECTORY_VAR_META, name), **flags})
    n = len(runs)
    per_run = {
        "gamma": np.asarray(runs.gamma, float),
        "eta_d": np.asarray(runs.rates("eta_d", cfg.eta_d)),  # per run, or the config's
        "eta_r": np.asarray(runs.rates("eta_r", cfg.eta_r)),
        "seed": np.asarray(runs.seed, np.int64),
        "alpha0": np.asarray(runs.alpha0, float),
        "m0": np.asarray(runs.m0, float),
    }
    if runs.n_train is not None:
        per_run["n_train"] = np.asarray(runs.n_train, np.int64)
    coords = {"run": ("run", np.arange(n), meta(TRAJECTORY_COORD_META, "run")),
              "step": ("step", cfg.log_steps(), meta(TRAJECTORY_COORD_META, "step"))}
    coords.update({k: ("run", v, meta(TRAJECTORY_COORD_META, k)) for k, v in per_run.items()})
    kinds = {"adamw": "AdamW, decoupled: theta (1 - eta_d gamma)",
             "adam": "Adam, L2: grad + gamma theta", "sgd": "gradient descent, L2: grad + "
             "gamma theta"}
    coords["gamma"][2]["long_name"] = f"weight decay gamma on theta ({kinds[cfg.optimizer]})"
    config = {"task": task.to_dict(), "train": cfg.to_dict(), "runs": runs.to_dict(),
              "runs_per_model": runs_per_model or n,
              "torch_threads": torch_threads or torch.get_num_threads()}
    if device is None:
        from reduced_dynamics.batching.devices import device_record

        device = device_record(torch.device("cpu"))
    config.update(device)
    attrs = provenance_attrs("trajectory", title=f"full training runs of {entry.name} "
                             f"({task.preset})", task=entry.name, preset=task.preset,
                             config=config, w0=w0_of(task, runs.seed[0]),
                             history=history, torch_version=torch.__version__)
    from reduced_dynamics.training.start import start_attrs

    attrs.update(start_attrs(task, cfg))
    attrs.update(_eta_r_conversion(task, cfg, has_m))
    value, on = task_grok_threshold(task)
    if "t_grok" in data_vars:  # the trainer timed it at the task's threshold
        data_vars["t_grok"][2]["long_name"] = (f"first logged step with "
                                               f"{describe_grok(value, on)} (NaN: never)")
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _eta_r_conversion(task, cfg: TrainConfig, has_m: bool) -> dict[str, float | str]:
    """SPEC §13: with sgd the representation moves along the R line at eta_r / |Delta|^2 in
    m (Delta = R_random - R_linear, as the m estimator's), so the ODE's eta_R is the run's
    divided by ``eta_r_ode_divisor``; with adam/adamw (and without m) the divisor is 1."""
    if not (has_m and cfg.optimizer == "sgd"):
        return {"eta_r_ode_divisor": 1.0,
                "eta_r_conversion": f"{cfg.optimizer}: the ODE's eta_R is the run's eta_r"}
    import torch

    from reduced_dynamics.tasks import torch_task

    tt = torch_task(task, torch.float64, torch.device("cpu"))
    delta = (tt.r_rand - tt.r_lin).flatten()
    dd = float(delta.dot(delta))
    return {"eta_r_ode_divisor": dd,
            "eta_r_conversion": f"sgd: gradient descent moves m at eta_r / |Delta|^2; the "
                                f"ODE's eta_R is the run's eta_r / {dd:.6g} (SPEC 13)"}


@dataclasses.dataclass(frozen=True)
class TrainChunk:
    """Training of some runs of a `RunSet` as one batched model: a pure function of
    (task, config, runs, members), picklable for dask workers."""

    task: Any
    cfg: TrainConfig
    runs: RunSet
    device: str = "cpu"
    name: ClassVar[str] = "train"

    def __call__(self, members: np.ndarray, progress: Callable[[int], None] | None = None
                 ) -> dict[str, np.ndarray]:
        from reduced_dynamics.training.trainer import train_runs

        tick = None if progress is None else (lambda k: progress(k * len(members)))
        return train_runs(self.task, self.cfg, self.runs.subset(members), progress=tick,
                          device=self.device)

    def work(self, members: np.ndarray) -> int:
        """Progress units of a chunk: run-steps."""
        return len(members) * self.cfg.steps


def check_runs(task, cfg: TrainConfig, runs: RunSet) -> None:
    """What the configs cannot check alone: eta gamma < 1 (`TrainConfig.check_decay`),
    gamma = 0 with constrain_norm (`TrainConfig.check_runs`), a finite squared norm
    (alpha0 w0)^2 in the run's dtype, m0 = 0 without m; on a task without a representation
    (`tasks.base.has_representation`) no per-run eta_r and no wd_representation (both would
    be recorded and ignored); a batch size at most the task's training set."""
    from reduced_dynamics.batching.data import check_batch_size
    from reduced_dynamics.tasks.base import adapter_of, has_representation, w0_of

    name = task_of(task).name
    if not has_representation(task):
        for field, used in (("runs.eta_r", runs.eta_r is not None),
                            ("cfg.wd_representation", cfg.wd_representation)):
            if used:
                raise InputError(f"`{field}` has no effect on task {name!r} ({task.preset}): "
                                 "it has no representation (no m coordinate, every parameter "
                                 "in theta); drop it")
    check_batch_size("batch_size", cfg.batch_size, adapter_of(task))  # the CLI: --n-train's too

    cfg.check_decay(runs)
    cfg.check_runs(runs)
    w0 = max(w0_of(task, s) for s in set(runs.seed))
    check_norms("alpha0", runs.alpha0, cfg.dtype, scale=w0)
    if not task_of(task).has_m_for(task) and any(m != 0 for m in runs.m0):
        raise InputError(f"task {task_of(task).name!r} has no representation coordinate: "
                         f"`m0` must be 0, got {sorted(set(runs.m0))}")


def run_training(task, cfg: TrainConfig, runs: RunSet, output: str | Path,
                 *, resume: bool = False, progress: bool = True, history: str = "",
                 chunk_size: int | None = None, executor: Executor | None = None,
                 overwrite: bool = False, device: str = "cpu") -> xr.Dataset:
    """Train the runs and write the trajectory file ``output``.

    Default: all runs as one batched model, checkpointed beside ``output``. With
    ``chunk_size`` or a remote ``executor`` (`reduced_dynamics.executors`): chunks of
    ``chunk_size`` runs (default on a cluster: one chunk per worker thread; on
    ``resume``: the interrupted sweep's), each saved as a part file when done.
    ``device``: "cpu", "cuda" or "auto", recorded with its name in ``config_json`` and
    in the fingerprint.

    Before anything is computed or created, the runs and ``output`` are checked
    (`check_runs`, `io.lock.check_output`: an existing file is replaced only with
    ``overwrite``). While it runs, the sweep holds ``<output>.lock``. ``resume``
    continues the checkpoint or the finished chunks of the same sweep only
    (`train_fingerprint`); onto a finished trajectory file with neither left it computes
    nothing and returns that file's Dataset.
    """
    task_of(task)  # a registered task's config
    check_type("cfg", cfg, TrainConfig, "a TrainConfig")
    check_type("runs", runs, RunSet, "a RunSet (e.g. `RunSet.sweep(gammas, seeds, alpha0s, "
               "m0s)`)")
    check_sweep_options(output, resume=resume, progress=progress, history=history,
                        overwrite=overwrite, executor=executor)
    if chunk_size is not None:
        check_int("chunk_size", chunk_size, 1)
    from reduced_dynamics.batching.devices import device_record, resolve_device

    check_runs(task, cfg, runs)
    dev = device_record(resolve_device(device))
    if finished_output(output, "trajectory", resume=resume) and not overwrite:
        from reduced_dynamics.io.trajectory_file import open_trajectories

        return open_trajectories(output)  # finished: nothing to resume
    output = check_output(output, "trajectory", overwrite=overwrite, resume=resume)
    with output_lock(output):
        return _run_locked(task, cfg, runs, output, resume=resume, progress=progress,
                           history=history, chunk_size=chunk_size, executor=executor,
                           device=dev)


def _run_locked(task, cfg: TrainConfig, runs: RunSet, output: Path, *, resume: bool,
                progress: bool, history: str, chunk_size: int | None,
                executor: Executor | None, device: dict[str, str]) -> xr.Dataset:
    from reduced_dynamics.io.parts import PartStore

    dev = device

    ckpt = output.with_name(output.name + ".ckpt")
    remote = executor is not None and executor.remote
    if chunk_size is None and not remote:
        stored = PartStore.stored_fingerprint(output)
        if stored is not None and stored.get("kind", "").endswith(" train"):
            raise InputError(f"found chunks of an earlier chunked run in {output}.parts; "
                             f"rerun with --chunk-size {stored.get('chunk_size')} (and "
                             "--resume) to continue it, or delete that folder")
        return _train_one_model(task, cfg, runs, output, ckpt, resume=resume,
                                progress=progress, history=history, device=dev)
    if ckpt.exists():
        raise InputError(f"found a checkpoint of an earlier unchunked run at {ckpt}; rerun "
                         "without --chunk-size/--workers/--scheduler (and with --resume) to "
                         "continue it, or delete it")
    if chunk_size is None:
        stored = PartStore.stored_fingerprint(output) if resume else None
        if stored is not None and isinstance(stored.get("chunk_size"), int):
            chunk_size = stored["chunk_size"]
        else:
            from reduced_dynamics.executors import default_chunk_size

            chunk_size = default_chunk_size(len(runs), executor)
    return _train_chunked(task, cfg, runs, output, chunk_size, executor, resume=resume,
                          progress=progress, history=history, device=dev)


def _train_one_model(task, cfg: TrainConfig, runs: RunSet, output: Path, ckpt: Path, *,
                     resume: bool, progress: bool, history: str,
                     device: dict[str, str]) -> xr.Dataset:
    from tqdm.auto import tqdm

    from reduced_dynamics.training.trainer import train_runs

    if ckpt.exists() and not resume:
        raise InputError(f"found a checkpoint of an earlier run at {ckpt}; rerun the same "
                         "command with --resume to continue it, or delete it")
    import torch

    fingerprint = train_fingerprint(task, cfg, runs, torch_threads=torch.get_num_threads(),
                                    device=device["device"],
                                    device_name=device["device_name"])
    with tqdm(total=cfg.steps, unit="step", desc=f"train {len(runs)} runs",
              disable=not progress, smoothing=0.05) as bar:
        logs = train_runs(task, cfg, runs, checkpoint=ckpt, resume=resume, progress=bar.update,
                          fingerprint=fingerprint, device=device["device"])
    ds = trajectory_dataset(task, cfg, runs, logs, history=history, device=device)
    try:
        save_trajectories(ds, output)
    except WriteError as exc:  # the checkpoint is at step == steps: resume only writes
        raise WriteError(f"{exc}; the training is kept in {ckpt}: free space (or fix "
                         "permissions) and rerun with --resume to finish from it") from exc
    ckpt.unlink(missing_ok=True)
    return ds


def _train_chunked(task, cfg: TrainConfig, runs: RunSet, output: Path, chunk_size: int,
                   executor: Executor | None, *, resume: bool, progress: bool,
                   history: str, device: dict[str, str]) -> xr.Dataset:
    from tqdm.auto import tqdm

    from reduced_dynamics.executors import torch_threads
    from reduced_dynamics.io.parts import ChunkPlan, PartStore, run_chunks, save_merged

    plan = ChunkPlan(len(runs), chunk_size)
    fingerprint = train_fingerprint(task, cfg, runs, torch_threads=torch_threads(executor),
                                    chunk_size=chunk_size, device=device["device"],
                                    device_name=device["device_name"])
    store = PartStore(output, fingerprint)
    store.open(resume)
    todo = [c for c in range(plan.n_chunks) if c not in store.done()]
    done = (len(runs) - sum(len(plan.members(c)) for c in todo)) * cfg.steps
    with tqdm(total=len(runs) * cfg.steps, initial=done, unit="run·step", unit_scale=True,
              desc=f"train {len(runs)} runs in {plan.n_chunks} chunk(s)",
              disable=not progress, smoothing=0.05) as bar:
        run_chunks(plan, store, TrainChunk(task, cfg, runs, device["device"]), todo,
                   bar.update, executor)
    logs = store.read_all(plan)
    ds = trajectory_dataset(task, cfg, runs, logs, history=history, runs_per_model=chunk_size,
                            torch_threads=torch_threads(executor), device=device)
    save_merged(save_trajectories, ds, output, store)
    return ds
