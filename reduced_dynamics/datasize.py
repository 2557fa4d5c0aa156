"""Data size on the (w, m) plane (Fig. 6e, SPEC §14): per training-set size N of a
(w, m, n_train) landscape, the boundary contour l̃_train = θ (0.02 by default), whether the
boundary branch a path slides along reaches the generalising region G_N, the geometric
form t = (L + h tan θ_N)/(η_D γ), and the integrated reduced dynamics (Eq. 6) from one
start, for every N and γ.

Definitions (`engine.boundary`): G_N = {reduced test accuracy ≥ the task's grok threshold}
(or l̃_test ≤ θ_test when the task groks on test loss) on the slice N; the star = the grid
point of G_N with the lowest l̃_test; the anchor D' = the contour point below the path's C
on the line m = m_C (the path at ``path_gamma``; where C is not in region II, the first
contour point below the top of the grid on m = m_C, else on the start's m:
`names.ANCHOR_FROM`); the slide = the contour from D' in the direction of decreasing
ln w until a stationary point or an edge; "connects" = the slide enters G_N. The geometric
numbers (L, h, θ, t_geometric) and the times are the engine's (`engine.path_analysis`,
`engine.predict.predict_grokking_times`) on each slice: nothing is computed twice.

What the caller leaves None comes from the landscape's task as in `reduced_dynamics.study`:
the study start (toy addition: α0 = 5, m0 = 0.12), the γ list, η_D, η_R and the grok rule.
The result is one Dataset (dims ``n_train``, ``gamma`` and padded point dims, below), the
content of a data-size file (`io.datasize_file`).

Padded lines: per N, the contour's lines in order with one NaN row between lines, padded
with NaN to the longest N (dims ``contour_point``, ``region_point``); the slide and the
path (at most `MAX_PATH_POINTS` samples) likewise (``slide_point``, ``path_point``), so
``ax.plot(ds.contour_alpha[k], ds.contour_m[k])`` draws N's contour as it is.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_int, check_real, check_type
from reduced_dynamics.engine import predict as engine
from reduced_dynamics.engine.boundary import (
    BoundaryAnalysis,
    anchor_point,
    boundary_analysis,
    chord_angle,
)
from reduced_dynamics.engine.inputs import check_starts, rates
from reduced_dynamics.engine.options import EventOptions, InterpolantOptions, SolverOptions
from reduced_dynamics.engine.parameters import n_train_values, select_n_train
from reduced_dynamics.engine.prepare import (
    PreparedLandscape,
    opened,
    prepare_landscape,
    unconverged_nodes,
)
from reduced_dynamics.engine.results import ADAM_NOTE, TIME_UNITS
from reduced_dynamics.errors import InputError, bad_value
from reduced_dynamics.io.schema import FILE_KIND_ATTR, now_iso, package_version
from reduced_dynamics.names import DATASIZE_LOSS, DATASIZE_POINT_DIMS, DATASIZE_VAR_META
from reduced_dynamics.study import (
    UnconvergedStartWarning,
    check_arguments,
    default_events,
    default_path_gamma,
    study_defaults,
)

MAX_PATH_POINTS = 400  # samples of each N's path kept in the result (for the figure)
PER_GAMMA = ("t_overfit", "t_grok", "delay", "t_closed", "t_geometric", "w_c", "L", "h",
             "theta", "t_C", "status")
"""The engine's per-γ results kept per (n_train, gamma)."""


def _landscape(landscape: object, name: str | None) -> tuple[xr.Dataset, str, list[int]]:
    """The checked (w, m, n_train) Dataset, its name (``name``, else its path or
    ``<Dataset>``) and its N values."""
    if isinstance(landscape, PreparedLandscape):
        raise InputError("`landscape`: a PreparedLandscape is one slice; the data-size "
                         "analysis needs every N: pass the landscape file or its Dataset")
    ds, source = opened(landscape)  # type: ignore[arg-type]
    source = name or source
    values = n_train_values(ds)
    if "m" not in ds.dims or not values:
        missing = " and ".join(k for k, ok in (("an m axis", "m" in ds.dims),
                                              ("an n_train axis", bool(values))) if not ok)
        raise InputError(f"`landscape` {source}: the data-size analysis (Fig. 6e) needs a "
                         f"(w, m, n_train) landscape; it has dims {list(ds.sizes)}, without "
                         f"{missing} (probe one with --m SPEC --n-train LIST)")
    return ds, source, values


