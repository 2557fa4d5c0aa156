"""Predictions from a landscape against full training runs (SPEC §6), torch-free.

For every run of a trajectory file: the reduced dynamics (Eq. 6) integrated from the run's
start (alpha0, m0) with its gamma, eta_d, eta_r; predicted and measured t_overfit, t_grok
and their ratios; the distance between the predicted and measured (ln w, m) paths; the
plateau decay rate of w (fitted) next to eta_d gamma; exponents of t_grok vs gamma.

Every landscape grid works: without m the runs' m is ignored (the report has no m); with
an ``n_train`` axis each run is predicted on the slice at its training-set size (a per-run
``n_train`` coordinate of the runs, else the ``n_train`` argument, else the runs'
``config_json`` task.n_train), an exact grid value.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_int, check_type
from reduced_dynamics.engine.fits import fit_exponent
from reduced_dynamics.engine.options import EventOptions
from reduced_dynamics.engine.parameters import n_train_values, select_n_train
from reduced_dynamics.engine.predict import integrate_paired
from reduced_dynamics.engine.prepare import PreparedLandscape, prepare_landscape
from reduced_dynamics.engine.thresholds import describe_grok, grok_threshold_of, grok_times
from reduced_dynamics.errors import InputError, WriteError, bad_value
from reduced_dynamics.io.fingerprint import MISSING, config_diff
from reduced_dynamics.io.landscape_file import open_landscape
from reduced_dynamics.io.schema import config_of, task_config_of
from reduced_dynamics.io.trajectory_file import open_trajectories
from reduced_dynamics.landscape.restarts import restart_seeds
from reduced_dynamics.names import (
    ACC_THRESHOLD,
    REPORT_CSV,
    REPORT_GAMMA_FIGURE,
    REPORT_NC,
    REPORT_PATHS_FIGURE,
    TRAJECTORY_COORD_META,
    VALIDATION_VAR_META,
    RunStatus,
    long_name_of,
)
from reduced_dynamics.tasks.base import with_field_defaults

STARTS = ("init", "peak")
RESTART_CHOICES = ("own", "best")  # each run's own seed's restart, or the best over seeds


def events_for(threshold: float, on: str) -> EventOptions:
    """Measured times use accuracies (SPEC §6), so the prediction uses the interpolated
    values too: overfit = train_acc >= 0.95, grok = the task's threshold (SPEC §12)."""
    if on == "loss":
        return EventOptions(overfit_on="acc", train_acc_threshold=ACC_THRESHOLD,
                            grok_on="loss", theta_test=threshold)
    return EventOptions(overfit_on="acc", train_acc_threshold=ACC_THRESHOLD, grok_on="acc",
                        acc_threshold=threshold)


def peak_index(w: np.ndarray) -> int:
    """Index of the largest finite logged w of one run (0 when none is finite)."""
    finite = np.isfinite(w)
    return int(np.argmax(np.where(finite, w, -np.inf))) if finite.any() else 0


def plateau_rate(step: np.ndarray, w: np.ndarray, t_start: float, t_stop: float) -> float:
    """Fitted k in w(t) ∝ exp(-k t) over logged steps in [t_start, t_stop] (NaN if < 3)."""
    if not (np.isfinite(t_start) and np.isfinite(t_stop)):
        return float("nan")
    sel = (step >= t_start) & (step <= t_stop) & np.isfinite(w) & (w > 0)
    if sel.sum() < 3:
        return float("nan")
    slope = np.polyfit(step[sel].astype(float), np.log(w[sel]), 1)[0]
    return float(-slope)


