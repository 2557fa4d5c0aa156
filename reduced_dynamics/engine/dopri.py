"""Dormand–Prince 5(4) with dense output and event location, batched over paths.

Pure numba kernels over plain arrays (see `dynamics` for the argument layout):

- `dp_step`: one step, y₁ = y₀ + h Σ bᵢ kᵢ (5th order, FSAL), error h Σ eᵢ kᵢ;
- `error_norm`: RMS of err / (atol + rtol·max(|y₀|, |y₁|)) (as scipy's RK45);
- `dense_coeffs` / `dense_eval`: Shampine's 4th-order continuous extension,
  y(t₀ + σh) = y₀ + h Σ_k Q_k σ^{k+1},  Q = Kᵀ P;
- `brent`: Brent's root finder for an event function along the dense output;
- `integrate_path`: adaptive (or fixed-step) driver for one path, with events, output
  sampling and optional recording of the visited points;
- `integrate_batch`: `prange` over paths.

Step-size control is scipy's: h ← h·min(10, 0.9·err^(−1/5)) after an accepted step,
h ← h·max(0.2, 0.9·err^(−1/5)) after a rejected one. In addition a step never moves a path
by more than ``cap_u`` in u or ``cap_m`` in m (about one grid cell), so an event or a grid
feature cannot be stepped over.

Status codes: OK (grokked; ended at t_max, at a stationary point or at the grok event),
LEFT_DOMAIN (left the w range of the grid; the path ends on the edge), MAX_STEPS (step budget
spent, or the step size underflowed), NO_GROK (reached t_max or a stationary point without
grokking), OVERFLOW (the right-hand side or the starting step is not a finite float: rates
such as η_D·γ too large for float64; the path stops where it was).
"""

from __future__ import annotations

import numpy as np

from reduced_dynamics.engine._jit import njit, njit_parallel, prange
from reduced_dynamics.engine.dynamics import (
    EV_E,
    EV_END,
    EV_GROK,
    EV_OVERFIT,
    F_ATOL,
    F_CAP_M,
    F_CAP_U,
    F_H,
    F_RTOL,
    F_TMAX,
    I_FIXED,
    I_MAX_STEPS,
    I_REC_SUB,
    I_STOP_GROK,
    K_GROK,
    K_OVERFIT,
    K_SPEED,
    K_U_HIGH,
    K_U_LOW,
    event_value,
    rhs,
    speed_tolerance,
)
from reduced_dynamics.names import PATH_STATUS_NAMES, PathStatus

# path statuses as plain ints for the kernels (numba freezes module-level globals)
OK = int(PathStatus.OK)
LEFT_DOMAIN = int(PathStatus.LEFT_DOMAIN)
MAX_STEPS = int(PathStatus.MAX_STEPS)
NO_GROK = int(PathStatus.NO_GROK_BEFORE_T_MAX)
OVERFLOW = int(PathStatus.OVERFLOW)
STATUS_NAMES = PATH_STATUS_NAMES
# columns of the per-path counters
C_NFEV, C_ACCEPT, C_REJECT, C_REC_FULL = 0, 1, 2, 3
N_COUNTS = 4
N_EVENT_SUB = 2  # sub-intervals per step scanned for sign changes of overfit/grok events
# what ends a path inside a step
T_NONE, T_EXIT, T_STATIONARY, T_GROK = -1, 0, 1, 2

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
def dense_event(kind: int, ug: np.ndarray, mg: np.ndarray, coef: np.ndarray,
                nodes: np.ndarray, iopt: np.ndarray, fopt: np.ndarray, par: np.ndarray,
                y0: np.ndarray, Q: np.ndarray, h: float, sigma: float, tmp: np.ndarray
                ) -> float:
    """Event function ``kind`` on the continuous extension at σ."""
    dense_eval(y0, Q, h, sigma, tmp)
    return event_value(kind, ug, mg, coef, nodes, iopt, fopt, par, tmp[0], tmp[1])


