"""An L-stable Rosenbrock 4(3) stepper for the stiff parts of Eq. 6, with its Jacobian.

Pure numba kernels over plain arrays (the argument layout is in `dynamics`), the `driver`'s
default step (`dopri` on request): stable where a path is stiff (m pinned by a steep valley
or an m edge: |∂²l̃/∂m²| up to 3·10⁴ caps an explicit step at a fraction of an optimiser
step).

The method is Hairer & Wanner's ROS4 with the L-stable parameter set γ = 0.57282 (*Solving
ODEs II*, §IV.7; the coefficients as KPP's ``Ros4``, Sandu et al. 1997), in the form
without Jacobian–vector products:

    G = I/(h γ) − J,    G kᵢ = f(y + Σ_{j<i} a_ij k_j) + Σ_{j<i} (c_ij / h) k_j,
    y₁ = y + Σ mᵢ kᵢ,   err = Σ eᵢ kᵢ   (order 4, embedded order 3),

four stages on three right-hand sides (f(y), given, and two new ones; the fourth stage
reuses the third's), one Jacobian and one 2 × 2 solve per stage. J is a one-sided finite
difference (2 right-hand sides; the side that stays inside the m range). The continuous
extension is the cubic Hermite polynomial through (y₀, f₀) and (y₁, f₁), written in
`dopri.dense_eval`'s form so that the driver's events and output sampling work unchanged:

    y(t₀ + σh) = y₀ + h σ (Q₀ + σ (Q₁ + σ Q₂)),  Q₀ = f₀,
    Q₁ = 3Δ/h − 2f₀ − f₁,  Q₂ = f₀ + f₁ − 2Δ/h,  Δ = y₁ − y₀.

Step-size control as scipy's (`dopri.accepted_factor`), with the error exponent −1/4.
"""

from __future__ import annotations

import numpy as np

from reduced_dynamics.engine._jit import njit
from reduced_dynamics.engine.dynamics import rhs

GAMMA = 0.57282
A21 = 2.0
A31, A32 = 1.867943637803922, 0.2344449711399156
C21 = -7.137615036412310
C31, C32 = 2.580708087951457, 0.6515950076447975
C41, C42, C43 = -2.137148994382534, -0.3214669691237626, -0.6949742501781779
M = np.array([2.255570073418735, 0.2870493262186792, 0.4353179431840180,
              1.093502252409163])
E = np.array([-0.2815431932141155, -0.07276199124938920, -0.1082196201495311,
              -1.093502252409163])
ERROR_EXPONENT = -1 / 4  # -1 / (order of the error estimate + 1)
FD_STEP = 1.5e-8  # relative step of the finite-difference Jacobian (≈ √eps)


@njit
def jacobian(ug: np.ndarray, mg: np.ndarray, coef: np.ndarray, iopt: np.ndarray,
             par: np.ndarray, y: np.ndarray, f0: np.ndarray, tmp: np.ndarray,
             ftmp: np.ndarray, J: np.ndarray) -> None:
    """J[i, j] ≈ ∂fᵢ/∂y_j at y (f0 = f(y) given), one-sided differences; 2 RHS calls.

    The m difference is taken towards the inside of the m range, so that an edge's rule
    (the outward m velocity set to zero) is seen as the steep decay it is."""
    mhi = mg[mg.shape[0] - 1]
    for j in range(2):
        d = FD_STEP * max(1.0, abs(y[j]))
        if j == 1 and y[1] + d > mhi:
            d = -d
        tmp[0] = y[0]
        tmp[1] = y[1]
        tmp[j] = y[j] + d
        d = tmp[j] - y[j]  # the step as represented
        rhs(ug, mg, coef, iopt, par, tmp, ftmp)
        for i in range(2):
            J[i, j] = (ftmp[i] - f0[i]) / d


@njit
def _solve(g00: float, g01: float, g10: float, g11: float, r: np.ndarray) -> bool:
    """r ← G⁻¹ r for G = [[g00, g01], [g10, g11]]; False when G is (numerically) singular."""
    det = g00 * g11 - g01 * g10
    scale = max(abs(g00 * g11), abs(g01 * g10))
    if not (abs(det) > 1e-13 * scale) or not np.isfinite(det):
        return False
    x0 = (g11 * r[0] - g01 * r[1]) / det
    x1 = (g00 * r[1] - g10 * r[0]) / det
    r[0] = x0
    r[1] = x1
    return True


@njit
def ros_step(ug: np.ndarray, mg: np.ndarray, coef: np.ndarray, iopt: np.ndarray,
             par: np.ndarray, y: np.ndarray, f0: np.ndarray, J: np.ndarray, h: float,
             K: np.ndarray, ytmp: np.ndarray, y_new: np.ndarray, err: np.ndarray) -> bool:
    """One ROS4 step of size h from y (f0 = f(y), J its Jacobian); fills K[0:4], y_new,
    err. Two RHS calls. Returns False when I/(hγ) − J is singular (the step must shrink)."""
    inv = 1.0 / (h * GAMMA)
    g00 = inv - J[0, 0]
    g01 = -J[0, 1]
    g10 = -J[1, 0]
    g11 = inv - J[1, 1]
    for d in range(2):
        K[0, d] = f0[d]
    if not _solve(g00, g01, g10, g11, K[0]):
        return False
    for d in range(2):
        ytmp[d] = y[d] + A21 * K[0, d]
    rhs(ug, mg, coef, iopt, par, ytmp, K[1])
    for d in range(2):
        K[1, d] += C21 / h * K[0, d]
    _solve(g00, g01, g10, g11, K[1])
    for d in range(2):
        ytmp[d] = y[d] + A31 * K[0, d] + A32 * K[1, d]
    rhs(ug, mg, coef, iopt, par, ytmp, K[2])
    for d in range(2):
        K[3, d] = K[2, d] + (C41 * K[0, d] + C42 * K[1, d]) / h  # f of stage 3 reused
        K[2, d] += (C31 * K[0, d] + C32 * K[1, d]) / h
    _solve(g00, g01, g10, g11, K[2])
    for d in range(2):
        K[3, d] += C43 / h * K[2, d]
    _solve(g00, g01, g10, g11, K[3])
    for d in range(2):
        y_new[d] = y[d] + M[0] * K[0, d] + M[1] * K[1, d] + M[2] * K[2, d] + M[3] * K[3, d]
        err[d] = E[0] * K[0, d] + E[1] * K[1, d] + E[2] * K[2, d] + E[3] * K[3, d]
    return True


@njit
def hermite_coeffs(y0: np.ndarray, y1: np.ndarray, f0: np.ndarray, f1: np.ndarray,
                   h: float, Q: np.ndarray) -> None:
    """Q of the cubic Hermite extension through (y0, f0), (y1, f1), in `dense_eval`'s form."""
    for d in range(y0.shape[0]):
        slope = (y1[d] - y0[d]) / h
        Q[d, 0] = f0[d]
        Q[d, 1] = 3.0 * slope - 2.0 * f0[d] - f1[d]
        Q[d, 2] = f0[d] + f1[d] - 2.0 * slope
        Q[d, 3] = 0.0
