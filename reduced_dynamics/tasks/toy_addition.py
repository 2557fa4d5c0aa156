"""Toy addition (Omnigrok Section 5.1, Appendix D; SPEC §3): data and representations.

Pure numpy: the torch model is `reduced_dynamics.models.mlp.MLP`, the torch view of the
data in `toy_addition_torch`. Presets: ``paper`` (labels i+j, scalar embeddings, ReLU),
``fig6e`` (Fig. 6e's nested training sets), ``notebook`` (labels (i+j) mod p, 2-D
embeddings, LeakyReLU(0.2)) and ``liu2022`` (SPEC §14: Liu et al. 2022's toy, a tanh
decoder, representations in [−0.5, 0.5], accuracy thresholds 0.9), every number a field
of `ToyAdditionConfig`.
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
    activation: str = "relu"  # "relu", "leaky_relu" or "tanh" (liu2022)
    negative_slope: float = 0.2  # for leaky_relu
    n_train: int = 45  # training pairs (of p(p+1)/2 unordered pairs)
    data_seed: int = 0  # targets, R_random and split
    test_set: str = "held_out"  # "held_out": the other pairs; "all": every pair (Fig. 6e)
    # Half-width s of the representations: R_linear's first coordinate linspace(-s, s, p),
    # R_random ~ U(-s, s) (the runs' own initial representation at m0 = 1). 1 (SPEC §3);
    # 0.5 for liu2022 (SPEC §14).
    rep_range: float = 1.0
    # The accuracies the runs' events use (SPEC §12, §15): t_overfit / t_train at train
    # accuracy >= train_acc_threshold, t_grok / t_test at test accuracy >= grok_threshold.
    # None: the default 0.95 (`names.ACC_THRESHOLD`); 0.9 for liu2022.
    train_acc_threshold: float | None = None
    grok_threshold: float | None = None

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
        check_choice("activation", self.activation, ("relu", "leaky_relu", "tanh"))
        check_real("negative_slope", self.negative_slope, low=0.0)
        check_choice("test_set", self.test_set, TEST_SETS)
        n_pairs = self.p * (self.p + 1) // 2
        top = n_pairs if self.test_set == "all" else n_pairs - 1  # held out: >= 1 test pair
        check_int("n_train", self.n_train, 1, top,
                  expected=f"an integer in [1, {top}] for p={self.p} with test_set="
                  f"{self.test_set!r}" + ("" if self.test_set == "all" else
                                          " (test_set='all' allows every pair)"))
        check_seed("data_seed", self.data_seed)
        check_real("rep_range", self.rep_range, low=0.0, low_open=True,
                   expected="a finite half-width > 0 of the representations (1; 0.5 for "
                   "liu2022)")
        for name in ("train_acc_threshold", "grok_threshold"):
            if getattr(self, name) is not None:
                check_real(name, getattr(self, name), low=0.0, low_open=True, high=1.0,
                           expected="an accuracy in (0, 1], or None for 0.95")

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
        """As stored in ``config_json``; the fields added for liu2022 only where they differ
        from their defaults, so that files and resume fingerprints of the other presets
        are those they had before the fields existed."""
        out = dataclasses.asdict(self)
        for name, default in (("rep_range", 1.0), ("train_acc_threshold", None),
                              ("grok_threshold", None)):
            if out[name] == default:
                del out[name]
        return out


PRESETS: dict[str, ToyAdditionConfig] = {
    "paper": ToyAdditionConfig(),
    # Fig. 6e (SPEC §14): a pool of all 55 pairs, so that `--n-train 25,35,45,55` are nested
    # subsets of it; the test set is the whole table (nothing is left out at N = 55)
    "fig6e": ToyAdditionConfig(preset="fig6e", n_train=55, test_set="all"),
    "notebook": ToyAdditionConfig(
        preset="notebook", modular=True, rep_dim=2, linear_noise=0.3, activation="leaky_relu"
    ),
    # Liu et al. 2022's toy (SPEC §14): tanh, representations in [-0.5, 0.5], thresholds 0.9
    "liu2022": ToyAdditionConfig(preset="liu2022", activation="tanh", rep_range=0.5,
                                 train_acc_threshold=0.9, grok_threshold=0.9),
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
    s = config.rep_range
    r_linear[:, 0] = np.linspace(-s, s, p)
    if config.rep_dim > 1:
        r_linear[:, 1:] = rng.uniform(-config.linear_noise, config.linear_noise,
                                      (p, config.rep_dim - 1))
    r_random = rng.uniform(-s, s, (p, config.rep_dim))
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
    "liu2022": ProbeConfig(schedule="cosine", lr_scaling="alpha"),
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
    # Liu et al. 2022 (SPEC §14, §15): the runs start at the default init (alpha0 = 1) from
    # their own random representation (m0 = 1), AdamW on both (representation lr 1e-3, no
    # decay), 1e5 steps logged at 1000 log-spaced steps (1.2 % apart: 1.2e3 steps at the
    # end, about the phase rule's gap tau = 1e3); the decays of the paper's grid with gamma > 0.
    preset_studies={"liu2022": {
        "alpha0": (1.0,), "m0": 1.0, "gammas": tuple(float(g) for g in range(1, 11)),
        "train": TrainConfig(steps=100_000, eta_d=1e-3, eta_r=1e-3, n_log=1000),
        "train_seeds": (0,)}},
)