def path_distance(t_meas: np.ndarray, lnw_meas: np.ndarray, m_meas: np.ndarray,
                  t_pred: np.ndarray, lnw_pred: np.ndarray, m_pred: np.ndarray,
                  t_from: float = 0.0) -> float:
    """RMS over logged steps t > t_from (the prediction's start) of the Euclidean
    distance in the (ln w, m) plane."""
    ok = (t_meas > t_from) & np.isfinite(lnw_meas) & np.isfinite(m_meas)
    tp = np.maximum(t_pred, 1e-12)
    lw = np.interp(np.log(t_meas[ok]), np.log(tp[1:]), lnw_pred[1:])
    mm = np.interp(np.log(t_meas[ok]), np.log(tp[1:]), m_pred[1:])
    d2 = (lw - lnw_meas[ok]) ** 2 + (mm - m_meas[ok]) ** 2
    return float(np.sqrt(d2.mean())) if d2.size else float("nan")


def _runs_of_size(runs: xr.Dataset, n_train: int | None) -> xr.Dataset:
    """The runs of training-set size ``n_train`` (all of them for None). Runs that carry
    their own sizes (a per-run ``n_train`` coordinate, or task.n_train in config_json)
    refuse an ``n_train`` that is none of them: it would be ignored or contradict them."""
    if n_train is None:
        return runs
    if "n_train" in runs.coords:
        sizes = sorted({int(v) for v in np.atleast_1d(runs["n_train"].values)})
        if n_train not in sizes:
            raise InputError(f"`n_train` (CLI --n-train) = {n_train}: the runs carry their own "
                             f"training-set sizes {sizes}; name one of them to validate only "
                             "the runs of that size, or drop it to validate every run")
        return runs.isel(run=np.flatnonzero(
            np.broadcast_to(runs["n_train"].values, (runs.sizes["run"],)) == n_train))
    try:
        own = config_of(runs).get("task", {}).get("n_train")
    except (KeyError, ValueError, TypeError, AttributeError):
        own = None
    if own is not None and int(own) != n_train:
        raise InputError(f"`n_train` (CLI --n-train) = {n_train}: the runs were trained on "
                         f"{int(own)} examples (task.n_train in their config_json); drop it, "
                         f"or give {int(own)}")
    return runs


def _runs_n_train(runs: xr.Dataset, n_train: int | None, values: list[int],
                  source: str) -> np.ndarray:
    """The training-set size of each run, for a landscape with n_train ``values``."""
    if "n_train" in runs.coords:
        return np.broadcast_to(np.asarray(runs["n_train"].values, int), (runs.sizes["run"],))
    if n_train is None:
        try:
            n_train = config_of(runs).get("task", {}).get("n_train")
        except (KeyError, ValueError, TypeError, AttributeError):
            n_train = None
    if n_train is None:
        raise InputError(f"landscape {source} has n_train values {values}, and the runs say "
                         "not which training-set size they used (no per-run `n_train` "
                         "coordinate, no task.n_train in config_json); pass `n_train` "
                         "(CLI `--n-train N`)")
    return np.full(runs.sizes["run"], int(n_train))


def config_differences(landscape: xr.Dataset, runs: xr.Dataset) -> list[str]:
    """What makes a landscape and a trajectory file incomparable: a different ``task`` or
    ``preset`` attribute, or a different field of the task config in ``config_json`` (the
    data, network and split the numbers depend on); one line per field, with both values.
    Probe and training settings may differ, and so may ``n_train`` when the landscape has
    that axis (the runs' size selects a slice of it). A file that records no task config
    (one not written by reduced-dynamics) is compared on its attributes only."""
    diffs = []
    for attr in ("task", "preset"):
        a, b = landscape.attrs.get(attr), runs.attrs.get(attr)
        if a != b:
            diffs.append(f"{attr}: landscape {a!r}, runs {b!r}")
    ta, tb = task_config_of(landscape), task_config_of(runs)
    if ta is not None and tb is not None:
        ta, tb = (with_field_defaults(ds.attrs.get("task"), t)
                  for ds, t in ((landscape, ta), (runs, tb)))
        for key, a, b in config_diff(ta, tb):
            if key == "n_train" and "n_train" in landscape.dims:
                continue  # a parameter axis: each run picks its slice
            show = [("(absent)" if v is MISSING else repr(v)) for v in (a, b)]
            diffs.append(f"task config `{key}`: landscape {show[0]}, runs {show[1]}")
    return diffs


