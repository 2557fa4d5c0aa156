"""The measured phase diagram (SPEC §15) of a trajectory file of a batched grid sweep: the
runs whose per-run coordinates form the full grid of two parameters; t_train, t_test = the
first logged steps at the thresholds (`engine.thresholds`), classified by `rule.classify`.

Several runs per cell (seeds): the cell's phase is the most common one among its runs (a
tie goes to the phase listed first in `names.Phase`), ``phase_count`` holds how many runs
fell in each phase, and t_train, t_test are the medians over the runs (a time not within T
counts as later than any: the median is NaN when half or more of the runs did not get
there).
"""

from __future__ import annotations

import math
import os

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_type
from reduced_dynamics.engine.thresholds import first_crossing, grok_times
from reduced_dynamics.errors import InputError, bad_value
from reduced_dynamics.io.schema import now_iso
from reduced_dynamics.names import (
    PHASE_AXES,
    PHASE_NAMES,
    PHASE_T,
    PHASE_TAU,
    PHASE_VAR_META,
    Phase,
    RunStatus,
)
from reduced_dynamics.phases.rule import (
    PhaseThresholds,
    check_budget,
    classify,
    phase_dataset,
    within,
)


def run_axes(runs: xr.Dataset) -> list[str]:
    """The grid axes of a batched sweep: the per-run coordinates among `PHASE_AXES` that
    take more than one value, in `PHASE_AXES` order."""
    return [k for k in PHASE_AXES if k in runs.coords and runs[k].dims == ("run",)
            and np.unique(runs[k].values).size > 1]


def measured_phases(
    runs: xr.Dataset | str | os.PathLike,
    *,
    T: float = PHASE_T,
    tau: float = PHASE_TAU,
    axes: tuple[str, str] | list[str] | None = None,
    thresholds: PhaseThresholds | None = None,
    source: str | None = None,
) -> xr.Dataset:
    """The measured phase diagram (SPEC §15) of a trajectory file of a batched grid sweep.

    ``axes``: the two per-run coordinates that make the grid (default: those among
    eta_d, gamma, alpha0, m0, n_train with more than one value, `run_axes`); every
    combination of their values must have at least one run, and every other per-run
    coordinate but ``seed`` one value (`InputError` naming ``runs`` otherwise). The runs
    must be logged up to step T. ``thresholds``: default the runs' task's
    (`PhaseThresholds.of`). Several runs per cell: majority phase, ``phase_count``, median
    times (module docstring). A diverged run is classified by the steps it logged before
    diverging. Returns the Dataset of `io.phases_file`.
    """
    from reduced_dynamics.io.trajectory_file import open_trajectories

    check_type("runs", runs, (xr.Dataset, str, os.PathLike), "an xarray.Dataset (a "
               "trajectory file's, `open_trajectories`) or the path of a trajectory file")
    T, tau = check_budget(T, tau)
    if axes is not None and (not isinstance(axes, (tuple, list)) or len(axes) != 2
                             or not all(isinstance(a, str) and a in PHASE_AXES for a in axes)
                             or axes[0] == axes[1]):
        raise bad_value("axes", axes, f"two different names among {list(PHASE_AXES)}, or None")
    check_type("thresholds", thresholds, PhaseThresholds, "a PhaseThresholds or None",
               optional=True)
    check_type("source", source, str, "a str (the name shown in messages) or None",
               optional=True)
    if isinstance(runs, xr.Dataset):
        ds, source = runs, source or "<Dataset>"
    else:
        ds, source = open_trajectories(runs), source or str(runs)
    names = _grid_axes(ds, axes, source)
    rest = [k for k in (*PHASE_AXES, "eta_r") if k not in names and k in ds.coords
            and ds[k].dims == ("run",)]
    for k in rest:
        vals = np.unique(ds[k].values)
        if vals.size > 1:
            raise InputError(f"`runs` {source}: the per-run coordinate `{k}` takes "
                             f"{vals.size} values ({_few(vals)}) besides the grid axes "
                             f"{names}; a phase diagram is over two axes: select the runs of "
                             f"one {k} (e.g. runs.where(runs.{k} == {vals[0]:g}, drop=True))")
    grid = {k: np.unique(ds[k].values) for k in names}
    if "n_train" in grid:
        grid["n_train"] = grid["n_train"].astype(np.int64)
    step = ds["step"].values
    if float(step.max()) < T:
        raise InputError(f"`T` = {T:g}: the runs of {source} are logged up to step "
                         f"{float(step.max()):g} only, so whether they fit or generalise "
                         f"by step T is not known; pass T <= {float(step.max()):g}")
    thresholds = thresholds or PhaseThresholds.of(ds)
    t_train = within(first_crossing(step, ds["train_acc"].values, thresholds.train_acc), T)
    t_test = within(grok_times(step, ds["test_acc"].values, ds["test_loss"].values,
                                thresholds.test, thresholds.test_on), T)
    per_run = classify(t_train, t_test, T, tau)
    shape = tuple(v.size for v in grid.values())
    idx = [np.searchsorted(grid[k], ds[k].values) for k in names]
    cell = np.ravel_multi_index(idx, shape)
    n_cells = math.prod(shape)
    counts = np.zeros((n_cells, len(Phase)), np.int64)
    np.add.at(counts, (cell, per_run.astype(np.int64)), 1)
    empty = np.flatnonzero(counts.sum(axis=1) == 0)
    if empty.size:
        missing = [tuple(float(grid[k][i]) for k, i in zip(names, np.unravel_index(c, shape)))
                   for c in empty[:4]]
        raise InputError(f"`runs` {source}: the runs do not form a full grid of {names[0]} x "
                         f"{names[1]} ({shape[0]} x {shape[1]} values): {empty.size} cell(s) "
                         f"have no run, e.g. {names[0]}, {names[1]} = {missing}; train the "
                         "missing runs or pass a complete sweep")
    phase = np.argmax(counts, axis=1).astype(np.int8)  # ties: the first Phase listed
    med_train = _median_by_cell(t_train, cell, n_cells)
    med_test = _median_by_cell(t_test, cell, n_cells)
    n_runs = counts.sum(axis=1)
    attrs = {"diagram": "measured", "title": f"measured phase diagram (SPEC 15) of {source}",
             "runs_source": source, "runs": int(ds.sizes["run"]),
             "runs_per_cell_min": int(n_runs.min()), "runs_per_cell_max": int(n_runs.max()),
             "seeds": "majority phase per cell (ties: the first of " + ", ".join(PHASE_NAMES)
                      + "); t_train, t_test: medians over the cell's runs",
             "history": f"{now_iso()} reduced_dynamics.phases.measured_phases({source!r})"}
    if "status" in ds.data_vars:
        attrs["diverged_runs"] = int((ds["status"].values == RunStatus.DIVERGED).sum())
    for k in rest:
        v = np.asarray(ds[k].values)[0]
        attrs[k] = int(v) if k == "n_train" else float(v)
    if "eta_r" in attrs:  # the ODE's η_R for the runs' optimiser (SPEC 13)
        divisor, conversion = _eta_r_divisor(ds)
        attrs["eta_r"] = attrs["eta_r"] / divisor
        attrs["eta_r_conversion"] = conversion
    if "w0" in ds.attrs:
        attrs["w0"] = float(ds.attrs["w0"])
    out = phase_dataset(grid, med_train.reshape(shape), med_test.reshape(shape), T=T,
                        tau=tau, thresholds=thresholds, task=ds.attrs, attrs=attrs,
                        phase=phase.reshape(shape))
    out["phase_count"] = ((*names, "outcome"), counts.reshape(*shape, len(Phase)),
                          {"long_name": PHASE_VAR_META["phase_count"][0], "units": "1",
                           "outcome": " ".join(PHASE_NAMES)})
    return out


