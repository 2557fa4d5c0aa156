"""Phase diagrams (SPEC §15, Liu et al. 2022): comprehension, grokking, memorisation and
confusion over a grid of two of (η_D, γ, α0, m0, N), predicted from a landscape or measured
from a batched sweep of full runs, and the two compared.

The rule (`classify`), with step budget T and gap τ (defaults `names.PHASE_T` = 1e5,
`names.PHASE_TAU` = 1e3), on t_train and t_test, the first steps with train accuracy ≥
the train threshold and with the test event (test accuracy ≥ the test threshold, or test
loss ≤ it for a task that groks on loss): comprehension when t_test ≤ T and either t_train
≤ T with t_test − t_train < τ or t_train is not within T (a run that generalises without
fitting); grokking when both are within T and t_test − t_train ≥ τ; memorisation when only
t_train is; confusion when neither is.

* `predicted_phases`: Eq. 6 integrated from every cell's start with its rates by the engine
  (`engine.predict.integrate`, one batched call per training-set size), up to t_max = T and
  stopped at the test event (nothing after it changes the phase); t_train = t_overfit and
  t_test = t_grok of the path, events on the interpolated accuracies (or test loss).
* `measured_phases`: the runs of a trajectory file whose per-run coordinates form the full
  grid; t_train, t_test = the first logged steps at the thresholds (`engine.thresholds`).
  Several runs per cell (seeds): the cell's phase is the most common one among its runs
  (a tie goes to the phase listed first in `names.Phase`), ``phase_count`` holds how many
  runs fell in each phase, and t_train, t_test are the medians over the runs (a time not
  within T counts as later than any: the median is NaN when half or more of the runs did
  not get there).
* `compare_phases`: the fraction of cells whose phases agree and the 4 × 4 confusion table.

Times beyond T are NaN in both ("not within T"); a diagram holds nothing the rule does not
use. Thresholds (`PhaseThresholds`) default to the task's: the test threshold is the
file's ``task.grok_threshold`` (SPEC §12, else test accuracy 0.95), the train threshold its
``task.train_acc_threshold`` (else 0.95).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_choice, check_int, check_real, check_type
from reduced_dynamics.engine.options import EventOptions, InterpolantOptions, SolverOptions
from reduced_dynamics.engine.thresholds import (
    first_crossing,
    grok_threshold_of,
    grok_times,
    train_threshold_of,
)
from reduced_dynamics.errors import InputError, bad_value
from reduced_dynamics.io.schema import FILE_KIND_ATTR, now_iso, package_version
from reduced_dynamics.names import (
    ACC_THRESHOLD,
    PHASE_AXES,
    PHASE_AXIS_META,
    PHASE_NAMES,
    PHASE_T,
    PHASE_TAU,
    PHASE_VAR_META,
    PathStatus,
    Phase,
    RunStatus,
    flag_attrs,
)

GRID_RTOL = 1e-9
"""Relative tolerance within which two diagrams' grid values are the same (a grid parsed
from ``log:1e-4:1e-2:11`` and one stored as 10**linspace(-4, -2, 11) differ in the last
bits)."""


# ------------------------------------------------------------------------------- the rule
@dataclass(frozen=True)
class PhaseThresholds:
    """What t_train and t_test are measured against: train accuracy ≥ ``train_acc``; the
    test event test accuracy ≥ ``test`` (``test_on="acc"``) or test loss ≤ ``test``
    (``"loss"``). `of` reads a file's task's."""

    train_acc: float = ACC_THRESHOLD
    test: float = ACC_THRESHOLD
    test_on: str = "acc"

    def __post_init__(self) -> None:
        check_real("train_acc", self.train_acc, low=0.0, low_open=True, high=1.0,
                   expected="a train accuracy in (0, 1]")
        check_choice("test_on", self.test_on, ("acc", "loss"))
        if self.test_on == "acc":
            check_real("test", self.test, low=0.0, low_open=True, high=1.0,
                       expected="a test accuracy in (0, 1] (test_on='acc')")
        else:
            check_real("test", self.test, low=0.0, low_open=True,
                       expected="a finite test loss > 0 (test_on='loss')")
        object.__setattr__(self, "train_acc", float(self.train_acc))
        object.__setattr__(self, "test", float(self.test))

    @classmethod
    def of(cls, ds: xr.Dataset) -> PhaseThresholds:
        """The thresholds of the task recorded in a landscape's or runs file's config_json:
        ``task.train_acc_threshold`` and ``task.grok_threshold`` (module docstring)."""
        train, _ = train_threshold_of(ds)
        test, on, _ = grok_threshold_of(ds)
        return cls(train_acc=train, test=test, test_on=on)

    def events(self) -> EventOptions:
        """The engine's events for these thresholds: overfit on the interpolated train
        accuracy, grok on the interpolated test accuracy (or test loss)."""
        if self.test_on == "loss":
            return EventOptions(overfit_on="acc", train_acc_threshold=self.train_acc,
                                grok_on="loss", theta_test=self.test)
        return EventOptions(overfit_on="acc", train_acc_threshold=self.train_acc,
                            grok_on="acc", acc_threshold=self.test)

    def describe(self) -> str:
        """``train_acc >= 0.9, test_acc >= 0.9``: the two events in words."""
        test = (f"test_acc >= {self.test:g}" if self.test_on == "acc"
                else f"test_loss <= {self.test:g}")
        return f"train_acc >= {self.train_acc:g}, {test}"


def check_budget(T: object, tau: object) -> tuple[float, float]:
    """The rule's T (> 1 step) and τ (≥ 0) as floats; `InputError` naming them."""
    t = check_real("T", T, low=1.0, low_open=True,
                   expected="a finite step budget > 1 (SPEC 15: 1e5)")
    g = check_real("tau", tau, low=0.0, expected="a finite gap >= 0 in steps (SPEC 15: 1e3)")
    return t, g


