"""Options of a prediction: what counts as an event, how the integrator runs, how the
landscape is interpolated. Frozen dataclasses, each checked when it is made (as diffrax's
``SaveAt``): a bad value is an `InputError` naming the field."""

from __future__ import annotations

from dataclasses import dataclass

from reduced_dynamics.checks import check_bool, check_choice, check_int, check_real, plain_fields
from reduced_dynamics.engine.interpolant import DERIVATIVES, TRANSFORMS
from reduced_dynamics.errors import bad_value
from reduced_dynamics.names import ACC_THRESHOLD, BOUNDARY_LOSS, SOLVER_METHODS


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
    mean grid cells (None: no cap; the error control alone sets the step).
    ``fixed_step``: constant step h, no error control, no stationary stop (DOPRI5).

    ``method`` (`names.SOLVER_METHODS`): ``"rosenbrock"`` (default), the L-stable
    Rosenbrock 4(3) step (`rosenbrock`), stable on the stiff m valleys and m edges;
    ``"dopri5"``, the explicit Dormand–Prince 5(4) step (scipy's RK45; as before v0.3;
    `fixed_step` always uses it). The error of a
    step is measured as scipy's, per component against atol + rtol·|y|: with u = ln w
    (an absolute error in u is a relative one in w) and m on [0, 1], ``atol = 1e-6``
    controls both to about rtol where |y| < 1 (1e-9, the default before v0.3, held m near
    0 to 10⁻⁹ and cost 2–3× the steps).

    ``stop_at_grok``: end each path at t_grok (True), integrate on to E or t_max (False),
    or None: the caller's default — True for `predict.integrate` and phase diagrams,
    False where the path after t_grok is analysed (`predict.predict_grokking_times`,
    `predict.analyze_path`, `predict.integrate_paired` and so `validate`).
    """

    rtol: float = 1e-6
    atol: float = 1e-6
    t_max: float | None = None
    t_first: float = 1.0
    n_times: int = 121
    max_steps: int = 100_000
    step_cap: float | None = None
    stationary_rtol: float = 1e-2
    stationary_atol: float = 1e-10
    stop_at_grok: bool | None = None
    fixed_step: float | None = None
    record_sub: int = 3
    max_record: int = 100_000
    parallel: bool = True
    method: str = "rosenbrock"

    def __post_init__(self) -> None:
        plain_fields(self)  # numpy scalars as Python ones
        for name in ("rtol", "atol", "t_first"):
            check_real(name, getattr(self, name), low=0.0, low_open=True)
        if self.step_cap is not None:
            check_real("step_cap", self.step_cap, low=0.0, low_open=True,
                       expected="a finite number of grid cells > 0, or None (no cap)")
        check_choice("method", self.method, SOLVER_METHODS)
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
        if self.stop_at_grok is not None:
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

