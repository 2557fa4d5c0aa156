"""The phase-diagram file (SPEC §15, `reduced_dynamics.phases`; ``phases -o OUT.nc``): one
Dataset per file, written atomically, checked on open.

Layout: two dims named after the grid parameters (two of `names.PHASE_AXES`, strictly
increasing coordinates); ``phase`` (int8 `names.Phase` codes with CF ``flag_values`` and
``flag_meanings``), ``t_train`` and ``t_test`` (steps; NaN: not within T) over them; a
predicted diagram also ``path_status`` (`names.PathStatus` codes), a measured one
``phase_count`` (runs per cell and phase, dim ``outcome``). Global attributes
`REQUIRED_PHASES_ATTRS`, the source in ``landscape_source`` (predicted) or ``runs_source``
(measured) and in ``history``.
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
from reduced_dynamics.names import PHASE_AXES, PHASE_DIAGRAMS, PHASE_NAMES, Phase

REQUIRED_PHASES_VARS = ("phase", "t_train", "t_test")
REQUIRED_PHASES_ATTRS = ("Conventions", "title", "task", "preset", "diagram", "T", "tau",
                         "train_threshold", "test_threshold", "test_on", "package_version",
                         "date_created", "history")
SOURCE_ATTR = {"predicted": "landscape_source", "measured": "runs_source"}


def check_phases(ds: xr.Dataset, path: str | os.PathLike = "<memory>") -> xr.Dataset:
    """Validate a phase-diagram Dataset (module docstring); returns it unchanged."""
    path = Path(path)
    kind = "phases"

    def fail(problem: str) -> None:
        raise FileCheckError(f"{kind} file {path}: {problem}. {describe(ds)}")

    found = ds.attrs.get(FILE_KIND_ATTR)
    if found is not None and found != kind:
        fail(f"this is a {found} file, not a {kind} file")
    if "phase" not in ds.data_vars:
        fail("required variable `phase` is missing")
    dims = tuple(str(d) for d in ds["phase"].dims)
    if len(dims) != 2 or any(d not in PHASE_AXES for d in dims):
        fail(f"variable `phase` must have two dims among {list(PHASE_AXES)} (the grid "
             f"axes), has {dims}")
    check_common(ds, path, kind, required_dims=dims, required_vars=REQUIRED_PHASES_VARS,
                 required_attrs=REQUIRED_PHASES_ATTRS)
    diagram = ds.attrs["diagram"]
    if diagram not in PHASE_DIAGRAMS:
        fail(f"attribute `diagram` must be one of {list(PHASE_DIAGRAMS)}, got {diagram!r}")
    if SOURCE_ATTR[diagram] not in ds.attrs:
        fail(f"global attribute `{SOURCE_ATTR[diagram]}` (the {diagram} diagram's source) "
             "is missing")
    for name in REQUIRED_PHASES_VARS:
        if tuple(ds[name].dims) != dims:
            fail(f"variable `{name}` must have dims {dims}, has {ds[name].dims}")
    phase = ds["phase"]
    if not np.issubdtype(phase.dtype, np.integer):
        fail(f"variable `phase` must be integer codes, has dtype {phase.dtype}")
    unknown = sorted(set(np.unique(phase.values).tolist()) - {int(p) for p in Phase})
    if unknown:
        fail(f"variable `phase` has unknown codes {unknown}; known: "
             f"{ {n: int(p) for n, p in zip(PHASE_NAMES, Phase)} }")
    if str(phase.attrs.get("flag_meanings", "")) != " ".join(PHASE_NAMES):
        fail(f"variable `phase` must carry flag_meanings {' '.join(PHASE_NAMES)!r}, has "
             f"{phase.attrs.get('flag_meanings')!r}")
    for name in ("t_train", "t_test"):
        t = ds[name].values
        if not np.issubdtype(t.dtype, np.floating):
            fail(f"variable `{name}` must be floating point, has dtype {t.dtype}")
        with np.errstate(invalid="ignore"):
            bad = np.isfinite(t) & ((t < 0) | (t > float(ds.attrs["T"])))
        if bad.any() or np.isinf(t).any():
            fail(f"variable `{name}` must be a step in [0, T = {float(ds.attrs['T']):g}] or NaN "
                 "(not within T)")
    if diagram == "predicted":  # one path per cell: the phase is the rule of its times
        from reduced_dynamics.phases import classify

        want = classify(ds["t_train"].values, ds["t_test"].values, float(ds.attrs["T"]),
                        float(ds.attrs["tau"]))
        if not np.array_equal(want, phase.values):
            n = int((want != phase.values).sum())
            fail(f"variable `phase` disagrees with the rule (SPEC 15) on t_train, t_test at "
                 f"{n} cell(s)")
    if "phase_count" in ds.data_vars:
        count = ds["phase_count"]
        if tuple(count.dims) != (*dims, "outcome") or count.sizes["outcome"] != len(Phase):
            fail(f"variable `phase_count` must have dims {(*dims, 'outcome')} with outcome = "
                 f"{len(Phase)}, has {dict(count.sizes)}")
        if np.any(count.values < 0) or np.any(count.values.sum(axis=-1) < 1):
            fail("variable `phase_count` must count >= 1 run per cell, none negative")
    return ds


def open_phases(path: str | os.PathLike) -> xr.Dataset:
    """Open and check a phase-diagram file; the one entry point for reading them."""
    check_path("path", path, "phase-diagram file")
    return check_phases(read_dataset(path, "phases"), path)


def save_phases(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Check ``ds`` as a phase-diagram file and write it atomically to ``path``."""
    check_type("ds", ds, xr.Dataset, "an xarray.Dataset (`predicted_phases`' or "
               "`measured_phases`' result)")
    check_path("path", path, "phase-diagram file to write")
    ds = ds.copy()
    ds.attrs[FILE_KIND_ATTR] = "phases"
    check_phases(ds, path)
    return write_atomic(ds, path)
