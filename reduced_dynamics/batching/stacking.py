"""B copies of one ``nn.Module`` as stacked leaves ``(B, ...)``, and the norm of their θ.

Members are grid points × seeds of a probe, or runs of a sweep. Each member is an ordinary
module (``task.make_module(seed)``); `Stack` holds their parameters and buffers stacked
along a leading member axis (``torch.func.stack_module_state``) and a parameter-free copy of
the module to call them with. θ (SPEC §2) is the task's norm group: ``w_b = ||θ_b||_2``
counts each of its parameters once; the other parameters (``rest``, e.g. a trainable
representation inside the module) are outside the norm. An optimiser over the stacked
leaves is B optimisers: Adam's update is elementwise.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import stack_module_state

Params = list[torch.Tensor]


def init_at_seed(factory: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``factory()`` right after ``torch.manual_seed(seed)``, under a forked RNG: the module
    is PyTorch's default init for ``seed`` and the global RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return factory()


def sq_norm(params: Sequence[torch.Tensor]) -> torch.Tensor:
    """Per-member squared norm ``||theta_b||^2`` of stacked leaves ``(B, ...)``, shape (B,)."""
    return sum(p.pow(2).flatten(1).sum(1) for p in params)


@torch.no_grad()
def project_(params: Sequence[torch.Tensor], norm: torch.Tensor) -> None:
    """Rescale each member in place onto its sphere ``||theta_b|| = norm[b]``."""
    scale = norm / sq_norm(params).sqrt()
    for p in params:
        p.mul_(scale.view(-1, *([1] * (p.dim() - 1))))


def per_member(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """View a (B,) tensor so that it broadcasts against a stacked leaf ``like`` (B, ...)."""
    return t.view(-1, *([1] * (like.dim() - 1)))


def theta_split(module: nn.Module, theta_names: Sequence[str] | None
                ) -> tuple[list[str], list[str]]:
    """Names of the parameters in θ and of the others, each in module order."""
    names = [n for n, _ in module.named_parameters()]
    if theta_names is None:
        return names, []
    unknown = sorted(set(theta_names) - set(names))
    if unknown or not theta_names:
        raise ValueError(f"`theta_names` must name parameters of the module, got unknown "
                         f"{unknown}; the module has {names}")
    theta = [n for n in names if n in set(theta_names)]  # module order
    return theta, [n for n in names if n not in set(theta_names)]


class Stack:
    """The stacked state of B members of one architecture.

    ``params``/``buffers``: name -> leaf ``(B, ...)`` (parameters require grad, floating
    buffers in ``dtype``); ``base``: the module on the meta device, to call through
    ``torch.func.functional_call``; ``theta``/``rest``: the parameter leaves in and outside θ.
    """

    def __init__(self, modules: Sequence[nn.Module], theta_names: Sequence[str] | None,
                 dtype: torch.dtype, device: torch.device) -> None:
        self.size = len(modules)
        self.theta_names, self.rest_names = theta_split(modules[0], theta_names)
        params, buffers = stack_module_state(list(modules))
        self.params = {k: v.detach().to(device=device, dtype=dtype).requires_grad_(True)
                       for k, v in params.items()}
        self.buffers = {k: v.to(device=device, dtype=dtype if v.is_floating_point()
                                else v.dtype) for k, v in buffers.items()}
        self.base = copy.deepcopy(modules[0]).to("meta")
        self.theta: Params = [self.params[n] for n in self.theta_names]
        self.rest: Params = [self.params[n] for n in self.rest_names]

    def member(self, b: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Member ``b``'s parameters and buffers (views of the stacked leaves)."""
        return ({k: v[b] for k, v in self.params.items()},
                {k: v[b] for k, v in self.buffers.items()})
