"""The arguments the prediction commands share (``predict``, ``path``, ``gamma-plot``,
``datasize``): how they are declared (`add_common`) and read back (the landscape, its
slice, the start, the rates, the event and solver options), and the notes they print.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import xarray as xr

from reduced_dynamics.engine.options import EventOptions, InterpolantOptions, SolverOptions
from reduced_dynamics.engine.parameters import grok_threshold_of, select_n_train
from reduced_dynamics.engine.prepare import PreparedLandscape, prepare_landscape
from reduced_dynamics.engine.solve import kernels_compiled
from reduced_dynamics.errors import FileCheckError, bad_value
from reduced_dynamics.gridspec import parse_list
from reduced_dynamics.io.landscape_file import open_landscape
from reduced_dynamics.names import ACC_THRESHOLD, BOUNDARY_LOSS, SOLVER_METHODS
from reduced_dynamics.study import default_events, study_defaults


def open_landscape_arg(args: argparse.Namespace) -> tuple[xr.Dataset, str]:
    """The checked landscape file (LANDSCAPE or the shipped default) and its path; with
    ``--seed S`` the values of that restart (`landscape.restarts.restart_of`)."""
    path = args.landscape
    if path is None:
        try:
            from reduced_dynamics.io.resources import default_landscape
        except ImportError:
            raise FileCheckError("no LANDSCAPE given and this installation ships no default "
                                 "landscape; pass a landscape file (.nc)") from None
        path = default_landscape()
    ds = open_landscape(Path(path))
    if getattr(args, "seed", None) is not None:
        from reduced_dynamics.landscape.restarts import restart_of

        ds = restart_of(ds, args.seed, path)
    return ds, str(path)


def prepared_slice(args: argparse.Namespace, ds: xr.Dataset, source: str,
                   n_train: int | None) -> PreparedLandscape:
    """The landscape at ``n_train`` (an exact grid value; None without that axis)."""
    return prepare_landscape(select_n_train(ds, n_train, name="--n-train", source=source),
                             interpolant_of(args), source=source)


def interpolant_of(args: argparse.Namespace) -> InterpolantOptions:
    """--transform, --smoothing, --monotone."""
    return InterpolantOptions(transform=args.transform, smoothing=args.smoothing,
                              monotone=args.monotone)


def parse_start(text: str | None, has_m: bool = True) -> tuple[float, float] | float | None:
    """--start ALPHA,M (ALPHA alone without m) as numbers; None when not given."""
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


def checked_rate(name: str, value: float, *, positive: bool) -> float:
    """``value`` when finite and > 0 (``positive``) or >= 0; `InputError` naming ``name``."""
    ok = math.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        raise bad_value(name, value, "a finite number " + ("> 0" if positive else ">= 0"))
    return value


def rates_of(args: argparse.Namespace) -> tuple[float | None, float | None]:
    """--eta-d/--eta-r (None: the landscape's task's training rates, `study`)."""
    eta_d = None if args.eta_d is None else checked_rate("--eta-d", args.eta_d, positive=True)
    eta_r = None if args.eta_r is None else checked_rate("--eta-r", args.eta_r, positive=False)
    return eta_d, eta_r


def options_of(args: argparse.Namespace, ds: xr.Dataset) -> tuple[EventOptions, SolverOptions]:
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
                           max_steps=args.max_steps, method=args.method,
                           step_cap=args.step_cap, stop_at_grok=args.stop_at_grok)
    return events, solver


def gammas_of(args: argparse.Namespace) -> np.ndarray | None:
    """--gamma (None: the landscape's task's study list, `study`)."""
    return None if args.gamma is None else parse_list("--gamma", args.gamma, minimum=0.0)


def add_common(p: argparse.ArgumentParser, shown: dict[str, str], *,
               theta_default: float = BOUNDARY_LOSS, n_train_list: bool = False) -> None:
    """The arguments every prediction command shares (``shown``: `study.help_fragments`):
    the landscape, rates, start, ``--n-train`` (one N, or with ``n_train_list`` a comma
    list), events (``--theta-train`` defaulting to ``theta_default``), solver and
    interpolant options."""
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
    if n_train_list:
        p.add_argument("--n-train", default=None, metavar="LIST",
                       help="training-set sizes, a comma list of the landscape's n_train "
                            "grid values (default: every N; N is not interpolated)")
    else:
        p.add_argument("--n-train", type=int, default=None, metavar="N",
                       help="training-set size, on a landscape with an n_train axis: one of "
                            "its grid values (N is not interpolated)")
    p.add_argument("--seed", type=int, default=None, metavar="S",
                   help="use the restart of init seed S (a landscape probed for several "
                        "seeds); default: the best over seeds")
    p.add_argument("--theta-train", type=float, default=theta_default,
                   help=f"overfit / boundary contour: l_train <= THETA (default {theta_default})")
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
                   help="relative error tolerance of the integrator's steps (default 1e-6)")
    p.add_argument("--atol", type=float, default=1e-6,
                   help="absolute error tolerance of the steps, in u = ln w and m "
                        "(default 1e-6)")
    p.add_argument("--method", choices=SOLVER_METHODS, default="rosenbrock",
                   help="integrator step: the L-stable Rosenbrock 4(3) (default; stable on "
                        "stiff m valleys) or the explicit Dormand-Prince 5(4) (scipy's RK45)")
    p.add_argument("--step-cap", type=float, default=None, metavar="CELLS",
                   help="largest move per step in grid cells (default: no cap)")
    p.add_argument("--stop-at-grok", action=argparse.BooleanOptionalAction, default=None,
                   help="end each path at t_grok (default: on for phase diagrams, off "
                        "where the path after t_grok is analysed: predict, path, validate)")
    p.add_argument("--max-steps", type=int, default=100_000,
                   help="integrator steps per path before it ends with status max_steps "
                        "(default 100000)")
    add_interpolant_options(p)


def add_interpolant_options(p: argparse.ArgumentParser) -> None:
    """--transform, --smoothing, --monotone (read back by `interpolant_of`)."""
    p.add_argument("--transform", choices=("log", "linear"), default="log",
                   help="interpolate ln(loss) (default) or the loss itself")
    p.add_argument("--smoothing", type=float, default=0.0,
                   help="smoothing spline strength (mean-square deviation in ln loss); 0 = off")
    p.add_argument("--monotone", action="store_true",
                   help="make train_loss non-increasing in w before interpolating")


def n_gammas(gam: np.ndarray | None, prep: PreparedLandscape, args: argparse.Namespace
             ) -> int:
    """How many paths a γ list (None: the study list) integrates."""
    return len(study_defaults(prep, args.theta_train).gammas) if gam is None else gam.size


def start_of_run(args: argparse.Namespace, prep: PreparedLandscape | None, n_paths: int
                 ) -> tuple[float, float] | float | None:
    """--start (None: the task's study start, `study`; ``prep`` None: an (alpha, m) pair),
    and a note when the integrator compiles first (cold numba cache). The API warns about
    an unconverged start."""
    start = parse_start(args.start, prep is None or prep.has_m)
    if not kernels_compiled(n_paths):
        print("compiling the integrator (first use after install, ~15 s; cached afterwards; "
              "`reduced-dynamics compile` does it ahead of time)", file=sys.stderr, flush=True)
    return start


def warn_overflow(status: object, gamma: object) -> None:
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
