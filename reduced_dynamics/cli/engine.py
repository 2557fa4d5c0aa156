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
import os
from pathlib import Path

import numpy as np
import xarray as xr

from reduced_dynamics.cli.arguments import (
    add_common,
    checked_rate,
    gammas_of,
    n_gammas,
    open_landscape_arg,
    options_of,
    prepared_slice,
    rates_of,
    start_of_run,
    warn_overflow,
)
from reduced_dynamics.cli.format import dumps, number, plain
from reduced_dynamics.cli.output import add_overwrite, figure_output, save_figure
from reduced_dynamics.engine.interpolant import derivative_agreement
from reduced_dynamics.engine.parameters import critical_n_train, n_train_values
from reduced_dynamics.engine.prepare import PreparedLandscape
from reduced_dynamics.engine.results import ADAM_NOTE, TIME_UNITS
from reduced_dynamics.errors import FileCheckError, InputError
from reduced_dynamics.study import analyze_path, help_fragments, predict_grokking_times


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
    ds, source = open_landscape_arg(args)
    values = n_train_values(ds)
    # the reference slice: --n-train, else the largest N (whose γ sweep and start every N
    # then shares, as `predict_grokking_times` does)
    prep = prepared_slice(args, ds, source, args.n_train if args.n_train is not None or not values
                    else max(values))
    eta_d, eta_r = rates_of(args)
    events, solver = options_of(args, ds)
    gam = gammas_of(args)
    every_n = bool(values) and args.n_train is None
    start = start_of_run(args, prep, n_gammas(gam, prep, args))
    # every N: the API opens the file and runs each slice
    target = Path(source) if every_n else prep
    res = predict_grokking_times(target, gam, eta_d, eta_r, start, events=events,
                                 solver=solver, interpolant=prep.options,
                                 seed=args.seed if every_n else None)
    # (one slice: ``prep`` is already that restart, `open_landscape_arg`)
    eta_d, eta_r = float(res.attrs["eta_d"]), float(res.attrs["eta_r"])
    rows, fits = _rows(res), _fits(res)
    check = _derivative_check(prep)
    warn_overflow(res["status"].values, res["gamma"].values)
    critical = critical_n_train(ds) if values else None
    if args.json:
        start_out = {"alpha": res.attrs["start_alpha"]}
        if prep.has_m:
            start_out["m"] = res.attrs["start_m"]
        out = {"landscape": source, "restart": prep.restart, "start": start_out,
               "eta_d": eta_d}
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
    print(f"landscape {source}{n_text}; restart: {prep.restart}; "
          f"{_start_text(res, eta_d, eta_r, prep.has_m)}")
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
    ds, source = open_landscape_arg(args)
    values = n_train_values(ds)
    if values and args.n_train is None:
        raise InputError(f"`{what}` draws one training-set size: landscape {source} has "
                         f"n_train values {values}; choose one with `--n-train`")
    return prepared_slice(args, ds, source, args.n_train)


def cmd_path(args: argparse.Namespace) -> int:
    """Figure of one path on the train/test landscapes with A–E, and losses along it (a
    landscape without m: the loss curves over alpha, and alpha and the losses over t)."""
    from reduced_dynamics.plot.predictions import plot_path, plot_path_1d

    out, note = figure_output("--output", args.output, overwrite=args.overwrite)
    prep = _one_landscape(args, "path")
    eta_d, eta_r = rates_of(args)
    gamma = None if args.gamma is None else checked_rate("--gamma", args.gamma, positive=False)
    events, solver = options_of(args, prep.dataset)
    start = start_of_run(args, prep, 1)
    res = analyze_path(prep, gamma, eta_d, eta_r, start, events=events, solver=solver)
    gamma = float(res.attrs["gamma"])
    warn_overflow(res["status"].item(), gamma)
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
    eta_d, eta_r = rates_of(args)
    events, solver = options_of(args, prep.dataset)
    gam = gammas_of(args)
    start = start_of_run(args, prep, n_gammas(gam, prep, args))
    res = predict_grokking_times(prep, gam, eta_d, eta_r, start, events=events,
                                 solver=solver)
    warn_overflow(res["status"].values, res["gamma"].values)
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


def compile_kernels() -> dict[str, float | bool]:
    """Compile (or load from numba's on-disk cache) every kernel a prediction uses, by
    integrating two short paths on a synthetic landscape; returns whether the cache was
    warm before and the seconds taken."""
    import time

    from reduced_dynamics.engine.predict import analyze_path, integrate
    from reduced_dynamics.engine.prepare import prepare_landscape
    from reduced_dynamics.engine.solve import MIN_PARALLEL, kernels_compiled
    from reduced_dynamics.testing.synthetic import synthetic_landscape

    warm = kernels_compiled()
    t0 = time.perf_counter()
    prep = prepare_landscape(synthetic_landscape())
    integrate(prep, [(35.5, 0.2)] * MIN_PARALLEL, [1e-5])
    analyze_path(prep, 1e-5, start=(35.5, 0.2))
    return {"cached_before": warm, "seconds": time.perf_counter() - t0}


def cmd_compile(args: argparse.Namespace) -> int:
    """``reduced-dynamics compile``: the integrator's kernels into numba's cache."""
    from reduced_dynamics.engine._jit import user_cache_dir

    print("compiling the integrator's kernels (once per install; ~15 s) ...", flush=True)
    got = compile_kernels()
    state = "were already cached" if got["cached_before"] else "compiled"
    print(f"the kernels {state} ({got['seconds']:.1f} s); cache: "
          f"{os.environ.get('NUMBA_CACHE_DIR') or user_cache_dir()}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``predict``, ``path``, ``gamma-plot`` and ``compile`` to ``subparsers``."""
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
    add_common(p, help_defaults)
    p.add_argument("--gamma", default=None, metavar="LIST", help=gamma_help)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=cmd_predict)

    p = subparsers.add_parser(
        "path", help="figure: one path on the train/test landscapes",
        description="Plot one path with the points A-E on the train and test landscapes "
                    "(like Fig. 6a-c) and the losses along it.")
    figure_help = ("output image; its suffix picks the format (.png, .pdf, .svg, ...); a "
                   "name without one gets .png appended")
    add_common(p, help_defaults)
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
    add_common(p, help_defaults)
    p.add_argument("--gamma", default=None, metavar="LIST", help=gamma_help)
    p.add_argument("-o", "--output", required=True, help=figure_help)
    add_overwrite(p)
    p.set_defaults(func=cmd_gamma_plot)

    p = subparsers.add_parser(
        "compile", help="compile the integrator ahead of time (once after an install)",
        description="Compile the numba kernels of the integrator into the on-disk cache, so "
                    "that the first predict after an install does not wait for them.")
    p.set_defaults(func=cmd_compile)
