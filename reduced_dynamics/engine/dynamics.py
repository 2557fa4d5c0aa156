"""Right-hand side of Eq. 6 in (u = ln w, m), its boundaries, and the event functions.

    du/dt = −η_D (w⁻² ∂l̃_train/∂u + γ)        (= −η_D (w⁻¹ ∂l̃/∂w + γ))
    dm/dt = −η_R ∂l̃_train/∂m

m is confined to the grid's m range ([0, 1] for a standard landscape): the m component of
the velocity that would leave it is set to zero. u outside the grid is evaluated at the
nearest grid edge; the driver stops a path that leaves the w range (status left_domain), so
such values only enter the one step that crosses the edge.

Kernel arguments are plain arrays: the interpolant (``ug, mg, coef, nodes``), integer and
float option vectors (``iopt``, ``fopt``, indices below) and per-path ``par`` = (η_D, η_R, γ).
Every event function is ``g(y)`` with "the event has happened" ⇔ g ≤ 0.
"""

from __future__ import annotations

import numpy as np

from reduced_dynamics.engine._jit import njit
from reduced_dynamics.engine.interpolant import TEST, TRAIN, loss_grad, node_value, transformed

# per-path parameters
P_ETA_D, P_ETA_R, P_GAMMA = 0, 1, 2
# integer options
(I_LOG, I_OVERFIT_ACC, I_GROK_ACC, I_STOP_GROK, I_FIXED, I_MAX_STEPS, I_REC_SUB,
 I_METHOD) = range(8)
N_IOPT = 8
# float options
(F_RTOL, F_ATOL, F_TMAX, F_H, F_THR_TRAIN, F_THR_GROK, F_STAT_RTOL, F_STAT_ATOL,
 F_CAP_U, F_CAP_M) = range(10)
N_FOPT = 10
# events (columns of the event arrays)
EV_OVERFIT, EV_GROK, EV_E, EV_END = 0, 1, 2, 3
N_EV = 4
# event kinds for the root finder
K_OVERFIT, K_GROK, K_SPEED, K_U_LOW, K_U_HIGH = 0, 1, 2, 3, 4


@njit
def velocity(ug: np.ndarray, mg: np.ndarray, coef: np.ndarray, log_scale: bool,
             eta_d: float, eta_r: float, gamma: float, u: float, m: float
             ) -> tuple[float, float]:
    """(du/dt, dm/dt) of Eq. 6 at (u, m), with the m boundaries applied."""
    nu = ug.shape[0]
    nm = mg.shape[0]
    uc = min(max(u, ug[0]), ug[nu - 1])
    mc = min(max(m, mg[0]), mg[nm - 1])
    _, lu, lm = loss_grad(ug, mg, coef, TRAIN, log_scale, uc, mc)
    du = -eta_d * (np.exp(-2.0 * uc) * lu + gamma)
    dm = -eta_r * lm
    if (mc <= mg[0] and dm < 0.0) or (mc >= mg[nm - 1] and dm > 0.0):
        dm = 0.0
    return du, dm


@njit
def rhs(ug: np.ndarray, mg: np.ndarray, coef: np.ndarray, iopt: np.ndarray,
        par: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """out = dy/dt at y = (u, m) for parameters ``par`` = (η_D, η_R, γ)."""
    du, dm = velocity(ug, mg, coef, iopt[I_LOG] != 0, par[P_ETA_D], par[P_ETA_R],
                      par[P_GAMMA], y[0], y[1])
    out[0] = du
    out[1] = dm


@njit
def speed_tolerance(fopt: np.ndarray, par: np.ndarray) -> float:
    """Stationary once |dy/dt| ≤ stat_rtol·η_D·γ + stat_atol·η_D (`options.SolverOptions`)."""
    return par[P_ETA_D] * (fopt[F_STAT_RTOL] * par[P_GAMMA] + fopt[F_STAT_ATOL])


@njit
def event_value(kind: int, ug: np.ndarray, mg: np.ndarray, coef: np.ndarray,
                nodes: np.ndarray, iopt: np.ndarray, fopt: np.ndarray, par: np.ndarray,
                u: float, m: float) -> float:
    """Event function ``kind`` at (u, m); ≤ 0 once the event has happened.

    overfit: g_train − ln θ_train (or θ_acc − train_acc); grok: θ_acc − test_acc (or
    g_test − ln θ_test); speed: |dy/dt| − tol; u_low: u − u_min; u_high: u_max − u.
    """
    nm = mg.shape[0]
    mc = min(max(m, mg[0]), mg[nm - 1])
    if kind == K_OVERFIT:
        if iopt[I_OVERFIT_ACC] != 0:
            return fopt[F_THR_TRAIN] - node_value(ug, mg, nodes, TRAIN, u, mc)
        return transformed(ug, mg, coef, TRAIN, u, mc) - fopt[F_THR_TRAIN]
    if kind == K_GROK:
        if iopt[I_GROK_ACC] != 0:
            return fopt[F_THR_GROK] - node_value(ug, mg, nodes, TEST, u, mc)
        return transformed(ug, mg, coef, TEST, u, mc) - fopt[F_THR_GROK]
    if kind == K_SPEED:
        du, dm = velocity(ug, mg, coef, iopt[I_LOG] != 0, par[P_ETA_D], par[P_ETA_R],
                          par[P_GAMMA], u, mc)
        return np.sqrt(du * du + dm * dm) - speed_tolerance(fopt, par)
    if kind == K_U_LOW:
        return u - ug[0]
    return ug[ug.shape[0] - 1] - u


@njit
def velocities(ug: np.ndarray, mg: np.ndarray, coef: np.ndarray, log_scale: bool,
               eta_d: float, eta_r: float, gamma: float, u: np.ndarray, m: np.ndarray
               ) -> np.ndarray:
    """(n, 2): (du/dt, dm/dt) at each point (u[p], m[p]) (vectorised `velocity`)."""
    out = np.empty((u.shape[0], 2))
    for p in range(u.shape[0]):
        du, dm = velocity(ug, mg, coef, log_scale, eta_d, eta_r, gamma, u[p], m[p])
        out[p, 0] = du
        out[p, 1] = dm
    return out