@njit
def brent(kind: int, ug: np.ndarray, mg: np.ndarray, coef: np.ndarray, nodes: np.ndarray,
          iopt: np.ndarray, fopt: np.ndarray, par: np.ndarray, y0: np.ndarray,
          Q: np.ndarray, h: float, a: float, b: float, fa: float, fb: float,
          tmp: np.ndarray) -> tuple[float, int]:
    """Root in σ ∈ [a, b] of the event function along the dense output (Brent 1973).

    Needs fa > 0 ≥ fb. Converges to |Δσ| ≤ 4·eps·|σ| + 1e-15. Returns (σ, number of
    function evaluations); σ is the end of the final bracket on the "happened" side (g ≤ 0).
    """
    if fb == 0.0:
        return b, 0
    if fa == 0.0:
        return a, 0
    nev = 0
    c = a
    fc = fa
    d = b - a
    e = d
    for _ in range(200):
        if (fb > 0.0) == (fc > 0.0):
            c = a
            fc = fa
            d = b - a
            e = d
        if abs(fc) < abs(fb):
            a = b
            b = c
            c = a
            fa = fb
            fb = fc
            fc = fa
        tol = 4.0 * 2.220446049250313e-16 * abs(b) + 1e-15
        xm = 0.5 * (c - b)
        if abs(xm) <= tol or fb == 0.0:
            break
        if abs(e) >= tol and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:
                p = 2.0 * xm * s
                q = 1.0 - s
            else:
                q = fa / fc
                r = fb / fc
                p = s * (2.0 * xm * q * (q - r) - (b - a) * (r - 1.0))
                q = (q - 1.0) * (r - 1.0) * (s - 1.0)
            if p > 0.0:
                q = -q
            else:
                p = -p
            if 2.0 * p < min(3.0 * xm * q - abs(tol * q), abs(e * q)):
                e = d
                d = p / q
            else:
                d = xm
                e = d
        else:
            d = xm
            e = d
        a = b
        fa = fb
        if abs(d) > tol:
            b += d
        else:
            b += tol if xm > 0 else -tol
        fb = dense_event(kind, ug, mg, coef, nodes, iopt, fopt, par, y0, Q, h, b, tmp)
        nev += 1
    if fb <= 0.0:
        return b, nev
    return c, nev


@njit
def locate_first(kind: int, ug: np.ndarray, mg: np.ndarray, coef: np.ndarray,
                 nodes: np.ndarray, iopt: np.ndarray, fopt: np.ndarray, par: np.ndarray,
                 y0: np.ndarray, Q: np.ndarray, h: float, g0: float, nsub: int,
                 tmp: np.ndarray) -> float:
    """First σ in (0, 1] where the event function (g0 > 0 at σ = 0) becomes ≤ 0, else -1.

    Scans ``nsub`` equal sub-intervals of the step so that a brief excursion is not missed,
    then refines the first sign change with `brent`.
    """
    ga = g0
    a = 0.0
    for k in range(1, nsub + 1):
        b = k / nsub
        gb = dense_event(kind, ug, mg, coef, nodes, iopt, fopt, par, y0, Q, h, b, tmp)
        if gb <= 0.0:
            s, _ = brent(kind, ug, mg, coef, nodes, iopt, fopt, par, y0, Q, h, a, b, ga, gb,
                         tmp)
            return s
        a = b
        ga = gb
    return -1.0


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
def _record(rec_t: np.ndarray, rec_y: np.ndarray, rec_n: np.ndarray, counts: np.ndarray,
            p: int, t: float, u: float, m: float) -> None:
    k = rec_n[p]
    if k < rec_t.shape[1]:
        rec_t[p, k] = t
        rec_y[p, k, 0] = u
        rec_y[p, k, 1] = m
        rec_n[p] = k + 1
    else:
        counts[p, C_REC_FULL] = 1


