"""The arguments of a prediction, checked against the landscape: rates (γ, η_D, η_R) and
starts (alpha, m) inside the grid; and the start and γ sweep a landscape suggests by
itself (`default_start`, `default_gammas`) where a caller gives none.
"""

from __future__ import annotations

import math

import numpy as np

from reduced_dynamics.engine.path_analysis import contour_u
from reduced_dynamics.engine.prepare import PreparedLandscape
from reduced_dynamics.errors import InputError, bad_value
from reduced_dynamics.names import BOUNDARY_LOSS


def rates(name: str, value: object, *, positive: bool) -> np.ndarray:
    """``value`` (a number or a list) as a 1-D float array, every entry finite and > 0
    (``positive``) or >= 0; `InputError` naming ``name`` otherwise."""
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


def check_decay_rates(gamma: np.ndarray, eta_d: np.ndarray) -> None:
    """Refuse η_D·γ that is not a finite float (Eq. 6 multiplies them)."""
    with np.errstate(over="ignore"):
        prod = np.outer(eta_d, gamma)
    if not np.all(np.isfinite(prod)):
        i, j = np.argwhere(~np.isfinite(prod))[0]
        raise InputError(f"`eta_d` x `gamma` = {eta_d[i]:g} x {gamma[j]:g} overflows float64; "
                         "the decay rate eta_d*gamma must be a finite number (below ~1e308)")


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
