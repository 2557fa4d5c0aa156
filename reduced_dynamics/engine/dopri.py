"""The Dormand–Prince 5(4) stepper: tableau, one step, error norm, dense output, step size.

Pure numba kernels over plain arrays (the argument layout is in `dynamics`). The driver
that loops over the steps of a path, with events, output sampling and the batch over paths,
is `driver`; the root finder along the dense output is `events` (the stepper apart from the
driver, as scipy's ``rk.py`` is apart from ``ivp.py``).

- `dp_step`: one step, y₁ = y₀ + h Σ bᵢ kᵢ (5th order, FSAL), error h Σ eᵢ kᵢ;
- `error_norm`: RMS of err / (atol + rtol·max(|y₀|, |y₁|)) (as scipy's RK45);
- `dense_coeffs` / `dense_eval` / `dense_slope`: Shampine's 4th-order continuous
  extension, y(t₀ + σh) = y₀ + h Σ_k Q_k σ^{k+1},  Q = Kᵀ P, and its slope;
- `initial_step`: Hairer–Wanner's starting step (scipy's ``select_initial_step``);
- `accepted_factor` / `rejected_factor`: scipy's step-size control (shared with
  `rosenbrock`, whose exponent is −1/4), h ← h·min(10,
  0.9·err^(−1/5)) after an accepted step (at most 1 right after a rejection),
  h ← h·max(0.2, 0.9·err^(−1/5)) after a rejected one.
"""

from __future__ import annotations

import numpy as np

from reduced_dynamics.engine._jit import njit
from reduced_dynamics.engine.dynamics import rhs

