"""Landscape files: one xarray Dataset per netCDF file, written atomically, checked on open.

Layout (SPEC §9, §11): the grid is ``w`` (increasing, absolute decoder norm) plus any of
``m`` (increasing, within [0, 1]) and ``n_train`` (increasing positive integers), i.e. one of
`LANDSCAPE_GRIDS`: (w), (w, m), (w, n_train), (w, m, n_train); ``seed`` is an optional
restart dim of the ``*_by_seed`` variables. ``w`` and ``m`` are *state* axes (the reduced
dynamics evolves them), ``n_train`` a *parameter* axis (selected before integrating).
Reduced variables ``train_loss``, ``test_loss``, ``train_acc``, ``test_acc``, ``dtrain_dw``,
``dtrain_dm`` (only with ``m``), ``converged``, ``tangent_grad_ratio``, each over the whole
grid; global attributes listed in ``REQUIRED_ATTRS``.

Divergence (`names.RunStatus`): files from a probe or a training sweep carry ``status``
(int8 codes with CF ``flag_values``/``flag_meanings``) and ``diverged_step`` (NaN: never)
per point or run. With them, NaN is allowed exactly where ``status`` is diverged (for a run:
from its ``diverged_step`` on) and a diverged point is never ``converged``; without them,
the rules are as before (landscape: finite where converged; trajectories: finite).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import xarray as xr

from reduced_dynamics.config import check_path, check_type
from reduced_dynamics.errors import FileCheckError, InputError, WriteError
from reduced_dynamics.names import (
    LANDSCAPE_COORD_META,
    LANDSCAPE_DIMS,
    LANDSCAPE_VAR_META,
    PARAMETER_DIMS,
    REQUIRED_LANDSCAPE_VARS,
    STATE_DIMS,
    TRAJECTORY_VARS,
    RunStatus,
    flag_attrs,
    long_name_of,
)

LANDSCAPE_GRIDS = (("w",), ("w", "m"), ("w", "n_train"), ("w", "m", "n_train"))
REQUIRED_ATTRS = (
    "Conventions",
    "title",
    "task",
    "preset",
    "config_json",
    "w0",
    "package_version",
    "torch_version",
    "date_created",
    "history",
)
FILE_KIND_ATTR = "reduced_dynamics_file"
FILE_KINDS = ("landscape", "trajectory", "validation")
"""Values of `FILE_KIND_ATTR`: what the package writes (a validation report:
`reduced_dynamics.validate.write_report`)."""


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reduced-dynamics")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary file beside ``path`` to write to; renamed onto ``path`` when the block
    ends without an exception, removed otherwise.

    The file gets the mode a plain ``open()`` would give (0o666 minus the umask), not the
    0o600 of `tempfile.mkstemp`. An `OSError` (disk full, no permission) becomes a
    `WriteError` saying whether a previous file at ``path`` is intact.
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
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        state = ("the previous file is intact" if os.path.exists(path)
                 else "no file was written")
        raise WriteError(f"could not write {path}: {exc.strerror or exc}; {state}") from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def write_atomic(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` as netCDF to a temporary file beside ``path``, then rename it into place
    (`atomic_path`): readers see the old file or the new one, never a partial one.

    A failure (disk full, no permission) leaves any previous file at ``path`` intact and
    raises `WriteError` saying so.
    """
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
    return Path(path)


def write_figure(fig: Any, path: str | os.PathLike, *, dpi: int = 130) -> Path:
    """Save a matplotlib figure atomically; the format is the suffix of ``path``."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)
    return path


def write_csv(frame: Any, path: str | os.PathLike) -> Path:
    """Write a pandas DataFrame as CSV atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp)
    return Path(path)


def _describe(ds: xr.Dataset) -> str:
    dims = ", ".join(f"{k}={v}" for k, v in ds.sizes.items()) or "none"
    data = ", ".join(sorted(map(str, ds.data_vars))) or "none"
    attrs = ", ".join(sorted(ds.attrs)) or "none"
    return f"The file has dims [{dims}]; variables [{data}]; attributes [{attrs}]."


