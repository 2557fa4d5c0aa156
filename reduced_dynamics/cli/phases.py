"""Subcommand ``phases`` (SPEC §15): the phase diagram over two of (η_D, γ, α0, m0, N),
predicted from a landscape, measured from a runs file of a batched grid sweep, or both
with the fraction of cells that agree and the 4 × 4 confusion table; printed as a table
and a character map (``--json``: one JSON object), drawn (``--plot``) and written as
phase-diagram files (``-o``, ``--measured-output``).

The table and the record are written from the Datasets alone (`phases_table`,
`phases_record`), so ``info`` shows a phase-diagram file the way the command printed it.
"""

from __future__ import annotations

import argparse
import math
import shlex
from typing import Any

import numpy as np
import xarray as xr

from reduced_dynamics.cli.arguments import (
    add_interpolant_options,
    interpolant_of,
    open_landscape_arg,
)
from reduced_dynamics.cli.format import dumps, plain
from reduced_dynamics.cli.output import add_overwrite, figure_output, save_figure
from reduced_dynamics.errors import InputError, bad_value
from reduced_dynamics.gridspec import parse_grid
from reduced_dynamics.io.lock import check_output
from reduced_dynamics.io.schema import now_iso
from reduced_dynamics.names import (
    PHASE_AXES,
    PHASE_NAMES,
    PHASE_T,
    PHASE_TAU,
    PathStatus,
    Phase,
)

OPTIONS = {"eta_d": "--eta-d", "gamma": "--gamma", "alpha0": "--alpha0", "m0": "--m0",
           "n_train": "--n-train"}
"""The grid option of each parameter (a spec with several values makes it a grid axis)."""
LETTERS = {Phase.COMPREHENSION: "C", Phase.GROKKING: "G", Phase.MEMORISATION: "M",
           Phase.CONFUSION: "."}
MAX_MAP_COLUMNS = 100  # wider grids are summarised without the character map


# ------------------------------------------------------------------------- the arguments
def _values(option: str, spec: str) -> np.ndarray:
    """One grid option's values, range-checked (rates > 0 or >= 0, m in [0, 1], N
    integers)."""
    values = parse_grid(option, spec)
    rules = {"--eta-d": (values > 0, "learning rates > 0"),
             "--gamma": (values >= 0, "weight decays >= 0"),
             "--alpha0": (values > 0, "alpha0 = w/w0 > 0"),
             "--m0": ((values >= 0) & (values <= 1), "messiness values in [0, 1]"),
             "--n-train": ((values >= 1) & (values == np.round(values)),
                           "training-set sizes, integers >= 1")}
    ok, what = rules[option]
    if not ok.all():
        raise bad_value(option, spec, f"{what} (got {values[~ok].tolist()[:5]}), e.g. "
                        + {"--eta-d": "log:1e-4:1e-2:41", "--gamma": "lin:0:10:41",
                           "--alpha0": "log:0.5:5:21", "--m0": "lin:0:1:21",
                           "--n-train": "25,35,45,55"}[option])
    return values


def grid_options(args: argparse.Namespace) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """(grid axes: the options with several values, in `PHASE_AXES` order; fixed values:
    those with one)."""
    axes, fixed = {}, {}
    for name in PHASE_AXES:
        spec = getattr(args, name)
        if spec is None:
            continue
        values = _values(OPTIONS[name], spec)
        if values.size > 1:
            axes[name] = values
        else:
            fixed[name] = float(values[0])
    if len(axes) > 2 or (len(axes) != 2 and (axes or args.runs is None)):
        given = [OPTIONS[k] for k in axes] or "none"
        raise InputError(f"`phases` needs exactly two grid options with several values among "
                         f"{', '.join(OPTIONS.values())}, got {given}; e.g. --eta-d "
                         "log:1e-4:1e-2:41 --gamma lin:0:10:41" + (
                             "" if args.runs is None else " (or none: the runs' own grid)"))
    return axes, fixed


def _budget(args: argparse.Namespace) -> tuple[float, float]:
    if not (math.isfinite(args.T) and args.T > 1):
        raise bad_value("--T", args.T, "a finite step budget > 1 (SPEC 15: 1e5)")
    if not (math.isfinite(args.tau) and args.tau >= 0):
        raise bad_value("--tau", args.tau, "a finite gap >= 0 in steps (SPEC 15: 1e3)")
    return float(args.T), float(args.tau)


