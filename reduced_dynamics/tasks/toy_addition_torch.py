"""Torch adapter of toy addition (SPEC §3): inputs E_i + E_j of the representation R(m)."""

from __future__ import annotations

import torch

from reduced_dynamics.models import batched_mlp as bm
from reduced_dynamics.tasks.toy_addition import ToyAdditionConfig, ToyAdditionData, make_data


class ToyAdditionTorch:
    """Torch view of the toy-addition data: inputs E_i + E_j as a function of m."""

    has_m = True

    def __init__(self, config: ToyAdditionConfig, dtype: torch.dtype) -> None:
        self.config = config
        self.layer_sizes = config.layer_sizes
        self.activation = config.activation
        self.negative_slope = config.negative_slope
        self.data: ToyAdditionData = make_data(config)
        d = self.data
        as_t = lambda a: torch.as_tensor(a, dtype=dtype)  # noqa: E731
        self.r_lin, self.r_rand = as_t(d.r_linear), as_t(d.r_random)
        self.targets = as_t(d.targets)
        self.pairs = {"train": torch.as_tensor(d.pairs_train),
                      "test": torch.as_tensor(d.pairs_test)}
        self.labels = {"train": torch.as_tensor(d.labels_train),
                       "test": torch.as_tensor(d.labels_test)}

    def init_params(self, seed: int) -> bm.Params:
        """The decoder at PyTorch's default init for ``seed``."""
        return bm.default_init(self.layer_sizes, seed)

    def inputs(self, rep: torch.Tensor, split: str, batch: int | None = None) -> torch.Tensor:
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
