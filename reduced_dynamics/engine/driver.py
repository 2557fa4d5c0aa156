"""The integrator's driver: one path step by step, and a range of paths.

Pure numba kernels over plain arrays (the argument layout is in `dynamics`):

- `integrate_path`: the adaptive (or fixed-step) loop of one path with the Rosenbrock
  4(3) stepper (`rosenbrock`, default) or the Dormand–Prince 5(4) one (`dopri`), the
  events located on each step's dense output (`events`), the output sampling and the
  optional recording of the visited points;
- `integrate_rows`: `integrate_path` for a range of paths, into arrays allocated by
  `outputs`; threads run disjoint ranges side by side (`solve.run_kernel`).

Step-size control is scipy's (`dopri.accepted_factor`, `dopri.rejected_factor`). A step that
crosses two or more grid cells is also checked against f at one point per cell
(`DEFECT_MAX`), and the events are scanned there, so that neither a grid feature nor an
event is stepped over; an optional cap (``cap_u`` in u, ``cap_m`` in m, off by default)
limits the move per step.

Status codes: OK (grokked; ended at t_max, at a stationary point or at the grok event),
LEFT_DOMAIN (left the w range of the grid; the path ends on the edge), MAX_STEPS (step budget
spent, or the step size underflowed), NO_GROK (reached t_max or a stationary point without
grokking), OVERFLOW (the right-hand side or the starting step is not a finite float: rates
such as η_D·γ too large for float64; the path stops where it was).
"""

from __future__ import annotations

import numpy as np

from reduced_dynamics.engine import rosenbrock as ros
from reduced_dynamics.engine._jit import njit
from reduced_dynamics.engine.dopri import (
    ERROR_EXPONENT,
    accepted_factor,
    dense_coeffs,
    dense_eval,
    dense_slope,
    dp_step,
    error_norm,
    initial_step,
    rejected_factor,
)
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
    I_METHOD,
    I_REC_SUB,
    I_STOP_GROK,
    K_GROK,
    K_OVERFIT,
    K_SPEED,
    K_U_HIGH,
    K_U_LOW,
    N_EV,
    event_value,
    rhs,
    speed_tolerance,
)
from reduced_dynamics.engine.events import N_EVENT_SUB, brent, locate_first
from reduced_dynamics.engine.interpolant import find_cell
from reduced_dynamics.names import SOLVER_METHODS, PathStatus

