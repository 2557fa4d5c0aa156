"""Subcommands ``predict``, ``path`` and ``gamma-plot`` for the main CLI.

``register(subparsers)`` adds them to an argparse subparsers object; each sets
``func(args) -> int``. Bad input raises `ReducedDynamicsError` (the main CLI prints
``error: <message>`` and exits with status 2).

Starts are ``--start ALPHA,M`` with ALPHA = w/w0; by default the study start of the
landscape's task (`TaskEntry.alpha0`, ``m0``: what `train` uses), else ALPHA at 85 % of the
grid's log-alpha range and m = 0.2 (`predict.default_start`). γ lists are comma lists or
``log:START:STOP:NUM``; by default the task's study list (`TaskEntry.gammas`), else 7 values
over 1.5 decades below the weight decay the boundary gradient can balance
(`predict.default_gammas`). The help texts list these defaults per task.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from reduced_dynamics.cli.gridspec import parse_list
from reduced_dynamics.cli.output import figure_output, save_figure
from reduced_dynamics.engine.interpolant import derivative_agreement
from reduced_dynamics.engine.predict import (
    ADAM_NOTE,
    TIME_UNITS,
    EventOptions,
    InterpolantOptions,
    PreparedLandscape,
    SolverOptions,
    analyze_path,
    default_gammas,
    default_start,
    kernels_compiled,
    predict_grokking_times,
    prepare_landscape,
    task_entry,
    unconverged_nodes,
)
from reduced_dynamics.errors import FileCheckError, InputError, bad_value


def _landscape(args: argparse.Namespace) -> PreparedLandscape:
    path = args.landscape
    if path is None:
        try:
            from reduced_dynamics.io.resources import default_landscape
        except ImportError:
            raise FileCheckError("no LANDSCAPE given and this installation ships no default "
                                 "landscape; pass a landscape file (.nc)") from None
        path = default_landscape()
    options = InterpolantOptions(transform=args.transform, smoothing=args.smoothing,
                                 monotone=args.monotone)
    return prepare_landscape(Path(path), options)


def _start(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise bad_value("--start", text, "ALPHA,M with ALPHA = w/w0 > 0 and M in [0, 1], "
                        "e.g. 30,0.2") from None


def _rate(name: str, value: float, *, positive: bool) -> float:
    ok = math.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        raise bad_value(name, value, "a finite number " + ("> 0" if positive else ">= 0"))
    return value


def _etas(args: argparse.Namespace, prep: PreparedLandscape) -> tuple[float, float]:
    """--eta-d/--eta-r, defaulting to the training rates of the landscape's task."""
    entry = task_entry(prep)
    d_default, r_default = (entry.train.eta_d, entry.train.eta_r) if entry else (1e-3, 1e-3)
    eta_d = d_default if args.eta_d is None else args.eta_d
    eta_r = r_default if args.eta_r is None else args.eta_r
    return (_rate("--eta-d", eta_d, positive=True), _rate("--eta-r", eta_r, positive=False))


def _options(args: argparse.Namespace) -> tuple[EventOptions, SolverOptions]:
    events = EventOptions(theta_train=args.theta_train, grok_on=args.grok_on,
                          theta_test=args.theta_test, acc_threshold=args.acc_threshold)
    solver = SolverOptions(rtol=args.rtol, atol=args.atol, t_max=args.t_max,
                           max_steps=args.max_steps)
    return events, solver


def _gammas(args: argparse.Namespace, prep: PreparedLandscape) -> np.ndarray:
    if args.gamma is None:
        return default_gammas(prep, args.theta_train)
    return parse_list("--gamma", args.gamma, minimum=0.0)


