"""Torch adapter of toy addition (SPEC §3): the decoder MLP fed E_i + E_j of R(m).

θ is every weight and bias of the decoder (the module); the representation R (p symbols ×
rep_dim) lies outside it, on the line R(m) = m R_random + (1 - m) R_linear. Subset rule:
n_train = N uses the first N of the training pairs in one permutation drawn with
``data_seed``.
"""

from __future__ import annotations

import torch

from reduced_dynamics.models.mlp import MLP
from reduced_dynamics.tasks.base import TorchTask, example_mean
from reduced_dynamics.tasks.toy_addition import ToyAdditionConfig, ToyAdditionData, make_data


class ToyAdditionTorch(TorchTask):
    """Inputs E_i + E_j of a member's representation; MSE to the class's target vector."""

    vectorized = True  # every method below also takes a leading member axis

    def __init__(self, config: ToyAdditionConfig, dtype: torch.dtype | None = None,
                 device: str | torch.device = "cpu") -> None:
        super().__init__(config, dtype, device)
        self.layer_sizes = config.layer_sizes
        self.activation = config.activation
        self.negative_slope = config.negative_slope
        self.data: ToyAdditionData = make_data(config)
        d = self.data
        self.r_lin, self.r_rand = self.tensor(d.r_linear), self.tensor(d.r_random)
        self.targets = self.tensor(d.targets)
        self.pairs = {"train": self.tensor(d.pairs_train), "test": self.tensor(d.pairs_test)}
        self.labels = {"train": self.tensor(d.labels_train),
                       "test": self.tensor(d.labels_test)}
        self.subset_seed = config.data_seed

    def new_module(self) -> MLP:
        """The decoder ``rep_dim``–200–200–30 (ReLU, or LeakyReLU(0.2) for the notebook)."""
        return MLP(self.layer_sizes, self.activation, self.negative_slope)

    def n_examples(self, split: str) -> int:
        return len(self.labels[split])

    def inputs(self, rep: torch.Tensor, split: str, index: torch.Tensor | None = None
               ) -> torch.Tensor:
        """``rep: (..., p, d)`` -> decoder inputs ``(..., n, d)`` = E_i + E_j."""
        pr = self.pairs[split] if index is None else self.pairs[split][index]
        return rep[..., pr[:, 0], :] + rep[..., pr[:, 1], :]

    def _target(self, split: str, index: torch.Tensor | None) -> torch.Tensor:
        labels = self.labels[split] if index is None else self.labels[split][index]
        return self.targets[labels]

    def loss(self, pred: torch.Tensor, split: str, index: torch.Tensor | None = None,
             weight: torch.Tensor | None = None) -> torch.Tensor:
        """MSE to the target vectors (mean over examples and the 30 outputs)."""
        sq = (pred - self._target(split, index)).pow(2)
        if weight is None:
            return sq.flatten(-2).mean(-1)
        return example_mean(sq.mean(-1), weight)

    def accuracy(self, pred: torch.Tensor, split: str, index: torch.Tensor | None = None,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
        """Fraction whose nearest target vector (Euclidean) is the right one."""
        labels = self.labels[split] if index is None else self.labels[split][index]
        d2 = (pred.unsqueeze(-2) - self.targets).pow(2).sum(-1)
        return example_mean((d2.argmin(-1) == labels).to(pred.dtype), weight)
