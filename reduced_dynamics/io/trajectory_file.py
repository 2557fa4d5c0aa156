"""The trajectory file of full training runs: dims ``run`` and ``step``, the per-run
coordinates `RUN_COORDS`, the logged curves (`names.TRAJECTORY_VARS`); written atomically,
checked on open. A run whose ``status`` is diverged is NaN from its ``diverged_step`` on
(`schema`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_path
from reduced_dynamics.errors import FileCheckError
from reduced_dynamics.io.atomic import write_atomic
from reduced_dynamics.io.schema import (
    FILE_KIND_ATTR,
    check_common,
    check_status,
    describe,
    read_dataset,
)
from reduced_dynamics.names import TRAJECTORY_VARS

RUN_COORDS = ("gamma", "eta_d", "eta_r", "seed", "alpha0", "m0")


def check_trajectories(ds: xr.Dataset, path: str | os.PathLike = "<memory>") -> xr.Dataset:
    """Validate a trajectory file of full training runs (dims ``run`` and ``step``)."""
    path = Path(path)
    kind = "trajectory"
    check_common(ds, path, kind, required_dims=("run", "step"), required_vars=TRAJECTORY_VARS)

    def fail(problem: str) -> None:
        raise FileCheckError(f"{kind} file {path}: {problem}. {describe(ds)}")

    for name in RUN_COORDS:
        if name not in ds.coords or ds[name].dims != ("run",):
            fail(f"per-run coordinate `{name}` (dim run) is missing")
        if not np.all(np.isfinite(ds[name].values.astype(float))):
            fail(f"per-run coordinate `{name}` contains NaN or inf")
    for name in ("gamma", "alpha0"):
        if np.any(ds[name].values < 0):
            fail(f"coordinate `{name}` must be >= 0, got {ds[name].values.min():g}")
    if np.any(ds["step"].values < 0):
        fail("coordinate `step` must be >= 0")
    for var in TRAJECTORY_VARS:
        if not np.issubdtype(ds[var].dtype, np.floating):
            fail(f"variable `{var}` must be floating point, has dtype {ds[var].dtype}")
        want = ("run",) if var.startswith("t_") else ("run", "step")
        if ds[var].dims != want:
            fail(f"variable `{var}` must have dims {want}, has {ds[var].dims}")
    diverged = check_status(ds, fail, ("run",))
    allowed = np.zeros((ds.sizes["run"], ds.sizes["step"]), bool)  # NaN after divergence
    if diverged is not None:
        allowed = diverged.values[:, None] & (
            ds["step"].values[None, :] >= ds["diverged_step"].values[:, None])
    for var in ("w", "m", "residual", "train_loss", "test_loss", "train_acc", "test_acc"):
        bad = ~np.isfinite(ds[var].values) & ~allowed
        if bad.any():
            r, k = np.argwhere(bad)[0]
            fail(f"variable `{var}` is NaN or inf at run {r}, step {int(ds['step'][k])} "
                 "(every step of a finished run is logged, up to its `diverged_step` if "
                 "its `status` is diverged)")
    with np.errstate(invalid="ignore"):
        negative = ds["w"].values < 0
    if negative.any():  # a norm, never negative (NaN after divergence is allowed above)
        r, k = np.argwhere(negative)[0]
        fail(f"variable `w` (a norm) must be >= 0, got {ds['w'].values[r, k]:g} at run {r}, "
             f"step {int(ds['step'][k])}")
    return ds


def open_trajectories(path: str | os.PathLike) -> xr.Dataset:
    """Open and check a trajectory file; the one entry point for reading them."""
    check_path("path", path, "trajectory file")
    return check_trajectories(read_dataset(path, "trajectory"), path)


def save_trajectories(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    ds = ds.copy()
    ds.attrs[FILE_KIND_ATTR] = "trajectory"
    check_trajectories(ds, path)
    return write_atomic(ds, path)
