"""The prediction API with the study defaults of the landscape's own task.

`reduced_dynamics.predict_grokking_times`, `analyze_path` and `integrate` are these
functions; the CLI's ``predict``, ``path`` and ``gamma-plot`` call them too, so
``predict_grokking_times(open_landscape(path))`` gives what ``reduced-dynamics predict
path`` prints. What the caller leaves out (None) comes from the task that made the landscape
(its ``task`` attribute, looked up in the task registry; `StudyDefaults`):

* the start (alpha, m): the task's study start (`TaskEntry.alpha0`, ``m0``), as ``train``
  uses, m clipped to the grid;
* the weight decays: the task's study list (`TaskEntry.gammas`);
* η_D, η_R: the task's training rates (`TaskEntry.train`);
* the events: grokking at the file's ``task.grok_threshold`` (SPEC §12), else test
  accuracy 0.95.

For a task the registry does not know, the engine's landscape-derived choices
(`engine.inputs.default_start`, `default_gammas`) and η = 1e-3. A start where the probe did
not converge gives an `UnconvergedStartWarning` (the CLI prints it as a ``warning:`` line).
The engine itself (`reduced_dynamics.engine.predict`) takes explicit arguments and knows
no task.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_int, check_numbers, check_real, check_sequence, check_type
from reduced_dynamics.engine import predict as engine
from reduced_dynamics.engine.inputs import check_starts, default_gammas, default_start
from reduced_dynamics.engine.options import EventOptions, InterpolantOptions, SolverOptions
from reduced_dynamics.engine.parameters import n_train_values, select_n_train
from reduced_dynamics.engine.prepare import (
    PreparedLandscape,
    opened,
    prepare_landscape,
    unconverged_nodes,
)
from reduced_dynamics.engine.thresholds import grok_threshold_of
from reduced_dynamics.errors import ReducedDynamicsWarning
from reduced_dynamics.io.schema import task_config_of
from reduced_dynamics.names import ACC_THRESHOLD, BOUNDARY_LOSS
from reduced_dynamics.tasks import REGISTRY, TaskEntry

UNKNOWN_TASK_ETA = 1e-3  # η_D and η_R for a landscape of an unregistered task

Landscape = xr.Dataset | str | os.PathLike | PreparedLandscape


class UnconvergedStartWarning(ReducedDynamicsWarning):
    """The start lies in a grid cell where the probe did not converge."""


@dataclass(frozen=True)
class StudyDefaults:
    """What a prediction uses where the caller gives nothing. ``start`` is (alpha, m) with
    m = 0 on a landscape without m; ``source`` says where the values come from."""

    start: tuple[float, float]
    gammas: tuple[float, ...]
    eta_d: float
    eta_r: float
    source: str


def task_entry(ds: xr.Dataset) -> TaskEntry | None:
    """The registered task that made this landscape (its ``task`` attribute), or None;
    with the study defaults of the file's preset (``task.preset`` in its config_json,
    `TaskEntry.for_preset`)."""
    entry = REGISTRY.get(str(ds.attrs.get("task", "")))
    if entry is None:
        return None
    task = task_config_of(ds)
    return entry.for_preset(task.get("preset") if task else None)


def study_defaults(prep: PreparedLandscape, theta_train: float = BOUNDARY_LOSS
                   ) -> StudyDefaults:
    """The landscape's task's study start, γ list and training rates (see the module)."""
    check_type("prep", prep, PreparedLandscape, "a PreparedLandscape "
               "(`prepare_landscape(landscape)`)")
    check_real("theta_train", theta_train, low=0.0, low_open=True,
               expected="a finite loss threshold > 0")
    entry = task_entry(prep.dataset)
    if entry is None:
        alpha, m = default_start(prep)
        gam = default_gammas(prep, theta_train)
        return StudyDefaults((alpha, m), tuple(map(float, gam)), UNKNOWN_TASK_ETA,
                             UNKNOWN_TASK_ETA, "the landscape (its task is not registered)")
    m_lo, m_hi = prep.interp.m_range
    m0 = float(min(max(entry.m0, m_lo), m_hi)) if prep.has_m else 0.0
    return StudyDefaults((entry.alpha0[0], m0), entry.gammas, entry.train.eta_d,
                         entry.train.eta_r, f"task {entry.name!r}")


def default_events(ds: xr.Dataset, theta_train: float = BOUNDARY_LOSS) -> EventOptions:
    """Events at the file's grokking threshold (``task.grok_threshold`` in its config_json,
    SPEC §12), else test accuracy 0.95; overfitting at l̃_train ≤ ``theta_train``."""
    value, on, _ = grok_threshold_of(ds)
    if on == "loss":
        return EventOptions(theta_train=theta_train, grok_on="loss", theta_test=value,
                            acc_threshold=ACC_THRESHOLD)
    return EventOptions(theta_train=theta_train, acc_threshold=value)


def warn_if_unconverged(prep: PreparedLandscape, alpha: float, m: float) -> None:
    """`UnconvergedStartWarning` when the start's grid cell holds unconverged nodes."""
    bad = unconverged_nodes(prep, alpha, m)
    if not bad:
        return
    where = ", ".join(f"alpha={a:.3g}" + ("" if math.isnan(mm) else f" m={mm:.3g}")
                      for a, mm in bad[:4])
    at = f"alpha={alpha:g}" + (f", m={m:g}" if prep.has_m else "")
    warnings.warn(f"the start {at} lies in the unconverged region of {prep.source} (the "
                  f"probe did not converge at the grid point(s) {where}); predictions from "
                  "there are unreliable", UnconvergedStartWarning, stacklevel=3)