def _task_defaults() -> dict[str, str]:
    """Help-text fragments listing each registered task's defaults (`TaskEntry`)."""
    from reduced_dynamics.tasks import REGISTRY

    starts, gammas, path_gamma, etas = [], [], [], []
    for e in REGISTRY.values():
        alpha0 = e.alpha0.split(",")[0]
        starts.append(f"{e.name} {alpha0},{e.m0:g}")  # m0 = 0 for a task without m
        gammas.append(f"{e.name} {e.gammas}")
        g = parse_list("gamma", e.gammas, minimum=0.0)
        path_gamma.append(f"{e.name} {g[min(3, g.size - 1)]:.3g}")
        etas.append(f"{e.name} {e.train.eta_d:g}")
    return {"start": "; ".join(starts), "gamma": "; ".join(gammas),
            "path_gamma": "; ".join(path_gamma), "eta_d": "; ".join(etas)}


def _common(p: argparse.ArgumentParser, defaults: dict[str, str]) -> None:
    p.add_argument("landscape", nargs="?", default=None, metavar="LANDSCAPE",
                   help="landscape file (.nc); default: the shipped landscape")
    p.add_argument("--eta-d", type=float, default=None,
                   help="decoder learning rate eta_D > 0 (default: the landscape's task's "
                        f"training rate, as `train` uses: {defaults['eta_d']}; 1e-3 for "
                        "an unknown task)")
    p.add_argument("--eta-r", type=float, default=None,
                   help="representation learning rate eta_R >= 0 (default: as for --eta-d)")
    p.add_argument("--start", default=None, metavar="ALPHA,M",
                   help="start (alpha = w/w0, m); default: the landscape's task's study "
                        f"start, as `train` uses ({defaults['start']}); for an unknown "
                        "task alpha at 85%% of the grid's log range and m = 0.2")
    p.add_argument("--theta-train", type=float, default=0.05,
                   help="overfit / boundary contour: l_train <= THETA (default 0.05)")
    p.add_argument("--grok-on", choices=("acc", "loss"), default="acc",
                   help="grok when test acc >= --acc-threshold (default) or l_test <= "
                        "--theta-test")
    p.add_argument("--acc-threshold", type=float, default=0.95)
    p.add_argument("--theta-test", type=float, default=None)
    p.add_argument("--t-max", type=float, default=None,
                   help="end time in optimiser steps (> 1); default: 20x the time weight "
                        "decay needs to cross the grid")
    p.add_argument("--rtol", type=float, default=1e-6)
    p.add_argument("--atol", type=float, default=1e-9)
    p.add_argument("--max-steps", type=int, default=100_000)
    p.add_argument("--transform", choices=("log", "linear"), default="log",
                   help="interpolate ln(loss) (default) or the loss itself")
    p.add_argument("--smoothing", type=float, default=0.0,
                   help="smoothing spline strength (mean-square deviation in ln loss); 0 = off")
    p.add_argument("--monotone", action="store_true",
                   help="make train_loss non-increasing in w before interpolating")


def _prepare_run(args: argparse.Namespace, prep: PreparedLandscape, n_paths: int
                 ) -> tuple[float, float]:
    """The start to integrate from; warns (one line on stderr) when it lies where the probe
    did not converge, and says so when the integrator compiles first (cold numba cache)."""
    start = _start(args.start) or tuple(default_start(prep))
    bad = unconverged_nodes(prep, *start)
    if bad:
        where = ", ".join(f"alpha={a:.3g}" + ("" if math.isnan(m) else f" m={m:.3g}")
                          for a, m in bad[:4])
        print(f"warning: the start alpha={start[0]:g}, m={start[1]:g} lies in the unconverged "
              f"region of {prep.source} (the probe did not converge at the grid point(s) "
              f"{where}); predictions from there are unreliable", file=sys.stderr)
    if not kernels_compiled(n_paths):
        print("compiling the integrator (first use after install, ~20 s; cached afterwards)",
              file=sys.stderr, flush=True)
    return start


def _derivative_check(prep: PreparedLandscape) -> dict:
    """`interpolant.derivative_agreement` when the landscape has the envelope derivatives."""
    try:
        return derivative_agreement(prep.interp, prep.dataset)
    except FileCheckError:
        return {}


def _fmt(v: float) -> str:
    return "-" if not np.isfinite(v) else f"{v:.4g}"