def classify(t_train: object, t_test: object, T: float = PHASE_T, tau: float = PHASE_TAU
             ) -> np.ndarray:
    """SPEC §15's phase (`names.Phase` codes, int8) of every (t_train, t_test) pair; NaN or
    a time > T: not within the budget (module docstring)."""
    T, tau = check_budget(T, tau)
    tr = np.asarray(t_train, float)
    te = np.asarray(t_test, float)
    with np.errstate(invalid="ignore"):
        fit = np.isfinite(tr) & (tr <= T)
        gen = np.isfinite(te) & (te <= T)
        gap = te - tr
        out = np.full(np.broadcast(tr, te).shape, int(Phase.CONFUSION), np.int8)
        out[fit & ~gen] = Phase.MEMORISATION
        out[gen & fit & (gap >= tau)] = Phase.GROKKING
        out[gen & (~fit | (gap < tau))] = Phase.COMPREHENSION
    return out


def _within(t: np.ndarray, T: float) -> np.ndarray:
    """``t`` with every time not within T as NaN."""
    t = np.asarray(t, float).copy()
    with np.errstate(invalid="ignore"):
        t[~(t <= T)] = np.nan
    return t


# ------------------------------------------------------------------------------- the grid
def check_grid(grid: object) -> dict[str, np.ndarray]:
    """``grid``: a dict of exactly two of `names.PHASE_AXES` -> non-empty lists of finite,
    distinct numbers; returned with each list sorted (float, int for ``n_train``), in the
    dict's order (the first axis is the figure's x). Ranges are checked where the values
    are used (rates by the engine, starts against the landscape grid)."""
    if not isinstance(grid, dict):
        raise bad_value("grid", type(grid).__name__, "a dict of two grid axes, e.g. "
                        "{'eta_d': [1e-4, 1e-3], 'gamma': [0, 1, 2]}")
    unknown = [k for k in grid if k not in PHASE_AXES]
    if unknown or len(grid) != 2:
        raise InputError(f"`grid` must have exactly two axes among {list(PHASE_AXES)}, got "
                         f"{list(grid)}" + (f" (unknown: {unknown})" if unknown else ""))
    out = {}
    for name, values in grid.items():
        try:
            arr = np.atleast_1d(np.asarray(values, dtype=float))
        except (TypeError, ValueError):
            raise bad_value(f"grid[{name!r}]", values, "a non-empty list of numbers") from None
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise bad_value(f"grid[{name!r}]", values, "a non-empty 1-D list of finite numbers")
        if np.unique(arr).size != arr.size:
            raise bad_value(f"grid[{name!r}]", arr.tolist(), "distinct values (each cell once)")
        arr = np.sort(arr)
        if name == "n_train":
            if np.any(arr < 1) or np.any(arr != np.round(arr)):
                raise bad_value("grid['n_train']", arr.tolist(), "training-set sizes, "
                                "integers >= 1")
            arr = arr.astype(np.int64)
        out[name] = arr
    return out


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


