"""Toy addition (Omnigrok Section 5.1, Appendix D; SPEC §3): data and representations.

Pure numpy: the torch model is `reduced_dynamics.models.mlp.MLP`, the torch view of the
data in `toy_addition_torch`. Two presets:
``paper`` (labels i+j, scalar embeddings, ReLU) and ``notebook`` (labels (i+j) mod p,
2-D embeddings, LeakyReLU(0.2)), every number a field of `ToyAdditionConfig`.
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
from reduced_dynamics.errors import InputError
from reduced_dynamics.names import HOMOGENEOUS_ACTIVATIONS, LOSS_MSE
from reduced_dynamics.tasks.base import TaskEntry

TEST_SETS = ("held_out", "all")
"""``held_out``: the pairs outside the training pool (SPEC §3); ``all``: the whole addition
table of p(p+1)/2 pairs, training pairs included, so that a pool of every pair (Fig. 6e's
N = 55) still has a test set (accuracy on the table, not on unseen pairs)."""


@dataclass(frozen=True)
class ToyAdditionConfig:
    """The task; one frozen record, stored whole in every file as ``config_json``."""

    preset: str = "paper"
    p: int = 10  # symbols 0..p-1
    modular: bool = False  # label (i+j) mod p (notebook) instead of i+j (paper)
    target_dim: int = 30  # each class is a fixed random vector in R^target_dim
    rep_dim: int = 1  # dimension of a symbol's embedding E_i
    linear_noise: float = 0.0  # R_linear extra coordinates ~ U(-linear_noise, linear_noise)
    hidden: tuple[int, ...] = (200, 200)  # decoder widths
    activation: str = "relu"  # "relu" or "leaky_relu"
    negative_slope: float = 0.2  # for leaky_relu
    n_train: int = 45  # training pairs (of p(p+1)/2 unordered pairs)
    data_seed: int = 0  # targets, R_random and split
    test_set: str = "held_out"  # "held_out": the other pairs; "all": every pair (Fig. 6e)

    def __post_init__(self) -> None:
        plain_fields(self)  # numpy scalars as Python ones
        check_str("preset", self.preset)
        check_int("p", self.p, 2)
        check_bool("modular", self.modular)
        check_int("target_dim", self.target_dim, 1)
        check_int("rep_dim", self.rep_dim, 1)
        check_real("linear_noise", self.linear_noise, low=0.0)
        object.__setattr__(self, "hidden", check_ints(
            "hidden", self.hidden, 1, expected="a non-empty sequence of layer widths, "
            "integers >= 1 (e.g. (200, 200))"))
        check_choice("activation", self.activation, ("relu", "leaky_relu"))
        check_real("negative_slope", self.negative_slope, low=0.0)
        check_choice("test_set", self.test_set, TEST_SETS)
        n_pairs = self.p * (self.p + 1) // 2
        top = n_pairs if self.test_set == "all" else n_pairs - 1  # held out: >= 1 test pair
        check_int("n_train", self.n_train, 1, top,
                  expected=f"an integer in [1, {top}] for p={self.p} with test_set="
                  f"{self.test_set!r}" + ("" if self.test_set == "all" else
                                          " (test_set='all' allows every pair)"))
        check_seed("data_seed", self.data_seed)

    @property
    def n_classes(self) -> int:
        return self.p if self.modular else 2 * self.p - 1

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (self.rep_dim, *self.hidden, self.target_dim)


    @property
    def positively_homogeneous(self) -> bool:
        """A ReLU / leaky-ReLU decoder: the probe's monotone-in-w test applies."""
        return self.activation in HOMOGENEOUS_ACTIVATIONS

    @property
    def loss_name(self) -> str:
        """The loss as files name it: MSE to the class's target vector."""
        return LOSS_MSE

    @property
    def theta_description(self) -> str:
        """What θ (whose norm is w) is, as files name it (`toy_addition_torch`)."""
        return "every weight and bias of the decoder MLP (the representation R is outside theta)"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PRESETS: dict[str, ToyAdditionConfig] = {
    "paper": ToyAdditionConfig(),
    # Fig. 6e (SPEC §14): a pool of all 55 pairs, so that `--n-train 25,35,45,55` are nested
    # subsets of it; the test set is the whole table (nothing is left out at N = 55)
    "fig6e": ToyAdditionConfig(preset="fig6e", n_train=55, test_set="all"),
    "notebook": ToyAdditionConfig(
        preset="notebook", modular=True, rep_dim=2, linear_noise=0.3, activation="leaky_relu"
    ),
}


