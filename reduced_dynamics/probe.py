"""The constrained-norm probe (SPEC §2): many grid points as one batched torch model.

For each member b with norm ``w_b``, messiness ``m_b`` and init seed ``s_b``:
    theta <- Adam step on l_train(theta; R(m_b));  theta <- theta * w_b / ||theta||
and at the end, on the sphere: losses, accuracies and the envelope derivatives
    d l~/dw = theta_hat . grad_theta l_train,     d l~/dm = d l_train / dm |_theta.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from . import batched_mlp as bm
from .probe_config import ProbeConfig
from .tasks.toy_addition import ToyAdditionConfig, ToyAdditionData, make_data

RESULT_VARS = ("train_loss", "test_loss", "train_acc", "test_acc", "dtrain_dw", "dtrain_dm",
               "tangent_grad_ratio", "loss_rel_change", "converged")


class ToyAdditionTorch:
    """Torch view of the toy-addition data: inputs E_i + E_j as a function of m."""

    def __init__(self, config: ToyAdditionConfig, dtype: torch.dtype) -> None:
        self.config = config
        self.data: ToyAdditionData = make_data(config)
        d = self.data
        as_t = lambda a: torch.as_tensor(a, dtype=dtype)  # noqa: E731
        self.r_lin, self.r_rand = as_t(d.r_linear), as_t(d.r_random)
        self.targets = as_t(d.targets)
        self.pairs = {"train": torch.as_tensor(d.pairs_train),
                      "test": torch.as_tensor(d.pairs_test)}
        self.labels = {"train": torch.as_tensor(d.labels_train),
                       "test": torch.as_tensor(d.labels_test)}

    def inputs(self, rep: torch.Tensor, split: str) -> torch.Tensor:
        """``rep: (B, p, d)`` -> decoder inputs ``(B, n, d)`` = E_i + E_j."""
        pr = self.pairs[split]
        return rep[:, pr[:, 0]] + rep[:, pr[:, 1]]

    def representation(self, m: torch.Tensor) -> torch.Tensor:
        """R(m) = m R_random + (1 - m) R_linear, ``m: (B,)`` -> ``(B, p, d)``."""
        m = m.view(-1, 1, 1)
        return m * self.r_rand + (1 - m) * self.r_lin

    def loss(self, pred: torch.Tensor, split: str) -> torch.Tensor:
        """Per-member MSE to the target vectors, shape (B,)."""
        y = self.targets[self.labels[split]]
        return (pred - y).pow(2).flatten(1).mean(1)

    def accuracy(self, pred: torch.Tensor, split: str) -> torch.Tensor:
        """Fraction whose nearest target vector (Euclidean) is the right one, shape (B,)."""
        d2 = (pred.unsqueeze(-2) - self.targets).pow(2).sum(-1)
        return (d2.argmin(-1) == self.labels[split]).to(pred.dtype).mean(1)


def decoder_w0(config: ToyAdditionConfig, seed: int) -> float:
    """Norm of the decoder at PyTorch's default init for ``seed``."""
    return float(bm.sq_norm([p[None] for p in bm.default_init(config.layer_sizes, seed)]).sqrt())