def read_dataset(path: str | os.PathLike, kind: str) -> xr.Dataset:
    """Open ``path`` fully into memory (the file is closed afterwards)."""
    path = Path(path)
    if not os.path.exists(path):  # os.path: False, not OSError, for an over-long name
        raise FileCheckError(f"{kind} file {path} does not exist")
    if os.path.isdir(path):
        raise FileCheckError(f"{kind} file {path} is a folder, not a netCDF file")
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            return ds.load()
    except Exception as exc:  # netCDF4/HDF5 raise many types for a bad file
        raise FileCheckError(
            f"{kind} file {path} could not be read as netCDF ({type(exc).__name__}: {exc}); "
            "is it a file written by reduced-dynamics?"
        ) from None


def _coordinate_problem(ds: xr.Dataset, name: str) -> str | None:
    values = np.asarray(ds[name].values)
    if values.ndim != 1 or values.size == 0:
        return f"coordinate `{name}` must be a non-empty 1-D array"
    if not np.issubdtype(values.dtype, np.number):
        return f"coordinate `{name}` must be numeric, has dtype {values.dtype}"
    if not np.all(np.isfinite(values)):
        return f"coordinate `{name}` contains NaN or inf"
    if values.size > 1 and not np.all(np.diff(values) > 0):
        return f"coordinate `{name}` must be strictly increasing, got {values.tolist()[:8]}"
    return None


def check_common(
    ds: xr.Dataset,
    path: Path,
    kind: str,
    *,
    required_dims: Iterable[str],
    required_vars: Iterable[str],
    required_attrs: Iterable[str] = REQUIRED_ATTRS,
) -> None:
    """Checks shared by every file kind; raises one `FileCheckError` naming file and problem."""

    def fail(problem: str) -> None:
        raise FileCheckError(f"{kind} file {path}: {problem}. {_describe(ds)}")

    file_kind = ds.attrs.get(FILE_KIND_ATTR)
    if file_kind is not None and file_kind != kind:
        fail(f"this is a {file_kind} file, not a {kind} file")
    for dim in required_dims:
        if dim not in ds.dims:
            fail(f"dimension `{dim}` is missing")
        if dim not in ds.coords:
            fail(f"coordinate `{dim}` is missing")
    for name in list(ds.dims):
        if name in ds.coords:
            problem = _coordinate_problem(ds, name)
            if problem:
                fail(problem)
    for var in required_vars:
        if var not in ds.data_vars:
            fail(f"required variable `{var}` is missing")
    for attr in required_attrs:
        if attr not in ds.attrs:
            fail(f"global attribute `{attr}` is missing")
    if "config_json" in ds.attrs:
        try:
            json.loads(ds.attrs["config_json"])
        except (TypeError, ValueError) as exc:
            fail(f"attribute `config_json` is not valid JSON ({exc})")


def check_landscape(ds: xr.Dataset, path: str | os.PathLike = "<memory>") -> xr.Dataset:
    """Validate a landscape Dataset (see module docstring); returns it unchanged."""
    path = Path(path)
    kind = "landscape"
    has_m = "m" in ds.dims
    required = (*REQUIRED_LANDSCAPE_VARS, "dtrain_dm") if has_m else REQUIRED_LANDSCAPE_VARS
    check_common(ds, path, kind, required_dims=("w",), required_vars=required)

    def fail(problem: str) -> None:
        raise FileCheckError(f"{kind} file {path}: {problem}. {_describe(ds)}")

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
    diverged = _check_status(ds, fail, conv.dims)
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