# --------------------------------------------------------------------------- predicted
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

    t_train, t_test = _within(on_grid(t_train), T), _within(on_grid(t_test), T)
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


# --------------------------------------------------------------------------- the Dataset
def phase_dataset(axes: dict[str, np.ndarray], t_train: np.ndarray, t_test: np.ndarray, *,
                  T: float, tau: float, thresholds: PhaseThresholds, task: dict,
                  attrs: dict, phase: np.ndarray | None = None) -> xr.Dataset:
    """A phase-diagram Dataset (`io.phases_file`) over ``axes`` with times ``t_train``,
    ``t_test`` (NaN: not within T); ``phase`` defaults to `classify` of them; ``task``:
    the attributes of the file it came from (task, preset, config_json)."""
    dims = tuple(axes)
    if phase is None:
        phase = classify(t_train, t_test, T, tau)

    def meta(name: str) -> dict:
        long_name, units = PHASE_VAR_META[name]
        return {"long_name": long_name, "units": units}

    data = {"phase": (dims, np.asarray(phase, np.int8), {**meta("phase"),
                                                          **flag_attrs(Phase)}),
            "t_train": (dims, np.asarray(t_train, float), meta("t_train")),
            "t_test": (dims, np.asarray(t_test, float), meta("t_test"))}
    coords = {k: (k, v, {"long_name": PHASE_AXIS_META[k][0], "units": PHASE_AXIS_META[k][1]})
              for k, v in axes.items()}
    base = {"Conventions": "CF-1.8", "task": str(task.get("task", "")),
            "preset": str(task.get("preset", "")),
            "config_json": str(task.get("config_json", "{}")),
            "T": float(T), "tau": float(tau), "train_threshold": thresholds.train_acc,
            "test_threshold": thresholds.test, "test_on": thresholds.test_on,
            "events": thresholds.describe(), "package_version": package_version(),
            "date_created": now_iso(), FILE_KIND_ATTR: "phases"}
    return xr.Dataset(data, coords=coords, attrs={**base, **attrs})


def thresholds_of(ds: xr.Dataset) -> PhaseThresholds:
    """The thresholds a phase-diagram Dataset was classified with (its attributes)."""
    return PhaseThresholds(train_acc=float(ds.attrs["train_threshold"]),
                           test=float(ds.attrs["test_threshold"]),
                           test_on=str(ds.attrs["test_on"]))


# ---------------------------------------------------------------------------- measured
def run_axes(runs: xr.Dataset) -> list[str]:
    """The grid axes of a batched sweep: the per-run coordinates among `PHASE_AXES` that
    take more than one value, in `PHASE_AXES` order."""
    return [k for k in PHASE_AXES if k in runs.coords and runs[k].dims == ("run",)
            and np.unique(runs[k].values).size > 1]


