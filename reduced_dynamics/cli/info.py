"""A text summary of a landscape or trajectory file (`reduced-dynamics info`)."""

from __future__ import annotations

import os

import numpy as np
import xarray as xr

from reduced_dynamics.engine.thresholds import describe_grok, grok_threshold_of, grok_times
from reduced_dynamics.io.files import (
    FILE_KIND_ATTR,
    check_landscape,
    check_trajectories,
    config_of,
    read_dataset,
)
from reduced_dynamics.names import RunStatus

MAX_RUN_ROWS = 24  # runs listed one per line; the rest are counted


def summarize_file(path: str | os.PathLike) -> str:
    """Open ``path`` as the kind it says it is (its ``reduced_dynamics_file`` attribute:
    landscape or trajectory; landscape when absent), check it, and summarise it."""
    ds = read_dataset(path, "landscape")  # the kind named when it cannot be read
    kind = ds.attrs.get(FILE_KIND_ATTR, "landscape")
    if kind == "trajectory":
        return summarize_trajectories(check_trajectories(ds, path), str(path))
    return summarize(check_landscape(ds, path), str(path))


def _header(ds: xr.Dataset, what: str, path: str) -> list[str]:
    return [f"{what} {path}".rstrip(),
            f"  task: {ds.attrs.get('task')}  preset: {ds.attrs.get('preset')}  "
            f"w0: {float(ds.attrs.get('w0', np.nan)):.6g}",
            f"  created: {ds.attrs.get('date_created')}  package {ds.attrs.get('package_version')}"
            f"  torch {ds.attrs.get('torch_version')}"]


def _fmt(v: float) -> str:
    return "-" if not np.isfinite(v) else f"{v:.4g}"


def summarize_trajectories(ds: xr.Dataset, path: str = "") -> str:
    """Runs (γ, seed, start, learning rates), steps, and per run the measured t_overfit,
    t_grok and the final losses and accuracies."""
    step = ds["step"].values
    lines = _header(ds, "trajectories", path)
    lines.append(f"  runs: {ds.sizes['run']}  logged steps: {step.size}, {step[0]} .. "
                 f"{step[-1]}")
    train = config_of(ds).get("train")
    if isinstance(train, dict):
        shown = ", ".join(f"{k} {train[k]}" for k in ("steps", "eta_d", "eta_r", "n_log")
                          if k in train)
        lines.append(f"  train: {shown}")
    if "n_train" in ds.coords:
        lines.append(f"  n_train: {np.unique(ds['n_train'].values).tolist()}")
    value, on, _ = grok_threshold_of(ds)
    t_grok = grok_times(step, ds["test_acc"].values, ds["test_loss"].values, value, on)
    grokked = int(np.isfinite(t_grok).sum())
    lines.append(f"  grokked ({describe_grok(value, on)}): {grokked} of {ds.sizes['run']} "
                 "runs")
    diverged = (ds["status"].values == RunStatus.DIVERGED if "status" in ds.data_vars
                else np.zeros(ds.sizes["run"], bool))
    if diverged.any():
        lines.append(f"  diverged: {int(diverged.sum())} of {ds.sizes['run']} runs (values NaN "
                     "from their diverged_step on; marked below)")
    head = ("gamma", "seed", "alpha0", "m0", "eta_d", "t_overfit", "t_grok", "train_loss",
            "test_acc")
    lines.append("  " + "".join(f"{h:>11}" for h in head))
    for r in range(min(ds.sizes["run"], MAX_RUN_ROWS)):
        x = ds.isel(run=r)
        values = (float(x["gamma"]), int(x["seed"]), float(x["alpha0"]), float(x["m0"]),
                  float(x["eta_d"]), float(x["t_overfit"]), float(t_grok[r]),
                  float(x["train_loss"][-1]), float(x["test_acc"][-1]))
        mark = ""
        if diverged[r]:
            step_d = float(x["diverged_step"]) if "diverged_step" in x else float("nan")
            mark = "  diverged" + (f" at step {step_d:.0f}" if np.isfinite(step_d) else "")
        lines.append("  " + "".join(f"{v:>11d}" if isinstance(v, int) else f"{_fmt(v):>11}"
                                    for v in values) + mark)
    if ds.sizes["run"] > MAX_RUN_ROWS:
        lines.append(f"  ... and {ds.sizes['run'] - MAX_RUN_ROWS} more run(s)")
    lines.append("  (train_loss and test_acc at the last logged step)")
    return "\n".join(lines)


def summarize(ds: xr.Dataset, path: str = "") -> str:
    """Task, grid, ranges of each variable, and the unconverged points."""
    lines = _header(ds, "landscape", path)
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