def _start(prep: PreparedLandscape, start: object, defaults: StudyDefaults) -> object:
    """The start to use (checked inside the grid first, then warned about)."""
    if start is None:
        start = defaults.start if prep.has_m else defaults.start[0]
    st = check_starts(prep, start)
    for alpha, m in st:
        warn_if_unconverged(prep, float(alpha), float(m))
    return start


def _resolved(prep: PreparedLandscape, gamma: object, eta_d: object, eta_r: object,
              start: object, events: EventOptions | None
              ) -> tuple[object, object, object, object, EventOptions]:
    theta = events.theta_train if events is not None else BOUNDARY_LOSS
    d = study_defaults(prep, theta)
    return (np.asarray(d.gammas) if gamma is None else gamma,
            d.eta_d if eta_d is None else eta_d,
            d.eta_r if eta_r is None else eta_r,
            _start(prep, start, d),
            events if events is not None else default_events(prep.dataset))


def check_arguments(landscape: object, *, gamma: object = None, eta_d: object = None,
                    eta_r: object = None, start: object = None, start_name: str = "start",
                    events: object = None, solver: object = None, interpolant: object = None,
                    n_train: object = None, n_train_list: bool = False) -> None:
    """The types of the prediction API's arguments, checked before anything is opened or
    integrated: `InputError` naming the argument. Their values are checked where they are
    used (the engine: rates >= 0, starts inside the grid, N on the grid)."""
    check_type("landscape", landscape, (xr.Dataset, str, os.PathLike, PreparedLandscape),
               "an xarray.Dataset, a path to a landscape file or a PreparedLandscape")
    for name, value in (("gamma", gamma), ("eta_d", eta_d), ("eta_r", eta_r)):
        if value is not None:
            check_numbers(name, value, "a number or a list of numbers (None: the task's)")
    if start is not None:
        check_numbers(start_name, start, "alpha, an (alpha, m) pair or a list of them "
                      "(None: the task's study start)")
    for name, value, kind in (("events", events, EventOptions),
                              ("solver", solver, SolverOptions),
                              ("interpolant", interpolant, InterpolantOptions)):
        article = "an" if kind.__name__[0] in "AEIOU" else "a"
        check_type(name, value, kind, f"{article} {kind.__name__} or None", optional=True)
    if n_train is None:
        return
    if n_train_list and isinstance(n_train, (list, tuple, range, np.ndarray)):
        what = "training-set sizes: an integer, a list of integers or None (every N)"
        for n in check_sequence("n_train", n_train, what):
            check_int("n_train", n, 1, expected=what)
    else:
        check_int("n_train", n_train, 1, expected="a training-set size (an integer >= 1) "
                  "or None")


def _reference(landscape: Landscape, interpolant: InterpolantOptions | None,
               n_train: object) -> tuple[PreparedLandscape, Landscape]:
    """The slice whose defaults every N shares (the given N, else the largest), and the
    landscape to pass on (opened once)."""
    if isinstance(landscape, PreparedLandscape):
        return prepare_landscape(landscape, interpolant), landscape
    ds, source = opened(landscape)
    values = n_train_values(ds)
    if not values:
        if n_train is not None:  # refused: the landscape has no n_train axis
            select_n_train(ds, n_train, source=source)
        return prepare_landscape(ds, interpolant, source=source), ds
    if n_train is None:
        ref = max(values)
    elif np.ndim(n_train) == 0:
        ref = n_train
    else:
        ref = max(n_train) if len(n_train) else n_train  # type: ignore[arg-type]
    return prepare_landscape(ds, interpolant, n_train=ref, source=source), ds


def predict_grokking_times(
    landscape: Landscape,
    gamma: object = None,
    eta_d: float | None = None,
    eta_r: float | None = None,
    start: tuple[float, float] | float | None = None,
    *,
    events: EventOptions | None = None,
    solver: SolverOptions | None = None,
    interpolant: InterpolantOptions | None = None,
    n_train: int | list[int] | None = None,
    seed: int | None = None,
) -> xr.Dataset:
    """`engine.predict.predict_grokking_times` with the task's study defaults for every
    argument left None (module docstring): t_overfit, t_grok, closed/geometric forms and
    the fitted exponent of t_grok ∝ γ^p, over γ (and N on a landscape with that axis).
    ``seed``: the restart of that init seed (None: the best over seeds)."""
    landscape = with_restart(landscape, seed)
    check_arguments(landscape, gamma=gamma, eta_d=eta_d, eta_r=eta_r, start=start,
                    events=events, solver=solver, interpolant=interpolant, n_train=n_train,
                    n_train_list=True)
    ref, target = _reference(landscape, interpolant, n_train)
    gamma, eta_d, eta_r, start, events = _resolved(ref, gamma, eta_d, eta_r, start, events)
    every_n = not isinstance(target, PreparedLandscape) and bool(n_train_values(target)) and (
        n_train is None or np.ndim(n_train) > 0)
    if not every_n:  # one slice: the prepared reference itself
        return engine.predict_grokking_times(ref, gamma, eta_d, eta_r, start, events=events,
                                             solver=solver)
    # every N (or a list): the engine runs each slice; a path names itself in the result
    again = landscape if isinstance(landscape, (str, os.PathLike)) else target
    return engine.predict_grokking_times(again, gamma, eta_d, eta_r, start, events=events,
                                         solver=solver, interpolant=ref.options,
                                         n_train=n_train)