def _json_value(v: object) -> object:
    if isinstance(v, (np.floating, float)):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def cmd_predict(args: argparse.Namespace) -> int:
    """Grokking times over a γ list, with closed and geometric forms and the fitted exponent."""
    prep = _landscape(args)
    eta_d, eta_r = _etas(args, prep)
    events, solver = _options(args)
    gam = _gammas(args, prep)
    start = _prepare_run(args, prep, gam.size)
    res = predict_grokking_times(prep, gam, eta_d, eta_r, start, events=events,
                                 solver=solver)
    cols = ("t_overfit", "t_grok", "delay", "t_closed", "t_geometric")
    rows = []
    for i, g in enumerate(res["gamma"].values):
        row = {"gamma": float(g)}
        row.update({c: float(res[c].values[i]) for c in cols})
        row["status"] = str(res["status"].values[i])
        rows.append(row)
    fit = {k: _json_value(res[k].item()) for k in ("exponent", "exponent_stderr", "n_fit")}
    check = _derivative_check(prep)
    _warn_overflow(res["status"].values, res["gamma"].values)
    if args.json:
        out = {"landscape": prep.source, "start": {"alpha": res.attrs["start_alpha"],
                                                   "m": res.attrs["start_m"]},
               "eta_d": eta_d, "eta_r": eta_r, "time_units": TIME_UNITS, "note": ADAM_NOTE,
               "rows": [{k: _json_value(v) for k, v in r.items()} for r in rows], **fit,
               "derivative_check": {k: _json_value(v) for k, v in check.items()}}
        print(json.dumps(out, indent=2))
        return 0
    print(f"landscape {prep.source}; start alpha = {res.attrs['start_alpha']:g}, "
          f"m = {res.attrs['start_m']:g}; eta_d = {eta_d:g}, eta_r = {eta_r:g}")
    print(f"times in {TIME_UNITS}; closed/geometric forms are measured from point C")
    head = ("gamma", "t_overfit", "t_grok", "delay", "closed", "geometric", "status")
    print("".join(f"{h:>12}" for h in head[:-1]) + f"  {head[-1]}")
    for r in rows:
        print("".join(f"{_fmt(r[k]):>12}" for k in ("gamma", *cols)) + f"  {r['status']}")
    p, se, n = fit["exponent"], fit["exponent_stderr"], fit["n_fit"]
    if p is None:
        print(f"fitted exponent: not available ({n} path(s) that grokked)")
    else:
        se_txt = f" ± {se:.3f}" if se is not None else ""
        print(f"fitted exponent: t_grok ~ gamma^p, p = {p:.3f}{se_txt} (n = {n}; "
              f"the LU mechanism predicts -1)")
    if check:
        parts = [f"{d}: median rel. err {_fmt(check[f'median_rel_err_{d}'])}, corr "
                 f"{_fmt(check[f'corr_{d}'])}" for d in ("dw", "dm") if f"corr_{d}" in check]
        print("interpolant vs probe envelope derivatives (converged nodes): " + "; ".join(parts))
    print(f"note: {ADAM_NOTE}")
    return 0


def _warn_overflow(status: object, gamma: object) -> None:
    """One `warning:` line naming the weight decays whose paths overflowed."""
    status = np.atleast_1d(np.asarray(status)).astype(str)
    bad = status == "overflow"
    if bad.any():
        gam = np.atleast_1d(np.asarray(gamma, float))[bad]
        print(f"warning: {int(bad.sum())} path(s) overflowed float64 (status overflow; gamma "
              f"{', '.join(f'{g:g}' for g in gam[:5])}): the rates eta_d, eta_r, gamma times the "
              "landscape's gradients are too large to integrate", file=sys.stderr)