@njit
def integrate_path(p: int, y0: np.ndarray, par: np.ndarray, ug: np.ndarray,
                   mg: np.ndarray, coef: np.ndarray, nodes: np.ndarray, iopt: np.ndarray,
                   fopt: np.ndarray, t_out: np.ndarray, y_out: np.ndarray,
                   ev_t: np.ndarray, ev_y: np.ndarray, status: np.ndarray,
                   counts: np.ndarray, rec_t: np.ndarray, rec_y: np.ndarray,
                   rec_n: np.ndarray) -> None:
    """Integrate path ``p`` from y0[p] with parameters par[p]; writes row p of the outputs.

    Outputs: y_out[p, k] = state at t_out[k] (the final state for t_out[k] > t_end);
    ev_t[p, :] = (t_overfit, t_grok, t_E, t_end) (NaN: did not happen), ev_y[p, :] the
    states there; status[p]; counts[p] = (nfev, accepted, rejected, record_full);
    rec_t/rec_y[p, :rec_n[p]] the visited points if rec_t has columns.
    """
    n = 2
    pr = par[p]
    rtol = fopt[F_RTOL]
    atol = fopt[F_ATOL]
    t_max = fopt[F_TMAX]
    fixed = iopt[I_FIXED] != 0
    max_steps = iopt[I_MAX_STEPS]
    stop_grok = iopt[I_STOP_GROK] != 0
    nrec = iopt[I_REC_SUB]
    recording = rec_t.shape[1] > 0
    cap_u = fopt[F_CAP_U]
    cap_m = fopt[F_CAP_M]
    mlo = mg[0]
    mhi = mg[mg.shape[0] - 1]
    # event kinds as run-time int64 (global constants would compile one version per kind)
    k_of = np.int64(K_OVERFIT)
    k_gr = np.int64(K_GROK)
    k_sp = np.int64(K_SPEED)

    y = np.empty(n)
    y_new = np.empty(n)
    ytmp = np.empty(n)
    err = np.empty(n)
    tmp = np.empty(n)
    K = np.empty((7, n))
    Q = np.empty((n, 4))
    f1 = np.empty(n)

    y[0] = y0[p, 0]
    y[1] = min(max(y0[p, 1], mlo), mhi)
    for k in range(ev_t.shape[1]):
        ev_t[p, k] = np.nan
        ev_y[p, k, 0] = np.nan
        ev_y[p, k, 1] = np.nan
    counts[p, 0] = 0
    counts[p, 1] = 0
    counts[p, 2] = 0
    counts[p, 3] = 0
    rec_n[p] = 0
    t = 0.0
    rhs(ug, mg, coef, iopt, pr, y, K[0])
    nfev = 1
    g_of = event_value(k_of, ug, mg, coef, nodes, iopt, fopt, pr, y[0], y[1])
    g_gr = event_value(k_gr, ug, mg, coef, nodes, iopt, fopt, pr, y[0], y[1])
    g_sp = event_value(k_sp, ug, mg, coef, nodes, iopt, fopt, pr, y[0], y[1])
    nfev += 1
    have_of = g_of <= 0.0
    have_gr = g_gr <= 0.0
    if have_of:
        ev_t[p, EV_OVERFIT] = 0.0
        ev_y[p, EV_OVERFIT, 0] = y[0]
        ev_y[p, EV_OVERFIT, 1] = y[1]
    if have_gr:
        ev_t[p, EV_GROK] = 0.0
        ev_y[p, EV_GROK, 0] = y[0]
        ev_y[p, EV_GROK, 1] = y[1]
    if recording:
        _record(rec_t, rec_y, rec_n, counts, p, 0.0, y[0], y[1])
    k_out = 0
    while k_out < t_out.shape[0] and t_out[k_out] <= 0.0:
        y_out[p, k_out, 0] = y[0]
        y_out[p, k_out, 1] = y[1]
        k_out += 1

    st = -1
    if g_sp <= 0.0 and not fixed:
        ev_t[p, EV_E] = 0.0
        ev_y[p, EV_E, 0] = y[0]
        ev_y[p, EV_E, 1] = y[1]
        st = OK if have_gr else NO_GROK
    elif have_gr and stop_grok:
        st = OK
    elif y[0] < ug[0] or y[0] > ug[ug.shape[0] - 1]:
        st = LEFT_DOMAIN
    if not (np.isfinite(K[0, 0]) and np.isfinite(K[0, 1])):
        st = OVERFLOW

    h = 0.0
    if fixed:
        h = fopt[F_H]
    elif fopt[F_H] > 0.0:
        h = fopt[F_H]
    elif st < 0:
        h = initial_step(ug, mg, coef, iopt, pr, y, K[0], rtol, atol, ytmp, f1)
        nfev += 1
        if not (h > 0.0 and np.isfinite(h)):
            st = OVERFLOW
    n_acc = 0
    n_rej = 0
    rejected_last = False
    while st < 0:
        if n_acc + n_rej >= max_steps:
            st = MAX_STEPS
            break
        last = False
        if not fixed:
            if cap_u > 0.0 and abs(K[0, 0]) * h > cap_u:
                h = cap_u / abs(K[0, 0])
            if cap_m > 0.0 and abs(K[0, 1]) * h > cap_m:
                h = cap_m / abs(K[0, 1])
        if t + h >= t_max * (1.0 - 1e-14):
            h = t_max - t
            last = True
        if h <= 1e-14 * max(1.0, abs(t)):
            st = MAX_STEPS  # step size underflow
            break
        dp_step(ug, mg, coef, iopt, pr, y, h, K, ytmp, y_new, err)
        nfev += 6
        if not fixed:
            en = error_norm(err, y, y_new, rtol, atol)
            if not (en <= 1.0):  # also catches NaN
                n_rej += 1
                if en != en:
                    factor = MIN_FACTOR
                else:
                    factor = max(MIN_FACTOR, SAFETY * en ** -0.2)
                h *= factor
                rejected_last = True
                continue
            if en == 0.0:
                factor = MAX_FACTOR
            else:
                factor = min(MAX_FACTOR, SAFETY * en ** -0.2)
            if rejected_last:
                factor = min(1.0, factor)
            rejected_last = False
        else:
            factor = 1.0
        n_acc += 1
        t_new = t + h if not last else t_max
        dense_coeffs(K, Q)

        # ---- events in (t, t_new]
        s_term = 2.0
        term = T_NONE
        if y_new[0] < ug[0] or y_new[0] > ug[ug.shape[0] - 1]:
            kind = np.int64(K_U_LOW) if y_new[0] < ug[0] else np.int64(K_U_HIGH)
            g0 = event_value(kind, ug, mg, coef, nodes, iopt, fopt, pr, y[0], y[1])
            g1 = event_value(kind, ug, mg, coef, nodes, iopt, fopt, pr, y_new[0], y_new[1])
            s, _ = brent(kind, ug, mg, coef, nodes, iopt, fopt, pr, y, Q, h, 0.0, 1.0,
                         max(g0, 0.0), g1, tmp)
            s_term = s
            term = T_EXIT
        g_sp_new = 1.0
        if not fixed:
            # speed at y_new from K[6] = f(y_new) (first same as last): no extra evaluation
            g_sp_new = np.sqrt(K[6, 0] ** 2 + K[6, 1] ** 2) - speed_tolerance(fopt, pr)
            if g_sp_new <= 0.0 and g_sp > 0.0:
                s, ne = brent(k_sp, ug, mg, coef, nodes, iopt, fopt, pr, y, Q, h, 0.0,
                              1.0, g_sp, g_sp_new, tmp)
                nfev += ne
                if s < s_term:
                    s_term = s
                    term = T_STATIONARY
        if not have_of:
            s = locate_first(k_of, ug, mg, coef, nodes, iopt, fopt, pr, y, Q, h, g_of,
                             N_EVENT_SUB, tmp)
            if s >= 0.0 and s <= s_term:
                have_of = True
                dense_eval(y, Q, h, s, tmp)
                ev_t[p, EV_OVERFIT] = t + s * h
                ev_y[p, EV_OVERFIT, 0] = tmp[0]
                ev_y[p, EV_OVERFIT, 1] = min(max(tmp[1], mlo), mhi)
        if not have_gr:
            s = locate_first(k_gr, ug, mg, coef, nodes, iopt, fopt, pr, y, Q, h, g_gr,
                             N_EVENT_SUB, tmp)
            if s >= 0.0 and s <= s_term:
                have_gr = True
                dense_eval(y, Q, h, s, tmp)
                ev_t[p, EV_GROK] = t + s * h
                ev_y[p, EV_GROK, 0] = tmp[0]
                ev_y[p, EV_GROK, 1] = min(max(tmp[1], mlo), mhi)
                if stop_grok and s < s_term:
                    s_term = s
                    term = T_GROK
        t_stop = t_new if term == T_NONE else t + s_term * h

        # ---- outputs and record within (t, t_stop]
        while k_out < t_out.shape[0] and t_out[k_out] <= t_stop:
            dense_eval(y, Q, h, (t_out[k_out] - t) / h, tmp)
            y_out[p, k_out, 0] = tmp[0]
            y_out[p, k_out, 1] = min(max(tmp[1], mlo), mhi)
            k_out += 1
        if recording:
            for j in range(1, nrec + 1):
                s = j / (nrec + 1.0)
                if t + s * h >= t_stop:
                    break
                dense_eval(y, Q, h, s, tmp)
                _record(rec_t, rec_y, rec_n, counts, p, t + s * h, tmp[0],
                        min(max(tmp[1], mlo), mhi))

        if term != T_NONE:
            dense_eval(y, Q, h, s_term, tmp)
            y[0] = tmp[0]
            y[1] = min(max(tmp[1], mlo), mhi)
            t = t_stop
            if term == T_EXIT:
                y[0] = ug[0] if y_new[0] < ug[0] else ug[ug.shape[0] - 1]
                st = LEFT_DOMAIN
            elif term == T_GROK:
                st = OK
            else:
                ev_t[p, EV_E] = t
                ev_y[p, EV_E, 0] = y[0]
                ev_y[p, EV_E, 1] = y[1]
                st = OK if have_gr else NO_GROK
            if recording:
                _record(rec_t, rec_y, rec_n, counts, p, t, y[0], y[1])
            break

        t = t_new
        y[0] = y_new[0]
        y[1] = min(max(y_new[1], mlo), mhi)
        for d in range(n):
            K[0, d] = K[6, d]
        if y[1] != y_new[1]:  # clipped onto an m edge: refresh f (the edge rule applies)
            rhs(ug, mg, coef, iopt, pr, y, K[0])
            nfev += 1
        if not (np.isfinite(K[0, 0]) and np.isfinite(K[0, 1])):
            st = OVERFLOW
            break
        g_sp = g_sp_new
        if not have_of:
            g_of = event_value(k_of, ug, mg, coef, nodes, iopt, fopt, pr, y[0], y[1])
        if not have_gr:
            g_gr = event_value(k_gr, ug, mg, coef, nodes, iopt, fopt, pr, y[0], y[1])
        if recording:
            _record(rec_t, rec_y, rec_n, counts, p, t, y[0], y[1])
        if last:
            st = OK if have_gr else NO_GROK
            break
        if not fixed:
            h *= factor

    while k_out < t_out.shape[0]:
        y_out[p, k_out, 0] = y[0]
        y_out[p, k_out, 1] = y[1]
        k_out += 1
    ev_t[p, EV_END] = t
    ev_y[p, EV_END, 0] = y[0]
    ev_y[p, EV_END, 1] = y[1]
    status[p] = st
    counts[p, C_NFEV] = nfev
    counts[p, C_ACCEPT] = n_acc
    counts[p, C_REJECT] = n_rej