def _eta_r_divisor(ds: xr.Dataset) -> tuple[float, str]:
    """The runs' η_r conversion to the ODE's η_R (SPEC 13; `validate`'s rule)."""
    from reduced_dynamics.validate import _run_conversion

    divisor, conversion, _ = _run_conversion(ds)
    return divisor, conversion


def _grid_axes(ds: xr.Dataset, axes: object, source: str) -> list[str]:
    """The two grid axes of the runs (given, or found: `run_axes`)."""
    if axes is None:
        found = run_axes(ds)
        if len(found) != 2:
            raise InputError(f"`runs` {source}: the per-run coordinates that vary are "
                             f"{found or 'none'}; a phase diagram needs exactly two of "
                             f"{list(PHASE_AXES)}: pass `axes` (CLI: the grid options) or "
                             "runs of a two-axis sweep")
        return found
    for a in axes:  # type: ignore[union-attr]
        if a not in ds.coords or ds[a].dims != ("run",):
            raise InputError(f"`axes`: the runs of {source} have no per-run coordinate "
                             f"`{a}`; they have "
                             f"{[k for k in ds.coords if ds[k].dims == ('run',)]}")
    return list(axes)  # type: ignore[arg-type]


def _few(values: np.ndarray) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:5])
    return shown + (", ..." if values.size > 5 else "")


def _median_by_cell(t: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """Per cell, the median of its runs' times, NaN (not within T) counted as +inf; a
    median that is +inf is NaN."""
    out = np.full(n_cells, np.nan)
    t = np.where(np.isfinite(t), t, np.inf)
    for c in range(n_cells):
        sel = t[cell == c]
        if sel.size:
            with np.errstate(invalid="ignore"):  # inf - inf in the mean of two
                med = float(np.median(sel))
            out[c] = med if np.isfinite(med) else np.nan
    return out


