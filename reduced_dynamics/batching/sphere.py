"""The constrained-norm minimisation shared by the probe and the relaxed start of training
(SPEC §2, §13), torch: Adam steps of θ, each projected back onto ``||θ_b|| = w_b``, with the
representation fixed. `landscape.probe` measures the end point; `training.trainer` starts
its runs there."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch

from reduced_dynamics.batching.data import MemberData, Selection
from reduced_dynamics.batching.devices import adam_options
from reduced_dynamics.batching.divergence import DivergenceGuard
from reduced_dynamics.batching.evaluation import evaluate, member_loss, predict
from reduced_dynamics.batching.members import Members
from reduced_dynamics.batching.step import optimizer_step
from reduced_dynamics.config import ProbeConfig
from reduced_dynamics.tasks.base import TorchTask


def minimise_on_sphere(tt: TorchTask, members: Members, rep: torch.Tensor | None,
                       data: MemberData, probe: ProbeConfig, norm: torch.Tensor,
                       guard: DivergenceGuard, alpha: np.ndarray,
                       progress: Callable[[int], None] | None = None) -> torch.Tensor | None:
    """The probe's constrained minimisation (`landscape.probe`): ``probe.steps`` Adam steps
    of ``members.theta`` (already on the sphere ``norm``), each projected back onto it, with
    the representation ``rep`` fixed. ``alpha`` (B,) is w / w0 (``lr_scaling="alpha"``).
    Returns the member losses at 0.9 ``probe.steps`` (the convergence test's mark). Also
    the relaxed start of a training run (`training.trainer`, SPEC §13)."""
    params = members.theta
    n, dtype, dev = norm.numel(), norm.dtype, norm.device
    # One Adam over the stacked leaves is exactly B separate Adams: its update is elementwise.
    # Per-member learning rates (lr_scaling="alpha") enter as a gradient-free rescaling of
    # the step, which Adam does not see: we scale the update, not the gradient.
    opt = torch.optim.Adam(params, lr=probe.lr, betas=(probe.beta1, probe.beta2),
                           **adam_options(dev))
    lr_scale = (torch.as_tensor(np.maximum(1.0, alpha), dtype=dtype, device=dev)
                if probe.lr_scaling == "alpha" else None)
    scheduler = _scheduler(opt, probe)
    mark = round(0.9 * probe.steps)
    loss_at_mark = None

    def train_loss(sel: Selection) -> torch.Tensor:
        return member_loss(tt, predict(tt, members, rep, "train", sel), "train", sel)

    for step in range(probe.steps):
        sel = data.train_batch(step)
        if step == mark and data.batch_size is not None:  # the whole set, before the step
            loss_at_mark = evaluate(tt, members, rep, "train", data).loss
        loss = optimizer_step(step, functools.partial(train_loss, sel), opt, guard, params,
                              norm=norm, update_scale=lr_scale)
        if step == mark and data.batch_size is None:
            loss_at_mark = loss.detach().clone()
        if scheduler is not None:
            scheduler.step()
        if progress is not None:
            progress(n)
    return loss_at_mark


def _scheduler(opt: torch.optim.Optimizer, probe: ProbeConfig):
    if probe.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, probe.lr_decay_every, probe.lr_decay_factor)
    if probe.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, probe.steps)
    return None