# path statuses as plain ints for the kernels (numba freezes module-level globals)
OK = int(PathStatus.OK)
LEFT_DOMAIN = int(PathStatus.LEFT_DOMAIN)
MAX_STEPS = int(PathStatus.MAX_STEPS)
NO_GROK = int(PathStatus.NO_GROK_BEFORE_T_MAX)
OVERFLOW = int(PathStatus.OVERFLOW)
# columns of the per-path counters
C_NFEV, C_ACCEPT, C_REJECT, C_REC_FULL = 0, 1, 2, 3
N_COUNTS = 4
# what ends a path inside a step
T_NONE, T_EXIT, T_STATIONARY, T_GROK = -1, 0, 1, 2
# iopt[I_METHOD] of the Rosenbrock stepper (`names.SOLVER_METHODS`; else DOPRI5)
METHOD_ROS4 = SOLVER_METHODS.index("rosenbrock")
# a step across two or more grid cells is rejected when, at one point per cell crossed, its
# dense output's slope misses f by more than DEFECT_MAX tolerances (h·|f − y'| in the error
# norm's units): a cliff between the stages' points (the cells are cubic pieces; a step
# that crossed many cells of a flat stretch saw none of them) is then not stepped over
DEFECT_MAX = 10.0
MIN_STEP_FACTOR = 0.2


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
    Kr = np.empty((4, n))
    J = np.empty((2, 2))
    use_ros = iopt[I_METHOD] == METHOD_ROS4 and not fixed
    j_fresh = False

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
        if use_ros:
            if not j_fresh:
                ros.jacobian(ug, mg, coef, iopt, pr, y, K[0], ytmp, f1, J)
                nfev += 2
                j_fresh = True
            ok = ros.ros_step(ug, mg, coef, iopt, pr, y, K[0], J, h, Kr, ytmp, y_new, err)
            nfev += 2
            en = error_norm(err, y, y_new, rtol, atol) if ok else np.inf
            if not (en <= 1.0):  # also catches NaN
                n_rej += 1
                h *= rejected_factor(en, ros.ERROR_EXPONENT)
                rejected_last = True
                continue
            factor = accepted_factor(en, rejected_last, ros.ERROR_EXPONENT)
            rejected_last = False
            rhs(ug, mg, coef, iopt, pr, y_new, K[6])
            nfev += 1
            ros.hermite_coeffs(y, y_new, K[0], K[6], h, Q)
        else:
            dp_step(ug, mg, coef, iopt, pr, y, h, K, ytmp, y_new, err)
            nfev += 6
            if not fixed:
                en = error_norm(err, y, y_new, rtol, atol)
                if not (en <= 1.0):  # also catches NaN
                    n_rej += 1
                    h *= rejected_factor(en, ERROR_EXPONENT)
                    rejected_last = True
                    continue
                factor = accepted_factor(en, rejected_last, ERROR_EXPONENT)
                rejected_last = False
            else:
                factor = 1.0
            dense_coeffs(K, Q)
        # cells crossed by the step: the dense output is checked against f there (and the
        # events scanned there, below), so that no grid feature is stepped over
        iu0, _ = find_cell(ug, y[0])
        iu1, _ = find_cell(ug, y_new[0])
        im0, _ = find_cell(mg, y[1])
        im1, _ = find_cell(mg, y_new[1])
        cross = abs(iu1 - iu0) + abs(im1 - im0)
        if cross >= 2 and not fixed:
            dn = 0.0
            for k in range(cross):
                sig = (k + 0.5) / cross
                dense_eval(y, Q, h, sig, tmp)
                rhs(ug, mg, coef, iopt, pr, tmp, f1)
                dense_slope(Q, sig, ytmp)
                for d in range(n):
                    sc = atol + rtol * max(abs(y[d]), abs(y_new[d]))
                    dn = max(dn, abs(h * (f1[d] - ytmp[d])) / sc)
            nfev += cross
            if dn > DEFECT_MAX:
                n_rej += 1
                h *= max(MIN_STEP_FACTOR, 1.0 / cross)
                rejected_last = True
                continue
        n_acc += 1
        t_new = t + h if not last else t_max

        # ---- events in (t, t_new]
        s_term = 2.0
        term = T_NONE
        g_of_new = np.nan
        g_gr_new = np.nan
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
        # scan the step for the overfit and grok events at N_EVENT_SUB points per grid
        # cell it crosses: accuracies are bilinear per cell, so a band of cells where an
        # event holds cannot be stepped over however long the step (no step cap needed)
        nsub = N_EVENT_SUB * (1 + cross)
        if not have_of:
            s, g_of_new = locate_first(k_of, ug, mg, coef, nodes, iopt, fopt, pr, y, Q, h,
                                       g_of, nsub, tmp)
            if s >= 0.0 and s <= s_term:
                have_of = True
                dense_eval(y, Q, h, s, tmp)
                ev_t[p, EV_OVERFIT] = t + s * h
                ev_y[p, EV_OVERFIT, 0] = tmp[0]
                ev_y[p, EV_OVERFIT, 1] = min(max(tmp[1], mlo), mhi)
        if not have_gr:
            s, g_gr_new = locate_first(k_gr, ug, mg, coef, nodes, iopt, fopt, pr, y, Q, h,
                                       g_gr, nsub, tmp)
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
        j_fresh = False
        if y[1] != y_new[1]:  # clipped onto an m edge: refresh f (the edge rule applies)
            rhs(ug, mg, coef, iopt, pr, y, K[0])
            nfev += 1
        if not (np.isfinite(K[0, 0]) and np.isfinite(K[0, 1])):
            st = OVERFLOW
            break
        g_sp = g_sp_new
        # the event functions at the new state: their values at σ = 1 of the step's dense
        # output (which ends at y_new; event_value clamps m as the state is clamped)
        g_of = g_of_new
        g_gr = g_gr_new
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


def outputs(n: int, n_times: int, n_record: int) -> tuple[np.ndarray, ...]:
    """The output arrays of `integrate_rows` for ``n`` paths (status -1: not yet set):
    (y_out, ev_t, ev_y, status, counts, rec_t, rec_y, rec_n) of shapes (n, n_times, 2),
    (n, 4), (n, 4, 2), (n,), (n, 4), (n, n_record), (n, n_record, 2), (n,)."""
    return (np.empty((n, n_times, 2)), np.empty((n, N_EV)), np.empty((n, N_EV, 2)),
            np.full(n, -1, np.int64), np.empty((n, N_COUNTS), np.int64),
            np.empty((n, n_record)), np.empty((n, n_record, 2)), np.zeros(n, np.int64))


@njit
def integrate_rows(lo: int, hi: int, y0: np.ndarray, par: np.ndarray, ug: np.ndarray,
                   mg: np.ndarray, coef: np.ndarray, nodes: np.ndarray, iopt: np.ndarray,
                   fopt: np.ndarray, t_out: np.ndarray, y_out: np.ndarray,
                   ev_t: np.ndarray, ev_y: np.ndarray, status: np.ndarray,
                   counts: np.ndarray, rec_t: np.ndarray, rec_y: np.ndarray,
                   rec_n: np.ndarray) -> None:
    """`integrate_path` for rows lo ≤ p < hi of y0 (n, 2) and par (n, 3), into the arrays
    of `outputs`. The one compiled entry point: it releases the GIL (``nogil``), so
    threads run disjoint row ranges side by side (`solve.run_kernel`)."""
    for p in range(lo, hi):
        integrate_path(p, y0, par, ug, mg, coef, nodes, iopt, fopt, t_out, y_out, ev_t,
                       ev_y, status, counts, rec_t, rec_y, rec_n)