def _check_status(ds: xr.Dataset, fail: Callable[[str], None], dims: tuple[str, ...]
                  ) -> xr.DataArray | None:
    """Check the ``status`` (`RunStatus` codes) and ``diverged_step`` pair, if present.

    Returns where ``status`` is diverged (None for a file without it)."""
    present = [n for n in ("status", "diverged_step") if n in ds.data_vars]
    if not present:
        return None
    if len(present) == 1:
        fail(f"variable `{present[0]}` is present without "
             f"`{'diverged_step' if present[0] == 'status' else 'status'}`")
    status, step = ds["status"], ds["diverged_step"]
    for var in (status, step):
        if var.dims != tuple(dims):
            fail(f"variable `{var.name}` must have dims {tuple(dims)}, has {var.dims}")
    if not np.issubdtype(status.dtype, np.integer):
        fail(f"variable `status` must be integer codes, has dtype {status.dtype}")
    if not np.issubdtype(step.dtype, np.floating):
        fail(f"variable `diverged_step` must be floating point, has dtype {step.dtype}")
    unknown = sorted(set(np.unique(status.values).tolist()) - {int(c) for c in RunStatus})
    if unknown:
        fail(f"variable `status` has unknown codes {unknown}; known: "
             f"{ {c.name.lower(): int(c) for c in RunStatus} }")
    diverged = status == RunStatus.DIVERGED
    s = step.values
    if np.any(diverged.values & ~(np.isfinite(s) & (s >= 0))):
        fail("variable `diverged_step` must be a step >= 0 where `status` is diverged")
    if np.any(~diverged.values & ~np.isnan(s)):
        fail("variable `diverged_step` must be NaN where `status` is ok")
    return diverged


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


def config_of(ds: xr.Dataset) -> dict:
    """The task and probe configuration stored in ``config_json``."""
    return json.loads(ds.attrs["config_json"])


def task_config_of(ds: xr.Dataset) -> dict | None:
    """The task config inside ``config_json``; None when the file records none (or the
    attribute is not JSON, as in a file not written by reduced-dynamics)."""
    try:
        config = json.loads(ds.attrs.get("config_json", "{}"))
    except (TypeError, ValueError):
        return None
    task = config.get("task") if isinstance(config, dict) else None
    return task if isinstance(task, dict) else None



def provenance_attrs(kind: str, *, title: str, task: str, preset: str, config: dict,
                     w0: float, history: str, torch_version: str) -> dict:
    """The global attributes of SPEC §9 (``REQUIRED_ATTRS``) plus the file kind."""
    return {
        "Conventions": "CF-1.8",
        "title": title,
        "task": task,
        "preset": preset,
        "config_json": json.dumps(config, sort_keys=True),
        "w0": float(w0),
        "package_version": package_version(),
        "torch_version": torch_version,
        "date_created": now_iso(),
        "history": history,
        FILE_KIND_ATTR: kind,
    }


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


RUN_COORDS = ("gamma", "eta_d", "eta_r", "seed", "alpha0", "m0")


def check_trajectories(ds: xr.Dataset, path: str | os.PathLike = "<memory>") -> xr.Dataset:
    """Validate a trajectory file of full training runs (dims ``run`` and ``step``)."""
    path = Path(path)
    kind = "trajectory"
    check_common(ds, path, kind, required_dims=("run", "step"), required_vars=TRAJECTORY_VARS)

    def fail(problem: str) -> None:
        raise FileCheckError(f"{kind} file {path}: {problem}. {_describe(ds)}")

    for name in RUN_COORDS:
        if name not in ds.coords or ds[name].dims != ("run",):
            fail(f"per-run coordinate `{name}` (dim run) is missing")
        if not np.all(np.isfinite(ds[name].values.astype(float))):
            fail(f"per-run coordinate `{name}` contains NaN or inf")
    if np.any(ds["gamma"].values < 0):
        fail("coordinate `gamma` must be >= 0")
    if np.any(ds["step"].values < 0):
        fail("coordinate `step` must be >= 0")
    for var in TRAJECTORY_VARS:
        if not np.issubdtype(ds[var].dtype, np.floating):
            fail(f"variable `{var}` must be floating point, has dtype {ds[var].dtype}")
        want = ("run",) if var.startswith("t_") else ("run", "step")
        if ds[var].dims != want:
            fail(f"variable `{var}` must have dims {want}, has {ds[var].dims}")
    diverged = _check_status(ds, fail, ("run",))
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