def cmd_path(args: argparse.Namespace) -> int:
    """Figure of one path on the train/test landscapes with A–E, and losses along it."""
    from reduced_dynamics.plot.predictions import plot_path

    out, note = figure_output("--output", args.output)
    prep = _landscape(args)
    eta_d, eta_r = _etas(args, prep)
    if args.gamma is None:
        g = default_gammas(prep, args.theta_train)
        gamma = float(g[min(3, g.size - 1)])
    else:
        gamma = _rate("--gamma", args.gamma, positive=False)
    events, solver = _options(args)
    start = _prepare_run(args, prep, 1)
    res = analyze_path(prep, gamma, eta_d, eta_r, start, events=events, solver=solver)
    _warn_overflow(res["status"].item(), gamma)
    wrote = save_figure(plot_path(prep, res), out, note)
    pts = ", ".join(f"{p}: t={_fmt(t)} alpha={_fmt(w / prep.w0)} m={_fmt(m)}"
                    for p, t, w, m in zip(res["point"].values, res["t_point"].values,
                                          res["w_point"].values, res["m_point"].values))
    print(f"gamma = {gamma:g}: status {res['status'].item()}, t_grok = "
          f"{_fmt(float(res['t_grok']))}, {int(res['n_descents'])} test-loss descent(s)")
    print(pts)
    print(wrote)
    return 0


def cmd_gamma_plot(args: argparse.Namespace) -> int:
    """Figure of t_grok (and the closed/geometric forms) against γ, log-log, with the fit."""
    from reduced_dynamics.plot.predictions import plot_gamma

    out, note = figure_output("--output", args.output)
    prep = _landscape(args)
    eta_d, eta_r = _etas(args, prep)
    events, solver = _options(args)
    gam = _gammas(args, prep)
    start = _prepare_run(args, prep, gam.size)
    res = predict_grokking_times(prep, gam, eta_d, eta_r, start, events=events,
                                 solver=solver)
    _warn_overflow(res["status"].values, res["gamma"].values)
    wrote = save_figure(plot_gamma(res), out, note)
    print(f"fitted exponent p = {_fmt(float(res['exponent']))} ± "
          f"{_fmt(float(res['exponent_stderr']))}; {wrote}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``predict``, ``path`` and ``gamma-plot`` to ``subparsers``."""
    defaults = _task_defaults()
    gamma_help = ("weight decays >= 0: comma list or log:START:STOP:NUM; default: the "
                  f"landscape's task's study list, as `train` uses ({defaults['gamma']}); "
                  "for an unknown task 7 values over 1.5 decades below the boundary's "
                  "balancing gamma")
    p = subparsers.add_parser(
        "predict", help="grokking times vs weight decay from a landscape",
        description="Integrate the reduced dynamics (Eq. 6) for a list of weight decays and "
                    "print t_overfit, t_grok, the closed and geometric forms and the fitted "
                    "exponent of t_grok ~ gamma^p.")
    _common(p, defaults)
    p.add_argument("--gamma", default=None, metavar="LIST", help=gamma_help)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=cmd_predict)

    figure_help = ("output image; its suffix picks the format (.png, .pdf, .svg, ...); a "
                   "name without one gets .png appended")
    p = subparsers.add_parser(
        "path", help="figure: one path on the train/test landscapes",
        description="Plot one path with the points A-E on the train and test landscapes "
                    "(like Fig. 6a-c) and the losses along it.")
    _common(p, defaults)
    p.add_argument("--gamma", type=float, default=None,
                   help="weight decay >= 0 (default: the 4th value of predict's default list, "
                        f"{defaults['path_gamma']})")
    p.add_argument("-o", "--output", required=True, help=figure_help)
    p.set_defaults(func=cmd_path)

    p = subparsers.add_parser(
        "gamma-plot", help="figure: grokking time vs weight decay (log-log)",
        description="Plot t_grok, t_overfit and the closed/geometric forms against gamma "
                    "with the fitted power law.")
    _common(p, defaults)
    p.add_argument("--gamma", default=None, metavar="LIST", help=gamma_help)
    p.add_argument("-o", "--output", required=True, help=figure_help)
    p.set_defaults(func=cmd_gamma_plot)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry for these subcommands (the package CLI is `reduced_dynamics.cli.main`)."""
    from reduced_dynamics.errors import ReducedDynamicsError

    parser = argparse.ArgumentParser(prog="reduced-dynamics-engine")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ReducedDynamicsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


__all__ = ["InputError", "main", "register"]


if __name__ == "__main__":
    sys.exit(main())
