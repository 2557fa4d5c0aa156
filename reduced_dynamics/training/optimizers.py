"""The optimisers of full runs (SPEC §13), over stacked member leaves, with per-run rates.

Three kinds, each with weight decay γ on θ (per run):

* ``adamw`` (the paper's): decoupled, θ ← θ(1 − ηγ) − η·Adam(∇l);
* ``adam``: L2 through the gradient, Adam(∇l + γθ);
* ``sgd``: θ ← θ − η(∇l + γθ), full-batch gradient descent (Eq. 6's gradient flow,
  sampled at step η); with ``momentum`` μ > 0, heavy ball: b ← μb + ∇l + γθ, θ ← θ − ηb.

A learning rate is a float (every run the same) or a tensor with one value per run (a
leading member axis, `batching.stacking.per_member`). With one rate for every run, the torch
optimisers themselves are used (``torch.optim.Adam``, ``torch.optim.SGD``): the shipped
studies' numbers stay bit-identical. With per-run rates, `MemberAdam` and `MemberSGD` do
the same arithmetic with the rate broadcast over the member axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from reduced_dynamics.batching.devices import adam_options
from reduced_dynamics.batching.stacking import per_member

OPTIMIZERS = ("adamw", "adam", "sgd")

Rate = float | torch.Tensor


class MemberAdam(torch.optim.Optimizer):
    """Adam whose groups' ``lr`` may be a per-member tensor: torch's single-tensor Adam
    (no amsgrad), step_size = lr / (1 − β1^t), θ ← θ − step_size · m / (√v / √(1 − β2^t) + ε)."""

    def __init__(self, groups: Sequence[dict], betas: tuple[float, float], eps: float
                 ) -> None:
        super().__init__(list(groups), {"lr": 1e-3, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure: None = None) -> None:
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p,
                                                           memory_format=torch.preserve_format)
                state["step"] += 1
                t = float(state["step"])
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.lerp_(p.grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                bias_correction2_sqrt = math.sqrt(1 - beta2**t)
                denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(group["eps"])
                step_size = group["lr"] / (1 - beta1**t)
                if isinstance(step_size, torch.Tensor):
                    p.addcdiv_(exp_avg * per_member(-step_size, p), denom)
                else:
                    p.addcdiv_(exp_avg, denom, value=-step_size)


class MemberSGD(torch.optim.Optimizer):
    """SGD (heavy-ball momentum, torch's convention) whose groups' ``lr`` may be a
    per-member tensor: b ← μb + g (b = g at the first step), θ ← θ − lr·b."""

    def __init__(self, groups: Sequence[dict], momentum: float) -> None:
        super().__init__(list(groups), {"lr": 1e-3, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure: None = None) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                d_p = p.grad
                if group["momentum"] != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = d_p.detach().clone()
                    else:
                        state["momentum_buffer"].mul_(group["momentum"]).add_(d_p)
                    d_p = state["momentum_buffer"]
                lr = group["lr"]
                if isinstance(lr, torch.Tensor):
                    p.sub_(d_p * per_member(lr, p))
                else:
                    p.add_(d_p, alpha=-lr)


def make_optimizer(kind: str, groups: Sequence[dict], *, betas: tuple[float, float],
                   eps: float, momentum: float, device: torch.device
                   ) -> torch.optim.Optimizer:
    """The optimiser ``kind`` over ``groups`` ({"params": leaves, "lr": Rate}); weight
    decay is applied by the caller (`decay_`, `add_l2_`)."""
    if kind not in OPTIMIZERS:
        raise ValueError(f"`optimizer` must be one of {OPTIMIZERS}, got {kind!r}")
    per_run = any(isinstance(g["lr"], torch.Tensor) for g in groups)
    if kind == "sgd":
        if per_run:
            return MemberSGD(groups, momentum)
        return torch.optim.SGD(list(groups), lr=groups[0]["lr"], momentum=momentum)
    if per_run:
        return MemberAdam(groups, betas, eps)
    return torch.optim.Adam(list(groups), betas=betas, eps=eps, **adam_options(device))


def decay_(leaves: Sequence[torch.Tensor], factor: Rate) -> None:
    """AdamW's decoupled decay: every leaf times ``factor`` = 1 − ηγ (per member)."""
    with torch.no_grad():
        for p in leaves:
            p.mul_(per_member(factor, p))


def add_l2_(leaves: Sequence[torch.Tensor], gamma: torch.Tensor) -> None:
    """Adam's and SGD's weight decay: ∇ ← ∇ + γθ (per member) on leaves with a gradient."""
    with torch.no_grad():
        for p in leaves:
            if p.grad is not None:
                p.grad.add_(p * per_member(gamma, p))
