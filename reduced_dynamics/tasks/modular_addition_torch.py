"""Torch adapter of modular addition (SPEC §10): the transformer, tokens and cross-entropy.

θ is every parameter of `ModularTransformer` (embeddings included). The loss is the
cross-entropy of the logits at the last position, computed in float64 as in the original
code; accuracy is argmax = (a + b) mod p. Subset rule: n_train = N trains on the first N
training pairs of one permutation drawn with ``data_seed``; the test set stays the same.
"""

from __future__ import annotations

import torch

from reduced_dynamics.models.transformer import ModularTransformer, modular_addition_tokens
from reduced_dynamics.tasks.base import TorchTask, example_mean
from reduced_dynamics.tasks.modular_addition import ModularAdditionConfig, split


class ModularAdditionTorch(TorchTask):
    """All p² pairs as tokens ``a b =``; no representation coordinate (m)."""

    def __init__(self, config: ModularAdditionConfig, dtype: torch.dtype | None = None,
                 device: str | torch.device = "cpu") -> None:
        super().__init__(config, dtype, device)
        tokens, labels = modular_addition_tokens(config.p)
        self.tokens, self.labels = {}, {}
        for name, idx in zip(("train", "test"), split(config)):
            idx = torch.as_tensor(idx)
            self.tokens[name] = self.tensor(tokens[idx])
            self.labels[name] = self.tensor(labels[idx])
        self.subset_seed = config.data_seed

    def new_module(self) -> ModularTransformer:
        c = self.config
        return ModularTransformer(c.p, c.d_model, c.n_heads, c.d_head, c.d_mlp)

    def n_examples(self, split: str) -> int:
        return len(self.labels[split])

    def inputs(self, rep: None, split: str, index: torch.Tensor | None = None
               ) -> torch.Tensor:
        """Tokens ``(n, 3)`` of ``split`` (``index`` of them)."""
        return self.tokens[split] if index is None else self.tokens[split][index]

    def _labels(self, split: str, index: torch.Tensor | None) -> torch.Tensor:
        return self.labels[split] if index is None else self.labels[split][index]

    def loss(self, pred: torch.Tensor, split: str, index: torch.Tensor | None = None,
             weight: torch.Tensor | None = None) -> torch.Tensor:
        """Cross-entropy −log softmax(logits)[label], in float64, mean over examples."""
        logp = torch.log_softmax(pred.double(), dim=-1)
        nll = -logp.gather(-1, self._labels(split, index)[..., None])[..., 0]
        w = None if weight is None else weight.double()
        return example_mean(nll, w).to(pred.dtype)

    def accuracy(self, pred: torch.Tensor, split: str, index: torch.Tensor | None = None,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
        """Fraction with argmax logits = (a + b) mod p."""
        ok = (pred.argmax(-1) == self._labels(split, index)).to(pred.dtype)
        return example_mean(ok, weight)
