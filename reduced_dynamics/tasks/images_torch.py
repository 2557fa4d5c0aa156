"""Torch adapter of the images task (SPEC §8): standardised pixels into the paper's MLP."""

from __future__ import annotations

import torch

from reduced_dynamics.models.mlp import MLP
from reduced_dynamics.tasks.base import TorchTask, example_mean
from reduced_dynamics.tasks.image_data import linear_representation, load_images
from reduced_dynamics.tasks.images import ImagesConfig


class ImagesTorch(TorchTask):
    """Flattened images ``(n, d)``; MSE to one-hot or cross-entropy; accuracy by argmax.

    With ``config.representation`` the examples of both splits are rows of one
    representation ``(n_train + n_test, d)`` on the line R(m) (Fig. 8)."""

    def __init__(self, config: ImagesConfig, dtype: torch.dtype | None = None,
                 device: str | torch.device = "cpu") -> None:
        super().__init__(config, dtype, device)
        data = load_images(config.dataset, test_size=config.test_size,
                           split_seed=config.data_seed, subset_seed=config.data_seed,
                           n_test=config.n_test)
        train = data.subset(config.n_train)
        x = {"train": data.x_train[train], "test": data.x_test}
        y = {"train": data.y_train[train], "test": data.y_test}
        self.n_classes = data.n_classes
        self.d_in = x["train"].shape[1]
        self.labels = {k: self.tensor(v) for k, v in y.items()}
        self.onehot = {k: torch.nn.functional.one_hot(v, self.n_classes).to(self.dtype)
                       for k, v in self.labels.items()}
        self.offset = {"train": 0, "test": len(y["train"])}
        if config.representation:
            import numpy as np

            raw = np.concatenate([x["train"], x["test"]])
            labels = np.concatenate([y["train"], y["test"]])
            self.r_rand = self.tensor(raw)
            self.r_lin = self.tensor(linear_representation(labels, self.n_classes,
                                                           self.d_in))
            self.x = None
        else:
            self.x = {k: self.tensor(v) for k, v in x.items()}
        self.subset_seed = config.data_seed
        self.activation = config.activation

    def new_module(self) -> MLP:
        """d–200–200–classes, ReLU (Appendix A: depth 3, width 200)."""
        return MLP((self.d_in, *self.config.hidden, self.n_classes), "relu")

    def n_examples(self, split: str) -> int:
        return len(self.labels[split])

    def inputs(self, rep: torch.Tensor | None, split: str,
               index: torch.Tensor | None = None) -> torch.Tensor:
        """Pixels ``(n, d)`` of ``split`` (``index`` of them), from the representation R(m)
        when the task has one."""
        if self.x is not None:
            return self.x[split] if index is None else self.x[split][index]
        rows = torch.arange(self.n_examples(split), device=self.device) if index is None \
            else index
        return rep[..., rows + self.offset[split], :]

    def _pick(self, table: dict, split: str, index: torch.Tensor | None) -> torch.Tensor:
        return table[split] if index is None else table[split][index]

    def loss(self, pred: torch.Tensor, split: str, index: torch.Tensor | None = None,
             weight: torch.Tensor | None = None) -> torch.Tensor:
        """MSE to one-hot (mean over classes) or cross-entropy, mean over examples."""
        if self.config.loss == "mse":
            per = (pred - self._pick(self.onehot, split, index)).pow(2).mean(-1)
        else:
            logp = torch.log_softmax(pred, dim=-1)
            per = -logp.gather(-1, self._pick(self.labels, split, index)[..., None])[..., 0]
        return example_mean(per, weight)

    def accuracy(self, pred: torch.Tensor, split: str, index: torch.Tensor | None = None,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
        """Fraction with argmax output = label."""
        ok = (pred.argmax(-1) == self._pick(self.labels, split, index)).to(pred.dtype)
        return example_mean(ok, weight)
