"""Public prediction API: integrate Eq. 6 on a landscape, grokking times vs γ, path analysis.

    d ln w/dt = −η_D (w⁻² ∂l̃_train/∂ln w + γ),     dm/dt = −η_R ∂l̃_train/∂m

Time is in optimiser steps when η_D, η_R are per-step learning rates. AdamW's decoupled
weight decay runs the slow (weight-decay-driven) phase on this clock; Adam's normalised
gradients do not, so fast-phase times (t_overfit, A → C) are gradient-flow times only.

Starts are given as (alpha, m) with alpha = w / w0 (as the full training runs are, SPEC §6);
on a landscape without ``m`` (1-D in w) as alpha alone, and the results carry no m.
Every function accepts the landscape as an ``xr.Dataset``, a path to a landscape file
(opened and checked with `files.open_landscape`) or a `PreparedLandscape` (reused, so the
interpolant is built once).

State and parameter axes (SPEC §11): ``w`` and ``m`` evolve; ``n_train`` is selected
before integrating (``n_train=N``, an exact grid value, see `parameters.select_n_train`).
`predict_grokking_times` with ``n_train=None`` on a landscape with that axis predicts for
every N; `integrate` and `analyze_path` need one N.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np
import xarray as xr

from reduced_dynamics.config import (
    check_bool,
    check_choice,
    check_int,
    check_real,
    check_type,
    plain_fields,
)
from reduced_dynamics.engine import dopri
from reduced_dynamics.engine import dynamics as dy
from reduced_dynamics.engine.interpolant import (
    DERIVATIVES,
    TRANSFORMS,
    Interpolant,
    build_interpolant,
    kernel_array,
)
from reduced_dynamics.engine.parameters import n_train_values, select_n_train
from reduced_dynamics.engine.path_analysis import POINTS, analyze_record, contour_u
from reduced_dynamics.errors import FileCheckError, InputError, bad_value
from reduced_dynamics.io.files import open_landscape
from reduced_dynamics.names import (
    ACC_THRESHOLD,
    BOUNDARY_LOSS,
    PATH_STATUS_NAMES,
    PathStatus,
)

TIME_UNITS = "optimiser steps (when eta_d, eta_r are per-step learning rates)"
ADAM_NOTE = ("Gradient-flow ODE: the weight-decay-driven slow phase runs on AdamW's clock; "
             "fast, gradient-driven phases (t_overfit, A->C) do not, since Adam normalises "
             "gradients.")


# ----------------------------------------------------------------------------- options
@dataclass(frozen=True)
class EventOptions:
    """What counts as overfitting and as grokking.

    overfit: l̃_train ≤ ``theta_train`` (default 0.05, the boundary contour of SPEC §4/§5),
    or with ``overfit_on="acc"`` interpolated train accuracy ≥ ``train_acc_threshold``.
    grok: interpolated test accuracy ≥ ``acc_threshold`` (default 0.95), or with
    ``grok_on="loss"`` l̃_test ≤ ``theta_test``.
    """

    theta_train: float = BOUNDARY_LOSS
    overfit_on: str = "loss"
    train_acc_threshold: float = ACC_THRESHOLD
    grok_on: str = "acc"
    acc_threshold: float = ACC_THRESHOLD
    theta_test: float | None = None

    def __post_init__(self) -> None:
        plain_fields(self)  # numpy scalars as Python ones
        check_real("theta_train", self.theta_train, low=0.0, low_open=True,
                   expected="a finite loss threshold > 0")
        for name in ("overfit_on", "grok_on"):
            if not isinstance(getattr(self, name), str) or getattr(self, name) not in (
                    "loss", "acc"):
                raise bad_value(name, getattr(self, name), "'loss' or 'acc'")
        for name in ("train_acc_threshold", "acc_threshold"):
            check_real(name, getattr(self, name), low=0.0, low_open=True, high=1.0,
                       expected="an accuracy in (0, 1]")
        if self.grok_on == "loss" and self.theta_test is None:
            raise bad_value("theta_test", None, "a loss threshold > 0 when grok_on='loss'")
        if self.theta_test is not None:
            check_real("theta_test", self.theta_test, low=0.0, low_open=True,
                       expected="a finite loss threshold > 0, or None")


@dataclass(frozen=True)
class SolverOptions:
    """Integrator settings (defaults in comments).

    The output grid is t = 0 and ``n_times - 1`` log-spaced times from ``t_first`` to
    ``t_max``; ``t_max=None`` picks 20·ln(w_max/w_min)/(min η_D · min positive γ), twenty
    times what weight decay alone needs to cross the grid (1e6/min η_D when every γ = 0).
    A path is stationary (t_E; integration stops) once |d(u, m)/dt| ≤
    η_D (stationary_rtol·γ + stationary_atol). ``step_cap``: the largest move per step in
    mean grid cells. ``fixed_step``: constant step h, no error control, no stationary stop.
    """

    rtol: float = 1e-6
    atol: float = 1e-9
    t_max: float | None = None
    t_first: float = 1.0
    n_times: int = 121
    max_steps: int = 100_000
    step_cap: float = 1.0
    stationary_rtol: float = 1e-2
    stationary_atol: float = 1e-10
    stop_at_grok: bool = False
    fixed_step: float | None = None
    record_sub: int = 3
    max_record: int = 100_000
    parallel: bool = True

    def __post_init__(self) -> None:
        plain_fields(self)  # numpy scalars as Python ones
        for name in ("rtol", "atol", "t_first", "step_cap"):
            check_real(name, getattr(self, name), low=0.0, low_open=True)
        for name in ("stationary_rtol", "stationary_atol"):
            check_real(name, getattr(self, name), low=0.0)
        if self.t_max is not None:
            check_real("t_max", self.t_max, low=self.t_first, low_open=True, expected=(
                f"a finite time > t_first = {self.t_first:g} (the first log-spaced output "
                "time, in optimiser steps), or None for auto"))
        # upper bounds: int64 option slots; n_times, max_record are allocated per path;
        # record_sub points are computed per step
        for name, lo, hi in (("n_times", 2, 10**6), ("max_steps", 1, 2**62),
                             ("record_sub", 0, 1000), ("max_record", 2, 10**7)):
            check_int(name, getattr(self, name), lo, hi,
                      expected=f"an integer in [{lo}, {hi:.3g}]")
        if self.fixed_step is not None:
            check_real("fixed_step", self.fixed_step, low=0.0, low_open=True,
                       expected="a finite step > 0 or None")
        check_bool("stop_at_grok", self.stop_at_grok)
        check_bool("parallel", self.parallel)


@dataclass(frozen=True)
class InterpolantOptions:
    """How the landscape is interpolated (see `interpolant`): transform 'log' or 'linear',
    ``smoothing`` ≥ 0 (0 = interpolate), ``monotone`` running minimum of train_loss in w."""

    transform: str = "log"
    smoothing: float = 0.0
    monotone: bool = False
    derivatives: str = "pchip"

    def __post_init__(self) -> None:
        plain_fields(self)  # numpy scalars as Python ones
        check_choice("transform", self.transform, TRANSFORMS)
        check_choice("derivatives", self.derivatives, DERIVATIVES)
        check_real("smoothing", self.smoothing, low=0.0)
        check_bool("monotone", self.monotone)


@dataclass(frozen=True, eq=False)
class PreparedLandscape:
    """A checked landscape with its interpolant, built once and reused.

    ``dataset`` has the state axes only; ``parameters`` holds the values selected on the
    file's parameter axes (e.g. ``{"n_train": 316}``; empty when it has none)."""

    dataset: xr.Dataset
    interp: Interpolant
    source: str
    options: InterpolantOptions = field(default_factory=InterpolantOptions)
    parameters: dict = field(default_factory=dict)

    @property
    def w0(self) -> float:
        return self.interp.w0

    @property
    def has_m(self) -> bool:
        """Whether ``m`` is a state axis (else the landscape is 1-D in w)."""
        return self.interp.has_m

    @property
    def alpha_range(self) -> tuple[float, float]:
        lo, hi = self.interp.w_range
        return lo / self.w0, hi / self.w0


