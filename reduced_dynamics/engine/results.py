"""Result assembly: the kernels' raw arrays as xarray Datasets with units, long names and
the options in the attributes; every m output dropped on a landscape without m.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import xarray as xr

from reduced_dynamics.engine import driver
from reduced_dynamics.engine import dynamics as dy
from reduced_dynamics.engine.options import EventOptions, SolverOptions
from reduced_dynamics.engine.path_analysis import POINTS
from reduced_dynamics.engine.prepare import PreparedLandscape
from reduced_dynamics.names import PATH_STATUS_NAMES, PathStatus

TIME_UNITS = "optimiser steps (when eta_d, eta_r are per-step learning rates)"


ADAM_NOTE = ("Gradient-flow ODE: the weight-decay-driven slow phase runs on AdamW's clock; "
             "fast, gradient-driven phases (t_overfit, A->C) do not, since Adam normalises "
             "gradients.")


def result_attrs(prep: PreparedLandscape, events: EventOptions, solver: SolverOptions,
                 t_max: float) -> dict:
    """The global attributes of every result: the landscape it came from, the time units,
    and every option (``event_*``, ``solver_*``, ``interp_*``)."""
    ds = prep.dataset
    attrs = {
        "title": "reduced-dynamics predictions (Eq. 6 integrated on a landscape)",
        "landscape_source": prep.source,
        "landscape_title": str(ds.attrs.get("title", "")),
        "landscape_task": str(ds.attrs.get("task", "")),
        "landscape_date_created": str(ds.attrs.get("date_created", "")),
        "w0": prep.w0,
        "t_max": t_max,
        "time_units": TIME_UNITS,
        "note": ADAM_NOTE,
        "restart": prep.restart,
    }
    for prefix, opts in (("event_", events), ("solver_", solver), ("interp_", prep.options)):
        for k, v in asdict(opts).items():
            attrs[prefix + k] = "none" if v is None else (int(v) if isinstance(v, bool) else v)
    attrs.update(prep.parameters)
    return attrs


M_OUTPUTS = ("m", "m_event", "m_point", "start_m", "h", "theta")


def state_only(ds: xr.Dataset, prep: PreparedLandscape) -> xr.Dataset:
    """Drop every m output on a landscape without m (its m axis is internal, constant 0),
    and add the selected parameters (``n_train``) as scalar coordinates."""
    if not prep.has_m:
        ds = ds.drop_vars([k for k in M_OUTPUTS if k in ds.variables])
        ds.attrs.pop("start_m", None)
    return ds.assign_coords(prep.parameters)


def integrate_dataset(prep: PreparedLandscape, raw: dict, shape: tuple, st: np.ndarray,
                      gam: np.ndarray, etd: np.ndarray, etr: np.ndarray,
                      events: EventOptions, solver: SolverOptions, t_max: float,
                      paired: bool = False) -> xr.Dataset:
    """The result of `predict.integrate`: the paths of ``raw`` over (start, gamma, eta_d,
    eta_r) of ``shape``, sampled at the output times; with ``paired``
    (`predict.integrate_paired`) over one dim ``path``, row p from (st[p], gam[p], etd[p],
    etr[p])."""
    dims = ("path",) if paired else ("start", "gamma", "eta_d", "eta_r")
    ev_t = raw["ev_t"].reshape(*shape, dy.N_EV)
    ev_y = raw["ev_y"].reshape(*shape, dy.N_EV, 2)
    y_out = raw["y_out"]
    along = prep.interp.evaluate_u(y_out[..., 0], y_out[..., 1])
    tshape = (*shape, raw["t_out"].size)
    tu = {"units": TIME_UNITS}
    ended = raw["t_out"][None, :] > raw["ev_t"][:, dy.EV_END, None]
    data = {
        "t_overfit": (dims, ev_t[..., dy.EV_OVERFIT], {**tu, "long_name": "first time "
                      + ("l_train <= theta_train" if events.overfit_on == "loss"
                         else "train_acc >= train_acc_threshold")}),
        "t_grok": (dims, ev_t[..., dy.EV_GROK], {**tu, "long_name": "first time " + (
            "test_acc >= acc_threshold" if events.grok_on == "acc"
            else "l_test <= theta_test")}),
        "t_E": (dims, ev_t[..., dy.EV_E], {**tu, "long_name":
                "arrival at a stationary point (speed below tolerance)"}),
        "t_end": (dims, ev_t[..., dy.EV_END], {**tu, "long_name": "end of the path"}),
        "delay": (dims, ev_t[..., dy.EV_GROK] - ev_t[..., dy.EV_OVERFIT],
                  {**tu, "long_name": "t_grok - t_overfit"}),
        "w_event": ((*dims, "event"), np.exp(ev_y[..., 0]), {"units": "1"}),
        "m_event": ((*dims, "event"), ev_y[..., 1], {"units": "1"}),
        "status": (dims, np.array(PATH_STATUS_NAMES, dtype=object)[raw["status"]]
                   .reshape(shape).astype(str)),
        "status_code": (dims, raw["status"].reshape(shape).astype(np.int8),
                        {"flag_values": " ".join(str(int(s)) for s in PathStatus),
                         "flag_meanings": " ".join(PATH_STATUS_NAMES)}),
        "nfev": (dims, raw["counts"][:, driver.C_NFEV].reshape(shape),
                 {"long_name": "right-hand-side evaluations"}),
        "n_steps": (dims, raw["counts"][:, driver.C_ACCEPT].reshape(shape)),
        "n_rejected": (dims, raw["counts"][:, driver.C_REJECT].reshape(shape)),
        "w": ((*dims, "time"), np.exp(y_out[..., 0]).reshape(tshape), {"units": "1"}),
        "m": ((*dims, "time"), y_out[..., 1].reshape(tshape), {"units": "1"}),
        "ended": ((*dims, "time"), ended.reshape(tshape),
                  {"long_name": "sample after the path ended (state held)"}),
    }
    data["alpha"] = ((*dims, "time"), data["w"][1] / prep.w0, {"units": "1"})
    for k in ("train_loss", "test_loss", "train_acc", "test_acc"):
        data[k] = ((*dims, "time"), along[k].reshape(tshape), {"units": "1"})
    s_dim = "path" if paired else "start"
    coords = {
        s_dim: np.arange(shape[0]),
        "start_alpha": (s_dim, st[:, 0]),
        "start_w": (s_dim, st[:, 0] * prep.w0),
        "start_m": (s_dim, st[:, 1]),
        "gamma": ("path" if paired else "gamma", gam, {"long_name": "weight decay"}),
        "eta_d": ("path" if paired else "eta_d", etd, {"long_name": "decoder learning rate"}),
        "eta_r": ("path" if paired else "eta_r", etr,
                  {"long_name": "representation learning rate"}),
        "time": ("time", raw["t_out"], tu),
        "event": ("event", ["overfit", "grok", "E", "end"]),
    }
    return state_only(xr.Dataset(data, coords=coords, attrs=result_attrs(prep, events, solver,
                                                                         t_max)), prep)


def predictions_dataset(prep: PreparedLandscape, raw: dict, analyses: list[dict],
                        st: np.ndarray, gam: np.ndarray, eta_d: float, eta_r: float,
                        fit: dict[str, float], events: EventOptions, solver: SolverOptions,
                        t_max: float) -> xr.Dataset:
    """The result of `predict.predict_grokking_times` on one landscape: one path per γ
    from the start ``st`` (its event times, analyses and the fit ``fit``)."""
    ev_t = raw["ev_t"]
    status = np.array(PATH_STATUS_NAMES)[raw["status"]]
    t_grok = ev_t[:, dy.EV_GROK]
    tu = {"units": TIME_UNITS}
    scal = {k: np.array([a[k] for a in analyses], float)
            for k in ("t_closed", "t_geometric", "w_c", "L", "h", "theta")}
    data = {
        "t_overfit": ("gamma", ev_t[:, dy.EV_OVERFIT], tu),
        "t_grok": ("gamma", t_grok, tu),
        "delay": ("gamma", t_grok - ev_t[:, dy.EV_OVERFIT], tu),
        "t_E": ("gamma", ev_t[:, dy.EV_E], tu),
        "t_end": ("gamma", ev_t[:, dy.EV_END], tu),
        "status": ("gamma", status.astype(str)),
        "nfev": ("gamma", raw["counts"][:, driver.C_NFEV]),
        "t_closed": ("gamma", scal["t_closed"], {**tu, "long_name":
                     "ln(w_C / w_c) / (eta_d gamma), from point C"}),
        "t_geometric": ("gamma", scal["t_geometric"], {**tu, "long_name":
                        "(L + h tan theta) / (eta_d gamma), from point C"}),
        "w_c": ("gamma", scal["w_c"], {"long_name": "contour l_train = theta_train on m = m_C"}),
        "L": ("gamma", scal["L"], {"long_name": "ln w_C - ln w_E' (E' on the contour)"}),
        "h": ("gamma", scal["h"], {"long_name": "m_C - m_E"}),
        "theta": ("gamma", scal["theta"], {"units": "rad", "long_name":
                  "angle of the boundary segment D'E' to the -ln w direction"}),
        "t_C": ("gamma", np.array([a["t_point"][2] for a in analyses]), tu),
        "n_descents": ("gamma", np.array([a["n_descents"] for a in analyses], int)),
        "t_point": (("gamma", "point"), np.array([a["t_point"] for a in analyses]), tu),
        "w_point": (("gamma", "point"), np.array([a["w_point"] for a in analyses])),
        "m_point": (("gamma", "point"), np.array([a["m_point"] for a in analyses])),
        "exponent": ((), fit["exponent"], {"long_name": "p in t_grok ~ gamma^p"}),
        "exponent_stderr": ((), fit["exponent_stderr"]),
        "intercept": ((), fit["intercept"]),
        "n_fit": ((), fit["n_fit"]),
    }
    coords = {"gamma": gam, "point": list(POINTS)}
    attrs = result_attrs(prep, events, solver, t_max)
    attrs.update(start_alpha=float(st[0]), start_m=float(st[1]), eta_d=eta_d,
                 eta_r=eta_r, exponent=fit["exponent"],
                 exponent_stderr=fit["exponent_stderr"])
    return state_only(xr.Dataset(data, coords=coords, attrs=attrs), prep)


def path_dataset(prep: PreparedLandscape, raw: dict, a: dict, st: np.ndarray, gamma: float,
                 eta_d: float, eta_r: float, events: EventOptions, solver: SolverOptions,
                 t_max: float) -> xr.Dataset:
    """The result of `predict.analyze_path`: the recorded path 0 of ``raw`` and its
    analysis ``a``."""
    k = int(raw["rec_n"][0])
    tu = {"units": TIME_UNITS}
    data = {
        "t": ("sample", raw["rec_t"][0, :k], tu),
        "w": ("sample", np.exp(raw["rec_y"][0, :k, 0])),
        "m": ("sample", raw["rec_y"][0, :k, 1]),
        "train_loss": ("sample", a["train_loss"]),
        "test_loss": ("sample", a["test_loss"]),
        "test_acc": ("sample", a["test_acc"]),
        "speed": ("sample", a["speed"], {"long_name": "|d(ln w, m)/dt|"}),
        "t_point": ("point", a["t_point"], tu),
        "w_point": ("point", a["w_point"]),
        "m_point": ("point", a["m_point"]),
    }
    for k2 in ("t_closed", "t_geometric", "w_c", "L", "h", "theta", "n_descents"):
        data[k2] = ((), a[k2])
    names = ("t_overfit", "t_grok", "t_E", "t_end")
    for j, name in enumerate(names):
        data[name] = ((), raw["ev_t"][0, j], tu)
    data["status"] = ((), PATH_STATUS_NAMES[int(raw["status"][0])])
    attrs = result_attrs(prep, events, solver, t_max)
    attrs.update(start_alpha=float(st[0]), start_m=float(st[1]), gamma=gamma,
                 eta_d=eta_d, eta_r=eta_r,
                 E_is_stationary=int(a["E_is_stationary"]),
                 record_full=int(a["record_full"]))
    return state_only(xr.Dataset(data, coords={"point": list(POINTS)}, attrs=attrs), prep)