def _thresholds(args: argparse.Namespace, ds: xr.Dataset) -> Any:
    """The file's task's thresholds (`phases.PhaseThresholds.of`), with --train-acc and
    --test-threshold replacing them."""
    import dataclasses

    from reduced_dynamics.phases import PhaseThresholds

    base = PhaseThresholds.of(ds)
    train, test = args.train_acc, args.test_threshold
    if train is not None and not (math.isfinite(train) and 0 < train <= 1):
        raise bad_value("--train-acc", train, "a train accuracy in (0, 1], e.g. 0.9")
    if test is not None and not (math.isfinite(test) and test > 0
                                 and (base.test_on == "loss" or test <= 1)):
        raise bad_value("--test-threshold", test, "a test accuracy in (0, 1], e.g. 0.9"
                        if base.test_on == "acc" else "a test loss > 0 (the task groks on "
                        "test loss)")
    return dataclasses.replace(base, train_acc=base.train_acc if train is None else train,
                               test=base.test if test is None else test)


# ------------------------------------------------------------------------------ the output
def _axis_text(ds: xr.Dataset, dim: str) -> str:
    v = ds[dim].values
    return f"{dim} ({v.size} values, {v[0]:g} to {v[-1]:g})" if v.size > 1 else f"{dim} = {v[0]:g}"


def phases_table(ds: xr.Dataset) -> str:
    """A diagram as text: the grid, the rule, the cells per phase and (up to
    `MAX_MAP_COLUMNS` columns) a character map, the first axis across and the second
    axis down from its largest value."""
    a = ds.attrs
    xdim, ydim = (str(d) for d in ds["phase"].dims)
    source = a.get("landscape_source") or a.get("runs_source") or ""
    lines = [f"{a.get('diagram', '')} phases of {source} over {_axis_text(ds, xdim)} x "
             f"{_axis_text(ds, ydim)}",
             f"rule: T = {float(a['T']):g}, tau = {float(a['tau']):g}; events: "
             f"{a.get('events', '')}"]
    if a.get("diagram") == "measured":
        lines.append(f"runs: {a.get('runs')} ({a.get('runs_per_cell_min')} to "
                     f"{a.get('runs_per_cell_max')} per cell; {a.get('seeds', '')})")
    codes = ds["phase"].values
    for p, name in zip(Phase, PHASE_NAMES):
        lines.append(f"  {name:<14s} {int((codes == p).sum()):6d} cells")
    if "path_status" in ds.data_vars:
        left = int((ds["path_status"].values == PathStatus.LEFT_DOMAIN).sum())
        if left:
            lines.append(f"note: {left} cell(s) whose path left the landscape grid before T: "
                         "their phase counts only the events before it left (variable "
                         "path_status)")
    if codes.shape[0] <= MAX_MAP_COLUMNS:
        key = ", ".join(f"{LETTERS[p]} {n}" for p, n in zip(Phase, PHASE_NAMES))
        lines.append(f"map ({key}; columns: {xdim} increasing, rows: {ydim} from the "
                     "top down):")
        yv = ds[ydim].values
        for j in range(codes.shape[1] - 1, -1, -1):
            row = "".join(LETTERS[Phase(int(c))] for c in codes[:, j])
            lines.append(f"  {yv[j]:>10.4g} | {row}")
    return "\n".join(lines)


def phases_record(ds: xr.Dataset, path: str = "") -> dict[str, Any]:
    """A diagram as plain values: its settings, the grid, the phase names and the times per
    cell (nested lists in the dims' order), the cells per phase."""
    a = ds.attrs
    dims = [str(d) for d in ds["phase"].dims]
    names = np.array(PHASE_NAMES)[ds["phase"].values.astype(int)]
    rec: dict[str, Any] = {"file": path or None, "diagram": a.get("diagram"),
                           "source": a.get("landscape_source") or a.get("runs_source"),
                           "task": a.get("task"), "preset": a.get("preset"),
                           "T": plain(a.get("T")), "tau": plain(a.get("tau")),
                           "events": a.get("events"), "dims": dims,
                           "grid": {d: plain(ds[d].values) for d in dims},
                           "counts": {n: int((ds["phase"].values == p).sum())
                                      for p, n in zip(Phase, PHASE_NAMES)},
                           "phase": names.tolist(),
                           "t_train": plain(ds["t_train"].values),
                           "t_test": plain(ds["t_test"].values)}
    for k in ("eta_d", "gamma", "alpha0", "m0", "n_train", "eta_r"):
        if k in a:
            rec[k] = plain(a[k])
    return rec


def comparison_table(cmp: xr.Dataset) -> str:
    """The agreement and the confusion table (rows measured, columns predicted)."""
    n = int(cmp["agrees"].size)
    lines = [f"agreement: {float(cmp['agreement']):.3f} ({int(cmp['agrees'].sum())} of {n} "
             "cells)", "confusion table (rows: measured, columns: predicted):",
             " " * 16 + "".join(f"{name:>14s}" for name in PHASE_NAMES)]
    for i, name in enumerate(PHASE_NAMES):
        lines.append(f"  {name:<14s}" + "".join(f"{int(v):14d}"
                                                for v in cmp["confusion"].values[i]))
    return "\n".join(lines)


