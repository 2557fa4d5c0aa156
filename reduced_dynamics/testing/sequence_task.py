"""A tiny synthetic sequence task with an LSTM, for tests of the model-agnostic machinery.

Sequences of ``length`` tokens from ``{0, ..., vocab-1}``, drawn uniformly with
``data_seed``; the label is 1 where token 1 occurs more often than token 2, else 0. The
network is `reduced_dynamics.models.lstm.LSTMClassifier` (embedding, LSTM, linear
read-out), loss cross-entropy, accuracy of the arg-max. θ is the LSTM and the read-out;
the embedding is *not* in θ (a trainable representation inside the module: frozen during a
probe, trained with eta_r in full runs). Subset rule: nested subsets from ``data_seed``.

The task is not in the CLI's registry; a test registers `ENTRY` for as long as it needs
it (`registered`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass

import numpy as np

from reduced_dynamics.config import ProbeConfig, TrainConfig
from reduced_dynamics.names import LOSS_CROSS_ENTROPY
from reduced_dynamics.tasks.base import TaskEntry, TorchTask, example_mean, registered_while


@dataclass(frozen=True)
class SequenceConfig:
    """The task; stored whole in files as ``config_json``."""

    preset: str = "test"
    vocab: int = 4
    length: int = 5
    n_train: int = 24
    n_test: int = 16
    embed: int = 3
    hidden: int = 6
    data_seed: int = 0

    @property
    def loss_name(self) -> str:
        return LOSS_CROSS_ENTROPY

    @property
    def theta_description(self) -> str:
        return "the LSTM and the read-out (the embedding is outside theta)"

    positively_homogeneous = False  # an LSTM

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def make_sequences(config: SequenceConfig) -> tuple[np.ndarray, np.ndarray]:
    """Tokens ``(n_train + n_test, length)`` and labels, training examples first."""
    rng = np.random.default_rng(config.data_seed)
    tokens = rng.integers(0, config.vocab, (config.n_train + config.n_test, config.length))
    labels = ((tokens == 1).sum(1) > (tokens == 2).sum(1)).astype(np.int64)
    return tokens, labels


class SequenceTorch(TorchTask):
    """Token sequences, an LSTM classifier, cross-entropy."""

    theta_names = ("cells.0.ih.weight", "cells.0.ih.bias", "cells.0.hh.weight",
                   "cells.0.hh.bias", "readout.weight", "readout.bias")

    def __init__(self, config: SequenceConfig, dtype=None, device="cpu") -> None:
        super().__init__(config, dtype, device)
        tokens, labels = make_sequences(config)
        n = config.n_train
        self.x = {"train": self.tensor(tokens[:n]), "test": self.tensor(tokens[n:])}
        self.y = {"train": self.tensor(labels[:n]), "test": self.tensor(labels[n:])}
        self.subset_seed = config.data_seed

    def new_module(self):
        from reduced_dynamics.models.lstm import LSTMClassifier

        c = self.config
        return LSTMClassifier(c.vocab, c.embed, c.hidden, 2)

    def n_examples(self, split: str) -> int:
        return len(self.y[split])

    def inputs(self, rep, split, index=None):
        return self.x[split] if index is None else self.x[split][index]

    def _labels(self, split, index):
        return self.y[split] if index is None else self.y[split][index]

    def loss(self, pred, split, index=None, weight=None):
        import torch

        logp = torch.log_softmax(pred, -1)
        nll = -logp.gather(-1, self._labels(split, index)[..., None])[..., 0]
        return example_mean(nll, weight)

    def accuracy(self, pred, split, index=None, weight=None):
        ok = (pred.argmax(-1) == self._labels(split, index)).to(pred.dtype)
        return example_mean(ok, weight)


ENTRY = TaskEntry(
    name="test-sequence-lstm",
    description="tiny synthetic sequence classification with an LSTM (tests only)",
    config_type=SequenceConfig,
    presets={"test": SequenceConfig()},
    adapter="reduced_dynamics.testing.sequence_task:SequenceTorch",
    has_m=False,
    probe_presets={"test": ProbeConfig(steps=20, lr=1e-2)},
    train=TrainConfig(steps=20, eta_d=1e-2, eta_r=1e-2, n_log=5),
    probe_seeds=(0,),
    train_seeds=(0,),
    alpha0=(1.0,),
)


def registered() -> contextlib.AbstractContextManager[TaskEntry]:
    """`ENTRY` in the task registry for the duration of a ``with`` block."""
    return registered_while(ENTRY)