def _sizes(ds: xr.Dataset, n_train: object, values: list[int], source: str) -> list[int]:
    """The N to analyse, increasing: every N (None), or the given ones (grid values)."""
    if n_train is None:
        return values
    wanted = [n_train] if np.ndim(n_train) == 0 else list(n_train)  # type: ignore[arg-type]
    if not wanted:
        raise bad_value("n_train", n_train, f"training-set sizes from {values}, or None")
    for n in wanted:
        select_n_train(ds, n, source=source)  # refuses N not on the grid, naming the values
    return sorted({int(n) for n in wanted})


def _events(ds: xr.Dataset, theta_train: float | None, events: EventOptions | None
            ) -> EventOptions:
    if events is None:
        return default_events(ds, DATASIZE_LOSS if theta_train is None else theta_train)
    if theta_train is not None and theta_train != events.theta_train:
        raise InputError(f"`theta_train` = {theta_train!r} disagrees with `events."
                         f"theta_train` = {events.theta_train!r}; give one of them")
    return events


def _joined(lines: tuple[np.ndarray, ...] | list[np.ndarray]) -> np.ndarray:
    """Lines (each (n, 2)) in one (k, 2) array with a NaN row between them."""
    parts: list[np.ndarray] = []
    for line in lines:
        if parts:
            parts.append(np.full((1, 2), np.nan))
        parts.append(np.asarray(line, float).reshape(-1, 2))
    return np.vstack(parts) if parts else np.empty((0, 2))


def _padded(rows: list[np.ndarray]) -> np.ndarray:
    """(n_rows, longest, 2) with NaN after each row's points (at least one column)."""
    out = np.full((len(rows), max([1] + [len(r) for r in rows]), 2), np.nan)
    for k, r in enumerate(rows):
        out[k, : len(r)] = r
    return out


def _slice_outputs(prep: PreparedLandscape, start: tuple[float, float], gam: np.ndarray,
                   path_gamma: float, eta_d: float, eta_r: float, events: EventOptions,
                   solver: SolverOptions | None, n_grid: int
                   ) -> tuple[xr.Dataset, xr.Dataset, BoundaryAnalysis, str]:
    """The engine's predictions over γ, the path at ``path_gamma``, the boundary analysis
    from the anchor D' and where it came from (`names.ANCHOR_FROM`), on one slice."""
    pred = engine.predict_grokking_times(prep, gam, eta_d, eta_r, start, events=events,
                                         solver=solver)
    path = engine.analyze_path(prep, path_gamma, eta_d, eta_r, start, events=events,
                               solver=solver)
    c = list(path["point"].values).index("C")
    w_c, m_c = float(path["w_point"].values[c]), float(path["m_point"].values[c])
    tries = [("m_start", start[1], None)]
    if np.isfinite(w_c) and np.isfinite(m_c):
        tries = [("C", m_c, float(np.log(w_c))), ("m_C", m_c, None), *tries]
    anchor, anchor_from = (float("nan"), float("nan")), "none"
    for name, m, u_from in tries:
        anchor = anchor_point(prep.interp, events.theta_train, m, u_from)
        if np.isfinite(anchor[0]):
            anchor_from = name
            break
    threshold = events.acc_threshold if events.grok_on == "acc" else float(events.theta_test)
    ba = boundary_analysis(prep.interp, events.theta_train, anchor, grok_on=events.grok_on,
                           threshold=threshold, n_grid=n_grid)
    return pred, path, ba, anchor_from


def _warn_unconverged(preps: dict[int, PreparedLandscape], start: tuple[float, float]
                      ) -> None:
    bad = [n for n, p in preps.items() if unconverged_nodes(p, *start)]
    if bad:
        source = next(iter(preps.values())).source
        warnings.warn(f"the start alpha={start[0]:g}, m={start[1]:g} lies in the unconverged "
                      f"region of {source} at n_train = {', '.join(map(str, bad))} (the probe "
                      "did not converge at a grid point around it); predictions from there "
                      "are unreliable", UnconvergedStartWarning, stacklevel=3)


