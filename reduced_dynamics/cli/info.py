"""A text summary of a landscape file (`reduced-dynamics info`)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from reduced_dynamics.io.files import config_of
from reduced_dynamics.names import RunStatus


def summarize(ds: xr.Dataset, path: str = "") -> str:
    """Task, grid, ranges of each variable, and the unconverged points."""
    lines = [f"landscape {path}".rstrip(),
             f"  task: {ds.attrs.get('task')}  preset: {ds.attrs.get('preset')}  "
             f"w0: {float(ds.attrs.get('w0', np.nan)):.6g}",
             f"  created: {ds.attrs.get('date_created')}  package {ds.attrs.get('package_version')}"
             f"  torch {ds.attrs.get('torch_version')}"]
    alpha = ds["alpha"].values
    lines.append(f"  w: {ds.sizes['w']} values, {ds['w'].values[0]:.4g} .. {ds['w'].values[-1]:.4g}"
                 f" (alpha {alpha[0]:.3g} .. {alpha[-1]:.3g})")
    if "m" in ds.dims:
        m = ds["m"].values
        lines.append(f"  m: {m.size} values, {m[0]:.3g} .. {m[-1]:.3g}")
    if "seed" in ds.dims:
        lines.append(f"  seed: {ds['seed'].values.tolist()} (restarts)")
    if "n_train" in ds.dims:
        lines.append(f"  n_train: {ds['n_train'].values.tolist()} (parameter axis: "
                     "training-set sizes, selected before integrating)")
    probe = config_of(ds).get("probe")
    if probe:
        lines.append(f"  probe: {probe.get('steps')} steps, lr {probe.get('lr')} "
                     f"({probe.get('schedule', 'constant')}, scaling {probe.get('lr_scaling')})")
    lines.append("  variables (min .. max over the grid):")
    for name in ds.data_vars:
        if name.endswith("_by_seed") or name in ("status", "diverged_step"):
            continue  # status: its own line below
        values = ds[name].values.astype(float)
        finite = values[np.isfinite(values)]
        rng = f"{finite.min():.4g} .. {finite.max():.4g}" if finite.size else "no finite value"
        lines.append(f"    {name:<20s} {rng}")
    conv = ds["converged"].values
    bad = np.argwhere(~conv)
    lines.append(f"  unconverged: {len(bad)} of {conv.size} points")
    if len(bad):
        shown = []
        for idx in bad[:12]:
            point = {d: ds[d].values[i] for d, i in zip(ds["converged"].dims, idx)}
            text = f"alpha={point['w'] / float(ds.attrs['w0']):.3g}"
            if "m" in point:
                text += f" m={point['m']:.3g}"
            if "n_train" in point:
                text += f" N={int(point['n_train'])}"
            shown.append(text)
        more = f" ... and {len(bad) - 12} more" if len(bad) > 12 else ""
        lines.append("    " + "; ".join(shown) + more)
    if "n_train" in ds.dims:
        from reduced_dynamics.engine.parameters import critical_n_train

        crit = critical_n_train(ds)
        lines.append("  " + crit.describe())
        best = ", ".join(f"{n}: {b:.3g}" for n, b in zip(crit.n_values, crit.best))
        lines.append(f"    best test_{crit.on} over the state grid per N: {best}")
    if "status" in ds.data_vars:
        lines.append(f"  diverged (NaN, among the unconverged): "
                     f"{int((ds['status'].values == RunStatus.DIVERGED).sum())} of "
                     f"{conv.size} points")
    return "\n".join(lines)
