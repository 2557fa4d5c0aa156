"""The data-size file (Fig. 6e, `reduced_dynamics.datasize`; ``datasize -o OUT.nc``): one
Dataset per file, written atomically, checked on open.

Layout: dims ``n_train`` (the training-set sizes analysed), ``gamma`` (the weight decays),
``point`` (A–E) and the padded point dims of `names.DATASIZE_POINT_DIMS` (a contour's lines
joined with one NaN row between them, NaN-padded to the longest N); the variables of
`names.DATASIZE_VAR_META`; global attributes `REQUIRED_DATASIZE_ATTRS`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_path, check_type
from reduced_dynamics.errors import FileCheckError
from reduced_dynamics.io.atomic import write_atomic
from reduced_dynamics.io.schema import FILE_KIND_ATTR, check_common, describe, read_dataset
from reduced_dynamics.names import (
    ANCHOR_FROM,
    DATASIZE_POINT_DIMS,
    REQUIRED_DATASIZE_VARS,
    SLIDE_ENDS,
)

REQUIRED_DATASIZE_ATTRS = ("Conventions", "title", "task", "w0", "landscape_source",
                           "theta_train", "grok_on", "grok_threshold", "start_alpha",
                           "start_m", "eta_d", "eta_r", "path_gamma", "package_version",
                           "date_created", "history")

PER_N = ("connects", "connect_alpha", "connect_m", "anchor_alpha", "anchor_m", "anchor_from",
         "slide_end", "slide_end_alpha", "slide_end_m", "slide_theta", "star_alpha",
         "star_m",
         "star_test_loss", "star_test_acc", "best_test", "region_fraction", "never_grok",
         "agrees")
"""The variables over ``n_train`` alone; the rest are over (n_train, gamma[, point]), gamma
or (n_train, a point dim)."""


def _dims_of(name: str) -> tuple[str, ...]:
    if name in PER_N:
        return ("n_train",)
    if name == "t_grok_ratio":
        return ("gamma",)
    if name in ("alpha_point", "m_point"):
        return ("n_train", "gamma", "point")
    for kind, dim in DATASIZE_POINT_DIMS.items():
        if name.startswith(kind + "_"):
            return ("n_train", dim)
    return ("n_train", "gamma")


def check_datasize(ds: xr.Dataset, path: str | os.PathLike = "<memory>") -> xr.Dataset:
    """Validate a data-size Dataset (module docstring); returns it unchanged."""
    path = Path(path)
    kind = "datasize"
    check_common(ds, path, kind, required_dims=("n_train", "gamma"),
                 required_vars=REQUIRED_DATASIZE_VARS, required_attrs=REQUIRED_DATASIZE_ATTRS)

    def fail(problem: str) -> None:
        raise FileCheckError(f"{kind} file {path}: {problem}. {describe(ds)}")

    for name in REQUIRED_DATASIZE_VARS:
        want = _dims_of(name)
        if ds[name].dims != want:
            fail(f"variable `{name}` must have dims {want}, has {ds[name].dims}")
    for name in ("connects", "never_grok", "agrees"):
        if ds[name].dtype != bool:
            fail(f"variable `{name}` must be boolean, has dtype {ds[name].dtype}")
    for name, allowed in (("slide_end", SLIDE_ENDS), ("anchor_from", ANCHOR_FROM)):
        unknown = sorted(set(map(str, ds[name].values)) - set(allowed))
        if unknown:
            fail(f"variable `{name}` has unknown values {unknown}; known: {list(allowed)}")
    n = np.asarray(ds["n_train"].values)
    if not np.issubdtype(n.dtype, np.number) or np.any(n < 1) or np.any(n != np.round(n)):
        fail(f"coordinate `n_train` must hold training-set sizes, integers >= 1, got "
             f"{n.tolist()[:8]}")
    for kind_name in DATASIZE_POINT_DIMS:
        a, m = ds[f"{kind_name}_alpha"].values, ds[f"{kind_name}_m"].values
        if not np.array_equal(np.isnan(a), np.isnan(m)):
            fail(f"variables `{kind_name}_alpha` and `{kind_name}_m` must be NaN at the same "
                 "points (line breaks and padding)")
    return ds


def open_datasize(path: str | os.PathLike) -> xr.Dataset:
    """Open and check a data-size file; the one entry point for reading them."""
    check_path("path", path, "data-size file")
    return check_datasize(read_dataset(path, "datasize"), path)


def save_datasize(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Check ``ds`` as a data-size file and write it atomically to ``path``."""
    check_type("ds", ds, xr.Dataset, "an xarray.Dataset (`data_size_dependence`'s result)")
    check_path("path", path, "data-size file to write")
    ds = ds.copy()
    ds.attrs[FILE_KIND_ATTR] = "datasize"
    check_datasize(ds, path)
    return write_atomic(ds, path)
