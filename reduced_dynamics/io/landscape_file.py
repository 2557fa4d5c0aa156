"""The landscape file: one xarray Dataset per netCDF file, written atomically, checked on open.

Layout (SPEC §9, §11): the grid is ``w`` (increasing, absolute decoder norm) plus any of
``m`` (increasing, within [0, 1]) and ``n_train`` (increasing positive integers), i.e. one of
`LANDSCAPE_GRIDS`: (w), (w, m), (w, n_train), (w, m, n_train); ``seed`` is an optional
restart dim of the ``*_by_seed`` variables. ``w`` and ``m`` are *state* axes (the reduced
dynamics evolves them), ``n_train`` a *parameter* axis (selected before integrating).
Reduced variables ``train_loss``, ``test_loss``, ``train_acc``, ``test_acc``, ``dtrain_dw``,
``dtrain_dm`` (only with ``m``), ``converged``, ``tangent_grad_ratio``, each over the whole
grid; global attributes listed in `schema.REQUIRED_ATTRS`. A point whose ``status`` is
diverged may be NaN (`schema`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_path, check_type
from reduced_dynamics.errors import FileCheckError, InputError
from reduced_dynamics.io.atomic import write_atomic
from reduced_dynamics.io.schema import (
    FILE_KIND_ATTR,
    check_common,
    check_status,
    describe,
    provenance_attrs,
    read_dataset,
)
from reduced_dynamics.names import (
    LANDSCAPE_COORD_META,
    LANDSCAPE_DIMS,
    LANDSCAPE_VAR_META,
    PARAMETER_DIMS,
    REQUIRED_LANDSCAPE_VARS,
    STATE_DIMS,
    RunStatus,
    flag_attrs,
    long_name_of,
)

LANDSCAPE_GRIDS = (("w",), ("w", "m"), ("w", "n_train"), ("w", "m", "n_train"))


def check_landscape(ds: xr.Dataset, path: str | os.PathLike = "<memory>") -> xr.Dataset:
    """Validate a landscape Dataset (see module docstring); returns it unchanged."""
    path = Path(path)
    kind = "landscape"
    has_m = "m" in ds.dims
    required = (*REQUIRED_LANDSCAPE_VARS, "dtrain_dm") if has_m else REQUIRED_LANDSCAPE_VARS
    check_common(ds, path, kind, required_dims=("w",), required_vars=required)

    def fail(problem: str) -> None:
        raise FileCheckError(f"{kind} file {path}: {problem}. {describe(ds)}")

    if np.any(ds["w"].values <= 0):
        fail("coordinate `w` must be > 0 (it is a weight norm)")
    if has_m:
        m = ds["m"].values
        if m.min() < 0 or m.max() > 1:
            fail(f"coordinate `m` must lie in [0, 1], got range [{m.min():g}, {m.max():g}]")
    unknown = sorted(set(map(str, ds.dims)) - set(LANDSCAPE_DIMS))
    if unknown:
        grids = ", ".join("(" + ", ".join(g) + ")" for g in LANDSCAPE_GRIDS)
        fail(f"unknown dimension(s) {unknown}; a landscape has dims {list(LANDSCAPE_DIMS)} "
             f"(all but `w` optional): a grid {grids}, plus `seed` for restarts")
    grid = landscape_grid(ds)
    if "n_train" in grid:
        problem = _n_train_problem(ds)
        if problem:
            fail(problem)
    for var in required:
        if set(ds[var].dims) != set(grid):
            fail(f"variable `{var}` must have the file's grid dims {grid}, has {ds[var].dims}")
        if var != "converged" and not np.issubdtype(ds[var].dtype, np.floating):
            fail(f"variable `{var}` must be floating point, has dtype {ds[var].dtype}")
    conv = ds["converged"]
    if conv.dtype != bool:
        fail(f"variable `converged` must be boolean, has dtype {conv.dtype}")
    diverged = check_status(ds, fail, conv.dims)
    refused = [(conv, "converged point")]
    if diverged is not None:  # a file with `status` has NaN exactly where it is diverged
        if bool((conv & diverged).any()):
            fail("a point whose `status` is diverged is marked converged")
        refused.append((~diverged, "point whose `status` is ok"))
    for var in required:
        if var == "converged":
            continue
        for mask, at in refused:
            bad = mask & ~np.isfinite(ds[var])
            if bool(bad.any()):
                idx = np.argwhere(bad.values)[0]
                where = {d: float(bad[d][i]) for d, i in zip(bad.dims, idx)}
                fail(f"variable `{var}` is NaN or inf at {at} {where}")
    _check_values(ds, fail)
    return ds


# Values no probe can produce: losses (MSE, cross-entropy) are >= 0, accuracies in [0, 1].
NONNEGATIVE_VARS = ("train_loss", "test_loss")


FRACTION_VARS = ("train_acc", "test_acc")


def _check_values(ds: xr.Dataset, fail: Callable[[str], NoReturn]) -> None:
    """Refuse a landscape whose finite values cannot be right: negative losses, accuracies
    outside [0, 1], ``w0`` not a finite number > 0, ``alpha`` other than ``w / w0``."""
    for var in (*NONNEGATIVE_VARS, *FRACTION_VARS):
        for name in (var, f"{var}_by_seed"):
            if name not in ds.data_vars:
                continue
            values = np.asarray(ds[name].values, dtype=float)
            low = 0.0
            high = 1.0 if var in FRACTION_VARS else np.inf
            bad = np.isfinite(values) & ((values < low) | (values > high))
            if bad.any():
                idx = np.argwhere(bad)[0]
                where = {str(d): float(ds[name][d][i]) if d in ds.coords else int(i)
                         for d, i in zip(ds[name].dims, idx)}
                rule = "in [0, 1] (an accuracy)" if var in FRACTION_VARS else ">= 0 (a loss)"
                fail(f"variable `{name}` must be {rule}, got {values[tuple(idx)]:g} at {where}"
                     f" ({int(bad.sum())} such value(s))")
    try:
        w0 = float(ds.attrs["w0"])
    except (TypeError, ValueError):
        fail(f"attribute `w0` must be a number, got {ds.attrs['w0']!r}")
    if not (np.isfinite(w0) and w0 > 0):
        fail(f"attribute `w0` (the decoder norm at init) must be a finite number > 0, "
             f"got {w0!r}")
    if "alpha" not in ds.coords:
        fail("coordinate `alpha` (w / w0, on dim w) is missing")
    alpha = np.asarray(ds["alpha"].values, dtype=float)
    if ds["alpha"].dims != ("w",) or not np.allclose(alpha, ds["w"].values / w0, rtol=1e-6,
                                                      atol=0.0):
        fail(f"coordinate `alpha` must be w / w0 on dim w (w0 = {w0:g}), got "
             f"{alpha.tolist()[:4]} for w / w0 = {(ds['w'].values / w0).tolist()[:4]}")


def landscape_grid(ds: xr.Dataset) -> tuple[str, ...]:
    """The grid dims of a landscape, in `LANDSCAPE_GRIDS` order: ('w',), ('w', 'm'), ..."""
    return tuple(d for d in (*STATE_DIMS, *PARAMETER_DIMS) if d in ds.dims)


def _n_train_problem(ds: xr.Dataset) -> str | None:
    """What is wrong with the ``n_train`` coordinate (training-set sizes), or None.

    Finite and strictly increasing are checked with every coordinate (`check_common`)."""
    if "n_train" not in ds.coords:
        return "coordinate `n_train` (the training-set sizes) is missing"
    values = np.asarray(ds["n_train"].values)
    if not np.issubdtype(values.dtype, np.number):
        return f"coordinate `n_train` must be numeric, has dtype {values.dtype}"
    if np.any(values < 1) or np.any(values != np.round(values)):
        return (f"coordinate `n_train` must hold training-set sizes, integers >= 1, got "
                f"{values.tolist()[:8]}")
    return None


def open_landscape(path: str | os.PathLike) -> xr.Dataset:
    """Open and check a landscape file; the one entry point for reading landscapes."""
    check_path("path", path, "landscape file")
    ds = read_dataset(path, "landscape")
    return check_landscape(ds, path)


def save_landscape(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Check ``ds`` as a landscape and write it atomically to ``path``."""
    check_type("ds", ds, xr.Dataset, "an xarray.Dataset (a landscape)")
    check_path("path", path, "landscape file to write")
    ds = ds.copy()
    ds.attrs[FILE_KIND_ATTR] = "landscape"
    check_landscape(ds, path)
    return write_atomic(ds, path)