def comparison_record(cmp: xr.Dataset) -> dict[str, Any]:
    return {"agreement": float(cmp["agreement"]), "cells": int(cmp["agrees"].size),
            "agreeing_cells": int(cmp["agrees"].sum()),
            "confusion": {"rows": "measured", "columns": "predicted",
                          "phases": list(PHASE_NAMES),
                          "counts": cmp["confusion"].values.tolist()}}


# ------------------------------------------------------------------------------ the command
def _outputs(args: argparse.Namespace, inputs: tuple[str, ...]) -> tuple[Any, Any, Any]:
    """-o, --measured-output and --plot, checked before any work."""
    out = None if args.output is None else check_output(
        args.output, "phases", inputs=inputs, overwrite=args.overwrite, option="-o")
    meas_out = None if args.measured_output is None else check_output(
        args.measured_output, "phases", inputs=inputs, overwrite=args.overwrite,
        option="--measured-output")
    figure = None if args.plot is None else figure_output(
        "--plot", args.plot, inputs=inputs, overwrite=args.overwrite)
    paths = [("-o", out), ("--measured-output", meas_out),
             ("--plot", None if figure is None else figure[0])]
    given = [(o, p) for o, p in paths if p is not None]
    for i, (o1, p1) in enumerate(given):
        for o2, p2 in given[i + 1:]:
            if p1 == p2:
                raise InputError(f"`{o1}` and `{o2}` name the same file {str(p1)!r}")
    return out, meas_out, figure


def cmd_phases(args: argparse.Namespace) -> int:
    """Predicted, measured or both phase diagrams (module docstring)."""
    from reduced_dynamics.io.phases_file import save_phases
    from reduced_dynamics.phases import (
        compare_phases,
        measured_phases,
        predicted_phases,
        prediction_arguments,
        same_grid,
    )

    axes, fixed = grid_options(args)
    T, tau = _budget(args)
    predict = args.landscape is not None or args.runs is None
    if args.measured_output is not None and not (predict and args.runs is not None):
        raise InputError("`--measured-output` writes the measured diagram next to the "
                         "predicted one (-o): give a LANDSCAPE and --runs, or write the "
                         "measured diagram alone with -o")
    inputs = tuple(p for p in (args.landscape, args.runs) if p is not None)
    out, meas_out, figure = _outputs(args, inputs)
    ds = source = None
    if predict:
        ds, source = open_landscape_arg(args)
    meas = None
    if args.runs is not None:
        from reduced_dynamics.io.trajectory_file import open_trajectories

        runs = open_trajectories(args.runs)
        if ds is not None:
            from reduced_dynamics.validate import check_comparable

            check_comparable(ds, runs)
        thr = _thresholds(args, ds if ds is not None else runs)
        meas = measured_phases(runs, T=T, tau=tau, axes=list(axes) or None, thresholds=thr,
                               source=args.runs)
    pred = None
    if predict:
        assert ds is not None and source is not None
        kwargs: dict[str, Any] = {"grid": axes, "T": T, "tau": tau,
                                  "thresholds": _thresholds(args, ds)}
        if meas is not None:  # predict the runs: their grid and fixed values
            kwargs.update(prediction_arguments(meas))
            if axes and not same_grid(meas, _grid_only(axes)):
                raise InputError("the grid options describe another grid than the runs "
                                 f"{args.runs}'s; drop them to predict on the runs' grid")
        start = _start(fixed, kwargs.pop("start", None))
        for k in ("eta_d", "gamma"):
            if k in fixed:
                kwargs[k] = fixed[k]
        if "n_train" in fixed:
            kwargs["n_train"] = int(fixed["n_train"])
        if args.eta_r is not None:
            kwargs["eta_r"] = args.eta_r
        pred = predicted_phases(ds, start=start, interpolant=interpolant_of(args),
                                source=source, **kwargs)
    history = f"{now_iso()} reduced-dynamics {shlex.join(args.argv)}"
    for d in (pred, meas):
        if d is not None:
            d.attrs["history"] = history
    cmp = compare_phases(pred, meas) if pred is not None and meas is not None else None
    wrote = []
    if figure is not None:
        from reduced_dynamics.plot.phases import plot_phase_comparison, plot_phases

        fig = (plot_phase_comparison(pred, meas) if cmp is not None
               else plot_phases(pred if pred is not None else meas))
        wrote.append(save_figure(fig, *figure))
    first = pred if pred is not None else meas
    if out is not None:
        save_phases(first, out)
        wrote.append(f"wrote {out}")
    if meas_out is not None:
        save_phases(meas, meas_out)
        wrote.append(f"wrote {meas_out}")
    if args.json:
        rec: dict[str, Any] = {}
        if pred is not None:
            rec["predicted"] = phases_record(pred)
        if meas is not None:
            rec["measured"] = phases_record(meas)
        if cmp is not None:
            rec["comparison"] = comparison_record(cmp)
        rec["wrote"] = [w.removeprefix("wrote ").split(" (")[0] for w in wrote]
        print(dumps(rec))
        return 0
    blocks = [phases_table(d) for d in (pred, meas) if d is not None]
    if cmp is not None:
        blocks.append(comparison_table(cmp))
    print("\n".join(blocks))
    for line in wrote:
        print(line)
    return 0


