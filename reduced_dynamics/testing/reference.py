"""The slow, readable reference of the prediction engine: scipy's ``solve_ivp`` (RK45) on a
``RectBivariateSpline`` of ln l̃_train, with the same events (STYLE: a slow reference for
every compiled kernel). Eq. 6 in (u = ln w, m):

    du/dt = −η_D (w⁻² l ∂ln l/∂u + γ),     dm/dt = −η_R l ∂ln l/∂m,

m confined to the grid's range (its velocity zeroed at an edge), a path stopped when it
leaves the w range or becomes stationary. Used by the tests and by
``benchmarks/bench_integrator.py``; orders of magnitude slower than `engine.predict.integrate`.
"""

from __future__ import annotations

import time

import numpy as np

from reduced_dynamics.engine.prepare import PreparedLandscape
from reduced_dynamics.names import ACC_THRESHOLD, BOUNDARY_LOSS


class BudgetExceeded(Exception):
    """A scipy path ran out of its right-hand-side budget."""


def reference_paths(prep: PreparedLandscape, y0s: np.ndarray, pars: np.ndarray,
                    t_max: float, rtol: float, atol: float,
                    theta_train: float = BOUNDARY_LOSS, acc_threshold: float = ACC_THRESHOLD,
                    stationary_rtol: float = 1e-2, stationary_atol: float = 1e-10,
                    max_nfev: int = 120_000) -> tuple[float, list[dict]]:
    """Paths from starts ``y0s`` (rows (u, m)) with rates ``pars`` (rows (η_D, η_R, γ)):
    solve_ivp(RK45) on a RectBivariateSpline of ln l̃_train, linear interpolation of the
    test accuracy for the grok event. Returns (seconds, one dict per path: ``t_grok``,
    ``nfev``, ``budget``); a path is abandoned after ``max_nfev`` right-hand-side calls."""
    from scipy.integrate import solve_ivp
    from scipy.interpolate import RectBivariateSpline, RegularGridInterpolator

    it = prep.interp
    ds = prep.dataset
    ug, mg = it.ug, it.mg
    g = np.log(np.maximum(ds["train_loss"].transpose("w", "m").values, it.floor))
    spl = RectBivariateSpline(ug, mg, g, kx=3, ky=3, s=0)
    acc = RegularGridInterpolator((ug, mg), ds["test_acc"].transpose("w", "m").values)
    lo, hi = ug[0], ug[-1]
    results = []
    t0 = time.perf_counter()
    for y0, (eta_d, eta_r, gamma) in zip(y0s, pars):
        calls = [0]

        def f(t, y, eta_d=eta_d, eta_r=eta_r, gamma=gamma, calls=calls):
            calls[0] += 1
            if calls[0] > max_nfev:
                raise BudgetExceeded
            uc = min(max(y[0], lo), hi)
            mc = min(max(y[1], mg[0]), mg[-1])
            lv = np.exp(spl.ev(uc, mc))
            du = -eta_d * (np.exp(-2 * uc) * lv * spl.ev(uc, mc, dx=1) + gamma)
            dm = -eta_r * lv * spl.ev(uc, mc, dy=1)
            if (mc <= mg[0] and dm < 0) or (mc >= mg[-1] and dm > 0):
                dm = 0.0
            return np.array([du, dm])

        tol_e = eta_d * (stationary_rtol * gamma + stationary_atol)

        def overfit(t, y):
            return spl.ev(min(max(y[0], lo), hi), min(max(y[1], mg[0]), mg[-1])) - np.log(
                theta_train)

        def grok(t, y):
            return acc_threshold - acc([min(max(y[0], lo), hi), min(max(y[1], mg[0]),
                                                                    mg[-1])])[0]

        def exit_low(t, y):
            return y[0] - lo

        def exit_high(t, y):
            return hi - y[0]

        def stationary(t, y, f=f, tol_e=tol_e):
            return float(np.hypot(*f(t, y))) - tol_e

        for e in (overfit, grok, exit_low, exit_high, stationary):
            e.direction = -1
        for e in (exit_low, exit_high, stationary):
            e.terminal = True
        try:
            sol = solve_ivp(f, (0.0, t_max), y0, method="RK45", rtol=rtol, atol=atol,
                            events=[overfit, grok, exit_low, exit_high, stationary])
        except BudgetExceeded:
            results.append({"t_grok": np.nan, "nfev": calls[0], "budget": True})
            continue
        results.append({"t_grok": sol.t_events[1][0] if sol.t_events[1].size else np.nan,
                        "nfev": calls[0], "budget": False})
    return time.perf_counter() - t0, results