@njit_parallel
def integrate_batch(y0: np.ndarray, par: np.ndarray, ug: np.ndarray, mg: np.ndarray,
                    coef: np.ndarray, nodes: np.ndarray, iopt: np.ndarray,
                    fopt: np.ndarray, t_out: np.ndarray, y_out: np.ndarray,
                    ev_t: np.ndarray, ev_y: np.ndarray, status: np.ndarray,
                    counts: np.ndarray, rec_t: np.ndarray, rec_y: np.ndarray,
                    rec_n: np.ndarray) -> None:
    """`integrate_path` for every row of y0 (n, 2) and par (n, 3), in parallel."""
    for p in prange(y0.shape[0]):
        integrate_path(np.int64(p), y0, par, ug, mg, coef, nodes, iopt, fopt, t_out, y_out, ev_t,
                       ev_y, status, counts, rec_t, rec_y, rec_n)


@njit
def integrate_serial(y0: np.ndarray, par: np.ndarray, ug: np.ndarray, mg: np.ndarray,
                     coef: np.ndarray, nodes: np.ndarray, iopt: np.ndarray,
                     fopt: np.ndarray, t_out: np.ndarray, y_out: np.ndarray,
                     ev_t: np.ndarray, ev_y: np.ndarray, status: np.ndarray,
                     counts: np.ndarray, rec_t: np.ndarray, rec_y: np.ndarray,
                     rec_n: np.ndarray) -> None:
    """As `integrate_batch`, on one thread (for small batches and tests)."""
    for p in range(y0.shape[0]):
        integrate_path(np.int64(p), y0, par, ug, mg, coef, nodes, iopt, fopt, t_out, y_out, ev_t,
                       ev_y, status, counts, rec_t, rec_y, rec_n)