# Dormand–Prince 5(4) tableau (Dormand & Prince 1980; as in scipy's RK45)
C = np.array([0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0])
A = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0],
    [1 / 5, 0.0, 0.0, 0.0, 0.0],
    [3 / 40, 9 / 40, 0.0, 0.0, 0.0],
    [44 / 45, -56 / 15, 32 / 9, 0.0, 0.0],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0.0],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
])
B = np.array([35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84])
E = np.array([-71 / 57600, 0.0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40])
P = np.array([
    [1.0, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
    [0.0, 0.0, 0.0, 0.0],
    [0.0, 131558114200 / 32700410799, -68118460800 / 10900136933,
     87487479700 / 32700410799],
    [0.0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
    [0.0, 127303824393 / 49829197408, -318862633887 / 49829197408,
     701980252875 / 199316789632],
    [0.0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
    [0.0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423],
])
SAFETY, MIN_FACTOR, MAX_FACTOR = 0.9, 0.2, 10.0
ERROR_EXPONENT = -1 / 5  # -1 / (order of the error estimate + 1)


@njit
def error_norm(err: np.ndarray, y0: np.ndarray, y1: np.ndarray, rtol: float,
               atol: float) -> float:
    """sqrt(mean((err / (atol + rtol·max(|y0|, |y1|)))²))."""
    s = 0.0
    n = err.shape[0]
    for d in range(n):
        sc = atol + rtol * max(abs(y0[d]), abs(y1[d]))
        s += (err[d] / sc) ** 2
    return np.sqrt(s / n)


@njit
def dp_step(ug: np.ndarray, mg: np.ndarray, coef: np.ndarray, iopt: np.ndarray,
            par: np.ndarray, y: np.ndarray, h: float, K: np.ndarray, ytmp: np.ndarray,
            y_new: np.ndarray, err: np.ndarray) -> None:
    """One Dormand–Prince step from y with K[0] = f(y) given; fills K[1:7], y_new, err.

    K[6] = f(y_new) (first same as last). Uses 6 right-hand-side evaluations.
    """
    n = y.shape[0]
    for i in range(1, 6):
        for d in range(n):
            acc = 0.0
            for j in range(i):
                acc += A[i, j] * K[j, d]
            ytmp[d] = y[d] + h * acc
        rhs(ug, mg, coef, iopt, par, ytmp, K[i])
    for d in range(n):
        acc = 0.0
        for j in range(6):
            acc += B[j] * K[j, d]
        y_new[d] = y[d] + h * acc
    rhs(ug, mg, coef, iopt, par, y_new, K[6])
    for d in range(n):
        acc = 0.0
        for j in range(7):
            acc += E[j] * K[j, d]
        err[d] = h * acc


@njit
def dense_coeffs(K: np.ndarray, Q: np.ndarray) -> None:
    """Q = Kᵀ P, the coefficients of the continuous extension of the last step."""
    n = K.shape[1]
    for d in range(n):
        for k in range(4):
            acc = 0.0
            for i in range(7):
                acc += K[i, d] * P[i, k]
            Q[d, k] = acc


@njit
def dense_eval(y0: np.ndarray, Q: np.ndarray, h: float, sigma: float, out: np.ndarray
               ) -> None:
    """out = y(t₀ + σh) = y₀ + h Σ_k Q[:, k] σ^{k+1}."""
    for d in range(y0.shape[0]):
        out[d] = y0[d] + h * sigma * (Q[d, 0] + sigma * (Q[d, 1] + sigma * (
            Q[d, 2] + sigma * Q[d, 3])))


@njit
def dense_slope(Q: np.ndarray, sigma: float, out: np.ndarray) -> None:
    """out = y'(t₀ + σh) = Σ_k (k+1) Q[:, k] σ^k, the slope of the continuous extension."""
    for d in range(Q.shape[0]):
        out[d] = Q[d, 0] + sigma * (2.0 * Q[d, 1] + sigma * (3.0 * Q[d, 2]
                                                              + sigma * 4.0 * Q[d, 3]))


@njit
def initial_step(ug: np.ndarray, mg: np.ndarray, coef: np.ndarray, iopt: np.ndarray,
                 par: np.ndarray, y0: np.ndarray, f0: np.ndarray, rtol: float, atol: float,
                 tmp: np.ndarray, f1: np.ndarray) -> float:
    """Hairer–Wanner's starting step (as scipy's ``select_initial_step``); 1 RHS call.

    Returns 0 when the scaled derivative overflows (no finite step can be chosen)."""
    n = y0.shape[0]
    d0 = 0.0
    d1 = 0.0
    for d in range(n):
        sc = atol + abs(y0[d]) * rtol
        d0 += (y0[d] / sc) ** 2
        d1 += (f0[d] / sc) ** 2
    d0 = np.sqrt(d0 / n)
    d1 = np.sqrt(d1 / n)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    if not (h0 > 0.0 and np.isfinite(h0)):  # d1 = inf: |f| beyond float64 at this tolerance
        return 0.0
    for d in range(n):
        tmp[d] = y0[d] + h0 * f0[d]
    rhs(ug, mg, coef, iopt, par, tmp, f1)
    d2 = 0.0
    for d in range(n):
        sc = atol + abs(y0[d]) * rtol
        d2 += ((f1[d] - f0[d]) / sc) ** 2
    d2 = np.sqrt(d2 / n) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** 0.2
    return min(100.0 * h0, h1)


@njit
def rejected_factor(en: float, exponent: float) -> float:
    """The step-size factor after a rejected step (error norm ``en`` > 1, or NaN), with the
    stepper's error exponent −1/(order of its error estimate + 1) (`ERROR_EXPONENT`)."""
    if en != en:
        return MIN_FACTOR
    return max(MIN_FACTOR, SAFETY * en ** exponent)


@njit
def accepted_factor(en: float, rejected_last: bool, exponent: float) -> float:
    """The step-size factor after an accepted step (``en`` ≤ 1); never a growth right after
    a rejected step."""
    if en == 0.0:
        factor = MAX_FACTOR
    else:
        factor = min(MAX_FACTOR, SAFETY * en ** exponent)
    if rejected_last:
        factor = min(1.0, factor)
    return factor