def opened(landscape: xr.Dataset | str | os.PathLike) -> tuple[xr.Dataset, str]:
    """(Dataset, its name for messages and attributes): a path is opened and checked."""
    if isinstance(landscape, xr.Dataset):
        return landscape, "<Dataset>"
    if isinstance(landscape, (str, os.PathLike)):
        return open_landscape(landscape), str(landscape)
    raise bad_value("landscape", type(landscape).__name__,
                    "an xarray.Dataset, a path to a landscape file or a PreparedLandscape")


def prepare_landscape(landscape: xr.Dataset | str | os.PathLike | PreparedLandscape,
                      options: InterpolantOptions | None = None, *,
                      n_train: int | None = None, source: str | None = None
                      ) -> PreparedLandscape:
    """Open/check the landscape (a file path, a Dataset), select ``n_train`` on a landscape
    with that parameter axis (required there), and build the interpolant of the slice.

    A `PreparedLandscape` is returned as it is unless other ``options`` are given.
    ``source``: the name shown for a Dataset (default ``<Dataset>``; a path names itself)."""
    check_type("options", options, InterpolantOptions, "an InterpolantOptions or None",
               optional=True)
    if n_train is not None:
        check_int("n_train", n_train, 1, expected="a training-set size (an integer >= 1) "
                  "or None")
    check_type("source", source, str, "a str (the name shown in messages) or None",
               optional=True)
    parameters: dict = {}
    if isinstance(landscape, PreparedLandscape):
        have = landscape.parameters.get("n_train")
        if n_train is not None and have != n_train:
            raise InputError(
                f"`n_train` = {n_train!r}, but this PreparedLandscape is "
                + (f"the slice n_train = {have}" if have is not None else "a landscape "
                   "without an n_train axis") + f" of {landscape.source}; prepare the "
                "landscape file or Dataset again with this n_train")
        if options is None or options == landscape.options:
            return landscape
        parameters, n_train = dict(landscape.parameters), None
        landscape, source = landscape.dataset, landscape.source
    else:
        landscape, name = opened(landscape)
        source = source or name
    options = options or InterpolantOptions()
    if n_train is not None or n_train_values(landscape):
        landscape = select_n_train(landscape, n_train, source=source)
    if "n_train" in landscape.coords and landscape["n_train"].ndim == 0:  # a slice
        parameters = {"n_train": int(landscape["n_train"])}
    if "w0" not in landscape.attrs:
        raise FileCheckError(f"landscape {source} lacks the global attribute `w0` (the "
                             f"decoder norm at init, for alpha = w/w0); it has "
                             f"{sorted(landscape.attrs)}")
    try:
        w0 = float(landscape.attrs["w0"])
    except (TypeError, ValueError):
        w0 = float("nan")
    if not (np.isfinite(w0) and w0 > 0):
        raise FileCheckError(f"landscape {source}: attribute `w0` must be a number > 0, "
                             f"got {landscape.attrs['w0']!r}")
    try:
        interp = build_interpolant(landscape, transform=options.transform,
                                   smoothing=options.smoothing, monotone=options.monotone,
                                   derivatives=options.derivatives)
    except FileCheckError as exc:
        raise FileCheckError(f"landscape {source}: {exc}") from None
    return PreparedLandscape(dataset=landscape, interp=interp, source=source, options=options,
                             parameters=parameters)