def preset(name: str, **overrides) -> ToyAdditionConfig:
    """The named preset, with any fields replaced."""
    if name not in PRESETS:
        raise InputError(f"`preset` must be one of {sorted(PRESETS)}, got {name!r}")
    return dataclasses.replace(PRESETS[name], **overrides)


@dataclass(frozen=True)
class ToyAdditionData:
    """Everything a probe or a full run needs, as numpy arrays."""

    pairs_train: np.ndarray  # (n_train, 2) int symbol indices
    pairs_test: np.ndarray  # (n_test, 2)
    labels_train: np.ndarray  # (n_train,) class index
    labels_test: np.ndarray  # (n_test,)
    targets: np.ndarray  # (n_classes, target_dim) the fixed target vectors Y_k
    r_linear: np.ndarray  # (p, rep_dim)
    r_random: np.ndarray  # (p, rep_dim)

    def representation(self, m: float | np.ndarray) -> np.ndarray:
        """R(m) = m R_random + (1 - m) R_linear (Eq. 4); ``m`` may be an array (..., p, d)."""
        m = np.asarray(m, dtype=float)[..., None, None]
        return m * self.r_random + (1.0 - m) * self.r_linear


def make_data(config: ToyAdditionConfig) -> ToyAdditionData:
    """Targets, representations and the train/test split, all from ``config.data_seed``."""
    rng = np.random.default_rng(config.data_seed)
    p = config.p
    targets = rng.standard_normal((config.n_classes, config.target_dim))
    r_linear = np.zeros((p, config.rep_dim))
    r_linear[:, 0] = np.linspace(-1.0, 1.0, p)
    if config.rep_dim > 1:
        r_linear[:, 1:] = rng.uniform(-config.linear_noise, config.linear_noise,
                                      (p, config.rep_dim - 1))
    r_random = rng.uniform(-1.0, 1.0, (p, config.rep_dim))
    i, j = np.triu_indices(p)
    pairs = np.stack([i, j], axis=1)
    labels = (i + j) % p if config.modular else i + j
    order = rng.permutation(len(pairs))
    tr, te = np.sort(order[: config.n_train]), np.sort(order[config.n_train :])
    if config.test_set == "all":
        te = np.arange(len(pairs))
    return ToyAdditionData(pairs[tr], pairs[te], labels[tr], labels[te], targets,
                           r_linear, r_random)


PROBE_PRESETS: dict[str, ProbeConfig] = {
    # the shipped landscape's recipe (landscapes/README.md): with a constant rate the loss
    # still moves 40-100 % over the last 10 % of steps at alpha >= 3 (README)
    "paper": ProbeConfig(schedule="cosine", lr_scaling="alpha"),
    "fig6e": ProbeConfig(schedule="cosine", lr_scaling="alpha"),
    "notebook": ProbeConfig(steps=15_000, lr=1e-2, beta2=0.99, schedule="step", lr_decay_every=5000,
                            lr_decay_factor=0.2),
}
"""Probe settings per preset of this task (`probe toy-addition --preset P`)."""


TASK = TaskEntry(
    name="toy-addition",
    description="toy addition with a (w, m) landscape (Omnigrok Section 5.1, Appendix D)",
    config_type=ToyAdditionConfig,
    presets=PRESETS,
    adapter="toy_addition_torch:ToyAdditionTorch",
    has_m=True,
    probe_presets=PROBE_PRESETS,
    train=TrainConfig(steps=40_000),
    probe_seeds=(0,),
    train_seeds=(0, 1),
    # The default study (`train`, `predict`, examples/toy_addition_study.py): a start in
    # region I just below the boundary at a messy representation, where the shipped
    # landscape is converged (alpha <= 5), and weight decays over 1.5 decades.
    alpha0=(5.0,),
    m0=0.12,
    gammas=tuple(np.geomspace(0.05, 1.6, 6)),
)
