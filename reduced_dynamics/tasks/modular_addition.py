"""Modular addition with a one-layer transformer (Omnigrok Section 5, Fig. 7, 9, 10a;
Nanda et al. 2023; SPEC §10): config, presets and the split. Pure numpy.

Every pair (a, b) of symbols 0..p-1 is an example with label (a + b) mod p, fed as the
tokens ``a b =``. One seeded permutation of the p² pairs puts the first
``round(train_fraction p²)`` in the training set and the rest in the test set. Smaller
training sets (the n_train axis of a landscape or a fraction sweep) are the first N of
another seeded permutation of that training set: nested, with the same test set.

θ is every parameter of the model, embeddings included (the paper's choice for this task):
there is no separate representation, so the landscape has no m axis.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from reduced_dynamics.checks import check_int, check_real, check_seed, check_str, plain_fields
from reduced_dynamics.config import ProbeConfig, TrainConfig
from reduced_dynamics.errors import InputError
from reduced_dynamics.names import LOSS_CROSS_ENTROPY
from reduced_dynamics.tasks.base import TaskEntry


@dataclass(frozen=True)
class ModularAdditionConfig:
    """The task; one frozen record, stored whole in every file as ``config_json``."""

    preset: str = "nanda"
    p: int = 113  # the modulus: symbols 0..p-1, vocabulary p + 1 (with "=")
    d_model: int = 128
    n_heads: int = 4
    d_head: int = 32
    d_mlp: int = 512
    train_fraction: float = 0.3  # of the p² pairs; the rest is the test set
    data_seed: int = 0  # the split (numpy default_rng)

    def __post_init__(self) -> None:
        plain_fields(self)  # numpy scalars as Python ones
        check_str("preset", self.preset)
        check_int("p", self.p, 2)
        for name in ("d_model", "n_heads", "d_head", "d_mlp"):
            check_int(name, getattr(self, name), 1)
        check_real("train_fraction", self.train_fraction, low=0.0, low_open=True, high=1.0,
                   high_open=True)
        check_seed("data_seed", self.data_seed)
        n = self.n_train
        if not (0 < self.train_fraction < 1) or not 1 <= n < self.p ** 2:
            raise InputError(f"`train_fraction` must leave at least one training and one "
                             f"test pair of the {self.p ** 2}, i.e. lie in "
                             f"[{1 / self.p ** 2:.3g}, {1 - 1 / self.p ** 2:.4g}], got "
                             f"{self.train_fraction!r}")

    @property
    def positively_homogeneous(self) -> bool:
        """Attention and softmax: not homogeneous, no monotone-in-w test."""
        return False

    @property
    def n_pairs(self) -> int:
        return self.p ** 2

    @property
    def n_train(self) -> int:
        """Training pairs: round(train_fraction p²)."""
        return round(self.train_fraction * self.p ** 2)

    @property
    def loss_name(self) -> str:
        """The loss as files name it: cross-entropy of the logits at the last position."""
        return LOSS_CROSS_ENTROPY

    @property
    def theta_description(self) -> str:
        """What θ (whose norm is w) is, as files name it (`modular_addition_torch`)."""
        return "every parameter of the transformer, embeddings included"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def split(config: ModularAdditionConfig) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into the p² pairs, a-major) of the training and the test pairs."""
    order = np.random.default_rng(config.data_seed).permutation(config.n_pairs)
    return np.sort(order[: config.n_train]), np.sort(order[config.n_train:])


PRESETS: dict[str, ModularAdditionConfig] = {
    # Nanda et al.: p = 113, d_model 128, 4 heads of 32, d_mlp 512, fraction 0.3 (a GPU run).
    "nanda": ModularAdditionConfig(),
    # CPU-sized: p = 31 and half the width. With AdamW lr 1e-3, betas (0.9, 0.98), weight
    # decay 1 and a 10-step warm-up, seed 0: train accuracy 95 % at step 250, test
    # accuracy 95 % at step 6750 (4 minutes on one busy core); the norm rises to 1.3 w0
    # while memorising and falls below w0 before generalising.
    "cpu": ModularAdditionConfig(preset="cpu", p=31, d_model=64, n_heads=4, d_head=16,
                                 d_mlp=256, train_fraction=0.5),
    # Fig. 9 and fraction sweeps: the training set is 90 % of the pairs, smaller fractions
    # (the n_train axis, `--n-train`) are nested inside it, the test set is the other 10 %.
    "nanda-fractions": ModularAdditionConfig(preset="nanda-fractions", train_fraction=0.9),
    "cpu-fractions": ModularAdditionConfig(preset="cpu-fractions", p=31, d_model=64,
                                           n_heads=4, d_head=16, d_mlp=256,
                                           train_fraction=0.9),
}

# SPEC §10: full-batch AdamW lr 1e-3, betas (0.9, 0.98), weight decay 1, 10-step warm-up.
TRAIN = TrainConfig(steps=20_000, eta_d=1e-3, eta_r=0.0, beta1=0.9, beta2=0.98,
                    n_log=200, warmup_steps=10)
# Fig. 9: constrained Adam lr 1e-3 (the paper's); the probe keeps Nanda's betas.
PROBE = ProbeConfig(steps=5_000, lr=1e-3, beta2=0.98)

TASK = TaskEntry(
    name="modular-addition",
    description="a + b mod p with a one-layer transformer (Nanda et al.; Omnigrok Section 5)",
    config_type=ModularAdditionConfig,
    presets=PRESETS,
    adapter="modular_addition_torch:ModularAdditionTorch",
    has_m=False,
    probe_presets={name: PROBE for name in PRESETS},
    train=TRAIN,
    probe_seeds=(0,),
    train_seeds=(0,),
    alpha0=(1.0,),
    gammas=tuple(np.geomspace(0.1, 3.0, 7)),
)


def preset(name: str = "nanda", **overrides) -> ModularAdditionConfig:
    """The named preset, with any fields replaced."""
    return TASK.preset(name, **overrides)