def check_comparable(landscape: xr.Dataset, runs: xr.Dataset) -> None:
    """`InputError` listing every difference (`config_differences`), if there is one."""
    diffs = config_differences(landscape, runs)
    if diffs:
        raise InputError("the landscape and the runs are of different tasks or configs, so "
                         "the predictions would not describe the runs: " + "; ".join(diffs))


def validate(landscape: xr.Dataset | str | os.PathLike | PreparedLandscape,
             runs: xr.Dataset | str | os.PathLike, *,
             n_train: int | None = None, start: str = "init", restarts: str = "own"
             ) -> xr.Dataset:
    """One row per run: predicted vs measured times, ratios, path distance, plateau rate.

    ``start="init"`` integrates from each run's (alpha0, m0) at step 0; ``start="peak"``
    from its measured state at the logged step where w peaks, with that step added to the
    predicted times — for runs whose fast memorisation phase (the norm growing while the
    model fits its training set) the reduced dynamics does not describe. Grokking is the
    landscape's task threshold (`engine.thresholds`), measured and predicted alike.

    ``n_train``: the runs' training-set size on a landscape with that axis, when the runs
    do not record it (see the module docstring); on runs with a per-run ``n_train``, one of
    their sizes: only the runs of that size are validated (any other value is refused). A
    run whose ``status`` is diverged is not predicted nor compared: its row has status
    ``diverged`` and NaN predictions, and it is left out of the exponent fits. Refuses a
    landscape and runs of different tasks or task configs (`check_comparable`).

    ``restarts="own"`` pairs each run with the restart of its own init seed where the
    landscape keeps one (``*_by_seed``; `landscape.restarts.restart_of`), else with the
    best over seeds; ``"best"`` uses the best over seeds for every run. The coordinate
    ``restart`` says which (the seed, or -1 for the best over seeds).
    """
    check_type("landscape", landscape, (xr.Dataset, str, os.PathLike, PreparedLandscape),
               "an xarray.Dataset, a path to a landscape file or a PreparedLandscape")
    check_type("runs", runs, (xr.Dataset, str, os.PathLike), "an xarray.Dataset (a "
               "trajectory file's, `open_trajectories`) or the path of a trajectory file")
    if n_train is not None:
        check_int("n_train", n_train, 1, expected="the runs' training-set size (an integer "
                  ">= 1) or None")
    if not isinstance(start, str) or start not in STARTS:
        raise bad_value("start", start, " or ".join(repr(s) for s in STARTS))
    if not isinstance(restarts, str) or restarts not in RESTART_CHOICES:
        raise bad_value("restarts", restarts, " or ".join(repr(s) for s in RESTART_CHOICES))
    if isinstance(landscape, PreparedLandscape):  # one slice, prepared by the caller
        source, full = landscape.source, landscape.dataset
    else:
        source = "<Dataset>" if isinstance(landscape, xr.Dataset) else str(landscape)
        full = landscape if isinstance(landscape, xr.Dataset) else open_landscape(landscape)
    ds = _runs_of_size(runs if isinstance(runs, xr.Dataset) else open_trajectories(runs),
                       n_train)
    check_comparable(full, ds)
    divisor, conversion, run_start = _run_conversion(ds)
    threshold, grok_on, threshold_source = grok_threshold_of(full)
    events = events_for(threshold, grok_on)
    values = n_train_values(full)
    run_n = _runs_n_train(ds, n_train, values, source) if values else None
    if not values:
        select_n_train(full, n_train, source=source)  # refuses n_train: no such axis
    own = restart_seeds(full) if (restarts == "own" and not isinstance(
        landscape, PreparedLandscape)) else ()
    run_restart = np.array([int(s) if int(s) in own else -1 for s in ds["seed"].values])
    keys = [(int(run_n[r]) if run_n is not None else 0, int(run_restart[r]))
            for r in range(ds.sizes["run"])]  # each run's landscape slice
    preps: dict[tuple[int, int], PreparedLandscape] = {}
    for key in keys:
        if key in preps:
            continue
        if isinstance(landscape, PreparedLandscape) and run_n is None:
            preps[key] = landscape
            continue
        sliced = select_n_train(full, key[0] if run_n is not None else None, source=source)
        preps[key] = prepare_landscape(sliced, source=source,
                                       seed=None if key[1] < 0 else key[1])
    prep = next(iter(preps.values()))
    has_m = prep.has_m
    n = ds.sizes["run"]
    diverged = (ds["status"].values == RunStatus.DIVERGED if "status" in ds.data_vars
                else np.zeros(n, bool))
    step = ds["step"].values
    w0 = prep.w0
    out = {k: np.full(n, np.nan) for k in (
        "t_overfit_pred", "t_grok_pred", "path_distance", "plateau_rate")}
    status = np.empty(n, dtype=object)
    pred_w = np.full((n, step.size), np.nan)
    pred_m = np.full((n, step.size), np.nan)
    t_start, alpha_start = np.zeros(n), np.full(n, np.nan)
    starts = np.column_stack([ds["alpha0"].values, ds["m0"].values]).astype(float)
    for r in np.flatnonzero(~diverged) if start == "peak" else ():
        k = peak_index(ds["w"].values[r])
        t_start[r] = float(step[k])
        starts[r] = (float(ds["w"].values[r, k]) / w0, float(ds["m"].values[r, k]))
    alpha_start[~diverged] = starts[~diverged, 0]
    preds: dict[int, xr.Dataset] = {}
    for key, here in preps.items():  # one paired kernel call per landscape slice
        rows = [r for r in range(n) if keys[r] == key and not diverged[r]]
        if rows:
            got = integrate_paired(
                here, starts[rows] if has_m else starts[rows, 0],
                gamma=ds["gamma"].values[rows], eta_d=ds["eta_d"].values[rows],
                eta_r=ds["eta_r"].values[rows] / divisor, events=events)
            preds.update({r: got.isel(path=i) for i, r in enumerate(rows)})
    for r in range(n):
        if diverged[r]:
            status[r] = "diverged"
            continue
        run = ds.isel(run=r)
        t0 = t_start[r]
        pred = preds[r]
        out["t_overfit_pred"][r] = t0 + float(pred["t_overfit"])
        out["t_grok_pred"][r] = t0 + float(pred["t_grok"])
        status[r] = str(pred["status"].values)
        t_pred = pred["time"].values + t0
        lnw_p = np.log(pred["w"].values)
        # without m on the landscape, distances are in ln w alone
        m_p = pred["m"].values if has_m else np.zeros_like(lnw_p)
        m_meas = run["m"].values if has_m else np.zeros(step.size)
        out["path_distance"][r] = path_distance(step, np.log(run["w"].values), m_meas,
                                                t_pred, lnw_p, m_p, t0)
        pos = step > t0
        pred_w[r, pos] = np.exp(np.interp(np.log(step[pos]), np.log(t_pred[1:]), lnw_p[1:]))
        pred_m[r, pos] = np.interp(np.log(step[pos]), np.log(t_pred[1:]), m_p[1:])
        out["plateau_rate"][r] = plateau_rate(step, run["w"].values,
                                              float(run["t_overfit"]), float(run["t_grok"]))
    t_of = ds["t_overfit"].values
    t_gr = grok_times(step, ds["test_acc"].values, ds["test_loss"].values, threshold, grok_on)
    gamma = ds["gamma"].values
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0: event at step 0 or never
        ratio_of, ratio_gr = out["t_overfit_pred"] / t_of, out["t_grok_pred"] / t_gr
    meas_fit = fit_exponent(gamma, np.where(diverged, np.nan, t_gr))
    pred_fit = fit_exponent(gamma, out["t_grok_pred"])
    values = {
        "t_overfit_measured": t_of,
        "t_overfit_predicted": out["t_overfit_pred"],
        "t_overfit_ratio": ratio_of,
        "t_grok_measured": t_gr,
        "t_grok_predicted": out["t_grok_pred"],
        "t_grok_ratio": ratio_gr,
        "path_distance": out["path_distance"],
        "plateau_rate": out["plateau_rate"],
        "eta_d_gamma": ds["eta_d"].values * gamma,
        "eta_r_ode": ds["eta_r"].values / divisor,
        "t_start": t_start,
        "alpha_start": alpha_start,
        "max_residual": _row_max(ds["residual"].values),
        "status_predicted": status.astype(str),
        "w_measured": ds["w"].values,
        "m_measured": ds["m"].values,
        "w_predicted": pred_w,
        "m_predicted": pred_m,
    }
    if not has_m:  # the landscape has no m: the runs' m (and m0) are not part of the model
        for k in ("m_measured", "m_predicted"):
            del values[k]
    data = {k: (("run",) if v.ndim == 1 else ("run", "step"), v, _meta(VALIDATION_VAR_META, k))
            for k, v in values.items()}
    if not has_m:
        data["path_distance"][2]["long_name"] = ("RMS distance between predicted and measured "
                                                 "ln w paths")
    coords = {k: (ds[k].dims, ds[k].values, _meta(TRAJECTORY_COORD_META, k))
              for k in ("run", "step", "gamma", "eta_d", "eta_r", "seed", "alpha0", "m0")}
    if run_n is not None:
        coords["n_train"] = ("run", run_n, _meta(TRAJECTORY_COORD_META, "n_train"))
    coords["restart"] = ("run", run_restart, {
        "long_name": "init seed of the landscape restart each run was predicted on (-1: the "
                     "best over seeds)", "units": "1"})
    attrs = {
        "title": "reduced-dynamics validation: predictions vs full training runs",
        "task": str(full.attrs.get("task", "")),
        "preset": str(full.attrs.get("preset", "")),
        "landscape": prep.source,
        "landscape_has_m": int(has_m),
        "w0": w0,
        "exponent_measured": meas_fit["exponent"],
        "exponent_measured_stderr": meas_fit["exponent_stderr"],
        "exponent_predicted": pred_fit["exponent"],
        "exponent_predicted_stderr": pred_fit["exponent_stderr"],
        "events": (f"overfit: train_acc >= {ACC_THRESHOLD}; grok: "
                   f"{describe_grok(threshold, grok_on)} from {threshold_source} "
                   "(measured and predicted)"),
        "grok_threshold": threshold,
        "grok_on": grok_on,
        "start": start,
        "run_start": run_start,
        "eta_r_conversion": conversion,
    }
    report = xr.Dataset(data, coords=coords, attrs=attrs)
    return report if has_m else report.drop_vars("m0")