def landscape_dataset(
    w: np.ndarray,
    m: np.ndarray | None,
    variables: dict[str, np.ndarray],
    *,
    task: str,
    preset: str,
    config: dict,
    w0: float,
    title: str | None = None,
    history: str = "",
    torch_version: str = "none",
    extra_dims: dict[str, np.ndarray] | None = None,
    n_train: np.ndarray | None = None,
    loss_name: str | None = None,
    theta: str | None = None,
) -> xr.Dataset:
    """Build a landscape Dataset with SPEC §9 coordinates, metadata and attributes.

    The grid is (w, m, n_train) without the axes given as None: ``variables`` maps names to
    arrays of shape (w, m), (w,), (w, n_train) or (w, m, n_train); arrays with leading
    ``extra_dims`` (e.g. ``seed``) must list them first in ``extra_dims`` order, e.g. a
    ``*_by_seed`` array of shape (seed, w, n_train). ``n_train``: increasing training-set
    sizes (integers), a parameter axis (SPEC §11). ``loss_name`` ("MSE", "cross-entropy")
    and ``theta`` (which parameters form θ) go into the long names of the losses and of
    ``w`` (a task config's ``loss_name`` and ``theta_description``; None: unnamed).
    """
    extra_dims = extra_dims or {}
    if "n_train" in extra_dims:
        raise InputError("`extra_dims` must not hold `n_train`: it is a grid axis; pass "
                         "`n_train=` and put it last in the arrays, after w (and m)")
    grid_dims = ("w", "m", "n_train")[: 2 if m is not None else 1] + (
        ("n_train",) if n_train is not None else ())

    def meta(name: str) -> dict[str, str]:
        long_name, units = long_name_of(LANDSCAPE_COORD_META, name, loss=loss_name,
                                        theta=theta)
        return {"units": units, "long_name": long_name}

    coords: dict[str, object] = {"w": ("w", np.asarray(w, float), meta("w"))}
    if m is not None:
        coords["m"] = ("m", np.asarray(m, float), meta("m"))
    coords["alpha"] = ("w", np.asarray(w, float) / w0, meta("alpha"))
    if n_train is not None:
        n = np.asarray(n_train)
        if np.issubdtype(n.dtype, np.number) and np.all(np.isfinite(n)) and np.all(
                n == np.round(n)):
            n = n.astype(np.int64)
        coords["n_train"] = ("n_train", n, meta("n_train"))
    for name, values in extra_dims.items():
        coords[name] = (name, np.asarray(values), meta(name))
    data_vars = {}
    for name, values in variables.items():
        values = np.asarray(values)
        dims = tuple(extra_dims)[: values.ndim - len(grid_dims)] + grid_dims
        long_name, units = long_name_of(LANDSCAPE_VAR_META, name.removesuffix("_by_seed"),
                                        loss=loss_name, theta=theta)
        flags = flag_attrs(RunStatus) if name.removesuffix("_by_seed") == "status" else {}
        data_vars[name] = (dims, values, {"long_name": long_name, "units": units, **flags})
    attrs = provenance_attrs("landscape", title=title or f"reduced landscape of {task} ({preset})",
                             task=task, preset=preset, config=config, w0=w0,
                             history=history, torch_version=torch_version)
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
