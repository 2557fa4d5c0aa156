"""Events along the dense output of a step: the event function there, its first sign change
in the step, and Brent's root finder that refines it.

Pure numba kernels; an event function is ``g(y)`` with "the event has happened" ⇔ g ≤ 0
(`dynamics.event_value`), evaluated on the step's continuous extension (`dopri.dense_eval`)
at σ ∈ [0, 1] of the step.
"""

from __future__ import annotations

import numpy as np

from reduced_dynamics.engine._jit import njit
from reduced_dynamics.engine.dopri import dense_eval
from reduced_dynamics.engine.dynamics import event_value

N_EVENT_SUB = 2  # sub-intervals per step scanned for sign changes of overfit/grok events


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
                 tmp: np.ndarray) -> tuple[float, float]:
    """(σ, g(1)): the first σ in (0, 1] where the event function (g0 > 0 at σ = 0) becomes
    ≤ 0, else -1, and the event function at the step's end (NaN once σ was found: the
    event has happened, its value is not needed again).

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
            return s, np.nan
        a = b
        ga = gb
    return -1.0, ga
