"""Torch adapter of the text task (SPEC §8): padded token arrays into an LSTM classifier."""

from __future__ import annotations

import torch

from reduced_dynamics.errors import InputError
from reduced_dynamics.models.lstm import LSTMClassifier
from reduced_dynamics.tasks.base import TorchTask, example_mean
from reduced_dynamics.tasks.text import TextConfig
from reduced_dynamics.tasks.text_data import load_text


class TextTorch(TorchTask):
    """Tokens ``(n, length)`` (left-padded with 0); one logit per review; binary
    cross-entropy; a review is correct where the logit's sign is its label's."""

    def __init__(self, config: TextConfig, dtype: torch.dtype | None = None,
                 device: str | torch.device = "cpu") -> None:
        super().__init__(config, dtype, device)
        data = load_text(config.dataset, n_reviews=config.n_reviews,
                         test_fraction=config.test_fraction, vocab_size=config.vocab_size,
                         skip_top=config.skip_top, length=config.length,
                         data_seed=config.data_seed)
        n = data.n_pool if config.n_train is None else config.n_train
        if n > data.n_pool:
            raise InputError(f"`n_train` must be at most {data.n_pool} (the training pool: "
                             f"{config.n_reviews or 'all'} reviews less the test fraction "
                             f"{config.test_fraction:g}), got {config.n_train}; raise "
                             "n_reviews or lower n_train")
        self.n_tokens = data.n_tokens
        self.x = {"train": self.tensor(data.x_train[:n]), "test": self.tensor(data.x_test)}
        self.y = {"train": self.tensor(data.y_train[:n], self.dtype),
                  "test": self.tensor(data.y_test, self.dtype)}
        self.subset_seed = config.data_seed

    def new_module(self) -> LSTMClassifier:
        """Embedding (vocabulary + padding) – ``layers`` LSTM layers – one logit."""
        c = self.config
        return LSTMClassifier(self.n_tokens, c.embed, c.hidden, 1, layers=c.layers)

    def n_examples(self, split: str) -> int:
        return len(self.y[split])

    def inputs(self, rep: torch.Tensor | None, split: str,
               index: torch.Tensor | None = None) -> torch.Tensor:
        """Token arrays ``(n, length)`` of ``split`` (``index`` of them)."""
        return self.x[split] if index is None else self.x[split][index]

    def _labels(self, split: str, index: torch.Tensor | None) -> torch.Tensor:
        return self.y[split] if index is None else self.y[split][index]

    def loss(self, pred: torch.Tensor, split: str, index: torch.Tensor | None = None,
             weight: torch.Tensor | None = None) -> torch.Tensor:
        """Binary cross-entropy of the logit, mean over reviews."""
        logit = pred[..., 0]
        per = torch.nn.functional.binary_cross_entropy_with_logits(
            logit, self._labels(split, index).expand_as(logit), reduction="none")
        return example_mean(per, weight)

    def accuracy(self, pred: torch.Tensor, split: str, index: torch.Tensor | None = None,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
        """Fraction of reviews with (logit > 0) = label."""
        ok = ((pred[..., 0] > 0).to(pred.dtype) == self._labels(split, index)).to(pred.dtype)
        return example_mean(ok, weight)