def _grid_only(axes: dict[str, np.ndarray]) -> xr.Dataset:
    """A Dataset with only the grid of ``axes`` (for `phases.same_grid`)."""
    dims = tuple(axes)
    return xr.Dataset({"phase": (dims, np.zeros(tuple(v.size for v in axes.values())))},
                      coords=dict(axes))


def _start(fixed: dict[str, float], start: tuple[float, float] | None) -> Any:
    """The fixed (alpha0, m0) from --alpha0 / --m0 (one value each), over the runs' (or
    the study start's, None)."""
    if "alpha0" not in fixed and "m0" not in fixed:
        return start
    alpha, m = start if start is not None else (None, None)
    alpha = fixed.get("alpha0", alpha)
    m = fixed.get("m0", m)
    if alpha is None or m is None:
        missing = "--alpha0" if alpha is None else "--m0"
        raise InputError(f"give {missing} too: a start off the task's study start needs both "
                         "alpha0 and m0 (one value each, or one of them a grid axis)")
    return (alpha, m)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``phases`` to ``subparsers``."""
    p = subparsers.add_parser(
        "phases", help="phase diagram (comprehension, grokking, memorisation, confusion) "
        "over two of eta_d, gamma, alpha0, m0, N: predicted from a landscape, measured from "
        "a runs file, or both compared",
        description="SPEC 15's phases over a grid of two parameters. With LANDSCAPE: the "
                    "reduced dynamics integrated at every cell (predicted); with --runs "
                    "RUNS.nc (a batched grid sweep from `train`): the runs classified "
                    "(measured); with both: the prediction on the runs' grid and values, "
                    "the fraction of cells that agree and the 4 x 4 confusion table. A "
                    "grid option with several values is a grid axis (exactly two), one "
                    "with one value fixes that parameter; what is left out comes from the "
                    "runs, else from the landscape's task's study defaults.")
    p.add_argument("landscape", nargs="?", default=None, metavar="LANDSCAPE",
                   help="landscape file (.nc); default: the shipped landscape unless --runs "
                        "is given (then: the measured diagram only)")
    for name, option in OPTIONS.items():
        p.add_argument(option, dest=name, default=None, metavar="SPEC",
                       help=f"{name} values: a comma list or KIND:START:STOP:NUM (lin, log, "
                            "quad); several values: a grid axis")
    p.add_argument("--eta-r", type=float, default=None,
                   help="representation learning rate of the ODE (default: the runs', "
                        "converted for sgd, else the task's)")
    p.add_argument("--runs", default=None, metavar="RUNS.nc",
                   help="trajectory file of a batched grid sweep: the measured diagram")
    p.add_argument("--T", dest="T", type=float, default=PHASE_T,
                   help=f"step budget T (default {PHASE_T:g})")
    p.add_argument("--tau", type=float, default=PHASE_TAU,
                   help=f"gap threshold tau: grokking when t_test - t_train >= tau (default "
                        f"{PHASE_TAU:g})")
    p.add_argument("--train-acc", type=float, default=None,
                   help="train accuracy threshold (default: the file's task's "
                        "task.train_acc_threshold, else 0.95)")
    p.add_argument("--test-threshold", type=float, default=None,
                   help="test accuracy (or test loss) threshold (default: the file's "
                        "task.grok_threshold, else accuracy 0.95)")
    p.add_argument("--seed", type=int, default=None, metavar="S",
                   help="use the landscape restart of init seed S (default: the best over "
                        "seeds)")
    add_interpolant_options(p)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--plot", default=None, metavar="FIG.png",
                   help="write the four-colour diagram (both side by side with --runs)")
    p.add_argument("-o", "--output", default=None, metavar="OUT.nc",
                   help="write the predicted diagram (the measured one without LANDSCAPE) as "
                        "a phase-diagram file (`info` reads it)")
    p.add_argument("--measured-output", default=None, metavar="MEAS.nc",
                   help="with LANDSCAPE and --runs: write the measured diagram too")
    add_overwrite(p, "output file or figure")
    p.set_defaults(func=cmd_phases)
