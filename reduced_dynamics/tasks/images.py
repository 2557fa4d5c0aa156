"""Images (Omnigrok Section 4, 5.2, Appendix C, E; SPEC §8): an MLP on real images.

Data (`image_data`): scikit-learn's 8×8 digits, Fashion-MNIST from Debian's package, or any
MNIST-format IDX folder (``idx:PATH``). Model: the paper's MLP, three linear layers, width
200, ReLU. Loss: MSE to one-hot targets (default) or cross-entropy (Appendix E). The
training set is the first ``n_train`` images of one seeded permutation of the training pool;
the n_train axis of a landscape, and runs at smaller N, use nested subsets of it; the test
set is fixed. θ is every weight and bias of the MLP.

With ``representation=True`` (Fig. 8) the inputs lie on the line
R(m) = m R_raw + (1 − m) R_linear, R_linear an image whose every pixel is a per-class
constant, linspace(−0.5, 0.5, 10)[label] (SPEC §8): the landscape gets an m axis.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from reduced_dynamics.checks import (
    check_bool,
    check_choice,
    check_int,
    check_ints,
    check_real,
    check_seed,
    check_str,
    plain_fields,
)
from reduced_dynamics.config import ProbeConfig, TrainConfig
from reduced_dynamics.errors import InputError, shown
from reduced_dynamics.names import LOSS_CROSS_ENTROPY, LOSS_MSE
from reduced_dynamics.tasks.base import TaskEntry
from reduced_dynamics.tasks.image_data import check_dataset

LOSSES = ("mse", "ce")
LOSS_NAMES = {"mse": LOSS_MSE, "ce": LOSS_CROSS_ENTROPY}  # `loss` -> as files name it


@dataclass(frozen=True)
class ImagesConfig:
    """The task; one frozen record, stored whole in every file as ``config_json``."""

    preset: str = "digits-mse"
    dataset: str = "digits"  # "digits", "fashion-mnist" or "idx:PATH"
    loss: str = "mse"  # "mse" (to one-hot) or "ce"
    hidden: tuple[int, ...] = (200, 200)
    activation: str = "relu"
    n_train: int = 1500  # the training set; smaller N are nested subsets of it
    test_size: int = 297  # digits only: images held out as the test set
    n_test: int | None = None  # keep only the first n_test test images (None: all)
    data_seed: int = 0  # the digits split and the order of the training subsets
    representation: bool = False  # Fig. 8: inputs on the line R(m) (an m axis)
    # SPEC §12: t_grok = first step with test accuracy >= grok_threshold (runs and
    # predictions alike); chosen from the standard-init run, see README.
    grok_threshold: float = 0.9

    def __post_init__(self) -> None:
        plain_fields(self)  # numpy scalars as Python ones
        check_str("preset", self.preset)
        check_dataset("dataset", self.dataset)
        check_choice("loss", self.loss, LOSSES)
        object.__setattr__(self, "hidden", check_ints(
            "hidden", self.hidden, 1, expected="a non-empty sequence of layer widths, "
            "integers >= 1 (e.g. (200, 200))"))
        if not isinstance(self.activation, str) or self.activation != "relu":
            raise InputError(f"`activation` must be 'relu' (the paper's MLP), got "
                             f"{shown(self.activation)}")
        check_int("n_train", self.n_train, 1)
        check_int("test_size", self.test_size, 1)
        if self.n_test is not None:  # None: every test image
            check_int("n_test", self.n_test, 1)
        check_seed("data_seed", self.data_seed)
        check_bool("representation", self.representation)
        check_real("grok_threshold", self.grok_threshold, low=0.0, low_open=True, high=1.0,
                   expected="a test accuracy in (0, 1]")

    @property
    def positively_homogeneous(self) -> bool:
        """A ReLU MLP: the probe's monotone-in-w test applies."""
        return True

    @property
    def has_m(self) -> bool:
        """Inputs on the representation line R(m) (Fig. 8): the landscape has an m axis."""
        return self.representation

    @property
    def loss_name(self) -> str:
        """The loss as files name it: MSE (to one-hot targets) or cross-entropy."""
        return LOSS_NAMES[self.loss]

    @property
    def theta_description(self) -> str:
        """What θ (whose norm is w) is, as files name it (`images_torch`)."""
        inputs = " (the inputs R(m) are outside theta)" if self.representation else ""
        return "every weight and bias of the MLP" + inputs

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PRESETS: dict[str, ImagesConfig] = {
    "digits-mse": ImagesConfig(),
    "digits-ce": ImagesConfig(preset="digits-ce", loss="ce"),
    "digits-rep": ImagesConfig(preset="digits-rep", representation=True),
    "fashion-mse": ImagesConfig(preset="fashion-mse", dataset="fashion-mnist",
                                n_train=60_000, grok_threshold=0.8),
    "fashion-ce": ImagesConfig(preset="fashion-ce", dataset="fashion-mnist", loss="ce",
                               n_train=60_000, grok_threshold=0.8),
}

# SPEC §8 landscape: constrained Adam(W) lr 1e-3, batch 100, 1e4 steps; runs: AdamW lr 1e-3,
# batch 200.
PROBE = ProbeConfig(steps=10_000, lr=1e-3, batch_size=100)
TASK = TaskEntry(
    name="images",
    description="an MLP (depth 3, width 200) on real images (Omnigrok Section 4, 5.2)",
    config_type=ImagesConfig,
    presets=PRESETS,
    adapter="images_torch:ImagesTorch",
    has_m=False,
    probe_presets={name: PROBE for name in PRESETS},
    train=TrainConfig(steps=100_000, eta_d=1e-3, eta_r=0.0, n_log=200, batch_size=200),
    probe_seeds=(0,),
    train_seeds=(0,),
    alpha0=(8.0,),
    gammas=tuple(np.geomspace(0.1, 1.0, 6)),
)


def preset(name: str = "digits-mse", **overrides) -> ImagesConfig:
    """The named preset, with any fields replaced."""
    return TASK.preset(name, **overrides)
