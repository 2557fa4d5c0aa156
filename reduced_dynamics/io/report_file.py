"""The validation report (``validation.nc`` of `reduced_dynamics.validate.write_report`): what
`validate.table` and ``info`` read, checked on open."""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from reduced_dynamics.errors import FileCheckError
from reduced_dynamics.io.schema import check_common, describe, read_dataset

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
                                 f"is missing. {describe(ds)}")
    for var in REQUIRED_VALIDATION_VARS:
        if ds[var].dims != ("run",):
            raise FileCheckError(f"{kind} file {path}: variable `{var}` must have dims "
                                 f"('run',), has {ds[var].dims}. {describe(ds)}")
    return ds


def open_validation(path: str | os.PathLike) -> xr.Dataset:
    """Open and check a validation report (``validation.nc``)."""
    return check_validation(read_dataset(path, "validation"), path)
