"""The fast path for MLPs: B members evaluated with hand-written batched matmuls (torch).

Parameters are a list ``[W1, b1, W2, b2, ...]`` with ``W: (B, fan_in, fan_out)`` and
``b: (B, 1, fan_out)``: member ``b`` of the batch is the ordinary `MLP` whose ``nn.Linear``
layers hold ``W.T`` and ``b``. The weight norm ``w = ||theta||_2`` counts every weight and
bias exactly once (SPEC §2). `BmmMembers` is this path behind the `Members` interface of
`reduced_dynamics.batching.members`, registered as the fast path ``"bmm"``
(`batching.build`); it is what the probe and trainer use for MLP tasks because
``benchmarks/bench_probe.py`` measures it faster than the generic vmap path (same numbers
to float rounding, tested).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reduced_dynamics.batching.members import Collate, Members
from reduced_dynamics.batching.stacking import Params, init_at_seed
from reduced_dynamics.models.mlp import MLP


def reference_mlp(layer_sizes: Sequence[int], seed: int, activation: str = "relu",
                  negative_slope: float = 0.2) -> MLP:
    """One ordinary `MLP` (an ``nn.Sequential``) at PyTorch's default init for ``seed``.

    The unbatched model that one member of the batch is; tests and benchmarks compare with
    it. The global RNG is left as it was (the init runs under a forked RNG).
    """
    return init_at_seed(lambda: MLP(layer_sizes, activation, negative_slope), seed)


def linear_params(module: nn.Module) -> Params:
    """``[W1, b1, ...]`` of an MLP's ``nn.Linear`` layers, ``W = weight.T``, ``b = bias[None]``
    (detached copies in the module's dtype)."""
    params: Params = []
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            params += [layer.weight.detach().T.contiguous(),
                       layer.bias.detach()[None, :].contiguous()]
    return params


def default_init(layer_sizes: Sequence[int], seed: int) -> Params:
    """Unbatched parameters (float64) of `reference_mlp` for ``seed``, as ``[W1, b1, ...]``
    with ``W: (fan_in, fan_out)``, ``b: (1, fan_out)``: ``w0`` is exactly the norm a user
    gets from ``torch.manual_seed(seed)`` and the same layers."""
    return [p.double() for p in linear_params(reference_mlp(layer_sizes, seed))]


def stack(members: Sequence[Params], dtype: torch.dtype) -> Params:
    """Stack unbatched parameter lists into batched leaves that require grad."""
    return [torch.stack([p[k] for p in members]).to(dtype).requires_grad_(True)
            for k in range(len(members[0]))]


def forward(params: Params, x: torch.Tensor, activation: str = "relu",
            negative_slope: float = 0.2) -> torch.Tensor:
    """``x: (B, n, fan_in) -> (B, n, fan_out)``, activation between layers only."""
    h = x
    n_layers = len(params) // 2
    for k in range(n_layers):
        h = torch.baddbmm(params[2 * k + 1], h, params[2 * k])
        if k < n_layers - 1:
            if activation == "relu":
                h = torch.relu(h)
            elif activation == "leaky_relu":
                h = nn.functional.leaky_relu(h, negative_slope)
            elif activation == "tanh":
                h = torch.tanh(h)
            else:
                raise ValueError(f"unknown activation {activation!r}")
    return h


def fast_path_applies(module: nn.Module, theta_names: Sequence[str] | None) -> bool:
    """The bmm path computes `MLP` members whose every parameter is in theta."""
    if type(module) is not MLP:
        return False
    names = [n for n, _ in module.named_parameters()]
    return theta_names is None or set(theta_names) == set(names)


class BmmMembers(Members):
    """B `MLP` members as ``[W1, b1, ...]`` leaves and `forward` (batched matmuls)."""

    path = "bmm"

    def __init__(self, modules: Sequence[nn.Module], dtype: torch.dtype,
                 device: torch.device) -> None:
        first = modules[0]
        self.size = len(modules)
        self.activation, self.negative_slope = first.activation, first.negative_slope
        members = [linear_params(m) for m in modules]
        self.theta = [torch.stack([p[k] for p in members]).to(device=device, dtype=dtype)
                      .requires_grad_(True) for k in range(len(members[0]))]
        self.rest = []

    @classmethod
    def from_leaves(cls, params: Params, like: nn.Module) -> BmmMembers:
        """Wrap existing ``[W1, b1, ...]`` leaves (no copy) of `MLP` ``like``'s shape."""
        self = cls.__new__(cls)
        self.size, self.theta, self.rest = params[0].shape[0], list(params), []
        self.activation, self.negative_slope = like.activation, like.negative_slope
        return self

    def apply(self, collate: Collate, args: Sequence, in_dims: Sequence[int | None],
              vectorized: bool = False) -> torch.Tensor:
        """``collate`` must give the MLP's one input tensor."""
        if all(d is None for d in in_dims):
            x = collate(*args)
            x = x.expand(self.size, *x.shape)
        elif vectorized:  # collate takes the leading member axis itself
            x = collate(*args)
        else:
            x = torch.vmap(collate, in_dims=tuple(in_dims))(*args)
        return forward(self.theta, x, self.activation, self.negative_slope)
