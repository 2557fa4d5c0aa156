"""Subcommands ``predict``, ``path`` and ``gamma-plot`` for the main CLI.

``register(subparsers)`` adds them to an argparse subparsers object; each sets
``func(args) -> int``. Bad input raises `ReducedDynamicsError` (the main CLI prints
``error: <message>`` and exits with status 2).

Starts are ``--start ALPHA,M`` with ALPHA = w/w0 (``--start ALPHA`` on a landscape without
m); by default the study start of the landscape's task (`TaskEntry.alpha0`, ``m0``: what
`train` uses), else ALPHA at 85 % of the grid's log-alpha range and m = 0.2
(`engine.inputs.default_start`). γ lists are comma lists or ``log:START:STOP:NUM``; by
default the task's study list (`TaskEntry.gammas`), else 7 values over 1.5 decades below the
weight decay the boundary gradient can balance (`engine.inputs.default_gammas`). The help
texts list these defaults per task.

A landscape with an ``n_train`` axis (SPEC §11): ``predict`` runs every N on the grid, or
the one given by ``--n-train N`` (grid values only), and prints the critical data size;
``path`` and ``gamma-plot`` need ``--n-train``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import xarray as xr

from reduced_dynamics.cli.format import dumps, number, plain
from reduced_dynamics.cli.output import add_overwrite, figure_output, save_figure
from reduced_dynamics.engine.interpolant import derivative_agreement
from reduced_dynamics.engine.options import EventOptions, InterpolantOptions, SolverOptions
from reduced_dynamics.engine.parameters import (
    critical_n_train,
    grok_threshold_of,
    n_train_values,
    select_n_train,
)
from reduced_dynamics.engine.prepare import PreparedLandscape, prepare_landscape
from reduced_dynamics.engine.results import ADAM_NOTE, TIME_UNITS
from reduced_dynamics.engine.solve import kernels_compiled
from reduced_dynamics.errors import FileCheckError, InputError, bad_value
from reduced_dynamics.gridspec import parse_list
from reduced_dynamics.io.landscape_file import open_landscape
from reduced_dynamics.names import ACC_THRESHOLD, BOUNDARY_LOSS
from reduced_dynamics.study import (
    analyze_path,
    default_events,
    help_fragments,
    predict_grokking_times,
    study_defaults,
)


def _open(args: argparse.Namespace) -> tuple[xr.Dataset, str]:
    """The checked landscape file (LANDSCAPE or the shipped default) and its path."""
    path = args.landscape
    if path is None:
        try:
            from reduced_dynamics.io.resources import default_landscape
        except ImportError:
            raise FileCheckError("no LANDSCAPE given and this installation ships no default "
                                 "landscape; pass a landscape file (.nc)") from None
        path = default_landscape()
    return open_landscape(Path(path)), str(path)


def _prepare(args: argparse.Namespace, ds: xr.Dataset, source: str,
             n_train: int | None) -> PreparedLandscape:
    """The landscape at ``n_train`` (an exact grid value; None without that axis)."""
    options = InterpolantOptions(transform=args.transform, smoothing=args.smoothing,
                                 monotone=args.monotone)
    return prepare_landscape(select_n_train(ds, n_train, name="--n-train", source=source),
                             options, source=source)


def _start(text: str | None, has_m: bool = True) -> tuple[float, float] | float | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        if len(parts) != (2 if has_m else 1):
            raise ValueError
        return (float(parts[0]), float(parts[1])) if has_m else float(parts[0])
    except ValueError:
        if not has_m:
            raise bad_value("--start", text, "ALPHA = w/w0 > 0 alone (this landscape has no "
                            "m), e.g. 30") from None
        raise bad_value("--start", text, "ALPHA,M with ALPHA = w/w0 > 0 and M in [0, 1], "
                        "e.g. 30,0.2") from None


def _rate(name: str, value: float, *, positive: bool) -> float:
    ok = math.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        raise bad_value(name, value, "a finite number " + ("> 0" if positive else ">= 0"))
    return value


def _etas(args: argparse.Namespace) -> tuple[float | None, float | None]:
    """--eta-d/--eta-r (None: the landscape's task's training rates, `study`)."""
    eta_d = None if args.eta_d is None else _rate("--eta-d", args.eta_d, positive=True)
    eta_r = None if args.eta_r is None else _rate("--eta-r", args.eta_r, positive=False)
    return eta_d, eta_r


def _options(args: argparse.Namespace, ds: xr.Dataset) -> tuple[EventOptions, SolverOptions]:
    """Event and solver options; the grokking threshold defaults to the file's task's
    (``task.grok_threshold`` in config_json, SPEC §12; `study.default_events`)."""
    base = default_events(ds, args.theta_train)
    value, on, _ = grok_threshold_of(ds)
    grok_on = args.grok_on or base.grok_on
    acc = args.acc_threshold if args.acc_threshold is not None else (
        value if on == "acc" else ACC_THRESHOLD)
    theta_test = args.theta_test if args.theta_test is not None else (
        value if on == "loss" else None)
    events = EventOptions(theta_train=args.theta_train, grok_on=grok_on,
                          theta_test=theta_test, acc_threshold=acc)
    solver = SolverOptions(rtol=args.rtol, atol=args.atol, t_max=args.t_max,
                           max_steps=args.max_steps)
    return events, solver


def _gammas(args: argparse.Namespace) -> np.ndarray | None:
    """--gamma (None: the landscape's task's study list, `study`)."""
    return None if args.gamma is None else parse_list("--gamma", args.gamma, minimum=0.0)


def _common(p: argparse.ArgumentParser, shown: dict[str, str]) -> None:
    p.add_argument("landscape", nargs="?", default=None, metavar="LANDSCAPE",
                   help="landscape file (.nc); default: the shipped landscape")
    p.add_argument("--eta-d", type=float, default=None,
                   help="decoder learning rate eta_D > 0 (default: the landscape's task's "
                        f"training rate, as `train` uses: {shown['eta_d']}; 1e-3 for "
                        "an unknown task)")
    p.add_argument("--eta-r", type=float, default=None,
                   help="representation learning rate eta_R >= 0 (default: as for --eta-d)")
    p.add_argument("--start", default=None, metavar="ALPHA,M",
                   help="start (alpha = w/w0, m), ALPHA alone on a landscape without m; "
                        "default: the landscape's task's study start, as `train` uses "
                        f"({shown['start']}); for an unknown task alpha at 85%% of the "
                        "grid's log range and m = 0.2")
    p.add_argument("--n-train", type=int, default=None, metavar="N",
                   help="training-set size, on a landscape with an n_train axis: one of its "
                        "grid values (N is not interpolated)")
    p.add_argument("--theta-train", type=float, default=BOUNDARY_LOSS,
                   help=f"overfit / boundary contour: l_train <= THETA (default {BOUNDARY_LOSS})")
    p.add_argument("--grok-on", choices=("acc", "loss"), default=None,
                   help="grok when test acc >= --acc-threshold or l_test <= --theta-test "
                        "(default: what the file's task.grok_threshold is about, else acc)")
    p.add_argument("--acc-threshold", type=float, default=None,
                   help=f"default: the file's task.grok_threshold, else {ACC_THRESHOLD}")
    p.add_argument("--theta-test", type=float, default=None,
                   help="with --grok-on loss: grok when l_test <= THETA (default: the file's "
                        "task.grok_threshold when it is a test loss)")
    p.add_argument("--t-max", type=float, default=None,
                   help="end time in optimiser steps (> 1); default: 20x the time weight "
                        "decay needs to cross the grid")
    p.add_argument("--rtol", type=float, default=1e-6,
                   help="relative error tolerance of the Dormand-Prince steps (default 1e-6)")
    p.add_argument("--atol", type=float, default=1e-9,
                   help="absolute error tolerance of the steps (default 1e-9)")
    p.add_argument("--max-steps", type=int, default=100_000,
                   help="integrator steps per path before it ends with status max_steps "
                        "(default 100000)")
    p.add_argument("--transform", choices=("log", "linear"), default="log",
                   help="interpolate ln(loss) (default) or the loss itself")
    p.add_argument("--smoothing", type=float, default=0.0,
                   help="smoothing spline strength (mean-square deviation in ln loss); 0 = off")
    p.add_argument("--monotone", action="store_true",
                   help="make train_loss non-increasing in w before interpolating")


def _n_gammas(gam: np.ndarray | None, prep: PreparedLandscape, args: argparse.Namespace
              ) -> int:
    """How many paths a γ list (None: the study list) integrates."""
    return len(study_defaults(prep, args.theta_train).gammas) if gam is None else gam.size


def _prepare_run(args: argparse.Namespace, prep: PreparedLandscape, n_paths: int
                 ) -> tuple[float, float] | float | None:
    """--start (None: the task's study start, `study`), and a note when the integrator
    compiles first (cold numba cache). The API warns about an unconverged start."""
    start = _start(args.start, prep.has_m)
    if not kernels_compiled(n_paths):
        print("compiling the integrator (first use after install, ~20 s; cached afterwards)",
              file=sys.stderr, flush=True)
    return start


def _warn_overflow(status: object, gamma: object) -> None:
    """One `warning:` line naming the weight decays whose paths overflowed (``status`` over
    gamma, or over (n_train, gamma))."""
    status = np.atleast_1d(np.asarray(status)).astype(str)
    bad = status == "overflow"
    if bad.any():
        gam = np.broadcast_to(np.atleast_1d(np.asarray(gamma, float)), status.shape)[bad]
        shown = ", ".join(f"{g:g}" for g in np.unique(gam)[:5])
        print(f"warning: {int(bad.sum())} path(s) overflowed float64 (status overflow; gamma "
              f"{shown}): the rates eta_d, eta_r, gamma times the landscape's gradients are "
              "too large to integrate", file=sys.stderr)


def _derivative_check(prep: PreparedLandscape) -> dict:
    """`interpolant.derivative_agreement` when the landscape has the envelope derivatives."""
    try:
        return derivative_agreement(prep.interp, prep.dataset)
    except FileCheckError:
        return {}


COLS = ("t_overfit", "t_grok", "delay", "t_closed", "t_geometric")


def _slices(res: xr.Dataset) -> list[xr.Dataset]:
    """The result per N (itself when it has no ``n_train`` dim)."""
    if "n_train" not in res.dims:
        return [res]
    return [res.isel(n_train=k) for k in range(res.sizes["n_train"])]


def _rows(res: xr.Dataset) -> list[dict]:
    """One row per γ (per N and γ on a result with an ``n_train`` dim)."""
    rows = []
    for sub in _slices(res):
        for i, g in enumerate(sub["gamma"].values):
            row = {"n_train": int(sub["n_train"])} if "n_train" in sub.coords else {}
            row["gamma"] = float(g)
            row.update({c: float(sub[c].values[i]) for c in COLS})
            row["status"] = str(sub["status"].values[i])
            rows.append(row)
    return rows


def _fits(res: xr.Dataset) -> list[dict]:
    keys = ("exponent", "exponent_stderr", "n_fit")
    if "n_train" not in res.dims:
        return [{k: plain(res[k].item()) for k in keys}]
    return [{"n_train": int(sub["n_train"]), **{k: plain(sub[k].item()) for k in keys}}
            for sub in _slices(res)]


def _start_text(res: xr.Dataset, eta_d: float, eta_r: float, has_m: bool) -> str:
    if has_m:
        return (f"start alpha = {res.attrs['start_alpha']:g}, m = {res.attrs['start_m']:g}; "
                f"eta_d = {eta_d:g}, eta_r = {eta_r:g}")
    return f"start alpha = {res.attrs['start_alpha']:g}; eta = {eta_d:g}"


def cmd_predict(args: argparse.Namespace) -> int:
    """Grokking times over a γ list, with closed and geometric forms and the fitted exponent.

    On a landscape with an n_train axis: for every N (or ``--n-train N``), with the critical
    data size."""
    ds, source = _open(args)
    values = n_train_values(ds)
    # the reference slice: --n-train, else the largest N (whose γ sweep and start every N
    # then shares, as `predict_grokking_times` does)
    prep = _prepare(args, ds, source, args.n_train if args.n_train is not None or not values
                    else max(values))
    eta_d, eta_r = _etas(args)
    events, solver = _options(args, ds)
    gam = _gammas(args)
    every_n = bool(values) and args.n_train is None
    start = _prepare_run(args, prep, _n_gammas(gam, prep, args))
    # every N: the API opens the file and runs each slice
    target = Path(source) if every_n else prep
    res = predict_grokking_times(target, gam, eta_d, eta_r, start, events=events,
                                 solver=solver, interpolant=prep.options)
    eta_d, eta_r = float(res.attrs["eta_d"]), float(res.attrs["eta_r"])
    rows, fits = _rows(res), _fits(res)
    check = _derivative_check(prep)
    _warn_overflow(res["status"].values, res["gamma"].values)
    critical = critical_n_train(ds) if values else None
    if args.json:
        start_out = {"alpha": res.attrs["start_alpha"]}
        if prep.has_m:
            start_out["m"] = res.attrs["start_m"]
        out = {"landscape": source, "start": start_out, "eta_d": eta_d}
        if prep.has_m:
            out["eta_r"] = eta_r
        if args.n_train is not None:
            out["n_train"] = args.n_train
        out.update({"time_units": TIME_UNITS, "note": ADAM_NOTE,
                    "rows": [{k: plain(v) for k, v in r.items()} for r in rows]})
        if "n_train" in res.dims:
            out["fits"] = fits
        else:
            out.update(fits[0])
        out["derivative_check"] = {k: plain(v) for k, v in check.items()}
        if critical is not None:
            out["critical_n_train"] = {"n_train": critical.n_train, "on": critical.on,
                                       "threshold": critical.threshold,
                                       "threshold_source": critical.threshold_source}
        print(dumps(out))
        return 0
    n_text = f"; n_train = {args.n_train}" if args.n_train is not None else (
        f"; every n_train of {values}" if values else "")
    print(f"landscape {source}{n_text}; {_start_text(res, eta_d, eta_r, prep.has_m)}")
    print(f"times in {TIME_UNITS}; closed/geometric forms are measured from point C")
    head = ("gamma", "t_overfit", "t_grok", "delay", "closed", "geometric", "status")
    keys = ("gamma", *COLS)
    if "n_train" in res.dims:
        head, keys = ("n_train", *head), ("n_train", *keys)
    print("".join(f"{h:>12}" for h in head[:-1]) + f"  {head[-1]}")
    for r in rows:
        print("".join(f"{r[k]:>12}" if k == "n_train" else f"{number(r[k]):>12}"
                      for k in keys) + f"  {r['status']}")
    for fit in fits:
        p, se, n = fit["exponent"], fit["exponent_stderr"], fit["n_fit"]
        where = f"n_train = {fit['n_train']}: " if "n_train" in fit else ""
        if p is None:
            print(f"{where}fitted exponent: not available ({n} path(s) that grokked)")
        else:
            se_txt = f" ± {se:.3f}" if se is not None else ""
            print(f"{where}fitted exponent: t_grok ~ gamma^p, p = {p:.3f}{se_txt} (n = {n}; "
                  f"the LU mechanism predicts -1)")
    if check:
        parts = [f"{d}: median rel. err {number(check[f'median_rel_err_{d}'])}, corr "
                 f"{number(check[f'corr_{d}'])}" for d in ("dw", "dm") if f"corr_{d}" in check]
        where = f" at n_train = {prep.parameters['n_train']}" if prep.parameters else ""
        print(f"interpolant vs probe envelope derivatives (converged nodes{where}): "
              + "; ".join(parts))
    if critical is not None:
        print(critical.describe())
    print(f"note: {ADAM_NOTE}")
    return 0


def _one_landscape(args: argparse.Namespace, what: str) -> PreparedLandscape:
    """The landscape at one N: ``path`` and ``gamma-plot`` draw one slice."""
    ds, source = _open(args)
    values = n_train_values(ds)
    if values and args.n_train is None:
        raise InputError(f"`{what}` draws one training-set size: landscape {source} has "
                         f"n_train values {values}; choose one with `--n-train`")
    return _prepare(args, ds, source, args.n_train)


def cmd_path(args: argparse.Namespace) -> int:
    """Figure of one path on the train/test landscapes with A–E, and losses along it (a
    landscape without m: the loss curves over alpha, and alpha and the losses over t)."""
    from reduced_dynamics.plot.predictions import plot_path, plot_path_1d

    out, note = figure_output("--output", args.output, overwrite=args.overwrite)
    prep = _one_landscape(args, "path")
    eta_d, eta_r = _etas(args)
    gamma = None if args.gamma is None else _rate("--gamma", args.gamma, positive=False)
    events, solver = _options(args, prep.dataset)
    start = _prepare_run(args, prep, 1)
    res = analyze_path(prep, gamma, eta_d, eta_r, start, events=events, solver=solver)
    gamma = float(res.attrs["gamma"])
    _warn_overflow(res["status"].item(), gamma)
    plot = plot_path if prep.has_m else plot_path_1d
    wrote = save_figure(plot(prep, res), out, note)
    points = [{"point": str(p), "t": plain(float(t)),
               "alpha": plain(float(w) / prep.w0)}
              | ({"m": plain(float(m))} if prep.has_m else {})
              for p, t, w, m in zip(res["point"].values, res["t_point"].values,
                                    res["w_point"].values, res["m_point"].values
                                    if prep.has_m else res["w_point"].values)]
    if args.json:
        out_json = {"landscape": prep.source, **prep.parameters, "gamma": gamma,
                    "eta_d": float(res.attrs["eta_d"]),
                    "start": {"alpha": res.attrs["start_alpha"]}
                    | ({"m": res.attrs["start_m"]} if prep.has_m else {}),
                    "status": str(res["status"].item()), "time_units": TIME_UNITS,
                    "points": points, "figure": str(out)}
        if prep.has_m:
            out_json["eta_r"] = float(res.attrs["eta_r"])
        for k in ("t_overfit", "t_grok", "t_E", "t_end", "t_closed", "t_geometric"):
            out_json[k] = plain(float(res[k]))
        out_json["n_descents"] = int(res["n_descents"])
        print(dumps(out_json))
        return 0
    n_text = f"n_train = {prep.parameters['n_train']}, " if prep.parameters else ""
    print(f"{n_text}gamma = {gamma:g}: status {res['status'].item()}, t_grok = "
          f"{number(float(res['t_grok']))}, {int(res['n_descents'])} test-loss descent(s)")
    print(", ".join(f"{p['point']}: t={number(_nan(p['t']))} alpha={number(_nan(p['alpha']))}"
                    + (f" m={number(_nan(p['m']))}" if "m" in p else "") for p in points))
    print(wrote)
    return 0


def _nan(v: float | None) -> float:
    return float("nan") if v is None else v


def cmd_gamma_plot(args: argparse.Namespace) -> int:
    """Figure of t_grok (and the closed/geometric forms) against γ, log-log, with the fit."""
    from reduced_dynamics.plot.predictions import plot_gamma

    out, note = figure_output("--output", args.output, overwrite=args.overwrite)
    prep = _one_landscape(args, "gamma-plot")
    eta_d, eta_r = _etas(args)
    events, solver = _options(args, prep.dataset)
    gam = _gammas(args)
    start = _prepare_run(args, prep, _n_gammas(gam, prep, args))
    res = predict_grokking_times(prep, gam, eta_d, eta_r, start, events=events,
                                 solver=solver)
    _warn_overflow(res["status"].values, res["gamma"].values)
    wrote = save_figure(plot_gamma(res), out, note)
    n_grok = int(np.isfinite(res["t_grok"].values).sum())
    if n_grok == 0:
        statuses = ", ".join(sorted(set(res["status"].values.astype(str))))
        print(f"no path grokked (status {statuses}): no grokking times and no exponent; "
              f"{wrote}")
    elif not np.isfinite(float(res["exponent"])):
        print(f"{n_grok} path(s) grokked, too few distinct gammas for an exponent; {wrote}")
    else:
        print(f"fitted exponent p = {number(float(res['exponent']))} ± "
              f"{number(float(res['exponent_stderr']))} (n = {n_grok} paths that grokked); "
              f"{wrote}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``predict``, ``path`` and ``gamma-plot`` to ``subparsers``."""
    help_defaults = help_fragments()
    gamma_help = ("weight decays >= 0: comma list or log:START:STOP:NUM; default: the "
                  f"landscape's task's study list, as `train` uses ({help_defaults['gamma']}); "
                  "for an unknown task 7 values over 1.5 decades below the boundary's "
                  "balancing gamma")
    p = subparsers.add_parser(
        "predict", help="grokking times vs weight decay from a landscape",
        description="Integrate the reduced dynamics (Eq. 6) for a list of weight decays and "
                    "print t_overfit, t_grok, the closed and geometric forms and the fitted "
                    "exponent of t_grok ~ gamma^p.")
    _common(p, help_defaults)
    p.add_argument("--gamma", default=None, metavar="LIST", help=gamma_help)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=cmd_predict)

    p = subparsers.add_parser(
        "path", help="figure: one path on the train/test landscapes",
        description="Plot one path with the points A-E on the train and test landscapes "
                    "(like Fig. 6a-c) and the losses along it.")
    figure_help = ("output image; its suffix picks the format (.png, .pdf, .svg, ...); a "
                   "name without one gets .png appended")
    _common(p, help_defaults)
    p.add_argument("--gamma", type=float, default=None,
                   help="weight decay >= 0 (default: the 4th value of predict's default list, "
                        f"{help_defaults['path_gamma']})")
    p.add_argument("-o", "--output", required=True, help=figure_help)
    add_overwrite(p)
    p.add_argument("--json", action="store_true", help="print the path's events and points "
                   "A-E as JSON (the figure is written too)")
    p.set_defaults(func=cmd_path)

    p = subparsers.add_parser(
        "gamma-plot", help="figure: grokking time vs weight decay (log-log)",
        description="Plot t_grok, t_overfit and the closed/geometric forms against gamma "
                    "with the fitted power law.")
    _common(p, help_defaults)
    p.add_argument("--gamma", default=None, metavar="LIST", help=gamma_help)
    p.add_argument("-o", "--output", required=True, help=figure_help)
    add_overwrite(p)
    p.set_defaults(func=cmd_gamma_plot)