# ----------------------------------------------------------------------------- validation
def _rates(name: str, value: object, *, positive: bool) -> np.ndarray:
    what = "> 0" if positive else ">= 0"
    try:
        arr = np.atleast_1d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise bad_value(name, value, f"a number or a list of numbers {what}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise bad_value(name, value, f"a number or a 1-D list of numbers {what}")
    bad = ~np.isfinite(arr) | ((arr <= 0) if positive else (arr < 0))
    if bad.any():
        shown = arr.tolist() if arr.size > 1 else float(arr[0])
        raise bad_value(name, shown, f"finite and {what}")
    return arr


def _alpha_starts(prep: PreparedLandscape, starts: object) -> np.ndarray:
    """(n, 2) array of (alpha, 0) for a landscape without m: ``starts`` are alphas (a
    number or a list), or (alpha, 0) pairs (a flat [alpha, 0] is one pair: alpha > 0)."""
    try:
        arr = np.asarray(starts, dtype=float)
    except (TypeError, ValueError):
        raise bad_value("starts", starts, "alpha values (the landscape has no m)") from None
    if arr.ndim == 1 and arr.size == 2 and arr[1] == 0:  # one (alpha, 0): alpha > 0
        arr = arr[None, :]
    if arr.ndim == 2 and arr.shape[1] == 2:
        if np.any(arr[:, 1] != 0):
            raise InputError(f"`start` {starts!r}: this landscape has no m axis (it is 1-D "
                             "in w); give starts as alpha = w/w0 alone")
        arr = arr[:, 0]
    if arr.ndim > 1 or arr.size == 0:
        raise bad_value("starts", starts, "an alpha or a list of alphas (the landscape has "
                        "no m)")
    arr = arr.ravel()
    a_lo, a_hi = prep.alpha_range
    tol = 1e-9
    for alpha in arr:
        if not (np.isfinite(alpha) and a_lo * (1 - tol) <= alpha <= a_hi * (1 + tol)):
            raise InputError(f"`start` alpha = {alpha:g} lies outside the landscape grid: "
                             f"alpha must be in [{a_lo:.4g}, {a_hi:.4g}]")
    return np.column_stack([np.clip(arr, a_lo, a_hi), np.zeros(arr.size)])


def check_starts(prep: PreparedLandscape, starts: object) -> np.ndarray:
    """(n, 2) array of (alpha, m) inside the grid (m = 0 on a landscape without m);
    `InputError` for a start outside it."""
    if not prep.has_m:
        return _alpha_starts(prep, starts)
    try:
        arr = np.asarray(starts, dtype=float)
    except (TypeError, ValueError):
        raise bad_value("starts", starts, "(alpha, m) pairs") from None
    if arr.ndim == 1 and arr.size == 2:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise bad_value("starts", starts, "an (alpha, m) pair or a list of such pairs")
    a_lo, a_hi = prep.alpha_range
    m_lo, m_hi = prep.interp.m_range
    tol = 1e-9
    for alpha, m in arr:
        inside = (np.isfinite(alpha) and np.isfinite(m)
                  and a_lo * (1 - tol) <= alpha <= a_hi * (1 + tol)
                  and m_lo - tol <= m <= m_hi + tol)
        if not inside:
            raise InputError(
                f"`start` (alpha, m) = ({alpha:g}, {m:g}) lies outside the landscape grid: "
                f"alpha must be in [{a_lo:.4g}, {a_hi:.4g}] and m in [{m_lo:g}, {m_hi:g}]")
    arr = arr.copy()
    arr[:, 0] = np.clip(arr[:, 0], a_lo, a_hi)
    arr[:, 1] = np.clip(arr[:, 1], m_lo, m_hi)
    return arr


def default_start(prep: PreparedLandscape) -> tuple[float, float]:
    """A start from the landscape alone: large w, messy m — alpha at 85 % of the grid's
    log-alpha range, m = 0.2 (clipped to the grid; 0, never shown, without m). The CLI
    starts from the task's study start instead (`reduced_dynamics.study`)."""
    m_lo, m_hi = prep.interp.m_range
    a_lo, a_hi = prep.alpha_range
    alpha = math.exp(math.log(a_lo) + 0.85 * (math.log(a_hi) - math.log(a_lo)))
    return float(f"{alpha:.3g}"), float(min(max(0.2, m_lo), m_hi)) if prep.has_m else 0.0


def default_gammas(prep: PreparedLandscape, theta_train: float = BOUNDARY_LOSS, n: int = 7
                   ) -> np.ndarray:
    """A γ sweep from the landscape alone: ``n`` values log-spaced over 1.5 decades below
    γ_c, the weight decay that the training-loss gradient balances on the boundary contour
    at the cleanest m: γ_c = −w⁻² ∂l̃/∂ln w there. Larger γ pushes paths through the
    boundary into region I. Falls back to 1e-4..3e-3. The top-level API and the CLI use the
    task's study list instead (`reduced_dynamics.study`)."""
    it = prep.interp
    u_c = contour_u(it, it.mg[0], it.ug[-1], theta_train)
    gamma_c = float("nan")
    if np.isfinite(u_c):
        d = it.evaluate_u(np.array([u_c]), np.array([it.mg[0]]))["dtrain_du"][0]
        gamma_c = -math.exp(-2 * u_c) * d
    if not (np.isfinite(gamma_c) and gamma_c > 0):
        return np.geomspace(1e-4, 10**-2.5, n)
    g = gamma_c * np.logspace(-2.0, -0.5, n)
    return np.array([float(f"{v:.3g}") for v in g])


def _check_rates(gamma: np.ndarray, eta_d: np.ndarray) -> None:
    """Refuse η_D·γ that is not a finite float (Eq. 6 multiplies them)."""
    with np.errstate(over="ignore"):
        prod = np.outer(eta_d, gamma)
    if not np.all(np.isfinite(prod)):
        i, j = np.argwhere(~np.isfinite(prod))[0]
        raise InputError(f"`eta_d` x `gamma` = {eta_d[i]:g} x {gamma[j]:g} overflows float64; "
                         "the decay rate eta_d*gamma must be a finite number (below ~1e308)")


def _t_max(prep: PreparedLandscape, solver: SolverOptions, gamma: np.ndarray,
           eta_d: np.ndarray) -> float:
    if solver.t_max is not None:
        return float(solver.t_max)
    span = float(prep.interp.ug[-1] - prep.interp.ug[0])
    pos = gamma[gamma > 0]
    with np.errstate(over="ignore", divide="ignore"):
        if pos.size == 0:
            t = np.float64(1e6) / eta_d.min()
            what = f"1e6 / eta_d = 1e6 / {eta_d.min():g}"
        else:
            t = np.float64(20.0 * span) / (eta_d.min() * pos.min())
            what = (f"20 ln(w_max/w_min) / (eta_d gamma) with eta_d = {eta_d.min():g}, "
                    f"gamma = {pos.min():g}")
    if not np.isfinite(t):
        raise InputError(f"the default end time t_max = {what} is not a finite number; give "
                         "larger rates or an explicit `t_max` (--t-max)")
    return max(float(t), 10.0 * solver.t_first)


# Arrays the integrator and its results hold per path: states at the output times, the
# along-path losses and flags (~10 float64 per output time), and with a recorded path
# (path analysis) t, u, m for up to max_record points.
MEMORY_LIMIT = 2 * 2**30  # bytes: a larger request is refused, not allocated


def _check_size(n_paths: int, solver: SolverOptions, record: bool, what: str) -> None:
    """Refuse a batch of paths whose arrays would exceed `MEMORY_LIMIT`."""
    per_path = 8 * 10 * solver.n_times + (8 * 3 * solver.max_record if record else 0)
    need = n_paths * per_path
    if need > MEMORY_LIMIT:
        most = max(1, MEMORY_LIMIT // per_path)
        raise InputError(f"{what} = {n_paths} paths would need about {need / 2**30:.3g} GiB "
                         f"(limit {MEMORY_LIMIT / 2**30:g} GiB, i.e. at most {most} paths "
                         "here); use fewer values")


# ----------------------------------------------------------------------------- kernel call
def kernels_compiled(n_paths: int = 1, solver: SolverOptions | None = None) -> bool:
    """Whether the kernels a call on ``n_paths`` paths uses are in numba's on-disk cache
    (else that call compiles them first: about 20 s after an install or upgrade;
    `_jit.cache_is_warm`). `_run` picks the parallel kernel for several paths."""
    from reduced_dynamics.engine import interpolant
    from reduced_dynamics.engine._jit import cache_is_warm

    solver = solver or SolverOptions()
    kernel = (dopri.integrate_batch if (solver.parallel and n_paths > 1)
              else dopri.integrate_serial)
    return cache_is_warm(interpolant.eval_points, dy.velocities, kernel)


def unconverged_nodes(prep: PreparedLandscape, alpha: float, m: float
                      ) -> list[tuple[float, float]]:
    """(alpha, m) of the grid nodes around the start (alpha, m) whose constrained
    minimisation did not converge (the landscape's ``converged``); interpolated values
    and derivatives there are unreliable. m is NaN for a 1-D landscape."""
    ds = prep.dataset
    conv = ds["converged"]
    extra = [d for d in conv.dims if d not in ("w", "m")]
    if extra:
        conv = conv.all(extra)

    def cell(grid: np.ndarray, x: float) -> list[int]:
        if grid.size == 1:
            return [0]
        i = int(np.clip(np.searchsorted(grid, x, side="right") - 1, 0, grid.size - 2))
        return [i, i + 1]

    w = ds["w"].values
    sel = {"w": cell(w, alpha * prep.w0)}
    if "m" in conv.dims:
        sel["m"] = cell(ds["m"].values, m)
    near = conv.isel(sel)
    bad = []
    for idx in np.argwhere(~near.transpose(*sel).values):
        a = float(w[sel["w"][idx[0]]]) / prep.w0
        mm = float(ds["m"].values[sel["m"][idx[1]]]) if "m" in sel else float("nan")
        bad.append((a, mm))
    return bad


def kernel_options(interp: Interpolant, events: EventOptions, solver: SolverOptions,
                   t_max: float) -> tuple[np.ndarray, np.ndarray]:
    """The integer and float option vectors of the kernels (layout in `dynamics`)."""
    iopt = np.zeros(dy.N_IOPT, np.int64)
    iopt[dy.I_LOG] = int(interp.log_scale)
    iopt[dy.I_OVERFIT_ACC] = int(events.overfit_on == "acc")
    iopt[dy.I_GROK_ACC] = int(events.grok_on == "acc")
    iopt[dy.I_STOP_GROK] = int(solver.stop_at_grok)
    iopt[dy.I_FIXED] = int(solver.fixed_step is not None)
    iopt[dy.I_MAX_STEPS] = solver.max_steps
    iopt[dy.I_REC_SUB] = solver.record_sub
    fopt = np.zeros(dy.N_FOPT)
    fopt[dy.F_RTOL] = solver.rtol
    fopt[dy.F_ATOL] = solver.atol
    fopt[dy.F_TMAX] = t_max
    fopt[dy.F_H] = solver.fixed_step or 0.0
    fopt[dy.F_THR_TRAIN] = (events.train_acc_threshold if events.overfit_on == "acc"
                            else interp.threshold(events.theta_train))
    fopt[dy.F_THR_GROK] = (events.acc_threshold if events.grok_on == "acc"
                           else interp.threshold(float(events.theta_test)))
    fopt[dy.F_STAT_RTOL] = solver.stationary_rtol
    fopt[dy.F_STAT_ATOL] = solver.stationary_atol
    fopt[dy.F_CAP_U] = solver.step_cap * float(np.mean(np.diff(interp.ug)))
    fopt[dy.F_CAP_M] = solver.step_cap * float(np.mean(np.diff(interp.mg)))
    return iopt, fopt


def _run(prep: PreparedLandscape, alpha_m: np.ndarray, par: np.ndarray,
         events: EventOptions, solver: SolverOptions, t_out: np.ndarray, t_max: float,
         record: bool) -> dict[str, np.ndarray]:
    """Call the batched kernel on (n, 2) starts (alpha, m) and (n, 3) (η_D, η_R, γ)."""
    it = prep.interp
    n = alpha_m.shape[0]
    y0 = kernel_array(np.column_stack([np.log(alpha_m[:, 0] * it.w0), alpha_m[:, 1]]))
    iopt, fopt = kernel_options(it, events, solver, t_max)
    t_out = kernel_array(t_out)
    y_out = np.empty((n, t_out.size, 2))
    ev_t = np.empty((n, dy.N_EV))
    ev_y = np.empty((n, dy.N_EV, 2))
    status = np.full(n, -1, np.int64)
    counts = np.empty((n, dopri.N_COUNTS), np.int64)
    r = solver.max_record if record else 0
    rec_t = np.empty((n, r))
    rec_y = np.empty((n, r, 2))
    rec_n = np.zeros(n, np.int64)
    kernel = dopri.integrate_batch if (solver.parallel and n > 1) else dopri.integrate_serial
    kernel(y0, kernel_array(par), it.ug, it.mg, it.coef, it.nodes, iopt,
           fopt, t_out, y_out, ev_t, ev_y, status, counts, rec_t, rec_y, rec_n)
    unset = ~np.isin(status, [int(s) for s in PathStatus])
    if unset.any():  # a kernel bug, not bad input: every path must end with a status
        raise RuntimeError(f"integrator left the status of {int(unset.sum())} path(s) unset "
                           f"(e.g. path {int(np.argmax(unset))}, parameters "
                           f"{par[np.argmax(unset)].tolist()})")
    return {"y_out": y_out, "ev_t": ev_t, "ev_y": ev_y, "status": status, "counts": counts,
            "rec_t": rec_t, "rec_y": rec_y, "rec_n": rec_n, "t_out": t_out}


def _time_grid(solver: SolverOptions, t_max: float) -> np.ndarray:
    return np.concatenate([[0.0], np.geomspace(solver.t_first, t_max, solver.n_times - 1)])


def _attrs(prep: PreparedLandscape, events: EventOptions, solver: SolverOptions,
           t_max: float) -> dict:
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
    }
    for prefix, opts in (("event_", events), ("solver_", solver), ("interp_", prep.options)):
        for k, v in asdict(opts).items():
            attrs[prefix + k] = "none" if v is None else (int(v) if isinstance(v, bool) else v)
    attrs.update(prep.parameters)
    return attrs


M_OUTPUTS = ("m", "m_event", "m_point", "start_m", "h", "theta")


def _state_only(ds: xr.Dataset, prep: PreparedLandscape) -> xr.Dataset:
    """Drop every m output on a landscape without m (its m axis is internal, constant 0),
    and add the selected parameters (``n_train``) as scalar coordinates."""
    if not prep.has_m:
        ds = ds.drop_vars([k for k in M_OUTPUTS if k in ds.variables])
        ds.attrs.pop("start_m", None)
    return ds.assign_coords(prep.parameters)


# ----------------------------------------------------------------------------- public API
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
) -> xr.Dataset:
    """Integrate Eq. 6 for every (start, γ, η_D, η_R) combination.

    ``starts``: an (alpha, m) pair or a list of pairs (alphas on a landscape without m);
    ``gamma`` ≥ 0, ``eta_d`` > 0, ``eta_r`` ≥ 0: numbers or lists; ``n_train``: the
    training-set size on a landscape with that axis. Returns a Dataset with dims (start,
    gamma, eta_d, eta_r), plus ``time`` for the sampled path and ``event`` = (overfit,
    grok, E, end): t_overfit, t_grok, t_E, t_end, delay = t_grok − t_overfit (NaN: did not
    happen), w_event/m_event, status (``ok``, ``left_domain``, ``max_steps``,
    ``no_grok_before_t_max``, ``overflow``), nfev, n_steps, and along the path w, m, alpha,
    train_loss, test_loss, train_acc, test_acc and ``ended`` (time > t_end: the state is
    held there).
    Without m on the landscape, every m output (`M_OUTPUTS`) is left out.
    """
    events = events or EventOptions()
    solver = solver or SolverOptions()
    prep = prepare_landscape(landscape, interpolant, n_train=n_train)
    gam = _rates("gamma", gamma, positive=False)
    etd = _rates("eta_d", eta_d, positive=True)
    etr = _rates("eta_r", eta_r, positive=False)
    st = check_starts(prep, starts)
    _check_rates(gam, etd)
    shape = (st.shape[0], gam.size, etd.size, etr.size)
    _check_size(math.prod(shape), solver, False, "starts x gamma x eta_d x eta_r = "
                + " x ".join(map(str, shape)))
    t_max = _t_max(prep, solver, gam, etd)
    t_out = _time_grid(solver, t_max)
    idx = np.indices(shape).reshape(4, -1)
    alpha_m = st[idx[0]]
    par = np.column_stack([etd[idx[2]], etr[idx[3]], gam[idx[1]]])
    raw = _run(prep, alpha_m, par, events, solver, t_out, t_max, record=False)
    return _to_dataset(prep, raw, shape, st, gam, etd, etr, events, solver, t_max)


