"""The predicted phase diagram (SPEC §15): Eq. 6 integrated from every cell's start with
its rates by the engine (`engine.predict.integrate`, one batched call per training-set
size), up to t_max = T and stopped at the test event (nothing after it changes the phase);
t_train = t_overfit and t_test = t_grok of the path, the events on the interpolated
accuracies (or test loss); classified by `rule.classify`.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import warnings

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_int, check_real, check_type
from reduced_dynamics.engine.options import EventOptions, InterpolantOptions, SolverOptions
from reduced_dynamics.errors import InputError, bad_value
from reduced_dynamics.io.schema import now_iso
from reduced_dynamics.names import PHASE_T, PHASE_TAU, PHASE_VAR_META, PathStatus, flag_attrs
from reduced_dynamics.phases.rule import (
    PhaseThresholds,
    check_budget,
    check_grid,
    phase_dataset,
    within,
)


def _fixed(name: str, value: object, grid: dict, *, positive: bool) -> float | None:
    """A parameter not on the grid: None or one finite number (> 0 or >= 0)."""
    if value is None:
        return None
    if name in grid:
        raise InputError(f"`{name}` = {value!r} is also a grid axis; give it once: on the "
                         f"grid (`grid[{name!r}]`) or as one value")
    return check_real(name, value, low=0.0, low_open=positive,
                      expected=f"one finite number {'> 0' if positive else '>= 0'} "
                      "(the value of every cell; a grid axis goes into `grid`)")


def predicted_phases(
    landscape: xr.Dataset | str | os.PathLike,
    *,
    grid: dict,
    T: float = PHASE_T,
    tau: float = PHASE_TAU,
    eta_d: float | None = None,
    gamma: float | None = None,
    eta_r: float | None = None,
    start: tuple[float, float] | float | None = None,
    n_train: int | None = None,
    thresholds: PhaseThresholds | None = None,
    solver: SolverOptions | None = None,
    interpolant: InterpolantOptions | None = None,
    seed: int | None = None,
    source: str | None = None,
) -> xr.Dataset:
    """The predicted phase diagram (SPEC §15) of the reduced dynamics (Eq. 6) over
    ``grid`` (`check_grid`: two of eta_d, gamma, alpha0, m0, n_train).

    What is not on the grid is one value for every cell, by default the landscape's task's
    study value (`study.study_defaults`): ``eta_d``, ``eta_r``, ``start`` = (alpha0, m0)
    (alpha alone on a landscape without m; a grid axis alpha0 or m0 replaces that part),
    ``gamma`` (the study's path γ, `study.default_path_gamma`); ``n_train`` is needed on a
    landscape with that axis (a grid value). ``thresholds``: default the landscape's task's
    (`PhaseThresholds.of`). ``solver``: the engine's options (default: stop at the test
    event, two output times); its ``t_max`` is set to T. ``seed``: that init seed's
    restart. ``source``: the name shown for a Dataset. Returns the Dataset of
    `io.phases_file` (dims named after the grid axes; ``phase``, ``t_train``, ``t_test``,
    ``path_status``).
    """
    from reduced_dynamics.engine.parameters import n_train_values
    from reduced_dynamics.engine.prepare import opened, prepare_landscape
    from reduced_dynamics.landscape.restarts import check_restart_seed
    from reduced_dynamics.study import check_arguments, study_defaults, with_restart

    check_arguments(landscape, start=start, solver=solver, interpolant=interpolant)
    axes = check_grid(grid)
    T, tau = check_budget(T, tau)
    fixed = {"eta_d": _fixed("eta_d", eta_d, axes, positive=True),
             "gamma": _fixed("gamma", gamma, axes, positive=False),
             "eta_r": _fixed("eta_r", eta_r, {}, positive=False)}
    if n_train is not None:
        check_int("n_train", n_train, 1, expected="a training-set size (an integer >= 1; a "
                  "grid value of the landscape) or None")
        if "n_train" in axes:
            raise InputError(f"`n_train` = {n_train!r} is also a grid axis; give it once")
    check_restart_seed(seed)
    check_type("thresholds", thresholds, PhaseThresholds, "a PhaseThresholds or None",
               optional=True)
    check_type("source", source, str, "a str (the name shown in messages) or None",
               optional=True)
    ds, name = opened(landscape)
    source = source or name
    ds = with_restart(ds, seed)  # type: ignore[assignment]
    values = n_train_values(ds)
    sizes: list[int | None]
    if "n_train" in axes:
        if not values:
            raise InputError(f"`grid['n_train']`: landscape {source} has no n_train axis (dims "
                             f"{list(ds.sizes)}); use a (w, m, n_train) landscape or another "
                             "grid axis")
        sizes = [int(n) for n in axes["n_train"]]
    else:
        sizes = [n_train]
    preps = [prepare_landscape(ds, interpolant, n_train=n, source=source) for n in sizes]
    ref = preps[-1]
    if "m0" in axes and not ref.has_m:
        raise InputError(f"`grid['m0']`: landscape {source} has no m axis (dims "
                         f"{list(ds.sizes)}); use alpha0, eta_d, gamma or n_train")
    d = study_defaults(ref)
    from reduced_dynamics.study import default_path_gamma

    alpha_fixed, m_fixed = _start_parts(start, d.start, ref.has_m)
    par = {
        "eta_d": axes.get("eta_d", np.array([fixed["eta_d"] if fixed["eta_d"] is not None
                                             else d.eta_d])),
        "gamma": axes.get("gamma", np.array([fixed["gamma"] if fixed["gamma"] is not None
                                             else default_path_gamma(d.gammas)])),
        "alpha0": axes.get("alpha0", np.array([alpha_fixed])),
        "m0": axes.get("m0", np.array([m_fixed])),
    }
    eta_r = fixed["eta_r"] if fixed["eta_r"] is not None else d.eta_r
    thresholds = thresholds or PhaseThresholds.of(ds)
    events = thresholds.events()
    solver = dataclasses.replace(solver or SolverOptions(stop_at_grok=True, n_times=2),
                                 t_max=T)
    starts = [(a, m) for a, m in itertools.product(par["alpha0"], par["m0"])]
    _check_starts(preps, starts, "alpha0" in axes or "m0" in axes)
    parts = [_predict_slice(p, starts, par, eta_r, events, solver) for p in preps]
    t_train = np.stack([q[0] for q in parts])  # (n_train, alpha0, m0, gamma, eta_d)
    t_test = np.stack([q[1] for q in parts])
    status = np.stack([q[2] for q in parts])
    order = ("n_train", "alpha0", "m0", "gamma", "eta_d")
    keep = [order.index(a) for a in axes]
    index = tuple(slice(None) if k in axes else 0 for k in order)

    def on_grid(a: np.ndarray) -> np.ndarray:
        sub = a[index]
        kept = sorted(keep)
        return np.transpose(sub, [kept.index(k) for k in keep])

    t_train, t_test = within(on_grid(t_train), T), within(on_grid(t_test), T)
    attrs = {
        "diagram": "predicted", "title": f"predicted phase diagram (SPEC 15) of {source}",
        "landscape_source": source, "restart": ref.restart,
        "landscape_date_created": str(ds.attrs.get("date_created", "")),
        "eta_r": float(eta_r), "eta_r_source": "given" if fixed["eta_r"] is not None
        else d.source, "defaults": d.source, "w0": float(ref.w0),
        "note": "gradient-flow ODE: the weight-decay-driven slow phase runs on AdamW's "
                "clock; fast, gradient-driven phases (t_train) do not (SPEC 13)",
        "history": f"{now_iso()} reduced_dynamics.phases.predicted_phases({source!r})",
    }
    for k in ("eta_d", "gamma", "alpha0", "m0"):
        if k not in axes and not (k == "m0" and not ref.has_m):
            attrs[k] = float(par[k][0])
    if "n_train" not in axes and sizes[0] is not None:
        attrs["n_train"] = int(sizes[0])
    out = phase_dataset(axes, t_train, t_test, T=T, tau=tau, thresholds=thresholds,
                        task=ds.attrs, attrs=attrs)
    out["path_status"] = (tuple(axes), on_grid(status).astype(np.int8),
                          {"long_name": PHASE_VAR_META["path_status"][0], "units": "1",
                           **flag_attrs(PathStatus)})
    return out


def _start_parts(start: object, default: tuple[float, float], has_m: bool
                 ) -> tuple[float, float]:
    """(alpha0, m0) of ``start`` (None: the study start; alpha alone without m)."""
    if start is None:
        return float(default[0]), float(default[1]) if has_m else 0.0
    arr = np.atleast_1d(np.asarray(start, dtype=float))
    if has_m and arr.size == 2:
        return float(arr[0]), float(arr[1])
    if not has_m and (arr.size == 1 or (arr.size == 2 and arr[1] == 0)):
        return float(arr[0]), 0.0  # (alpha, 0): a runs file's m0 of a task without m
    raise bad_value("start", start, "one (alpha0, m0) pair" if has_m else
                    "one alpha0 (this landscape has no m)")


def _check_starts(preps: list, starts: list[tuple[float, float]], on_grid: bool) -> None:
    """Every start inside every slice's grid (`engine.inputs.check_starts`, naming the grid
    axis when the starts are on it); one `UnconvergedStartWarning` for those in a cell where
    the probe did not converge."""
    from reduced_dynamics.engine.inputs import check_starts
    from reduced_dynamics.engine.prepare import unconverged_nodes
    from reduced_dynamics.study import UnconvergedStartWarning

    for prep in preps:
        pairs = starts if prep.has_m else [a for a, _ in starts]
        try:
            check_starts(prep, pairs)
        except InputError as exc:
            where = "`grid` (alpha0, m0)" if on_grid else "`start`"
            raise InputError(f"{where}: {exc}") from None
    bad = sorted({(a, m) for prep in preps for a, m in starts
                  if unconverged_nodes(prep, a, m if prep.has_m else 0.0)})
    if bad:
        shown = ", ".join(f"({a:g}, {m:g})" for a, m in bad[:4])
        warnings.warn(f"{len(bad)} start(s) (alpha0, m0) lie in the unconverged region of "
                      f"{preps[0].source}, e.g. {shown}: the predicted phases there are "
                      "unreliable", UnconvergedStartWarning, stacklevel=3)


def _predict_slice(prep: object, starts: list[tuple[float, float]], par: dict,
                   eta_r: float, events: EventOptions, solver: SolverOptions
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """t_overfit, t_grok and the status code of every (alpha0, m0, gamma, eta_d) on one
    slice: one batched `engine.predict.integrate` call."""
    from reduced_dynamics.engine.predict import integrate

    pairs = starts if prep.has_m else [a for a, _ in starts]  # type: ignore[attr-defined]
    res = integrate(prep, pairs, par["gamma"], par["eta_d"], [eta_r],  # type: ignore[arg-type]
                    events=events, solver=solver).isel(eta_r=0)
    shape = (par["alpha0"].size, par["m0"].size, par["gamma"].size, par["eta_d"].size)
    return (res["t_overfit"].values.reshape(shape), res["t_grok"].values.reshape(shape),
            res["status_code"].values.reshape(shape))