def _run_conversion(ds: xr.Dataset) -> tuple[float, str, str]:
    """The runs' optimiser clock and start (SPEC §13): the divisor of eta_r that gives the
    ODE's eta_R (|Delta|^2 for sgd, 1 for adam/adamw: ``eta_r_ode_divisor``), its text, and
    where the runs started ("init" or "relaxed"; the ODE starts at (alpha0, m0) either
    way). A file from before the conversion was recorded counts as adam/adamw from the
    init; an sgd one is refused (its eta_r would be used unconverted)."""
    if "eta_r_ode_divisor" in ds.attrs:
        return (float(ds.attrs["eta_r_ode_divisor"]), str(ds.attrs["eta_r_conversion"]),
                str(ds.attrs.get("start", "init")))
    train = config_of(ds).get("train", {}) if "config_json" in ds.attrs else {}
    if train.get("optimizer") == "sgd":
        raise InputError("these runs were trained with sgd but the file does not record "
                         "the eta_r conversion of SPEC 13 (`eta_r_ode_divisor`): retrain "
                         "them with this version of `train`")
    return 1.0, "the ODE's eta_R is the run's eta_r (no conversion recorded)", "init"


def _meta(table: dict, name: str) -> dict[str, str]:
    long_name, units = long_name_of(table, name)
    return {"long_name": long_name, "units": units}


