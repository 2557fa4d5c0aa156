"""A predicted against a measured phase diagram (SPEC §15) on the same grid: the fraction of
cells that agree and the 4 × 4 confusion table (`compare_phases`), and the arguments that
predict a measured sweep on its own grid and values (`prediction_arguments`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from reduced_dynamics.errors import InputError, bad_value
from reduced_dynamics.names import PHASE_NAMES, Phase
from reduced_dynamics.phases.rule import thresholds_of

GRID_RTOL = 1e-9
"""Relative tolerance within which two diagrams' grid values are the same (a grid parsed
from ``log:1e-4:1e-2:11`` and one stored as 10**linspace(-4, -2, 11) differ in the last
bits)."""


def same_grid(a: xr.Dataset, b: xr.Dataset) -> bool:
    """Whether two diagrams have the same two axes (in any order) and values (within
    `GRID_RTOL`)."""
    da, db = [str(d) for d in a["phase"].dims], [str(d) for d in b["phase"].dims]
    if set(da) != set(db):
        return False
    return all(a[k].size == b[k].size and np.allclose(a[k].values.astype(float),
                                                      b[k].values.astype(float),
                                                      rtol=GRID_RTOL, atol=0.0)
               for k in da)


def compare_phases(pred: xr.Dataset, meas: xr.Dataset) -> xr.Dataset:
    """``pred`` (predicted) against ``meas`` (measured) on the same grid: ``agreement``,
    the fraction of cells with the same phase; ``confusion`` (measured x predicted, 4 x 4
    counts of cells, `names.Phase` order); ``agrees`` per cell. Refuses diagrams of
    different grids, T, τ or thresholds (`InputError` naming ``meas``)."""
    for name, ds in (("pred", pred), ("meas", meas)):
        if not (isinstance(ds, xr.Dataset) and "phase" in ds.data_vars
                and ds["phase"].ndim == 2):
            raise bad_value(name, type(ds).__name__, "a phase diagram Dataset "
                            "(`predicted_phases`, `measured_phases` or `open_phases`)")
    if not same_grid(pred, meas):
        raise InputError("`meas`: its grid differs from `pred`'s: "
                         f"{_grid_text(meas)} against {_grid_text(pred)}; classify both on one "
                         "grid (predict on the runs' grid)")
    for key in ("T", "tau", "train_threshold", "test_threshold", "test_on"):
        if pred.attrs.get(key) != meas.attrs.get(key):
            raise InputError(f"`meas`: its rule's `{key}` = {meas.attrs.get(key)!r} differs "
                             f"from `pred`'s {pred.attrs.get(key)!r}; classify both with the "
                             "same T, tau and thresholds")
    dims = pred["phase"].dims
    p = pred["phase"].values
    m = meas["phase"].transpose(*dims).values
    table = np.zeros((len(Phase), len(Phase)), np.int64)
    np.add.at(table, (m.ravel().astype(np.int64), p.ravel().astype(np.int64)), 1)
    agrees = p == m
    coords = {k: pred[k] for k in dims}
    return xr.Dataset(
        {"agreement": ((), float(agrees.mean()), {"long_name": "fraction of cells whose "
                                                  "predicted and measured phases agree"}),
         "confusion": (("measured", "predicted"), table,
                       {"long_name": "cells per (measured, predicted) phase"}),
         "agrees": (dims, agrees, {"long_name": "predicted phase equals measured phase"})},
        coords={**coords, "measured": list(PHASE_NAMES), "predicted": list(PHASE_NAMES)},
        attrs={"T": pred.attrs.get("T"), "tau": pred.attrs.get("tau"),
               "predicted_source": pred.attrs.get("landscape_source", ""),
               "measured_source": meas.attrs.get("runs_source", "")})


def _grid_text(ds: xr.Dataset) -> str:
    parts = []
    for k in ds["phase"].dims:
        v = ds[k].values.astype(float)
        parts.append(f"{k} = {v.size} values from {v[0]:g} to {v[-1]:g}")
        if not (np.all(np.isfinite(v))):
            break
    return " x ".join(parts)


def prediction_arguments(meas: xr.Dataset) -> dict:
    """The `predicted_phases` keyword arguments that predict the runs of a measured diagram
    on their own grid: ``grid``, T, τ, the thresholds and the runs' values of what is not
    on the grid (eta_d, gamma, eta_r as the ODE's η_R, start, n_train)."""
    axes = {str(k): meas[k].values for k in meas["phase"].dims}
    a = meas.attrs
    out: dict = {"grid": axes, "T": float(a["T"]), "tau": float(a["tau"]),
                 "thresholds": thresholds_of(meas)}
    for k in ("eta_d", "gamma", "eta_r"):
        if k in a:
            out[k] = float(a[k])
    if "n_train" in a:
        out["n_train"] = int(a["n_train"])
    if "alpha0" in a or "m0" in a:
        out["start"] = (float(a.get("alpha0", float("nan"))), float(a.get("m0", 0.0)))
    return out
