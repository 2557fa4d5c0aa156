"""B independent MLPs evaluated as one model with batched matmuls (torch).

Parameters are a list ``[W1, b1, W2, b2, ...]`` with ``W: (B, fan_in, fan_out)`` and
``b: (B, 1, fan_out)``: member ``b`` of the batch is an ordinary MLP. The weight norm
``w = ||theta||_2`` counts every weight and bias exactly once (SPEC §2).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn

Params = list[torch.Tensor]


ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh}


def reference_mlp(layer_sizes: Sequence[int], seed: int, activation: str = "relu",
                  negative_slope: float = 0.2) -> nn.Sequential:
    """One ordinary ``nn.Sequential`` MLP at PyTorch's default init for ``seed``.

    The unbatched model that one member of the batch is; tests and benchmarks compare with
    it. The global RNG is left as it was (the init runs under a forked RNG).
    """
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        for k, (a, b) in enumerate(pairwise(layer_sizes)):
            layers.append(nn.Linear(a, b))
            if k < len(layer_sizes) - 2:
                act = ACTIVATIONS[activation]
                layers.append(act(negative_slope) if activation == "leaky_relu" else act())
    return nn.Sequential(*layers)


def default_init(layer_sizes: Sequence[int], seed: int) -> Params:
    """Unbatched parameters (float64) of `reference_mlp` for ``seed``, as ``[W1, b1, ...]``
    with ``W: (fan_in, fan_out)``, ``b: (1, fan_out)``: ``w0`` is exactly the norm a user
    gets from ``torch.manual_seed(seed)`` and the same layers."""
    linears = [m for m in reference_mlp(layer_sizes, seed) if isinstance(m, nn.Linear)]
    params: Params = []
    for layer in linears:
        params += [layer.weight.detach().T.double().contiguous(),
                   layer.bias.detach()[None, :].double().contiguous()]
    return params


def stack(members: Sequence[Params], dtype: torch.dtype) -> Params:
    """Stack unbatched parameter lists into batched leaves that require grad."""
    return [torch.stack([p[k] for p in members]).to(dtype).requires_grad_(True)
            for k in range(len(members[0]))]


def sq_norm(params: Params) -> torch.Tensor:
    """Per-member squared norm ``||theta_b||^2``, shape (B,)."""
    return sum(p.pow(2).flatten(1).sum(1) for p in params)


@torch.no_grad()
def project_(params: Params, norm: torch.Tensor) -> None:
    """Rescale each member in place onto its sphere ``||theta_b|| = norm[b]``."""
    scale = norm / sq_norm(params).sqrt()
    for p in params:
        p.mul_(scale.view(-1, *([1] * (p.dim() - 1))))


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