def data_size_dependence(
    landscape: xr.Dataset | str | os.PathLike,
    gamma: object = None,
    eta_d: float | None = None,
    eta_r: float | None = None,
    start: tuple[float, float] | None = None,
    *,
    theta_train: float | None = None,
    n_train: int | list[int] | None = None,
    path_gamma: float | None = None,
    events: EventOptions | None = None,
    solver: SolverOptions | None = None,
    interpolant: InterpolantOptions | None = None,
    n_grid: int = 201,
    source: str | None = None,
) -> xr.Dataset:
    """Fig. 6e on a (w, m, n_train) landscape (module docstring): per N the contour
    l̃_train = ``theta_train`` (default `names.DATASIZE_LOSS` = 0.02; or ``events``'s),
    its slide and whether it connects to G_N, and per (N, γ) the engine's t_overfit,
    t_grok, t_geometric, L, h, θ and status from ``start``. ``gamma`` is sorted;
    ``path_gamma`` (default: the 4th γ of the list, as `study.analyze_path`) is the γ of the
    path whose C anchors the slide and that the figure draws; ``n_grid``: the (ln w, m)
    evaluation grid per axis of the contours; ``source``: the name shown for a Dataset
    (a path names itself). Returns a Dataset with dims ``n_train``,
    ``gamma`` and the padded point dims; `plot.datasize.plot_datasize` draws it.
    """
    check_arguments(landscape, gamma=gamma, eta_d=eta_d, eta_r=eta_r, start=start,
                    events=events, solver=solver, interpolant=interpolant, n_train=n_train,
                    n_train_list=True)
    check_int("n_grid", n_grid, 20, 2001, expected="an integer from 20 to 2001 (grid points "
              "per axis of the contour evaluation)")
    if theta_train is not None:
        check_real("theta_train", theta_train, low=0.0, low_open=True,
                   expected="a finite loss threshold > 0 (Fig. 6e: 0.02), or None")
    if path_gamma is not None:
        check_real("path_gamma", path_gamma, low=0.0,
                   expected="a weight decay >= 0 (the paths drawn), or None")
    check_type("source", source, str, "a str (the name shown in messages) or None",
               optional=True)
    ds, source, values = _landscape(landscape, source)
    sizes = _sizes(ds, n_train, values, source)
    events = _events(ds, theta_train, events)
    preps = {n: prepare_landscape(ds, interpolant, n_train=n, source=source) for n in sizes}
    ref = preps[sizes[-1]]
    d = study_defaults(ref, events.theta_train)
    gam = np.unique(rates("gamma", d.gammas if gamma is None else gamma, positive=False))
    eta_d = float(rates("eta_d", d.eta_d if eta_d is None else eta_d, positive=True)[0])
    eta_r = float(rates("eta_r", d.eta_r if eta_r is None else eta_r, positive=False)[0])
    st = check_starts(ref, d.start if start is None else start)
    if st.shape[0] != 1:
        raise bad_value("start", start, "one (alpha, m) pair")
    one = (float(st[0, 0]), float(st[0, 1]))
    if path_gamma is None:
        path_gamma = default_path_gamma(tuple(gam))
    path_gamma = float(path_gamma)
    _warn_unconverged(preps, one)
    parts = [_slice_outputs(preps[n], one, gam, path_gamma, eta_d, eta_r, events, solver,
                            n_grid) for n in sizes]
    return _dataset(ds, source, sizes, gam, parts, one, eta_d, eta_r, path_gamma, events,
                    ref.w0, n_grid)


