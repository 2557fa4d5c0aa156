"""One optimiser step of every member, shared by the probe and the trainer (torch).

    zero_grad -> member losses (B,) -> backward -> ``on_grad`` (e.g. L2: grad + gamma theta)
    -> divergence guard (non-finite members frozen, their gradients 0) -> ``before_update``
    (e.g. warm-up rates, AdamW's decoupled decay) -> optimiser step -> the update of θ
    times ``update_scale`` per member -> θ back onto ``||θ_b|| = norm_b`` -> frozen members
    restored.

The optimiser's own update is elementwise (Adam, SGD), so one optimiser over the stacked
leaves is B optimisers; a member that overflows cannot change the others' numbers
(`batching.divergence`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from reduced_dynamics.batching.divergence import DivergenceGuard, finite_members
from reduced_dynamics.batching.stacking import Params, per_member, project_


def optimizer_step(step: int, member_loss: Callable[[], torch.Tensor],
                   opt: torch.optim.Optimizer, guard: DivergenceGuard, theta: Params, *,
                   norm: torch.Tensor | None = None,
                   on_grad: Callable[[], None] | None = None,
                   before_update: Callable[[], None] | None = None,
                   update_scale: torch.Tensor | None = None) -> torch.Tensor:
    """Step ``step`` (0-based) of every member (module docstring); the member losses (B,)
    at the point before the step. ``guard.leaves`` are everything ``opt`` trains; ``theta``
    the leaves that ``update_scale`` (B,) and the projection onto ``norm`` (B,) act on."""
    before = ([p.detach().clone() for p in theta] if update_scale is not None else None)
    opt.zero_grad(set_to_none=True)
    loss = member_loss()
    loss.sum().backward()
    if on_grad is not None:
        on_grad()
    guard.mark(step, finite_members([loss, *(p.grad for p in guard.leaves)]))
    guard.zero_grads()
    if before_update is not None:
        before_update()
    opt.step()
    if before is not None:  # a gradient-free rescaling of the step, which Adam does not see
        with torch.no_grad():
            for p, p0 in zip(theta, before):
                p.copy_(p0 + per_member(update_scale, p) * (p - p0))
    if norm is not None:
        project_(theta, norm)
    guard.restore()
    return loss