def table(report: xr.Dataset) -> str:
    """The per-run table printed by `reduced-dynamics validate`."""
    has_m = "m0" in report.coords
    has_n = "n_train" in report.coords
    head = (f"{'gamma':>8s} {'seed':>4s} " + (f"{'N':>6s} " if has_n else "")
            + f"{'alpha0':>6s} " + (f"{'m0':>5s} " if has_m else "") + f"{'t_of meas':>9s} "
            f"{'t_of pred':>9s} {'t_grok meas':>11s} {'t_grok pred':>11s} {'ratio':>6s} "
            f"{'path d':>6s} {'rate fit':>9s} {'eta*gam':>9s} {'max res':>7s} status")
    rows = [head]
    for r in range(report.sizes["run"]):
        x = report.isel(run=r)
        rows.append(
            f"{float(x['gamma']):8.3g} {int(x['seed']):4d} "
            + (f"{int(x['n_train']):6d} " if has_n else "") + f"{float(x['alpha0']):6.3g} "
            + (f"{float(x['m0']):5.3g} " if has_m else "")
            + f"{float(x['t_overfit_measured']):9.0f} "
            f"{float(x['t_overfit_predicted']):9.0f} {float(x['t_grok_measured']):11.0f} "
            f"{float(x['t_grok_predicted']):11.0f} {float(x['t_grok_ratio']):6.2f} "
            f"{float(x['path_distance']):6.2f} {float(x['plateau_rate']):9.2e} "
            f"{float(x['eta_d_gamma']):9.2e} {float(x['max_residual']):7.2f} "
            f"{x['status_predicted'].item()}")
    rows.append(restart_line(report))
    s = report_summary(report)
    rows.append(f"exponent of t_grok vs gamma: measured {s['exponent_measured']:.3f} ± "
                f"{s['exponent_measured_stderr']:.3f}, predicted {s['exponent_predicted']:.3f} "
                f"± {s['exponent_predicted_stderr']:.3f}")
    if s["comparable"]:
        rows.append(f"t_grok predicted/measured: {s['comparable']} of {s['runs']} runs "
                    f"comparable; worst factor {s['worst_factor']:.2f}; within 2x: "
                    f"{s['within_2x']}")
    if s["diverged"]:
        rows.append(f"{s['diverged']} of {s['runs']} runs diverged (status in the runs file): "
                    "not compared")
    return "\n".join(rows)


