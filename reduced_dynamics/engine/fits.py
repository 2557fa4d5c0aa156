"""Fits of the predicted (or measured) grokking times: the exponent p of t_grok ∝ γ^p."""

from __future__ import annotations

import numpy as np


def fit_exponent(gamma: np.ndarray, t: np.ndarray) -> dict[str, float]:
    """Least-squares fit ln t = c + p ln γ over finite t > 0, γ > 0.

    Returns exponent p, its standard error (NaN with < 3 points), intercept c, n_fit; all
    NaN unless the finite points have at least two distinct γ."""
    g = np.asarray(gamma, float)
    t = np.asarray(t, float)
    ok = np.isfinite(t) & (t > 0) & (g > 0)
    n = int(ok.sum())
    out = {"exponent": float("nan"), "exponent_stderr": float("nan"),
           "intercept": float("nan"), "n_fit": n}
    if np.unique(g[ok]).size < 2:  # one γ (a sweep over N): no slope to fit
        return out
    x, y = np.log(g[ok]), np.log(t[ok])
    xm = x.mean()
    sxx = float(((x - xm) ** 2).sum())
    if sxx == 0:
        return out
    p = float(((x - xm) * (y - y.mean())).sum() / sxx)
    c = float(y.mean() - p * xm)
    out.update(exponent=p, intercept=c)
    if n > 2:
        res = y - (c + p * x)
        out["exponent_stderr"] = float(np.sqrt((res**2).sum() / (n - 2) / sxx))
    return out