def kernel_reference_paths(prep: PreparedLandscape, y0s: np.ndarray, pars: np.ndarray,
                           t_max: float, rtol: float, atol: float, method: str = "Radau",
                           theta_train: float = BOUNDARY_LOSS,
                           acc_threshold: float = ACC_THRESHOLD,
                           stationary_rtol: float = 1e-2, stationary_atol: float = 1e-10,
                           stop_at_grok: bool = False, max_nfev: int = 200_000
                           ) -> tuple[float, list[dict]]:
    """As `reference_paths`, with the engine's own interpolant (the default PCHIP one of
    ``prep``: `dynamics.velocity`, `dynamics.event_value`) under ``solve_ivp(method=...)``
    — e.g. "Radau", the implicit reference for the stiff paths. Returns (seconds, one dict
    per path: ``t_overfit``, ``t_grok``, ``t_end``, ``y_end``, ``exit`` (left the w range),
    ``nfev``, ``budget``). The events (and their direction) are the kernel's."""
    from scipy.integrate import solve_ivp

    from reduced_dynamics.engine import dynamics as dy
    from reduced_dynamics.engine.options import EventOptions, SolverOptions
    from reduced_dynamics.engine.solve import kernel_options

    it = prep.interp
    ug, mg, coef, nodes = it.ug, it.mg, it.coef, it.nodes
    iopt, fopt = kernel_options(it, EventOptions(theta_train=theta_train,
                                                 acc_threshold=acc_threshold),
                                SolverOptions(stationary_rtol=stationary_rtol,
                                              stationary_atol=stationary_atol), t_max)
    log = bool(it.log_scale)
    results = []
    t0 = time.perf_counter()
    for y0, par in zip(y0s, pars):
        calls = [0]
        eta_d, eta_r, gamma = (float(x) for x in par)

        def f(t, y, eta_d=eta_d, eta_r=eta_r, gamma=gamma, calls=calls):
            calls[0] += 1
            if calls[0] > max_nfev:
                raise BudgetExceeded
            return np.array(dy.velocity(ug, mg, coef, log, eta_d, eta_r, gamma,
                                        float(y[0]), float(y[1])))

        pk = np.ascontiguousarray(par, dtype=float)

        def event(kind, pk=pk):
            def g(t, y):
                return dy.event_value(kind, ug, mg, coef, nodes, iopt, fopt, pk,
                                      float(y[0]), float(y[1]))
            g.direction = -1
            g.terminal = kind in (dy.K_U_LOW, dy.K_U_HIGH, dy.K_SPEED) or (
                stop_at_grok and kind == dy.K_GROK)
            return g

        evs = [event(k) for k in (dy.K_OVERFIT, dy.K_GROK, dy.K_U_LOW, dy.K_U_HIGH,
                                  dy.K_SPEED)]
        try:
            sol = solve_ivp(f, (0.0, t_max), np.asarray(y0, dtype=float), method=method,
                            rtol=rtol, atol=atol, events=evs)
        except BudgetExceeded:
            results.append({"t_overfit": np.nan, "t_grok": np.nan, "t_end": np.nan,
                            "y_end": np.full(2, np.nan), "exit": False, "nfev": calls[0],
                            "budget": True})
            continue
        first = [e[0] if e.size else np.nan for e in sol.t_events]
        results.append({"t_overfit": first[0], "t_grok": first[1], "t_end": sol.t[-1],
                        "y_end": sol.y[:, -1], "exit": bool(sol.t_events[2].size
                                                            or sol.t_events[3].size),
                        "nfev": calls[0], "budget": False})
    return time.perf_counter() - t0, results