def probe_batch(
    task: ToyAdditionConfig,
    probe: ProbeConfig,
    w: np.ndarray,
    m: np.ndarray,
    seeds: np.ndarray,
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Minimise l_train over directions at fixed norm for B members at once.

    ``w``, ``m``, ``seeds`` are (B,) arrays. Returns (B,) arrays named as in RESULT_VARS.
    ``progress(k)`` is called with the number of member-steps done since the last call.
    """
    dtype = torch.float32 if probe.dtype == "float32" else torch.float64
    tt = ToyAdditionTorch(task, dtype)
    w, m, seeds = (np.asarray(a).ravel() for a in (w, m, seeds))
    n = w.size
    inits = {int(s): bm.default_init(task.layer_sizes, int(s)) for s in np.unique(seeds)}
    params = bm.stack([inits[int(s)] for s in seeds], dtype)
    norm = torch.as_tensor(w, dtype=dtype)
    bm.project_(params, norm)
    w0 = np.array([decoder_w0(task, int(s)) for s in seeds])
    m_t = torch.as_tensor(m, dtype=dtype)
    act, slope = task.activation, task.negative_slope
    with torch.no_grad():
        x_train = tt.inputs(tt.representation(m_t), "train")

    # One Adam over the stacked leaves is exactly B separate Adams: its update is elementwise.
    # Per-member learning rates (lr_scaling="alpha") enter as a gradient-free rescaling of
    # the step, which Adam does not see: we scale the update, not the gradient.
    opt = torch.optim.Adam(params, lr=probe.lr, betas=(probe.beta1, probe.beta2))
    lr_scale = (np.maximum(1.0, w / w0) if probe.lr_scaling == "alpha" else np.ones(n))
    lr_scale_t = torch.as_tensor(lr_scale, dtype=dtype)
    scheduler = _scheduler(opt, probe)
    mark = round(0.9 * probe.steps)
    loss_at_mark = None
    for step in range(probe.steps):
        before = [p.detach().clone() for p in params] if probe.lr_scaling == "alpha" else None
        opt.zero_grad(set_to_none=True)
        loss = tt.loss(bm.forward(params, x_train, act, slope), "train")
        if step == mark:
            loss_at_mark = loss.detach().clone()
        loss.sum().backward()
        opt.step()
        if before is not None:
            with torch.no_grad():
                for p, p0 in zip(params, before):
                    s = lr_scale_t.view(-1, *([1] * (p.dim() - 1)))
                    p.copy_(p0 + s * (p - p0))
        bm.project_(params, norm)
        if scheduler is not None:
            scheduler.step()
        if progress is not None:
            progress(n)
    return _measure(tt, params, m_t, loss_at_mark, probe)


def _scheduler(opt: torch.optim.Optimizer, probe: ProbeConfig):
    if probe.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, probe.lr_decay_every, probe.lr_decay_factor)
    if probe.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, probe.steps)
    return None


def _measure(tt: ToyAdditionTorch, params: bm.Params, m_t: torch.Tensor,
             loss_at_mark: torch.Tensor | None, probe: ProbeConfig) -> dict[str, np.ndarray]:
    """Losses, accuracies, envelope derivatives and diagnostics at the projected point."""
    act, slope = tt.config.activation, tt.config.negative_slope
    m_req = m_t.clone().requires_grad_(True)
    rep = tt.representation(m_req)
    pred_train = bm.forward(params, tt.inputs(rep, "train"), act, slope)
    train_loss = tt.loss(pred_train, "train")
    grads = torch.autograd.grad(train_loss.sum(), [*params, m_req])
    g_theta, g_m = grads[:-1], grads[-1]
    with torch.no_grad():
        pred_test = bm.forward(params, tt.inputs(rep, "test"), act, slope)
        norm = bm.sq_norm(params).sqrt()
        radial = sum((g * p).flatten(1).sum(1) for g, p in zip(g_theta, params)) / norm
        g_norm = bm.sq_norm(list(g_theta)).sqrt()
        tangent = (g_norm.pow(2) - radial.pow(2)).clamp_min(0).sqrt()
        ratio = torch.where(g_norm > 0, tangent / g_norm.clamp_min(1e-300),
                            torch.zeros_like(g_norm))
        l_end = train_loss.detach()
        l_mark = loss_at_mark if loss_at_mark is not None else l_end
        rel_change = (l_end - l_mark).abs() / l_mark.abs().clamp_min(1e-30)
        tol = probe.rel_change_tol * l_mark.abs() + probe.abs_change_tol
        settled = (l_end - l_mark).abs() <= tol
        out = {
            "train_loss": l_end,
            "test_loss": tt.loss(pred_test, "test"),
            "train_acc": tt.accuracy(pred_train.detach(), "train"),
            "test_acc": tt.accuracy(pred_test, "test"),
            "dtrain_dw": radial,
            "dtrain_dm": g_m,
            "tangent_grad_ratio": ratio,
            "loss_rel_change": rel_change,
            # The tangent ratio is recorded but not used: at Adam's end points it stays near 1
            # even where the loss has settled (the residual gradient is noise in flat
            # directions), so it cannot tell converged points apart. See README.
            "converged": settled & torch.isfinite(l_end),
        }
    return {k: v.detach().cpu().numpy().astype(bool if k == "converged" else np.float64)
            for k, v in out.items()}
