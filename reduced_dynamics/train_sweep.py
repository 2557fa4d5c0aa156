"""A γ sweep of full runs written as one trajectory file (dims run, step)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from .files import FILE_KIND_ATTR, now_iso, package_version, save_trajectories
from .tasks import task_of
from .train_config import RunSet, TrainConfig

META = {
    "w": ("decoder weight norm ||theta||_2", "1"),
    "m": ("least-squares messiness m_hat of the representation (SPEC §6)", "1"),
    "residual": ("|R - R(m_hat)| / |R_random - R_linear|: distance from the 2-D reduction", "1"),
    "train_loss": ("training loss (MSE, without weight decay)", "1"),
    "test_loss": ("test loss (MSE)", "1"),
    "train_acc": ("training accuracy", "1"),
    "test_acc": ("test accuracy", "1"),
    "t_overfit": ("first logged step with train_acc >= 0.95 (NaN: never)", "steps"),
    "t_grok": ("first logged step with test_acc >= 0.95 (NaN: never)", "steps"),
}
NOT_APPLICABLE = "not applicable (task has no representation coordinate); stored as 0"


def trajectory_dataset(task, cfg: TrainConfig, runs: RunSet,
                       logs: dict[str, np.ndarray], *, history: str = "") -> xr.Dataset:
    """Wrap the logs of `train_runs` with SPEC §9 conventions (``task``: a task config)."""
    import json

    import torch

    from .probe import decoder_w0

    entry = task_of(task)
    data_vars = {}
    for name, values in logs.items():
        dims = ("run",) if name.startswith("t_") else ("run", "step")
        long_name, units = META[name]
        if not entry.has_m and name in ("m", "residual"):
            long_name = NOT_APPLICABLE
        data_vars[name] = (dims, values, {"long_name": long_name, "units": units})
    n = len(runs)
    coords = {
        "run": np.arange(n),
        "step": ("step", cfg.log_steps(), {"long_name": "optimiser step", "units": "steps"}),
        "gamma": ("run", np.asarray(runs.gamma, float), {"long_name": "AdamW weight decay"}),
        "eta_d": ("run", np.full(n, cfg.eta_d), {"long_name": "decoder learning rate"}),
        "eta_r": ("run", np.full(n, cfg.eta_r), {"long_name": "representation learning rate"}),
        "seed": ("run", np.asarray(runs.seed, np.int64)),
        "alpha0": ("run", np.asarray(runs.alpha0, float), {"long_name": "initial w / w0"}),
        "m0": ("run", np.asarray(runs.m0, float), {"long_name": "initial messiness"
                                                   if entry.has_m else NOT_APPLICABLE}),
    }
    attrs = {
        "Conventions": "CF-1.8",
        "title": f"full training runs of {entry.name} ({task.preset})",
        "task": entry.name,
        "preset": task.preset,
        "config_json": json.dumps({"task": task.to_dict(), "train": cfg.to_dict(),
                                   "runs": runs.to_dict()}, sort_keys=True),
        "w0": decoder_w0(task, runs.seed[0]),
        "package_version": package_version(),
        "torch_version": torch.__version__,
        "date_created": now_iso(),
        "history": history,
        FILE_KIND_ATTR: "trajectory",
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def run_training(task, cfg: TrainConfig, runs: RunSet, output: str | Path,
                 *, resume: bool = False, progress: bool = True, history: str = "") -> xr.Dataset:
    """Train the runs (checkpointed beside ``output``) and write the trajectory file."""
    from tqdm.auto import tqdm

    from .errors import InputError
    from .trainer import train_runs

    output = Path(output)
    ckpt = output.with_name(output.name + ".ckpt")
    if ckpt.exists() and not resume:
        raise InputError(f"found a checkpoint of an earlier run at {ckpt}; rerun the same "
                         "command with --resume to continue it, or delete it")
    with tqdm(total=cfg.steps, unit="step", desc=f"train {len(runs)} runs",
              disable=not progress, smoothing=0.05) as bar:
        logs = train_runs(task, cfg, runs, checkpoint=ckpt, resume=resume, progress=bar.update)
    ds = trajectory_dataset(task, cfg, runs, logs, history=history)
    save_trajectories(ds, output)
    ckpt.unlink(missing_ok=True)
    return ds
