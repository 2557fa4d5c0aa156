"""Points A–E of a path (SPEC §5), test-loss descents, and the closed and geometric forms.

Definitions (on the densely recorded path, speed = |d(u, m)/dt|, drift v = η_D γ):

- A: the start.
- B: end of the fast descent: the first point where the speed is ≤ 1 % of its running
  maximum, or ≤ 2 v (the weight-decay drift keeps region-II paths at speed v, so 1 % of the
  peak may never be reached). A path that starts at speed ≤ 2 v has no fast phase: B = A.
- C: = B (gradient flow has no momentum).
- D: first contact with the boundary contour l̃_train = θ_train after C (linear interpolation
  between recorded points). A path that never reaches the contour (it can settle just on the
  region-II side) gets D at the first point after C where the gradient term cancels half the
  drift, |w⁻² ∂l̃/∂u| ≥ γ/2. NaN when neither happens.
- E: the stationary point where the integrator stopped (speed below its tolerance), else the
  last point of the path (``E_is_stationary`` says which).
- descents: the number of local minima of l̃_test along the path with a prominence of at
  least 1 % (a path that ends while still descending counts that last descent).

Closed form (SPEC §4): t_closed = ln(w_C / w_c)/(η_D γ), with w_c the first w below w_C, on
the line m = m_C, where l̃_train = θ_train (for a start in region II, C = A and this is
ln(w_start / w_c)/(η_D γ)). Geometric form (Section 5.1): with u = ln w, D' = (ln w_c, m_C),
E' = the contour point on the line m = m_E (searched downwards from u_C),
L = u_C − u_E', h = m_C − m_E, tan θ = h/(u_D' − u_E'), t_geometric = (L + h tan θ)/(η_D γ).
Both are durations measured from C; the fast phase A → C (t_C) is reported separately.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from reduced_dynamics.engine.dynamics import velocities
from reduced_dynamics.engine.interpolant import Interpolant, kernel_array

POINTS = ("A", "B", "C", "D", "E")
FAST_FRACTION = 0.01
DESCENT_PROMINENCE = 0.01


def count_descents(values: np.ndarray, prominence: float = DESCENT_PROMINENCE) -> int:
    """Number of local minima of a positive sequence whose rise afterwards (or whose fall
    before the end) exceeds ``prominence`` in relative terms (hysteresis on ln values)."""
    v = np.log(np.maximum(np.asarray(values, float), 1e-300))
    v = v[np.isfinite(v)]
    if v.size < 2:
        return 0
    h = math.log1p(prominence)
    count = 0
    peak = trough = v[0]
    descending = False
    for x in v[1:]:
        if descending:
            if x < trough:
                trough = x
            elif x > trough + h:
                count += 1
                descending = False
                peak = x
        else:
            if x > peak:
                peak = x
            elif x < peak - h:
                descending = True
                trough = x
    return count + int(descending)


def contour_u(interp: Interpolant, m: float, u_from: float, theta: float,
              n: int = 2048) -> float:
    """First u ≤ u_from, moving down along the line m, where l̃_train ≥ θ; NaN if none."""
    if not (np.isfinite(m) and np.isfinite(u_from)):
        return float("nan")
    us = np.linspace(u_from, interp.ug[0], n)
    lt = interp.evaluate_u(us, np.full(n, m))["train_loss"]
    hit = np.nonzero(lt >= theta)[0]
    if hit.size == 0:
        return float("nan")
    k = int(hit[0])
    if k == 0:
        return float(u_from)

    def f(x: float) -> float:
        return float(interp.evaluate_u(np.array([x]), np.array([m]))["train_loss"][0]) - theta

    return float(brentq(f, us[k], us[k - 1], xtol=1e-14, rtol=4 * np.finfo(float).eps))


def closed_and_geometric(interp: Interpolant, u_c: float, m_c: float, m_e: float,
                         eta_d: float, gamma: float, theta: float) -> dict[str, float]:
    """w_c, t_closed, L, h, θ (radians) and t_geometric (module docstring) from C = (u_c,
    m_c) and the m of E (E' is the contour point at m_E); all NaN where the path has not
    overfit at C (l̃_train(C) ≥ θ: nothing to decay from, not a duration of 0)."""
    nan = float("nan")
    v = eta_d * gamma
    u_d = contour_u(interp, m_c, u_c, theta)
    if u_d >= u_c:  # l~_train(C) >= theta: the path has not overfit at C, no form applies
        u_d = nan
    out = {"w_c": math.exp(u_d) if np.isfinite(u_d) else nan, "t_closed": nan, "L": nan,
           "h": nan, "theta": nan, "t_geometric": nan}
    if not np.isfinite(u_d) or v <= 0:
        return out
    out["t_closed"] = (u_c - u_d) / v
    u_e2 = contour_u(interp, m_e, u_c, theta) if np.isfinite(m_e) else nan
    if not np.isfinite(u_e2):
        return out
    L = u_c - u_e2
    h = m_c - m_e
    out["L"], out["h"] = L, h
    if abs(h) <= 1e-12:
        out["theta"] = 0.0
        out["t_geometric"] = L / v
    elif u_d - u_e2 > 0:
        th = math.atan2(h, u_d - u_e2)
        out["theta"] = th
        out["t_geometric"] = (L + h * math.tan(th)) / v
    return out


def _interp_point(t: np.ndarray, u: np.ndarray, m: np.ndarray, i: int, frac: float
                  ) -> tuple[float, float, float]:
    if i <= 0 or frac >= 1.0:
        return float(t[i]), float(u[i]), float(m[i])
    a = i - 1
    return (float(t[a] + frac * (t[i] - t[a])), float(u[a] + frac * (u[i] - u[a])),
            float(m[a] + frac * (m[i] - m[a])))


def analyze_record(interp: Interpolant, t: np.ndarray, u: np.ndarray, m: np.ndarray,
                   eta_d: float, eta_r: float, gamma: float, theta_train: float,
                   stationary: bool) -> dict:
    """Points A–E, descents and the closed/geometric forms of one recorded path.

    ``t, u, m``: the path's recorded points (increasing t). Returns a dict with
    ``t_point, w_point, m_point`` (arrays over `POINTS`, NaN where undefined), ``n_descents``,
    ``E_is_stationary``, ``train_loss``, ``test_loss``, ``speed`` along the record, and the
    entries of `closed_and_geometric`.
    """
    t = np.asarray(t, float)
    u = kernel_array(u)
    m = kernel_array(m)
    ev = interp.evaluate_u(u, m)
    vel = velocities(interp.ug, interp.mg, interp.coef, interp.log_scale, eta_d, eta_r, gamma,
                     u, m)
    speed = np.hypot(vel[:, 0], vel[:, 1])
    drift = eta_d * gamma
    n = t.size
    pts = {k: (np.nan, np.nan, np.nan) for k in POINTS}
    pts["A"] = (t[0], u[0], m[0])
    floor = 2.0 * drift
    if n < 2 or speed[0] <= floor:
        i_b = 0
    else:
        thr = np.maximum(FAST_FRACTION * np.maximum.accumulate(speed), floor)
        hit = np.nonzero(speed[1:] <= thr[1:])[0]
        i_b = 1 + int(hit[0]) if hit.size else n - 1
    pts["B"] = pts["C"] = (t[i_b], u[i_b], m[i_b])

    lt = ev["train_loss"]
    hit = np.nonzero(lt[i_b:] >= theta_train)[0]
    if hit.size:
        i = i_b + int(hit[0])
        frac = 1.0
        if i > 0 and i > i_b:
            la, lb = math.log(lt[i - 1]), math.log(lt[i])
            frac = (math.log(theta_train) - la) / (lb - la) if lb != la else 1.0
        pts["D"] = _interp_point(t, u, m, i, frac)
    elif gamma > 0:
        force = np.abs(np.exp(-2.0 * u) * ev["dtrain_du"])
        hit = np.nonzero(force[i_b:] >= 0.5 * gamma)[0]
        if hit.size:
            i = i_b + int(hit[0])
            pts["D"] = (t[i], u[i], m[i])
    pts["E"] = (t[-1], u[-1], m[-1])
    forms = closed_and_geometric(interp, pts["C"][1], pts["C"][2], pts["E"][2], eta_d, gamma,
                                 theta_train)
    return {
        "t_point": np.array([pts[k][0] for k in POINTS]),
        "w_point": np.exp(np.array([pts[k][1] for k in POINTS])),
        "m_point": np.array([pts[k][2] for k in POINTS]),
        "n_descents": count_descents(ev["test_loss"]),
        "E_is_stationary": bool(stationary),
        "train_loss": lt,
        "test_loss": ev["test_loss"],
        "test_acc": ev["test_acc"],
        "speed": speed,
        **forms,
    }
