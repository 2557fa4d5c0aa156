"""A synthetic (w, m) landscape with the shapes SPEC §3 expects, for tests and benchmarks.

With a = ln α (α = w/w0), σ the logistic function and softplus(x) = ln(1 + eˣ):

    boundary   a_c(m) = a₀ + b·m,  x = (a_c(m) − a)/δ   (region II: a > a_c)
    step(x)  = exp(−softplus(−x)²/2)                   (→ 1 for x ≫ 1, Gaussian tail e^{−x²/2})
    l_train  = l_hi·step(x) + l_lo                     (L-shaped in w)
    l_test   = l_hi·step(x) + l_lo + c·(m/m_g)^1.5·(1 + ½ softplus(a − a_c(m)))
                                                       (U-shaped in w, rising with m)
    acc      = round(10·clip(1 − l/0.5, 0, 1))/10      (steps of 0.1: 10 test examples)

The Gaussian tail keeps region II flat (the paper's "training loss depends weakly on m"):
an exponential tail would give m-gradients there that outrun the weight-decay drift.
``dtrain_dw`` and ``dtrain_dm`` are the exact derivatives. ``noise`` multiplies the losses
by log-normal factors (σ = noise) at α > 10, where real probes are noisiest.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from reduced_dynamics.io.files import landscape_dataset


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _step(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """exp(−softplus(−x)²/2) and its derivative in x."""
    sp = np.logaddexp(0.0, -x)
    v = np.exp(-0.5 * sp**2)
    return v, v * sp * _sigmoid(-x)


def synthetic_landscape(
    *,
    w0: float = 14.0,
    alpha: np.ndarray | None = None,
    m: np.ndarray | None = None,
    a0: float = float(np.log(2.5)),
    b: float = 6.0,
    width: float = 0.25,
    l_hi: float = 1.0,
    l_lo: float = 1e-3,
    c: float = 0.025,
    m_g: float = 0.02,
    noise: float = 0.0,
    seed: int = 0,
) -> xr.Dataset:
    """Landscape Dataset (SPEC §9 layout) of the analytic model in the module docstring.

    Defaults: α = 10^linspace(−1, 2, 31), m = linspace(0, 1, 21)² (dense near 0).
    """
    alpha = np.geomspace(0.1, 100.0, 31) if alpha is None else np.asarray(alpha, float)
    m = np.linspace(0.0, 1.0, 21) ** 2 if m is None else np.asarray(m, float)
    a = np.log(alpha)[:, None]
    mm = m[None, :]
    ac = a0 + b * mm
    x = (ac - a) / width
    sig, dsig = _step(x)
    train = l_hi * sig + l_lo
    soft = np.logaddexp(0.0, a - ac)
    test = l_hi * sig + l_lo + c * (mm / m_g) ** 1.5 * (1.0 + 0.5 * soft)
    w = alpha * w0
    dtrain_da = -l_hi * dsig / width
    dtrain_dm = l_hi * dsig * b / width
    if noise > 0:
        rng = np.random.default_rng(seed)
        big = (alpha > 10.0)[:, None]
        train = train * np.where(big, np.exp(noise * rng.standard_normal(train.shape)), 1.0)
        test = test * np.where(big, np.exp(noise * rng.standard_normal(test.shape)), 1.0)

    def acc(loss: np.ndarray) -> np.ndarray:
        return np.round(10.0 * np.clip(1.0 - loss / 0.5, 0.0, 1.0)) / 10.0

    shape = train.shape
    variables = {
        "train_loss": train,
        "test_loss": test,
        "train_acc": acc(train),
        "test_acc": acc(test),
        "dtrain_dw": np.broadcast_to(dtrain_da / w[:, None], shape).copy(),
        "dtrain_dm": np.broadcast_to(dtrain_dm, shape).copy(),
        "converged": np.ones(shape, bool),
        "tangent_grad_ratio": np.full(shape, 1e-4),
    }
    config = {"synthetic": {"w0": w0, "a0": a0, "b": b, "width": width, "l_hi": l_hi,
                            "l_lo": l_lo, "c": c, "m_g": m_g, "noise": noise, "seed": seed}}
    return landscape_dataset(w, m, variables, task="synthetic", preset="lu", config=config,
                             w0=w0, title="synthetic LU landscape (analytic model)",
                             history="reduced_dynamics.testing.synthetic.synthetic_landscape")
