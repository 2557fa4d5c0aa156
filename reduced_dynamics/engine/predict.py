"""The entry points of the engine: integrate Eq. 6 on a landscape, grokking times vs γ, one
path with its analysis.

    d ln w/dt = −η_D (w⁻² ∂l̃_train/∂ln w + γ),     dm/dt = −η_R ∂l̃_train/∂m

Time is in optimiser steps when η_D, η_R are per-step learning rates. AdamW's decoupled
weight decay runs the slow (weight-decay-driven) phase on this clock; Adam's normalised
gradients do not, so fast-phase times (t_overfit, A → C) are gradient-flow times only.

Starts are given as (alpha, m) with alpha = w / w0 (as the full training runs are, SPEC §6);
on a landscape without ``m`` (1-D in w) as alpha alone, and the results carry no m.
Every function accepts the landscape as an ``xr.Dataset``, a path to a landscape file
(opened and checked with `io.open_landscape`) or a `PreparedLandscape` (`prepare`; reused,
so the interpolant is built once).

State and parameter axes (SPEC §11): ``w`` and ``m`` evolve; ``n_train`` is selected
before integrating (``n_train=N``, an exact grid value, see `parameters.select_n_train`).
`predict_grokking_times` with ``n_train=None`` on a landscape with that axis predicts for
every N; `integrate` and `analyze_path` need one N.

The steps below them, one module each (as scipy's ``integrate/_ivp``): `options` (what the
caller chooses), `prepare` (the landscape and its interpolant), `inputs` (rates and starts
checked, or defaulted from the landscape), `solve` (the kernel call: `driver` with the
`dopri` stepper), `results` (the Datasets), `fits` (the exponent of t_grok ∝ γ^p).
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import xarray as xr

from reduced_dynamics.engine import driver
from reduced_dynamics.engine import dynamics as dy
from reduced_dynamics.engine.fits import fit_exponent
from reduced_dynamics.engine.inputs import (
    check_decay_rates,
    check_starts,
    default_gammas,
    default_start,
    rates,
)
from reduced_dynamics.engine.options import EventOptions, InterpolantOptions, SolverOptions
from reduced_dynamics.engine.parameters import n_train_values
from reduced_dynamics.engine.path_analysis import analyze_record
from reduced_dynamics.engine.prepare import PreparedLandscape, opened, prepare_landscape
from reduced_dynamics.engine.results import integrate_dataset, path_dataset, predictions_dataset
from reduced_dynamics.engine.solve import check_size, end_time, run_kernel, time_grid
from reduced_dynamics.errors import InputError, bad_value
from reduced_dynamics.names import PathStatus


def integrate(
    landscape: xr.Dataset | str | os.PathLike | PreparedLandscape,
    starts: object,
    gamma: object,
    eta_d: object = 1e-3,
    eta_r: object = 1e-3,
    *,
    events: EventOptions | None = None,
    solver: SolverOptions | None = None,
    interpolant: InterpolantOptions | None = None,
    n_train: int | None = None,
    seed: int | None = None,
) -> xr.Dataset:
    """Integrate Eq. 6 for every (start, γ, η_D, η_R) combination.

    ``starts``: an (alpha, m) pair or a list of pairs (alphas on a landscape without m);
    ``gamma`` ≥ 0, ``eta_d`` > 0, ``eta_r`` ≥ 0: numbers or lists; ``n_train``: the
    training-set size on a landscape with that axis; ``seed``: that init seed's restart
    (None: the best over seeds, `prepare.prepare_landscape`). Returns a Dataset with dims (start,
    gamma, eta_d, eta_r), plus ``time`` for the sampled path and ``event`` = (overfit,
    grok, E, end): t_overfit, t_grok, t_E, t_end, delay = t_grok − t_overfit (NaN: did not
    happen), w_event/m_event, status (``ok``, ``left_domain``, ``max_steps``,
    ``no_grok_before_t_max``, ``overflow``), nfev, n_steps, and along the path w, m, alpha,
    train_loss, test_loss, train_acc, test_acc and ``ended`` (time > t_end: the state is
    held there).
    Without m on the landscape, every m output (`results.M_OUTPUTS`) is left out.
    """
    events = events or EventOptions()
    solver = with_grok_stop(solver, True)
    prep = prepare_landscape(landscape, interpolant, n_train=n_train, seed=seed)
    gam = rates("gamma", gamma, positive=False)
    etd = rates("eta_d", eta_d, positive=True)
    etr = rates("eta_r", eta_r, positive=False)
    st = check_starts(prep, starts)
    check_decay_rates(gam, etd)
    shape = (st.shape[0], gam.size, etd.size, etr.size)
    check_size(math.prod(shape), solver, False, "starts x gamma x eta_d x eta_r = "
                + " x ".join(map(str, shape)))
    t_max = end_time(prep, solver, gam, etd)
    t_out = time_grid(solver, t_max)
    idx = np.indices(shape).reshape(4, -1)
    alpha_m = st[idx[0]]
    par = np.column_stack([etd[idx[2]], etr[idx[3]], gam[idx[1]]])
    raw = run_kernel(prep, alpha_m, par, events, solver, t_out, t_max, record=False)
    return integrate_dataset(prep, raw, shape, st, gam, etd, etr, events, solver, t_max)


def with_grok_stop(solver: SolverOptions | None, default: bool) -> SolverOptions:
    """``solver`` (or the default options) with ``stop_at_grok=None`` resolved to
    ``default``: True where only the events matter (`integrate`, phase diagrams), False
    where the path after t_grok is analysed or compared (`predict_grokking_times`,
    `analyze_path`, `validate`)."""
    solver = solver or SolverOptions()
    if solver.stop_at_grok is None:
        solver = dataclasses.replace(solver, stop_at_grok=default)
    return solver


def integrate_paired(
    landscape: xr.Dataset | str | os.PathLike | PreparedLandscape,
    starts: object,
    gamma: object,
    eta_d: object = 1e-3,
    eta_r: object = 1e-3,
    *,
    events: EventOptions | None = None,
    solver: SolverOptions | None = None,
    interpolant: InterpolantOptions | None = None,
    n_train: int | None = None,
    seed: int | None = None,
) -> xr.Dataset:
    """Integrate Eq. 6 for paths zipped row by row: path p starts at starts[p] with
    gamma[p], eta_d[p], eta_r[p] (a single number is used for every path). One batched
    kernel call, as `integrate`, without its outer product; the result has one dim
    ``path`` (its variables as `integrate`'s). By default the paths run on after t_grok
    (``stop_at_grok=None`` → False): `validate` compares the whole path with a run's."""
    events = events or EventOptions()
    solver = with_grok_stop(solver, False)
    prep = prepare_landscape(landscape, interpolant, n_train=n_train, seed=seed)
    st = check_starts(prep, starts)
    n = st.shape[0]
    cols = {}
    for name, value, positive in (("gamma", gamma, False), ("eta_d", eta_d, True),
                                  ("eta_r", eta_r, False)):
        v = rates(name, value, positive=positive)
        if v.size not in (1, n):
            raise bad_value(name, value, f"one number, or {n} (one per start)")
        cols[name] = np.broadcast_to(v, (n,)).astype(float)
    check_decay_rates(cols["gamma"], cols["eta_d"])
    check_size(n, solver, False, f"{n} paired paths")
    t_max = end_time(prep, solver, cols["gamma"], cols["eta_d"])
    t_out = time_grid(solver, t_max)
    par = np.column_stack([cols["eta_d"], cols["eta_r"], cols["gamma"]])
    raw = run_kernel(prep, st, par, events, solver, t_out, t_max, record=False)
    return integrate_dataset(prep, raw, (n,), st, cols["gamma"], cols["eta_d"],
                             cols["eta_r"], events, solver, t_max, paired=True)


def _analyzed_paths(prep: PreparedLandscape, start: tuple[float, float], gam: np.ndarray,
                    eta_d: float, eta_r: float, events: EventOptions, solver: SolverOptions
                    ) -> tuple[dict, list[dict], np.ndarray, float]:
    one = np.asarray(start, dtype=object)
    st = check_starts(prep, [start] if one.ndim == 1 and one.size == 2 else start)  # one start
    etd = rates("eta_d", eta_d, positive=True)
    etr = rates("eta_r", eta_r, positive=False)
    if etd.size != 1 or etr.size != 1:
        raise InputError("`eta_d` and `eta_r` must be single numbers here; use integrate() "
                         "for sweeps over learning rates")
    check_decay_rates(gam, etd)
    check_size(gam.size, solver, True, f"1 start x {gam.size} gamma(s)")
    t_max = end_time(prep, solver, gam, etd)
    t_out = time_grid(solver, t_max)
    n = gam.size
    par = np.column_stack([np.full(n, etd[0]), np.full(n, etr[0]), gam])
    raw = run_kernel(prep, np.repeat(st, n, axis=0), par, events, solver, t_out, t_max,
                     record=True)
    analyses = []
    for p in range(n):
        k = int(raw["rec_n"][p])
        a = analyze_record(prep.interp, raw["rec_t"][p, :k], raw["rec_y"][p, :k, 0],
                           raw["rec_y"][p, :k, 1], float(etd[0]), float(etr[0]),
                           float(gam[p]), events.theta_train,
                           stationary=bool(np.isfinite(raw["ev_t"][p, dy.EV_E])))
        a["record_full"] = bool(raw["counts"][p, driver.C_REC_FULL])
        if not (np.isfinite(raw["ev_t"][p, dy.EV_OVERFIT])
                and np.isfinite(raw["ev_t"][p, dy.EV_GROK])):
            # the forms predict a grokking time: none for a path that never overfits and groks
            a["t_closed"] = a["t_geometric"] = float("nan")
        if raw["status"][p] == PathStatus.OVERFLOW:  # the path never moved: nothing to measure
            for key in ("t_closed", "t_geometric", "w_c", "L", "h", "theta"):
                a[key] = float("nan")
            for key in ("t_point", "w_point", "m_point"):
                a[key][1:] = np.nan
        analyses.append(a)
    return raw, analyses, st[0], t_max


def predict_grokking_times(
    landscape: xr.Dataset | str | os.PathLike | PreparedLandscape,
    gamma: object = None,
    eta_d: float = 1e-3,
    eta_r: float = 1e-3,
    start: tuple[float, float] | float | None = None,
    *,
    events: EventOptions | None = None,
    solver: SolverOptions | None = None,
    interpolant: InterpolantOptions | None = None,
    n_train: int | list[int] | None = None,
    seed: int | None = None,
) -> xr.Dataset:
    """Grokking times over a γ sweep from one start, with the fitted exponent of t_grok ∝ γ^p.

    ``gamma=None``: `inputs.default_gammas`; ``start=None``: `inputs.default_start` (alpha,
    m; alpha alone on a landscape without m). Returns a Dataset over ``gamma``: t_overfit, t_grok,
    delay, t_E, status, the closed form t_closed = ln(w_C/w_c)/(η_D γ) and the geometric
    form t_geometric = (L + h tan θ)/(η_D γ) (both from C; `path_analysis`; NaN for a path
    that does not both overfit and grok: they predict a grokking time), w_c, L, h,
    theta, t_C, n_descents, the points A–E (t_point, w_point, m_point over ``point``), and
    the fit (exponent, exponent_stderr, intercept, n_fit) of ln t_grok on ln γ over paths
    that grokked (finite t_grok > 0). Without m: no m, h, theta, m_point.

    ``n_train`` (a landscape with that parameter axis): one training-set size (a scalar
    coordinate of the result), a list of them, or None for every N on the grid; with
    several, the result has an ``n_train`` dim, and the default γ sweep and start are
    those of the largest N, so that every N runs the same sweep. ``seed``: that init
    seed's restart (None: the best over seeds); the attribute ``restart`` says which.
    """
    events = events or EventOptions()
    solver = with_grok_stop(solver, False)
    one_n = n_train is not None and np.ndim(n_train) == 0
    if isinstance(landscape, PreparedLandscape) or one_n:
        prep = prepare_landscape(landscape, interpolant, n_train=n_train, seed=seed)
        return _predict_one(prep, gamma, eta_d, eta_r, start, events, solver)
    ds, source = opened(landscape)
    values = n_train_values(ds)
    if not values:
        prep = prepare_landscape(ds, interpolant, n_train=n_train, source=source, seed=seed)
        return _predict_one(prep, gamma, eta_d, eta_r, start, events, solver)
    wanted = values if n_train is None else list(n_train)  # type: ignore[arg-type]
    if len(wanted) == 0:
        raise bad_value("n_train", n_train, f"training-set sizes from {values}, or None")
    preps = [prepare_landscape(ds, interpolant, n_train=v, source=source, seed=seed)
             for v in wanted]
    ref = preps[int(np.argmax([p.parameters["n_train"] for p in preps]))]
    gam = (default_gammas(ref, events.theta_train) if gamma is None
           else rates("gamma", gamma, positive=False))
    start = default_start(ref) if start is None else start
    parts = [_predict_one(p, gam, eta_d, eta_r, start, events, solver) for p in preps]
    return xr.concat(parts, dim="n_train", combine_attrs="drop_conflicts")


def _predict_one(prep: PreparedLandscape, gamma: object, eta_d: float, eta_r: float,
                 start: object, events: EventOptions, solver: SolverOptions) -> xr.Dataset:
    """`predict_grokking_times` on one prepared landscape (state axes only)."""
    gam = (default_gammas(prep, events.theta_train) if gamma is None
           else rates("gamma", gamma, positive=False))
    start = default_start(prep) if start is None else start
    raw, analyses, st, t_max = _analyzed_paths(prep, start, gam, eta_d, eta_r, events, solver)
    # t_grok is an event before the path ended, however it ended (a path may grok and then
    # leave the grid); paths that never grokked have t_grok = NaN and drop out of the fit.
    fit = fit_exponent(gam, raw["ev_t"][:, dy.EV_GROK])
    return predictions_dataset(prep, raw, analyses, st, gam, float(eta_d), float(eta_r), fit,
                               events, solver, t_max)


def analyze_path(
    landscape: xr.Dataset | str | os.PathLike | PreparedLandscape,
    gamma: float,
    eta_d: float = 1e-3,
    eta_r: float = 1e-3,
    start: tuple[float, float] | None = None,
    *,
    events: EventOptions | None = None,
    solver: SolverOptions | None = None,
    interpolant: InterpolantOptions | None = None,
    n_train: int | None = None,
    seed: int | None = None,
) -> xr.Dataset:
    """One path, densely recorded (dim ``sample``: t, w, m, losses, speed), with the points
    A–E (dim ``point``), the number of test-loss descents and the closed/geometric forms.
    ``n_train``: the training-set size on a landscape with that axis (required there);
    ``seed``: that init seed's restart (None: the best over seeds)."""
    events = events or EventOptions()
    solver = with_grok_stop(solver, False)
    prep = prepare_landscape(landscape, interpolant, n_train=n_train, seed=seed)
    gam = rates("gamma", gamma, positive=False)
    if gam.size != 1:
        raise bad_value("gamma", gamma, "a single number >= 0 for one path")
    start = default_start(prep) if start is None else start
    raw, analyses, st, t_max = _analyzed_paths(prep, start, gam, eta_d, eta_r, events, solver)
    return path_dataset(prep, raw, analyses[0], st, float(gam[0]), float(eta_d), float(eta_r),
                        events, solver, t_max)
