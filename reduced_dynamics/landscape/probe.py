"""The constrained-norm probe (SPEC §2): many grid points as one batched torch model.

For each member b with norm ``w_b``, messiness ``m_b`` and init seed ``s_b``:
    theta <- Adam step on l_train(theta; R(m_b));  theta <- theta * w_b / ||theta||
and at the end, on the sphere: losses, accuracies and the envelope derivatives
    d l~/dw = theta_hat . grad_theta l_train,     d l~/dm = d l_train / dm |_theta.
The task (data, loss, accuracy) comes from its torch adapter (`reduced_dynamics.tasks`);
a task without a representation coordinate has no m and no d l~/dm.

A member that overflows (norm, loss, gradient or a result inf/NaN) is frozen at that step
(`models.divergence.DivergenceGuard`); the others go on bit for bit as without it. It is
returned with ``status`` diverged, its ``diverged_step`` (``steps``: only the final
measurement overflowed), NaN results and ``converged`` False.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from reduced_dynamics.landscape.config import ProbeConfig
from reduced_dynamics.models import batched_mlp as bm
from reduced_dynamics.models.divergence import DivergenceGuard, finite_members
from reduced_dynamics.tasks import TorchTask, torch_task
from reduced_dynamics.tasks.toy_addition_torch import ToyAdditionTorch

__all__ = ["RESULT_VARS", "ToyAdditionTorch", "decoder_w0", "probe_batch", "result_vars"]

RESULT_VARS = ("train_loss", "test_loss", "train_acc", "test_acc", "dtrain_dw", "dtrain_dm",
               "tangent_grad_ratio", "loss_rel_change", "converged", "status", "diverged_step")


def result_vars(has_m: bool) -> tuple[str, ...]:
    """What `probe_batch` returns: RESULT_VARS, without ``dtrain_dm`` for a task without m."""
    return RESULT_VARS if has_m else tuple(v for v in RESULT_VARS if v != "dtrain_dm")


def decoder_w0(config, seed: int) -> float:
    """Norm of the trained network (decoder, student) at PyTorch's default init for ``seed``."""
    return float(bm.sq_norm([p[None] for p in bm.default_init(config.layer_sizes, seed)]).sqrt())


def probe_batch(
    task,
    probe: ProbeConfig,
    w: np.ndarray,
    m: np.ndarray | None,
    seeds: np.ndarray,
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Minimise l_train over directions at fixed norm for B members at once.

    ``task`` is a task config (`reduced_dynamics.tasks`); ``w``, ``m``, ``seeds`` are (B,)
    arrays (``m`` may be None for a task without m: it is ignored there). Returns (B,) arrays
    named as in `result_vars`. ``progress(k)`` is called with the number of member-steps
    done since the last call.
    """
    dtype = torch.float32 if probe.dtype == "float32" else torch.float64
    tt = torch_task(task, dtype)
    w, seeds = (np.asarray(a).ravel() for a in (w, seeds))
    n = w.size
    inits = {int(s): tt.init_params(int(s)) for s in np.unique(seeds)}
    params = bm.stack([inits[int(s)] for s in seeds], dtype)
    norm = torch.as_tensor(w, dtype=dtype)
    bm.project_(params, norm)
    guard = DivergenceGuard(params)
    guard.mark(0, finite_members([bm.sq_norm(params)]))  # |theta|^2 overflows: w too large
    w0 = np.array([decoder_w0(task, int(s)) for s in seeds])
    m_t = torch.as_tensor(np.asarray(m).ravel(), dtype=dtype) if tt.has_m else None
    act, slope = tt.activation, tt.negative_slope
    with torch.no_grad():
        x_train = tt.inputs(tt.representation(m_t) if tt.has_m else None, "train", n)

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
        guard.mark(step, finite_members([loss, *(p.grad for p in params)]))
        guard.zero_grads()
        opt.step()
        if before is not None:
            with torch.no_grad():
                for p, p0 in zip(params, before):
                    s = lr_scale_t.view(-1, *([1] * (p.dim() - 1)))
                    p.copy_(p0 + s * (p - p0))
        bm.project_(params, norm)
        guard.restore()
        if scheduler is not None:
            scheduler.step()
        if progress is not None:
            progress(n)
    out = _measure(tt, params, m_t, loss_at_mark, probe)
    guard.mark(probe.steps, np.logical_and.reduce(
        [np.isfinite(v) for k, v in out.items() if k != "converged"]))
    for k, v in out.items():
        v[guard.diverged] = False if k == "converged" else np.nan
    out["status"] = guard.status()
    out["diverged_step"] = guard.step_or_nan()
    return out


def _scheduler(opt: torch.optim.Optimizer, probe: ProbeConfig):
    if probe.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, probe.lr_decay_every, probe.lr_decay_factor)
    if probe.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, probe.steps)
    return None


def _measure(tt: TorchTask, params: bm.Params, m_t: torch.Tensor | None,
             loss_at_mark: torch.Tensor | None, probe: ProbeConfig) -> dict[str, np.ndarray]:
    """Losses, accuracies, envelope derivatives and diagnostics at the projected point."""
    act, slope = tt.activation, tt.negative_slope
    n = params[0].shape[0]
    if tt.has_m:
        m_req = m_t.clone().requires_grad_(True)
        rep = tt.representation(m_req)
        leaves = [*params, m_req]
    else:
        rep, leaves = None, list(params)
    pred_train = bm.forward(params, tt.inputs(rep, "train", n), act, slope)
    train_loss = tt.loss(pred_train, "train")
    grads = torch.autograd.grad(train_loss.sum(), leaves)
    g_theta = grads[: len(params)]
    with torch.no_grad():
        pred_test = bm.forward(params, tt.inputs(rep, "test", n), act, slope)
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
            "tangent_grad_ratio": ratio,
            "loss_rel_change": rel_change,
            # The tangent ratio is recorded but not used: at Adam's end points it stays near 1
            # even where the loss has settled (the residual gradient is noise in flat
            # directions), so it cannot tell converged points apart. See README.
            "converged": settled & torch.isfinite(l_end),
        }
        if tt.has_m:
            out["dtrain_dm"] = grads[-1]
        out = {k: out[k] for k in result_vars(tt.has_m) if k in out}
    return {k: v.detach().cpu().numpy().astype(bool if k == "converged" else np.float64)
            for k, v in out.items()}