def _dataset(ds: xr.Dataset, source: str, sizes: list[int], gam: np.ndarray,
             parts: list[tuple[xr.Dataset, xr.Dataset, BoundaryAnalysis, str]],
             start: tuple[float, float], eta_d: float, eta_r: float, path_gamma: float,
             events: EventOptions, w0: float, n_grid: int) -> xr.Dataset:
    """The result Dataset of `data_size_dependence` (dims n_train, gamma, padded points)."""
    nan = float("nan")
    preds = [part[0] for part in parts]
    bas = [part[2] for part in parts]

    def alpha(u: float) -> float:
        return float(np.exp(u)) / w0 if np.isfinite(u) else nan

    per_n = {
        "connects": [b.connects for b in bas],
        "connect_alpha": [alpha(b.connect[0]) for b in bas],
        "connect_m": [b.connect[1] for b in bas],
        "anchor_alpha": [alpha(b.anchor[0]) for b in bas],
        "anchor_m": [b.anchor[1] for b in bas],
        "anchor_from": [part[3] for part in parts],
        "slide_end": [b.slide_end for b in bas],
        "slide_end_alpha": [alpha(b.slide[-1, 0]) if len(b.slide) else nan for b in bas],
        "slide_end_m": [float(b.slide[-1, 1]) if len(b.slide) else nan for b in bas],
        "slide_theta": [chord_angle(b.slide) for b in bas],
        "star_alpha": [alpha(b.star[0]) for b in bas],
        "star_m": [b.star[1] for b in bas],
        "star_test_loss": [b.star_test_loss for b in bas],
        "star_test_acc": [b.star_test_acc for b in bas],
        "best_test": [b.best for b in bas],
        "region_fraction": [b.region_fraction for b in bas],
        "never_grok": [not bool(np.isfinite(p["t_grok"].values).any()) for p in preds],
        "agrees": [b.connects == bool(np.isfinite(float(part[1]["t_grok"])))
                   for b, part in zip(bas, parts)],
    }
    data: dict[str, tuple] = {k: ("n_train", np.asarray(v)) for k, v in per_n.items()}
    for k in PER_GAMMA:
        data[k] = (("n_train", "gamma"), np.stack([p[k].values for p in preds]))
    data["alpha_point"] = (("n_train", "gamma", "point"),
                           np.stack([p["w_point"].values for p in preds]) / w0)
    data["m_point"] = (("n_train", "gamma", "point"), np.stack([p["m_point"].values
                                                               for p in preds]))
    t = data["t_grok"][1]
    ratio = t[-1] / t[-2] if len(sizes) > 1 else np.full(gam.size, nan)
    data["t_grok_ratio"] = ("gamma", ratio)
    lines = {"contour": [_joined(b.contour) for b in bas],
             "region": [_joined(b.region) for b in bas],
             "slide": [b.slide for b in bas]}
    paths = []
    for part in parts:
        path = part[1]
        k = path.sizes["sample"]
        idx = np.unique(np.linspace(0, k - 1, min(k, MAX_PATH_POINTS)).round().astype(int))
        paths.append(np.column_stack([np.log(path["w"].values[idx]), path["m"].values[idx]]))
    lines["path"] = paths
    for kind, rows in lines.items():
        arr = _padded(rows)
        dim = DATASIZE_POINT_DIMS[kind]
        data[f"{kind}_alpha"] = (("n_train", dim), np.exp(arr[..., 0]) / w0)
        data[f"{kind}_m"] = (("n_train", dim), arr[..., 1])
    for name, (dims, values) in list(data.items()):
        long_name, units = DATASIZE_VAR_META[name]
        data[name] = (dims, values, {"long_name": long_name, "units": units})
    for k in ("t_overfit", "t_grok", "delay", "t_closed", "t_geometric", "t_C"):
        data[k][2]["units"] = TIME_UNITS
    a = ds.attrs
    threshold = events.acc_threshold if events.grok_on == "acc" else float(events.theta_test)
    attrs = {
        "Conventions": "CF-1.8",
        "title": f"data-size dependence on the (w, m) plane (Fig. 6e) of {source}",
        "task": str(a.get("task", "")), "preset": str(a.get("preset", "")),
        "config_json": str(a.get("config_json", "{}")), "w0": float(w0),
        "landscape_source": source, "landscape_date_created": str(a.get("date_created", "")),
        "theta_train": float(events.theta_train), "grok_on": events.grok_on,
        "grok_threshold": float(threshold), "start_alpha": start[0], "start_m": start[1],
        "eta_d": eta_d, "eta_r": eta_r, "path_gamma": float(path_gamma), "n_grid": n_grid,
        "alpha_min": float(ds["alpha"].values[0]), "alpha_max": float(ds["alpha"].values[-1]),
        "m_min": float(ds["m"].values[0]), "m_max": float(ds["m"].values[-1]),
        "time_units": TIME_UNITS, "note": ADAM_NOTE,
        "padding": "lines joined with one NaN row between them, NaN-padded to the longest N",
        "package_version": package_version(), "date_created": now_iso(),
        "history": f"reduced_dynamics.datasize.data_size_dependence({source!r})",
        FILE_KIND_ATTR: "datasize",
    }
    coords = {"n_train": ("n_train", np.asarray(sizes, np.int64)),
              "gamma": ("gamma", gam, {"long_name": "weight decay"})}
    return xr.Dataset(data, coords=coords, attrs=attrs)