def restart_line(report: xr.Dataset) -> str:
    """Which landscape restart the runs were predicted on, e.g. "landscape restart: the
    run's own seed (seeds 0, 1) for 12 runs"."""
    if "restart" not in report.coords:
        return "landscape restart: best over seeds for every run"
    restart = report["restart"].values
    parts = []
    own = sorted({int(s) for s in restart if s >= 0})
    if own:
        parts.append(f"the run's own seed (seed{'s' if len(own) > 1 else ''} "
                     f"{', '.join(map(str, own))}) for {int((restart >= 0).sum())} run(s)")
    if (restart < 0).any():
        parts.append(f"best over seeds for {int((restart < 0).sum())} run(s)")
    return "landscape restart: " + "; ".join(parts)


REPORT_EXPONENTS = ("exponent_measured", "exponent_measured_stderr", "exponent_predicted",
                    "exponent_predicted_stderr")


def report_summary(report: xr.Dataset) -> dict:
    """The fitted exponents of t_grok vs gamma and how well t_grok is predicted: runs,
    comparable runs (a finite ratio > 0), the worst factor between predicted and measured
    (NaN when none is comparable), runs within a factor 2, diverged runs."""
    out = {k: float(report.attrs[k]) for k in REPORT_EXPONENTS}
    ratio = report["t_grok_ratio"].values
    ok = np.isfinite(ratio) & (ratio > 0)  # 0: predicted at step 0, no finite factor
    factor = np.abs(np.log2(ratio[ok]))
    out.update({
        "runs": int(ratio.size), "comparable": int(ok.sum()),
        "worst_factor": float(2 ** factor.max()) if ok.any() else float("nan"),
        "within_2x": int((factor <= 1).sum()),
        "diverged": int((report["status_predicted"].values == "diverged").sum())})
    return out