def _to_dataset(prep: PreparedLandscape, raw: dict, shape: tuple, st: np.ndarray,
                gam: np.ndarray, etd: np.ndarray, etr: np.ndarray, events: EventOptions,
                solver: SolverOptions, t_max: float) -> xr.Dataset:
    dims = ("start", "gamma", "eta_d", "eta_r")
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
        "nfev": (dims, raw["counts"][:, dopri.C_NFEV].reshape(shape),
                 {"long_name": "right-hand-side evaluations"}),
        "n_steps": (dims, raw["counts"][:, dopri.C_ACCEPT].reshape(shape)),
        "n_rejected": (dims, raw["counts"][:, dopri.C_REJECT].reshape(shape)),
        "w": ((*dims, "time"), np.exp(y_out[..., 0]).reshape(tshape), {"units": "1"}),
        "m": ((*dims, "time"), y_out[..., 1].reshape(tshape), {"units": "1"}),
        "ended": ((*dims, "time"), ended.reshape(tshape),
                  {"long_name": "sample after the path ended (state held)"}),
    }
    data["alpha"] = ((*dims, "time"), data["w"][1] / prep.w0, {"units": "1"})
    for k in ("train_loss", "test_loss", "train_acc", "test_acc"):
        data[k] = ((*dims, "time"), along[k].reshape(tshape), {"units": "1"})
    coords = {
        "start": np.arange(shape[0]),
        "start_alpha": ("start", st[:, 0]),
        "start_w": ("start", st[:, 0] * prep.w0),
        "start_m": ("start", st[:, 1]),
        "gamma": ("gamma", gam, {"long_name": "weight decay"}),
        "eta_d": ("eta_d", etd, {"long_name": "decoder learning rate"}),
        "eta_r": ("eta_r", etr, {"long_name": "representation learning rate"}),
        "time": ("time", raw["t_out"], tu),
        "event": ("event", ["overfit", "grok", "E", "end"]),
    }
    return _state_only(xr.Dataset(data, coords=coords, attrs=_attrs(prep, events, solver,
                                                                      t_max)), prep)


