"""Predictions from a landscape against full training runs (SPEC §6), torch-free.

For every run of a trajectory file: the reduced dynamics (Eq. 6) integrated from the run's
start (alpha0, m0) with its gamma, eta_d, eta_r; predicted and measured t_overfit, t_grok
and their ratios; the distance between the predicted and measured (ln w, m) paths; the
plateau decay rate of w (fitted) next to eta_d gamma; exponents of t_grok vs gamma.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from reduced_dynamics.engine.predict import EventOptions, fit_exponent, integrate, prepare_landscape
from reduced_dynamics.errors import InputError, WriteError
from reduced_dynamics.io.files import open_trajectories

# Measured times use accuracies (SPEC §6), so the prediction uses the interpolated
# accuracies too: overfit = train_acc >= 0.95, grok = test_acc >= 0.95.
EVENTS = EventOptions(overfit_on="acc", train_acc_threshold=0.95, grok_on="acc",
                      acc_threshold=0.95)


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
                  t_pred: np.ndarray, lnw_pred: np.ndarray, m_pred: np.ndarray) -> float:
    """RMS over logged steps t > 0 of the Euclidean distance in the (ln w, m) plane."""
    ok = (t_meas > 0) & np.isfinite(lnw_meas) & np.isfinite(m_meas)
    tp = np.maximum(t_pred, 1e-12)
    lw = np.interp(np.log(t_meas[ok]), np.log(tp[1:]), lnw_pred[1:])
    mm = np.interp(np.log(t_meas[ok]), np.log(tp[1:]), m_pred[1:])
    d2 = (lw - lnw_meas[ok]) ** 2 + (mm - m_meas[ok]) ** 2
    return float(np.sqrt(d2.mean())) if d2.size else float("nan")


def _task_config(ds: xr.Dataset) -> dict | None:
    """The task config inside ``config_json`` (None when the file records none)."""
    try:
        config = json.loads(ds.attrs.get("config_json", "{}"))
    except (TypeError, ValueError):
        return None
    task = config.get("task") if isinstance(config, dict) else None
    return task if isinstance(task, dict) else None


def _flat(d: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_differences(landscape: xr.Dataset, runs: xr.Dataset) -> list[str]:
    """What makes a landscape and a trajectory file incomparable: a different ``task`` or
    ``preset`` attribute, or a different field of the task config in ``config_json`` (the
    data, network and split the numbers depend on); one line per field, with both values.
    Probe and training settings may differ. A file that records no task config (one not
    written by reduced-dynamics) is compared on its attributes only."""
    diffs = []
    for attr in ("task", "preset"):
        a, b = landscape.attrs.get(attr), runs.attrs.get(attr)
        if a != b:
            diffs.append(f"{attr}: landscape {a!r}, runs {b!r}")
    ta, tb = _task_config(landscape), _task_config(runs)
    if ta is not None and tb is not None:
        fa, fb = _flat(ta), _flat(tb)
        missing = object()
        for key in sorted(set(fa) | set(fb)):
            a, b = fa.get(key, missing), fb.get(key, missing)
            if a != b:
                show = [("(absent)" if v is missing else repr(v)) for v in (a, b)]
                diffs.append(f"task config `{key}`: landscape {show[0]}, runs {show[1]}")
    return diffs


def check_comparable(landscape: xr.Dataset, runs: xr.Dataset) -> None:
    """`InputError` listing every difference (`config_differences`), if there is one."""
    diffs = config_differences(landscape, runs)
    if diffs:
        raise InputError("the landscape and the runs are of different tasks or configs, so "
                         "the predictions would not describe the runs: " + "; ".join(diffs))


def validate(landscape: xr.Dataset | str | os.PathLike,
             runs: xr.Dataset | str | os.PathLike) -> xr.Dataset:
    """One row per run: predicted vs measured times, ratios, path distance, plateau rate.

    Refuses a landscape and runs of different tasks or task configs (`check_comparable`).
    """
    prep = prepare_landscape(landscape)
    ds = runs if isinstance(runs, xr.Dataset) else open_trajectories(runs)
    check_comparable(prep.dataset, ds)
    n = ds.sizes["run"]
    step = ds["step"].values
    w0 = prep.w0
    out = {k: np.full(n, np.nan) for k in (
        "t_overfit_pred", "t_grok_pred", "path_distance", "plateau_rate")}
    status = np.empty(n, dtype=object)
    pred_w = np.full((n, step.size), np.nan)
    pred_m = np.full((n, step.size), np.nan)
    for r in range(n):
        run = ds.isel(run=r)
        pred = integrate(prep, [(float(run["alpha0"]), float(run["m0"]))],
                         gamma=float(run["gamma"]), eta_d=float(run["eta_d"]),
                         eta_r=float(run["eta_r"]), events=EVENTS).isel(
                             start=0, gamma=0, eta_d=0, eta_r=0)
        out["t_overfit_pred"][r] = float(pred["t_overfit"])
        out["t_grok_pred"][r] = float(pred["t_grok"])
        status[r] = str(pred["status"].values)
        t_pred = pred["time"].values
        lnw_p, m_p = np.log(pred["w"].values), pred["m"].values
        out["path_distance"][r] = path_distance(step, np.log(run["w"].values),
                                                run["m"].values, t_pred, lnw_p, m_p)
        pos = step > 0
        pred_w[r, pos] = np.exp(np.interp(np.log(step[pos]), np.log(t_pred[1:]), lnw_p[1:]))
        pred_m[r, pos] = np.interp(np.log(step[pos]), np.log(t_pred[1:]), m_p[1:])
        out["plateau_rate"][r] = plateau_rate(step, run["w"].values,
                                              float(run["t_overfit"]), float(run["t_grok"]))
    t_of, t_gr = ds["t_overfit"].values, ds["t_grok"].values
    gamma = ds["gamma"].values
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0: event at step 0 or never
        ratio_of, ratio_gr = out["t_overfit_pred"] / t_of, out["t_grok_pred"] / t_gr
    meas_fit = fit_exponent(gamma, t_gr)
    pred_fit = fit_exponent(gamma, out["t_grok_pred"])
    data = {
        "t_overfit_measured": ("run", t_of),
        "t_overfit_predicted": ("run", out["t_overfit_pred"]),
        "t_overfit_ratio": ("run", ratio_of,
                            {"long_name": "predicted / measured"}),
        "t_grok_measured": ("run", t_gr),
        "t_grok_predicted": ("run", out["t_grok_pred"]),
        "t_grok_ratio": ("run", ratio_gr, {"long_name": "predicted / measured"}),
        "path_distance": ("run", out["path_distance"], {"long_name":
                          "RMS distance between predicted and measured (ln w, m) paths"}),
        "plateau_rate": ("run", out["plateau_rate"], {"long_name":
                         "fitted k in w ~ exp(-k t) between t_overfit and t_grok"}),
        "eta_d_gamma": ("run", ds["eta_d"].values * gamma),
        "max_residual": ("run", np.nanmax(ds["residual"].values, axis=1), {"long_name":
                         "largest off-line residual of the representation along the run"}),
        "status_predicted": ("run", status.astype(str)),
        "w_measured": (("run", "step"), ds["w"].values),
        "m_measured": (("run", "step"), ds["m"].values),
        "w_predicted": (("run", "step"), pred_w),
        "m_predicted": (("run", "step"), pred_m),
    }
    coords = {k: ds[k] for k in ("run", "step", "gamma", "eta_d", "eta_r", "seed", "alpha0",
                                 "m0")}
    attrs = {
        "title": "reduced-dynamics validation: predictions vs full training runs",
        "landscape": prep.source,
        "w0": w0,
        "exponent_measured": meas_fit["exponent"],
        "exponent_measured_stderr": meas_fit["exponent_stderr"],
        "exponent_predicted": pred_fit["exponent"],
        "exponent_predicted_stderr": pred_fit["exponent_stderr"],
        "events": "overfit: train_acc >= 0.95; grok: test_acc >= 0.95 (measured and predicted)",
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def table(report: xr.Dataset) -> str:
    """The per-run table printed by `reduced-dynamics validate`."""
    head = (f"{'gamma':>8s} {'seed':>4s} {'alpha0':>6s} {'m0':>5s} {'t_of meas':>9s} "
            f"{'t_of pred':>9s} {'t_grok meas':>11s} {'t_grok pred':>11s} {'ratio':>6s} "
            f"{'path d':>6s} {'rate fit':>9s} {'eta*gam':>9s} {'max res':>7s} status")
    rows = [head]
    for r in range(report.sizes["run"]):
        x = report.isel(run=r)
        rows.append(
            f"{float(x['gamma']):8.3g} {int(x['seed']):4d} {float(x['alpha0']):6.3g} "
            f"{float(x['m0']):5.3g} {float(x['t_overfit_measured']):9.0f} "
            f"{float(x['t_overfit_predicted']):9.0f} {float(x['t_grok_measured']):11.0f} "
            f"{float(x['t_grok_predicted']):11.0f} {float(x['t_grok_ratio']):6.2f} "
            f"{float(x['path_distance']):6.2f} {float(x['plateau_rate']):9.2e} "
            f"{float(x['eta_d_gamma']):9.2e} {float(x['max_residual']):7.2f} "
            f"{x['status_predicted'].item()}")
    a = report.attrs
    rows.append(f"exponent of t_grok vs gamma: measured {a['exponent_measured']:.3f} ± "
                f"{a['exponent_measured_stderr']:.3f}, predicted {a['exponent_predicted']:.3f} "
                f"± {a['exponent_predicted_stderr']:.3f}")
    ratio = report["t_grok_ratio"].values
    ok = np.isfinite(ratio) & (ratio > 0)  # 0: predicted at step 0, no finite factor
    if ok.any():
        worst = np.max(np.abs(np.log2(ratio[ok])))
        rows.append(f"t_grok predicted/measured: {ok.sum()} of {ratio.size} runs comparable; "
                    f"worst factor {2 ** worst:.2f}; within 2x: "
                    f"{int((np.abs(np.log2(ratio[ok])) <= 1).sum())}")
    return "\n".join(rows)


def write_report(report: xr.Dataset, landscape: xr.Dataset,
                 folder: str | os.PathLike) -> list[Path]:
    """CSV, netCDF and the two figures (`plot.landscape.plot_t_grok_vs_gamma`,
    `plot_validation_paths`) into ``folder``, each written atomically."""
    from reduced_dynamics.io.files import write_atomic, write_csv, write_figure
    from reduced_dynamics.plot.landscape import plot_t_grok_vs_gamma, plot_validation_paths

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"could not create the report folder {folder}: "
                         f"{exc.strerror or exc}") from exc
    per_run = [k for k, v in report.data_vars.items() if v.dims == ("run",)]
    csv = write_csv(report[per_run].to_dataframe(), folder / "validation.csv")
    nc = write_atomic(report, folder / "validation.nc")
    first = write_figure(plot_t_grok_vs_gamma(report), folder / "t_grok_vs_gamma.png")
    second = write_figure(plot_validation_paths(report, landscape), folder / "paths.png")
    return [csv, nc, first, second]