# Validation reports (`reduced_dynamics.validate`): what `table` and `info` read.
REQUIRED_VALIDATION_VARS = ("t_overfit_measured", "t_overfit_predicted", "t_grok_measured",
                            "t_grok_predicted", "t_grok_ratio", "path_distance",
                            "plateau_rate", "eta_d_gamma", "max_residual", "status_predicted")
REQUIRED_VALIDATION_ATTRS = ("exponent_measured", "exponent_measured_stderr",
                             "exponent_predicted", "exponent_predicted_stderr")


def check_validation(ds: xr.Dataset, path: str | os.PathLike = "<memory>") -> xr.Dataset:
    """Validate a validation report (``validation.nc`` of `validate.write_report`): dim
    ``run``, the per-run predictions and measurements, the runs' coordinates, the fitted
    exponents; returns it unchanged. Reports written before they carried
    `FILE_KIND_ATTR` pass too."""
    path = Path(path)
    kind = "validation"
    check_common(ds, path, kind, required_dims=("run",), required_vars=REQUIRED_VALIDATION_VARS,
                 required_attrs=REQUIRED_VALIDATION_ATTRS)
    for name in ("gamma", "seed", "alpha0"):
        if name not in ds.coords or ds[name].dims != ("run",):
            raise FileCheckError(f"{kind} file {path}: per-run coordinate `{name}` (dim run) "
                                 f"is missing. {_describe(ds)}")
    for var in REQUIRED_VALIDATION_VARS:
        if ds[var].dims != ("run",):
            raise FileCheckError(f"{kind} file {path}: variable `{var}` must have dims "
                                 f"('run',), has {ds[var].dims}. {_describe(ds)}")
    return ds


def open_validation(path: str | os.PathLike) -> xr.Dataset:
    """Open and check a validation report (``validation.nc``)."""
    return check_validation(read_dataset(path, "validation"), path)


def file_kind_of(ds: xr.Dataset, path: str | os.PathLike = "<memory>") -> str:
    """What a file of ours is, one of `FILE_KINDS`: its `FILE_KIND_ATTR`, else (a file
    written before it carried one) told by its contents: ``t_grok_predicted`` a validation
    report, dims ``run`` and ``step`` a trajectory file, dim ``w`` or a landscape variable
    a landscape. `FileCheckError` saying what it is not for anything else."""
    kind = ds.attrs.get(FILE_KIND_ATTR)
    if kind is not None:
        if kind in FILE_KINDS:
            return str(kind)
        raise FileCheckError(f"file {path}: its `{FILE_KIND_ATTR}` attribute is {kind!r}, "
                             f"not a kind reduced-dynamics writes {list(FILE_KINDS)}. "
                             f"{_describe(ds)}")
    if "t_grok_predicted" in ds.data_vars:
        return "validation"
    if {"run", "step"} <= set(ds.dims):
        return "trajectory"
    if "w" in ds.dims or set(REQUIRED_LANDSCAPE_VARS) & set(map(str, ds.data_vars)):
        return "landscape"
    if "member" in ds.dims and "chunk" in ds.attrs:
        what = (f"a part file (chunk {ds.attrs['chunk']}) of an unfinished probe or train "
                "sweep, not a landscape, trajectory file or validation report: the command "
                "that wrote it merges its parts into its output (rerun it with --resume)")
    else:
        what = ("not a landscape (no dim `w`), a trajectory file (no dims `run` and `step`) "
                "nor a validation report (no variable `t_grok_predicted`) of "
                f"reduced-dynamics, and has no `{FILE_KIND_ATTR}` attribute naming a kind")
    raise FileCheckError(f"file {path} is {what}. {_describe(ds)}")