def fit_exponent(gamma: np.ndarray, t: np.ndarray) -> dict[str, float]:
    """Least-squares fit ln t = c + p ln γ over finite t > 0, γ > 0.

    Returns exponent p, its standard error (NaN with < 3 points), intercept c, n_fit; all
    NaN unless the finite points have at least two distinct γ."""
    g = np.asarray(gamma, float)
    t = np.asarray(t, float)
    ok = np.isfinite(t) & (t > 0) & (g > 0)
    n = int(ok.sum())
    out = {"exponent": float("nan"), "exponent_stderr": float("nan"),
           "intercept": float("nan"), "n_fit": n}
    if np.unique(g[ok]).size < 2:  # one γ (a sweep over N): no slope to fit
        return out
    x, y = np.log(g[ok]), np.log(t[ok])
    xm = x.mean()
    sxx = float(((x - xm) ** 2).sum())
    if sxx == 0:
        return out
    p = float(((x - xm) * (y - y.mean())).sum() / sxx)
    c = float(y.mean() - p * xm)
    out.update(exponent=p, intercept=c)
    if n > 2:
        res = y - (c + p * x)
        out["exponent_stderr"] = float(np.sqrt((res**2).sum() / (n - 2) / sxx))
    return out


def _analyzed_paths(prep: PreparedLandscape, start: tuple[float, float], gam: np.ndarray,
                    eta_d: float, eta_r: float, events: EventOptions, solver: SolverOptions
                    ) -> tuple[dict, list[dict], np.ndarray, float]:
    one = np.asarray(start, dtype=object)
    st = check_starts(prep, [start] if one.ndim == 1 and one.size == 2 else start)  # one start
    etd = _rates("eta_d", eta_d, positive=True)
    etr = _rates("eta_r", eta_r, positive=False)
    if etd.size != 1 or etr.size != 1:
        raise InputError("`eta_d` and `eta_r` must be single numbers here; use integrate() "
                         "for sweeps over learning rates")
    _check_rates(gam, etd)
    _check_size(gam.size, solver, True, f"1 start x {gam.size} gamma(s)")
    t_max = _t_max(prep, solver, gam, etd)
    t_out = _time_grid(solver, t_max)
    n = gam.size
    par = np.column_stack([np.full(n, etd[0]), np.full(n, etr[0]), gam])
    raw = _run(prep, np.repeat(st, n, axis=0), par, events, solver, t_out, t_max,
               record=True)
    analyses = []
    for p in range(n):
        k = int(raw["rec_n"][p])
        a = analyze_record(prep.interp, raw["rec_t"][p, :k], raw["rec_y"][p, :k, 0],
                           raw["rec_y"][p, :k, 1], float(etd[0]), float(etr[0]),
                           float(gam[p]), events.theta_train,
                           stationary=bool(np.isfinite(raw["ev_t"][p, dy.EV_E])))
        a["record_full"] = bool(raw["counts"][p, dopri.C_REC_FULL])
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
) -> xr.Dataset:
    """Grokking times over a γ sweep from one start, with the fitted exponent of t_grok ∝ γ^p.

    ``gamma=None``: `default_gammas`; ``start=None``: `default_start` (alpha, m; alpha
    alone on a landscape without m). Returns a Dataset over ``gamma``: t_overfit, t_grok,
    delay, t_E, status, the closed form t_closed = ln(w_C/w_c)/(η_D γ) and the geometric
    form t_geometric = (L + h tan θ)/(η_D γ) (both from C; `path_analysis`; NaN for a path
    that does not both overfit and grok: they predict a grokking time), w_c, L, h,
    theta, t_C, n_descents, the points A–E (t_point, w_point, m_point over ``point``), and
    the fit (exponent, exponent_stderr, intercept, n_fit) of ln t_grok on ln γ over paths
    that grokked (finite t_grok > 0). Without m: no m, h, theta, m_point.

    ``n_train`` (a landscape with that parameter axis): one training-set size (a scalar
    coordinate of the result), a list of them, or None for every N on the grid; with
    several, the result has an ``n_train`` dim, and the default γ sweep and start are
    those of the largest N, so that every N runs the same sweep.
    """
    events = events or EventOptions()
    solver = solver or SolverOptions()
    one_n = n_train is not None and np.ndim(n_train) == 0
    if isinstance(landscape, PreparedLandscape) or one_n:
        prep = prepare_landscape(landscape, interpolant, n_train=n_train)
        return _predict_one(prep, gamma, eta_d, eta_r, start, events, solver)
    ds, source = opened(landscape)
    values = n_train_values(ds)
    if not values:
        prep = prepare_landscape(ds, interpolant, n_train=n_train, source=source)
        return _predict_one(prep, gamma, eta_d, eta_r, start, events, solver)
    wanted = values if n_train is None else list(n_train)  # type: ignore[arg-type]
    if len(wanted) == 0:
        raise bad_value("n_train", n_train, f"training-set sizes from {values}, or None")
    preps = [prepare_landscape(ds, interpolant, n_train=v, source=source) for v in wanted]
    ref = preps[int(np.argmax([p.parameters["n_train"] for p in preps]))]
    gam = (default_gammas(ref, events.theta_train) if gamma is None
           else _rates("gamma", gamma, positive=False))
    start = default_start(ref) if start is None else start
    parts = [_predict_one(p, gam, eta_d, eta_r, start, events, solver) for p in preps]
    return xr.concat(parts, dim="n_train", combine_attrs="drop_conflicts")