def measured_phases(
    runs: xr.Dataset | str | os.PathLike,
    *,
    T: float = PHASE_T,
    tau: float = PHASE_TAU,
    axes: tuple[str, str] | list[str] | None = None,
    thresholds: PhaseThresholds | None = None,
    source: str | None = None,
) -> xr.Dataset:
    """The measured phase diagram (SPEC §15) of a trajectory file of a batched grid sweep.

    ``axes``: the two per-run coordinates that make the grid (default: those among
    eta_d, gamma, alpha0, m0, n_train with more than one value, `run_axes`); every
    combination of their values must have at least one run, and every other per-run
    coordinate but ``seed`` one value (`InputError` naming ``runs`` otherwise). The runs
    must be logged up to step T. ``thresholds``: default the runs' task's
    (`PhaseThresholds.of`). Several runs per cell: majority phase, ``phase_count``, median
    times (module docstring). A diverged run is classified by the steps it logged before
    diverging. Returns the Dataset of `io.phases_file`.
    """
    from reduced_dynamics.io.trajectory_file import open_trajectories

    check_type("runs", runs, (xr.Dataset, str, os.PathLike), "an xarray.Dataset (a "
               "trajectory file's, `open_trajectories`) or the path of a trajectory file")
    T, tau = check_budget(T, tau)
    if axes is not None and (not isinstance(axes, (tuple, list)) or len(axes) != 2
                             or not all(isinstance(a, str) and a in PHASE_AXES for a in axes)
                             or axes[0] == axes[1]):
        raise bad_value("axes", axes, f"two different names among {list(PHASE_AXES)}, or None")
    check_type("thresholds", thresholds, PhaseThresholds, "a PhaseThresholds or None",
               optional=True)
    check_type("source", source, str, "a str (the name shown in messages) or None",
               optional=True)
    if isinstance(runs, xr.Dataset):
        ds, source = runs, source or "<Dataset>"
    else:
        ds, source = open_trajectories(runs), source or str(runs)
    names = _grid_axes(ds, axes, source)
    rest = [k for k in (*PHASE_AXES, "eta_r") if k not in names and k in ds.coords
            and ds[k].dims == ("run",)]
    for k in rest:
        vals = np.unique(ds[k].values)
        if vals.size > 1:
            raise InputError(f"`runs` {source}: the per-run coordinate `{k}` takes "
                             f"{vals.size} values ({_few(vals)}) besides the grid axes "
                             f"{names}; a phase diagram is over two axes: select the runs of "
                             f"one {k} (e.g. runs.where(runs.{k} == {vals[0]:g}, drop=True))")
    grid = {k: np.unique(ds[k].values) for k in names}
    if "n_train" in grid:
        grid["n_train"] = grid["n_train"].astype(np.int64)
    step = ds["step"].values
    if float(step.max()) < T:
        raise InputError(f"`T` = {T:g}: the runs of {source} are logged up to step "
                         f"{float(step.max()):g} only, so whether they fit or generalise "
                         f"by step T is not known; pass T <= {float(step.max()):g}")
    thresholds = thresholds or PhaseThresholds.of(ds)
    t_train = _within(first_crossing(step, ds["train_acc"].values, thresholds.train_acc), T)
    t_test = _within(grok_times(step, ds["test_acc"].values, ds["test_loss"].values,
                                thresholds.test, thresholds.test_on), T)
    per_run = classify(t_train, t_test, T, tau)
    shape = tuple(v.size for v in grid.values())
    idx = [np.searchsorted(grid[k], ds[k].values) for k in names]
    cell = np.ravel_multi_index(idx, shape)
    n_cells = math.prod(shape)
    counts = np.zeros((n_cells, len(Phase)), np.int64)
    np.add.at(counts, (cell, per_run.astype(np.int64)), 1)
    empty = np.flatnonzero(counts.sum(axis=1) == 0)
    if empty.size:
        missing = [tuple(float(grid[k][i]) for k, i in zip(names, np.unravel_index(c, shape)))
                   for c in empty[:4]]
        raise InputError(f"`runs` {source}: the runs do not form a full grid of {names[0]} x "
                         f"{names[1]} ({shape[0]} x {shape[1]} values): {empty.size} cell(s) "
                         f"have no run, e.g. {names[0]}, {names[1]} = {missing}; train the "
                         "missing runs or pass a complete sweep")
    phase = np.argmax(counts, axis=1).astype(np.int8)  # ties: the first Phase listed
    med_train = _median_by_cell(t_train, cell, n_cells)
    med_test = _median_by_cell(t_test, cell, n_cells)
    n_runs = counts.sum(axis=1)
    attrs = {"diagram": "measured", "title": f"measured phase diagram (SPEC 15) of {source}",
             "runs_source": source, "runs": int(ds.sizes["run"]),
             "runs_per_cell_min": int(n_runs.min()), "runs_per_cell_max": int(n_runs.max()),
             "seeds": "majority phase per cell (ties: the first of " + ", ".join(PHASE_NAMES)
                      + "); t_train, t_test: medians over the cell's runs",
             "history": f"{now_iso()} reduced_dynamics.phases.measured_phases({source!r})"}
    if "status" in ds.data_vars:
        attrs["diverged_runs"] = int((ds["status"].values == RunStatus.DIVERGED).sum())
    for k in rest:
        v = np.asarray(ds[k].values)[0]
        attrs[k] = int(v) if k == "n_train" else float(v)
    if "eta_r" in attrs:  # the ODE's η_R for the runs' optimiser (SPEC 13)
        divisor, conversion = _eta_r_divisor(ds)
        attrs["eta_r"] = attrs["eta_r"] / divisor
        attrs["eta_r_conversion"] = conversion
    if "w0" in ds.attrs:
        attrs["w0"] = float(ds.attrs["w0"])
    out = phase_dataset(grid, med_train.reshape(shape), med_test.reshape(shape), T=T,
                        tau=tau, thresholds=thresholds, task=ds.attrs, attrs=attrs,
                        phase=phase.reshape(shape))
    out["phase_count"] = ((*names, "outcome"), counts.reshape(*shape, len(Phase)),
                          {"long_name": PHASE_VAR_META["phase_count"][0], "units": "1",
                           "outcome": " ".join(PHASE_NAMES)})
    return out


