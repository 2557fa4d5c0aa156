"""Synthetic landscapes with the shapes SPEC §3 and §11 expect, for tests and benchmarks.

`synthetic_landscape` is the (w, m) model below; `synthetic_n_train_landscape` a (w, n_train)
one with a known critical data size; `synthetic_wmn_landscape` stacks (w, m) slices over N.

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

from reduced_dynamics.io.landscape_file import landscape_dataset
from reduced_dynamics.names import ACC_THRESHOLD


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


def synthetic_n_train_landscape(
    *,
    w0: float = 14.0,
    alpha: np.ndarray | None = None,
    n_train: np.ndarray | None = None,
    n_critical: int = 316,
    threshold: float = ACC_THRESHOLD,
    a0: float = float(np.log(0.5)),
    kappa: float = 0.1,
    width: float = 0.25,
    l_hi: float = 1.0,
    l_lo: float = 1e-3,
    scale: float = 0.5,
    q: float = 1.0,
    a_u: float = float(np.log(3.0)),
    s_u: float = 0.2,
    c_u: float = 0.02,
    n_u: float = 300.0,
    p_u: float = 2.0,
    n_test: int = 100,
) -> xr.Dataset:
    """A (w, n_train) landscape with the shapes of SPEC §11 (Fig. 3) and a known critical N.

    With a = ln α, N the training-set size and ``step`` as in `synthetic_landscape`:

        l_train = l_hi·step((a_c(N) − a)/width) + l_lo,  a_c(N) = a0 + κ ln(N/10)   (an L)
        l_test  = l_train + rise(a, N) + scale·A/N^q
        rise    = c_u (n_u/N)^p_u softplus((a − a_u)/s_u)  (the U's right arm; → 0: an L)
        err     = clip((l − l_lo)/scale, 0, 1),  acc = 1 − err rounded to 1/n_test

    So the test loss is a U at small N and an L at large N, and the best test error over
    the w grid is A/N^q + e(N), e(N) = min over w of (l_train − l_lo + rise)/scale. A is
    the geometric mean of the two values that put the threshold crossing of
    A/N^q + e(N) = 1 − ``threshold`` at ``n_critical`` or the grid value below it (3/4 of
    the first where e(N) alone keeps that one from the threshold),
    so the critical data size on the grid is ``n_critical`` (checked after rounding; it
    must be on the grid and not its first value). ``threshold`` is stored in config_json as
    task.grok_threshold. Defaults: α = 10^linspace(−1, 2, 25), N = round(10^linspace(1, 4,
    13)).
    """
    alpha = np.geomspace(0.1, 100.0, 25) if alpha is None else np.asarray(alpha, float)
    n = (np.round(np.logspace(1, 4, 13)).astype(np.int64) if n_train is None
         else np.asarray(n_train, np.int64))
    k = np.flatnonzero(n == n_critical)
    if k.size != 1 or k[0] == 0:
        raise ValueError(f"n_critical={n_critical} must be on the n_train grid {n.tolist()} "
                         "and not its first value")
    k = int(k[0])
    a = np.log(alpha)[:, None]
    nn = n[None, :].astype(float)
    x = (a0 + kappa * np.log(nn / 10.0) - a) / width
    st, dst = _step(x)
    train = l_hi * st + l_lo
    rise = c_u * (n_u / nn) ** p_u * np.logaddexp(0.0, (a - a_u) / s_u)
    extra = ((train - l_lo + rise) / scale).min(axis=0)
    eps = 1.0 - threshold
    lo, hi = (eps - extra[k - 1]) * n[k - 1] ** q, (eps - extra[k]) * n[k] ** q
    if not (hi > 0 and lo < hi):
        raise ValueError(f"n_critical={n_critical}: at this N the model's best test error "
                         f"without the data term is already {extra[k]:.3g} (threshold "
                         f"error {eps:.3g}); choose a larger n_critical or a smaller c_u")
    # lo <= 0: the N below cannot reach the threshold whatever A is
    amp = float(np.sqrt(lo * hi)) if lo > 0 else 0.75 * float(hi)
    test = train + rise + scale * amp / nn**q
    w = alpha * w0

    def acc(loss: np.ndarray) -> np.ndarray:
        err = np.clip((loss - l_lo) / scale, 0.0, 1.0)
        return np.round(n_test * (1.0 - err)) / n_test

    shape = train.shape
    variables = {
        "train_loss": train,
        "test_loss": test,
        "train_acc": acc(train),
        "test_acc": acc(test),
        "dtrain_dw": -l_hi * dst / width / w[:, None],
        "converged": np.ones(shape, bool),
        "tangent_grad_ratio": np.full(shape, 1e-4),
    }
    if int(n[np.argmax(variables["test_acc"].max(axis=0) >= threshold)]) != n_critical:
        raise ValueError(f"n_critical={n_critical} is lost to rounding accuracies to "
                         f"1/{n_test}; use a larger n_test")
    params = {"w0": w0, "n_critical": int(n_critical), "amplitude": amp, "a0": a0,
              "kappa": kappa, "width": width, "l_hi": l_hi, "l_lo": l_lo, "scale": scale,
              "q": q, "a_u": a_u, "s_u": s_u, "c_u": c_u, "n_u": n_u, "p_u": p_u,
              "n_test": n_test}
    config = {"synthetic": params, "task": {"grok_threshold": threshold}}
    return landscape_dataset(w, None, variables, task="synthetic", preset="lu-n",
                             config=config, w0=w0, n_train=n,
                             title="synthetic (w, n_train) LU landscape (analytic model)",
                             history="reduced_dynamics.testing.synthetic."
                                     "synthetic_n_train_landscape")


def synthetic_wmn_landscape(n_train: tuple[int, ...] = (25, 35, 45, 55), *,
                            n_ref: float = 45.0, b: float = 6.0, **kwargs) -> xr.Dataset:
    """A (w, m, n_train) landscape: `synthetic_landscape` at each N with the boundary slope
    b·n_ref/N (the boundary contour tilts less for more data, as in Fig. 6e).

    The slice at N equals ``synthetic_landscape(b=b * n_ref / N, **kwargs)``."""
    slices = [synthetic_landscape(b=b * n_ref / float(n), **kwargs) for n in n_train]
    first = slices[0]
    names = [str(v) for v in first.data_vars]
    variables = {k: np.stack([s[k].transpose("w", "m").values for s in slices], axis=-1)
                 for k in names}
    config = {"synthetic": {"n_ref": n_ref, "b": b, **kwargs}}
    return landscape_dataset(first["w"].values, first["m"].values, variables,
                             task="synthetic", preset="lu-mn", config=config,
                             w0=float(first.attrs["w0"]), n_train=np.asarray(n_train),
                             title="synthetic (w, m, n_train) LU landscape (analytic model)",
                             history="reduced_dynamics.testing.synthetic."
                                     "synthetic_wmn_landscape")