def _predict_one(prep: PreparedLandscape, gamma: object, eta_d: float, eta_r: float,
                 start: object, events: EventOptions, solver: SolverOptions) -> xr.Dataset:
    """`predict_grokking_times` on one prepared landscape (state axes only)."""
    gam = (default_gammas(prep, events.theta_train) if gamma is None
           else _rates("gamma", gamma, positive=False))
    start = default_start(prep) if start is None else start
    raw, analyses, st, t_max = _analyzed_paths(prep, start, gam, eta_d, eta_r, events, solver)
    ev_t = raw["ev_t"]
    status = np.array(PATH_STATUS_NAMES)[raw["status"]]
    t_grok = ev_t[:, dy.EV_GROK]
    # t_grok is an event before the path ended, however it ended (a path may grok and then
    # leave the grid); paths that never grokked have t_grok = NaN and drop out of the fit.
    fit = fit_exponent(gam, t_grok)
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
        "nfev": ("gamma", raw["counts"][:, dopri.C_NFEV]),
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
    attrs = _attrs(prep, events, solver, t_max)
    attrs.update(start_alpha=float(st[0]), start_m=float(st[1]), eta_d=float(eta_d),
                 eta_r=float(eta_r), exponent=fit["exponent"],
                 exponent_stderr=fit["exponent_stderr"])
    return _state_only(xr.Dataset(data, coords=coords, attrs=attrs), prep)


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
) -> xr.Dataset:
    """One path, densely recorded (dim ``sample``: t, w, m, losses, speed), with the points
    A–E (dim ``point``), the number of test-loss descents and the closed/geometric forms.
    ``n_train``: the training-set size on a landscape with that axis (required there)."""
    events = events or EventOptions()
    solver = solver or SolverOptions()
    prep = prepare_landscape(landscape, interpolant, n_train=n_train)
    gam = _rates("gamma", gamma, positive=False)
    if gam.size != 1:
        raise bad_value("gamma", gamma, "a single number >= 0 for one path")
    start = default_start(prep) if start is None else start
    raw, analyses, st, t_max = _analyzed_paths(prep, start, gam, eta_d, eta_r, events, solver)
    a = analyses[0]
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
    attrs = _attrs(prep, events, solver, t_max)
    attrs.update(start_alpha=float(st[0]), start_m=float(st[1]), gamma=float(gam[0]),
                 eta_d=float(eta_d), eta_r=float(eta_r),
                 E_is_stationary=int(a["E_is_stationary"]),
                 record_full=int(a["record_full"]))
    return _state_only(xr.Dataset(data, coords={"point": list(POINTS)}, attrs=attrs), prep)