def _eta_r_divisor(ds: xr.Dataset) -> tuple[float, str]:
    """The runs' η_r conversion to the ODE's η_R (SPEC 13; `validate`'s rule)."""
    from reduced_dynamics.validate import _run_conversion

    divisor, conversion, _ = _run_conversion(ds)
    return divisor, conversion


def _grid_axes(ds: xr.Dataset, axes: object, source: str) -> list[str]:
    """The two grid axes of the runs (given, or found: `run_axes`)."""
    if axes is None:
        found = run_axes(ds)
        if len(found) != 2:
            raise InputError(f"`runs` {source}: the per-run coordinates that vary are "
                             f"{found or 'none'}; a phase diagram needs exactly two of "
                             f"{list(PHASE_AXES)}: pass `axes` (CLI: the grid options) or "
                             "runs of a two-axis sweep")
        return found
    for a in axes:  # type: ignore[union-attr]
        if a not in ds.coords or ds[a].dims != ("run",):
            raise InputError(f"`axes`: the runs of {source} have no per-run coordinate "
                             f"`{a}`; they have "
                             f"{[k for k in ds.coords if ds[k].dims == ('run',)]}")
    return list(axes)  # type: ignore[arg-type]


def _few(values: np.ndarray) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:5])
    return shown + (", ..." if values.size > 5 else "")