def report_rows(report: xr.Dataset) -> list[dict]:
    """One dict per run: its index, the runs' coordinates (gamma, seed, n_train, alpha0,
    m0, eta_d, eta_r) and every per-run variable of the report (NaN where not defined)."""
    coords = [k for k in ("gamma", "seed", "n_train", "alpha0", "m0", "eta_d", "eta_r")
              if k in report.coords and report[k].dims == ("run",)]
    names = [k for k, v in report.data_vars.items() if v.dims == ("run",)]
    rows = []
    for r in range(report.sizes["run"]):
        x = report.isel(run=r)
        row: dict = {"run": r}
        for k in (*coords, *names):
            v = x[k].values.item()
            row[str(k)] = v if isinstance(v, (int, str)) else float(v)
        rows.append(row)
    return rows


def _row_max(values: np.ndarray) -> np.ndarray:
    """Max over axis 1 ignoring NaN; NaN for a row without a finite value (no warning)."""
    finite = np.isfinite(values)
    peak = np.where(finite, values, -np.inf).max(axis=1)
    return np.where(finite.any(axis=1), peak, np.nan)


def write_report(report: xr.Dataset, landscape: xr.Dataset,
                 folder: str | os.PathLike, *, history: str | None = None) -> list[Path]:
    """CSV, netCDF and the two figures (`plot.landscape.plot_t_grok_vs_gamma`,
    `plot_validation_paths`) into ``folder``, each written atomically; a landscape with an
    ``n_train`` axis is drawn at the (first) run's N.

    ``validation.nc`` says what it is (``reduced_dynamics_file = "validation"``) and how it
    was made: ``history`` (the command; default: this function, with the time),
    ``date_created`` and ``package_version``."""
    from reduced_dynamics.io.atomic import write_atomic, write_csv, write_figure
    from reduced_dynamics.io.schema import FILE_KIND_ATTR, now_iso, package_version
    from reduced_dynamics.plot.landscape import plot_t_grok_vs_gamma, plot_validation_paths

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"could not create the report folder {folder}: "
                         f"{exc.strerror or exc}") from exc
    per_run = [k for k, v in report.data_vars.items() if v.dims == ("run",)]
    csv = write_csv(report[per_run].to_dataframe(), folder / REPORT_CSV)
    if history is None:
        history = f"{now_iso()} reduced_dynamics.validate.write_report (Python)"
    nc = write_atomic(report.assign_attrs({
        FILE_KIND_ATTR: "validation", "history": history, "date_created": now_iso(),
        "package_version": package_version()}), folder / REPORT_NC)
    if "n_train" in landscape.dims:  # draw the slice of the (first) run's N
        landscape = select_n_train(landscape, int(report["n_train"].values[0]))
    first = write_figure(plot_t_grok_vs_gamma(report), folder / REPORT_GAMMA_FIGURE)
    second = write_figure(plot_validation_paths(report, landscape), folder / REPORT_PATHS_FIGURE)
    return [csv, nc, first, second]
