"""Continuation in w: a finished landscape re-probed from the smaller sphere's minimiser.

At large w the probe from the scaled init does not reach the low-loss directions (for toy
addition l~_train rose to 10³ at α = 100, m = 0, though a ReLU decoder's reduced loss cannot
rise with w: `batching.lift`). The continuation walks each (m, n_train, seed) column up the
w grid:

    θ_0 = the probe's minimiser at w_0 from the scaled init (the probe's own settings),
    θ_k = minimise on ||θ|| = w_k, starting from lift(θ_{k-1}, w_k)   (k >= 1),

except where the source's value at w_k (its probe from the scaled init) is below the
chain's value at w_{k-1}: there the chain restarts from that probe, recomputed with the
source's settings (the source keeps no end points), so the chain never falls behind it.
A stage keeps its start where Adam's end point is worse, so the chain's l~_train cannot
rise with w: l_k <= min(l_{k-1}, source_k) up to the rounding of the recomputation.
with ``steps`` Adam steps at a plain ``lr`` (no α scaling: the start is already good, a
large step would throw it away) and the probe's schedule. Each point then keeps the lower
train loss of the two minimisers, the source file's (scaled init) and the continued one;
``probe_start`` says which (0 scaled init, 1 continued), and every other variable of the
point (test loss and accuracy, envelope derivatives, converged) belongs to that minimiser.
``scaled_init_train_loss`` and ``scaled_init_test_loss`` keep the source's values.

Each finished stage (one w for every column) is saved at once with its end points
(`io.parts`), so an interrupted run resumes at the next stage.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_int, check_real, check_sweep_options
from reduced_dynamics.config import ProbeConfig
from reduced_dynamics.errors import InputError
from reduced_dynamics.io.fingerprint import job_fingerprint
from reduced_dynamics.io.landscape_file import open_landscape, save_landscape
from reduced_dynamics.io.lock import check_output, finished_output, output_lock
from reduced_dynamics.io.parts import ChunkPlan, PartStore, save_merged
from reduced_dynamics.io.schema import config_of
from reduced_dynamics.landscape.restarts import per_seed_arrays
from reduced_dynamics.landscape.sweep import ProbeGrid, landscape_of_restarts
from reduced_dynamics.names import CONTINUATION_DEFAULTS, PROBE_VARS, ProbeStart, RunStatus
from reduced_dynamics.tasks.base import get_task, with_field_defaults

__all__ = ["continue_landscape", "grid_of", "task_and_probe_of"]

RESEED_MARGIN = 1e-3  # the source must beat the chain by this fraction to restart it


def task_and_probe_of(ds: xr.Dataset):
    """The task config and `ProbeConfig` a landscape file was probed with (its
    ``config_json``; fields added since the file was written take their defaults)."""
    config = config_of(ds)
    entry = get_task(ds.attrs.get("task"))
    stored = with_field_defaults(entry.name, dict(config.get("task", {})))
    fields = {f.name for f in dataclasses.fields(entry.config_type)}
    task = entry.config_type(**{k: v for k, v in stored.items() if k in fields})
    pfields = {f.name for f in dataclasses.fields(ProbeConfig)}
    probe = ProbeConfig(**{k: v for k, v in config.get("probe", {}).items() if k in pfields})
    return task, probe


def grid_of(ds: xr.Dataset) -> ProbeGrid:
    """The `ProbeGrid` of a landscape file (w, m or (0,), seeds, n_train)."""
    m = tuple(map(float, ds["m"].values)) if "m" in ds.coords else (0.0,)
    n = tuple(int(v) for v in ds["n_train"].values) if "n_train" in ds.coords else None
    seeds = (tuple(int(s) for s in ds["seed"].values) if "seed" in ds.coords
             else tuple(config_of(ds).get("seeds", [0])))
    return ProbeGrid(tuple(map(float, ds["w"].values)), m, seeds, n)


def continue_landscape(
    landscape: str | Path,
    output: str | Path,
    *,
    steps: int = CONTINUATION_DEFAULTS["steps"],
    lr: float = CONTINUATION_DEFAULTS["lr"],
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    history: str = "",
) -> xr.Dataset:
    """Re-probe the finished landscape file ``landscape`` by continuation in w (module
    docstring) and write the result to ``output``; returns its Dataset.

    The task must have a ReLU MLP decoder as θ (positively homogeneous, `batching.lift`).
    ``steps`` Adam steps per point and stage at learning rate ``lr``, with the source's
    schedule. ``resume`` reuses the finished stages of the same job only."""
    check_sweep_options(output, resume=resume, progress=progress, history=history,
                        overwrite=overwrite, executor=None)
    check_int("steps", steps, 10)
    check_real("lr", lr, low=0.0, low_open=True)
    src = open_landscape(landscape)
    task, probe = task_and_probe_of(src)
    if not task.positively_homogeneous:
        raise InputError(f"`landscape` {landscape}: continuation in w lifts a ReLU decoder "
                         f"without changing its function; this task's decoder "
                         f"({src.attrs.get('task')}, preset {task.preset}) is not positively "
                         "homogeneous")
    if probe.batch_size is not None:
        raise InputError(f"`landscape` {landscape} was probed with minibatches "
                         f"(batch_size {probe.batch_size}); the continuation is full-batch only")
    grid = grid_of(src)
    if len(grid.w) < 2:
        raise InputError(f"`landscape` {landscape} has {len(grid.w)} w value(s); the "
                         "continuation needs at least 2")
    cont = dataclasses.replace(probe, steps=steps, lr=lr, lr_scaling="constant")
    if finished_output(output, "landscape", resume=resume) and not overwrite:
        return open_landscape(output)
    output = check_output(output, "landscape", inputs=[landscape], overwrite=overwrite,
                          resume=resume)
    import torch

    fingerprint = job_fingerprint(
        "continuation", torch_threads=torch.get_num_threads(), task=task.to_dict(),
        probe=probe.to_dict(), continuation=cont.to_dict(), grid=grid.fingerprint(),
        source=_sha256(landscape), reseed_margin=RESEED_MARGIN)
    with output_lock(output):
        return _continue_locked(src, Path(landscape).name, task, probe, cont, grid, output,
                                fingerprint, resume=resume, progress=progress,
                                history=history)


def _continue_locked(src: xr.Dataset, source_name: str, task, probe: ProbeConfig,
                     cont: ProbeConfig, grid: ProbeGrid, output: Path, fingerprint: dict, *,
                     resume: bool, progress: bool, history: str) -> xr.Dataset:
    import torch
    from tqdm.auto import tqdm

    from reduced_dynamics.batching.lift import lift_to_norm
    from reduced_dynamics.landscape.probe import probe_members

    n_seed, n_w, n_m, n_n = grid.shape
    cols = np.arange(n_seed * n_m * n_n)
    s_i, m_i, n_i = np.unravel_index(cols, (n_seed, n_m, n_n))
    seeds, m = np.asarray(grid.seeds)[s_i], np.asarray(grid.m)[m_i]
    extra = {} if grid.n_train is None else {"n_train": np.asarray(grid.n_train)[n_i]}
    has_m = "m" in src.coords
    plan = ChunkPlan(n_w * cols.size, cols.size)  # chunk k: stage k, every column
    store = PartStore(output, fingerprint)
    store.open(resume)
    done = sorted(store.done())
    if done != list(range(len(done))):
        raise InputError(f"the finished stages in {store.folder} are not a prefix of the w "
                         f"grid ({done}); delete that folder and rerun")
    theta, chain_loss = _stage_of_part(store, done[-1]) if done else (None, None)
    names = [v for v in PROBE_VARS if v != "dtrain_dm" or has_m]
    source = per_seed_arrays(src, names, grid.shape)
    total = cols.size * (probe.steps + (n_w - 1) * cont.steps)
    initial = cols.size * sum(probe.steps if k == 0 else cont.steps for k in done)
    bar = tqdm(total=total, initial=initial, unit="pt·step", unit_scale=True,
               disable=not progress, desc="continuation", smoothing=0.05)
    m_cols = m if has_m else None
    try:
        for k in range(len(done), n_w):
            w = np.full(cols.size, grid.w[k])
            if k == 0:
                out, theta = probe_members(task, probe, w, m_cols, seeds, bar.update, **extra)
                out["reseeded"] = np.ones(cols.size, bool)
            else:
                start = lift_to_norm(theta, torch.as_tensor(w, dtype=theta[0].dtype))
                # where the source's scaled-init probe beat the chain, the chain restarts
                # from that probe (recomputed here: the source keeps no end points)
                src_k = source["train_loss"][:, k].reshape(-1)
                reseed = np.isfinite(src_k) & (src_k < (1 - RESEED_MARGIN) * chain_loss)
                if reseed.any():
                    bar.total += int(reseed.sum()) * probe.steps
                    sub = {key: v[reseed] for key, v in extra.items()}
                    _, again = probe_members(task, probe, w[reseed],
                                             None if m_cols is None else m_cols[reseed],
                                             seeds[reseed], bar.update, **sub)
                    pick = torch.as_tensor(reseed)
                    start = [_scatter(a, pick, b) for a, b in zip(start, again)]
                out, end = probe_members(task, cont, w, m_cols, seeds, bar.update,
                                         theta0=start, **extra)
                out, theta = _better_of_start(task, cont, start, end, out, m_cols, seeds,
                                              extra)
                out["reseeded"] = reseed
            chain_loss = out["train_loss"]
            parts = dict(out)
            parts.update({f"theta_{i}": t.cpu().numpy() for i, t in enumerate(theta)})
            store.write(k, plan.members(k), parts)
    except BaseException:
        store.discard_if_empty()
        raise
    finally:
        bar.close()
    flat = store.read_all(plan)
    shape = (n_w, n_seed, n_m, n_n)
    continued = {k: np.moveaxis(flat[k].reshape(shape), 0, 1) for k in [*names, "lifted"]
                 if k in flat}
    per_seed = _choose(source, continued)
    config = dict(config_of(src))
    config["continuation"] = {
        "source": source_name, "steps": cont.steps, "lr": cont.lr, "lr_scaling": "constant",
        "schedule": cont.schedule, "start": "lift of the minimiser at the next smaller w "
        "(batching.lift); at the smallest w, and wherever the source's value beats the "
        f"chain's by {RESEED_MARGIN:g} relative, the probe from the scaled init",
        "kept": "per point and restart, the minimiser with the lower train loss: the "
        "source's (probe_start 0) or the continued one (probe_start 1); every variable "
        "belongs to the kept minimiser"}
    config["torch_threads"] = torch.get_num_threads()
    config["flush_denormal"] = True
    hist = "\n".join(h for h in (src.attrs.get("history", ""), history) if h)
    ds = landscape_of_restarts(task, probe, grid, per_seed, config, history=hist,
                               torch_version=torch.__version__)
    save_merged(save_landscape, ds, output, store)
    return ds


def _better_of_start(task, cont: ProbeConfig, start: list, end: list,
                     out: dict[str, np.ndarray], m, seeds, extra: dict):
    """Where Adam's end point has a higher train loss than the lifted start (Adam's first
    steps, of size lr in every coordinate, can spoil the lift's small layer), keep the start:
    it lies on the same sphere with the smaller sphere's loss, so the chain's l~_train
    cannot rise with w. Such points are marked ``probe_start`` LIFTED, not converged."""
    import torch

    from reduced_dynamics.landscape.probe import measure_members

    at_start = measure_members(task, cont, start, m, seeds, **extra)
    worse = ~(out["train_loss"] <= at_start["train_loss"])
    worse &= np.isfinite(at_start["train_loss"])
    out = {k: np.where(worse, at_start[k], v).astype(v.dtype) for k, v in out.items()}
    out["converged"] &= ~worse
    out["lifted"] = worse
    keep = torch.as_tensor(worse)
    theta = [torch.where(keep.view(-1, *([1] * (a.dim() - 1))), a, b)
             for a, b in zip(start, end)]
    return out, theta


def _scatter(into, where, values):
    """``into`` with the members ``where`` (a bool tensor) replaced by ``values``."""
    out = into.clone()
    out[where] = values.to(into.dtype)
    return out


def _stage_of_part(store: PartStore, stage: int) -> tuple[list, np.ndarray]:
    """The end points and train losses of a finished stage (to resume after it)."""
    import torch

    from reduced_dynamics.io.schema import read_dataset

    ds = read_dataset(store.part_path(stage), "sweep part")
    keys = sorted((k for k in ds.data_vars if k.startswith("theta_")),
                  key=lambda k: int(k.split("_")[1]))
    return [torch.as_tensor(ds[k].values) for k in keys], ds["train_loss"].values


def _choose(source: dict[str, np.ndarray], continued: dict[str, np.ndarray]
            ) -> dict[str, np.ndarray]:
    """Per point and restart the minimiser with the lower train loss (module docstring);
    the smallest w is always the source's own."""
    ok = (continued["status"] == RunStatus.OK) & np.isfinite(continued["train_loss"])
    src_loss = np.where(np.isfinite(source["train_loss"]) & (source["status"] == RunStatus.OK),
                        source["train_loss"], np.inf)
    use = ok & (continued["train_loss"] < src_loss)
    use[:, 0] = False
    out = {k: np.where(use, continued[k], v).astype(v.dtype) for k, v in source.items()}
    lifted = continued.get("lifted", np.zeros_like(use))
    out["probe_start"] = np.where(use, np.where(lifted, ProbeStart.LIFTED,
                                                ProbeStart.CONTINUED),
                                  ProbeStart.SCALED_INIT).astype(np.int64)
    out["scaled_init_train_loss"] = source["train_loss"].astype(np.float64)
    out["scaled_init_test_loss"] = source["test_loss"].astype(np.float64)
    return out


def _sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