def _median_by_cell(t: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """Per cell, the median of its runs' times, NaN (not within T) counted as +inf; a
    median that is +inf is NaN."""
    out = np.full(n_cells, np.nan)
    t = np.where(np.isfinite(t), t, np.inf)
    for c in range(n_cells):
        sel = t[cell == c]
        if sel.size:
            with np.errstate(invalid="ignore"):  # inf - inf in the mean of two
                med = float(np.median(sel))
            out[c] = med if np.isfinite(med) else np.nan
    return out


# ----------------------------------------------------------------------------- compare
def same_grid(a: xr.Dataset, b: xr.Dataset) -> bool:
    """Whether two diagrams have the same two axes (in any order) and values (within
    `GRID_RTOL`)."""
    da, db = [str(d) for d in a["phase"].dims], [str(d) for d in b["phase"].dims]
    if set(da) != set(db):
        return False
    return all(a[k].size == b[k].size and np.allclose(a[k].values.astype(float),
                                                      b[k].values.astype(float),
                                                      rtol=GRID_RTOL, atol=0.0)
               for k in da)


def compare_phases(pred: xr.Dataset, meas: xr.Dataset) -> xr.Dataset:
    """``pred`` (predicted) against ``meas`` (measured) on the same grid: ``agreement``,
    the fraction of cells with the same phase; ``confusion`` (measured x predicted, 4 x 4
    counts of cells, `names.Phase` order); ``agrees`` per cell. Refuses diagrams of
    different grids, T, τ or thresholds (`InputError` naming ``meas``)."""
    for name, ds in (("pred", pred), ("meas", meas)):
        if not (isinstance(ds, xr.Dataset) and "phase" in ds.data_vars
                and ds["phase"].ndim == 2):
            raise bad_value(name, type(ds).__name__, "a phase diagram Dataset "
                            "(`predicted_phases`, `measured_phases` or `open_phases`)")
    if not same_grid(pred, meas):
        raise InputError("`meas`: its grid differs from `pred`'s: "
                         f"{_grid_text(meas)} against {_grid_text(pred)}; classify both on one "
                         "grid (predict on the runs' grid)")
    for key in ("T", "tau", "train_threshold", "test_threshold", "test_on"):
        if pred.attrs.get(key) != meas.attrs.get(key):
            raise InputError(f"`meas`: its rule's `{key}` = {meas.attrs.get(key)!r} differs "
                             f"from `pred`'s {pred.attrs.get(key)!r}; classify both with the "
                             "same T, tau and thresholds")
    dims = pred["phase"].dims
    p = pred["phase"].values
    m = meas["phase"].transpose(*dims).values
    table = np.zeros((len(Phase), len(Phase)), np.int64)
    np.add.at(table, (m.ravel().astype(np.int64), p.ravel().astype(np.int64)), 1)
    agrees = p == m
    coords = {k: pred[k] for k in dims}
    return xr.Dataset(
        {"agreement": ((), float(agrees.mean()), {"long_name": "fraction of cells whose "
                                                  "predicted and measured phases agree"}),
         "confusion": (("measured", "predicted"), table,
                       {"long_name": "cells per (measured, predicted) phase"}),
         "agrees": (dims, agrees, {"long_name": "predicted phase equals measured phase"})},
        coords={**coords, "measured": list(PHASE_NAMES), "predicted": list(PHASE_NAMES)},
        attrs={"T": pred.attrs.get("T"), "tau": pred.attrs.get("tau"),
               "predicted_source": pred.attrs.get("landscape_source", ""),
               "measured_source": meas.attrs.get("runs_source", "")})


def _grid_text(ds: xr.Dataset) -> str:
    parts = []
    for k in ds["phase"].dims:
        v = ds[k].values.astype(float)
        parts.append(f"{k} = {v.size} values from {v[0]:g} to {v[-1]:g}")
        if not (np.all(np.isfinite(v))):
            break
    return " x ".join(parts)


def prediction_arguments(meas: xr.Dataset) -> dict:
    """The `predicted_phases` keyword arguments that predict the runs of a measured diagram
    on their own grid: ``grid``, T, τ, the thresholds and the runs' values of what is not
    on the grid (eta_d, gamma, eta_r as the ODE's η_R, start, n_train)."""
    axes = {str(k): meas[k].values for k in meas["phase"].dims}
    a = meas.attrs
    out: dict = {"grid": axes, "T": float(a["T"]), "tau": float(a["tau"]),
                 "thresholds": thresholds_of(meas)}
    for k in ("eta_d", "gamma", "eta_r"):
        if k in a:
            out[k] = float(a[k])
    if "n_train" in a:
        out["n_train"] = int(a["n_train"])
    if "alpha0" in a or "m0" in a:
        out["start"] = (float(a.get("alpha0", float("nan"))), float(a.get("m0", 0.0)))
    return out
