"""A summary of any file the package writes (`reduced-dynamics info [--json]`): a landscape,
a trajectory file, a validation report, a data-size file or a phase-diagram file.

Each kind has a record (`landscape_record`, `trajectory_record`, `validation_record`,
`datasize_info_record`, `phases_info_record`): a dict of plain values, printed as JSON by
``--json``; the text summaries are written from the same records.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr

from reduced_dynamics.cli.format import number, value_text
from reduced_dynamics.engine.thresholds import describe_grok, grok_threshold_of, grok_times
from reduced_dynamics.io.datasize_file import check_datasize
from reduced_dynamics.io.landscape_file import check_landscape
from reduced_dynamics.io.phases_file import check_phases
from reduced_dynamics.io.report_file import check_validation
from reduced_dynamics.io.schema import config_of, file_kind_of, read_dataset
from reduced_dynamics.io.trajectory_file import check_trajectories
from reduced_dynamics.names import NOT_APPLICABLE, RunStatus

MAX_RUN_ROWS = 24  # runs listed one per line in the text; the rest are counted
RUN_COLUMNS = ("gamma", "seed", "n_train", "alpha0", "m0", "eta_d", "eta_r")
"""Per-run coordinates, in the order of the columns (those that differ between runs)."""
COLUMN_NAMES = {"n_train": "N"}


def open_any(path: str | os.PathLike) -> tuple[str, xr.Dataset]:
    """(kind, checked Dataset) of a file the package wrote (`io.schema.file_kind_of`)."""
    ds = read_dataset(path, "input")  # the name used when it cannot be read
    kind = file_kind_of(ds, path)
    check = {"landscape": check_landscape, "trajectory": check_trajectories,
             "validation": check_validation, "datasize": check_datasize,
             "phases": check_phases}[kind]
    return kind, check(ds, path)


def record_of(path: str | os.PathLike) -> dict[str, Any]:
    """The record of the file at ``path``, whatever its kind (what ``info --json`` prints)."""
    kind, ds = open_any(path)
    return RECORDS[kind](ds, str(path))


def summarize_file(path: str | os.PathLike) -> str:
    """Open ``path`` as the kind it is (`open_any`), check it, and summarise it."""
    kind, ds = open_any(path)
    return {"landscape": summarize, "trajectory": summarize_trajectories,
            "validation": summarize_validation, "datasize": summarize_datasize,
            "phases": summarize_phases}[kind](
                ds, str(path))


# ------------------------------------------------------------------------------ shared
def _provenance(ds: xr.Dataset, kind: str, path: str) -> dict[str, Any]:
    """Kind, task and the provenance attributes (SPEC §9), None where the file has none."""
    a = ds.attrs
    w0 = a.get("w0")
    return {"file": path, "kind": kind, "task": a.get("task"), "preset": a.get("preset"),
            "w0": None if w0 is None else float(w0), "created": a.get("date_created"),
            "package_version": a.get("package_version"),
            "torch_version": a.get("torch_version"), "history": a.get("history")}


def _header(rec: dict[str, Any], what: str) -> list[str]:
    lines = [f"{what} {rec['file']}".rstrip(),
             f"  task: {rec['task']}  preset: {rec['preset']}"
             + (f"  w0: {rec['w0']:.6g}" if rec["w0"] is not None else "")]
    made = f"  created: {rec['created']}  package {rec['package_version']}"
    if rec["torch_version"] is not None:
        made += f"  torch {rec['torch_version']}"
    lines.append(made)
    lines.append(f"  history: {rec['history'] or '(none recorded)'}")
    return lines


def _value(v: Any) -> int | float:
    """A coordinate value as a Python number (integers stay integers)."""
    v = np.asarray(v).item()
    return int(v) if isinstance(v, (int, np.integer)) else float(v)


# ---------------------------------------------------------------------------- landscape
def landscape_record(ds: xr.Dataset, path: str = "") -> dict[str, Any]:
    """Task, provenance, grid, probe settings, range of each variable, unconverged (and
    diverged) points, and the critical data size on an ``n_train`` axis."""
    rec = _provenance(ds, "landscape", path)
    w, alpha = ds["w"].values, ds["alpha"].values
    grid: dict[str, Any] = {"w": {"size": w.size, "min": w[0], "max": w[-1]},
                            "alpha": {"min": alpha[0], "max": alpha[-1]}}
    if "m" in ds.dims:
        m = ds["m"].values
        grid["m"] = {"size": m.size, "min": m[0], "max": m[-1]}
    for dim in ("seed", "n_train"):
        if dim in ds.dims:
            grid[dim] = [_value(v) for v in ds[dim].values]
    rec["grid"] = grid
    rec["probe"] = config_of(ds).get("probe")
    variables = {}
    for name in ds.data_vars:
        if name.endswith("_by_seed") or name in ("status", "diverged_step"):
            continue  # status: its own count
        values = ds[name].values.astype(float)
        finite = values[np.isfinite(values)]
        variables[str(name)] = {
            "min": finite.min() if finite.size else None,
            "max": finite.max() if finite.size else None,
            "long_name": ds[name].attrs.get("long_name"), "units": ds[name].attrs.get("units")}
    rec["variables"] = variables
    conv = ds["converged"]
    bad = np.argwhere(~conv.values)
    rec["points"] = int(conv.size)
    rec["unconverged"] = len(bad)
    points = []
    for idx in bad:
        point = {d: ds[d].values[i] for d, i in zip(conv.dims, idx)}
        entry = {"alpha": float(point["w"]) / float(ds.attrs["w0"])}
        if "m" in point:
            entry["m"] = float(point["m"])
        if "n_train" in point:
            entry["n_train"] = int(point["n_train"])
        points.append(entry)
    rec["unconverged_points"] = points
    if "status" in ds.data_vars:
        rec["diverged"] = int((ds["status"].values == RunStatus.DIVERGED).sum())
    if "n_train" in ds.dims:
        from reduced_dynamics.engine.parameters import critical_n_train

        crit = critical_n_train(ds)
        rec["critical_n_train"] = {
            "n_train": crit.n_train, "on": crit.on, "threshold": crit.threshold,
            "threshold_source": crit.threshold_source, "description": crit.describe(),
            "best": [{"n_train": n, f"test_{crit.on}": b, "alpha": a}
                     for n, b, a in zip(crit.n_values, crit.best, crit.best_alpha)]}
    return rec


def summarize(ds: xr.Dataset, path: str = "") -> str:
    """Task, provenance, grid, ranges of each variable, and the unconverged points."""
    rec = landscape_record(ds, path)
    grid = rec["grid"]
    lines = _header(rec, "landscape")
    w, alpha = grid["w"], grid["alpha"]
    lines.append(f"  w: {w['size']} values, {w['min']:.4g} .. {w['max']:.4g}"
                 f" (alpha {alpha['min']:.3g} .. {alpha['max']:.3g})")
    if "m" in grid:
        m = grid["m"]
        lines.append(f"  m: {m['size']} values, {m['min']:.3g} .. {m['max']:.3g}")
    if "seed" in grid:
        lines.append(f"  seed: {grid['seed']} (restarts)")
    if "n_train" in grid:
        lines.append(f"  n_train: {grid['n_train']} (parameter axis: "
                     "training-set sizes, selected before integrating)")
    probe = rec["probe"]
    if probe:
        lines.append(f"  probe: {probe.get('steps')} steps, lr {probe.get('lr')} "
                     f"({probe.get('schedule', 'constant')}, scaling {probe.get('lr_scaling')})")
    lines.append("  variables (min .. max over the grid):")
    for name, v in rec["variables"].items():
        rng = (f"{v['min']:.4g} .. {v['max']:.4g}" if v["min"] is not None
               else "no finite value")
        lines.append(f"    {name:<20s} {rng}")
    lines.append(f"  unconverged: {rec['unconverged']} of {rec['points']} points")
    if rec["unconverged"]:
        shown = []
        for point in rec["unconverged_points"][:12]:
            text = f"alpha={point['alpha']:.3g}"
            if "m" in point:
                text += f" m={point['m']:.3g}"
            if "n_train" in point:
                text += f" N={point['n_train']}"
            shown.append(text)
        more = f" ... and {rec['unconverged'] - 12} more" if rec["unconverged"] > 12 else ""
        lines.append("    " + "; ".join(shown) + more)
    crit = rec.get("critical_n_train")
    if crit is not None:
        lines.append("  " + crit["description"])
        key = f"test_{crit['on']}"
        best = ", ".join(f"{b['n_train']}: {b[key]:.3g}" for b in crit["best"])
        lines.append(f"    best {key} over the state grid per N: {best}")
    if "diverged" in rec:
        lines.append(f"  diverged (NaN, among the unconverged): {rec['diverged']} of "
                     f"{rec['points']} points")
    return "\n".join(lines)


# --------------------------------------------------------------------------- trajectories
def _run_coords(ds: xr.Dataset) -> list[str]:
    """The per-run coordinates worth showing (m0 not for a task without m)."""
    return [c for c in RUN_COLUMNS if c in ds.coords and ds[c].dims == ("run",)
            and ds[c].attrs.get("long_name") != NOT_APPLICABLE]


def trajectory_record(ds: xr.Dataset, path: str = "") -> dict[str, Any]:
    """Task, provenance, runs and steps, training settings, the grokking event and counts,
    the per-run coordinates (those the same for every run, and those that vary), and per
    run its coordinates, measured t_overfit and t_grok, final loss and accuracy, status."""
    rec = _provenance(ds, "trajectory", path)
    step = ds["step"].values
    n = ds.sizes["run"]
    rec["runs"] = n
    rec["steps"] = {"count": step.size, "first": step[0], "last": step[-1]}
    train = config_of(ds).get("train")
    rec["train"] = train if isinstance(train, dict) else None
    value, on, source = grok_threshold_of(ds)
    t_grok = grok_times(step, ds["test_acc"].values, ds["test_loss"].values, value, on)
    rec["grok"] = {"event": describe_grok(value, on), "threshold": value, "on": on,
                   "threshold_source": source}
    rec["grokked"] = int(np.isfinite(t_grok).sum())
    diverged = (ds["status"].values == RunStatus.DIVERGED if "status" in ds.data_vars
                else np.zeros(n, bool))
    rec["diverged"] = int(diverged.sum())
    coords = _run_coords(ds)
    varying = [c for c in coords if np.unique(ds[c].values).size > 1]
    rec["varying"] = varying
    rec["same_for_every_run"] = {c: _value(ds[c].values[0]) for c in coords
                                 if c not in varying}
    rows = []
    for r in range(n):
        x = ds.isel(run=r)
        row: dict[str, Any] = {"run": r, **{c: _value(x[c]) for c in coords}}
        row.update({"t_overfit": float(x["t_overfit"]), "t_grok": float(t_grok[r]),
                    "final_train_loss": float(x["train_loss"][-1]),
                    "final_test_acc": float(x["test_acc"][-1]),
                    "status": "diverged" if diverged[r] else "ok"})
        if diverged[r] and "diverged_step" in x:
            row["diverged_step"] = float(x["diverged_step"])
        rows.append(row)
    rec["rows"] = rows
    return rec


def summarize_trajectories(ds: xr.Dataset, path: str = "") -> str:
    """Runs (the coordinates that differ between them as columns, the rest on one line),
    steps, and per run the measured t_overfit, t_grok and the final loss and accuracy."""
    rec = trajectory_record(ds, path)
    steps = rec["steps"]
    lines = _header(rec, "trajectories")
    lines.append(f"  runs: {rec['runs']}  logged steps: {steps['count']}, {steps['first']} .. "
                 f"{steps['last']}")
    train = rec["train"]
    if train:
        shown = ", ".join(f"{k} {train[k]}" for k in ("optimizer", "steps", "eta_d", "eta_r",
                                                       "n_log", "momentum")
                          if k in train and not (k == "momentum" and not train[k]))
        lines.append(f"  train: {shown}")
    same = rec["same_for_every_run"]
    if same:
        lines.append("  same for every run: " + ", ".join(f"{k} {value_text(v)}"
                                                         for k, v in same.items()))
    lines.append(f"  grokked ({rec['grok']['event']}): {rec['grokked']} of {rec['runs']} "
                 "runs")
    if rec["diverged"]:
        lines.append(f"  diverged: {rec['diverged']} of {rec['runs']} runs (values NaN "
                     "from their diverged_step on; marked below)")
    columns = rec["varying"]
    head = [COLUMN_NAMES.get(c, c) for c in columns] + [
        "t_overfit", "t_grok", "train_loss", "test_acc"]
    lines.append("  " + f"{'run':>5}" + "".join(f"{h:>11}" for h in head))
    for row in rec["rows"][:MAX_RUN_ROWS]:
        values = [row[c] for c in columns] + [row["t_overfit"], row["t_grok"],
                                              row["final_train_loss"], row["final_test_acc"]]
        mark = ""
        if row["status"] == "diverged":
            step_d = row.get("diverged_step", float("nan"))
            mark = "  diverged" + (f" at step {step_d:.0f}" if np.isfinite(step_d) else "")
        lines.append("  " + f"{row['run']:>5d}" + "".join(
            f"{v:>11d}" if isinstance(v, int) else f"{number(v):>11}" for v in values) + mark)
    if rec["runs"] > MAX_RUN_ROWS:
        lines.append(f"  ... and {rec['runs'] - MAX_RUN_ROWS} more run(s)")
    lines.append("  (train_loss and test_acc at the last logged step)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- validation
def validation_record(ds: xr.Dataset, path: str = "") -> dict[str, Any]:
    """Task, provenance, the landscape and start of the predictions, the events, the fitted
    exponents, how many runs the predictions match, and the per-run rows."""
    from reduced_dynamics.validate import report_rows, report_summary

    rec = _provenance(ds, "validation", path)
    a = ds.attrs
    rec.update({"landscape": a.get("landscape"), "start": a.get("start"),
                "events": a.get("events"), "runs": ds.sizes["run"]})
    rec.update(report_summary(ds))
    rec["rows"] = report_rows(ds)
    return rec


def summarize_validation(ds: xr.Dataset, path: str = "") -> str:
    """The provenance, then the table `reduced-dynamics validate` printed."""
    from reduced_dynamics.validate import table

    rec = validation_record(ds, path)
    lines = _header(rec, "validation report")
    lines.append(f"  predictions from landscape {rec['landscape']} (start: {rec['start']}) "
                 f"for {rec['runs']} run(s)")
    if rec["events"]:
        lines.append(f"  events: {rec['events']}")
    lines.extend("  " + line for line in table(ds).splitlines())
    return "\n".join(lines)


# ----------------------------------------------------------------------------- data size
def datasize_info_record(ds: xr.Dataset, path: str = "") -> dict[str, Any]:
    """Provenance, then what ``datasize --json`` prints (`cli.datasize.datasize_record`)."""
    from reduced_dynamics.cli.datasize import datasize_record

    return {**_provenance(ds, "datasize", path), **datasize_record(ds, path)}


def summarize_datasize(ds: xr.Dataset, path: str = "") -> str:
    """The provenance, then the table ``reduced-dynamics datasize`` printed."""
    from reduced_dynamics.cli.datasize import datasize_table

    lines = _header(_provenance(ds, "datasize", path), "data-size file (Fig. 6e)")
    lines.extend("  " + line for line in datasize_table(ds).splitlines())
    return "\n".join(lines)


# ------------------------------------------------------------------------- phase diagrams
def phases_info_record(ds: xr.Dataset, path: str = "") -> dict[str, Any]:
    """Provenance, then what ``phases --json`` prints of it (`cli.phases.phases_record`)."""
    from reduced_dynamics.cli.phases import phases_record

    return {**_provenance(ds, "phases", path), **phases_record(ds, path)}


def summarize_phases(ds: xr.Dataset, path: str = "") -> str:
    """The provenance, then the table ``reduced-dynamics phases`` printed."""
    from reduced_dynamics.cli.phases import phases_table

    lines = _header(_provenance(ds, "phases", path), "phase-diagram file (SPEC 15)")
    lines.extend("  " + line for line in phases_table(ds).splitlines())
    return "\n".join(lines)


RECORDS = {"landscape": landscape_record, "trajectory": trajectory_record,
           "validation": validation_record, "datasize": datasize_info_record,
           "phases": phases_info_record}