def analyze_path(
    landscape: Landscape,
    gamma: float | None = None,
    eta_d: float | None = None,
    eta_r: float | None = None,
    start: tuple[float, float] | float | None = None,
    *,
    events: EventOptions | None = None,
    solver: SolverOptions | None = None,
    interpolant: InterpolantOptions | None = None,
    n_train: int | None = None,
    seed: int | None = None,
) -> xr.Dataset:
    """`engine.predict.analyze_path` (one path with the points A–E) with the task's study
    defaults; ``gamma=None``: the 4th value of the study list (the last of a shorter one);
    ``seed``: the restart of that init seed (None: the best over seeds)."""
    landscape = with_restart(landscape, seed)
    check_arguments(landscape, gamma=gamma, eta_d=eta_d, eta_r=eta_r, start=start,
                    events=events, solver=solver, interpolant=interpolant, n_train=n_train)
    prep = prepare_landscape(landscape, interpolant, n_train=n_train)
    theta = events.theta_train if events is not None else BOUNDARY_LOSS
    if gamma is None:
        gamma = default_path_gamma(study_defaults(prep, theta).gammas)
    _, eta_d, eta_r, start, events = _resolved(prep, gamma, eta_d, eta_r, start, events)
    return engine.analyze_path(prep, gamma, eta_d, eta_r, start, events=events, solver=solver)


def with_restart(landscape: Landscape, seed: int | None) -> Landscape:
    """The landscape itself (``seed`` None), else the restart of init seed ``seed``
    (`landscape.restarts.restart_of`; a PreparedLandscape must already be that restart)."""
    from reduced_dynamics.landscape.restarts import check_restart_seed

    if check_restart_seed(seed) is None:
        return landscape
    if isinstance(landscape, PreparedLandscape):
        return prepare_landscape(landscape, seed=seed)
    from reduced_dynamics.engine.prepare import opened
    from reduced_dynamics.landscape.restarts import restart_of

    ds, source = opened(landscape)
    return restart_of(ds, seed, source)


def integrate(
    landscape: Landscape,
    starts: object = None,
    gamma: object = None,
    eta_d: object = None,
    eta_r: object = None,
    *,
    events: EventOptions | None = None,
    solver: SolverOptions | None = None,
    interpolant: InterpolantOptions | None = None,
    n_train: int | None = None,
    seed: int | None = None,
) -> xr.Dataset:
    """`engine.predict.integrate` (every start × γ × η_D × η_R) with the task's study
    defaults for what is left None; ``seed``: the restart of that init seed."""
    landscape = with_restart(landscape, seed)
    check_arguments(landscape, gamma=gamma, eta_d=eta_d, eta_r=eta_r, start=starts,
                    start_name="starts", events=events, solver=solver,
                    interpolant=interpolant, n_train=n_train)
    prep = prepare_landscape(landscape, interpolant, n_train=n_train)
    gamma, eta_d, eta_r, starts, events = _resolved(prep, gamma, eta_d, eta_r, starts, events)
    return engine.integrate(prep, starts, gamma, eta_d, eta_r, events=events, solver=solver)


def default_path_gamma(gammas: tuple[float, ...]) -> float:
    """The γ of one path drawn from a γ list: its 4th value (the last of a shorter list)."""
    return float(gammas[min(3, len(gammas) - 1)])


def values_text(values: tuple[float, ...]) -> str:
    """A tuple of study values as the comma list a user would type (3 significant digits)."""
    return ",".join(f"{v:.3g}" for v in values)


def help_fragments() -> dict[str, str]:
    """Help-text fragments listing each registered task's study defaults."""
    starts, gamma_lists, path_gamma, eta_d = [], [], [], []
    for e in REGISTRY.values():
        starts.append(f"{e.name} {e.alpha0[0]:g}" + (f",{e.m0:g}" if e.has_m else ""))
        gamma_lists.append(f"{e.name} {values_text(e.gammas)}")
        path_gamma.append(f"{e.name} {default_path_gamma(e.gammas):.3g}")
        eta_d.append(f"{e.name} {e.train.eta_d:g}")
    return {"start": "; ".join(starts), "gamma": "; ".join(gamma_lists),
            "path_gamma": "; ".join(path_gamma), "eta_d": "; ".join(eta_d)}
